;; SIMD operations whose SIMDe fallbacks for plain SSE2 (the default x86-64
;; target) got lanes wrong; found by the differential fuzzer (tests/diff/).
;; i64x2.all_true: SIMDe compared the lanes with zero as doubles, so a lane
;; 0x8000000000000000 (-0.0 as a double) counted as zero.
(module
  (func (export "all_true") (param i64 i64) (result i32)
    (i64x2.all_true (i64x2.replace_lane 1 (i64x2.splat (local.get 0)) (local.get 1))))
  (func (export "all_true_const") (result i32)
    (i64x2.all_true (v128.const i32x4 0x00000000 0x40e3a620 0x00000000 0x80000000))))
(assert_return (invoke "all_true_const") (i32.const 1))
(assert_return (invoke "all_true" (i64.const 0x8000000000000000) (i64.const 1)) (i32.const 1))
(assert_return (invoke "all_true" (i64.const 1) (i64.const 0x8000000000000000)) (i32.const 1))
(assert_return (invoke "all_true" (i64.const 0x8000000000000000) (i64.const 0x8000000000000000)) (i32.const 1))
(assert_return (invoke "all_true" (i64.const 0x7ff8000000000000) (i64.const 0xfff0000000000000)) (i32.const 1))
(assert_return (invoke "all_true" (i64.const 0) (i64.const 0x8000000000000000)) (i32.const 0))
(assert_return (invoke "all_true" (i64.const 0x8000000000000000) (i64.const 0)) (i32.const 0))
(assert_return (invoke "all_true" (i64.const 0) (i64.const 0)) (i32.const 0))
(assert_return (invoke "all_true" (i64.const 1) (i64.const -1)) (i32.const 1))
