/* fuzz_wasi_path.c — libFuzzer target for WASI path resolution against a
 * scratch directory (src/wasi/wasi_path.c, the sandbox of docs/server.md
 * §Volumes).
 *
 * Layout, made once in a fresh temporary directory ROOT:
 *   ROOT/outside/secret    "OUTSIDE" (must never be reached)
 *   ROOT/box/              the guest's "/" (preopen fd 3), reset per input:
 *     file ("inside"), sub/inner ("inner"), esc -> ../outside,
 *     esc_file -> ../outside/secret, abs -> /etc, self -> ., up -> sub/..
 *
 * The input is a sequence of operations, each: an opcode byte, a byte
 * choosing the directory fd (an fd opened earlier in this input, or a raw
 * number), a flags byte, an extra byte, then one or two length-prefixed
 * paths. The operations (path_open, create/remove directory, unlink,
 * rename, symlink, link, filestat, readlink, readdir, close) are called
 * through tests/fuzz/wasi_path_driver.wat, i.e. as a guest calls them. The
 * first input byte also picks the resolver: openat2(RESOLVE_BENEATH) or the
 * component walk (wasi_sb_force_walk, the unit tests' knob).
 *
 * Checked: every result is a WASI errno; no file, directory or listing the
 * guest reaches is outside the box (the inode of anything it stats, opens
 * or lists is never ROOT's, outside's, secret's, /'s, /etc's or /tmp's;
 * what it reads is never the secret); nothing outside the box changes;
 * readlink and readdir write only inside the buffers they were given. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "wasi/wasi.h"
#include "wasi_path_driver_wasm.h"
#include "wasm/wasm.h"

/* The resolver's test knob (src/wasi/wasi_path.c): 1 = the component walk
 * even where openat2 exists. Declared here rather than through wasi_int.h,
 * which only the layer and its unit tests include. */
extern int wasi_sb_force_walk;

static char root[128], box[160], outside[160], secret[192];
static struct {
  dev_t dev;
  ino_t ino;
} forbidden[6];
static unsigned nforbidden;
static wasm_module *module;
static wasm_linker *linker; /* WASI, the ctx found through the instance's user data */

static void forbid(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) abort();
  forbidden[nforbidden].dev = st.st_dev;
  forbidden[nforbidden].ino = st.st_ino;
  nforbidden++;
}

static void check_inode(uint64_t dev, uint64_t ino, const char *what) {
  for (unsigned i = 0; i < nforbidden; i++)
    FUZZ_CHECK(!(forbidden[i].ino == ino && forbidden[i].dev == dev),
               "%s reached forbidden inode %u (%llu)", what, i, (unsigned long long)ino);
}

static void put(const char *dir, const char *name, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) abort();
  close(fd);
}

static void link_at(const char *target, const char *name) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", box, name);
  if (symlink(target, p) != 0) abort();
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s;
  (void)f;
  if (w->level > 0) {
    chmod(p, 0755);
    remove(p);
  }
  return 0;
}

static void reset_box(void) {
  nftw(box, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  char p[256];
  put(box, "file", "inside");
  snprintf(p, sizeof p, "%s/sub", box);
  if (mkdir(p, 0755) != 0) abort();
  put(p, "inner", "inner");
  link_at("../outside", "esc");
  link_at("../outside/secret", "esc_file");
  link_at("/etc", "abs");
  link_at(".", "self");
  link_at("sub/..", "up");
}

/* Nothing outside the box changed: ROOT holds box and outside, outside
 * holds the untouched secret. */
static void check_outside(void) {
  const char *dirs[2] = {root, outside};
  unsigned expect[2] = {2, 1};
  for (int i = 0; i < 2; i++) {
    DIR *d = opendir(dirs[i]);
    FUZZ_CHECK(d, "cannot list %s", dirs[i]);
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    FUZZ_CHECK(n == expect[i], "%s has %u entries", dirs[i], n);
  }
  char buf[16] = "";
  int fd = open(secret, O_RDONLY | O_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "secret gone");
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  FUZZ_CHECK(r == 7 && !memcmp(buf, "OUTSIDE", 7), "secret changed");
}

static void cleanup(void) {
  nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* Under $TMPDIR: libFuzzer may end with _exit(), skipping the cleanup,
   * so the runners point TMPDIR at a directory they remove. */
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp || strlen(tmp) > 64) tmp = "/tmp";
  snprintf(root, sizeof root, "%s/wagi-fuzz-wasi-XXXXXX", tmp);
  if (!mkdtemp(root)) abort();
  snprintf(box, sizeof box, "%s/box", root);
  snprintf(outside, sizeof outside, "%s/outside", root);
  snprintf(secret, sizeof secret, "%s/secret", outside);
  if (mkdir(box, 0755) || mkdir(outside, 0755)) abort();
  put(outside, "secret", "OUTSIDE");
  forbid(root);
  forbid(outside);
  forbid(secret);
  forbid("/");
  forbid("/etc");
  forbid("/tmp");
  atexit(cleanup);
  linker = wasm_linker_new();
  if (!linker || wasi_define(linker, NULL, NULL) != WASM_OK) abort();
  wasm_error err;
  if (wasm_module_compile(wasi_path_driver_wasm, wasi_path_driver_wasm_len, &module, &err) !=
      WASM_OK)
    abort();
  return 0;
}

/* ---- calling the driver ------------------------------------------------------- */

enum {
  P1 = 0x1000,
  P2 = 0x2000,
  STAT = 0x8000,
  FDOUT = 0x8100,
  USED = 0x8200,
  IOV = 0x8300,
  LINKBUF = 0x9000,
  READBUF = 0xA000,
  DIRBUF = 0xC000,
  GUARD = 0xE000
};
#define ALL_RIGHTS 0x1FFFFFFFll

static wasm_instance *inst;
static uint8_t *mem;

static uint32_t call(const char *name, const wasm_value *args, uint32_t n) {
  wasm_value r;
  wasm_error err;
  wasm_status st = wasm_instance_call(inst, name, args, n, &r, 1, &err);
  FUZZ_CHECK(st == WASM_OK, "%s: %s", name, st == WASM_OK ? "" : err.msg);
  FUZZ_CHECK((uint32_t)r.of.i32 <= 76, "%s returned errno %d", name, r.of.i32);
  return (uint32_t)r.of.i32;
}

static wasm_value I32(uint32_t v) {
  wasm_value x;
  memset(&x, 0, sizeof x);
  x.type = WASM_I32;
  x.of.i32 = (int32_t)v;
  return x;
}
static wasm_value I64(uint64_t v) {
  wasm_value x;
  memset(&x, 0, sizeof x);
  x.type = WASM_I64;
  x.of.i64 = (int64_t)v;
  return x;
}

static uint64_t le64(const uint8_t *p) { return wasm_load_le64(p); }

/* A filestat at STAT: dev, ino first. */
static void check_stat(const char *what) {
  check_inode(le64(mem + STAT), le64(mem + STAT + 8), what);
}

static void after_open(uint32_t fd) {
  wasm_value a[4] = {I32(fd), I32(STAT)};
  if (call("fd_filestat_get", a, 2) == 0) check_stat("path_open");
  /* Read a little: never the secret. */
  wasm_store_le32(mem + IOV, READBUF);
  wasm_store_le32(mem + IOV + 4, 64);
  a[1] = I32(IOV), a[2] = I32(1), a[3] = I32(USED);
  if (call("fd_read", a, 4) == 0) {
    uint32_t n = wasm_load_le32(mem + USED);
    FUZZ_CHECK(n <= 64, "fd_read says %u bytes", n);
    FUZZ_CHECK(!(n >= 7 && !memcmp(mem + READBUF, "OUTSIDE", 7)), "read the secret");
  }
}

/* The dirents fd_readdir wrote: d_next u64, d_ino u64, d_namlen u32, d_type. */
static void check_dirents(uint32_t used, uint32_t cap) {
  FUZZ_CHECK(used <= cap, "readdir used %u of %u", used, cap);
  struct stat st;
  uint32_t off = 0;
  while (off + 24 <= used) {
    uint64_t ino = le64(mem + DIRBUF + off + 8);
    uint32_t nl = wasm_load_le32(mem + DIRBUF + off + 16);
    /* The inode is the host's; its device is the box's. */
    if (stat(box, &st) == 0) check_inode(st.st_dev, ino, "fd_readdir");
    if (nl > used - off - 24) break; /* the last entry may be cut short */
    off += 24 + nl;
  }
}

static size_t take_path(const uint8_t **d, size_t *n, uint32_t at) {
  if (*n == 0) return 0;
  size_t len = (*d)[0];
  (*d)++, (*n)--;
  if (len > *n) len = *n;
  memcpy(mem + at, *d, len);
  mem[at + len] = 0;
  *d += len, *n -= len;
  return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  wasi_sb_force_walk = data[0] & 1;
  data++, size--;
  reset_box();
  wasi_preopen pre = {.host_path = box, .guest_path = "/"};
  wasi_config cfg = {0};
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  cfg.max_fds = 16;
  wasi_ctx *ctx;
  char eb[256];
  if (wasi_ctx_new(&cfg, &ctx, eb, sizeof eb) != WASI_OK) abort();
  wasm_instance_opts o = {.user_data = ctx};
  wasm_error err;
  if (wasm_instantiate(module, linker, &o, &inst, &err) != WASM_OK) abort();
  mem = wasm_memory_data(wasm_instance_memory(inst));

  uint32_t fds[16] = {3};
  unsigned nfds = 1;
  for (unsigned ops = 0; size >= 4 && ops < 64; ops++) {
    uint8_t op = data[0], fsel = data[1], flags = data[2], extra = data[3];
    data += 4, size -= 4;
    uint32_t fd = fsel < 0x80 ? fds[fsel % nfds] : (uint32_t)(fsel - 0x80);
    uint32_t fd2 = fds[(fsel >> 4) % nfds];
    uint32_t l1 = (uint32_t)take_path(&data, &size, P1), l2 = 0;
    if (op % 11 >= 4 && op % 11 <= 6) l2 = (uint32_t)take_path(&data, &size, P2);
    memset(mem + GUARD, 0xEE, 256);
    uint32_t rc;
    switch (op % 11) {
    case 0: {
      wasm_value a[9] = {I32(fd),
                         I32(flags & 1),
                         I32(P1),
                         I32(l1),
                         I32((flags >> 1) & 0xf),
                         I64(extra & 1 ? ALL_RIGHTS : 0x2 | 0x4000 | 0x200000),
                         I64(ALL_RIGHTS),
                         I32((uint32_t)(extra >> 1) & 0x1f),
                         I32(FDOUT)};
      rc = call("path_open", a, 9);
      if (rc == 0) {
        uint32_t nfd = wasm_load_le32(mem + FDOUT);
        after_open(nfd);
        if (nfds < 16) fds[nfds++] = nfd;
      }
      break;
    }
    case 1:
    case 2:
    case 3: {
      static const char *const names[] = {"path_create_directory", "path_remove_directory",
                                          "path_unlink_file"};
      wasm_value a[3] = {I32(fd), I32(P1), I32(l1)};
      call(names[op % 11 - 1], a, 3);
      break;
    }
    case 4: {
      wasm_value a[6] = {I32(fd), I32(P1), I32(l1), I32(fd2), I32(P2), I32(l2)};
      call("path_rename", a, 6);
      break;
    }
    case 5: {
      wasm_value a[5] = {I32(P1), I32(l1), I32(fd), I32(P2), I32(l2)};
      call("path_symlink", a, 5);
      break;
    }
    case 6: {
      wasm_value a[7] = {I32(fd), I32(flags & 1), I32(P1), I32(l1), I32(fd2), I32(P2), I32(l2)};
      call("path_link", a, 7);
      break;
    }
    case 7: {
      wasm_value a[5] = {I32(fd), I32(flags & 1), I32(P1), I32(l1), I32(STAT)};
      if (call("path_filestat_get", a, 5) == 0) check_stat("path_filestat_get");
      break;
    }
    case 8: {
      uint32_t cap = (uint32_t)extra * 4;
      memset(mem + LINKBUF, 0xEE, 0x1000);
      wasm_value a[6] = {I32(fd), I32(P1), I32(l1), I32(LINKBUF), I32(cap), I32(USED)};
      if (call("path_readlink", a, 6) == 0)
        FUZZ_CHECK(wasm_load_le32(mem + USED) <= cap, "readlink used %u of %u",
                   wasm_load_le32(mem + USED), cap);
      for (uint32_t i = cap; i < 0x1000; i++)
        FUZZ_CHECK(mem[LINKBUF + i] == 0xEE, "readlink wrote byte %u of a %u-byte buffer", i, cap);
      break;
    }
    case 9: {
      uint32_t cap = (uint32_t)extra * 32;
      wasm_value a[5] = {I32(fd), I32(DIRBUF), I32(cap), I64(flags & 3), I32(USED)};
      if (call("fd_readdir", a, 5) == 0) check_dirents(wasm_load_le32(mem + USED), cap);
      break;
    }
    default: {
      wasm_value a[1] = {I32(fd)};
      rc = call("fd_close", a, 1);
      (void)rc;
      break;
    }
    }
    for (int i = 0; i < 256; i++) FUZZ_CHECK(mem[GUARD + i] == 0xEE, "write past the buffers");
  }
  wasm_instance_free(inst);
  inst = NULL;
  wasi_ctx_free(ctx);
  check_outside();
  return 0;
}
