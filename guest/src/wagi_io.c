/* wagi_io.c — see wagi_io.h. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wagi_io.h"

const char *wagi_io_strerror(int code) {
  switch (code) {
  case WAGI_IO_OK: return "success";
  case WAGI_IO_ERR_ARG: return "invalid argument";
  case WAGI_IO_ERR_NOMEM: return "out of memory";
  case WAGI_IO_ERR_TOO_BIG: return "more than the limit";
  case WAGI_IO_ERR_OPEN: return "cannot open the file";
  case WAGI_IO_ERR_NOT_FILE: return "not a regular file";
  case WAGI_IO_ERR_READ: return "read failed";
  default: return "unknown error";
  }
}

int wagi_io_read_stream(FILE *f, size_t max, uint8_t **out, size_t *len) {
  if (!f || !out || !len) return WAGI_IO_ERR_ARG;
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap + 1);
  if (!b) return WAGI_IO_ERR_NOMEM;
  for (;;) {
    if (n == cap) {
      /* one byte past max tells "exactly max" from "more" */
      if (cap > max) break;
      size_t want = cap > SIZE_MAX / 4 ? SIZE_MAX / 2 : cap * 2;
      uint8_t *nb = realloc(b, want + 1);
      if (!nb) {
        free(b);
        return WAGI_IO_ERR_NOMEM;
      }
      b = nb, cap = want;
    }
    size_t k = fread(b + n, 1, cap - n, f);
    n += k;
    if (k == 0) break;
  }
  if (ferror(f)) {
    free(b);
    return WAGI_IO_ERR_READ;
  }
  if (n > max) {
    free(b);
    return WAGI_IO_ERR_TOO_BIG;
  }
  b[n] = 0;
  *out = b;
  *len = n;
  return WAGI_IO_OK;
}

int wagi_io_read_body(size_t max, uint8_t **out, size_t *len) {
  if (!out || !len) return WAGI_IO_ERR_ARG;
  const char *cl = getenv("CONTENT_LENGTH");
  if (cl && *cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (!*end && (errno == ERANGE || n > max)) return WAGI_IO_ERR_TOO_BIG;
  }
  return wagi_io_read_stream(stdin, max, out, len);
}

static int io_fail(int code, char *why, size_t cap, const char *text) {
  if (why && cap) snprintf(why, cap, "%s", text);
  return code;
}

int wagi_io_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *why,
                      size_t why_cap) {
  if (why && why_cap) why[0] = 0;
  if (!path || !out || !len) return io_fail(WAGI_IO_ERR_ARG, why, why_cap, "invalid argument");
  int fd = open(path, O_RDONLY);
  if (fd < 0) return io_fail(WAGI_IO_ERR_OPEN, why, why_cap, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return io_fail(WAGI_IO_ERR_NOT_FILE, why, why_cap, "not a regular file");
  }
  if ((uint64_t)st.st_size > max) {
    close(fd);
    if (why && why_cap)
      snprintf(why, why_cap, "%lld bytes, over the limit of %zu", (long long)st.st_size, max);
    return WAGI_IO_ERR_TOO_BIG;
  }
  size_t size = (size_t)st.st_size, n = 0;
  uint8_t *b = malloc(size + 1);
  if (!b) {
    close(fd);
    if (why && why_cap) snprintf(why, why_cap, "out of memory for %zu bytes", size);
    return WAGI_IO_ERR_NOMEM;
  }
  while (n < size) {
    ssize_t k = read(fd, b + n, size - n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      int e = errno;
      free(b);
      close(fd);
      return io_fail(WAGI_IO_ERR_READ, why, why_cap, k < 0 ? strerror(e) : "shorter than its size");
    }
    n += (size_t)k;
  }
  close(fd);
  b[n] = 0;
  *out = b;
  *len = n;
  return WAGI_IO_OK;
}
