#!/usr/bin/env bash
# tests/http/run.sh [PYTEST ARGS...]: the outbound-HTTP integration tests
# (tests/http, pytest) against $WAGI_BUILD/wagi (default build/wagi). Ends
# with "httptest: N passed, N failed" (errors count as failures), the line
# run-suite.sh and test-summary.sh add up. Exit status 0 iff none failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Debian's python3 has pytest (python3-pytest); a pyenv python3 on PATH may not.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -m pytest tests/http -q -rfE -p no:cacheprovider "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
last=$(grep -E '(passed|failed|error|no tests ran)' "$out" | tail -n 1)
num() { grep -oE "[0-9]+ $1" <<<"$last" | grep -oE '^[0-9]+' || echo 0; }
p=$(num passed); f=$(num failed); e=$(num error)
f=$((f + e))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  f=1; echo "httptest: pytest exit status $rc"
fi
echo "httptest: $p passed, $f failed"
[ "$f" -eq 0 ]
