;; Asks for 60000 pages (3.7 GiB) at instantiation: over any sane memory cap.
(module
  (memory (export "memory") 60000)
  (func (export "_start")))
