;; Grows memory by 10 pages: exits 0 if that worked, 9 if memory.grow
;; returned -1 (e.g. under --max-memory 256K, 4 pages).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 10)) (i32.const -1))
      (then (call $exit (i32.const 9))))
    (call $exit (i32.const 0))))
