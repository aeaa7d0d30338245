#!/usr/bin/env bash
# bench/run.sh — runs every kernel in bench/kernels/ on: native gcc -O2,
# wagi-c's engine (build/bench-engine), Node's V8 (--no-liftoff) and wabt's
# wasm-interp (smaller problem size: it is ~500x slower). Prints times and
# ratios to native, checks that all checksums agree, and rewrites the results
# table in bench/README.md. Run through `make bench` (builds the drivers).
#
# Env: BUILD (default build), REPS (best of, default 3), INSTANCES (default
# 1000), INTERP_TIMEOUT (seconds, default 120), KERNELS (default: all).
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

rows=()
printf '%-8s %10s %18s %18s %18s %22s %11s %9s %8s\n' kernel native "wagi interp" "wagi AOT" "V8 --no-liftoff" "wasm-interp (small)" compile_ms inst_us aot_ms
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

  eng=$("$BUILD/bench-engine" "$OUT/$k.wasm" "$REPS" "$INSTANCES" 2>&1)
  if [ $? -eq 0 ]; then
    eng_t=$(field best_s "$eng"); eng_c=$(u32 "$(field checksum "$eng")")
    comp=$(field compile_ms "$eng"); inst=$(field inst_us "$eng")
    if [ "$eng_c" != "$nat_c" ]; then
      echo "bench: $k: CHECKSUM MISMATCH wagi $eng_c vs native $nat_c" >&2; errors=$((errors + 1))
      eng_col="mismatch"
    else
      eng_col="$eng_t ($(ratio "$eng_t" "$nat_t")x)"
    fi
  else
    echo "bench: $k: engine failed: $eng" >&2; errors=$((errors + 1))
    eng_col="error"; comp="-"; inst="-"
  fi

  # the AOT tier: the same module through wagi compile (cc -O2)
  aot_col="error"; aot_ms="-"
  t0=$(date +%s.%N)
  if "$BUILD/wagi" compile "$OUT/$k.wasm" -o "$OUT/$k.wasmc" >/dev/null 2>"$OUT/$k.aot.log"; then
    t1=$(date +%s.%N)
    aot_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
    aot=$("$BUILD/bench-engine" "$OUT/$k.wasmc" "$REPS" 10 2>&1)
    aot_t=$(field best_s "$aot"); aot_c=$(u32 "$(field checksum "$aot" || echo 0)")
    if [ -z "$aot_t" ]; then echo "bench: $k: AOT: $aot" >&2; errors=$((errors + 1))
    elif [ "$aot_c" != "$nat_c" ]; then
      echo "bench: $k: CHECKSUM MISMATCH AOT $aot_c vs native $nat_c" >&2; errors=$((errors + 1))
      aot_col="mismatch"
    else aot_col="$aot_t ($(ratio "$aot_t" "$nat_t")x)"; fi
  else
    echo "bench: $k: wagi compile failed: $(tail -3 "$OUT/$k.aot.log")" >&2; errors=$((errors + 1))
  fi

  if [ $have_node = 1 ]; then
    v8=$(node --no-liftoff --no-warnings bench/run-node.mjs "$OUT/$k.wasm" "$REPS" 2>&1)
    v8_t=$(field best_s "$v8"); v8_c=$(u32 "$(field checksum "$v8" || echo 0)")
    if [ -z "$v8_t" ]; then v8_col="error"; errors=$((errors + 1)); echo "bench: $k: node: $v8" >&2
    elif [ "$v8_c" != "$nat_c" ]; then
      echo "bench: $k: CHECKSUM MISMATCH V8 $v8_c vs native $nat_c" >&2; errors=$((errors + 1))
      v8_col="mismatch"
    else v8_col="$v8_t ($(ratio "$v8_t" "$nat_t")x)"; fi
  else
    v8_col="n/a (no node)"
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

  printf '%-8s %10s %18s %18s %18s %22s %11s %9s %8s\n' "$k" "$nat_t" "$eng_col" "$aot_col" "$v8_col" "$wi_col" "$comp" "$inst" "$aot_ms"
  rows+=("| $k | $nat_t | $eng_col | $aot_col | $v8_col | $wi_col | $comp | $inst | $aot_ms |")
done

echo "(times in seconds, best of $REPS; ratios to native gcc -O2; wasm-interp runs the"
echo " -DSMALL size once, minus its start-up time (${interp_base}s), against native at that size)"

# Rewrite the results section of bench/README.md.
{
  sed '/^<!-- results -->/,$d' bench/README.md 2>/dev/null || true
  echo "<!-- results -->"
  echo "Latest \`make bench\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1)):"
  echo
  echo "| kernel | native gcc -O2 (s) | wagi interpreter (s, ratio) | wagi AOT (s, ratio) | V8 --no-liftoff (s, ratio) | wasm-interp, small size (s, ratio) | compile (ms) | instantiate (µs) | wagi compile (ms) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Best of $REPS runs of \`run()\`; instantiate = average of $INSTANCES instantiate+free."
  echo "wasm-interp runs the \`-DSMALL\` problem size once, minus its start-up time"
  echo "(${interp_base} s, measured on an empty module), and is compared with native at that size."
  echo "<!-- /results -->"
  # Hand-written notes after the closing marker stay as they are.
  sed -n '/^<!-- \/results -->/,$p' bench/README.md 2>/dev/null | tail -n +2
} > "$OUT/README.md.new" && mv "$OUT/README.md.new" bench/README.md

if [ $errors -gt 0 ]; then echo "bench: $errors error(s)"; exit 1; fi
