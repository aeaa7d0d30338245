#!/usr/bin/env bash
# demo.sh — `make demo`: shows the engine through the wagi CLI on a small
# hand-written module and on the fib benchmark kernel compiled from C.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
W=$BUILD/wagi
D=$BUILD/demo
mkdir -p "$D"

cat > "$D/demo.wat" <<'WAT'
(module
  (memory (export "memory") 1 16)
  (global $calls (mut i32) (i32.const 0))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func $fact (export "fact") (param $n i64) (result i64)
    (local $acc i64)
    (local.set $acc (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i64.le_u (local.get $n) (i64.const 1)))
        (local.set $acc (i64.mul (local.get $acc) (local.get $n)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $next)))
    (local.get $acc))
  (func $hypot (export "hypot") (param f64 f64) (result f64)
    (f64.sqrt (f64.add (f64.mul (local.get 0) (local.get 0))
                       (f64.mul (local.get 1) (local.get 1)))))
  (func $divmod (export "divmod") (param i32 i32) (result i32 i32)
    (i32.div_s (local.get 0) (local.get 1))
    (i32.rem_s (local.get 0) (local.get 1)))
  (func $peek (export "peek") (param i32) (result i32)
    (i32.load (local.get 0)))
)
WAT
wat2wasm --enable-all --debug-names "$D/demo.wat" -o "$D/demo.wasm" || exit 1
head -c 60 "$D/demo.wasm" > "$D/broken.wasm"

show() {
  echo
  echo "\$ wagi $*"
  "$W" "$@"
  local rc=$?
  [ $rc -eq 0 ] || echo "(exit status $rc)"
}

echo "== wagi-c demo: a WebAssembly 2.0 engine in C =="
show --version
show validate "$D/demo.wasm"
show inspect "$D/demo.wasm"
show invoke "$D/demo.wasm" fib 25
show invoke "$D/demo.wasm" fact 20
show invoke "$D/demo.wasm" hypot 3 4
show invoke "$D/demo.wasm" divmod 17 5
echo; echo "# traps are reported with the function and byte offset; exit status 2"
show invoke "$D/demo.wasm" divmod 1 0
show invoke "$D/demo.wasm" peek 65535
echo; echo "# a truncated module is rejected with the decoder's message"
show validate "$D/broken.wasm"

if command -v clang-16 >/dev/null 2>&1; then
  echo; echo "# the fib benchmark kernel, compiled from C with clang-16 --target=wasm32"
  clang-16 --target=wasm32 -O2 -mbulk-memory -nostdlib -Wl,--no-entry -Wl,--export=run \
    -DSMALL -o "$D/fib.wasm" bench/kernels/fib.c || exit 1
  t0=$(date +%s.%N)
  show invoke "$D/fib.wasm" run
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "fib(30) in %.2f s (process start, compile and run)\n", b - a }'
fi
echo
echo "More: make test (all suites), make bench (vs native, V8, wasm-interp)."
