#!/usr/bin/env bash
# run-pytest.sh NAME DIR [PYTEST ARGS...]: runs a pytest integration suite
# (tests/server, tests/http) against $WAGI_BUILD/wagi (default build/wagi) and
# ends with "NAME: N passed, N failed" (errors count as failures), the line
# run-suite.sh and test-summary.sh add up. Exit status 0 iff none failed.
set -uo pipefail
name=$1 dir=$2
shift 2
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Debian's python3 has pytest (python3-pytest); a pyenv python3 on PATH may not.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -m pytest "$dir" -q -rfE -p no:cacheprovider "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
last=$(grep -E '(passed|failed|error|no tests ran)' "$out" | tail -n 1)
num() { grep -oE "[0-9]+ $1" <<<"$last" | grep -oE '^[0-9]+' || echo 0; }
p=$(num passed); f=$(num failed); e=$(num error)
f=$((f + e))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  f=1; echo "$name: pytest exit status $rc"
fi
echo "$name: $p passed, $f failed"
[ "$f" -eq 0 ]
