#!/usr/bin/env bash
# bench/compile/run.sh — compile time and memory for a ~1 MB module, side by
# side in one run. bench/compile/gen.py writes a large deterministic C program
# (N different functions), clang-16 builds it for wasm32 (-O2), and then:
#
#   wagi interpreter  build/bench-engine: decode, validate, translate (and one
#                     call of `run`, whose checksum every runner must agree on)
#   wagi compile      the whole AOT step, with the C compiler run through
#                     bench/compile/cc-timed.sh to time it and take its peak RSS
#   translation to C  build/aot-gen (the same translator) alone: time, RSS and
#                     the size of the C it writes
#   wasm2c + gcc -O2  wabt's translator and gcc on its output
#   V8                new WebAssembly.Module with lazy compilation off, for
#                     Liftoff and for TurboFan (it compiles on every core)
#
# Wall time and CPU time (user + system, all processes) come from
# /usr/bin/time, as does the peak RSS (the largest process of the command's
# tree). Rewrites the table between the <!-- compile-results --> markers of
# bench/README.md.
#
# Env: BUILD (default build), FUNCS (functions to generate, default 2500:
# ~1 MB of wasm), NO_README=1 to leave bench/README.md alone.
set -uo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUNCS=${FUNCS:-2500}
OUT=$BUILD/bench-compile
mkdir -p "$OUT"
CLANG=${CLANG:-clang-16}
NATIVE_CC=${NATIVE_CC:-gcc}
W2C_INC=${W2C_INC:-/usr/share/wabt/wasm2c}
errors=0

for tool in "$CLANG" python3 /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench/compile: $tool missing (make setup)" >&2; exit 1; }
done
for b in wagi bench-engine aot-gen; do
  [ -x "$BUILD/$b" ] || { echo "bench/compile: $BUILD/$b missing (run: make bench)" >&2; exit 1; }
done

# The module: regenerated only when the generator or N changed (clang takes
# a while on it).
M=$OUT/big-$FUNCS
if [ ! -f "$M.wasm" ] || [ bench/compile/gen.py -nt "$M.wasm" ]; then
  python3 bench/compile/gen.py "$FUNCS" >"$M.gen.c" || exit 1
  "$CLANG" --target=wasm32 -O2 -nostdlib -w -Wl,--no-entry -o "$M.wasm" "$M.gen.c" || exit 1
fi
wasm_bytes=$(stat -c %s "$M.wasm")
gen_bytes=$(stat -c %s "$M.gen.c")

# timed NAME CMD...: runs CMD under /usr/bin/time; sets WALL[NAME], CPU[NAME]
# (s) and RSS[NAME] (MiB); its output goes to $OUT/NAME.out.
declare -A WALL CPU RSS
timed() {
  local name=$1
  shift
  if ! /usr/bin/time -f "%e %U %S %M" -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>&1; then
    echo "bench/compile: $name failed: $(tail -3 "$OUT/$name.out")" >&2
    errors=$((errors + 1))
    WALL[$name]=error; CPU[$name]=-; RSS[$name]=-
    return 1
  fi
  read -r w u s m < <(tail -1 "$OUT/$name.time")
  WALL[$name]=$w
  CPU[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
  RSS[$name]=$(awk -v m="$m" 'BEGIN { printf "%.0f", m / 1024 }')
}
field() { sed -nE "s/.*\\b$1=([^ ]+).*/\\1/p" "$2"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

load_start=$(cut -d' ' -f1 /proc/loadavg)
echo "bench/compile: $M.wasm: $wasm_bytes bytes, $FUNCS functions ($gen_bytes bytes of C)"

timed interp "$BUILD/bench-engine" "$M.wasm" 1 1
want=$(field checksum "$OUT/interp.out")
interp_ms=$(field compile_ms "$OUT/interp.out")

timed aotgen "$BUILD/aot-gen" "$M.wasm" -o "$OUT/aot.c"
aot_c_bytes=$(stat -c %s "$OUT/aot.c" 2>/dev/null || echo 0)

rm -f "$OUT/cc.times" "$M.wasmc"
CC_TIMES=$PWD/$OUT/cc.times REAL_CC=${AOT_CC:-cc} \
  timed wagi "$BUILD/wagi" compile "$M.wasm" -o "$M.wasmc" --cc "$PWD/bench/compile/cc-timed.sh"
read -r cc_wall cc_u cc_s cc_rss < <(tail -1 "$OUT/cc.times" 2>/dev/null || echo "- 0 0 0")
WALL[cc]=$cc_wall
CPU[cc]=$(awk -v u="$cc_u" -v s="$cc_s" 'BEGIN { printf "%.2f", u + s }')
RSS[cc]=$(awk -v m="$cc_rss" 'BEGIN { printf "%.0f", m / 1024 }')
wasmc_bytes=$(stat -c %s "$M.wasmc" 2>/dev/null || echo 0)
if [ -f "$M.wasmc" ]; then
  "$BUILD/bench-engine" "$M.wasmc" 1 1 >"$OUT/aot-run.out" 2>&1
  got=$(field checksum "$OUT/aot-run.out")
  if [ "$got" != "$want" ]; then
    echo "bench/compile: CHECKSUM MISMATCH AOT ${got:-none} vs interpreter $want" >&2
    errors=$((errors + 1))
  fi
fi

w2c_c_bytes=0; w2c_o_bytes=0
if command -v wasm2c >/dev/null 2>&1; then
  timed wasm2c wasm2c -n big "$M.wasm" -o "$OUT/w2c.c"
  w2c_c_bytes=$(stat -c %s "$OUT/w2c.c" 2>/dev/null || echo 0)
  timed w2c-gcc "$NATIVE_CC" -O2 -w -I"$W2C_INC" -c "$OUT/w2c.c" -o "$OUT/w2c.o"
  w2c_o_bytes=$(stat -c %s "$OUT/w2c.o" 2>/dev/null || echo 0)
fi

have_node=0
if command -v node >/dev/null 2>&1; then
  have_node=1
  timed v8-liftoff node --no-wasm-lazy-compilation --liftoff-only --no-warnings \
    bench/compile/v8-compile.mjs "$M.wasm"
  timed v8-turbofan node --no-wasm-lazy-compilation --no-liftoff --no-warnings \
    bench/compile/v8-compile.mjs "$M.wasm"
fi

row() { # row LABEL NAME OUTPUT [WALL]
  local label=$1 name=$2 output=$3 wall=${4:-${WALL[$2]:-}}
  [ -n "$wall" ] || return 0
  echo "| $label | $wall | ${CPU[$name]:--} | ${RSS[$name]:--} | $output |"
}
v8_wall() { field compile_s "$OUT/$1.out"; }
{
  echo "<!-- compile-results -->"
  echo "Latest \`make bench-compile\` ($(date -u +%F), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average" \
       "$load_start before, $(cut -d' ' -f1 /proc/loadavg) after): \`gen.py $FUNCS\`," \
       "$gen_bytes bytes of C, built by clang-16 -O2 into a **$wasm_bytes-byte** .wasm."
  echo
  echo "| step | wall (s) | CPU (s) | peak RSS (MiB) | output |"
  echo "|---|---|---|---|---|"
  row "wagi interpreter: load (decode, validate, translate; bench-engine, whole process)" interp \
    "internal code (load alone: $interp_ms ms)"
  row "**\`wagi compile\`** (translate to C, cc -O3, write the .wasmc)" wagi "$(mib "$wasmc_bytes") .wasmc"
  row "… of which the translation to C (\`build/aot-gen\`, same translator)" aotgen "$(mib "$aot_c_bytes") of C"
  [ "$cc_wall" != "-" ] && row "… of which the C compiler (\`cc -O3 -fno-tree-slp-vectorize -fPIC -shared -g1\`, $(${AOT_CC:-cc} --version | head -1))" cc "-"
  row "wasm2c (wabt 1.0.32)" wasm2c "$(mib "$w2c_c_bytes") of C"
  row "gcc -O2 -c of wasm2c's output" w2c-gcc "$(mib "$w2c_o_bytes") .o"
  if [ $have_node = 1 ]; then
    row "V8 Liftoff, eager (\`new WebAssembly.Module\` alone; process in the other columns)" v8-liftoff \
      "-" "$(v8_wall v8-liftoff)"
    row "V8 TurboFan, eager, on every core (same)" v8-turbofan "-" "$(v8_wall v8-turbofan)"
  fi
  echo "<!-- /compile-results -->"
} >"$OUT/results.md"
cat "$OUT/results.md"

if [ "${NO_README:-0}" != 1 ]; then
  python3 - "$OUT/results.md" <<'EOF'
import re, sys
readme = "bench/README.md"
new = open(sys.argv[1]).read().rstrip("\n")
text = open(readme).read()
if "<!-- compile-results -->" in text:
    text = re.sub(r"<!-- compile-results -->.*?<!-- /compile-results -->", lambda m: new, text,
                  flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n## Compile time of a 1 MB module\n\n" + new + "\n"
open(readme, "w").write(text)
EOF
  echo "bench/compile: results written to bench/README.md"
fi
if [ $errors -gt 0 ]; then echo "bench/compile: $errors error(s)"; exit 1; fi
