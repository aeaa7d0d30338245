#!/usr/bin/env bash
# test-summary.sh LOGDIR: adds up the "SUMMARY name: N passed, N failed" lines
# written by run-suite.sh and prints one final line. Exit 1 if anything failed
# or no suite ran.
set -euo pipefail
dir=$1
total_p=0 total_f=0 n=0
for log in "$dir"/*.log; do
  [ -e "$log" ] || continue
  line=$(grep '^SUMMARY ' "$log" | tail -n 1 || true)
  if [ -z "$line" ]; then
    line="SUMMARY $(basename "$log" .log): 0 passed, 1 failed (no summary in $log)"
  fi
  echo "  ${line#SUMMARY }"
  p=$(sed -E 's/^SUMMARY [^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
  f=$(sed -E 's/^SUMMARY [^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
  total_p=$((total_p + p)); total_f=$((total_f + f)); n=$((n + 1))
done
if [ "$n" -eq 0 ]; then echo "0 passed, 1 failed (no test suite ran)"; exit 1; fi
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
