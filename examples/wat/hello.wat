;; hello.wat — a WAGI handler written directly in the WebAssembly text format.
;; demo.toml points at this file itself: the server converts WAT text at
;; startup (with wabt's wat2wasm), no build step needed.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Content-Type: text/plain\n\nHello from a hand-written WAT module!\n")
  (func (export "_start")
    ;; one iovec {ptr = 16, len = 64} at address 0; bytes written -> address 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 64))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
