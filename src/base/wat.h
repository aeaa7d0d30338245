/* wat.h — module files that may be binary wasm or WAT text: the server
 * (modules.toml's `module`) and the CLI (validate, inspect, invoke, run)
 * load them the same way. WAT is converted by wabt's wat2wasm, run as a
 * subprocess on temporary files in $TMPDIR (else /tmp). */
#ifndef WAGI_BASE_WAT_H
#define WAGI_BASE_WAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  BASE_WAT_OK = 0,
  BASE_WAT_NOT_MODULE, /* neither "\0asm" nor text that starts like WAT */
  BASE_WAT_INVALID,    /* WAT text that wat2wasm refused */
  BASE_WAT_ERR_IO,     /* unreadable file, no wat2wasm, temporary files */
  BASE_WAT_ERR_NOMEM,
} base_wat_status;

/* Whether `b` starts with the binary module magic "\0asm". */
bool base_wasm_is_binary(const uint8_t *b, size_t len);

/* Whether `b` looks like WAT text: no NUL byte, and the first thing after
 * a UTF-8 byte order mark, white space and comments (`;; ...`, `(; ... ;)`)
 * is "(". Decides whether wat2wasm is worth running on a file. */
bool base_wat_looks_like(const uint8_t *b, size_t len);

/* Converts WAT text `text` (len bytes) with wat2wasm. `name` is the file
 * name wat2wasm's messages are given under. On BASE_WAT_OK *out (malloc'd,
 * owned by the caller) and *outlen hold the binary module. Otherwise err
 * holds a sentence: BASE_WAT_INVALID "NAME: not valid WAT (wat2wasm
 * failed):\n<wat2wasm's first lines>", BASE_WAT_ERR_IO why wat2wasm could
 * not run. */
base_wat_status base_wat_to_wasm(const uint8_t *text, size_t len, const char *name, uint8_t **out,
                                 size_t *outlen, char *err, size_t errlen);

/* Reads module file `path` (at most `max` bytes; `flags` as base_read_file)
 * and returns binary wasm in *out (malloc'd, owned by the caller): the
 * file's bytes, or, when they look like WAT text, wat2wasm's output
 * (*was_wat set; may be NULL). On failure err holds a sentence that starts
 * with the path, e.g. "m.wasm: neither a WebAssembly module (no \0asm
 * header) nor WAT text" (BASE_WAT_NOT_MODULE). The binary itself is not
 * validated here. */
base_wat_status base_load_module_file(const char *path, size_t max, unsigned flags, uint8_t **out,
                                      size_t *outlen, bool *was_wat, char *err, size_t errlen);

#endif
