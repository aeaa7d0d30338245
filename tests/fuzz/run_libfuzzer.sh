#!/usr/bin/env bash
# run_libfuzzer.sh TARGET... — the libFuzzer suite of `make test`
# (tests/fuzz/README.md): for each target, every regression input in
# tests/fuzz/regressions/TARGET/ once, then FZ_RUNS inputs with a fixed
# -seed from the small seed set. The new inputs those runs make go to a
# temporary directory, so each run starts from the same corpus. Prints
# "libfuzzer: N passed, N failed" (two checks per target); skips, saying
# why, when clang-16's fuzzer runtime (libclang-rt-16-dev) is missing.
# Environment: FZ (the build directory, default build/fuzz-libfuzzer), FZ_RUNS
# (default 2000), BUILD (for make and the seed script), MAKE.
set -uo pipefail
cd "$(dirname "$0")/../.."
FZ=${FZ:-build/fuzz-libfuzzer}
FZ_RUNS=${FZ_RUNS:-2000}
BUILD=${BUILD:-$(dirname "$FZ")}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
# fuzz_wasi_path's scratch directories go here (libFuzzer may skip their cleanup).
export TMPDIR="$probe"
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
  > "$probe/p.c"
if ! clang-16 -fsanitize=fuzzer,address "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  echo "libfuzzer suite skipped: clang-16 cannot link -fsanitize=fuzzer (install libclang-rt-16-dev: scripts/setup.sh)"
  echo "libfuzzer: 0 passed, 0 failed (skipped)"
  exit 0
fi
bins=()
for t in "$@"; do bins+=("$FZ/fuzz_$t"); done
if ! ${MAKE:-make} --no-print-directory BUILD="$BUILD" "${bins[@]}" >"$probe/build.log" 2>&1; then
  tail -n 30 "$probe/build.log"
  echo "libfuzzer: 0 passed, 1 failed (the targets do not build)"
  exit 1
fi
/usr/bin/python3 tests/fuzz/make_libfuzzer_seeds.py --out "$FZ/seeds" --build "$BUILD" || {
  echo "libfuzzer: 0 passed, 1 failed (no seeds)"
  exit 1
}
passed=0 failed=0
for t in "$@"; do
  bin="$FZ/fuzz_$t"
  regs=(tests/fuzz/regressions/"$t"/*)
  if [ -e "${regs[0]}" ]; then
    if "$bin" -timeout=10 "${regs[@]}" >"$probe/$t.reg.log" 2>&1; then
      echo "fuzz_$t: ${#regs[@]} regression inputs pass"
      passed=$((passed + 1))
    else
      tail -n 40 "$probe/$t.reg.log"
      echo "fuzz_$t: FAILED on a regression input (log above)"
      failed=$((failed + 1))
    fi
  else
    echo "fuzz_$t: no regression inputs"
    passed=$((passed + 1))
  fi
  mkdir -p "$probe/corpus-$t" "$FZ/test-findings/$t"
  if "$bin" -runs="$FZ_RUNS" -seed=20 -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="$FZ/test-findings/$t/" "$probe/corpus-$t" "$FZ/seeds-small/$t" \
      >"$probe/$t.log" 2>&1; then
    echo "fuzz_$t: $FZ_RUNS runs pass ($(grep -E '^#[0-9]+[[:space:]]+DONE' "$probe/$t.log" | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo '?'))"
    passed=$((passed + 1))
  else
    tail -n 40 "$probe/$t.log"
    echo "fuzz_$t: FAILED after $FZ_RUNS runs with -seed=20 (log above; input in $FZ/test-findings/$t/)"
    failed=$((failed + 1))
  fi
done
echo "libfuzzer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
