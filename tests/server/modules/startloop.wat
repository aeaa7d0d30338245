;; A start function that never returns: the time limit must stop it (504)
;; like any other endless loop (tests/server/test_limits.py).
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func $spin (loop $l (global.set $g (i32.add (global.get $g) (i32.const 1))) (br $l)))
  (start $spin)
  (func (export "_start")))
