/* wasi_path.c — sandboxed path resolution and the path_* functions.
 *
 * Every guest path is resolved beneath the directory fd it is relative to.
 * Preferred: openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), which makes
 * the kernel refuse (EXDEV) any step outside, atomically. Fallback (kernels
 * < 5.6, or wasi_sb_force_walk): a walk that opens one component at a time
 * with O_NOFOLLOW from an fd it holds, expands symlinks itself and handles
 * ".." by popping its own stack of fds (never openat(".."), so a directory
 * moved meanwhile cannot lead it out). Operations on a final name (mkdir,
 * unlink, rename, ...) resolve the parent that way and then call *at() on a
 * single component that contains no '/', so the kernel never walks a guest
 * path on its own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, openat2, ppoll, AT_EMPTY_PATH */
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi_int.h"

#define SB_PATH_MAX 4096
#define SB_MAX_SYMLINKS 40

int wasi_sb_force_walk;
/* Whether openat2 works here: probed once, since a kernel < 5.6 says ENOSYS
 * and some seccomp profiles say EPERM for every call. */
static int have_openat2;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe_openat2(void) {
  /* An unknown resolve bit: a working openat2 answers EINVAL without
   * touching the file system (so the CWD does not matter). */
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = 1ull << 63;
  long r = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
  if (r >= 0) close((int)r);
  have_openat2 = r < 0 && errno == EINVAL;
}

static int sb_openat2(int dirfd, const char *path, int flags, mode_t mode, int follow) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  how.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int tries = 0;; tries++) {
    long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (r >= 0) return (int)r;
    /* EAGAIN: a concurrent rename made the kernel unsure; retry a little. */
    if ((errno == EAGAIN && tries < 16) || errno == EINTR) continue;
    return -errno;
  }
}

typedef struct {
  int *fds;
  size_t n, alloc;
  int small[16];
} fdstack;

/* The walk holds one host fd per directory level (".." pops one): a cap
 * keeps a deep path from borrowing thousands of the process's fds. */
#define SB_MAX_DEPTH 256

static int fs_push(fdstack *s, int fd) {
  if (s->n >= SB_MAX_DEPTH) return -ENAMETOOLONG;
  if (s->n == s->alloc) {
    size_t na = s->alloc * 2;
    int *nf = s->fds == s->small ? malloc(sizeof *nf * na) : realloc(s->fds, sizeof *nf * na);
    if (!nf) return -ENOMEM;
    if (s->fds == s->small) memcpy(nf, s->small, sizeof s->small);
    s->fds = nf;
    s->alloc = na;
  }
  s->fds[s->n++] = fd;
  return 0;
}

static void fs_free(fdstack *s) {
  for (size_t i = 0; i < s->n; i++) close(s->fds[i]);
  if (s->fds != s->small) free(s->fds);
}

/* The result of readlinkat(..., target, SB_PATH_MAX) for a symlink met on
 * the way, counted in *links: 0 when it may be followed, else -errno (an
 * absolute target leaves the tree: -EXDEV). Shared by both resolvers so
 * that they refuse the same links. */
static int link_target_check(ssize_t n, const char *target, int *links) {
  if (n < 0) return -errno;
  if ((size_t)n >= SB_PATH_MAX) return -ENAMETOOLONG;
  if (++*links > SB_MAX_SYMLINKS) return -ELOOP;
  if (n == 0) return -ENOENT;
  if (target[0] == '/') return -EXDEV;
  return 0;
}

/* Replaces the unresolved rest of the path with `target` followed by
 * "/" + `next` (when next is non-empty). */
static int splice_rest(char *buf, const char *target, size_t tlen, const char *next) {
  size_t nlen = strlen(next);
  if (tlen + 1 + nlen + 1 > 2 * SB_PATH_MAX) return -ENAMETOOLONG;
  /* `next` lies inside buf: move it into place first, then the target. */
  if (nlen) {
    memmove(buf + tlen + 1, next, nlen + 1);
    buf[tlen] = '/';
  } else {
    buf[tlen] = '\0';
  }
  memcpy(buf, target, tlen);
  return 0;
}

/* The component-by-component resolver (see the file comment). */
static int sb_walk(int dirfd, const char *path, int flags, mode_t mode, int follow) {
  size_t plen = strlen(path);
  if (plen >= SB_PATH_MAX) return -ENAMETOOLONG;
  if (plen == 0) return -ENOENT;
  if (path[0] == '/') return -EXDEV;
  char *buf = malloc(2 * SB_PATH_MAX);
  if (!buf) return -ENOMEM;
  memcpy(buf, path, plen + 1);
  fdstack st = {.fds = NULL, .n = 0, .alloc = 16};
  st.fds = st.small;
  int links = 0, ret;
  char *rest = buf;
  for (;;) {
    int cur = st.n ? st.fds[st.n - 1] : dirfd;
    while (*rest == '/') rest++;
    if (!*rest) { /* the path names the current directory itself */
      ret = openat(cur, ".", flags | O_CLOEXEC, mode);
      ret = ret < 0 ? -errno : ret;
      break;
    }
    char *end = strchr(rest, '/');
    size_t clen = end ? (size_t)(end - rest) : strlen(rest);
    char *next = end ? end : rest + clen;
    while (*next == '/') next++;
    int last = *next == '\0';
    int slash_after = end != NULL;
    if (clen > 255) {
      ret = -ENAMETOOLONG;
      break;
    }
    char comp[256];
    memcpy(comp, rest, clen);
    comp[clen] = '\0';
    if (!strcmp(comp, ".")) {
      rest = next;
      continue;
    }
    if (!strcmp(comp, "..")) {
      if (!st.n) {
        ret = -EXDEV;
        break;
      }
      close(st.fds[--st.n]);
      rest = next;
      continue;
    }
    if (!last || slash_after) {
      int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        ret = -errno;
        break;
      }
      struct stat sb;
      if (fstat(fd, &sb) != 0) {
        ret = -errno;
        close(fd);
        break;
      }
      if (S_ISLNK(sb.st_mode)) {
        char target[SB_PATH_MAX];
        ssize_t n = readlinkat(fd, "", target, sizeof target);
        ret = link_target_check(n, target, &links);
        close(fd);
        if (ret < 0) break;
        /* keep a trailing slash: it still demands a directory */
        const char *nx = last ? "." : next;
        if ((ret = splice_rest(buf, target, (size_t)n, nx)) < 0) break;
        rest = buf;
        continue;
      }
      if (!S_ISDIR(sb.st_mode)) {
        close(fd);
        ret = -ENOTDIR;
        break;
      }
      if ((ret = fs_push(&st, fd)) < 0) {
        close(fd);
        break;
      }
      rest = next;
      continue;
    }
    /* Final component. */
    int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    int err = fd < 0 ? errno : 0;
    int is_link = 0;
    if (fd >= 0) {
      if (!(flags & O_PATH) || !follow) {
        ret = fd;
        break;
      }
      struct stat sb;
      if (fstat(fd, &sb) != 0) {
        ret = -errno;
        close(fd);
        break;
      }
      if (!S_ISLNK(sb.st_mode)) {
        ret = fd;
        break;
      }
      close(fd);
      is_link = 1;
    } else if (follow && (err == ELOOP || err == ENOTDIR || err == EMLINK)) {
      struct stat sb;
      is_link = fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode);
    }
    if (!is_link) {
      ret = -err;
      break;
    }
    char target[SB_PATH_MAX];
    ssize_t n = readlinkat(cur, comp, target, sizeof target);
    if ((ret = link_target_check(n, target, &links)) < 0) break;
    if ((ret = splice_rest(buf, target, (size_t)n, "")) < 0) break;
    rest = buf;
  }
  fs_free(&st);
  free(buf);
  return ret;
}

int wasi_sb_open(int dirfd, const char *path, int flags, mode_t mode, int follow) {
  if (path[0] == '/') return -EXDEV;
  if (strlen(path) >= SB_PATH_MAX) return -ENAMETOOLONG;
  pthread_once(&probe_once, probe_openat2);
  if (!wasi_sb_force_walk && have_openat2) return sb_openat2(dirfd, path, flags, mode, follow);
  return sb_walk(dirfd, path, flags, mode, follow);
}

int wasi_sb_parent(int dirfd, const char *path, char *lastbuf, int *trailing_slash) {
  size_t len = strlen(path);
  if (len >= SB_PATH_MAX) return -ENAMETOOLONG;
  if (len == 0) return -ENOENT;
  if (path[0] == '/') return -EXDEV;
  *trailing_slash = 0;
  while (len > 0 && path[len - 1] == '/') {
    len--;
    *trailing_slash = 1;
  }
  size_t start = len;
  while (start > 0 && path[start - 1] != '/') start--;
  size_t llen = len - start;
  if (llen > 255) return -ENAMETOOLONG;
  memcpy(lastbuf, path + start, llen);
  lastbuf[llen] = '\0';
  char parent[SB_PATH_MAX];
  if (start == 0) {
    parent[0] = '.';
    parent[1] = '\0';
  } else {
    memcpy(parent, path, start);
    parent[start] = '\0';
  }
  return wasi_sb_open(dirfd, parent, O_PATH | O_DIRECTORY, 0, 1);
}

wasi_errno wasi_path_errno(int neg) {
  int e = -neg;
  return e == EXDEV ? WASI_ENOTCAPABLE : wasi_errno_from_host(e);
}

/* ---- plumbing ------------------------------------------------------------------ */

#define TRY(x)                                                                                     \
  do {                                                                                             \
    wasi_errno e_ = (x);                                                                           \
    if (e_) WASI_RET(e_);                                                                          \
  } while (0)

void wasi_put_filestat(uint8_t *dst, const struct stat *st, int unstable);
int wasi_times(uint64_t atim, uint64_t mtim, uint32_t fl, struct timespec ts[2]);

/* Copies a guest path into out[SB_PATH_MAX] with its checks (see wasi.h). */
static wasi_errno load_path(const wasm_memory_view *m, uint32_t p, uint32_t len, char *out) {
  const uint8_t *src = wasm_view_range(m, p, len);
  if (!src) return WASI_EFAULT;
  if (len >= SB_PATH_MAX) return WASI_ENAMETOOLONG;
  if (memchr(src, 0, len)) return WASI_EINVAL;
  memcpy(out, src, len);
  out[len] = '\0';
  if (len && out[0] == '/') return WASI_ENOTCAPABLE;
  return WASI_ESUCCESS;
}

/* The directory behind fd: a host directory fd with the needed rights. */
static wasi_errno get_dir(wasi_ctx *ctx, uint32_t fd, uint64_t need, int *host) {
  wasi_fd *f;
  wasi_errno e = wasi_fd_get(ctx, fd, need, &f);
  if (e) return e;
  if (f->kind != WASI_FD_HOST) return WASI_ENOTDIR;
  if (f->filetype != WASI_FT_DIRECTORY) return WASI_ENOTDIR;
  *host = f->host;
  return WASI_ESUCCESS;
}

static int is_dot(const char *s) { return !strcmp(s, ".") || !strcmp(s, ".."); }

/* For a path whose last component is "." or "..": resolve all of it so
 * that an escape still reports ENOTCAPABLE; 0 when it exists inside. */
static wasi_errno check_whole(int dir, const char *path) {
  int fd = wasi_sb_open(dir, path, O_PATH | O_DIRECTORY, 0, 1);
  if (fd < 0) return wasi_path_errno(fd);
  close(fd);
  return WASI_ESUCCESS;
}

/* ---- path_open -------------------------------------------------------------------- */

WASI_HOSTFN(path_open) {
  WASI_ENTER();
  uint32_t dirn = (uint32_t)a[0], lookup = (uint32_t)a[1], pp = (uint32_t)a[2],
           plen = (uint32_t)a[3], oflags = (uint32_t)a[4] & 0xffff;
  uint64_t base = a[5], inh = a[6];
  uint32_t fdflags = (uint32_t)a[7] & 0xffff, outp = (uint32_t)a[8];
  if (oflags & ~15u) WASI_RET(WASI_EINVAL);
  if (fdflags & ~31u) WASI_RET(WASI_EINVAL);
  uint64_t need = WASI_R_PATH_OPEN;
  if (oflags & WASI_OF_CREAT) need |= WASI_R_PATH_CREATE_FILE;
  if (oflags & WASI_OF_TRUNC) need |= WASI_R_PATH_FILESTAT_SET_SIZE;
  WASI_GETFD(d, dirn, need);
  if (d->kind != WASI_FD_HOST || d->filetype != WASI_FT_DIRECTORY) WASI_RET(WASI_ENOTDIR);
  if (d->read_only && (base & (WASI_R_FD_WRITE | WASI_R_FD_ALLOCATE | WASI_R_FD_FILESTAT_SET_SIZE)))
    WASI_RET(WASI_EROFS);
  if ((base & WASI_R_FD_WRITE) && !(d->inh & WASI_R_FD_WRITE)) WASI_RET(WASI_ENOTCAPABLE);
  uint8_t *out_at = wasm_view_range(&m, outp, 4);
  if (!out_at) WASI_RET(WASI_EFAULT);
  char path[SB_PATH_MAX];
  TRY(load_path(&m, pp, plen, path));
  base &= d->inh;
  inh &= d->inh;
  if (d->read_only) base &= ~WASI_R_WRITE_SET; /* e.g. Rust's SET_TIMES on a read open */
  int rd = (base & (WASI_R_FD_READ | WASI_R_FD_READDIR)) != 0;
  int wr = (base & (WASI_R_FD_WRITE | WASI_R_FD_DATASYNC | WASI_R_FD_ALLOCATE |
                    WASI_R_FD_FILESTAT_SET_SIZE)) != 0;
  /* A directory is written only through FD_WRITE: asking for it with
   * OFLAGS_DIRECTORY is EISDIR (as on wasmtime), while the other write-side
   * rights, which a directory's own rights include (FD_DATASYNC), do not
   * make its open fail. */
  if (oflags & WASI_OF_DIRECTORY) wr = (base & WASI_R_FD_WRITE) != 0;
  int flags = (rd && wr) ? O_RDWR : wr ? O_WRONLY : O_RDONLY;
  flags |= O_NOCTTY;
  if (oflags & WASI_OF_CREAT) flags |= O_CREAT;
  if (oflags & WASI_OF_DIRECTORY) flags |= O_DIRECTORY;
  if (oflags & WASI_OF_EXCL) flags |= O_EXCL;
  if (oflags & WASI_OF_TRUNC) flags |= O_TRUNC;
  if (fdflags & WASI_FDF_APPEND) flags |= O_APPEND;
  if (fdflags & WASI_FDF_DSYNC) flags |= O_DSYNC;
  if (fdflags & WASI_FDF_NONBLOCK) flags |= O_NONBLOCK;
  if (fdflags & WASI_FDF_RSYNC) flags |= O_RSYNC;
  if (fdflags & WASI_FDF_SYNC) flags |= O_SYNC;
  int read_only = d->read_only;
  int follow = lookup & WASI_LOOKUP_SYMLINK_FOLLOW;
  /* O_NONBLOCK: opening a FIFO without a peer must not hang the thread
   * (nothing could interrupt it), and a read or write of a special file
   * waits in rw_common, interruptibly, not in the kernel (wasi_fd_special).
   * It means nothing for regular files and dirs. */
  int hfd = wasi_sb_open(d->host, path, flags | O_NONBLOCK, 0666, follow);
  if (hfd == -EISDIR && wr && !(base & WASI_R_FD_WRITE) && !(flags & (O_CREAT | O_TRUNC))) {
    /* A directory without OFLAGS_DIRECTORY, opened with its own rights
     * passed back (path_open(fd, ".", base, inheriting)): read-only. */
    wr = 0;
    flags = (flags & ~O_ACCMODE) | O_RDONLY;
    hfd = wasi_sb_open(d->host, path, flags | O_NONBLOCK, 0666, follow);
  }
  if (hfd == -EACCES && !rd && !wr && !(flags & (O_CREAT | O_TRUNC)))
    hfd = wasi_sb_open(d->host, path, O_PATH | (flags & O_DIRECTORY), 0, follow);
  if (hfd < 0) WASI_RET(wasi_path_errno(hfd));
  struct stat sb;
  if (fstat(hfd, &sb) != 0) {
    int e = errno;
    close(hfd);
    WASI_RET(wasi_errno_from_host(e));
  }
  wasi_fd f;
  memset(&f, 0, sizeof f);
  f.kind = WASI_FD_HOST;
  f.host = hfd;
  f.filetype = wasi_filetype_of_mode(sb.st_mode);
  f.read_only = (uint8_t)read_only;
  f.fdflags = (uint16_t)fdflags;
  if (S_ISDIR(sb.st_mode)) {
    f.base = base & WASI_R_DIR_BASE;
    f.inh = inh;
    /* Which preopen it lies beneath (fd_readdir's ".."): the preopen's own
     * identity, or the one the directory it was opened from inherited. */
    struct stat rs;
    if (d->prestat && fstat(d->host, &rs) == 0) {
      f.root_known = 1;
      f.root_dev = rs.st_dev;
      f.root_ino = rs.st_ino;
    } else if (d->root_known) {
      f.root_known = 1;
      f.root_dev = d->root_dev;
      f.root_ino = d->root_ino;
    }
  } else {
    f.base = base & WASI_R_FILE_BASE;
    if (!S_ISREG(sb.st_mode)) f.base &= ~(WASI_R_FD_SEEK | WASI_R_FD_TELL);
    f.inh = 0;
  }
  /* A descriptor opened without read (or write) cannot gain it later. */
  if (!rd) f.base &= ~(WASI_R_FD_READ | WASI_R_FD_READDIR);
  if (!wr)
    f.base &=
        ~(WASI_R_FD_WRITE | WASI_R_FD_DATASYNC | WASI_R_FD_ALLOCATE | WASI_R_FD_FILESTAT_SET_SIZE);
  uint32_t num;
  wasi_errno e = wasi_fd_install(ctx, &f, &num);
  if (e) {
    close(hfd);
    WASI_RET(e);
  }
  wasm_store_le32(out_at, num);
  WASI_RET(WASI_ESUCCESS);
}

/* ---- directory entries ---------------------------------------------------------------- */

/* The new name of a symlink or hard link ended in '/', which names a
 * directory, something a link cannot be: ENOENT when nothing is there (even
 * a dangling symlink), EEXIST for a directory (also through a symlink
 * beneath the sandbox), ENOTDIR for anything else; as wasmtime answers on
 * Unix. Resolved beneath dir, so nothing outside is probed. */
static wasi_errno link_name_with_slash(int dir, const char *path) {
  int fd = wasi_sb_open(dir, path, O_PATH, 0, 1);
  if (fd < 0) return wasi_path_errno(fd);
  close(fd);
  return WASI_EEXIST;
}

/* Shared start of the ops that act on a parent dir + final name. */
#define PARENT(dirn, need, pp, plen, path, last, trail, pfd)                                       \
  char path[SB_PATH_MAX], last[256];                                                               \
  int trail, dir_##pfd;                                                                            \
  TRY(get_dir(ctx, (dirn), (need), &dir_##pfd));                                                   \
  TRY(load_path(&m, (pp), (plen), path));                                                          \
  int pfd = wasi_sb_parent(dir_##pfd, path, last, &trail);                                         \
  if (pfd < 0) WASI_RET(wasi_path_errno(pfd));

WASI_HOSTFN(path_create_directory) {
  WASI_ENTER();
  PARENT((uint32_t)a[0], WASI_R_PATH_CREATE_DIRECTORY, (uint32_t)a[1], (uint32_t)a[2], path, last,
         trail, pfd);
  (void)trail;
  wasi_errno e;
  if (is_dot(last)) {
    e = check_whole(dir_pfd, path);
    if (!e) e = WASI_EEXIST;
  } else {
    e = mkdirat(pfd, last, 0777) == 0 ? WASI_ESUCCESS : wasi_errno_from_host(errno);
  }
  close(pfd);
  WASI_RET(e);
}

WASI_HOSTFN(path_remove_directory) {
  WASI_ENTER();
  PARENT((uint32_t)a[0], WASI_R_PATH_REMOVE_DIRECTORY, (uint32_t)a[1], (uint32_t)a[2], path, last,
         trail, pfd);
  (void)trail;
  wasi_errno e;
  if (is_dot(last)) {
    e = check_whole(dir_pfd, path);
    if (!e) e = !strcmp(last, ".") ? WASI_EINVAL : WASI_ENOTEMPTY;
  } else {
    e = unlinkat(pfd, last, AT_REMOVEDIR) == 0 ? WASI_ESUCCESS : wasi_errno_from_host(errno);
  }
  close(pfd);
  WASI_RET(e);
}

WASI_HOSTFN(path_unlink_file) {
  WASI_ENTER();
  PARENT((uint32_t)a[0], WASI_R_PATH_UNLINK_FILE, (uint32_t)a[1], (uint32_t)a[2], path, last, trail,
         pfd);
  wasi_errno e;
  struct stat sb;
  if (is_dot(last)) {
    e = check_whole(dir_pfd, path);
    if (!e) e = WASI_EISDIR;
  } else if (trail) {
    /* "name/" names a directory: never unlink a file through it */
    if (fstatat(pfd, last, &sb, AT_SYMLINK_NOFOLLOW) != 0) e = wasi_errno_from_host(errno);
    else e = S_ISDIR(sb.st_mode) ? WASI_EISDIR : WASI_ENOTDIR;
  } else {
    e = unlinkat(pfd, last, 0) == 0 ? WASI_ESUCCESS : wasi_errno_from_host(errno);
  }
  close(pfd);
  WASI_RET(e);
}

WASI_HOSTFN(path_rename) {
  WASI_ENTER();
  PARENT((uint32_t)a[0], WASI_R_PATH_RENAME_SOURCE, (uint32_t)a[1], (uint32_t)a[2], path, last,
         trail, pfd);
  char path2[SB_PATH_MAX], last2[256];
  int trail2, dir2;
  wasi_errno e = get_dir(ctx, (uint32_t)a[3], WASI_R_PATH_RENAME_TARGET, &dir2);
  if (!e) e = load_path(&m, (uint32_t)a[4], (uint32_t)a[5], path2);
  if (e) {
    close(pfd);
    WASI_RET(e);
  }
  int pfd2 = wasi_sb_parent(dir2, path2, last2, &trail2);
  if (pfd2 < 0) {
    close(pfd);
    WASI_RET(wasi_path_errno(pfd2));
  }
  struct stat sb;
  if (is_dot(last) || is_dot(last2)) {
    e = is_dot(last) ? check_whole(dir_pfd, path) : check_whole(dir2, path2);
    if (!e) e = WASI_EINVAL;
  } else if ((trail || trail2) && fstatat(pfd, last, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
             !S_ISDIR(sb.st_mode)) {
    e = WASI_ENOTDIR;
  } else {
    e = renameat(pfd, last, pfd2, last2) == 0 ? WASI_ESUCCESS : wasi_errno_from_host(errno);
  }
  close(pfd);
  close(pfd2);
  WASI_RET(e);
}

/* Whether a relative symlink target, stored in a directory `depth` levels
 * beneath the preopen, lexically climbs above it. */
static int target_escapes(const char *t, long depth) {
  while (*t) {
    while (*t == '/') t++;
    if (!*t) break;
    const char *e = strchr(t, '/');
    size_t n = e ? (size_t)(e - t) : strlen(t);
    if (n == 2 && t[0] == '.' && t[1] == '.') {
      if (--depth < 0) return 1;
    } else if (!(n == 1 && t[0] == '.')) {
      depth++;
    }
    t += n;
  }
  return 0;
}

/* Lexical depth of the directory holding the last component of `path`. */
static long parent_depth(const char *path) {
  long depth = 0;
  const char *t = path;
  for (;;) {
    while (*t == '/') t++;
    if (!*t) break;
    const char *e = strchr(t, '/');
    size_t n = e ? (size_t)(e - t) : strlen(t);
    const char *after = t + n;
    while (*after == '/') after++;
    if (!*after) break; /* the last component itself */
    if (n == 2 && t[0] == '.' && t[1] == '.') depth--;
    else if (!(n == 1 && t[0] == '.')) depth++;
    t += n;
  }
  return depth;
}

WASI_HOSTFN(path_symlink) {
  WASI_ENTER();
  char target[SB_PATH_MAX];
  uint32_t tp = (uint32_t)a[0], tl = (uint32_t)a[1];
  const uint8_t *src = wasm_view_range(&m, tp, tl);
  if (!src) WASI_RET(WASI_EFAULT);
  if (tl >= SB_PATH_MAX) WASI_RET(WASI_ENAMETOOLONG);
  if (memchr(src, 0, tl)) WASI_RET(WASI_EINVAL);
  memcpy(target, src, tl);
  target[tl] = '\0';
  PARENT((uint32_t)a[2], WASI_R_PATH_SYMLINK, (uint32_t)a[3], (uint32_t)a[4], path, last, trail,
         pfd);
  wasi_errno e;
  if (is_dot(last)) {
    e = check_whole(dir_pfd, path);
    if (!e) e = WASI_EEXIST;
  } else if (trail) {
    e = link_name_with_slash(dir_pfd, path);
  } else if (target[0] == '/') {
    e = WASI_EPERM;
  } else if (target_escapes(target, parent_depth(path))) {
    e = WASI_ENOTCAPABLE;
  } else {
    e = symlinkat(target, pfd, last) == 0 ? WASI_ESUCCESS : wasi_errno_from_host(errno);
  }
  close(pfd);
  WASI_RET(e);
}

WASI_HOSTFN(path_link) {
  WASI_ENTER();
  uint32_t lookup = (uint32_t)a[1];
  char path2[SB_PATH_MAX], last2[256];
  int trail2, dir2;
  TRY(get_dir(ctx, (uint32_t)a[4], WASI_R_PATH_LINK_TARGET, &dir2));
  TRY(load_path(&m, (uint32_t)a[5], (uint32_t)a[6], path2));
  PARENT((uint32_t)a[0], WASI_R_PATH_LINK_SOURCE, (uint32_t)a[2], (uint32_t)a[3], path, last, trail,
         pfd);
  int pfd2 = wasi_sb_parent(dir2, path2, last2, &trail2);
  if (pfd2 < 0) {
    close(pfd);
    WASI_RET(wasi_path_errno(pfd2));
  }
  wasi_errno e = WASI_ESUCCESS;
  if (is_dot(last2)) {
    e = check_whole(dir2, path2);
    if (!e) e = WASI_EEXIST;
  } else if (is_dot(last) || trail) {
    /* "x/" names a directory (ENOTDIR when x is a file): none can be hard-linked */
    e = is_dot(last) ? check_whole(dir_pfd, path) : link_name_with_slash(dir_pfd, path);
    if (!e || e == WASI_EEXIST) e = WASI_EPERM;
  } else if (trail2) {
    e = link_name_with_slash(dir2, path2);
  } else if (lookup & WASI_LOOKUP_SYMLINK_FOLLOW) {
    /* The source is resolved (and its symlinks followed) beneath its dir,
     * then linked by fd, so nothing outside can be reached. */
    int src = wasi_sb_open(dir_pfd, path, O_PATH, 0, 1);
    if (src < 0) {
      e = wasi_path_errno(src);
    } else {
      if (linkat(src, "", pfd2, last2, AT_EMPTY_PATH) != 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", src);
        if (errno != ENOENT || linkat(AT_FDCWD, proc, pfd2, last2, AT_SYMLINK_FOLLOW) != 0)
          e = wasi_errno_from_host(errno);
      }
      close(src);
    }
  } else {
    e = linkat(pfd, last, pfd2, last2, 0) == 0 ? WASI_ESUCCESS : wasi_errno_from_host(errno);
  }
  close(pfd);
  close(pfd2);
  WASI_RET(e);
}

WASI_HOSTFN(path_readlink) {
  WASI_ENTER();
  uint32_t bp = (uint32_t)a[3], bl = (uint32_t)a[4], resp = (uint32_t)a[5];
  uint8_t *buf = wasm_view_range(&m, bp, bl), *resp_at = wasm_view_range(&m, resp, 4);
  if (!buf || !resp_at) WASI_RET(WASI_EFAULT);
  PARENT((uint32_t)a[0], WASI_R_PATH_READLINK, (uint32_t)a[1], (uint32_t)a[2], path, last, trail,
         pfd);
  wasi_errno e = WASI_ESUCCESS;
  char target[SB_PATH_MAX];
  ssize_t n = -1;
  if (is_dot(last) || trail) {
    /* names a directory (following any link beneath): not a symlink */
    int fd = wasi_sb_open(dir_pfd, path, O_PATH, 0, 1);
    if (fd < 0) e = wasi_path_errno(fd);
    else {
      close(fd);
      e = WASI_EINVAL;
    }
  } else {
    n = readlinkat(pfd, last, target, sizeof target);
    if (n < 0) e = wasi_errno_from_host(errno);
  }
  close(pfd);
  if (e) WASI_RET(e);
  uint32_t c = (size_t)n < bl ? (uint32_t)n : bl;
  memcpy(buf, target, c);
  wasm_store_le32(resp_at, c);
  WASI_RET(WASI_ESUCCESS);
}

/* ---- stat and times ------------------------------------------------------------------------- */

static wasm_status pstat_common(wasm_instance *caller, void *env, wasm_slot *a, int unstable) {
  WASI_ENTER();
  int dir;
  char path[SB_PATH_MAX];
  uint32_t outp = (uint32_t)a[4];
  TRY(get_dir(ctx, (uint32_t)a[0], WASI_R_PATH_FILESTAT_GET, &dir));
  TRY(load_path(&m, (uint32_t)a[2], (uint32_t)a[3], path));
  uint8_t *out_at = wasm_view_range(&m, outp, unstable ? 56 : 64);
  if (!out_at) WASI_RET(WASI_EFAULT);
  /* O_PATH (with O_NOFOLLOW when not following) yields the entry itself,
   * symlink included, without needing read permission. */
  int fd = wasi_sb_open(dir, path, O_PATH, 0, (uint32_t)a[1] & WASI_LOOKUP_SYMLINK_FOLLOW);
  if (fd < 0) WASI_RET(wasi_path_errno(fd));
  struct stat sb;
  int r = fstat(fd, &sb);
  int err = errno;
  close(fd);
  if (r != 0) WASI_RET(wasi_errno_from_host(err));
  wasi_put_filestat(out_at, &sb, unstable);
  WASI_RET(WASI_ESUCCESS);
}

WASI_HOSTFN(path_filestat_get) { return pstat_common(caller, env, a, 0); }
WASI_HOSTFN(path_filestat_get_u) { return pstat_common(caller, env, a, 1); }

WASI_HOSTFN(path_filestat_set_times) {
  WASI_ENTER();
  struct timespec ts[2];
  if (!wasi_times(a[4], a[5], (uint32_t)a[6] & 0xffff, ts)) WASI_RET(WASI_EINVAL);
  int follow = (uint32_t)a[1] & WASI_LOOKUP_SYMLINK_FOLLOW;
  PARENT((uint32_t)a[0], WASI_R_PATH_FILESTAT_SET_TIMES, (uint32_t)a[2], (uint32_t)a[3], path, last,
         trail, pfd);
  wasi_errno e = WASI_ESUCCESS;
  if (follow || trail || is_dot(last)) {
    int fd = wasi_sb_open(dir_pfd, path, O_PATH, 0, 1);
    if (fd < 0) {
      e = wasi_path_errno(fd);
    } else {
      if (utimensat(fd, "", ts, AT_EMPTY_PATH) != 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (utimensat(AT_FDCWD, proc, ts, 0) != 0) e = wasi_errno_from_host(errno);
      }
      close(fd);
    }
  } else {
    if (utimensat(pfd, last, ts, AT_SYMLINK_NOFOLLOW) != 0) e = wasi_errno_from_host(errno);
  }
  close(pfd);
  WASI_RET(e);
}
