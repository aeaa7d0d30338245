#!/usr/bin/env bash
# bench/server/run.sh — HTTP benchmark of the WAGI server, side by side in one
# run on loopback with wrk (keep-alive, 64 connections, 2 threads):
#
#   wagi-c hello   build/wagi running bench/server/hello.c (wasm32-wasi, a
#                  fresh instance per request)
#   wagi-c healthz the built-in /healthz of the same server: no module, the
#                  ceiling of the HTTP layer
#   node hello     bench/server/node-peer.mjs: node:http + node:wasi, the same
#                  module instantiated per request
#
# Prints requests/s and p50/p99 latency per target plus wagi-c's mean
# per-request instantiate time (its shutdown summary), and rewrites the
# server results between the <!-- server-results --> markers of
# bench/README.md (the engine's `make bench` rewrites only its own part).
#
# Env: BUILD (default build), DURATION (s per target, default 10),
# CONNECTIONS (default 64), THREADS (wrk threads, default 2), PORT (default
# 3401; node uses PORT+1), NO_README=1 to leave bench/README.md alone.
set -uo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-3401}
NPORT=$((PORT + 1))
OUT=$BUILD/bench-server
mkdir -p "$OUT"
CLANG=${CLANG:-clang-16}

for tool in wrk "$CLANG"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench/server: $tool missing (make setup)" >&2; exit 1; }
done
[ -x "$BUILD/wagi" ] || make --no-print-directory "$BUILD/wagi" >/dev/null || exit 1

"$CLANG" --target=wasm32-wasi -O2 bench/server/hello.c -o "$OUT/hello.wasm" -Wl,--strip-all || exit 1
cat > "$OUT/modules.toml" <<EOF
[[module]]
route = "/hello"
module = "$PWD/$OUT/hello.wasm"
EOF

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# wait_ready LOG: until the server printed its Ready line (10 s at most).
wait_ready() {
  for _ in $(seq 100); do
    grep -q "Ready: serving on" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/server: server did not start:" >&2
  cat "$1" >&2
  return 1
}

"$BUILD/wagi" --config "$OUT/modules.toml" --listen "127.0.0.1:$PORT" \
  --log-dir "$OUT/logs" --access-log off >"$OUT/wagi.out" 2>"$OUT/wagi.err" &
wagi_pid=$!
pids+=("$wagi_pid")
wait_ready "$OUT/wagi.out" || exit 1

have_node=0
if command -v node >/dev/null 2>&1; then
  node --no-warnings bench/server/node-peer.mjs "$OUT/hello.wasm" "$NPORT" >"$OUT/node.out" 2>&1 &
  pids+=("$!")
  wait_ready "$OUT/node.out" && have_node=1
fi

# to_ms VALUE: wrk latency ("812.00us", "3.69ms", "1.24s") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

# bench NAME URL: one warm-up second, then the measured run.
declare -A RPS P50 P99 ERR
bench() {
  local name=$1 url=$2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "$url" >/dev/null 2>&1
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" 2>&1)
  echo "$out" >"$OUT/wrk-$name.txt"
  RPS[$name]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  P50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  P99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  local bad
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  local sockerr
  sockerr=$(awk '/Socket errors:/ { print }' <<<"$out")
  ERR[$name]="${bad:-0} non-2xx${sockerr:+; $sockerr}"
  printf '%-16s %10s req/s   p50 %8s ms   p99 %8s ms   (%s)\n' "$name" "${RPS[$name]}" \
    "${P50[$name]}" "${P99[$name]}" "${ERR[$name]}"
}

load_start=$(cut -d' ' -f1 /proc/loadavg)
echo "bench/server: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, keep-alive, loopback, $(nproc) cores"
bench wagi-hello "http://127.0.0.1:$PORT/hello"
bench wagi-healthz "http://127.0.0.1:$PORT/healthz"
if [ "$have_node" = 1 ]; then bench node-hello "http://127.0.0.1:$NPORT/hello"; fi

# wagi-c's shutdown summary has the per-request instantiate time.
kill -TERM "$wagi_pid"
wait "$wagi_pid" 2>/dev/null
summary=$(grep "mean per request" "$OUT/wagi.err" | tail -1)
inst=$(sed -nE 's/.*instantiate ([0-9.]+) us.*/\1/p' <<<"$summary")
ctx=$(sed -nE 's/.*WASI ctx \+ argv\/env ([0-9.]+) us.*/\1/p' <<<"$summary")
runus=$(sed -nE 's/.*run ([0-9.]+) us.*/\1/p' <<<"$summary")
echo "wagi-c per request (mean, wall clock under load): instantiate ${inst:-?} us," \
  "WASI ctx + argv/env ${ctx:-?} us, run ${runus:-?} us"

[ "${NO_README:-0}" = 1 ] && exit 0

# Rewrite the server results in bench/README.md, between its markers; the
# section goes before the engine's "<!-- results -->" marker, whose script
# deletes everything after that marker.
row() {
  local name=$1 label=$2
  [ -n "${RPS[$name]:-}" ] || return 0
  echo "| $label | ${RPS[$name]} | ${P50[$name]} | ${P99[$name]} | ${ERR[$name]} |"
}
{
  echo "<!-- server-results -->"
  echo "Latest \`bash bench/server/run.sh\` ($(date -u +%F), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average" \
       "$load_start before, $(cut -d' ' -f1 /proc/loadavg) after): wrk -t$THREADS -c$CONNECTIONS" \
       "-d${DURATION}s, keep-alive, loopback, wrk on the same cores."
  echo
  echo "| target | requests/s | p50 (ms) | p99 (ms) | errors |"
  echo "|---|---|---|---|---|"
  row wagi-hello "wagi-c, hello module (fresh instance per request)"
  row wagi-healthz "wagi-c, /healthz (no module: HTTP ceiling)"
  row node-hello "Node $(node --version 2>/dev/null), node:http + node:wasi, same module"
  echo
  echo "wagi-c per request (mean wall clock while under this load): instantiate" \
       "${inst:-?} µs, WASI context + argv/env ${ctx:-?} µs, run (\`_start\`) ${runus:-?} µs."
  echo "<!-- /server-results -->"
} >"$OUT/results.md"

python3 - "$OUT/results.md" <<'EOF'
import re, sys
readme = "bench/README.md"
new = open(sys.argv[1]).read().rstrip("\n")
try:
    text = open(readme).read()
except FileNotFoundError:
    text = "# Benchmarks\n"
head = "## Server\n\n" + open("bench/server/README.section").read().rstrip("\n") + "\n\n"
if "<!-- server-results -->" in text:
    text = re.sub(r"<!-- server-results -->.*?<!-- /server-results -->", lambda m: new, text,
                  flags=re.S)
else:
    block = head + new + "\n\n"
    if "<!-- results -->" in text:
        i = text.index("<!-- results -->")
        text = text[:i] + block + text[i:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
open(readme, "w").write(text)
EOF
echo "bench/server: results written to bench/README.md"
