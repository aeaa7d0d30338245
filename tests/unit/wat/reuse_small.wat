;; test_instance_reuse: one page, one byte of data at 0, loads anywhere.
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "\2a")
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
)
