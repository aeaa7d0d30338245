/* stdio_copy.c — copies stdin to stdout through raw reads and writes of
 * odd sizes, then reports the byte count on stderr: exercises fd_read and
 * fd_write on real host fds with short reads and partial writes. */
#include <unistd.h>

#include "common.h"

int main(void) {
  static char buf[7919]; /* a prime, so reads never align with the pipe's */
  long long total = 0;
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0) {
      fprintf(stderr, "read: %s\n", ename(errno));
      return 1;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, (size_t)(n - off));
      if (w <= 0) {
        fprintf(stderr, "write: %s\n", ename(errno));
        return 1;
      }
      off += w;
    }
    total += n;
  }
  fprintf(stderr, "copied %lld bytes\n", total);
  return 0;
}
