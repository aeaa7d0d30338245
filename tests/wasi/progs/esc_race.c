/* esc_race.c — check-then-open races. While this loop runs, a host thread
 * keeps exchanging (renameat2 RENAME_EXCHANGE) the real directory "flip"
 * (holding data.txt = "inside-data") with a symlink to T/outside, whose
 * data.txt holds a secret; it also keeps replacing the symlink "flip2"
 * (symlink + rename) so that it points to "real" or, absolutely, to
 * T/outside. Every open must resolve inside: each read must give
 * "inside-data" or fail with ENOTCAPABLE/ENOENT/ENOTDIR, and no file or
 * directory may ever be created outside. */
#include "common.h"

static int count_reads(const char *path, int iters, int *inside, int *refused, int *other) {
  int foreign = 0;
  for (int i = 0; i < iters; i++) {
    __wasi_fd_t fd;
    __wasi_errno_t e = raw_open(PREOPEN, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, 0, &fd);
    if (e == __WASI_ERRNO_NOTCAPABLE || e == __WASI_ERRNO_NOENT || e == __WASI_ERRNO_NOTDIR) {
      (*refused)++;
      continue;
    }
    if (e) {
      (*other)++;
      printf("unexpected error: %s\n", ename(e));
      continue;
    }
    char buf[64] = "";
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf - 1};
    __wasi_size_t n = 0;
    e = __wasi_fd_read(fd, &iov, 1, &n);
    (void)__wasi_fd_close(fd);
    if (!e && n == 12 && !memcmp(buf, "inside-data\n", 12)) (*inside)++;
    else foreign++;
  }
  return foreign;
}

int main(void) {
  int inside = 0, refused = 0, other = 0;
  int foreign = count_reads("flip/data.txt", 20000, &inside, &refused, &other);
  foreign += count_reads("flip2/data.txt", 20000, &inside, &refused, &other);
  /* Writes through the flipping path: the harness sees any file or
   * directory made (even briefly: the outside directory's mtime) outside. */
  int made = 0;
  for (int i = 0; i < 5000; i++) {
    __wasi_fd_t fd;
    if (__wasi_path_open(PREOPEN, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "flip/created.txt",
                         __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd) == 0) {
      made++;
      (void)__wasi_fd_close(fd);
      (void)__wasi_path_unlink_file(PREOPEN, "flip/created.txt");
    }
    if (__wasi_path_create_directory(PREOPEN, "flip2/newdir") == 0)
      (void)__wasi_path_remove_directory(PREOPEN, "flip2/newdir");
  }
  printf("some creates succeeded inside: %s\n", yn(made > 0));
  printf("reads of foreign content: %d\n", foreign);
  printf("unexpected errors: %d\n", other);
  printf("some reads succeeded inside: %s\n", yn(inside > 0));
  return 0;
}
