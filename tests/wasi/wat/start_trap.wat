;; Traps in its start function, i.e. during instantiation.
(module
  (func $s unreachable)
  (start $s)
  (func (export "_start")))
