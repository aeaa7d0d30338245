/* links.c — symlinks, readlink and hard links inside the sandbox. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void cat(const char *what, const char *path, int flags) {
  char buf[64] = "";
  int fd = open(path, O_RDONLY | flags);
  if (fd < 0) {
    printf("%s: %s\n", what, ename(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
  printf("%s: \"%s\"\n", what, buf);
}

static void rl(const char *what, const char *path) {
  char buf[128];
  ssize_t n = readlink(path, buf, sizeof buf);
  if (n < 0) printf("%s: %s\n", what, ename(errno));
  else printf("%s: %zd \"%.*s\"\n", what, n, (int)n, buf);
}

int main(void) {
  struct stat st;
  res("chdir /sandbox", chdir("/sandbox"));
  int fd = open("target.txt", O_CREAT | O_WRONLY, 0644);
  write(fd, "target\n", 7);
  close(fd);
  mkdir("sub", 0755);
  fd = open("sub/file.txt", O_CREAT | O_WRONLY, 0644);
  write(fd, "in sub\n", 7);
  close(fd);

  res("symlink l1 -> target.txt", symlink("target.txt", "l1"));
  rl("readlink l1", "l1");
  char small[4];
  ssize_t n = readlink("l1", small, sizeof small);
  if (n < 0) printf("readlink into 4 bytes: %s\n", ename(errno));
  else printf("readlink into 4 bytes: %zd \"%.*s\"\n", n, (int)n, small);
  res("lstat l1", lstat("l1", &st));
  printf("l1 lstat is link: %s, size %lld\n", yn(S_ISLNK(st.st_mode)), (long long)st.st_size);
  res("stat l1", stat("l1", &st));
  printf("l1 stat is regular: %s, size %lld\n", yn(S_ISREG(st.st_mode)), (long long)st.st_size);
  cat("read via l1", "l1", 0);
  res("symlink l2 -> l1", symlink("l1", "l2"));
  cat("read via l2 (chain)", "l2", 0);
  res("symlink dangle -> missing", symlink("missing", "dangle"));
  cat("read via dangle", "dangle", 0);
  res("lstat dangle", lstat("dangle", &st));
  res("stat dangle", stat("dangle", &st));
  res("symlink over existing", symlink("x", "l1"));
  rl("readlink regular file", "target.txt");
  rl("readlink missing", "nope");
  cat("open l1 with O_NOFOLLOW", "l1", O_NOFOLLOW);
  res("symlink ls -> sub", symlink("sub", "ls"));
  cat("read via dir link", "ls/file.txt", 0);
  res("symlink sub/up -> ../target.txt", symlink("../target.txt", "sub/up"));
  cat("read via sub/up", "sub/up", 0);
  res("symlink sub/self -> .", symlink(".", "sub/self"));
  cat("read via sub/self/self/file.txt", "sub/self/self/file.txt", 0);
  res("symlink loop1 -> loop2", symlink("loop2", "loop1"));
  res("symlink loop2 -> loop1", symlink("loop1", "loop2"));
  cat("read via loop", "loop1", 0);
  res("fstatat nofollow l2", fstatat(AT_FDCWD, "l2", &st, AT_SYMLINK_NOFOLLOW));
  printf("l2 is link: %s\n", yn(S_ISLNK(st.st_mode)));
  int dfd = open("sub", O_RDONLY | O_DIRECTORY);
  res("symlinkat", symlinkat("file.txt", dfd, "sl"));
  char buf[64];
  n = readlinkat(dfd, "sl", buf, sizeof buf);
  printf("readlinkat: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
  close(dfd);

  /* Hard links. */
  res("link hard -> target.txt", link("target.txt", "hard"));
  stat("target.txt", &st);
  printf("nlink after link: %llu\n", (unsigned long long)st.st_nlink);
  res("link onto existing", link("target.txt", "l1"));
  res("link missing source", link("missing", "h2"));
  res("link a directory", link("sub", "subhard"));
  res("unlink target.txt", unlink("target.txt"));
  cat("read via hard", "hard", 0);
  cat("read via l1 after unlink", "l1", 0);
  stat("hard", &st);
  printf("nlink after unlink: %llu\n", (unsigned long long)st.st_nlink);
  dfd = open("sub", O_RDONLY | O_DIRECTORY);
  res("linkat", linkat(AT_FDCWD, "hard", dfd, "hard2", 0));
  close(dfd);
  cat("read via sub/hard2", "sub/hard2", 0);
  res("unlink l1 (the link)", unlink("l1"));
  res("lstat l1 after unlink", lstat("l1", &st));
  res("stat hard still there", stat("hard", &st));
  res("unlink dangle", unlink("dangle"));
  return 0;
}
