/* log.c — the server's diagnostics, access log and per-route module logs.
 *
 * Every line is formatted into a stack buffer and written with ONE write(2),
 * so that lines from concurrent requests never interleave (a write of a few
 * hundred bytes to a pipe or an O_APPEND file is not split by the kernel in
 * practice) and no lock is taken on the request path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "base/err.h"
#include "server_int.h"

static int access_fd = 2;
static int access_enabled = 1;
static const char *access_path; /* a file (borrowed from the options), or NULL */

/* Writes all of buf, retrying on EINTR and short writes; errors are dropped
 * (there is nowhere left to report a failing log). */
static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += n;
    len -= (size_t)n;
  }
}

/* "2026-11-25T15:40:57.123Z" into buf (at least 32 bytes). */
static size_t timestamp(char *buf, size_t cap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  int k = snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
  return n + (k > 0 ? (size_t)k : 0);
}

void srv_log(const char *fmt, ...) {
  char line[2048];
  size_t n = timestamp(line, sizeof line);
  n += (size_t)snprintf(line + n, sizeof line - n, " wagi: ");
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(line + n, sizeof line - n, fmt, ap);
  va_end(ap);
  if (k < 0) k = 0;
  n += (size_t)k;
  if (n > sizeof line - 2) n = sizeof line - 2; /* truncated: keep the newline */
  line[n++] = '\n';
  write_all(2, line, n);
}

srv_status srv_access_log_open(const char *path, char *err, size_t errlen) {
  if (!path) return SRV_OK;
  if (strcmp(path, "-") == 0) {
    access_fd = 2;
    return SRV_OK;
  }
  if (strcmp(path, "off") == 0) {
    access_enabled = 0;
    return SRV_OK;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    base_set_err(err, errlen, "cannot open access log %s: %s", path, strerror(errno));
    return SRV_ERR_SYSTEM;
  }
  access_fd = fd;
  access_path = path;
  return SRV_OK;
}

/* Points `fd` at a fresh open of the same file: dup2 swaps what the number
 * means in one step, so a thread writing a line meanwhile writes it whole
 * to the old file or the new one, and no number is ever closed under it. */
static int reopen_onto(int fd, int nfd) {
  int rc = dup3(nfd, fd, O_CLOEXEC) < 0 ? -1 : 0;
  int e = errno;
  close(nfd);
  errno = e;
  return rc;
}

srv_status srv_access_log_reopen(char *err, size_t errlen) {
  if (!access_enabled || !access_path) return SRV_OK;
  int nfd = open(access_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (nfd < 0 || reopen_onto(access_fd, nfd) != 0) {
    base_set_err(err, errlen, "cannot reopen access log %s: %s", access_path, strerror(errno));
    return SRV_ERR_SYSTEM;
  }
  return SRV_OK;
}

/* Copies at most `max` bytes of s into out, replacing control characters so
 * that a hostile path cannot forge log lines. Returns the bytes written. */
static size_t clean_copy(char *out, size_t cap, const char *s, size_t len, size_t max) {
  size_t n = 0;
  if (len > max) len = max;
  for (size_t i = 0; i < len && n + 1 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  return n;
}

void srv_access_log(const char *client, const char *method, const srv_target *t, const char *route,
                    int status, uint64_t bytes, double ms, const char *note) {
  if (!access_enabled) return;
  char line[1536];
  size_t n = timestamp(line, sizeof line);
  line[n++] = ' ';
  const char *c = client && *client ? client : "-";
  n += clean_copy(line + n, sizeof line - n, c, strlen(c), 64);
  line[n++] = ' ';
  n += clean_copy(line + n, sizeof line - n, method, strlen(method), 32);
  line[n++] = ' ';
  n += clean_copy(line + n, sizeof line - n, t->path, t->path_len, 512);
  if (t->query) {
    line[n++] = '?';
    n += clean_copy(line + n, sizeof line - n, t->query, t->query_len, 400);
  }
  int k = snprintf(line + n, sizeof line - n, " route=%s status=%d bytes=%llu ms=%.3f",
                   route ? route : "-", status, (unsigned long long)bytes, ms);
  if (k > 0) n += (size_t)k;
  if (n > sizeof line - 2) n = sizeof line - 2;
  if (note && *note && n + 3 < sizeof line - 2) {
    memcpy(line + n, " (", 2);
    n += 2;
    n += clean_copy(line + n, sizeof line - 2 - n, note, strlen(note), 400);
    if (n < sizeof line - 2) line[n++] = ')';
  }
  line[n++] = '\n';
  write_all(access_fd, line, n);
}

void srv_route_log_dir(const char *log_dir, const char *route_text, char *out, size_t cap) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)route_text, strlen(route_text), md);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  snprintf(out, cap, "%s/%s", log_dir, hex);
}

srv_status srv_route_log_open(const char *log_dir, const char *route_text, int *fd_out, char *err,
                              size_t errlen) {
  char dir[4096];
  srv_route_log_dir(log_dir, route_text, dir, sizeof dir);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    base_set_err(err, errlen, "cannot create log directory %s for route %s: %s", dir, route_text,
                 strerror(errno));
    return SRV_ERR_SYSTEM;
  }
  char file[4200];
  snprintf(file, sizeof file, "%s/module.stderr", dir);
  int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    base_set_err(err, errlen, "cannot open %s for route %s: %s", file, route_text, strerror(errno));
    return SRV_ERR_SYSTEM;
  }
  *fd_out = fd;
  return SRV_OK;
}

srv_status srv_route_log_reopen(const char *log_dir, const char *route_text, int fd, char *err,
                                size_t errlen) {
  if (fd < 0) return SRV_OK;
  int nfd;
  srv_status st = srv_route_log_open(log_dir, route_text, &nfd, err, errlen);
  if (st != SRV_OK) return st;
  if (reopen_onto(fd, nfd) != 0) {
    base_set_err(err, errlen, "cannot reopen the module.stderr of route %s: %s", route_text,
                 strerror(errno));
    return SRV_ERR_SYSTEM;
  }
  return SRV_OK;
}

void srv_route_log_write(int fd, const char *fmt, ...) {
  if (fd < 0) return;
  char line[1024];
  size_t n = timestamp(line, sizeof line);
  n += (size_t)snprintf(line + n, sizeof line - n, " wagi: ");
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(line + n, sizeof line - n, fmt, ap);
  va_end(ap);
  if (k < 0) k = 0;
  n += (size_t)k;
  if (n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  write_all(fd, line, n);
}
