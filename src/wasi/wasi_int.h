/* wasi_int.h — internals shared by the files of the WASI layer.
 *
 * wasi.c       ctx life cycle, errno table, linker definitions, args/env,
 *              clocks, random, poll_oneoff, proc_*, sock_*.
 * wasi_fd.c    fd table and the fd_* functions.
 * wasi_path.c  the sandboxed path resolver and the path_* functions.
 *
 * Guest structures are read and written through wasm.h's guest-memory
 * helpers (guest pointers need not be aligned); the layer also copies host
 * integers into guest structures with memcpy, so the host is little-endian
 * like wasm.
 */
#ifndef WAGI_WASI_INT_H
#define WAGI_WASI_INT_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "wasi.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the WASI layer assumes a little-endian host"
#endif

/* ---- Rights ---------------------------------------------------------------- */

#define WASI_R_FD_DATASYNC (1ull << 0)
#define WASI_R_FD_READ (1ull << 1)
#define WASI_R_FD_SEEK (1ull << 2)
#define WASI_R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define WASI_R_FD_SYNC (1ull << 4)
#define WASI_R_FD_TELL (1ull << 5)
#define WASI_R_FD_WRITE (1ull << 6)
#define WASI_R_FD_ADVISE (1ull << 7)
#define WASI_R_FD_ALLOCATE (1ull << 8)
#define WASI_R_PATH_CREATE_DIRECTORY (1ull << 9)
#define WASI_R_PATH_CREATE_FILE (1ull << 10)
#define WASI_R_PATH_LINK_SOURCE (1ull << 11)
#define WASI_R_PATH_LINK_TARGET (1ull << 12)
#define WASI_R_PATH_OPEN (1ull << 13)
#define WASI_R_FD_READDIR (1ull << 14)
#define WASI_R_PATH_READLINK (1ull << 15)
#define WASI_R_PATH_RENAME_SOURCE (1ull << 16)
#define WASI_R_PATH_RENAME_TARGET (1ull << 17)
#define WASI_R_PATH_FILESTAT_GET (1ull << 18)
#define WASI_R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define WASI_R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define WASI_R_FD_FILESTAT_GET (1ull << 21)
#define WASI_R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define WASI_R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define WASI_R_PATH_SYMLINK (1ull << 24)
#define WASI_R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define WASI_R_PATH_UNLINK_FILE (1ull << 26)
#define WASI_R_POLL_FD_READWRITE (1ull << 27)
#define WASI_R_SOCK_SHUTDOWN (1ull << 28)
#define WASI_R_SOCK_ACCEPT (1ull << 29)
#define WASI_R_ALL ((1ull << 30) - 1)

/* Rights that change the file system: absent beneath read-only preopens. */
#define WASI_R_WRITE_SET                                                                           \
  (WASI_R_FD_DATASYNC | WASI_R_FD_WRITE | WASI_R_FD_ALLOCATE | WASI_R_PATH_CREATE_DIRECTORY |      \
   WASI_R_PATH_CREATE_FILE | WASI_R_PATH_LINK_SOURCE | WASI_R_PATH_LINK_TARGET |                   \
   WASI_R_PATH_RENAME_SOURCE | WASI_R_PATH_RENAME_TARGET | WASI_R_PATH_FILESTAT_SET_SIZE |         \
   WASI_R_PATH_FILESTAT_SET_TIMES | WASI_R_FD_FILESTAT_SET_SIZE | WASI_R_FD_FILESTAT_SET_TIMES |   \
   WASI_R_PATH_SYMLINK | WASI_R_PATH_REMOVE_DIRECTORY | WASI_R_PATH_UNLINK_FILE)

/* What a directory fd / a regular file fd can hold at most. */
#define WASI_R_DIR_BASE                                                                            \
  (WASI_R_FD_FDSTAT_SET_FLAGS | WASI_R_FD_SYNC | WASI_R_FD_ADVISE | WASI_R_PATH_CREATE_DIRECTORY | \
   WASI_R_PATH_CREATE_FILE | WASI_R_PATH_LINK_SOURCE | WASI_R_PATH_LINK_TARGET |                   \
   WASI_R_PATH_OPEN | WASI_R_FD_READDIR | WASI_R_PATH_READLINK | WASI_R_PATH_RENAME_SOURCE |       \
   WASI_R_PATH_RENAME_TARGET | WASI_R_PATH_FILESTAT_GET | WASI_R_PATH_FILESTAT_SET_SIZE |          \
   WASI_R_PATH_FILESTAT_SET_TIMES | WASI_R_FD_FILESTAT_GET | WASI_R_FD_FILESTAT_SET_TIMES |        \
   WASI_R_PATH_SYMLINK | WASI_R_PATH_REMOVE_DIRECTORY | WASI_R_PATH_UNLINK_FILE |                  \
   WASI_R_FD_DATASYNC)
#define WASI_R_FILE_BASE                                                                           \
  (WASI_R_FD_DATASYNC | WASI_R_FD_READ | WASI_R_FD_SEEK | WASI_R_FD_FDSTAT_SET_FLAGS |             \
   WASI_R_FD_SYNC | WASI_R_FD_TELL | WASI_R_FD_WRITE | WASI_R_FD_ADVISE | WASI_R_FD_ALLOCATE |     \
   WASI_R_FD_FILESTAT_GET | WASI_R_FD_FILESTAT_SET_SIZE | WASI_R_FD_FILESTAT_SET_TIMES |           \
   WASI_R_POLL_FD_READWRITE)

/* ---- Guest constants ---------------------------------------------------------- */

enum {
  WASI_FT_UNKNOWN = 0,
  WASI_FT_BLOCK_DEVICE = 1,
  WASI_FT_CHARACTER_DEVICE = 2,
  WASI_FT_DIRECTORY = 3,
  WASI_FT_REGULAR_FILE = 4,
  WASI_FT_SOCKET_DGRAM = 5,
  WASI_FT_SOCKET_STREAM = 6,
  WASI_FT_SYMBOLIC_LINK = 7,
};
enum {
  WASI_FDF_APPEND = 1,
  WASI_FDF_DSYNC = 2,
  WASI_FDF_NONBLOCK = 4,
  WASI_FDF_RSYNC = 8,
  WASI_FDF_SYNC = 16
};
enum { WASI_OF_CREAT = 1, WASI_OF_DIRECTORY = 2, WASI_OF_EXCL = 4, WASI_OF_TRUNC = 8 };
enum { WASI_FST_ATIM = 1, WASI_FST_ATIM_NOW = 2, WASI_FST_MTIM = 4, WASI_FST_MTIM_NOW = 8 };
enum { WASI_LOOKUP_SYMLINK_FOLLOW = 1 };

/* ---- Contexts and fds ---------------------------------------------------------- */

typedef enum {
  WASI_FD_FREE = 0,
  WASI_FD_HOST,   /* a host fd: file, directory, or a borrowed stdio fd */
  WASI_FD_INBUF,  /* stdin from a byte buffer */
  WASI_FD_OUTBUF, /* captured stdout / stderr */
  WASI_FD_NULL,   /* empty stdin / discarded output */
} wasi_fd_kind;

typedef struct {
  uint8_t *data;          /* NULL, `inl`, or malloc'd */
  size_t len, alloc, cap; /* cap: SIZE_MAX = none */
  int truncated;
  int lost; /* a write failed with ENOMEM: the buffer could not grow */
  /* An embedder fd with a cap (WASI_STDIO_FD): bytes that reached it, and
   * the last of them ('\n' before the first). */
  size_t passed;
  uint8_t last;
  uint8_t *inl; /* first buffer, inside the ctx (NULL = none) */
  size_t inl_size;
} wasi_outbuf;

typedef struct {
  uint8_t kind;        /* wasi_fd_kind */
  uint8_t filetype;    /* WASI_FT_* as reported to the guest */
  uint8_t read_only;   /* beneath a read-only preopen */
  uint8_t borrowed;    /* host fd belongs to the embedder */
  uint16_t fdflags;    /* WASI_FDF_* */
  uint8_t lazy;        /* embedder stdio fd whose type is looked up on
                          first use (WASI_TRUSTED_STDIO_FDS): 1 + fd */
  int host;            /* host fd (WASI_FD_HOST) */
  uint64_t base, inh;  /* rights */
  const char *prestat; /* guest path of a preopen (in the ctx block), or NULL */
  /* A directory from path_open: the identity of the preopen it lies
   * beneath (root_known), so that fd_readdir's ".." of that directory
   * itself stays inside, even after the preopen's fd is closed. */
  uint8_t root_known;
  dev_t root_dev;
  ino_t root_ino;
  uint32_t prestat_len;
  int rd_fd1;         /* borrowed dir: private fd for fd_readdir, + 1 (0 = none) */
  wasi_outbuf *out;   /* WASI_FD_OUTBUF; WASI_FD_HOST: the cap of an
                         embedder's stdout/stderr fd, or NULL */
  uint64_t rd_cookie; /* fd_readdir: a cookie it handed out ... */
  int64_t rd_pos;     /* ... and the kernel position of that entry */
} wasi_fd;

#define WASI_MAX_FDS 1024
#define WASI_INLINE_FDS 16
/* Captured stdout lives in the ctx's own allocation up to this size: a
 * typical small response costs no allocation of its own. */
#define WASI_STDOUT_INLINE 1024

struct wasi_ctx {
  wasi_fd *fds;  /* fds == inline_fds until it grows */
  uint32_t nfds; /* slots in use up to (highest open + 1) */
  uint32_t fds_alloc;
  uint32_t max_fds; /* <= WASI_MAX_FDS */
  char **argv;      /* into vec */
  char **env;
  uint32_t argc, envc;
  uint32_t argv_bytes, env_bytes; /* with NULs */
  const uint8_t *stdin_buf;
  size_t stdin_len, stdin_pos;
  wasi_outbuf out[2]; /* stdout, stderr captures */
  char *warnings;
  int exited;
  int32_t exit_code;
  int interrupted; /* wasi_ctx_interrupt: atomic access only */
  uint8_t stdout_inline[WASI_STDOUT_INLINE];
  wasi_fd inline_fds[WASI_INLINE_FDS]; /* only [0, nfds) initialised */
  /* The same allocation goes on: argv then env pointers, then the argv,
   * env and preopen name strings, so a ctx is one malloc. */
  char *vec[];
};

/* Resolves the type and rights of a WASI_TRUSTED_STDIO_FDS stdio fd on its
 * first use (one fstat), so a ctx that never asks costs no syscall. */
void wasi_fd_resolve_lazy(wasi_fd *f);

/* ---- Guest memory ----------------------------------------------------------------- */

/* Host functions see memory 0 through a wasm_memory_view (wasm.h) and reach
 * guest bytes only through wasm_view_range and wasm_load_le* /
 * wasm_store_le*. */

/* Most iovecs a single fd_read/fd_write accepts (POSIX IOV_MAX). */
#define WASI_IOV_MAX 1024

/* ---- Cross-file internals ------------------------------------------------------------- */

/* fd lookup with rights: returns WASI_ESUCCESS and *out, or EBADF /
 * ENOTCAPABLE / EROFS (missing write right beneath a read-only preopen). */
wasi_errno wasi_fd_get(wasi_ctx *ctx, uint32_t fd, uint64_t need, wasi_fd **out);
/* Install a new fd (lowest free number >= 3); *out the number. EMFILE when full. */
wasi_errno wasi_fd_install(wasi_ctx *ctx, const wasi_fd *f, uint32_t *out);
void wasi_fd_release(wasi_fd *f);
uint8_t wasi_filetype_of_mode(mode_t m);
/* A host fd of the guest's own on something that can block (a FIFO, a
 * socket, a device): it stays O_NONBLOCK on the host, and reads and writes
 * wait for it in rw_common, where an interrupt can end the wait. */
static inline int wasi_fd_special(const wasi_fd *f) {
  return f->kind == WASI_FD_HOST && !f->borrowed && f->filetype != WASI_FT_REGULAR_FILE &&
         f->filetype != WASI_FT_DIRECTORY;
}

/* Sandboxed resolution, for the path_* functions and the unit tests.
 * `path` is NUL-terminated (checked by the caller for embedded NULs).
 * wasi_sb_open: open `path` beneath `dirfd` with open(2) `flags` (O_CLOEXEC
 * added); `follow` follows a final symlink. Returns a host fd or -errno;
 * leaving the tree is -EXDEV (the caller maps it to ENOTCAPABLE). */
int wasi_sb_open(int dirfd, const char *path, int flags, mode_t mode, int follow);
/* Resolve the parent directory of `path` beneath dirfd; returns an O_PATH
 * dir fd or -errno, copies the final component into lastbuf (>= 256 bytes;
 * "." for an empty final part, and "." / ".." are left for the caller to
 * handle) and sets *trailing_slash when the path ended with '/'. */
int wasi_sb_parent(int dirfd, const char *path, char *lastbuf, int *trailing_slash);
/* 1: use the component walk even where openat2 exists (tests). */
extern int wasi_sb_force_walk;

wasi_errno wasi_path_errno(int neg_errno);

/* Whether a guest's wait should end now: wasi_ctx_interrupt on the ctx, or
 * wasm_instance_interrupt on the calling instance. */
int wasi_interrupted(wasi_ctx *ctx, wasm_instance *caller);
/* Waits until host fd `fd` is ready for `events` (POLLIN / POLLOUT), in
 * slices of 10 ms so that wasi_interrupted ends it. Returns 0 when ready
 * (or hung up: the next read or write says so), 1 when interrupted, else
 * -errno. */
int wasi_wait_fd(wasi_ctx *ctx, wasm_instance *caller, int fd, short events);

/* The host functions, defined in wasi_fd.c / wasi_path.c. */
#define WASI_HOSTFN(name) wasm_status wasi_fn_##name(wasm_instance *caller, void *env, wasm_slot *a)
/* Prologue shared by host functions: finds the ctx and a view of memory 0. */
wasm_status wasi_enter(wasm_instance *caller, void *env, wasi_ctx **ctx, wasm_memory_view *m);

/* Host-function plumbing shared by wasi.c, wasi_fd.c and wasi_path.c. Each
 * import is `static wasm_status f(wasm_instance *caller, void *env,
 * wasm_slot *a)`: WASI_ENTER() binds `ctx` and the view `m` of guest memory,
 * WASI_RET(e) stores the errno as the i32 result, WASI_GETFD looks up an fd
 * with the rights `need`. */
#define WASI_ENTER()                                                                               \
  wasi_ctx *ctx;                                                                                   \
  wasm_memory_view m;                                                                              \
  {                                                                                                \
    wasm_status st_ = wasi_enter(caller, env, &ctx, &m);                                           \
    if (st_ != WASM_OK) return st_;                                                                \
  }
#define WASI_RET(e)                                                                                \
  do {                                                                                             \
    a[0] = (uint32_t)(e);                                                                          \
    return WASM_OK;                                                                                \
  } while (0)
#define WASI_GETFD(var, num, need)                                                                 \
  wasi_fd *var;                                                                                    \
  {                                                                                                \
    wasi_errno e_ = wasi_fd_get(ctx, (num), (need), &var);                                         \
    if (e_) WASI_RET(e_);                                                                          \
  }

#endif
