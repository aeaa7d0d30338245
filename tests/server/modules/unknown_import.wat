;; Imports a function no host provides: instantiation fails -> 500.
(module
  (import "nonexistent" "nothing" (func $nothing))
  (memory (export "memory") 1)
  (func (export "_start") (call $nothing)))
