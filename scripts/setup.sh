#!/usr/bin/env bash
# Installs everything wagi-c needs to build, test and run its demo on Debian 12.
# Safe to run again: it only calls apt-get when a package is missing, and
# prints nothing when everything is present (make test/demo run it each time).
# Runs as root without sudo; otherwise through sudo.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config make
  wabt                      # wast2json, wat2wasm, wasm-interp, wasm2c (spec tests, bench peers)
  clang-16 lld-16 libclang-rt-16-dev-wasm32 wasi-libc   # C -> wasm32-wasi
  libsimde-dev              # simde/wasm/simd128.h: exact SIMD128 semantics
  libcjson-dev              # JSON from wast2json in the spec runner
  libcmocka-dev             # C unit tests
  libstb-dev                # stb_image.h: photos for the wagi_tflite tests (guest/)
  libclang-rt-16-dev        # clang-16 -fsanitize=fuzzer,address (tests/fuzz/tflite_fuzz.c)
  nodejs                    # bench peer (V8), test oracles (node/)
  npm                       # Debian's nodejs has no npm: installs node/'s packages
  python3 python3-pytest
  libmicrohttpd-dev libssl-dev   # server: HTTP/1.1 (+TLS via GnuTLS), SHA-256 for log dirs
  libcurl4-openssl-dev      # outbound HTTP for modules (wasi_experimental_http)
  wrk curl                  # server benchmark and manual tests
  time                      # /usr/bin/time: peak RSS in bench/compile
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from outside Debian (e.g. a preinstalled node 20 that
# bundles npm): accept them.
drop() { local tmp=() p; for p in "${missing[@]}"; do [ "$p" = "$1" ] || tmp+=("$p"); done; missing=("${tmp[@]}"); }
if command -v node >/dev/null 2>&1; then drop nodejs; fi
if command -v npm >/dev/null 2>&1; then drop npm; fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run this script as root (or install sudo) to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node packages (test oracles such as the Azure SDKs, and local stand-ins such
# as Azurite): node/package-lock.json pins every version; installed into
# node/node_modules with `npm ci` only when it is missing or the lock changed
# (a stamp holds the lock's hash), so that a run with nothing to do is silent.
NODE_DIR="$(cd "$(dirname "$0")/.." && pwd)/node"
STAMP="$NODE_DIR/node_modules/.wagi-lock-sha256"
want=$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "setup: installing Node packages (npm ci in node/)"
  # --loglevel=error: npm's deprecation notices about transitive packages are
  # not ours to act on.
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$STAMP"
fi
