/* preopens.c — lists the preopened directories as libc sees them (fd 3,
 * 4, ... with their guest names) and reads inside.txt through each, by
 * fd and by libc path. Used with several --dir forms. */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  for (__wasi_fd_t fd = 3; fd < 10; fd++) {
    __wasi_prestat_t ps;
    if (__wasi_fd_prestat_get(fd, &ps)) {
      printf("fd %u: no preopen\n", (unsigned)fd);
      break;
    }
    char name[256] = "";
    size_t n = ps.u.dir.pr_name_len < sizeof name - 1 ? ps.u.dir.pr_name_len : sizeof name - 1;
    (void)__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, n);
    name[n] = 0;
    printf("fd %u: \"%s\"\n", (unsigned)fd, name);
    char what[300];
    snprintf(what, sizeof what, "fd %u inside.txt", (unsigned)fd);
    try_read(what, fd, 0, "inside.txt");
    char path[300];
    snprintf(path, sizeof path, "%s/inside.txt", name);
    int f = open(path, O_RDONLY);
    char buf[32] = "";
    if (f >= 0) {
      ssize_t r = read(f, buf, sizeof buf - 1);
      if (r > 0 && buf[r - 1] == '\n') buf[r - 1] = 0;
      close(f);
    }
    printf("libc open %s: %s%s%s\n", path, f >= 0 ? "\"" : ename(errno), f >= 0 ? buf : "",
           f >= 0 ? "\"" : "");
  }
  return 0;
}
