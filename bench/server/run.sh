#!/usr/bin/env bash
# bench/server/run.sh — HTTP benchmark of the WAGI server, side by side in one
# run on loopback with wrk (keep-alive, 64 connections, 2 threads):
#
#   wagi-c hello   build/wagi running bench/server/hello.c (wasm32-wasi, a
#                  fresh instance per request) on the interpreter
#   wagi-c healthz the built-in /healthz of the same server: no module, the
#                  ceiling of the HTTP layer
#   wagi-c AOT     the same module as a .wasmc (`wagi compile`), native code,
#                  served by a second server started after the first stops
#   node hello     bench/server/node-peer.mjs: node:http + node:wasi, the same
#                  module instantiated per request
#
# Prints requests/s and p50/p99 latency per target plus wagi-c's mean
# per-request instantiate time per tier (each server's shutdown summary;
# one server per tier so that the two means stay apart), and rewrites the
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
# the interpreter row stays on the interpreter: no background compile into
# a module cache
unset WAGI_MODULE_CACHE

for tool in wrk "$CLANG"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench/server: $tool missing (make setup)" >&2; exit 1; }
done
[ -x "$BUILD/wagi" ] || make --no-print-directory "$BUILD/wagi" >/dev/null || exit 1

"$CLANG" --target=wasm32-wasi -O2 bench/server/hello.c -o "$OUT/hello.wasm" -Wl,--strip-all || exit 1
"$BUILD/wagi" compile "$OUT/hello.wasm" -o "$OUT/hello.wasmc" >/dev/null || exit 1
for m in wasm wasmc; do
  cat > "$OUT/modules-$m.toml" <<EOF
[[module]]
route = "/hello"
module = "$PWD/$OUT/hello.$m"
EOF
done

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

# start_wagi NAME: a server for modules-NAME.toml on $PORT; sets wagi_pid.
start_wagi() {
  "$BUILD/wagi" --config "$OUT/modules-$1.toml" --listen "127.0.0.1:$PORT" \
    --log-dir "$OUT/logs" --access-log off >"$OUT/wagi-$1.out" 2>"$OUT/wagi-$1.err" &
  wagi_pid=$!
  pids+=("$wagi_pid")
  wait_ready "$OUT/wagi-$1.out"
}

# stop_wagi NAME: stops it; its shutdown summary has the mean per-request
# instantiate, WASI context and run times, kept in INST/CTX/RUNUS[NAME].
declare -A INST CTX RUNUS
stop_wagi() {
  kill -TERM "$wagi_pid"
  wait "$wagi_pid" 2>/dev/null
  local summary
  summary=$(grep "mean per request" "$OUT/wagi-$1.err" | tail -1)
  INST[$1]=$(sed -nE 's/.*instantiate ([0-9.]+) us.*/\1/p' <<<"$summary")
  CTX[$1]=$(sed -nE 's/.*WASI ctx \+ argv\/env ([0-9.]+) us.*/\1/p' <<<"$summary")
  RUNUS[$1]=$(sed -nE 's/.*run ([0-9.]+) us.*/\1/p' <<<"$summary")
  echo "wagi-c $1 per request (mean, wall clock under load): instantiate ${INST[$1]:-?} us," \
    "WASI ctx + argv/env ${CTX[$1]:-?} us, run ${RUNUS[$1]:-?} us"
}

start_wagi wasm || exit 1

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
stop_wagi wasm
if start_wagi wasmc; then
  bench wagi-hello-aot "http://127.0.0.1:$PORT/hello"
  stop_wagi wasmc
fi
if [ "$have_node" = 1 ]; then bench node-hello "http://127.0.0.1:$NPORT/hello"; fi

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
  row wagi-hello "wagi-c, hello module on the interpreter (fresh instance per request)"
  row wagi-hello-aot "wagi-c, the same module as a .wasmc (native code, fresh instance per request)"
  row wagi-healthz "wagi-c, /healthz (no module: HTTP ceiling)"
  row node-hello "Node $(node --version 2>/dev/null), node:http + node:wasi, same module"
  echo
  echo "wagi-c per request (mean wall clock while under this load), interpreter:" \
       "instantiate ${INST[wasm]:-?} µs, WASI context + argv/env ${CTX[wasm]:-?} µs," \
       "run (\`_start\`) ${RUNUS[wasm]:-?} µs; native code: instantiate ${INST[wasmc]:-?} µs," \
       "WASI context + argv/env ${CTX[wasmc]:-?} µs, run ${RUNUS[wasmc]:-?} µs."
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
