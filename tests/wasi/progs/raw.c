/* raw.c — WASI calls wasi-libc does not expose (or exposes only partly),
 * made directly: prestats, fdstat, fd_renumber, rights, fd_tell, advise,
 * allocate, filestat by fd and path, readdir cookies, bad fds and bad
 * pointers. The only preopen is fd 3 = "/sandbox". */
#include <stdlib.h>

#include "common.h"

#define RW                                                                                         \
  (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK |                        \
   __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE |    \
   __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS |       \
   __WASI_RIGHTS_FD_FILESTAT_SET_TIMES)

static __wasi_errno_t put(__wasi_fd_t fd, const char *s, __wasi_size_t *n) {
  __wasi_ciovec_t v = {(const uint8_t *)s, strlen(s)};
  return __wasi_fd_write(fd, &v, 1, n);
}

static __wasi_errno_t get(__wasi_fd_t fd, char *buf, size_t cap, __wasi_size_t *n) {
  __wasi_iovec_t v = {(uint8_t *)buf, cap};
  return __wasi_fd_read(fd, &v, 1, n);
}

int main(void) {
  __wasi_prestat_t ps;
  wres("prestat_get 3", __wasi_fd_prestat_get(PREOPEN, &ps));
  printf("prestat tag dir: %s, name length: %u\n", yn(ps.tag == __WASI_PREOPENTYPE_DIR),
         (unsigned)ps.u.dir.pr_name_len);
  char name[64] = "";
  wres("prestat_dir_name 3",
       __wasi_fd_prestat_dir_name(PREOPEN, (uint8_t *)name, ps.u.dir.pr_name_len));
  printf("preopen name: %.*s\n", (int)ps.u.dir.pr_name_len, name);
  wres("prestat_get 4 (none)", __wasi_fd_prestat_get(4, &ps));
  wres("prestat_get 0 (stdin)", __wasi_fd_prestat_get(0, &ps));

  __wasi_fdstat_t fs;
  wres("fdstat_get 3", __wasi_fd_fdstat_get(PREOPEN, &fs));
  printf("fd 3 is a directory: %s\n", yn(fs.fs_filetype == __WASI_FILETYPE_DIRECTORY));
  printf("fd 3 may path_open: %s\n", yn(fs.fs_rights_base & __WASI_RIGHTS_PATH_OPEN));
  wres("fdstat_get 99", __wasi_fd_fdstat_get(99, &fs));

  __wasi_fd_t a, b;
  wres("path_open a.txt create",
       __wasi_path_open(PREOPEN, 0, "a.txt", __WASI_OFLAGS_CREAT, RW, RW, 0, &a));
  __wasi_size_t n = 0;
  wres("fd_write", put(a, "hello", &n));
  printf("written: %u\n", (unsigned)n);
  __wasi_filesize_t pos = 0;
  wres("fd_tell", __wasi_fd_tell(a, &pos));
  printf("position: %llu\n", (unsigned long long)pos);
  wres("fd_seek set 1", __wasi_fd_seek(a, 1, __WASI_WHENCE_SET, &pos));
  wres("fd_seek bad whence", __wasi_fd_seek(a, 0, 7, &pos));
  wres("fd_advise", __wasi_fd_advise(a, 0, 10, __WASI_ADVICE_WILLNEED));
  wres("fd_advise bad advice", __wasi_fd_advise(a, 0, 10, 99));
  wres("fd_allocate", __wasi_fd_allocate(a, 0, 100));
  __wasi_filestat_t st;
  wres("fd_filestat_get", __wasi_fd_filestat_get(a, &st));
  printf("size %llu, regular file: %s, nlink %llu\n", (unsigned long long)st.size,
         yn(st.filetype == __WASI_FILETYPE_REGULAR_FILE), (unsigned long long)st.nlink);
  wres("fd_filestat_set_size 3", __wasi_fd_filestat_set_size(a, 3));
  wres("path_filestat_get a.txt", __wasi_path_filestat_get(PREOPEN, 0, "a.txt", &st));
  printf("size by path: %llu\n", (unsigned long long)st.size);
  wres("path_filestat_set_times",
       __wasi_path_filestat_set_times(PREOPEN, 0, "a.txt", 5000000000ull, 7000000000ull,
                                      __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
  __wasi_path_filestat_get(PREOPEN, 0, "a.txt", &st);
  printf("atim %llu mtim %llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
  wres("set_times ATIM and ATIM_NOW",
       __wasi_fd_filestat_set_times(a, 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));

  /* fd_renumber: b takes a's file, a is gone. */
  wres("path_open b.txt create",
       __wasi_path_open(PREOPEN, 0, "b.txt", __WASI_OFLAGS_CREAT, RW, RW, 0, &b));
  wres("fd_renumber a -> b", __wasi_fd_renumber(a, b));
  wres("fd_close a (renumbered away)", __wasi_fd_close(a));
  wres("fd_seek b 0", __wasi_fd_seek(b, 0, __WASI_WHENCE_SET, &pos));
  char buf[64] = "";
  wres("fd_read b", get(b, buf, sizeof buf - 1, &n));
  printf("b now reads: \"%.*s\"\n", (int)n, buf);
  wres("fd_renumber b -> 99", __wasi_fd_renumber(b, 99));
  wres("fd_renumber 99 -> b", __wasi_fd_renumber(99, b));

  /* Rights only shrink. */
  wres("fdstat_set_rights drop read",
       __wasi_fd_fdstat_set_rights(b, RW & ~__WASI_RIGHTS_FD_READ, 0));
  wres("fd_read without the right", get(b, buf, 4, &n));
  wres("fdstat_set_rights add read back", __wasi_fd_fdstat_set_rights(b, RW, 0));
  wres("fdstat_set_flags append", __wasi_fd_fdstat_set_flags(b, __WASI_FDFLAGS_APPEND));
  wres("fd_fdstat_get b", __wasi_fd_fdstat_get(b, &fs));
  printf("append flag set: %s\n", yn(fs.fs_flags & __WASI_FDFLAGS_APPEND));
  wres("fd_close b", __wasi_fd_close(b));
  wres("fd_close b again", __wasi_fd_close(b));

  /* readdir with cookies. */
  wres("path_create_directory d", __wasi_path_create_directory(PREOPEN, "d"));
  for (int i = 0; i < 20; i++) {
    char p[16];
    snprintf(p, sizeof p, "d/e%02d", i);
    __wasi_fd_t f;
    if (__wasi_path_open(PREOPEN, 0, p, __WASI_OFLAGS_CREAT, RW, RW, 0, &f) == 0)
      (void)__wasi_fd_close(f);
  }
  __wasi_fd_t d;
  wres("open d", raw_open(PREOPEN, 0, "d", __WASI_OFLAGS_DIRECTORY, &d));
  /* Read with a buffer that holds only a few entries and resume from the
   * last complete entry's cookie. */
  static uint8_t rbuf[100];
  __wasi_dircookie_t cookie = 0;
  int entries = 0, calls = 0;
  for (;;) {
    __wasi_size_t used = 0;
    if (__wasi_fd_readdir(d, rbuf, sizeof rbuf, cookie, &used)) break;
    calls++;
    size_t off = 0;
    int progress = 0;
    while (off + sizeof(__wasi_dirent_t) <= used) {
      __wasi_dirent_t de;
      memcpy(&de, rbuf + off, sizeof de);
      if (off + sizeof de + de.d_namlen > used) break;
      const char *nm = (const char *)rbuf + off + sizeof de;
      if (!(de.d_namlen == 1 && nm[0] == '.') &&
          !(de.d_namlen == 2 && nm[0] == '.' && nm[1] == '.'))
        entries++;
      cookie = de.d_next;
      progress = 1;
      off += sizeof de + de.d_namlen;
    }
    if (used < sizeof rbuf || !progress || calls > 1000) break;
  }
  printf("readdir entries: %d, several calls: %s\n", entries, yn(calls > 2));
  wres("fd_readdir on a bad fd", __wasi_fd_readdir(PREOPEN + 100, rbuf, sizeof rbuf, 0, &n));
  (void)__wasi_fd_close(d);

  /* Bad descriptors and pointers. */
  wres("fd_write to 99", put(99, "x", &n));
  wres("fd_write to the preopen dir", put(PREOPEN, "x", &n));
  __wasi_ciovec_t badv = {(const uint8_t *)0xfffffff0u, 100};
  wres("fd_write iovec out of memory", __wasi_fd_write(1, &badv, 1, &n));
  wres("path_open path out of memory",
       (__wasi_errno_t)raw_open_n(PREOPEN, (const void *)0xffffff00u, 4096, &a));
  wres("fd_prestat_dir_name short buffer", __wasi_fd_prestat_dir_name(PREOPEN, (uint8_t *)name, 2));
  wres("sched_yield", __wasi_sched_yield());
  return 0;
}
