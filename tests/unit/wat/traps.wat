;; Functions that trap in each way the unit tests check. Bodies carry
;; distinctive immediates so the test can find each trapping instruction's
;; byte offset in the binary.
(module
  (memory 1)
  (func $div (export "div") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.div_s)
  (func $unreach (export "unreach") (result i32)
    i32.const 0x1234 drop unreachable)
  (func $oob (export "oob") (param i32) (result i32)
    local.get 0 i32.load offset=0x77)
  (func $recurse (export "recurse") (param i32) (result i32)
    local.get 0 i32.const 0x55 i32.add call $recurse)
  (func $spin (export "spin")
    (loop $l br $l))
  (func $ok (export "ok") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add)
;; Loops that leave the generated code on every iteration (libm, the
  ;; runtime's memory.fill) and a loop nest whose inner loop exits every
  ;; time: all must be interruptible on native code too.
  (func $spin_floor (export "spin_floor") (local f64)
    (loop $l (local.set 0 (f64.floor (f64.add (local.get 0) (f64.const 0.5)))) br $l))
  (func $spin_fill (export "spin_fill")
    (loop $l (memory.fill (i32.const 0) (i32.const 7) (i32.const 4096)) br $l))
  (func $spin_nested (export "spin_nested") (local i32)
    (loop $outer
      (local.set 0 (i32.const 0))
      (loop $inner
        (br_if $inner (i32.lt_u (local.tee 0 (i32.add (local.get 0) (i32.const 1))) (i32.const 3))))
      br $outer))
)
