/* wasi_fd.c — the per-ctx fd table and the fd_* functions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, openat2, ppoll, AT_EMPTY_PATH */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi_int.h"

/* ---- fd table ------------------------------------------------------------------ */

wasi_errno wasi_fd_get(wasi_ctx *ctx, uint32_t fd, uint64_t need, wasi_fd **out) {
  if (fd >= ctx->nfds || ctx->fds[fd].kind == WASI_FD_FREE) return WASI_EBADF;
  wasi_fd *f = &ctx->fds[fd];
  if (__builtin_expect(f->lazy, 0)) wasi_fd_resolve_lazy(f);
  uint64_t missing = need & ~f->base;
  if (missing)
    return (f->read_only && (missing & WASI_R_WRITE_SET)) ? WASI_EROFS : WASI_ENOTCAPABLE;
  *out = f;
  return WASI_ESUCCESS;
}

wasi_errno wasi_fd_install(wasi_ctx *ctx, const wasi_fd *f, uint32_t *out) {
  uint32_t i;
  for (i = 3; i < ctx->nfds; i++)
    if (ctx->fds[i].kind == WASI_FD_FREE) break;
  if (i == ctx->nfds) {
    if (i >= ctx->max_fds) return WASI_EMFILE;
    if (i == ctx->fds_alloc) {
      uint32_t na = ctx->fds_alloc * 2;
      if (na > WASI_MAX_FDS) na = WASI_MAX_FDS;
      wasi_fd *nf;
      if (ctx->fds == ctx->inline_fds) {
        nf = malloc(sizeof *nf * na);
        if (nf) memcpy(nf, ctx->fds, sizeof *nf * ctx->nfds);
      } else {
        nf = realloc(ctx->fds, sizeof *nf * na);
      }
      if (!nf) return WASI_ENOMEM;
      ctx->fds = nf;
      ctx->fds_alloc = na;
    }
    ctx->nfds++;
  }
  ctx->fds[i] = *f;
  *out = i;
  return WASI_ESUCCESS;
}

void wasi_fd_release(wasi_fd *f) {
  if (f->kind == WASI_FD_HOST && !f->borrowed && f->host >= 0) close(f->host);
  if (f->rd_fd1) close(f->rd_fd1 - 1);
  memset(f, 0, sizeof *f);
  f->kind = WASI_FD_FREE;
  f->host = -1;
}

static void trim_table(wasi_ctx *ctx) {
  while (ctx->nfds > 3 && ctx->fds[ctx->nfds - 1].kind == WASI_FD_FREE) ctx->nfds--;
}

uint8_t wasi_filetype_of_mode(mode_t m) {
  switch (m & S_IFMT) {
  case S_IFREG: return WASI_FT_REGULAR_FILE;
  case S_IFDIR: return WASI_FT_DIRECTORY;
  case S_IFLNK: return WASI_FT_SYMBOLIC_LINK;
  case S_IFCHR: return WASI_FT_CHARACTER_DEVICE;
  case S_IFBLK: return WASI_FT_BLOCK_DEVICE;
  case S_IFSOCK: return WASI_FT_SOCKET_STREAM;
  default: return WASI_FT_UNKNOWN; /* FIFOs have no WASI type */
  }
}

/* ---- plumbing ---------------------------------------------------------------------- */

static uint64_t stat_ns(struct timespec t) {
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Writes a filestat at dst, which the caller checked (64 bytes; 56 in
 * wasi_unstable, whose nlink is u32). */
void wasi_put_filestat(uint8_t *dst, const struct stat *st, int unstable);
void wasi_put_filestat(uint8_t *dst, const struct stat *st, int unstable) {
  uint8_t b[64];
  memset(b, 0, sizeof b);
  uint64_t dev = st->st_dev, ino = st->st_ino, size = (uint64_t)st->st_size;
  uint64_t at = stat_ns(st->st_atim), mt = stat_ns(st->st_mtim), ct = stat_ns(st->st_ctim);
  memcpy(b, &dev, 8);
  memcpy(b + 8, &ino, 8);
  b[16] = wasi_filetype_of_mode(st->st_mode);
  if (unstable) {
    uint32_t nl = (uint32_t)st->st_nlink;
    memcpy(b + 20, &nl, 4);
    memcpy(b + 24, &size, 8);
    memcpy(b + 32, &at, 8);
    memcpy(b + 40, &mt, 8);
    memcpy(b + 48, &ct, 8);
    memcpy(dst, b, 56);
  } else {
    uint64_t nl = st->st_nlink;
    memcpy(b + 24, &nl, 8);
    memcpy(b + 32, &size, 8);
    memcpy(b + 40, &at, 8);
    memcpy(b + 48, &mt, 8);
    memcpy(b + 56, &ct, 8);
    memcpy(dst, b, 64);
  }
}

/* Timespecs for futimens/utimensat from WASI times and fstflags. */
int wasi_times(uint64_t atim, uint64_t mtim, uint32_t fl, struct timespec ts[2]);
int wasi_times(uint64_t atim, uint64_t mtim, uint32_t fl, struct timespec ts[2]) {
  if (fl & ~15u) return 0;
  if ((fl & WASI_FST_ATIM) && (fl & WASI_FST_ATIM_NOW)) return 0;
  if ((fl & WASI_FST_MTIM) && (fl & WASI_FST_MTIM_NOW)) return 0;
  ts[0].tv_sec = 0;
  ts[1].tv_sec = 0;
  ts[0].tv_nsec = (fl & WASI_FST_ATIM_NOW) ? UTIME_NOW : (fl & WASI_FST_ATIM) ? 0 : UTIME_OMIT;
  ts[1].tv_nsec = (fl & WASI_FST_MTIM_NOW) ? UTIME_NOW : (fl & WASI_FST_MTIM) ? 0 : UTIME_OMIT;
  if (fl & WASI_FST_ATIM) {
    ts[0].tv_sec = (time_t)(atim / 1000000000ull);
    ts[0].tv_nsec = (long)(atim % 1000000000ull);
  }
  if (fl & WASI_FST_MTIM) {
    ts[1].tv_sec = (time_t)(mtim / 1000000000ull);
    ts[1].tv_nsec = (long)(mtim % 1000000000ull);
  }
  return 1;
}

/* ---- read / write ------------------------------------------------------------------- */

/* Checks an iovec array and every buffer it names; fills host iovecs. */
static wasi_errno load_iovs(const wasm_memory_view *m, uint32_t iovs, uint32_t n,
                            struct iovec *out) {
  const uint8_t *v = wasm_view_range(m, iovs, 8ull * n);
  if (!v) return WASI_EFAULT;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len = wasm_load_le32(v + 8ull * i + 4);
    uint8_t *p = wasm_view_range(m, wasm_load_le32(v + 8ull * i), len);
    if (!p) return WASI_EFAULT;
    out[i].iov_base = p;
    out[i].iov_len = len;
  }
  return WASI_ESUCCESS;
}

/* Appends to a capture buffer up to its cap; EFBIG once nothing fits. */
static wasi_errno outbuf_write(wasi_outbuf *o, const struct iovec *iov, uint32_t n, size_t *done) {
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) total += iov[i].iov_len;
  size_t room = o->cap - o->len;
  size_t take = total < room ? total : room;
  if (take < total) o->truncated = 1;
  if (total && !take) return WASI_EFBIG;
  if (o->len + take > o->alloc) {
    if (!o->data && o->inl && take <= o->inl_size) {
      o->data = o->inl;
      o->alloc = o->inl_size;
    } else {
      size_t na = o->alloc > 4096 ? o->alloc : 4096;
      while (na < o->len + take) na = na > SIZE_MAX / 2 ? SIZE_MAX : na * 2;
      if (na > o->cap && o->cap >= o->len + take) na = o->cap;
      uint8_t *d;
      if (o->data == o->inl) {
        d = malloc(na);
        if (d && o->len) memcpy(d, o->data, o->len);
      } else {
        d = realloc(o->data, na);
      }
      if (!d) {
        o->lost = 1;
        return WASI_ENOMEM;
      }
      o->data = d;
      o->alloc = na;
    }
  }
  size_t left = take;
  for (uint32_t i = 0; i < n && left; i++) {
    size_t c = iov[i].iov_len < left ? iov[i].iov_len : left;
    memcpy(o->data + o->len, iov[i].iov_base, c);
    o->len += c;
    left -= c;
  }
  *done = take;
  return WASI_ESUCCESS;
}

/* A write to an embedder's stdout/stderr fd with a cap: what fits goes to
 * the fd, the rest is dropped while the guest is told it was written (a
 * module that stops on a failed log write must not fail its request). */
static wasi_errno capped_write(int fd, wasi_outbuf *o, struct iovec *iov, uint32_t n,
                               size_t *done) {
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) total += iov[i].iov_len;
  size_t room = o->cap - o->passed;
  bool cut = total > room;
  if (cut) {
    o->truncated = 1;
    size_t left = room;
    uint32_t k = 0;
    for (; k < n && left; k++) {
      if (iov[k].iov_len > left) iov[k].iov_len = left;
      left -= iov[k].iov_len;
    }
    n = k;
  }
  ssize_t r = 0;
  if (n) {
    do r = writev(fd, iov, (int)n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return wasi_errno_from_host(errno);
    o->passed += (size_t)r;
    size_t at = (size_t)r; /* the last byte written */
    for (uint32_t i = 0; i < n && at; i++) {
      if (at <= iov[i].iov_len) {
        o->last = ((const uint8_t *)iov[i].iov_base)[at - 1];
        break;
      }
      at -= iov[i].iov_len;
    }
  }
  *done = cut ? total : (size_t)r;
  return WASI_ESUCCESS;
}

static size_t inbuf_read(wasi_ctx *ctx, const struct iovec *iov, uint32_t n) {
  size_t done = 0;
  for (uint32_t i = 0; i < n && ctx->stdin_pos < ctx->stdin_len; i++) {
    size_t left = ctx->stdin_len - ctx->stdin_pos;
    size_t c = iov[i].iov_len < left ? iov[i].iov_len : left;
    memcpy(iov[i].iov_base, ctx->stdin_buf + ctx->stdin_pos, c);
    ctx->stdin_pos += c;
    done += c;
  }
  return done;
}

/* fd_read / fd_write / fd_pread / fd_pwrite in one place. off < 0: no offset. */
static wasm_status rw_common(wasm_instance *caller, void *env, wasm_slot *a, int write,
                             int positional) {
  WASI_ENTER();
  uint32_t fdn = (uint32_t)a[0], iovs = (uint32_t)a[1], n = (uint32_t)a[2];
  uint64_t off = positional ? a[3] : 0;
  uint32_t resp = (uint32_t)(positional ? a[4] : a[3]);
  uint64_t need = (write ? WASI_R_FD_WRITE : WASI_R_FD_READ) | (positional ? WASI_R_FD_SEEK : 0);
  WASI_GETFD(f, fdn, need);
  if (n > WASI_IOV_MAX) WASI_RET(WASI_EINVAL);
  uint8_t *resp_at = wasm_view_range(&m, resp, 4);
  if (!resp_at) WASI_RET(WASI_EFAULT);
  if (positional && off > INT64_MAX) WASI_RET(WASI_EINVAL);
  struct iovec small[16];
  struct iovec *iov = n <= 16 ? small : malloc(sizeof *iov * n);
  if (!iov) WASI_RET(WASI_ENOMEM);
  wasi_errno e = load_iovs(&m, iovs, n, iov);
  size_t done = 0;
  if (!e) {
    switch (f->kind) {
    case WASI_FD_HOST: {
      if (write && f->out && !positional) {
        e = capped_write(f->host, f->out, iov, n, &done);
        break;
      }
      ssize_t r;
      for (;;) {
        do {
          if (positional)
            r = write ? pwritev(f->host, iov, (int)n, (off_t)off)
                      : preadv(f->host, iov, (int)n, (off_t)off);
          else r = write ? writev(f->host, iov, (int)n) : readv(f->host, iov, (int)n);
        } while (r < 0 && errno == EINTR);
        /* FIFOs, sockets and devices stay O_NONBLOCK on the host (see
         * path_open); a guest that did not ask for NONBLOCK waits here, where
         * an interrupt can end the wait, not inside read(2). */
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
            (f->fdflags & WASI_FDF_NONBLOCK))
          break;
        int w = wasi_wait_fd(ctx, caller, f->host, write ? POLLOUT : POLLIN);
        if (w == 1) {
          if (iov != small) free(iov);
          wasm_instance_set_trap_detail(caller, 0,
                                        write ? "interrupted in fd_write" : "interrupted in fd_read");
          return WASM_TRAP_INTERRUPTED;
        }
        if (w < 0) {
          errno = -w;
          break;
        }
      }
      if (r < 0) e = wasi_errno_from_host(errno);
      else done = (size_t)r;
      break;
    }
    case WASI_FD_INBUF:
      if (positional) e = WASI_ESPIPE;
      else done = inbuf_read(ctx, iov, n);
      break;
    case WASI_FD_OUTBUF:
      if (positional) e = WASI_ESPIPE;
      else e = outbuf_write(f->out, iov, n, &done);
      break;
    case WASI_FD_NULL:
      if (positional) {
        e = WASI_ESPIPE;
      } else if (write) {
        for (uint32_t i = 0; i < n; i++) done += iov[i].iov_len;
      }
      break;
    default: e = WASI_EBADF;
    }
  }
  if (iov != small) free(iov);
  if (e) WASI_RET(e);
  wasm_store_le32(resp_at, (uint32_t)done);
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_read) { return rw_common(caller, env, a, 0, 0); }
WASI_HOSTFN(fd_write) { return rw_common(caller, env, a, 1, 0); }
WASI_HOSTFN(fd_pread) { return rw_common(caller, env, a, 0, 1); }
WASI_HOSTFN(fd_pwrite) { return rw_common(caller, env, a, 1, 1); }

/* ---- seek / tell -------------------------------------------------------------------- */

static wasm_status seek_common(wasm_instance *caller, void *env, wasm_slot *a, int unstable) {
  WASI_ENTER();
  int64_t off = (int64_t)a[1];
  uint32_t wh = (uint32_t)a[2] & 0xff, resp = (uint32_t)a[3];
  int hw;
  /* preview1: SET 0, CUR 1, END 2; wasi_unstable: CUR 0, END 1, SET 2. */
  static const int p1map[3] = {SEEK_SET, SEEK_CUR, SEEK_END};
  static const int umap[3] = {SEEK_CUR, SEEK_END, SEEK_SET};
  if (wh > 2) WASI_RET(WASI_EINVAL);
  hw = unstable ? umap[wh] : p1map[wh];
  uint64_t need = (hw == SEEK_CUR && off == 0) ? WASI_R_FD_TELL : WASI_R_FD_SEEK;
  WASI_GETFD(f, (uint32_t)a[0], need);
  uint8_t *resp_at = wasm_view_range(&m, resp, 8);
  if (!resp_at) WASI_RET(WASI_EFAULT);
  if (f->kind == WASI_FD_NULL) { /* like /dev/null */
    wasm_store_le64(resp_at, 0);
    WASI_RET(WASI_ESUCCESS);
  }
  if (f->kind != WASI_FD_HOST) WASI_RET(WASI_ESPIPE);
  off_t r = lseek(f->host, (off_t)off, hw);
  if (r < 0) WASI_RET(wasi_errno_from_host(errno));
  wasm_store_le64(resp_at, (uint64_t)r);
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_seek) { return seek_common(caller, env, a, 0); }
WASI_HOSTFN(fd_seek_u) { return seek_common(caller, env, a, 1); }

WASI_HOSTFN(fd_tell) {
  WASI_ENTER();
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_TELL);
  uint8_t *resp_at = wasm_view_range(&m, (uint32_t)a[1], 8);
  if (!resp_at) WASI_RET(WASI_EFAULT);
  if (f->kind == WASI_FD_NULL) {
    wasm_store_le64(resp_at, 0);
    WASI_RET(WASI_ESUCCESS);
  }
  if (f->kind != WASI_FD_HOST) WASI_RET(WASI_ESPIPE);
  off_t r = lseek(f->host, 0, SEEK_CUR);
  if (r < 0) WASI_RET(wasi_errno_from_host(errno));
  wasm_store_le64(resp_at, (uint64_t)r);
  WASI_RET(WASI_ESUCCESS);
}

/* ---- close / renumber -------------------------------------------------------------- */

WASI_HOSTFN(fd_close) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], 0);
  wasi_fd_release(f);
  trim_table(ctx);
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_renumber) {
  WASI_ENTER();
  (void)m;
  uint32_t from = (uint32_t)a[0], to = (uint32_t)a[1];
  WASI_GETFD(ff, from, 0);
  WASI_GETFD(tf, to, 0);
  if (from == to) WASI_RET(WASI_ESUCCESS);
  wasi_fd_release(tf);
  *tf = *ff;
  memset(ff, 0, sizeof *ff);
  ff->kind = WASI_FD_FREE;
  ff->host = -1;
  trim_table(ctx);
  WASI_RET(WASI_ESUCCESS);
}

/* ---- fdstat ------------------------------------------------------------------------- */

WASI_HOSTFN(fd_fdstat_get) {
  WASI_ENTER();
  WASI_GETFD(f, (uint32_t)a[0], 0);
  uint8_t *dst = wasm_view_range(&m, (uint32_t)a[1], 24);
  if (!dst) WASI_RET(WASI_EFAULT);
  uint8_t b[24];
  memset(b, 0, sizeof b);
  b[0] = f->filetype;
  memcpy(b + 2, &f->fdflags, 2);
  memcpy(b + 8, &f->base, 8);
  memcpy(b + 16, &f->inh, 8);
  memcpy(dst, b, 24);
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_fdstat_set_flags) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_FDSTAT_SET_FLAGS);
  uint32_t fl = (uint32_t)a[1] & 0xffff;
  if (fl & ~31u) WASI_RET(WASI_EINVAL);
  /* Only APPEND and NONBLOCK can change on an open Linux fd; the embedder's
   * own fds (stdio) are never modified, the flags are only recorded. */
  if (f->kind == WASI_FD_HOST && !f->borrowed) {
    if ((fl ^ f->fdflags) & (WASI_FDF_DSYNC | WASI_FDF_RSYNC | WASI_FDF_SYNC))
      WASI_RET(WASI_ENOTSUP);
    int cur = fcntl(f->host, F_GETFL);
    if (cur < 0) WASI_RET(wasi_errno_from_host(errno));
    cur &= ~(O_APPEND | O_NONBLOCK);
    if (fl & WASI_FDF_APPEND) cur |= O_APPEND;
    /* special files stay non-blocking on the host whatever the guest asks
     * (rw_common waits for them, interruptibly) */
    if ((fl & WASI_FDF_NONBLOCK) || wasi_fd_special(f)) cur |= O_NONBLOCK;
    if (fcntl(f->host, F_SETFL, cur) < 0) WASI_RET(wasi_errno_from_host(errno));
  }
  f->fdflags = (uint16_t)fl;
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_fdstat_set_rights) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], 0);
  uint64_t base = a[1], inh = a[2];
  /* Rights can only shrink. */
  if ((base & ~f->base) || (inh & ~f->inh)) WASI_RET(WASI_ENOTCAPABLE);
  f->base = base;
  f->inh = inh;
  WASI_RET(WASI_ESUCCESS);
}

/* ---- filestat ---------------------------------------------------------------------------- */

static wasm_status filestat_common(wasm_instance *caller, void *env, wasm_slot *a, int unstable) {
  WASI_ENTER();
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_FILESTAT_GET);
  uint8_t *dst = wasm_view_range(&m, (uint32_t)a[1], unstable ? 56 : 64);
  if (!dst) WASI_RET(WASI_EFAULT);
  struct stat st;
  memset(&st, 0, sizeof st);
  if (f->kind == WASI_FD_HOST) {
    if (fstat(f->host, &st) != 0) WASI_RET(wasi_errno_from_host(errno));
  } else {
    st.st_mode = f->filetype == WASI_FT_CHARACTER_DEVICE ? S_IFCHR : 0;
    st.st_nlink = 1;
  }
  wasi_put_filestat(dst, &st, unstable);
  if (f->kind == WASI_FD_HOST && f->borrowed) {
    /* keep the type fdstat reports (a FIFO is UNKNOWN either way) */
    dst[16] = f->filetype;
  }
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_filestat_get) { return filestat_common(caller, env, a, 0); }
WASI_HOSTFN(fd_filestat_get_u) { return filestat_common(caller, env, a, 1); }

WASI_HOSTFN(fd_filestat_set_size) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_FILESTAT_SET_SIZE);
  uint64_t size = a[1];
  if (size > INT64_MAX) WASI_RET(WASI_EINVAL);
  if (f->kind != WASI_FD_HOST) WASI_RET(WASI_EINVAL);
  if (ftruncate(f->host, (off_t)size) != 0) WASI_RET(wasi_errno_from_host(errno));
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_filestat_set_times) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_FILESTAT_SET_TIMES);
  struct timespec ts[2];
  if (!wasi_times(a[1], a[2], (uint32_t)a[3] & 0xffff, ts)) WASI_RET(WASI_EINVAL);
  if (f->kind != WASI_FD_HOST) WASI_RET(WASI_EBADF);
  if (futimens(f->host, ts) != 0) WASI_RET(wasi_errno_from_host(errno));
  WASI_RET(WASI_ESUCCESS);
}

/* ---- sync, advise, allocate -------------------------------------------------------------- */

WASI_HOSTFN(fd_sync) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_SYNC);
  if (f->kind == WASI_FD_HOST && fsync(f->host) != 0) WASI_RET(wasi_errno_from_host(errno));
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_datasync) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_DATASYNC);
  if (f->kind == WASI_FD_HOST && fdatasync(f->host) != 0) WASI_RET(wasi_errno_from_host(errno));
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_advise) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_ADVISE);
  uint64_t off = a[1], len = a[2];
  uint32_t adv = (uint32_t)a[3] & 0xff;
  static const int map[6] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                             POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
  if (adv > 5 || off > INT64_MAX || len > INT64_MAX) WASI_RET(WASI_EINVAL);
  if (f->kind != WASI_FD_HOST) WASI_RET(WASI_ESPIPE);
  if (f->filetype == WASI_FT_DIRECTORY) WASI_RET(WASI_EBADF);
  int r = posix_fadvise(f->host, (off_t)off, (off_t)len, map[adv]);
  WASI_RET(r ? wasi_errno_from_host(r) : WASI_ESUCCESS);
}

WASI_HOSTFN(fd_allocate) {
  WASI_ENTER();
  (void)m;
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_ALLOCATE);
  uint64_t off = a[1], len = a[2];
  if (off > INT64_MAX || len > INT64_MAX || off + len > INT64_MAX) WASI_RET(WASI_EFBIG);
  if (f->kind != WASI_FD_HOST) WASI_RET(WASI_ESPIPE);
  if (f->filetype == WASI_FT_DIRECTORY) WASI_RET(WASI_EBADF);
  int r = posix_fallocate(f->host, (off_t)off, (off_t)len);
  WASI_RET(r ? wasi_errno_from_host(r) : WASI_ESUCCESS);
}

/* ---- prestat -------------------------------------------------------------------------- */

WASI_HOSTFN(fd_prestat_get) {
  WASI_ENTER();
  WASI_GETFD(f, (uint32_t)a[0], 0);
  /* wasi-libc scans fds from 3 until EBADF, so a non-preopen answers EBADF. */
  if (!f->prestat) WASI_RET(WASI_EBADF);
  uint8_t *dst = wasm_view_range(&m, (uint32_t)a[1], 8);
  if (!dst) WASI_RET(WASI_EFAULT);
  memset(dst, 0, 4);
  wasm_store_le32(dst + 4, f->prestat_len);
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(fd_prestat_dir_name) {
  WASI_ENTER();
  WASI_GETFD(f, (uint32_t)a[0], 0);
  if (!f->prestat) WASI_RET(WASI_EBADF);
  uint32_t len = (uint32_t)a[2];
  if (len < f->prestat_len) WASI_RET(WASI_ENAMETOOLONG);
  uint8_t *dst = wasm_view_range(&m, (uint32_t)a[1], f->prestat_len);
  if (!dst) WASI_RET(WASI_EFAULT);
  memcpy(dst, f->prestat, f->prestat_len);
  WASI_RET(WASI_ESUCCESS);
}

/* ---- readdir -------------------------------------------------------------------------- */

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static uint8_t dt_to_ft(unsigned char t) {
  switch (t) {
  case DT_REG: return WASI_FT_REGULAR_FILE;
  case DT_DIR: return WASI_FT_DIRECTORY;
  case DT_LNK: return WASI_FT_SYMBOLIC_LINK;
  case DT_CHR: return WASI_FT_CHARACTER_DEVICE;
  case DT_BLK: return WASI_FT_BLOCK_DEVICE;
  case DT_SOCK: return WASI_FT_SOCKET_STREAM;
  default: return WASI_FT_UNKNOWN;
  }
}

/* Appends one dirent (header, then name) to out[*used..blen), cut short
 * where the buffer ends, as the WASI rule says: a full buffer tells the
 * guest to call again from the last complete entry. Returns 1 when the
 * whole entry fit. */
static int put_dirent(uint8_t *out, uint32_t *used, uint32_t blen, uint64_t next, uint64_t ino,
                      const char *name, uint8_t ft) {
  uint32_t nl = (uint32_t)strlen(name);
  uint8_t hdr[24];
  memset(hdr, 0, sizeof hdr);
  wasm_store_le64(hdr, next);
  wasm_store_le64(hdr + 8, ino);
  wasm_store_le32(hdr + 16, nl);
  hdr[20] = ft;
  uint32_t room = blen - *used;
  uint32_t hc = room < 24 ? room : 24;
  memcpy(out + *used, hdr, hc);
  *used += hc;
  room -= hc;
  uint32_t c = room < nl ? room : nl;
  memcpy(out + *used, name, c);
  *used += c;
  return hc == 24 && c == nl;
}

/* Entries come as ".", "..", then the directory's own entries in the
 * kernel's order; a cookie is the number of entries before the next one.
 * "." and ".." are made here rather than taken from getdents64, so they
 * come first on every file system (wasmtime does the same), and ".." of a
 * preopen, or of another fd on a preopen's directory, is that directory itself:
 * the root of what the guest can see, whose parent's inode is not the
 * guest's business.
 *
 * Cookies are entry indexes (1 = after the first entry), not the kernel's
 * 64-bit d_off hashes: wasi-libc's telldir() returns a 32-bit long, so only
 * small cookies survive a telldir/seekdir round trip (wasmtime does the
 * same). The fd remembers the kernel position of the last cookie it handed
 * out, so reading a directory in order costs no rescans; any other cookie
 * rescans from the start. The last entry is cut when it does not fit, which
 * tells the guest (bufused == buf_len) to call again from the previous
 * entry's d_next. */
WASI_HOSTFN(fd_readdir) {
  WASI_ENTER();
  WASI_GETFD(f, (uint32_t)a[0], WASI_R_FD_READDIR);
  uint32_t buf = (uint32_t)a[1], blen = (uint32_t)a[2], resp = (uint32_t)a[4];
  uint64_t cookie = a[3];
  uint8_t *out = wasm_view_range(&m, buf, blen), *resp_at = wasm_view_range(&m, resp, 4);
  if (!out || !resp_at) WASI_RET(WASI_EFAULT);
  if (f->kind != WASI_FD_HOST) WASI_RET(WASI_ENOTDIR);
  int hfd = f->host;
  if (f->borrowed) {
    /* A shared preopen: its file offset belongs to every ctx using it. */
    if (!f->rd_fd1) {
      int p = openat(f->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (p < 0) WASI_RET(wasi_errno_from_host(errno));
      f->rd_fd1 = p + 1;
    }
    hfd = f->rd_fd1 - 1;
  }
  uint32_t used = 0;
  uint64_t idx = 0;
  if (cookie < 2) {
    struct stat self, parent;
    if (fstat(hfd, &self) < 0) WASI_RET(wasi_errno_from_host(errno));
    if (!S_ISDIR(self.st_mode)) WASI_RET(WASI_ENOTDIR);
    parent = self;
    bool is_root =
        f->prestat || (f->root_known && f->root_dev == self.st_dev && f->root_ino == self.st_ino);
    if (!is_root && fstatat(hfd, "..", &parent, 0) < 0) parent = self;
    const struct stat *dots[2] = {&self, &parent};
    for (idx = cookie; idx < 2 && used < blen; idx++)
      if (put_dirent(out, &used, blen, idx + 1, dots[idx]->st_ino, idx ? ".." : ".",
                     WASI_FT_DIRECTORY)) {
        f->rd_cookie = idx + 1;
        f->rd_pos = 0;
      }
    if (used >= blen) goto done;
  }
  /* Resume where the guest's cookie left off when it is the last one handed
   * out (the usual loop); otherwise rescan from the start, counting. */
  off_t pos = 0;
  idx = 2;
  if (cookie > 2 && cookie == f->rd_cookie) {
    idx = cookie;
    pos = (off_t)f->rd_pos;
  }
  if (lseek(hfd, pos, SEEK_SET) < 0) WASI_RET(wasi_errno_from_host(errno));
  _Alignas(8) char kbuf[8192];
  while (used < blen) {
    long n = syscall(SYS_getdents64, hfd, kbuf, sizeof kbuf);
    if (n < 0) {
      if (errno == EINTR) continue;
      WASI_RET(wasi_errno_from_host(errno));
    }
    if (n == 0) break;
    for (long off = 0; off < n && used < blen;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(kbuf + off);
      off += d->d_reclen;
      if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
        continue;
      if (idx < cookie) { /* rescanning up to the cookie */
        idx++;
        continue;
      }
      uint8_t ft = dt_to_ft(d->d_type);
      if (d->d_type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(hfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
          ft = wasi_filetype_of_mode(st.st_mode);
      }
      uint64_t next = ++idx;
      if (put_dirent(out, &used, blen, next, d->d_ino, d->d_name, ft)) {
        /* complete: the guest may resume right after it */
        f->rd_cookie = next;
        f->rd_pos = d->d_off;
      }
    }
  }
done:
  wasm_store_le32(resp_at, used);
  WASI_RET(WASI_ESUCCESS);
}
