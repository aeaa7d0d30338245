;; Self-test of build/spectest: every command marked FAIL must be reported
;; as failed (at its line) and every other command must pass or be skipped.
;; Run by tests/spec/selftest.sh.
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "snan") (result f32) (f32.const nan:0x200000))
  (func (export "qnan") (result f32) (f32.const -nan))
  (func (export "qnan1") (result f64) (f64.const nan:0x8000000000001))
  (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "v") (result v128) (v128.const i32x4 1 2 3 4))
  (func (export "vf") (result v128) (v128.const f32x4 nan 1 nan:0x400001 -0))
  (func (export "r") (param externref) (result externref) (local.get 0))
  (func (export "two") (result i32 i64) (i32.const -1) (i64.const -2))
  (func (export "spin") (loop (br 0)))
  (func (export "rec") (call 10))
  (global (export "g") i32 (i32.const 7)))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4)) ;; FAIL
(assert_return (invoke "snan") (f32.const nan:arithmetic)) ;; FAIL
(assert_return (invoke "snan") (f32.const nan:canonical)) ;; FAIL
(assert_return (invoke "qnan") (f32.const nan:canonical))
(assert_return (invoke "qnan1") (f64.const nan:arithmetic))
(assert_return (invoke "qnan1") (f64.const nan:canonical)) ;; FAIL
(assert_trap (invoke "div" (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "div" (i32.const 0)) "integer overflow") ;; FAIL
(assert_trap (invoke "div" (i32.const 1)) "integer divide by zero") ;; FAIL
(assert_return (invoke "v") (v128.const i32x4 1 2 3 4))
(assert_return (invoke "v") (v128.const i16x8 1 0 2 0 3 0 4 0))
(assert_return (invoke "v") (v128.const i32x4 1 2 3 5)) ;; FAIL
(assert_return (invoke "vf") (v128.const f32x4 nan:canonical 1 nan:arithmetic -0))
(assert_return (invoke "vf") (v128.const f32x4 nan:canonical 1 nan:canonical -0)) ;; FAIL
(assert_return (invoke "vf") (v128.const f32x4 nan:canonical 1 nan:arithmetic 0)) ;; FAIL
(assert_return (invoke "r" (ref.extern 5)) (ref.extern 5))
(assert_return (invoke "r" (ref.extern 0)) (ref.extern 0))
(assert_return (invoke "r" (ref.extern 5)) (ref.extern 6)) ;; FAIL
(assert_return (invoke "r" (ref.extern 0)) (ref.null extern)) ;; FAIL
(assert_return (invoke "r" (ref.null extern)) (ref.null extern))
(assert_return (invoke "two") (i32.const -1) (i64.const -2))
(assert_return (invoke "two") (i32.const -1) (i64.const -1)) ;; FAIL
(assert_return (get "g") (i32.const 7))
(assert_return (get "g") (i32.const 8)) ;; FAIL
(invoke "spin") ;; FAIL
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_exhaustion (invoke "rec") "call stack exhausted")
(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch") ;; FAIL
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
(assert_malformed (module binary "\00asm\01\00\00\00") "should have failed") ;; FAIL
(assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
(assert_malformed (module quote "(func") "unexpected end")
(assert_unlinkable (module (import "spectest" "nosuch" (func))) "unknown import")
(assert_unlinkable (module (import "spectest" "print_i32" (func (param i32)))) "incompatible import type") ;; FAIL
(assert_unlinkable (module (import "spectest" "print_i32" (func))) "incompatible import type")
(assert_unlinkable (module (import "spectest" "table" (table 21 funcref))) "incompatible import type")
(assert_unlinkable (module (import "spectest" "memory" (memory 1 1))) "incompatible import type")
(module $M
  (import "spectest" "print_i32" (func (param i32)))
  (import "spectest" "print_f64_f64" (func (param f64 f64)))
  (import "spectest" "global_i32" (global $gi i32))
  (import "spectest" "global_f32" (global $gf f32))
  (import "spectest" "table" (table 10 20 funcref))
  (import "spectest" "memory" (memory 1 2))
  (func (export "p") (call 0 (global.get $gi)))
  (func (export "gf") (result f32) (global.get $gf))
  (func (export "grow") (result i32) (memory.grow (i32.const 1))))
(register "M" $M)
(invoke $M "p")
(assert_return (invoke $M "gf") (f32.const 666.6))
(assert_return (invoke $M "grow") (i32.const 1))
(assert_return (invoke $M "grow") (i32.const -1))
(module (import "M" "gf" (func (result f32))) (func (export "gf2") (result f32) (call 0)))
(assert_return (invoke "gf2") (f32.const 666.6))
(assert_trap (module (func $s unreachable) (start $s)) "unreachable")
(assert_trap (module (func $s) (start $s)) "unreachable") ;; FAIL
(assert_return (invoke "gf2") (f32.const 666.6))
