;; proc_exit(200): outside the 0..125 range `wagi run` passes through.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (func (export "_start") (call $exit (i32.const 200))))
