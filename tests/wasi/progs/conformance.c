/* conformance.c — preview 1 rules that the official wasi-testsuite's Rust
 * tests check (and wasmtime follows), made directly with raw calls:
 * fd_readdir's "." and ".." with their inodes, cookies and a cut buffer;
 * trailing slashes on the new name of path_symlink / path_link and on a
 * link source; sock_* on a non-socket; path_open of a preopen's own "."
 * with its rights passed back. The only preopen is fd 3 = "/sandbox". */
#include <stdlib.h>

#include "common.h"

#define DIR_RIGHTS                                                                                 \
  (__WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_PATH_OPEN |            \
   __WASI_RIGHTS_PATH_CREATE_FILE | __WASI_RIGHTS_PATH_UNLINK_FILE |                               \
   __WASI_RIGHTS_PATH_CREATE_DIRECTORY | __WASI_RIGHTS_PATH_REMOVE_DIRECTORY |                     \
   __WASI_RIGHTS_PATH_SYMLINK | __WASI_RIGHTS_PATH_LINK_SOURCE | __WASI_RIGHTS_PATH_LINK_TARGET |  \
   __WASI_RIGHTS_PATH_FILESTAT_GET)
#define FILE_RIGHTS (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_FILESTAT_GET)

typedef struct {
  char name[64];
  __wasi_dirent_t d;
} entry;

/* One fd_readdir call into a buffer of `cap` bytes: the complete entries,
 * their count in *n, and whether the buffer was full (more may follow). */
static int read_entries(__wasi_fd_t fd, __wasi_dircookie_t cookie, size_t cap, entry *out, int max,
                        int *n) {
  static uint8_t buf[4096];
  __wasi_size_t used = 0;
  __wasi_errno_t e = __wasi_fd_readdir(fd, buf, cap, cookie, &used);
  if (e) {
    wres("fd_readdir", e);
    exit(1);
  }
  *n = 0;
  size_t off = 0;
  while (off + sizeof(__wasi_dirent_t) <= used && *n < max) {
    __wasi_dirent_t d;
    memcpy(&d, buf + off, sizeof d);
    if (off + sizeof d + d.d_namlen > used) break; /* cut short */
    entry *x = &out[(*n)++];
    x->d = d;
    size_t nl = d.d_namlen < sizeof x->name - 1 ? d.d_namlen : sizeof x->name - 1;
    memcpy(x->name, buf + off + sizeof d, nl);
    x->name[nl] = 0;
    off += sizeof d + d.d_namlen;
  }
  return used == cap;
}

static __wasi_fd_t make_file(__wasi_fd_t dir, const char *name) {
  __wasi_fd_t fd;
  __wasi_errno_t e = __wasi_path_open(dir, 0, name, __WASI_OFLAGS_CREAT, FILE_RIGHTS, 0, 0, &fd);
  if (e) {
    printf("create %s: %s\n", name, ename(e));
    exit(1);
  }
  return fd;
}

static void readdir_rules(__wasi_fd_t top) {
  __wasi_fd_t dir;
  wres("mkdir rd", __wasi_path_create_directory(top, "rd"));
  wres("open rd",
       __wasi_path_open(top, 0, "rd", __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, FILE_RIGHTS, 0, &dir));
  __wasi_filestat_t self, parent;
  __wasi_fd_filestat_get(dir, &self);
  __wasi_fd_filestat_get(top, &parent);

  entry ents[8];
  int n;
  int full = read_entries(dir, 0, 256, ents, 8, &n);
  printf("empty dir: %d entries, buffer full: %s\n", n, yn(full));
  for (int i = 0; i < n; i++)
    printf("  entry %d: %s, directory: %s, d_next %llu, d_namlen %u\n", i, ents[i].name,
           yn(ents[i].d.d_type == __WASI_FILETYPE_DIRECTORY), (unsigned long long)ents[i].d.d_next,
           (unsigned)ents[i].d.d_namlen);
  if (n == 2) {
    printf(". is the directory itself: %s\n", yn(ents[0].d.d_ino == self.ino));
    printf(".. is its parent: %s\n", yn(ents[1].d.d_ino == parent.ino));
  }

  __wasi_fd_t f = make_file(dir, "file");
  __wasi_filestat_t fst;
  __wasi_fd_filestat_get(f, &fst);
  __wasi_fd_close(f);
  full = read_entries(dir, 0, 256, ents, 8, &n);
  printf("with a file: %d entries, last is file: %s, its inode matches: %s\n", n,
         yn(n == 3 && !strcmp(ents[2].name, "file")), yn(n == 3 && ents[2].d.d_ino == fst.ino));
  read_entries(dir, 2, 256, ents, 8, &n);
  printf("from cookie 2: %d entry, %s\n", n, n ? ents[0].name : "-");
  read_entries(dir, 1, 256, ents, 8, &n);
  printf("from cookie 1: %d entries, first %s\n", n, n ? ents[0].name : "-");
  read_entries(dir, 3, 256, ents, 8, &n);
  printf("from cookie 3: %d entries\n", n);
  /* 24 + 1 bytes hold "." only; the next header is cut. */
  full = read_entries(dir, 0, 30, ents, 8, &n);
  printf("30-byte buffer: %d complete entry, buffer full: %s\n", n, yn(full));

  /* Many entries through a small buffer, resuming from the last complete
   * entry's d_next each time: every name exactly once, . and .. included. */
  char name[32];
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof name, "many.%03d", i);
    __wasi_fd_close(make_file(dir, name));
  }
  static unsigned char seen[300];
  int total = 0, dups = 0, dots = 0, calls = 0;
  __wasi_dircookie_t cookie = 0;
  for (;;) {
    full = read_entries(dir, cookie, 100, ents, 8, &n);
    calls++;
    for (int i = 0; i < n; i++) {
      total++;
      int k;
      if (!strcmp(ents[i].name, ".") || !strcmp(ents[i].name, "..")) dots++;
      else if (sscanf(ents[i].name, "many.%d", &k) == 1 && k >= 0 && k < 300 && seen[k]++) dups++;
    }
    if (!full || n == 0) break;
    cookie = ents[n - 1].d.d_next;
  }
  printf(
      "303 entries (., .., file, 300 more) in 100-byte reads: %d, duplicates %d, dot entries %d, "
      "several calls: %s\n",
      total, dups, dots, yn(calls > 10));
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof name, "many.%03d", i);
    __wasi_path_unlink_file(dir, name);
  }
  __wasi_path_unlink_file(dir, "file");
  __wasi_fd_close(dir);
  wres("rmdir rd", __wasi_path_remove_directory(top, "rd"));

  /* The preopen is the root of the guest's view: its ".." is itself. */
  read_entries(top, 0, 256, ents, 8, &n);
  __wasi_filestat_t root;
  __wasi_fd_filestat_get(top, &root);
  printf("preopen: first two are . and ..: %s, .. is the preopen itself: %s\n",
         yn(n >= 2 && !strcmp(ents[0].name, ".") && !strcmp(ents[1].name, "..")),
         yn(n >= 2 && ents[1].d.d_ino == root.ino));
}

static void slash_rules(__wasi_fd_t dir) {
  /* symlink: the new name ends in '/' */
  wres("symlink to target/ (nothing there)", __wasi_path_symlink("source", dir, "target/"));
  wres("symlink to target", __wasi_path_symlink("source", dir, "target"));
  wres("symlink to target/ (a dangling symlink there)", __wasi_path_symlink("x", dir, "target/"));
  __wasi_path_unlink_file(dir, "target");
  __wasi_path_create_directory(dir, "target");
  wres("symlink to target/ (a directory there)", __wasi_path_symlink("source", dir, "target/"));
  wres("symlink to target (a directory there)", __wasi_path_symlink("source", dir, "target"));
  __wasi_path_remove_directory(dir, "target");
  __wasi_fd_close(make_file(dir, "target"));
  wres("symlink to target/ (a file there)", __wasi_path_symlink("source", dir, "target/"));
  wres("symlink to target (a file there)", __wasi_path_symlink("source", dir, "target"));
  __wasi_path_unlink_file(dir, "target");

  /* link: source and new name */
  __wasi_fd_close(make_file(dir, "file"));
  wres("link file to link/", __wasi_path_link(dir, 0, "file", dir, "link/"));
  wres("link file/ to link", __wasi_path_link(dir, 0, "file/", dir, "link"));
  __wasi_path_create_directory(dir, "sub");
  wres("link sub/ to link", __wasi_path_link(dir, 0, "sub/", dir, "link"));
  wres("link file to sub/", __wasi_path_link(dir, 0, "file", dir, "sub/"));
  wres("link file to link", __wasi_path_link(dir, 0, "file", dir, "link"));
  wres("link file to link/ (a file there)", __wasi_path_link(dir, 0, "file", dir, "link/"));
  __wasi_path_unlink_file(dir, "link");

  /* The other path functions: "x/" names a directory, as on Linux. */
  __wasi_fd_t fd;
  __wasi_filestat_t st;
  __wasi_errno_t e = __wasi_path_open(dir, 0, "file/", 0, FILE_RIGHTS, 0, 0, &fd);
  wres("open file/", e);
  e = __wasi_path_open(dir, 0, "sub/", 0, __WASI_RIGHTS_FD_READDIR, 0, 0, &fd);
  wres("open sub/", e);
  if (!e) __wasi_fd_close(fd);
  wres("filestat file/", __wasi_path_filestat_get(dir, 0, "file/", &st));
  wres("filestat sub/", __wasi_path_filestat_get(dir, 0, "sub/", &st));
  wres("set_times file/",
       __wasi_path_filestat_set_times(dir, 0, "file/", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
  wres("set_times sub/",
       __wasi_path_filestat_set_times(dir, 0, "sub/", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
  wres("mkdir file/", __wasi_path_create_directory(dir, "file/"));
  wres("mkdir new/", __wasi_path_create_directory(dir, "new/"));
  wres("rmdir file/", __wasi_path_remove_directory(dir, "file/"));
  wres("rmdir new/", __wasi_path_remove_directory(dir, "new/"));
  wres("unlink file/", __wasi_path_unlink_file(dir, "file/"));
  wres("unlink sub/", __wasi_path_unlink_file(dir, "sub/"));
  wres("rename file/ to x", __wasi_path_rename(dir, "file/", dir, "x"));
  wres("rename file to x/", __wasi_path_rename(dir, "file", dir, "x/"));
  wres("rename sub/ to sub2/", __wasi_path_rename(dir, "sub/", dir, "sub2/"));
  wres("rename sub2 to sub/", __wasi_path_rename(dir, "sub2", dir, "sub/"));
  __wasi_path_symlink("file", dir, "flink");
  __wasi_path_symlink("sub", dir, "dlink");
  __wasi_size_t n;
  char buf[64];
  wres("readlink flink/", __wasi_path_readlink(dir, "flink/", (uint8_t *)buf, sizeof buf, &n));
  wres("readlink dlink/", __wasi_path_readlink(dir, "dlink/", (uint8_t *)buf, sizeof buf, &n));
  wres("readlink dlink", __wasi_path_readlink(dir, "dlink", (uint8_t *)buf, sizeof buf, &n));
  __wasi_path_unlink_file(dir, "flink");
  __wasi_path_unlink_file(dir, "dlink");
  __wasi_path_remove_directory(dir, "sub");
  __wasi_path_unlink_file(dir, "file");
}

static void sock_rules(void) {
  wres("sock_shutdown stdout", __wasi_sock_shutdown(1, __WASI_SDFLAGS_RD));
  wres("sock_shutdown preopen", __wasi_sock_shutdown(3, __WASI_SDFLAGS_WR));
  wres("sock_shutdown closed fd", __wasi_sock_shutdown(77, __WASI_SDFLAGS_WR));
}

static void open_dot_rules(__wasi_fd_t top) {
  __wasi_fdstat_t st, got;
  __wasi_fd_fdstat_get(top, &st);
  __wasi_fd_t fd;
  __wasi_errno_t e =
      __wasi_path_open(top, 0, ".", 0, st.fs_rights_base, st.fs_rights_inheriting, 0, &fd);
  wres("open . with the preopen's rights", e);
  if (!e) {
    __wasi_fd_fdstat_get(fd, &got);
    printf("  a directory: %s, rights within the preopen's: %s, may readdir: %s\n",
           yn(got.fs_filetype == __WASI_FILETYPE_DIRECTORY),
           yn((got.fs_rights_base & ~st.fs_rights_base) == 0),
           yn(got.fs_rights_base & __WASI_RIGHTS_FD_READDIR));
    entry ents[4];
    int n;
    read_entries(fd, 0, 256, ents, 4, &n);
    printf("  reads entries: %s\n", yn(n >= 2));
    __wasi_fd_close(fd);
  }
  e = __wasi_path_open(top, 0, ".", 0, 0, 0, 0, &fd);
  wres("open . with no rights", e);
  if (!e) {
    __wasi_fd_fdstat_get(fd, &got);
    printf("  rights: %llu\n", (unsigned long long)got.fs_rights_base);
    __wasi_fd_close(fd);
  }
  e = __wasi_path_open(top, 0, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd);
  wres("open . OFLAGS_DIRECTORY, no rights", e);
  if (!e) __wasi_fd_close(fd);
  e = __wasi_path_open(top, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
  wres("open . OFLAGS_DIRECTORY, FD_READ", e);
  if (!e) __wasi_fd_close(fd);
  wres("open . OFLAGS_DIRECTORY, FD_READ|FD_WRITE",
       __wasi_path_open(top, 0, ".", __WASI_OFLAGS_DIRECTORY,
                        __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
  wres("open . FD_WRITE", __wasi_path_open(top, 0, ".", 0, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
}

int main(void) {
  readdir_rules(PREOPEN);
  slash_rules(PREOPEN);
  sock_rules();
  open_dot_rules(PREOPEN);
  return 0;
}
