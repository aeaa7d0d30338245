/* esc_chdir.c — ".." after moving into subdirectories: through libc's
 * emulated cwd, and relative to directory fds opened below the preopen
 * (each directory fd is its own boundary, as in wasmtime). */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void lopen(const char *p) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) {
    printf("libc open %s: %s\n", p, ename(errno));
    return;
  }
  char buf[32] = "";
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
  printf("libc open %s: ok \"%s\"\n", p, buf);
}

int main(void) {
  res("mkdir a", mkdir("/sandbox/a", 0755));
  res("mkdir a/b", mkdir("/sandbox/a/b", 0755));
  res("mkdir a/b/c", mkdir("/sandbox/a/b/c", 0755));
  int fd = open("/sandbox/a/x.txt", O_CREAT | O_WRONLY, 0644);
  write(fd, "in a\n", 5);
  close(fd);
  res("chdir /sandbox/a/b/c", chdir("/sandbox/a/b/c"));
  lopen("../../../inside.txt");
  lopen("../../x.txt");
  lopen("../../../../outside/secret.txt");
  lopen("../../../../../../../etc/passwd");
  res("chdir ../../../..", chdir("../../../.."));
  res("chdir ..", chdir(".."));
  lopen("../../inside.txt");
  lopen("../../../inside.txt");

  __wasi_fd_t b;
  wres("open a/b as a directory", raw_open_dir(PREOPEN, "a/b", &b));
  try_read("from a/b: ../x.txt", b, 0, "../x.txt");
  try_read("from a/b: c/../../x.txt", b, 0, "c/../../x.txt");
  try_read("from a/b: c/../../../inside.txt", b, 0, "c/../../../inside.txt");
  __wasi_fd_t c;
  wres("from a/b: open c/.. as a directory", raw_open_dir(b, "c/..", &c));
  wres("from a/b: create_directory ../../../escaped",
       __wasi_path_create_directory(b, "../../../escaped"));
  wres("from a/b: unlink ../x.txt", __wasi_path_unlink_file(b, "../x.txt"));
  return 0;
}
