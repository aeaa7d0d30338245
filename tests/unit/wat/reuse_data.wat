;; test_instance_reuse: two pages with active data segments in both pages (one
;; straddling the page boundary) and a passive one that must not be applied.
(module
  (memory (export "memory") 2)
  (data (i32.const 100) "hello")
  (data (i32.const 65530) "straddle")
  (data (i32.const 131000) "end")
  (data "passive bytes")
  ;; First 8-byte-aligned address in [$from, $to) holding a nonzero byte
  ;; (read through wasm loads), or -1.
  (func (export "scan") (param $from i32) (param $to i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
        (if (i64.ne (i64.load (local.get $from)) (i64.const 0))
          (then (return (local.get $from))))
        (local.set $from (i32.add (local.get $from) (i32.const 8)))
        (br $next)))
    (i32.const -1))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
)
