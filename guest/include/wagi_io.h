/* wagi_io.h — reading something whole, for C modules (wasm32-wasi), also
 * buildable natively: the request body on stdin, a model or data file from
 * a preopened volume.
 *
 * Every function returns WAGI_IO_OK (0) or a WAGI_IO_ERR_* code, and sets
 * *out and *len only on success. *out is malloc'd, with one NUL byte after
 * the data (not counted in *len) so that text can be used as a string; the
 * caller frees it. A limit is part of every call: a module decides how much
 * it is willing to hold, and more is an error, never a partial result.
 *
 *   uint8_t *body;
 *   size_t n;
 *   int rc = wagi_io_read_body(20 << 20, &body, &n);
 *   if (rc == WAGI_IO_ERR_TOO_BIG) ... 413 or 400
 *
 *   char why[160];
 *   if (wagi_io_read_file("/model.tflite", 64 << 20, &data, &n, why, sizeof why))
 *     ... "No such file or directory", "not a regular file", "... over the limit ..."
 */
#ifndef WAGI_IO_H
#define WAGI_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_IO_OK = 0,
  WAGI_IO_ERR_ARG = 1,     /* NULL where a value is required */
  WAGI_IO_ERR_NOMEM = 2,   /* out of memory */
  WAGI_IO_ERR_TOO_BIG = 3, /* more than the limit */
  WAGI_IO_ERR_OPEN = 4,    /* the file cannot be opened (errno says why) */
  WAGI_IO_ERR_NOT_FILE = 5, /* a directory or another non-regular file */
  WAGI_IO_ERR_READ = 6,    /* a read failed, or a file was shorter than its size */
};

/* Reads f to its end, at most max bytes. */
int wagi_io_read_stream(FILE *f, size_t max, uint8_t **out, size_t *len);

/* The request body (stdin), at most max bytes; a CONTENT_LENGTH over max
 * is WAGI_IO_ERR_TOO_BIG before anything is read. */
int wagi_io_read_body(size_t max, uint8_t **out, size_t *len);

/* A whole regular file of at most max bytes, read in one go at its size.
 * On failure why (if why_cap) gets the reason in words, without the path. */
int wagi_io_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *why,
                      size_t why_cap);

const char *wagi_io_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
