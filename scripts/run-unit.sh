#!/usr/bin/env bash
# run-unit.sh BIN...: runs each cmocka test binary, adds up cmocka's own
# summaries ("[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s), listed
# below:") and prints "unit: N passed, N failed". A binary that crashes before
# its summary counts its finished tests plus one failure.
set -uo pipefail
total_p=0 total_f=0
for bin in "$@"; do
  out=$("$bin" 2>&1); rc=$?
  printf '%s\n' "$out"
  # A binary may run several groups: add up every group's summary.
  groups=$(grep -cE '^\[  PASSED  \] [0-9]+ test' <<<"$out" || true)
  p=$(grep -E '^\[  PASSED  \] [0-9]+ test' <<<"$out" | sed -E 's/.*\] ([0-9]+) test.*/\1/' | awk '{s+=$1} END {print s+0}')
  f=$(grep -E '^\[  FAILED  \] [0-9]+ test' <<<"$out" | sed -E 's/.*\] ([0-9]+) test.*/\1/' | awk '{s+=$1} END {print s+0}')
  if [ "$groups" -eq 0 ]; then
    # No summary: the binary died. Count what finished, and the death.
    p=$(grep -cE '^\[       OK \]' <<<"$out" || true)
    f=$(( $(grep -cE '^\[  FAILED  \] [^0-9]' <<<"$out" || true) + 1 ))
    echo "unit: $(basename "$bin") died (exit status $rc) before its summary"
  fi
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "unit: $(basename "$bin") exit status $rc"; fi
  total_p=$((total_p + p)); total_f=$((total_f + f))
done
echo "unit: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
