;; Needs 3 pages up front: must not instantiate under a 2-page cap.
(module (memory 3))
