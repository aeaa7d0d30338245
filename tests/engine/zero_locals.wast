(module
  (func $dirty (param i32) (result i32)
    (local i32 i32 i32 i32 i32 i32 i32 i32)
    i32.const 7 local.set 1  i32.const 7 local.set 2  i32.const 7 local.set 3
    i32.const 7 local.set 4  i32.const 7 local.set 5  i32.const 7 local.set 6
    i32.const 7 local.set 7  i32.const 7 local.set 8
    local.get 1)
  ;; write skipped by br_if to the end of the block
  (func $f1 (param i32) (result i32) (local i32)
    block
      local.get 0
      br_if 0
      i32.const 5
      local.set 1
    end
    local.get 1)
  ;; write in then-branch, read in else-branch
  (func $f2 (param i32) (result i32) (local i32)
    local.get 0
    if (result i32)
      i32.const 5
      local.set 1
      local.get 1
    else
      local.get 1
    end)
  ;; read before write inside a loop
  (func $f3 (param i32) (result i32) (local i32 i32)
    loop
      local.get 1
      local.get 2
      i32.add
      local.set 2
      i32.const 9
      local.set 1
      local.get 0
      i32.const 1
      i32.sub
      local.tee 0
      br_if 0
    end
    local.get 2)
  ;; write inside an inner block, pending branch in the outer one
  (func $f4 (param i32) (result i32) (local i32)
    block
      local.get 0
      br_if 0
      block
        i32.const 3
        local.set 1
      end
      local.get 1
      drop
    end
    local.get 1)
  ;; write after an if without else (the false edge skips only the if)
  (func $f5 (param i32) (result i32) (local i32)
    local.get 0
    if
      i32.const 1
      local.set 1
    end
    local.get 1)
  ;; a dominating write: no zeroing needed, result must still be right
  (func $f6 (param i32) (result i32) (local i32)
    block
      local.get 0
      br_if 0
    end
    i32.const 4
    local.set 1
    local.get 1)
  ;; br_table skipping the write
  (func $f7 (param i32) (result i32) (local i32)
    block
      block
        local.get 0
        br_table 0 1
      end
      i32.const 8
      local.set 1
    end
    local.get 1)
  ;; v128 local
  (func $f8 (param i32) (result i64) (local v128)
    block
      local.get 0
      br_if 0
      v128.const i64x2 5 5
      local.set 1
    end
    local.get 1
    i64x2.extract_lane 1)
  (func (export "t1") (param i32) (result i32) (drop (call $dirty (i32.const 0))) (call $f1 (local.get 0)))
  (func (export "t2") (param i32) (result i32) (drop (call $dirty (i32.const 0))) (call $f2 (local.get 0)))
  (func (export "t3") (param i32) (result i32) (drop (call $dirty (i32.const 0))) (call $f3 (local.get 0)))
  (func (export "t4") (param i32) (result i32) (drop (call $dirty (i32.const 0))) (call $f4 (local.get 0)))
  (func (export "t5") (param i32) (result i32) (drop (call $dirty (i32.const 0))) (call $f5 (local.get 0)))
  (func (export "t6") (param i32) (result i32) (drop (call $dirty (i32.const 0))) (call $f6 (local.get 0)))
  (func (export "t7") (param i32) (result i32) (drop (call $dirty (i32.const 0))) (call $f7 (local.get 0)))
  (func (export "t8") (param i32) (result i64) (drop (call $dirty (i32.const 0))) (call $f8 (local.get 0)))
)
(assert_return (invoke "t1" (i32.const 1)) (i32.const 0))
(assert_return (invoke "t1" (i32.const 0)) (i32.const 5))
(assert_return (invoke "t2" (i32.const 0)) (i32.const 0))
(assert_return (invoke "t2" (i32.const 1)) (i32.const 5))
(assert_return (invoke "t3" (i32.const 3)) (i32.const 18))
(assert_return (invoke "t4" (i32.const 1)) (i32.const 0))
(assert_return (invoke "t4" (i32.const 0)) (i32.const 3))
(assert_return (invoke "t5" (i32.const 0)) (i32.const 0))
(assert_return (invoke "t5" (i32.const 1)) (i32.const 1))
(assert_return (invoke "t6" (i32.const 1)) (i32.const 4))
(assert_return (invoke "t7" (i32.const 1)) (i32.const 0))
(assert_return (invoke "t7" (i32.const 0)) (i32.const 8))
(assert_return (invoke "t8" (i32.const 1)) (i64.const 0))
(assert_return (invoke "t8" (i32.const 0)) (i64.const 5))
