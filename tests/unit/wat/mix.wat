;; Per-instance state (memory and a mutable global): a fresh instance returns
;; arg * 3 + 101; anything else means instances share state.
(module
  (memory 1)
  (global $g (mut i32) (i32.const 100))
  (func (export "mix") (param i32) (result i32)
    (i32.store (i32.const 16) (local.get 0))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.add (i32.mul (i32.load (i32.const 16)) (i32.const 3)) (global.get $g))))
