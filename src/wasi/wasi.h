/* wasi.h — WASI preview 1 (`wasi_snapshot_preview1`, plus the legacy
 * `wasi_unstable` names) for wagi-c's engine, sandboxed.
 *
 * Model: the embedder builds ONE linker with wasi_define() and instantiates
 * many modules through it; each instance gets its own wasi_ctx (its world:
 * argv, env, stdio, preopened directories), which the host functions find per
 * call through the get_ctx callback given to wasi_define (by default
 * wasm_instance_user_data(caller)).
 *
 *   wasi_config cfg = {0};            // zero = empty world, output discarded
 *   cfg.argv = argv; cfg.argc = 2;
 *   cfg.stdout_kind = WASI_STDIO_BUFFER; cfg.stdout_cap = 1 << 20;
 *   wasi_ctx *ctx; char eb[256];
 *   if (wasi_ctx_new(&cfg, &ctx, eb, sizeof eb) != WASI_OK) ...;
 *   wasm_instance_opts o = {.user_data = ctx};
 *   wasm_instantiate(mod, linker, &o, &inst, &err);
 *   wasi_run_start(inst, &code, &err);
 *   bytes = wasi_ctx_stdout(ctx, &len);
 *   wasm_instance_free(inst); wasi_ctx_free(ctx);
 *
 * Ownership: wasi_ctx_new copies everything in the config (strings, the
 * stdin buffer is NOT copied: it is borrowed and must outlive the ctx). Host
 * fds given for stdin/stdout/stderr are borrowed (never closed by the ctx).
 * Preopened directories are opened by wasi_ctx_new (one open() per preopen
 * per ctx, unless the embedder passes an open host_fd) and closed by
 * wasi_ctx_free, as is every file the guest opened.
 * A ctx is used by one instance at a time (no internal locking); different
 * ctxs may run concurrently on different threads.
 *
 * Sandbox decisions (errnos are what the guest sees):
 *  - Every path is resolved beneath the directory fd it is relative to
 *    (openat2 RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS on Linux >= 5.6, a
 *    careful component-by-component walk otherwise). A path that would
 *    leave it — `..` above the preopen, an absolute path, a symlink (already
 *    on disk or made by the module) whose target leads outside — fails with
 *    WASI_ENOTCAPABLE (76), as wasmtime does. A path with a NUL byte gives
 *    WASI_EINVAL, a path over 4095 bytes or a component over 255 bytes
 *    WASI_ENAMETOOLONG, more than 40 symlinks WASI_ELOOP.
 *  - path_symlink stores a relative target verbatim (it may dangle, and
 *    nothing ever follows it out of the sandbox); an absolute target is
 *    refused with WASI_EPERM and a relative one that lexically climbs above
 *    the directory fd (usually the preopen) from where the link is made with
 *    WASI_ENOTCAPABLE (both as node's WASI does), so that no escaping link
 *    is left on disk for host tools to trip over. Every directory fd is its
 *    own root: paths through a subdirectory fd cannot climb above it.
 *  - path_link resolves both paths beneath their dirs; the source is never
 *    followed out of the sandbox (ENOTCAPABLE).
 *  - Read-only preopens (and everything opened through them) lack every
 *    write right; any call needing one fails with WASI_EROFS (69) rather
 *    than ENOTCAPABLE, so the module's error message says what happened.
 *    path_open asking for FD_WRITE there fails with EROFS at once (their
 *    inheriting rights stay whole so that wasi-libc does ask); other write
 *    rights in the request are silently dropped. A missing right on a
 *    writable tree gives WASI_ENOTCAPABLE.
 *  - Captured stdout/stderr: a write beyond the cap writes what fits, then
 *    fails with WASI_EFBIG (22); wasi_ctx_stdout_truncated() reports it.
 *    An embedder's stdout/stderr fd with a cap takes what fits and drops
 *    the rest silently (a log must not fail the module).
 *  - proc_exit(code) ends the instance only: the host function returns
 *    WASM_TRAP_EXIT with the code as wasm_error.exit_code.
 *  - Rights are checked before anything else: e.g. fd_write on a file
 *    opened without FD_WRITE gives WASI_ENOTCAPABLE. path_open grants the
 *    requested rights masked by the directory's inheriting rights (as
 *    wasi-libc expects); only asking for FD_WRITE where it cannot be had
 *    fails (EROFS / ENOTCAPABLE). A directory opened with write rights in
 *    the mask is opened read-only on the host.
 *  - Bad guest pointers/lengths: WASI_EFAULT, checked before any side
 *    effect. More than 1024 iovecs: WASI_EINVAL.
 *  - proc_raise: WASI_ENOSYS. sock_accept/recv/send/shutdown: WASI_EBADF
 *    for a closed fd, else WASI_ENOTSOCK (there are no sockets in the world).
 *    fd_advise / fd_allocate on non-files: WASI_EBADF/WASI_ESPIPE per POSIX.
 *  - Stdio buffers (WASI_STDIO_BUFFER / NULL) report filetype UNKNOWN /
 *    CHARACTER_DEVICE with seek rights, so wasi-libc sees no tty and buffers
 *    fully; fd_seek on them gives WASI_ESPIPE (0 for NULL, like /dev/null).
 *    Embedder fds given as stdout/stderr are never seekable by the guest
 *    (a shared log keeps its offset) and never get their flags changed.
 *  - path_readlink truncates to the buffer (bufused = buffer size).
 *  - fd_readdir: cookies are entry indexes (they survive wasi-libc's 32-bit
 *    telldir); "." and ".." come first, as on wasmtime (".." of a preopen
 *    is the preopen itself).
 *  - A trailing '/' names a directory in every path function, as on Linux;
 *    on the new name of path_symlink / path_link it gives ENOENT (nothing
 *    there), EEXIST (a directory) or ENOTDIR, as wasmtime does.
 *  - path_open of a directory without OFLAGS_DIRECTORY opens it read-only
 *    unless FD_WRITE is asked for (then EISDIR, as with OFLAGS_DIRECTORY),
 *    so path_open(dir, ".", its own rights) works.
 *  - random_get: getrandom(2). Clocks: clock_gettime with the four WASI ids.
 *  - poll_oneoff: clock subscriptions (relative and absolute) and fd_read /
 *    fd_write readiness (buffers and regular files are always ready, other
 *    host fds via ppoll()); 0 or more than 65536 subscriptions: WASI_EINVAL.
 *    It waits in slices of at most 10 ms so that wasi_ctx_interrupt(), or
 *    wasm_instance_interrupt() on the calling instance, can end it.
 *  - FIFOs, sockets and devices the guest opens (from a preopen) are
 *    non-blocking on the host; fd_read / fd_write on them wait as a
 *    blocking fd would (unless the guest set FDFLAGS_NONBLOCK: then
 *    WASI_EAGAIN), in the same interruptible slices.
 */
#ifndef WAGI_WASI_H
#define WAGI_WASI_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Results of the embedder API ---------------------------------------- */

typedef enum {
  WASI_OK = 0,
  WASI_ERR_ARG, /* bad config (NULL where a value is required, bad kind) */
  WASI_ERR_NOMEM,
  WASI_ERR_PREOPEN, /* a preopen could not be opened (without SKIP flag) */
} wasi_status;

/* ---- WASI errno values (what the guest sees) ----------------------------- */

typedef uint16_t wasi_errno;
enum {
  WASI_ESUCCESS = 0,
  WASI_E2BIG = 1,
  WASI_EACCES = 2,
  WASI_EADDRINUSE = 3,
  WASI_EADDRNOTAVAIL = 4,
  WASI_EAFNOSUPPORT = 5,
  WASI_EAGAIN = 6,
  WASI_EALREADY = 7,
  WASI_EBADF = 8,
  WASI_EBADMSG = 9,
  WASI_EBUSY = 10,
  WASI_ECANCELED = 11,
  WASI_ECHILD = 12,
  WASI_ECONNABORTED = 13,
  WASI_ECONNREFUSED = 14,
  WASI_ECONNRESET = 15,
  WASI_EDEADLK = 16,
  WASI_EDESTADDRREQ = 17,
  WASI_EDOM = 18,
  WASI_EDQUOT = 19,
  WASI_EEXIST = 20,
  WASI_EFAULT = 21,
  WASI_EFBIG = 22,
  WASI_EHOSTUNREACH = 23,
  WASI_EIDRM = 24,
  WASI_EILSEQ = 25,
  WASI_EINPROGRESS = 26,
  WASI_EINTR = 27,
  WASI_EINVAL = 28,
  WASI_EIO = 29,
  WASI_EISCONN = 30,
  WASI_EISDIR = 31,
  WASI_ELOOP = 32,
  WASI_EMFILE = 33,
  WASI_EMLINK = 34,
  WASI_EMSGSIZE = 35,
  WASI_EMULTIHOP = 36,
  WASI_ENAMETOOLONG = 37,
  WASI_ENETDOWN = 38,
  WASI_ENETRESET = 39,
  WASI_ENETUNREACH = 40,
  WASI_ENFILE = 41,
  WASI_ENOBUFS = 42,
  WASI_ENODEV = 43,
  WASI_ENOENT = 44,
  WASI_ENOEXEC = 45,
  WASI_ENOLCK = 46,
  WASI_ENOLINK = 47,
  WASI_ENOMEM = 48,
  WASI_ENOMSG = 49,
  WASI_ENOPROTOOPT = 50,
  WASI_ENOSPC = 51,
  WASI_ENOSYS = 52,
  WASI_ENOTCONN = 53,
  WASI_ENOTDIR = 54,
  WASI_ENOTEMPTY = 55,
  WASI_ENOTRECOVERABLE = 56,
  WASI_ENOTSOCK = 57,
  WASI_ENOTSUP = 58,
  WASI_ENOTTY = 59,
  WASI_ENXIO = 60,
  WASI_EOVERFLOW = 61,
  WASI_EOWNERDEAD = 62,
  WASI_EPERM = 63,
  WASI_EPIPE = 64,
  WASI_EPROTO = 65,
  WASI_EPROTONOSUPPORT = 66,
  WASI_EPROTOTYPE = 67,
  WASI_ERANGE = 68,
  WASI_EROFS = 69,
  WASI_ESPIPE = 70,
  WASI_ESRCH = 71,
  WASI_ESTALE = 72,
  WASI_ETIMEDOUT = 73,
  WASI_ETXTBSY = 74,
  WASI_EXDEV = 75,
  WASI_ENOTCAPABLE = 76,
};

/* Host errno -> WASI errno (unknown values give WASI_EIO). */
wasi_errno wasi_errno_from_host(int host_errno);
/* Static name of a WASI errno ("ENOENT"), "E?" if unknown. */
const char *wasi_errno_str(wasi_errno e);

/* ---- Configuration -------------------------------------------------------- */

typedef enum {
  WASI_STDIO_NULL = 0, /* stdin: empty (immediate EOF); stdout/stderr: discard */
  WASI_STDIO_BUFFER,   /* stdin: cfg bytes (borrowed); stdout/stderr: capture */
  WASI_STDIO_FD,       /* a host fd (borrowed, never closed by the ctx) */
} wasi_stdio_kind;

typedef struct {
  const char *host_path;  /* directory on the host (relative to the CWD ok) */
  const char *guest_path; /* name the guest sees, e.g. "/" or "/data" */
  int read_only;          /* nonzero: no write rights anywhere beneath */
  /* Used only when host_path is NULL: a directory fd the embedder opened
   * once (e.g. at startup) and keeps open while ctxs use it. Many ctxs may
   * share it concurrently: the ctx never closes it, never changes its flags
   * or offset (fd_readdir reads through a private fd). Saves the open()
   * per request, but a directory replaced on disk is not seen. */
  int host_fd;
} wasi_preopen;

/* wasi_ctx_new flags. */
#define WASI_SKIP_BAD_PREOPENS                                                                     \
  1u /* skip a preopen that fails to open and                                                      \
        record a warning (WAGI volume semantics)                                                   \
        instead of failing wasi_ctx_new */
#define WASI_TRUSTED_STDIO_FDS                                                                     \
  2u /* the WASI_STDIO_FD fds are known open                                                       \
        (e.g. log files the embedder keeps):                                                       \
        wasi_ctx_new does not check them and                                                       \
        looks their type up (one fstat) only                                                       \
        when the guest first uses them; a                                                          \
        closed one then gives WASI_EBADF */

typedef struct {
  const char *const *argv; /* argc strings; argv[0] is the program name */
  size_t argc;
  const char *const *env; /* envc "NAME=VALUE" strings; nothing is inherited */
  size_t envc;

  wasi_stdio_kind stdin_kind;
  const uint8_t *stdin_buf; /* WASI_STDIO_BUFFER: borrowed, outlives the ctx */
  size_t stdin_len;
  int stdin_fd; /* WASI_STDIO_FD */

  /* Caps, 0 = none. WASI_STDIO_BUFFER: a write beyond the cap writes what
   * fits, then fails with EFBIG. WASI_STDIO_FD: at most cap bytes reach the
   * fd; the rest is dropped but reported written to the guest (so that a
   * module that stops on a failed log write keeps running). Either way
   * wasi_ctx_*_truncated reports the cut. */
  wasi_stdio_kind stdout_kind;
  int stdout_fd; /* WASI_STDIO_FD */
  size_t stdout_cap;

  wasi_stdio_kind stderr_kind;
  int stderr_fd; /* WASI_STDIO_FD (e.g. a log file) */
  size_t stderr_cap;

  const wasi_preopen *preopens; /* fds 3, 4, ... in this order */
  size_t npreopens;
  unsigned flags; /* WASI_SKIP_BAD_PREOPENS */
  /* Most fds the guest may hold at once, stdio and preopens included
   * (each file it opens is a host fd of this process); beyond it path_open
   * gives WASI_EMFILE. 0 = 1024, the most allowed. */
  uint32_t max_fds;

  /* Optional, instead of argv / env: the argc (envc) strings packed back
   * to back, each NUL-terminated, in argv_packed_len (env_packed_len)
   * bytes, as srv_cgi_pack builds them; copied with one memcpy. A run that
   * does not hold exactly argc (envc) strings is WASI_ERR_ARG. */
  const char *argv_packed;
  size_t argv_packed_len;
  const char *env_packed;
  size_t env_packed_len;
} wasi_config;

typedef struct wasi_ctx wasi_ctx;

/* ---- Context ---------------------------------------------------------------- */

/* Create a ctx from `cfg` (copied; see ownership above). On failure returns
 * WASI_ERR_* and writes a sentence into errbuf (may be NULL); *out is
 * written only on success. With WASI_SKIP_BAD_PREOPENS a preopen that cannot
 * be opened is skipped (later preopens take its fd number) and described in
 * wasi_ctx_warnings(). Cost: one allocation (ctx, strings and the first
 * 1 KiB of captured stdout together), an fcntl + fstat per WASI_STDIO_FD
 * fd unless WASI_TRUSTED_STDIO_FDS, and one open() per preopen given by
 * host_path (~2-4 us each here with its close; share a host_fd to avoid
 * it). */
wasi_status wasi_ctx_new(const wasi_config *cfg, wasi_ctx **out, char *errbuf, size_t errlen);
/* Close every fd the ctx opened and free it. NULL is fine. */
void wasi_ctx_free(wasi_ctx *ctx);

/* Newline-separated warnings (skipped preopens), or NULL if none. Borrowed. */
const char *wasi_ctx_warnings(const wasi_ctx *ctx);

/* Captured stdout / stderr bytes (WASI_STDIO_BUFFER), borrowed until the
 * next call into the guest or wasi_ctx_free; *len set (0 and a non-NULL
 * pointer when nothing was captured). */
const uint8_t *wasi_ctx_stdout(const wasi_ctx *ctx, size_t *len);
const uint8_t *wasi_ctx_stderr(const wasi_ctx *ctx, size_t *len);
/* 1 if a write to captured (or capped fd) stdout/stderr was cut at the cap. */
int wasi_ctx_stdout_truncated(const wasi_ctx *ctx);
int wasi_ctx_stderr_truncated(const wasi_ctx *ctx);
/* 1 if a write to captured stdout failed because its buffer could not grow
 * (the guest got WASI_ENOMEM): the capture lacks bytes the guest meant to
 * write, and a guest that ignores write errors (printf's) cannot tell. */
int wasi_ctx_stdout_lost(const wasi_ctx *ctx);
/* 1 unless the last byte written to a capped stderr fd was not a newline
 * (so an embedder's note after a cut starts on a line of its own). */
int wasi_ctx_stderr_ends_line(const wasi_ctx *ctx);

/* Make a poll_oneoff that is sleeping or waiting (now or later) in this
 * ctx return WASM_TRAP_INTERRUPTED within ~10 ms. Safe from any thread and
 * from signal handlers. Sticky. wasm_instance_interrupt() on the calling
 * instance ends such a wait too; this one is for a ctx whose instance the
 * caller does not hold, or that must stay interrupted across instances. */
void wasi_ctx_interrupt(wasi_ctx *ctx);

/* Called on the guest's thread right before poll_oneoff (a sleep, or a
 * wait for fds) blocks (NULL, the default: nothing). An embedder that runs
 * guests on a fixed set of threads uses it to let another thread take the
 * CPU. Set it before any ctx runs. */
void wasi_set_blocking_hook(void (*hook)(void));

/* 1 once the guest has called proc_exit; *code then holds its code. */
int wasi_ctx_exited(const wasi_ctx *ctx, int32_t *code);

/* ---- Linking and running ------------------------------------------------------ */

/* Finds the ctx of the instance making a call. */
typedef wasi_ctx *(*wasi_get_ctx_fn)(wasm_instance *caller, void *arg);

/* Define every wasi_snapshot_preview1 function, and the wasi_unstable ones
 * (all but sock_accept, which it lacks; its fd_seek whence values and its
 * filestat / subscription layouts are honoured), on `l`. Once per linker;
 * the linker may then serve any number of instances, concurrently.
 * get_ctx NULL means wasm_instance_user_data(caller) is the wasi_ctx. A call
 * whose ctx is NULL (or that comes from no instance) traps with
 * WASM_TRAP_HOST. `arg` is borrowed: keep it valid while the linker or an
 * instance linked through it lives. With a get_ctx the linker owns the
 * small (get_ctx, arg) copies made here, so instances linked through `l`
 * must be freed before wasm_linker_free(l). Returns WASM_OK or the linker's
 * error (on failure `l` may hold some of the definitions). */
wasm_status wasi_define(wasm_linker *l, wasi_get_ctx_fn get_ctx, void *arg);

/* Call the exported function `entry` (signature "->", e.g. "_start" or a
 * WAGI entry point). A normal return gives WASM_OK with *exit_code = 0;
 * proc_exit(n) gives WASM_OK with *exit_code = n. A missing export gives
 * WASM_ERR_NOT_FOUND; a trap its status, details in *err (may be NULL).
 * exit_code may be NULL. */
wasm_status wasi_run(wasm_instance *inst, const char *entry, int *exit_code, wasm_error *err);
/* wasi_run(inst, "_start", ...). */
wasm_status wasi_run_start(wasm_instance *inst, int *exit_code, wasm_error *err);

#ifdef __cplusplus
}
#endif
#endif
