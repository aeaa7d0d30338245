/* file.c — whole-file reads with a size limit. */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

void base_format_size(uint64_t bytes, char *buf, size_t buflen) {
  static const char *const units[] = {"GiB", "MiB", "KiB"};
  for (int i = 0; i < 3; i++) {
    uint64_t unit = 1ull << (10 * (3 - i));
    if (bytes >= unit && bytes % unit == 0) {
      snprintf(buf, buflen, "%" PRIu64 " %s", bytes / unit, units[i]);
      return;
    }
  }
  snprintf(buf, buflen, "%" PRIu64 " bytes", bytes);
}

static base_file_status too_large(const char *path, uint64_t size, size_t max, char *err,
                                  size_t errlen) {
  char lim[32];
  base_format_size(max, lim, sizeof lim);
  if (size)
    base_set_err(err, errlen, "%s: file too large (%" PRIu64 " bytes; the limit is %s)", path, size,
                 lim);
  else base_set_err(err, errlen, "%s: file too large (the limit is %s)", path, lim);
  return BASE_FILE_ERR_IO;
}

base_file_status base_read_file(const char *path, size_t max, unsigned flags, uint8_t **out,
                                size_t *len, char *err, size_t errlen) {
  if (!path || !*path) {
    base_set_err(err, errlen, "the file name is empty");
    return BASE_FILE_ERR_IO;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    base_set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return BASE_FILE_ERR_IO;
  }
  base_file_status status = BASE_FILE_ERR_IO;
  uint8_t *buf = NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    base_set_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
    goto fail;
  }
  if (S_ISDIR(st.st_mode)) {
    base_set_err(err, errlen, "%s: is a directory, not a file", path);
    goto fail;
  }
  if ((flags & BASE_FILE_REGULAR_ONLY) && !S_ISREG(st.st_mode)) {
    base_set_err(err, errlen, "%s: not a regular file", path);
    goto fail;
  }
  if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
    status = too_large(path, (uint64_t)st.st_size, max, err, errlen);
    goto fail;
  }
  /* Sized by fstat when it knows, then read to EOF in growing chunks: pipes
   * and /proc files report no useful size, and a file may grow meanwhile. */
  size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
  if (cap > max + 1) cap = max + 1;
  size_t n = 0;
  buf = malloc(cap + 1);
  if (!buf) goto nomem;
  for (;;) {
    if (n == cap) {
      if (n > max) {
        status = too_large(path, 0, max, err, errlen);
        goto fail;
      }
      size_t ncap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
      uint8_t *nb = realloc(buf, ncap + 1);
      if (!nb) goto nomem;
      buf = nb;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      base_set_err(err, errlen, "%s: read error: %s", path, strerror(errno));
      goto fail;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  if (n > max) {
    status = too_large(path, 0, max, err, errlen);
    goto fail;
  }
  close(fd);
  buf[n] = 0;
  *out = buf;
  *len = n;
  return BASE_FILE_OK;
nomem:
  base_set_err(err, errlen, "%s: out of memory reading it", path);
  status = BASE_FILE_ERR_NOMEM;
fail:
  free(buf);
  close(fd);
  return status;
}

int base_write_all(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}
