;; Imports a function no runtime defines: `wagi run` must refuse to link it
;; and name the import.
(module
  (import "env" "no_such_function" (func $f))
  (func (export "_start") (call $f)))
