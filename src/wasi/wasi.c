/* wasi.c — WASI context life cycle, errno mapping, the linker definitions,
 * and the functions that touch no file system: args, environ, clocks,
 * random, poll_oneoff, proc_*, sched_yield, sock_*. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, openat2, ppoll, AT_EMPTY_PATH */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasi_int.h"

/* ---- errno ------------------------------------------------------------------ */

wasi_errno wasi_errno_from_host(int e) {
  switch (e) {
  case 0: return WASI_ESUCCESS;
  case E2BIG: return WASI_E2BIG;
  case EACCES: return WASI_EACCES;
  case EADDRINUSE: return WASI_EADDRINUSE;
  case EADDRNOTAVAIL: return WASI_EADDRNOTAVAIL;
  case EAFNOSUPPORT: return WASI_EAFNOSUPPORT;
  case EAGAIN: return WASI_EAGAIN;
  case EALREADY: return WASI_EALREADY;
  case EBADF: return WASI_EBADF;
  case EBADMSG: return WASI_EBADMSG;
  case EBUSY: return WASI_EBUSY;
  case ECANCELED: return WASI_ECANCELED;
  case ECHILD: return WASI_ECHILD;
  case ECONNABORTED: return WASI_ECONNABORTED;
  case ECONNREFUSED: return WASI_ECONNREFUSED;
  case ECONNRESET: return WASI_ECONNRESET;
  case EDEADLK: return WASI_EDEADLK;
  case EDESTADDRREQ: return WASI_EDESTADDRREQ;
  case EDOM: return WASI_EDOM;
  case EDQUOT: return WASI_EDQUOT;
  case EEXIST: return WASI_EEXIST;
  case EFAULT: return WASI_EFAULT;
  case EFBIG: return WASI_EFBIG;
  case EHOSTUNREACH: return WASI_EHOSTUNREACH;
  case EIDRM: return WASI_EIDRM;
  case EILSEQ: return WASI_EILSEQ;
  case EINPROGRESS: return WASI_EINPROGRESS;
  case EINTR: return WASI_EINTR;
  case EINVAL: return WASI_EINVAL;
  case EIO: return WASI_EIO;
  case EISCONN: return WASI_EISCONN;
  case EISDIR: return WASI_EISDIR;
  case ELOOP: return WASI_ELOOP;
  case EMFILE: return WASI_EMFILE;
  case EMLINK: return WASI_EMLINK;
  case EMSGSIZE: return WASI_EMSGSIZE;
  case EMULTIHOP: return WASI_EMULTIHOP;
  case ENAMETOOLONG: return WASI_ENAMETOOLONG;
  case ENETDOWN: return WASI_ENETDOWN;
  case ENETRESET: return WASI_ENETRESET;
  case ENETUNREACH: return WASI_ENETUNREACH;
  case ENFILE: return WASI_ENFILE;
  case ENOBUFS: return WASI_ENOBUFS;
  case ENODEV: return WASI_ENODEV;
  case ENOENT: return WASI_ENOENT;
  case ENOEXEC: return WASI_ENOEXEC;
  case ENOLCK: return WASI_ENOLCK;
  case ENOLINK: return WASI_ENOLINK;
  case ENOMEM: return WASI_ENOMEM;
  case ENOMSG: return WASI_ENOMSG;
  case ENOPROTOOPT: return WASI_ENOPROTOOPT;
  case ENOSPC: return WASI_ENOSPC;
  case ENOSYS: return WASI_ENOSYS;
  case ENOTCONN: return WASI_ENOTCONN;
  case ENOTDIR: return WASI_ENOTDIR;
  case ENOTEMPTY: return WASI_ENOTEMPTY;
  case ENOTRECOVERABLE: return WASI_ENOTRECOVERABLE;
  case ENOTSOCK: return WASI_ENOTSOCK;
  case ENOTSUP: return WASI_ENOTSUP; /* == EOPNOTSUPP on Linux */
  case ENOTTY: return WASI_ENOTTY;
  case ENXIO: return WASI_ENXIO;
  case EOVERFLOW: return WASI_EOVERFLOW;
  case EOWNERDEAD: return WASI_EOWNERDEAD;
  case EPERM: return WASI_EPERM;
  case EPIPE: return WASI_EPIPE;
  case EPROTO: return WASI_EPROTO;
  case EPROTONOSUPPORT: return WASI_EPROTONOSUPPORT;
  case EPROTOTYPE: return WASI_EPROTOTYPE;
  case ERANGE: return WASI_ERANGE;
  case EROFS: return WASI_EROFS;
  case ESPIPE: return WASI_ESPIPE;
  case ESRCH: return WASI_ESRCH;
  case ESTALE: return WASI_ESTALE;
  case ETIMEDOUT: return WASI_ETIMEDOUT;
  case ETXTBSY: return WASI_ETXTBSY;
  case EXDEV: return WASI_EXDEV;
  default: return WASI_EIO;
  }
}

static const char *const errno_names[] = {
    "ESUCCESS",     "E2BIG",           "EACCES",       "EADDRINUSE",   "EADDRNOTAVAIL",
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

const char *wasi_errno_str(wasi_errno e) {
  return e < sizeof errno_names / sizeof errno_names[0] ? errno_names[e] : "E?";
}

/* ---- Context ------------------------------------------------------------------ */

static void errf(char *buf, size_t len, const char *fmt, ...) {
  if (!buf || !len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

static void add_warning(wasi_ctx *ctx, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  size_t old = ctx->warnings ? strlen(ctx->warnings) : 0;
  size_t n = strlen(line);
  char *w = realloc(ctx->warnings, old + n + 2);
  if (!w) return; /* a warning lost to OOM is not worth failing the request */
  if (old) w[old++] = '\n';
  memcpy(w + old, line, n + 1);
  ctx->warnings = w;
}

static int stdio_filetype(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return WASI_FT_UNKNOWN;
  return wasi_filetype_of_mode(st.st_mode);
}

/* Type and type-dependent rights of an embedder's stdio fd `which`.
 * Seeking is offered on a regular-file stdin only: the embedder's output
 * fds (a log file shared by many requests) keep their offset. */
static void stdio_host_type(wasi_fd *f, int which) {
  f->filetype = (uint8_t)stdio_filetype(f->host);
  if (f->filetype == WASI_FT_REGULAR_FILE) {
    f->base |= WASI_R_FD_SYNC | WASI_R_FD_DATASYNC;
    if (which == 0) f->base |= WASI_R_FD_SEEK | WASI_R_FD_TELL;
  }
}

void wasi_fd_resolve_lazy(wasi_fd *f) {
  int which = f->lazy - 1;
  f->lazy = 0;
  stdio_host_type(f, which);
}

/* Sets up fd 0/1/2 from the config. */
static wasi_status setup_stdio(wasi_ctx *ctx, int which, wasi_stdio_kind kind, int hostfd,
                               size_t cap, unsigned flags, char *errbuf, size_t errlen) {
  static const char *const names[] = {"stdin", "stdout", "stderr"};
  wasi_fd *f = &ctx->fds[which];
  memset(f, 0, sizeof *f);
  f->host = -1;
  uint64_t io = which == 0 ? WASI_R_FD_READ : WASI_R_FD_WRITE;
  f->base = io | WASI_R_FD_FDSTAT_SET_FLAGS | WASI_R_FD_FILESTAT_GET | WASI_R_POLL_FD_READWRITE;
  f->inh = 0;
  /* Seek rights on the buffers make lseek fail with ESPIPE as on a pipe
   * (not ENOTCAPABLE), and tell wasi-libc's isatty() they are no tty, so
   * stdout is fully buffered. */
  if (kind != WASI_STDIO_FD) f->base |= WASI_R_FD_SEEK | WASI_R_FD_TELL;
  switch (kind) {
  case WASI_STDIO_NULL:
    f->kind = WASI_FD_NULL;
    f->filetype = WASI_FT_CHARACTER_DEVICE;
    return WASI_OK;
  case WASI_STDIO_BUFFER:
    f->filetype = WASI_FT_UNKNOWN; /* not a tty: libc then buffers fully */
    if (which == 0) {
      f->kind = WASI_FD_INBUF;
    } else {
      f->kind = WASI_FD_OUTBUF;
      f->out = &ctx->out[which - 1];
      f->out->cap = cap ? cap : SIZE_MAX;
      if (which == 1) {
        f->out->inl = ctx->stdout_inline;
        f->out->inl_size = sizeof ctx->stdout_inline;
      }
    }
    return WASI_OK;
  case WASI_STDIO_FD:
    if (hostfd < 0 || (!(flags & WASI_TRUSTED_STDIO_FDS) && fcntl(hostfd, F_GETFD) < 0)) {
      errf(errbuf, errlen, "wasi: %s fd %d is not open", names[which], hostfd);
      return WASI_ERR_ARG;
    }
    f->kind = WASI_FD_HOST;
    f->borrowed = 1;
    f->host = hostfd;
    if (which > 0 && cap) {
      f->out = &ctx->out[which - 1];
      f->out->cap = cap;
      f->out->last = '\n';
    }
    if (flags & WASI_TRUSTED_STDIO_FDS) f->lazy = (uint8_t)(1 + which);
    else stdio_host_type(f, which);
    return WASI_OK;
  }
  errf(errbuf, errlen, "wasi: bad %s kind %d", names[which], (int)kind);
  return WASI_ERR_ARG;
}

/* Splits a packed run (`len` bytes meant to hold exactly `n`
 * NUL-terminated strings), the start of each written to vec. Returns 0, or
 * -1 when the run does not hold exactly n strings. */
static int packed_split(const char *p, size_t len, size_t n, char **vec) {
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    const char *z = off < len ? memchr(p + off, 0, len - off) : NULL;
    if (!z) return -1;
    vec[i] = (char *)p + off;
    off = (size_t)(z - p) + 1;
  }
  return off == len ? 0 : -1;
}

/* Copies n strings to s, pointing dst[i] at each: from a packed block of
 * `bytes` bytes (NULL if it does not hold exactly n strings) or from list.
 * Returns the end of what it wrote. */
static char *copy_strv(char *s, const char *packed, size_t bytes, const char *const *list, size_t n,
                       char **dst) {
  if (packed) {
    memcpy(s, packed, bytes);
    return packed_split(s, bytes, n, dst) ? NULL : s + bytes;
  }
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(list[i]) + 1;
    memcpy(s, list[i], len);
    dst[i] = s;
    s += len;
  }
  return s;
}

wasi_status wasi_ctx_new(const wasi_config *cfg, wasi_ctx **out, char *errbuf, size_t errlen) {
  if (!cfg || !out) {
    errf(errbuf, errlen, "wasi: NULL config");
    return WASI_ERR_ARG;
  }
  const char *apk = cfg->argv_packed, *epk = cfg->env_packed;
  if ((cfg->argc && !cfg->argv && !apk) || (cfg->envc && !cfg->env && !epk) ||
      (cfg->npreopens && !cfg->preopens)) {
    errf(errbuf, errlen, "wasi: config has a count without its array");
    return WASI_ERR_ARG;
  }
  if (cfg->argc > UINT32_MAX / 8 || cfg->envc > UINT32_MAX / 8 ||
      cfg->npreopens > WASI_MAX_FDS - 3) {
    errf(errbuf, errlen, "wasi: too many args, env entries or preopens");
    return WASI_ERR_ARG;
  }
  /* One allocation holds the ctx, the pointer arrays and every string. */
  size_t abytes = 0, ebytes = 0, pbytes = 0;
  /* A packed run is checked while it is split, in the ctx's copy. */
  if (apk) {
    abytes = cfg->argv_packed_len;
  } else {
    for (size_t i = 0; i < cfg->argc; i++) {
      if (!cfg->argv[i]) {
        errf(errbuf, errlen, "wasi: argv[%zu] is NULL", i);
        return WASI_ERR_ARG;
      }
      abytes += strlen(cfg->argv[i]) + 1;
    }
  }
  if (epk) {
    ebytes = cfg->env_packed_len;
  } else {
    for (size_t i = 0; i < cfg->envc; i++) {
      if (!cfg->env[i]) {
        errf(errbuf, errlen, "wasi: env[%zu] is NULL", i);
        return WASI_ERR_ARG;
      }
      ebytes += strlen(cfg->env[i]) + 1;
    }
  }
  for (size_t i = 0; i < cfg->npreopens; i++) {
    const wasi_preopen *p = &cfg->preopens[i];
    if (!p->guest_path) {
      errf(errbuf, errlen, "wasi: preopen %zu has a NULL guest path", i);
      return WASI_ERR_ARG;
    }
    pbytes += strlen(p->guest_path) + 1;
  }
  if (abytes > UINT32_MAX || ebytes > UINT32_MAX) {
    errf(errbuf, errlen, "wasi: argv or environment larger than 4 GiB");
    return WASI_ERR_ARG;
  }
  size_t ptrs = (cfg->argc + cfg->envc) * sizeof(char *);
  wasi_ctx *ctx = malloc(sizeof *ctx + ptrs + abytes + ebytes + pbytes + 1);
  if (!ctx) {
    errf(errbuf, errlen, "wasi: out of memory");
    return WASI_ERR_NOMEM;
  }
  /* The fd slots past the stdio ones are written when installed; zeroing
   * them (and the inline stdout buffer) would cost more than the rest. */
  memset(ctx, 0, offsetof(wasi_ctx, stdout_inline));
  memset(ctx->inline_fds, 0, 3 * sizeof ctx->inline_fds[0]);
  ctx->argv = ctx->vec;
  ctx->env = ctx->vec + cfg->argc;
  char *s = (char *)(ctx->vec + cfg->argc + cfg->envc);
  ctx->argc = (uint32_t)cfg->argc;
  ctx->envc = (uint32_t)cfg->envc;
  ctx->argv_bytes = (uint32_t)abytes;
  ctx->env_bytes = (uint32_t)ebytes;
  s = copy_strv(s, apk, abytes, cfg->argv, cfg->argc, ctx->argv);
  if (!s) {
    free(ctx);
    errf(errbuf, errlen, "wasi: argv_packed does not hold exactly %zu strings", cfg->argc);
    return WASI_ERR_ARG;
  }
  s = copy_strv(s, epk, ebytes, cfg->env, cfg->envc, ctx->env);
  if (!s) {
    free(ctx);
    errf(errbuf, errlen, "wasi: env_packed does not hold exactly %zu strings", cfg->envc);
    return WASI_ERR_ARG;
  }
  ctx->fds = ctx->inline_fds;
  ctx->fds_alloc = WASI_INLINE_FDS;
  ctx->max_fds = cfg->max_fds && cfg->max_fds < WASI_MAX_FDS ? cfg->max_fds : WASI_MAX_FDS;
  if (ctx->max_fds < 3 + cfg->npreopens) ctx->max_fds = (uint32_t)(3 + cfg->npreopens);
  ctx->nfds = 3;
  ctx->stdin_buf = cfg->stdin_buf;
  ctx->stdin_len = cfg->stdin_buf ? cfg->stdin_len : 0;
  wasi_status st;
  unsigned fl = cfg->flags;
  if ((st = setup_stdio(ctx, 0, cfg->stdin_kind, cfg->stdin_fd, 0, fl, errbuf, errlen)) !=
          WASI_OK ||
      (st = setup_stdio(ctx, 1, cfg->stdout_kind, cfg->stdout_fd, cfg->stdout_cap, fl, errbuf,
                        errlen)) != WASI_OK ||
      (st = setup_stdio(ctx, 2, cfg->stderr_kind, cfg->stderr_fd, cfg->stderr_cap, fl, errbuf,
                        errlen)) != WASI_OK) {
    wasi_ctx_free(ctx);
    return st;
  }
  for (size_t i = 0; i < cfg->npreopens; i++) {
    const wasi_preopen *p = &cfg->preopens[i];
    size_t n = strlen(p->guest_path) + 1;
    memcpy(s, p->guest_path, n);
    int fd, borrowed = 0;
    if (p->host_path) {
      fd = open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
      /* Not checked further: a syscall per request is what host_fd saves;
       * a bad fd only makes the guest's calls fail. */
      fd = p->host_fd;
      borrowed = 1;
      if (fd < 0) errno = EBADF;
    }
    if (fd < 0) {
      int e = errno;
      if (cfg->flags & WASI_SKIP_BAD_PREOPENS) {
        add_warning(ctx, "wasi: skipping volume %s -> %s: %s", p->host_path ? p->host_path : "(fd)",
                    p->guest_path, strerror(e));
        continue;
      }
      errf(errbuf, errlen, "wasi: cannot open directory %s (for %s): %s",
           p->host_path ? p->host_path : "(fd)", p->guest_path, strerror(e));
      wasi_ctx_free(ctx);
      return WASI_ERR_PREOPEN;
    }
    wasi_fd f;
    memset(&f, 0, sizeof f);
    f.kind = WASI_FD_HOST;
    f.filetype = WASI_FT_DIRECTORY;
    f.host = fd;
    f.borrowed = (uint8_t)borrowed;
    f.read_only = p->read_only ? 1 : 0;
    f.base = WASI_R_DIR_BASE;
    f.inh = WASI_R_ALL;
    /* Read-only: the preopen itself has no write right, but its inheriting
     * rights stay whole so that wasi-libc asks for FD_WRITE on an O_WRONLY
     * open and path_open can refuse it there, with EROFS, as a read-only
     * mount would (instead of granting a write-less fd that fails later). */
    if (f.read_only) f.base &= ~WASI_R_WRITE_SET;
    f.prestat = s;
    f.prestat_len = (uint32_t)(n - 1);
    s += n;
    uint32_t num;
    if (wasi_fd_install(ctx, &f, &num) != WASI_ESUCCESS) {
      if (!borrowed) close(fd);
      errf(errbuf, errlen, "wasi: out of memory");
      wasi_ctx_free(ctx);
      return WASI_ERR_NOMEM;
    }
  }
  *out = ctx;
  return WASI_OK;
}

void wasi_ctx_free(wasi_ctx *ctx) {
  if (!ctx) return;
  for (uint32_t i = 0; i < ctx->nfds; i++) wasi_fd_release(&ctx->fds[i]);
  if (ctx->fds != ctx->inline_fds) free(ctx->fds);
  for (int k = 0; k < 2; k++)
    if (ctx->out[k].data != ctx->out[k].inl) free(ctx->out[k].data);
  free(ctx->warnings);
  free(ctx);
}

const char *wasi_ctx_warnings(const wasi_ctx *ctx) { return ctx ? ctx->warnings : NULL; }

static const uint8_t *outbuf_get(const wasi_outbuf *o, size_t *len) {
  static const uint8_t empty[1];
  if (len) *len = o->len;
  return o->data ? o->data : empty;
}

const uint8_t *wasi_ctx_stdout(const wasi_ctx *ctx, size_t *len) {
  return outbuf_get(&ctx->out[0], len);
}
const uint8_t *wasi_ctx_stderr(const wasi_ctx *ctx, size_t *len) {
  return outbuf_get(&ctx->out[1], len);
}
int wasi_ctx_stdout_truncated(const wasi_ctx *ctx) { return ctx->out[0].truncated; }
int wasi_ctx_stderr_truncated(const wasi_ctx *ctx) { return ctx->out[1].truncated; }
int wasi_ctx_stdout_lost(const wasi_ctx *ctx) { return ctx->out[0].lost; }
int wasi_ctx_stderr_ends_line(const wasi_ctx *ctx) { return ctx->out[1].last == '\n'; }

void wasi_ctx_interrupt(wasi_ctx *ctx) {
  if (ctx) __atomic_store_n(&ctx->interrupted, 1, __ATOMIC_RELAXED);
}

int wasi_ctx_exited(const wasi_ctx *ctx, int32_t *code) {
  if (ctx->exited && code) *code = ctx->exit_code;
  return ctx->exited;
}

/* ---- Host-function plumbing ------------------------------------------------------ */

/* The env of every host function wasi_define defines with a get_ctx: one
 * malloc'd copy per definition, owned and freed by the linker. */
typedef struct {
  wasi_get_ctx_fn fn;
  void *arg;
} binding;

wasm_status wasi_enter(wasm_instance *caller, void *env, wasi_ctx **ctx, wasm_memory_view *m) {
  const binding *b = env;
  wasi_ctx *c = NULL;
  if (caller) c = b ? b->fn(caller, b->arg) : wasm_instance_user_data(caller);
  if (!c) {
    if (caller) wasm_instance_set_trap_detail(caller, 0, "wasi: no WASI context for this instance");
    return WASM_TRAP_HOST;
  }
  /* Without a memory the view is empty: every non-empty range is refused. */
  *m = wasm_memory_view_of(wasm_instance_memory(caller));
  *ctx = c;
  return WASM_OK;
}

/* ---- args / environ ------------------------------------------------------------------ */

static wasi_errno put_strings(const wasm_memory_view *m, char **list, uint32_t n, uint32_t bytes,
                              uint32_t ptrs, uint32_t buf) {
  uint8_t *pv = wasm_view_range(m, ptrs, (uint64_t)n * 4), *bv = wasm_view_range(m, buf, bytes);
  if (!pv || !bv) return WASI_EFAULT;
  uint32_t off = 0;
  for (uint32_t i = 0; i < n; i++) {
    size_t len = strlen(list[i]) + 1;
    wasm_store_le32(pv + 4ull * i, buf + off);
    memcpy(bv + off, list[i], len);
    off += (uint32_t)len;
  }
  return WASI_ESUCCESS;
}

static wasi_errno put_sizes(const wasm_memory_view *m, uint32_t n, uint32_t bytes, uint32_t p1,
                            uint32_t p2) {
  uint8_t *d1 = wasm_view_range(m, p1, 4), *d2 = wasm_view_range(m, p2, 4);
  if (!d1 || !d2) return WASI_EFAULT;
  wasm_store_le32(d1, n);
  wasm_store_le32(d2, bytes);
  return WASI_ESUCCESS;
}

static WASI_HOSTFN(args_get) {
  WASI_ENTER();
  WASI_RET(put_strings(&m, ctx->argv, ctx->argc, ctx->argv_bytes, (uint32_t)a[0], (uint32_t)a[1]));
}
static WASI_HOSTFN(args_sizes_get) {
  WASI_ENTER();
  WASI_RET(put_sizes(&m, ctx->argc, ctx->argv_bytes, (uint32_t)a[0], (uint32_t)a[1]));
}
static WASI_HOSTFN(environ_get) {
  WASI_ENTER();
  WASI_RET(put_strings(&m, ctx->env, ctx->envc, ctx->env_bytes, (uint32_t)a[0], (uint32_t)a[1]));
}
static WASI_HOSTFN(environ_sizes_get) {
  WASI_ENTER();
  WASI_RET(put_sizes(&m, ctx->envc, ctx->env_bytes, (uint32_t)a[0], (uint32_t)a[1]));
}

/* ---- clocks ---------------------------------------------------------------------------- */

static int host_clock(uint32_t id, clockid_t *out) {
  switch (id) {
  case 0: *out = CLOCK_REALTIME; return 1;
  case 1: *out = CLOCK_MONOTONIC; return 1;
  case 2: *out = CLOCK_PROCESS_CPUTIME_ID; return 1;
  case 3: *out = CLOCK_THREAD_CPUTIME_ID; return 1;
  default: return 0;
  }
}

static uint64_t ts_ns(const struct timespec *t) {
  return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

static uint64_t now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return ts_ns(&t);
}

static WASI_HOSTFN(clock_res_get) {
  WASI_ENTER();
  clockid_t c;
  if (!host_clock((uint32_t)a[0], &c)) WASI_RET(WASI_EINVAL);
  uint8_t *d = wasm_view_range(&m, (uint32_t)a[1], 8);
  if (!d) WASI_RET(WASI_EFAULT);
  struct timespec t;
  if (clock_getres(c, &t) != 0) WASI_RET(wasi_errno_from_host(errno));
  wasm_store_le64(d, ts_ns(&t));
  WASI_RET(WASI_ESUCCESS);
}

static WASI_HOSTFN(clock_time_get) {
  WASI_ENTER();
  clockid_t c;
  if (!host_clock((uint32_t)a[0], &c)) WASI_RET(WASI_EINVAL);
  uint8_t *d = wasm_view_range(&m, (uint32_t)a[2], 8);
  if (!d) WASI_RET(WASI_EFAULT);
  struct timespec t;
  if (clock_gettime(c, &t) != 0) WASI_RET(wasi_errno_from_host(errno));
  wasm_store_le64(d, ts_ns(&t));
  WASI_RET(WASI_ESUCCESS);
}

/* ---- random, yield, proc ----------------------------------------------------------------- */

static WASI_HOSTFN(random_get) {
  WASI_ENTER();
  uint32_t n = (uint32_t)a[1];
  uint8_t *d = wasm_view_range(&m, (uint32_t)a[0], n);
  if (!d) WASI_RET(WASI_EFAULT);
  while (n) {
    ssize_t r = getrandom(d, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      WASI_RET(wasi_errno_from_host(errno));
    }
    d += r;
    n -= (uint32_t)r;
  }
  WASI_RET(WASI_ESUCCESS);
}

static WASI_HOSTFN(sched_yield) {
  WASI_ENTER();
  (void)m;
  sched_yield();
  WASI_RET(WASI_ESUCCESS);
}

static WASI_HOSTFN(proc_exit) {
  WASI_ENTER();
  (void)m;
  ctx->exited = 1;
  ctx->exit_code = (int32_t)(uint32_t)a[0];
  wasm_instance_set_trap_detail(caller, ctx->exit_code, "proc_exit");
  return WASM_TRAP_EXIT;
}

static WASI_HOSTFN(proc_raise) {
  WASI_ENTER();
  (void)m;
  WASI_RET(WASI_ENOSYS);
}

/* sock_*: the world has no sockets (none is preopened, and preview 1 has no
 * way to make one), so a valid fd is simply not one: ENOTSOCK, as wasmtime
 * answers, before any other argument is looked at; a closed fd is EBADF. */
static wasm_status sock_common(wasm_instance *caller, void *env, wasm_slot *a) {
  WASI_ENTER();
  (void)m;
  wasi_fd *f;
  if (wasi_fd_get(ctx, (uint32_t)a[0], 0, &f) != WASI_ESUCCESS) WASI_RET(WASI_EBADF);
  WASI_RET(WASI_ENOTSOCK);
}
static WASI_HOSTFN(sock_accept) { return sock_common(caller, env, a); }
static WASI_HOSTFN(sock_recv) { return sock_common(caller, env, a); }
static WASI_HOSTFN(sock_send) { return sock_common(caller, env, a); }
static WASI_HOSTFN(sock_shutdown) { return sock_common(caller, env, a); }

/* ---- poll_oneoff -------------------------------------------------------------------------- */

enum { EV_CLOCK = 0, EV_FD_READ = 1, EV_FD_WRITE = 2 };
#define WASI_POLL_MAX 65536

/* Writes one 32-byte event at ev (in bounds). */
static void put_event(uint8_t *ev, uint64_t userdata, uint16_t err, uint8_t type, uint64_t nbytes,
                      uint16_t flags) {
  memset(ev, 0, 32);
  wasm_store_le64(ev, userdata);
  wasm_store_le16(ev + 8, err);
  ev[10] = type;
  wasm_store_le64(ev + 16, nbytes);
  wasm_store_le16(ev + 24, flags);
}

/* How many bytes a read on f could return right now without blocking, for
 * the fds that are always ready (buffers, regular files); -1 = must poll. */
static int64_t ready_bytes(wasi_ctx *ctx, wasi_fd *f, int write, uint16_t *flags) {
  *flags = 0;
  switch (f->kind) {
  case WASI_FD_INBUF:
    if (write) return 0;
    if (ctx->stdin_pos >= ctx->stdin_len) *flags = 1; /* HANGUP */
    return (int64_t)(ctx->stdin_len - ctx->stdin_pos);
  case WASI_FD_NULL:
    if (!write) *flags = 1;
    return 0;
  case WASI_FD_OUTBUF: return 0;
  case WASI_FD_HOST:
    if (f->filetype == WASI_FT_REGULAR_FILE) {
      if (write) return 0;
      struct stat st;
      off_t pos = lseek(f->host, 0, SEEK_CUR);
      if (fstat(f->host, &st) != 0 || pos < 0 || st.st_size <= pos) return 0;
      return (int64_t)(st.st_size - pos);
    }
    if (f->filetype == WASI_FT_DIRECTORY) return 0;
    return -1;
  }
  return 0;
}

static void (*blocking_hook)(void);
void wasi_set_blocking_hook(void (*hook)(void)) { blocking_hook = hook; }

/* The slice a blocked guest waits at most before checking for interrupts. */
#define WASI_WAIT_SLICE_NS 10000000ull

int wasi_interrupted(wasi_ctx *ctx, wasm_instance *caller) {
  return __atomic_load_n(&ctx->interrupted, __ATOMIC_RELAXED) ||
         wasm_instance_interrupt_pending(caller);
}

int wasi_wait_fd(wasi_ctx *ctx, wasm_instance *caller, int fd, short events) {
  if (blocking_hook) blocking_hook();
  const struct timespec slice = {0, (long)WASI_WAIT_SLICE_NS};
  for (;;) {
    if (wasi_interrupted(ctx, caller)) return 1;
    struct pollfd p = {fd, events, 0};
    int r = ppoll(&p, 1, &slice, NULL);
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return -errno;
  }
}

static wasm_status poll_common(wasm_instance *caller, void *env, wasm_slot *a, int unstable) {
  WASI_ENTER();
  uint32_t in = (uint32_t)a[0], outp = (uint32_t)a[1], nsubs = (uint32_t)a[2],
           nevp = (uint32_t)a[3];
  uint64_t ssz = unstable ? 56 : 48;
  /* The cap keeps the host arrays small whatever the guest's memory size. */
  if (nsubs == 0 || nsubs > WASI_POLL_MAX) WASI_RET(WASI_EINVAL);
  const uint8_t *subs = wasm_view_range(&m, in, ssz * nsubs);
  uint8_t *events = wasm_view_range(&m, outp, 32ull * nsubs),
          *nev_out = wasm_view_range(&m, nevp, 4);
  if (!subs || !events || !nev_out) WASI_RET(WASI_EFAULT);
  /* Subscriptions are copied out first: the guest may let the event array
   * overlap them, and events written early must not change what is read
   * later (at most one event per subscription, so nev <= nsubs). */
  struct pollfd *pfd = malloc(sizeof *pfd * nsubs);
  uint32_t *pidx = malloc(sizeof *pidx * nsubs);
  uint8_t *copy = malloc(ssz * nsubs);
  if (!pfd || !pidx || !copy) {
    free(pfd);
    free(pidx);
    free(copy);
    WASI_RET(WASI_ENOMEM);
  }
  memcpy(copy, subs, ssz * nsubs);
  uint32_t npfd = 0, nev = 0;
  uint64_t now = now_ns(CLOCK_MONOTONIC);
  uint64_t deadline = UINT64_MAX;
  int immediate = 0;
  /* Pass 1: immediate results and the earliest clock deadline. */
  for (uint32_t i = 0; i < nsubs; i++) {
    uint64_t s = ssz * i;
    uint64_t ud = wasm_load_le64(copy + s);
    uint8_t tag = copy[s + 8];
    if (tag == EV_CLOCK) {
      uint64_t c = s + (unstable ? 24 : 16);
      uint32_t id = wasm_load_le32(copy + c);
      uint64_t timeout = wasm_load_le64(copy + c + 8);
      uint16_t fl = wasm_load_le16(copy + c + 24);
      clockid_t hc;
      if (!host_clock(id, &hc)) {
        put_event(events + 32ull * nev++, ud, WASI_EINVAL, EV_CLOCK, 0, 0);
        immediate = 1;
        continue;
      }
      uint64_t d;
      if (fl & 1) { /* absolute: convert to a monotonic deadline */
        uint64_t cn = now_ns(hc);
        d = timeout <= cn ? now : now + (timeout - cn);
      } else {
        d = timeout > UINT64_MAX - now ? UINT64_MAX : now + timeout;
      }
      if (d < deadline) deadline = d;
    } else if (tag == EV_FD_READ || tag == EV_FD_WRITE) {
      uint32_t fdn = wasm_load_le32(copy + s + 16);
      wasi_fd *f;
      wasi_errno e = wasi_fd_get(ctx, fdn, WASI_R_POLL_FD_READWRITE, &f);
      if (e) {
        put_event(events + 32ull * nev++, ud, e, tag, 0, 0);
        immediate = 1;
        continue;
      }
      uint16_t fl;
      int64_t nb = ready_bytes(ctx, f, tag == EV_FD_WRITE, &fl);
      if (nb >= 0) {
        put_event(events + 32ull * nev++, ud, 0, tag, (uint64_t)nb, fl);
        immediate = 1;
      } else {
        pfd[npfd].fd = f->host;
        pfd[npfd].events = tag == EV_FD_READ ? POLLIN : POLLOUT;
        pfd[npfd].revents = 0;
        pidx[npfd++] = i;
      }
    } else {
      put_event(events + 32ull * nev++, ud, WASI_EINVAL, tag, 0, 0);
      immediate = 1;
    }
  }
  /* Wait: not at all when something is ready, else until the first clock
   * or fd, in slices so that wasi_ctx_interrupt() or
   * wasm_instance_interrupt() on the caller is seen. */
  const uint64_t slice = WASI_WAIT_SLICE_NS;
  if (!immediate && blocking_hook) blocking_hook();
  for (;;) {
    uint64_t left = 0;
    int forever = 0;
    if (!immediate) {
      if (deadline == UINT64_MAX) {
        forever = 1;
      } else {
        uint64_t cur = now_ns(CLOCK_MONOTONIC);
        left = deadline > cur ? deadline - cur : 0;
      }
    }
    uint64_t wait = forever || left > slice ? slice : left;
    struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
    int r = 0;
    if (npfd) r = ppoll(pfd, npfd, &ts, NULL);
    else if (wait) r = nanosleep(&ts, NULL);
    if (r < 0 && errno != EINTR) {
      int e = errno;
      free(pfd);
      free(pidx);
      free(copy);
      WASI_RET(wasi_errno_from_host(e));
    }
    if (r > 0 || immediate || (!forever && wait == left && r == 0)) break;
    if (wasi_interrupted(ctx, caller)) {
      free(pfd);
      free(pidx);
      free(copy);
      wasm_instance_set_trap_detail(caller, 0, "interrupted in poll_oneoff");
      return WASM_TRAP_INTERRUPTED;
    }
  }
  for (uint32_t k = 0; k < npfd; k++) {
    if (!pfd[k].revents) continue;
    uint64_t s = ssz * pidx[k];
    uint8_t tag = copy[s + 8];
    uint16_t err = (pfd[k].revents & POLLNVAL) ? WASI_EBADF : 0;
    uint16_t fl = (pfd[k].revents & POLLHUP) ? 1 : 0;
    int avail = 0;
    if (tag == EV_FD_READ && !err && ioctl(pfd[k].fd, FIONREAD, &avail) != 0) avail = 0;
    put_event(events + 32ull * nev++, wasm_load_le64(copy + s), err, tag,
              avail > 0 ? (uint64_t)avail : 0, fl);
  }
  uint64_t cur = now_ns(CLOCK_MONOTONIC);
  if (deadline != UINT64_MAX && deadline <= cur) {
    for (uint32_t i = 0; i < nsubs; i++) {
      uint64_t s = ssz * i;
      if (copy[s + 8] != EV_CLOCK) continue;
      uint64_t c = s + (unstable ? 24 : 16);
      clockid_t hc;
      if (!host_clock(wasm_load_le32(copy + c), &hc)) continue; /* already reported */
      uint64_t timeout = wasm_load_le64(copy + c + 8);
      uint64_t d;
      if (wasm_load_le16(copy + c + 24) & 1) {
        uint64_t cn = now_ns(hc);
        d = timeout <= cn ? 0 : cur + (timeout - cn);
      } else {
        d = timeout > UINT64_MAX - now ? UINT64_MAX : now + timeout;
      }
      if (d <= cur) put_event(events + 32ull * nev++, wasm_load_le64(copy + s), 0, EV_CLOCK, 0, 0);
    }
  }
  free(pfd);
  free(pidx);
  free(copy);
  wasm_store_le32(nev_out, nev);
  WASI_RET(WASI_ESUCCESS);
}

static WASI_HOSTFN(poll_oneoff) { return poll_common(caller, env, a, 0); }
static WASI_HOSTFN(poll_oneoff_u) { return poll_common(caller, env, a, 1); }

/* ---- Definitions ---------------------------------------------------------------------------- */

/* Functions defined in the other files. */
WASI_HOSTFN(fd_advise);
WASI_HOSTFN(fd_allocate);
WASI_HOSTFN(fd_close);
WASI_HOSTFN(fd_datasync);
WASI_HOSTFN(fd_fdstat_get);
WASI_HOSTFN(fd_fdstat_set_flags);
WASI_HOSTFN(fd_fdstat_set_rights);
WASI_HOSTFN(fd_filestat_get);
WASI_HOSTFN(fd_filestat_get_u);
WASI_HOSTFN(fd_filestat_set_size);
WASI_HOSTFN(fd_filestat_set_times);
WASI_HOSTFN(fd_pread);
WASI_HOSTFN(fd_prestat_get);
WASI_HOSTFN(fd_prestat_dir_name);
WASI_HOSTFN(fd_pwrite);
WASI_HOSTFN(fd_read);
WASI_HOSTFN(fd_readdir);
WASI_HOSTFN(fd_renumber);
WASI_HOSTFN(fd_seek);
WASI_HOSTFN(fd_seek_u);
WASI_HOSTFN(fd_sync);
WASI_HOSTFN(fd_tell);
WASI_HOSTFN(fd_write);
WASI_HOSTFN(path_create_directory);
WASI_HOSTFN(path_filestat_get);
WASI_HOSTFN(path_filestat_get_u);
WASI_HOSTFN(path_filestat_set_times);
WASI_HOSTFN(path_link);
WASI_HOSTFN(path_open);
WASI_HOSTFN(path_readlink);
WASI_HOSTFN(path_remove_directory);
WASI_HOSTFN(path_rename);
WASI_HOSTFN(path_symlink);
WASI_HOSTFN(path_unlink_file);

typedef struct {
  const char *name;
  const char *sig;
  wasm_host_fn p1; /* wasi_snapshot_preview1 */
  wasm_host_fn u;  /* wasi_unstable (NULL: absent there) */
} fn_def;

#define SAME(n, s)                                                                                 \
  { #n, s, wasi_fn_##n, wasi_fn_##n }
static const fn_def defs[] = {
    SAME(args_get, "ii->i"),
    SAME(args_sizes_get, "ii->i"),
    SAME(environ_get, "ii->i"),
    SAME(environ_sizes_get, "ii->i"),
    SAME(clock_res_get, "ii->i"),
    SAME(clock_time_get, "iIi->i"),
    SAME(fd_advise, "iIIi->i"),
    SAME(fd_allocate, "iII->i"),
    SAME(fd_close, "i->i"),
    SAME(fd_datasync, "i->i"),
    SAME(fd_fdstat_get, "ii->i"),
    SAME(fd_fdstat_set_flags, "ii->i"),
    SAME(fd_fdstat_set_rights, "iII->i"),
    {"fd_filestat_get", "ii->i", wasi_fn_fd_filestat_get, wasi_fn_fd_filestat_get_u},
    SAME(fd_filestat_set_size, "iI->i"),
    SAME(fd_filestat_set_times, "iIIi->i"),
    SAME(fd_pread, "iiiIi->i"),
    SAME(fd_prestat_get, "ii->i"),
    SAME(fd_prestat_dir_name, "iii->i"),
    SAME(fd_pwrite, "iiiIi->i"),
    SAME(fd_read, "iiii->i"),
    SAME(fd_readdir, "iiiIi->i"),
    SAME(fd_renumber, "ii->i"),
    {"fd_seek", "iIii->i", wasi_fn_fd_seek, wasi_fn_fd_seek_u},
    SAME(fd_sync, "i->i"),
    SAME(fd_tell, "ii->i"),
    SAME(fd_write, "iiii->i"),
    SAME(path_create_directory, "iii->i"),
    {"path_filestat_get", "iiiii->i", wasi_fn_path_filestat_get, wasi_fn_path_filestat_get_u},
    SAME(path_filestat_set_times, "iiiiIIi->i"),
    SAME(path_link, "iiiiiii->i"),
    SAME(path_open, "iiiiiIIii->i"),
    SAME(path_readlink, "iiiiii->i"),
    SAME(path_remove_directory, "iii->i"),
    SAME(path_rename, "iiiiii->i"),
    SAME(path_symlink, "iiiii->i"),
    SAME(path_unlink_file, "iii->i"),
    {"poll_oneoff", "iiii->i", wasi_fn_poll_oneoff, wasi_fn_poll_oneoff_u},
    SAME(proc_exit, "i->"),
    SAME(proc_raise, "i->i"),
    SAME(sched_yield, "->i"),
    SAME(random_get, "ii->i"),
    {"sock_accept", "iii->i", wasi_fn_sock_accept, NULL},
    SAME(sock_recv, "iiiiii->i"),
    SAME(sock_send, "iiiii->i"),
    SAME(sock_shutdown, "ii->i"),
};

/* One definition; with a get_ctx, its own binding for the linker to own. */
static wasm_status define_one(wasm_linker *l, const char *module, const char *name, const char *sig,
                              wasm_host_fn fn, wasi_get_ctx_fn get_ctx, void *arg) {
  if (!get_ctx) return wasm_linker_define_func(l, module, name, sig, fn, NULL);
  binding *b = malloc(sizeof *b);
  if (!b) return WASM_ERR_NOMEM;
  *b = (binding){get_ctx, arg};
  return wasm_linker_define_func_owned(l, module, name, sig, fn, b, free);
}

wasm_status wasi_define(wasm_linker *l, wasi_get_ctx_fn get_ctx, void *arg) {
  if (!l) return WASM_ERR_ARG;
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
    wasm_status s = define_one(l, "wasi_snapshot_preview1", defs[i].name, defs[i].sig, defs[i].p1,
                               get_ctx, arg);
    if (s == WASM_OK && defs[i].u)
      s = define_one(l, "wasi_unstable", defs[i].name, defs[i].sig, defs[i].u, get_ctx, arg);
    if (s != WASM_OK) return s;
  }
  return WASM_OK;
}

wasm_status wasi_run(wasm_instance *inst, const char *entry, int *exit_code, wasm_error *err) {
  wasm_error local;
  if (!err) err = &local;
  memset(err, 0, sizeof *err);
  if (exit_code) *exit_code = 0;
  if (!inst || !entry) {
    err->status = WASM_ERR_ARG;
    snprintf(err->msg, sizeof err->msg, "wasi_run: NULL instance or entry point");
    return WASM_ERR_ARG;
  }
  wasm_func *f = wasm_instance_export_func(inst, entry);
  if (!f) {
    err->status = WASM_ERR_NOT_FOUND;
    err->func = UINT32_MAX;
    err->offset = UINT32_MAX;
    snprintf(err->msg, sizeof err->msg, "no exported function '%s'", entry);
    return WASM_ERR_NOT_FOUND;
  }
  wasm_status s = wasm_func_call(f, NULL, 0, NULL, 0, err);
  if (s == WASM_TRAP_EXIT) {
    if (exit_code) *exit_code = err->exit_code;
    return WASM_OK;
  }
  return s;
}

wasm_status wasi_run_start(wasm_instance *inst, int *exit_code, wasm_error *err) {
  return wasi_run(inst, "_start", exit_code, err);
}
