#!/usr/bin/env bash
# bench/tf/run.sh — the tf example (examples/tf, POST /infer) side by side in
# one run:
#
#   end to end   POST grace_hopper.jpg to wagi with the Cosmos DB stand-in on
#                loopback: cold (cache miss: decode, resize, model, upsert)
#                and cached (cache hit: SHA-256 and a point read), on the
#                interpreter and on the AOT tier (`wagi --tier aot`), one
#                server after the other (bench/tf/client.py)
#   in-module    each step's median time from the answers' Server-Timing
#                header (what the module itself measured)
#   inference    bench/tf/infer_bench.c (the module's steps without HTTP or
#   alone        Cosmos DB) built from the same library: wasm32-wasi SIMD128
#                through `wagi run` on the interpreter and as a .wasmc, and
#                natively with gcc -O2 (the SIMD128 kernels through SIMDe,
#                for the .wasmc's CPU level, and the scalar kernels);
#                Debian's Arm NN 20.08 (CpuRef) on the
#                same model and image (bench/tf/armnn_bench.py)
#
# Arm NN's packages (../shared/models/README.md) are installed here with
# apt-get when missing and this runs as root; when they cannot be had the
# row says why. Rewrites the table between the <!-- tf-results --> markers
# of bench/README.md.
#
# Env: BUILD (default build), N (requests per kind and tier, default 10),
# RUNS (infer_bench runs, best of, default 5), NO_README=1 to leave
# bench/README.md alone; for quick looks while tuning: TIERS (end-to-end
# tiers, default "interp aot") and ALONE=0 (skip "inference alone"), both
# implying NO_README=1.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
N=${N:-10}
RUNS=${RUNS:-5}
TIERS=${TIERS:-interp aot}
ALONE=${ALONE:-1}
[ "$TIERS" != "interp aot" ] || [ "$ALONE" != 1 ] && NO_README=1
OUT=$BUILD/bench-tf
DATA=examples/tf/data
MODEL=mobilenet_v2_1.0_224_quant.tflite
PHOTO=grace_hopper.jpg
CLANG=${CLANG:-clang-16}
PY=/usr/bin/python3
NODE_BIN=node/node_modules/.bin
COSMOS_KEY="C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DDJFKrDGyCXXf6fMJxXfCeNzRQuCFo00b1SbBIJn4CB2Iw=="
unset WAGI_MODULE_CACHE
mkdir -p "$OUT"
chmod 700 "$OUT"

die() { echo "bench/tf: $*" >&2; exit 1; }
for tool in "$CLANG" gcc curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool missing (make setup)"
done
[ -x "$NODE_BIN/cosmosdb-server" ] || die "$NODE_BIN/cosmosdb-server missing (make setup)"
make --no-print-directory "$BUILD/wagi" "$BUILD/examples/tf.wasm" >/dev/null || die "build failed"
W=$BUILD/wagi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for COMMAND...: up to 300 s
  for _ in $(seq 3000); do "$@" && return 0; sleep 0.1; done
  return 1
}

load_start=$(cut -d' ' -f1 /proc/loadavg)

# ---- inference alone ---------------------------------------------------------------
if [ "$ALONE" = 1 ]; then
LIB="guest/src/wagi_tflite.c guest/src/wagi_tflite_ops.c guest/src/wagi_tflite_resize.c guest/src/wagi_io.c"
# shellcheck disable=SC2086
"$CLANG" --target=wasm32-wasi -O2 -msimd128 -std=c11 -Wall -Wextra -Iguest/include \
  bench/tf/infer_bench.c $LIB -o "$OUT/infer_bench.wasm" -Wl,--strip-all || die "infer_bench.wasm"
# shellcheck disable=SC2086
gcc -O2 -std=c11 -Wall -Wextra -Iguest/include bench/tf/infer_bench.c $LIB -o "$OUT/infer_bench" -lm ||
  die "infer_bench (native)"
echo "bench/tf: wagi compile infer_bench.wasm (native code; tf.wasm is compiled when its --tier aot server starts)"
"$W" compile "$OUT/infer_bench.wasm" -o "$OUT/infer_bench.wasmc" >/dev/null || die "wagi compile infer_bench"
# The same C with the same SIMD128 kernels natively, through SIMDe, for the
# CPU level the .wasmc was built for (its trailer's target: x86_64-v3-linux).
LEVEL=$("$PY" -c 'import sys; t = open(sys.argv[1], "rb").read()[-256:][192:224].split(b"\0")[0].decode()
print({"x86_64-v3-linux": "x86-64-v3", "x86_64-v2-linux": "x86-64-v2"}.get(t, "x86-64" if t.startswith("x86_64") else ""))' \
  "$OUT/infer_bench.wasmc")
MARCH=${LEVEL:+-march=$LEVEL}
# shellcheck disable=SC2086
gcc -O2 $MARCH -DWAGI_GUEST_SIMDE -std=c11 -Wall -Wextra -Iguest/include bench/tf/infer_bench.c $LIB \
  -o "$OUT/infer_bench_simd" -lm || die "infer_bench (native, SIMDe)"

declare -A STEP # STEP[runner.step] = ms
read_steps() { # read_steps RUNNER < output of infer_bench
  local k v rest
  while read -r k v rest; do
    case $k in
      *_ms) STEP[$1.${k%_ms}]=$v ;;
      top1) STEP[$1.top1]="$v $rest" ;;
    esac
  done
}
echo "bench/tf: inference alone, best of $RUNS"
read_steps native < <("$OUT/infer_bench" "$DATA/$MODEL" "$DATA/$PHOTO" "$RUNS")
read_steps simd < <("$OUT/infer_bench_simd" "$DATA/$MODEL" "$DATA/$PHOTO" "$RUNS")
read_steps interp < <("$W" run --tier interp --dir "$DATA::/m" "$OUT/infer_bench.wasm" "/m/$MODEL" "/m/$PHOTO" "$RUNS")
read_steps aot < <("$W" run --dir "$DATA::/m" "$OUT/infer_bench.wasmc" "/m/$MODEL" "/m/$PHOTO" "$RUNS")

# Arm NN: installed only here, only when missing.
ARMNN_PKGS="python3-pyarmnn libarmnn-cpuref-backend22 libarmnntfliteparser22 python3-numpy python3-pil"
armnn_note=""
if ! "$PY" -c 'import pyarmnn, numpy, PIL' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench/tf: installing Arm NN for the comparison: apt-get install $ARMNN_PKGS"
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $ARMNN_PKGS \
      >"$OUT/armnn-install.log" 2>&1; then
      armnn_note="not installable here: $(tail -1 "$OUT/armnn-install.log")"
    fi
  else
    armnn_note="not installed ($ARMNN_PKGS) and this script is not root"
  fi
fi
if [ -z "$armnn_note" ]; then
  if "$PY" bench/tf/armnn_bench.py "$DATA/$MODEL" "$DATA/$PHOTO" "$RUNS" >"$OUT/armnn.out" 2>"$OUT/armnn.err"; then
    read_steps armnn <"$OUT/armnn.out"
  else
    armnn_note="failed: $(tail -1 "$OUT/armnn.err")"
  fi
fi
for r in simd native interp aot armnn; do
  [ -n "${STEP[$r.invoke]:-}" ] && echo "  $r: load ${STEP[$r.model_load]:-?} ms, decode ${STEP[$r.decode]} ms, resize ${STEP[$r.resize]} ms, invoke ${STEP[$r.invoke]} ms, top1 ${STEP[$r.top1]}"
done
[ -n "$armnn_note" ] && echo "  armnn: $armnn_note"

# ---- end to end through wagi ------------------------------------------------------
fi

cport=$(free_port)
"$NODE_BIN/cosmosdb-server" -p "$cport" --no-ssl --host 127.0.0.1 >"$OUT/cosmos.log" 2>&1 &
pids+=("$!")
wait_for bash -c "exec 3<>/dev/tcp/127.0.0.1/$cport" 2>/dev/null || die "the Cosmos DB stand-in did not start"

declare -A E2E
serve() { # serve TIER: one wagi for the tier, N cold and N cached requests
  local tier=$1 port db
  port=$(free_port)
  db="bench-$tier-$$-$(date +%s)"
  cat >"$OUT/modules-$tier.toml" <<EOF
[[module]]
route = "/infer"
module = "$PWD/$BUILD/examples/tf.wasm"
volumes = { "/" = "$PWD/$DATA" }
max_request_body_bytes = 33554432
allowed_hosts = ["http://127.0.0.1:$cport"]
environment = { COSMOS_ENDPOINT = "http://127.0.0.1:$cport", COSMOS_MASTER_KEY = "$COSMOS_KEY", COSMOS_DATABASE = "$db", COSMOS_COLLECTION = "inference" }
EOF
  local args=(--config "$OUT/modules-$tier.toml" --listen "127.0.0.1:$port" --log-dir "$OUT/logs-$tier"
    --access-log off --tier "$tier")
  [ "$tier" = aot ] && args+=(--module-cache "$OUT/module-cache")
  "$W" "${args[@]}" >"$OUT/wagi-$tier.out" 2>"$OUT/wagi-$tier.err" &
  local pid=$!
  pids+=("$pid")
  wait_for grep -q "Ready: serving" "$OUT/wagi-$tier.out" || { cat "$OUT/wagi-$tier.err" >&2; die "wagi --tier $tier did not start"; }
  local k a b _rest
  while read -r k a b _rest; do
    case $k in
      cold_ms | cached_ms) E2E[$tier.${k%_ms}]=$a E2E[$tier.${k%_ms}.min]=$b ;;
      cold_step | cached_step) E2E[$tier.${k%_step}.$a]=$b
        [ "${NO_README:-0}" = 1 ] && echo "    ${k%_step} $a $b ms" ;;
    esac
  done < <("$PY" bench/tf/client.py "http://127.0.0.1:$port/infer" "$DATA/$PHOTO" "$N" || echo "failed")
  [ "${NO_README:-0}" = 1 ] && echo "    page faults in wagi: $(awk '{print $10}' "/proc/$pid/stat") minor, $(awk '{print $12}' "/proc/$pid/stat") major"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null
  [ -n "${E2E[$tier.cold]:-}" ] || die "the $tier requests failed"
  echo "  $tier: cold ${E2E[$tier.cold]} ms (median; best ${E2E[$tier.cold.min]}), cached ${E2E[$tier.cached]} ms (best ${E2E[$tier.cached.min]})"
}
echo "bench/tf: end to end, $N cold and $N cached requests per tier"
for t in $TIERS; do serve "$t"; done

[ "${NO_README:-0}" = 1 ] && exit 0

# ---- bench/README.md -----------------------------------------------------------
v() { echo "${1:-–}"; }
ratio() { # ratio A B: A/B as "(N.NNx)"
  [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf " (%.2fx)", a / b }'
}
{
  echo "<!-- tf-results -->"
  echo "Latest \`bash bench/tf/run.sh\` ($(date -u +%F), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average" \
       "$load_start before, $(cut -d' ' -f1 /proc/loadavg) after); $PHOTO, $N requests of each kind per tier."
  echo
  echo "| POST /infer, client wall clock (median / best, ms) | wagi interpreter | wagi AOT (\`--tier aot\`) | goal | seed |"
  echo "|---|---|---|---|---|"
  echo "| cold: cache miss, classified, upserted | ${E2E[interp.cold]} / ${E2E[interp.cold.min]} | ${E2E[aot.cold]} / ${E2E[aot.cold.min]} | ≤ 40 | 945 |"
  echo "| cached: cache hit | ${E2E[interp.cached]} / ${E2E[interp.cached.min]} | ${E2E[aot.cached]} / ${E2E[aot.cached.min]} | ≤ 2 | 189 |"
  echo
  echo "Where a request's time goes (median ms of each step, from the module's Server-Timing header):"
  echo
  echo "| step | cold, interpreter | cold, AOT | cached, interpreter | cached, AOT |"
  echo "|---|---|---|---|---|"
  for s in body sha256 cache-read decode model-read model-load resize invoke labels cache-write total; do
    echo "| $s | $(v "${E2E[interp.cold.$s]:-}") | $(v "${E2E[aot.cold.$s]:-}") | $(v "${E2E[interp.cached.$s]:-}") | $(v "${E2E[aot.cached.$s]:-}") |"
  done
  echo "| outside the module (client − total) | $(awk -v a="${E2E[interp.cold]}" -v b="${E2E[interp.cold.total]:-0}" 'BEGIN{printf "%.2f", a-b}') | $(awk -v a="${E2E[aot.cold]}" -v b="${E2E[aot.cold.total]:-0}" 'BEGIN{printf "%.2f", a-b}') | $(awk -v a="${E2E[interp.cached]}" -v b="${E2E[interp.cached.total]:-0}" 'BEGIN{printf "%.2f", a-b}') | $(awk -v a="${E2E[aot.cached]}" -v b="${E2E[aot.cached.total]:-0}" 'BEGIN{printf "%.2f", a-b}') |"
  echo
  echo "The module's work alone (\`bench/tf/infer_bench.c\`, best of $RUNS ms; ratio to the same C natively with the same SIMD128 kernels, through SIMDe, gcc -O2 ${MARCH:-(baseline)}):"
  echo
  echo "| step | native gcc -O2, SIMD128 via SIMDe | native gcc -O2, scalar kernels | wagi interpreter (SIMD128) | wagi AOT (SIMD128) | Arm NN 20.08 CpuRef |"
  echo "|---|---|---|---|---|---|"
  for s in model_read model_load decode resize invoke; do
    b="${STEP[simd.$s]:-}"
    echo "| ${s/_/ } | $(v "$b") | $(v "${STEP[native.$s]:-}")$(ratio "${STEP[native.$s]:-}" "$b") | $(v "${STEP[interp.$s]:-}")$(ratio "${STEP[interp.$s]:-}" "$b") | $(v "${STEP[aot.$s]:-}")$(ratio "${STEP[aot.$s]:-}" "$b") | $(v "${STEP[armnn.$s]:-}")$(ratio "${STEP[armnn.$s]:-}" "$b") |"
  done
  echo "| top-1 (index, output byte) | ${STEP[simd.top1]:-–} | ${STEP[native.top1]:-–} | ${STEP[interp.top1]:-–} | ${STEP[aot.top1]:-–} | ${STEP[armnn.top1]:-–} |"
  [ -n "$armnn_note" ] && { echo; echo "Arm NN: $armnn_note."; }
  echo "<!-- /tf-results -->"
} >"$OUT/results.md"

"$PY" - "$OUT/results.md" <<'EOF'
import re, sys
readme = "bench/README.md"
new = open(sys.argv[1]).read().rstrip("\n")
text = open(readme).read()
head = "## The tf example (MobileNetV2 in a module)\n\n" + open("bench/tf/README.section").read().rstrip("\n") + "\n\n"
if "<!-- tf-results -->" in text:
    text = re.sub(r"<!-- tf-results -->.*?<!-- /tf-results -->", lambda m: new, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + head + new + "\n"
open(readme, "w").write(text)
EOF
echo "bench/tf: results written to bench/README.md"
