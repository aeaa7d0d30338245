;; A start function that never returns: only wasm_instance_opts.on_start
;; lets the embedder stop it (test_traps.c, the server's time limit).
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func $spin (loop $l (global.set $g (i32.add (global.get $g) (i32.const 1))) (br $l)))
  (start $spin)
  (func (export "_start")))
