#!/bin/bash
# Translates every .wasm under BUILD/spec (the spec suite as converted by
# build/spectest) with BUILD/aot-gen and compiles each C file with
# `${AOT_CC:-cc} -O${AOT_OPT:-2} -fPIC -c` (as aot.c does) with -Wall -Wextra,
# two at a time.
# Prints one line per failure and a summary; exit 1 if any failed.
# Modules that the engine rejects (assert_invalid/malformed) are skipped.
set -u
BUILD=${1:-build}
CC=${AOT_CC:-cc}
OPT=${AOT_OPT:-2}
OUT=$BUILD/aot-check
rm -rf "$OUT" && mkdir -p "$OUT"
export BUILD CC OPT OUT
one() {
  f=$1
  base=$(echo "${f#$BUILD/spec/}" | tr '/' '_')
  "$BUILD/aot-gen" "$f" -o "$OUT/$base.c" 2>"$OUT/$base.gen.log"
  rc=$?
  if [ $rc = 2 ]; then echo "skip $f" >"$OUT/$base.status"; rm -f "$OUT/$base.c"; return; fi
  if [ $rc != 0 ]; then echo "GENFAIL $f" | tee "$OUT/$base.status"; return; fi
  if ! $CC -O"$OPT" -fPIC -Wall -Wextra -I src/wasm \
      -c "$OUT/$base.c" -o "$OUT/$base.o" 2>"$OUT/$base.cc.log"; then
    echo "CCFAIL $f ($OUT/$base.cc.log)" | tee "$OUT/$base.status"
  elif [ -s "$OUT/$base.cc.log" ]; then
    echo "WARN $f ($OUT/$base.cc.log)" | tee "$OUT/$base.status"
  else
    echo "ok $f" >"$OUT/$base.status"
    rm -f "$OUT/$base.o" "$OUT/$base.c" "$OUT/$base.cc.log" "$OUT/$base.gen.log"
  fi
}
export -f one
find "$BUILD/spec" -name '*.wasm' | sort | xargs -P2 -I{} bash -c 'one {}'
ok=$(cat "$OUT"/*.status | grep -c '^ok ')
skip=$(cat "$OUT"/*.status | grep -c '^skip ')
warn=$(cat "$OUT"/*.status | grep -c '^WARN ')
fail=$(cat "$OUT"/*.status | grep -c 'FAIL ')
echo "aot-gen: $ok compiled clean, $warn with warnings, $fail failed, $skip not valid (skipped)"
[ "$fail" = 0 ] && [ "$warn" = 0 ]
