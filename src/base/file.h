/* file.h — reading a whole file: modules, configs, environment files. */
#ifndef WAGI_BASE_FILE_H
#define WAGI_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  BASE_FILE_OK = 0,
  BASE_FILE_ERR_IO, /* cannot open or read, a directory, too large, ... */
  BASE_FILE_ERR_NOMEM,
} base_file_status;

/* Refuse anything but a regular file (pipes, devices): for files that are
 * read at startup and must not block it. */
#define BASE_FILE_REGULAR_ONLY 1u

/* Reads all of `path` (a regular file, or a pipe or device unless
 * BASE_FILE_REGULAR_ONLY) into *out, at most `max` bytes. The buffer is
 * malloc'd and owned by the caller; a NUL follows the last byte (not counted
 * in *len) so text needs no copy. *out and *len are written only on
 * BASE_FILE_OK. On failure err holds "PATH: what went wrong", e.g.
 * "m.wasm: cannot open: No such file or directory" or
 * "m.wasm: file too large (2147483648 bytes; the limit is 1 GiB)". */
base_file_status base_read_file(const char *path, size_t max, unsigned flags, uint8_t **out,
                                size_t *len, char *err, size_t errlen);

/* Writes all n bytes of buf to fd, resuming after EINTR and short writes.
 * Returns 0, or -1 with errno set. */
int base_write_all(int fd, const void *buf, size_t n);

/* "1 GiB", "16 MiB", "512 KiB" or "1000 bytes": a limit as users wrote it. */
void base_format_size(uint64_t bytes, char *buf, size_t buflen);

#endif
