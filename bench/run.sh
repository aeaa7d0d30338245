#!/usr/bin/env bash
# bench/run.sh — runs every kernel in bench/kernels/ on: native gcc -O2,
# wagi-c's interpreter and AOT tier (build/bench-engine on the .wasm and on
# the .wasmc `wagi compile` made of it), wabt's wasm2c + gcc -O2
# (bench/wasm2c_main.c), Node's V8 in its default tiering and with
# --no-liftoff, and wabt's wasm-interp (smaller problem size: it is ~500x
# slower). Prints times and ratios to native, checks that all checksums
# agree, and rewrites the two results tables in bench/README.md (run time;
# compile, load and instantiate). Run through `make bench` (builds the drivers).
#
# Env: BUILD (default build), REPS (best of, default 3), INSTANCES (fresh
# instances per instantiate round, default 1000), INTERP_TIMEOUT (seconds,
# default 120), KERNELS (default: all).
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-3}
INSTANCES=${INSTANCES:-1000}
INTERP_TIMEOUT=${INTERP_TIMEOUT:-120}
OUT=$BUILD/bench
mkdir -p "$OUT"

CLANG=${CLANG:-clang-16}
WASM_FLAGS=(--target=wasm32 -O2 -mbulk-memory -nostdlib -Wl,--no-entry -Wl,--export=run)
NATIVE_CC=${NATIVE_CC:-gcc}

kernels=${KERNELS:-$(ls bench/kernels/*.c | xargs -n1 basename | sed 's/\.c$//')}
errors=0

have_node=0
if command -v node >/dev/null 2>&1; then have_node=1; fi
have_interp=0
if command -v wasm-interp >/dev/null 2>&1; then have_interp=1; fi
if [ ! -x "$BUILD/bench-engine" ]; then
  echo "bench: $BUILD/bench-engine missing (run: make bench)" >&2
  exit 1
fi

# field NAME LINE: value of NAME=... in a driver's output line
field() { sed -nE "s/.*\\b$1=([^ ]+).*/\\1/p" <<<"$2"; }
# u32 N: checksum as an unsigned 32-bit number (runners print i32 differently)
u32() { echo $(( ($1) & 0xffffffff )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# wasm-interp's process start and load time, subtracted from its timings
# (the small problem sizes run for milliseconds natively).
interp_base=0
if [ $have_interp = 1 ] && command -v wat2wasm >/dev/null 2>&1; then
  echo '(module (func (export "run") (result i32) i32.const 0))' > "$OUT/empty.wat"
  wat2wasm "$OUT/empty.wat" -o "$OUT/empty.wasm"
  interp_base=$( { for i in 1 2 3; do
      t0=$(date +%s.%N); wasm-interp "$OUT/empty.wasm" --run-all-exports >/dev/null; t1=$(date +%s.%N)
      awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
    done; } | sort -n | head -n1)
fi

# wabt's wasm2c runtime, compiled once for every kernel's driver.
W2C_INC=${W2C_INC:-/usr/share/wabt/wasm2c}
have_w2c=0
if command -v wasm2c >/dev/null 2>&1 && [ -f "$W2C_INC/wasm-rt-impl.c" ]; then
  mkdir -p "$OUT/w2c"
  if $NATIVE_CC -O2 -w -I"$W2C_INC" -c "$W2C_INC/wasm-rt-impl.c" -o "$OUT/w2c/wasm-rt-impl.o"; then
    have_w2c=1
  fi
fi

# since T0: milliseconds since the date +%s.%N stamp T0
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# runner WHAT WANT NAT_T CMD...: runs a driver that prints checksum=N best_s=T,
# checks the checksum against WANT and sets col ("T (ratio)", "error" or
# "mismatch") and out (the driver's output line, for more fields).
runner() {
  local what=$1 want=$2 base=$3
  shift 3
  out=$("$@" 2>&1)
  local rc=$? t c
  t=$(field best_s "$out")
  if [ $rc -ne 0 ] || [ -z "$t" ]; then
    echo "bench: $k: $what failed: $out" >&2; errors=$((errors + 1)); col="error"; return
  fi
  c=$(u32 "$(field checksum "$out")")
  if [ "$c" != "$want" ]; then
    echo "bench: $k: CHECKSUM MISMATCH $what $c vs native $want" >&2; errors=$((errors + 1))
    col="mismatch"; return
  fi
  col="$t ($(ratio "$t" "$base")x)"
}

load_start=$(cut -d' ' -f1 /proc/loadavg)
rows=()
rows2=()
printf '%-9s %9s %17s %17s %17s %17s %17s %19s\n' kernel native "wagi interp" "wagi AOT" \
  "wasm2c+gcc" "V8 default" "V8 --no-liftoff" "wasm-interp (small)"
for k in $kernels; do
  src=bench/kernels/$k.c
  set -e
  $NATIVE_CC -O2 -std=gnu11 -o "$OUT/$k.native" "$src" bench/native_main.c
  $NATIVE_CC -O2 -std=gnu11 -DSMALL -o "$OUT/$k.small.native" "$src" bench/native_main.c
  $CLANG "${WASM_FLAGS[@]}" -o "$OUT/$k.wasm" "$src"
  $CLANG "${WASM_FLAGS[@]}" -DSMALL -o "$OUT/$k.small.wasm" "$src"
  set +e

  nat=$("$OUT/$k.native" "$REPS")
  nat_t=$(field best_s "$nat"); nat_c=$(u32 "$(field checksum "$nat")")
  nats=$("$OUT/$k.small.native" "$REPS")
  nats_t=$(field best_s "$nats"); nats_c=$(u32 "$(field checksum "$nats")")

  # the interpreter: "compile" is decode + validate + translation
  runner "wagi interpreter" "$nat_c" "$nat_t" "$BUILD/bench-engine" "$OUT/$k.wasm" "$REPS" "$INSTANCES"
  eng_col=$col; comp=$(field compile_ms "$out"); inst=$(field inst_us "$out")

  # the AOT tier: wagi compile (translate to C, cc -O2), then bench-engine
  # loads the .wasmc ("compile" is then the load) and runs it
  aot_col="error"; aot_ms="-"; aot_load="-"; aot_inst="-"
  t0=$(date +%s.%N)
  if "$BUILD/wagi" compile "$OUT/$k.wasm" -o "$OUT/$k.wasmc" >/dev/null 2>"$OUT/$k.aot.log"; then
    aot_ms=$(since "$t0")
    runner "wagi AOT" "$nat_c" "$nat_t" "$BUILD/bench-engine" "$OUT/$k.wasmc" "$REPS" "$INSTANCES"
    aot_col=$col; aot_load=$(field compile_ms "$out"); aot_inst=$(field inst_us "$out")
  else
    echo "bench: $k: wagi compile failed: $(tail -3 "$OUT/$k.aot.log")" >&2; errors=$((errors + 1))
  fi

  # wasm2c + gcc -O2: the same .wasm translated by wabt's wasm2c
  w2c_col="n/a (no wasm2c)"; w2c_ms="-"; w2c_inst="-"
  if [ $have_w2c = 1 ]; then
    w2c_col="error"
    rm -f "$OUT/w2c/$k.run"
    t0=$(date +%s.%N)
    if wasm2c -n "$k" "$OUT/$k.wasm" -o "$OUT/w2c/$k.c" 2>"$OUT/w2c/$k.log" &&
       $NATIVE_CC -O2 -w -I"$W2C_INC" -c "$OUT/w2c/$k.c" -o "$OUT/w2c/$k.o" 2>>"$OUT/w2c/$k.log"; then
      w2c_ms=$(since "$t0")
      $NATIVE_CC -O2 -std=gnu11 -Wall -Wextra -Werror -I"$OUT/w2c" -I"$W2C_INC" \
        -DW2C_NAME="$k" -DW2C_HEADER="\"$k.h\"" -o "$OUT/w2c/$k.run" bench/wasm2c_main.c \
        "$OUT/w2c/$k.o" "$OUT/w2c/wasm-rt-impl.o" -lm 2>>"$OUT/w2c/$k.log"
    fi
    if [ -x "$OUT/w2c/$k.run" ]; then
      runner "wasm2c" "$nat_c" "$nat_t" "$OUT/w2c/$k.run" "$REPS" "$INSTANCES"
      w2c_col=$col; w2c_inst=$(field inst_us "$out")
    else
      echo "bench: $k: wasm2c build failed: $(tail -3 "$OUT/w2c/$k.log")" >&2; errors=$((errors + 1))
    fi
  fi

  # V8: its default tiering (Liftoff first, TurboFan for hot functions) and
  # TurboFan only
  v8d_col="n/a (no node)"; v8_col="n/a (no node)"
  if [ $have_node = 1 ]; then
    runner "V8 default" "$nat_c" "$nat_t" node --no-warnings bench/run-node.mjs "$OUT/$k.wasm" "$REPS"
    v8d_col=$col
    runner "V8 --no-liftoff" "$nat_c" "$nat_t" node --no-liftoff --no-warnings bench/run-node.mjs "$OUT/$k.wasm" "$REPS"
    v8_col=$col
  fi

  if [ $have_interp = 1 ]; then
    t0=$(date +%s.%N)
    wi=$(timeout "$INTERP_TIMEOUT" wasm-interp "$OUT/$k.small.wasm" --run-all-exports 2>&1)
    rc=$?
    t1=$(date +%s.%N)
    wi_t=$(awk -v a="$t0" -v b="$t1" -v z="$interp_base" 'BEGIN { d = b - a - z; if (d < 0) d = 0; printf "%.3f", d }')
    if [ $rc = 124 ]; then wi_col="timeout"
    else
      wi_c=$(sed -nE 's/^run\(\) => i32:([0-9-]+).*/\1/p' <<<"$wi")
      if [ -z "$wi_c" ]; then wi_col="error"; echo "bench: $k: wasm-interp: $wi" >&2; errors=$((errors + 1))
      elif [ "$(u32 "$wi_c")" != "$nats_c" ]; then
        echo "bench: $k: CHECKSUM MISMATCH wasm-interp $(u32 "$wi_c") vs native $nats_c" >&2
        errors=$((errors + 1)); wi_col="mismatch"
      else wi_col="$wi_t ($(ratio "$wi_t" "$nats_t")x)"; fi
    fi
  else
    wi_col="n/a (no wabt)"
  fi

  printf '%-9s %9s %17s %17s %17s %17s %17s %19s\n' "$k" "$nat_t" "$eng_col" "$aot_col" \
    "$w2c_col" "$v8d_col" "$v8_col" "$wi_col"
  printf '%-9s interpreter: compile %s ms, instantiate %s us | AOT: wagi compile %s ms, load %s ms, instantiate %s us | wasm2c+gcc -c %s ms, instantiate %s us\n' \
    "" "$comp" "$inst" "$aot_ms" "$aot_load" "$aot_inst" "$w2c_ms" "$w2c_inst"
  rows+=("| $k | $nat_t | $eng_col | $aot_col | $w2c_col | $v8d_col | $v8_col | $wi_col |")
  rows2+=("| $k | $(( $(stat -c %s "$OUT/$k.wasm") )) | $comp | $inst | $aot_ms | $aot_load | $aot_inst | $w2c_ms | $w2c_inst |")
done

echo "(times in seconds, best of $REPS; ratios to native gcc -O2; wasm-interp runs the"
echo " -DSMALL size once, minus its start-up time (${interp_base}s), against native at that size)"

# Rewrite the results section of bench/README.md.
{
  sed '/^<!-- results -->/,$d' bench/README.md 2>/dev/null || true
  echo "<!-- results -->"
  echo "Latest \`make bench\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1), load average $load_start before, $(cut -d' ' -f1 /proc/loadavg) after):"
  echo
  echo "| kernel | native gcc -O2 (s) | wagi interpreter (s, ratio) | wagi AOT (s, ratio) | wasm2c + gcc -O2 (s, ratio) | V8 default tiering (s, ratio) | V8 --no-liftoff (s, ratio) | wasm-interp, small size (s, ratio) |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Best of $REPS runs of \`run()\` on one instance; ratio = time / native time."
  aot_target=$(/usr/bin/python3 -c 'import sys; print(open(sys.argv[1], "rb").read()[-256:][192:224].split(b"\0")[0].decode())' \
    "$OUT/fib.wasmc" 2>/dev/null)
  echo "wagi AOT's code is built for this machine's CPU level (\`${aot_target:-?}\`, see docs/aot.md);"
  echo "native gcc -O2 and wasm2c's C for the x86-64 baseline; V8 picks its CPU features at run time."
  echo "wasm-interp runs the \`-DSMALL\` problem size once, minus its start-up time"
  echo "(${interp_base} s, measured on an empty module), and is compared with native at that size."
  echo
  echo "Getting a module ready, per tier (instantiate = instantiate + free, no call: the average over"
  echo "$INSTANCES fresh instances, best of 5 rounds; wasm2c's driver uses rounds of at most 800):"
  echo
  echo "| kernel | .wasm (bytes) | interpreter: compile (ms) | interpreter: instantiate (µs) | AOT: \`wagi compile\` (ms) | AOT: load .wasmc (ms) | AOT: instantiate (µs) | wasm2c + gcc -O2 -c (ms) | wasm2c: instantiate (µs) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows2[@]}"
  echo "<!-- /results -->"
  # Hand-written notes after the closing marker stay as they are.
  sed -n '/^<!-- \/results -->/,$p' bench/README.md 2>/dev/null | tail -n +2
} > "$OUT/README.md.new" && mv "$OUT/README.md.new" bench/README.md

if [ $errors -gt 0 ]; then echo "bench: $errors error(s)"; exit 1; fi
