;; Calls proc_exit(4) from its start function, before _start.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (func $s (call $exit (i32.const 4)))
  (start $s)
  (func (export "_start") unreachable))
