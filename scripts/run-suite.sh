#!/usr/bin/env bash
# run-suite.sh NAME LOG CMD...: runs one test suite, shows and logs its output,
# and makes sure the log ends with a summary line "NAME: N passed, N failed"
# that test-summary.sh can add up. The suite's own summary is its last line
# of the form "[name: ]N passed, N failed..." or pytest's "=== N passed, N
# failed in Ts ===". A suite that dies (crash, sanitizer
# report, non-zero exit with nothing failed) counts one extra failure, so a
# crash can never look like success.
set -uo pipefail
name=$1 log=$2; shift 2
mkdir -p "$(dirname "$log")"
echo "== $name: $*"
"$@" 2>&1 | tee "$log.raw"
rc=${PIPESTATUS[0]}
line=$(grep -E '^([A-Za-z0-9_ -]+: )?[0-9]+ passed, [0-9]+ failed' "$log.raw" | tail -n 1 || true)
passed=0 failed=0
if [ -n "$line" ]; then
  passed=$(sed -E 's/^([A-Za-z0-9_ -]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
  failed=$(sed -E 's/^([A-Za-z0-9_ -]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$line")
fi
# pytest's summary instead: "===== 12 passed, 1 failed, 2 errors in 3.4s =====",
# "=== 5 passed in 0.1s ===", "=== 1 failed in 0.2s ===" (errors count as failures).
if [ -z "$line" ]; then
  pyline=$(grep -E '^=+ .*[0-9]+ (passed|failed|errors?|skipped|deselected).* in [0-9.]+s.* =+$' "$log.raw" | tail -n 1 || true)
  if [ -n "$pyline" ]; then
    count() { grep -oE "[0-9]+ $1" <<<"$pyline" | awk '{s+=$1} END {print s+0}'; }
    passed=$(count passed)
    failed=$(( $(count failed) + $(count 'errors?') ))
    line=$pyline
  fi
fi
note=""
if [ -z "$line" ]; then
  failed=$((failed + 1)); note=" (no summary line; exit status $rc)"
elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1; note=" (exit status $rc)"
fi
echo "SUMMARY $name: $passed passed, $failed failed$note" > "$log"
exit 0
