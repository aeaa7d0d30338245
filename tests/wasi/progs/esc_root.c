/* esc_root.c — the sandbox preopened as "/" (`--dir HOST::/`), the common
 * way to give a module a whole tree: absolute guest paths now resolve
 * inside it, and ".." at the top must still stop there. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void lopen(const char *p) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) {
    printf("open %s: %s\n", p, ename(errno));
    return;
  }
  char buf[32] = "";
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
  printf("open %s: ok \"%s\"\n", p, buf);
}

int main(void) {
  char cwd[64];
  printf("getcwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : ename(errno));
  lopen("/inside.txt");
  lopen("inside.txt");
  lopen("/sub/file.txt");
  lopen("/etc/passwd");
  lopen("/../outside/secret.txt");
  lopen("../outside/secret.txt");
  lopen("/sub/../../outside/secret.txt");
  lopen("/sub/../inside.txt");
  res("chdir /sub", chdir("/sub"));
  lopen("../inside.txt");
  lopen("../../outside/secret.txt");
  struct stat st;
  res("stat /", stat("/", &st));
  res("stat /..", stat("/..", &st));
  res("mkdir /../escaped", mkdir("/../escaped", 0755));
  return 0;
}
