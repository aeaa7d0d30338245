/* common.h — helpers for the WASI test programs (guest code, wasm32-wasi).
 *
 * Every program prints "label: value" lines that do not depend on the run:
 * no timestamps, no random bytes, no host paths; properties instead
 * ("monotonic increases: yes"). Errors are printed by name: wasi-libc's errno
 * values are the WASI errno numbers, so one table serves libc calls and raw
 * __wasi_* calls alike.
 */
#ifndef WASI_TEST_COMMON_H
#define WASI_TEST_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static const char *const errno_names[] = {
    "OK",           "E2BIG",           "EACCES",       "EADDRINUSE",   "EADDRNOTAVAIL",
    "EAFNOSUPPORT", "EAGAIN",          "EALREADY",     "EBADF",        "EBADMSG",
    "EBUSY",        "ECANCELED",       "ECHILD",       "ECONNABORTED", "ECONNREFUSED",
    "ECONNRESET",   "EDEADLK",         "EDESTADDRREQ", "EDOM",         "EDQUOT",
    "EEXIST",       "EFAULT",          "EFBIG",        "EHOSTUNREACH", "EIDRM",
    "EILSEQ",       "EINPROGRESS",     "EINTR",        "EINVAL",       "EIO",
    "EISCONN",      "EISDIR",          "ELOOP",        "EMFILE",       "EMLINK",
    "EMSGSIZE",     "EMULTIHOP",       "ENAMETOOLONG", "ENETDOWN",     "ENETRESET",
    "ENETUNREACH",  "ENFILE",          "ENOBUFS",      "ENODEV",       "ENOENT",
    "ENOEXEC",      "ENOLCK",          "ENOLINK",      "ENOMEM",       "ENOMSG",
    "ENOPROTOOPT",  "ENOSPC",          "ENOSYS",       "ENOTCONN",     "ENOTDIR",
    "ENOTEMPTY",    "ENOTRECOVERABLE", "ENOTSOCK",     "ENOTSUP",      "ENOTTY",
    "ENXIO",        "EOVERFLOW",       "EOWNERDEAD",   "EPERM",        "EPIPE",
    "EPROTO",       "EPROTONOSUPPORT", "EPROTOTYPE",   "ERANGE",       "EROFS",
    "ESPIPE",       "ESRCH",           "ESTALE",       "ETIMEDOUT",    "ETXTBSY",
    "EXDEV",        "ENOTCAPABLE",
};

static inline const char *ename(int e) {
  if (e >= 0 && (size_t)e < sizeof errno_names / sizeof errno_names[0]) return errno_names[e];
  return "E?";
}

/* libc call result: "ok" for r >= 0, else the errno name. */
static inline void res(const char *what, long long r) {
  if (r >= 0) printf("%s: ok\n", what);
  else printf("%s: %s\n", what, ename(errno));
}

/* libc call whose result value itself is deterministic. */
static inline void val(const char *what, long long r) {
  if (r >= 0) printf("%s: %lld\n", what, r);
  else printf("%s: %s\n", what, ename(errno));
}

/* Raw WASI call result. */
static inline void wres(const char *what, __wasi_errno_t e) { printf("%s: %s\n", what, ename(e)); }

static inline const char *yn(int c) { return c ? "yes" : "no"; }

/* Raw path_open for reading a file, relative to dirfd; returns errno. */
static inline __wasi_errno_t raw_open(__wasi_fd_t dir, __wasi_lookupflags_t lf, const char *path,
                                      __wasi_oflags_t of, __wasi_fd_t *fd) {
  return __wasi_path_open(
      dir, lf, path, of,
      __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_FILESTAT_GET |
          __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN,
      __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_FILESTAT_GET, 0, fd);
}

/* Opens a directory beneath dir with every right, so that a later failure
 * through it can only come from the path, not from missing rights. */
static inline __wasi_errno_t raw_open_dir(__wasi_fd_t dir, const char *path, __wasi_fd_t *fd) {
  __wasi_fdstat_t st;
  __wasi_rights_t r = (__wasi_rights_t)-1;
  if (__wasi_fd_fdstat_get(dir, &st) == 0) r = st.fs_rights_inheriting;
  /* Write rights on a directory are refused (EISDIR), as open(O_WRONLY). */
  r &= ~(__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_SYNC |
         __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);
  return __wasi_path_open(dir, 0, path, __WASI_OFLAGS_DIRECTORY, r, r, 0, fd);
}

/* Prints "refused" when e is one of the acceptable errnos (where the order
 * of a runtime's checks decides which one), else the errno itself. */
static inline void refused(const char *what, int e, int ok1, int ok2) {
  printf("%s: %s\n", what, e == ok1 || e == ok2 ? "refused" : ename(e));
}

/* Tries to open `path` beneath dirfd and read it; prints the errno, or on
 * success "OK" plus the first line of the content (the tests only place
 * known, fixed contents inside the sandbox). */
static inline void try_read(const char *what, __wasi_fd_t dir, __wasi_lookupflags_t lf,
                            const char *path) {
  __wasi_fd_t fd;
  __wasi_errno_t e = raw_open(dir, lf, path, 0, &fd);
  if (e) {
    printf("%s: %s\n", what, ename(e));
    return;
  }
  char buf[128] = "";
  __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf - 1};
  __wasi_size_t n = 0;
  e = __wasi_fd_read(fd, &iov, 1, &n);
  (void)__wasi_fd_close(fd);
  if (e) {
    printf("%s: opened, read %s\n", what, ename(e));
    return;
  }
  buf[n] = 0;
  char *nl = strchr(buf, '\n');
  if (nl) *nl = 0;
  printf("%s: OK \"%s\"\n", what, buf);
}

/* The raw imports, with explicit (pointer, length) paths: wasi-libc's
 * __wasi_* wrappers take C strings and call strlen, which makes it
 * impossible to pass a path containing NUL or one pointing outside memory. */
#define WASI_IMPORT(n) __attribute__((import_module("wasi_snapshot_preview1"), import_name(n)))
int32_t imp_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t len, int32_t oflags,
                      int64_t base, int64_t inh, int32_t fdflags, int32_t out)
    WASI_IMPORT("path_open");
int32_t imp_path_create_directory(int32_t fd, int32_t path, int32_t len)
    WASI_IMPORT("path_create_directory");
int32_t imp_path_filestat_get(int32_t fd, int32_t flags, int32_t path, int32_t len, int32_t out)
    WASI_IMPORT("path_filestat_get");

/* path_open of (ptr, len) for reading; returns the WASI errno. */
static inline int raw_open_n(__wasi_fd_t dir, const void *path, size_t len, __wasi_fd_t *fd) {
  return imp_path_open((int32_t)dir, 0, (int32_t)(uintptr_t)path, (int32_t)len, 0,
                       (int64_t)(__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK), 0, 0,
                       (int32_t)(uintptr_t)fd);
}

#define PREOPEN 3 /* the first (only) preopened directory: /sandbox */

#endif
