;; test_instance_reuse: a guest that leaves a marker in every byte of its
;; linear memory, pages it grew included, so that the next user of the
;; pooled reservation can check it sees none of it.
(module
  (memory (export "memory") 1)
  ;; Grows by $grow pages, fills the whole memory with $marker; returns the
  ;; size in pages, or -1 if the growth failed.
  (func (export "dirty") (param $grow i32) (param $marker i32) (result i32)
    (if (i32.eq (memory.grow (local.get $grow)) (i32.const -1))
      (then (return (i32.const -1))))
    (memory.fill (i32.const 0) (local.get $marker)
                 (i32.mul (memory.size) (i32.const 65536)))
    (memory.size))
)
