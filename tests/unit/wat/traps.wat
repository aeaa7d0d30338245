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
)
