#!/usr/bin/env bash
# selftest.sh [SPECTEST]: checks the spec runner itself on selftest/*.wast,
# where each command that must fail carries ";; FAIL" on its line. The
# failures reported (by line) must be exactly those. Needs a working engine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build/spectest}
out=$("$bin" --suite "$here/selftest" --call-timeout 1 -v 2>&1 || true)
rc=0
for wast in "$here"/selftest/*.wast; do
  name=$(basename "$wast")
  want=$(grep -n ';; FAIL' "$wast" | cut -d: -f1 | sort -n | tr '\n' ' ' | sed 's/ $//')
  got=$(awk -v f="$name" '/^(PASS|FAIL|CRASH|TIMEOUT) /{cur=($2==f || $2==f":")} cur && /^  line [0-9]+: [a-z_]+: /{sub(":","",$2); print $2}' <<<"$out" |
        sort -n | uniq | tr '\n' ' ' | sed 's/ $//')
  if [ "$want" == "$got" ]; then
    echo "selftest $name: ok (failures at lines $want)"
  else
    echo "selftest $name: MISMATCH"; echo "  expected failures at: $want"; echo "  reported failures at: $got"
    rc=1
  fi
done
[ $rc -eq 0 ] || printf '%s\n' "$out"
exit $rc
