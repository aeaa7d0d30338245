;; A reactor-style module without _start.
(module
  (func (export "work") (result i32) (i32.const 1)))
