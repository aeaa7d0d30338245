/* test_wasi_path.c — the WASI sandbox at the resolver level: `..` climbing,
 * absolute paths, symlinks to the outside (absolute and relative, chains,
 * loops), a symlink swapped in while resolving (race), hard links out, NUL
 * bytes and over-long paths. Every resolver test runs twice: with openat2
 * (RESOLVE_BENEATH) and with the component-by-component fallback. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "wasi/wasi_int.h"
#include "wasm/wasm.h"
#include "unit_util.h"
#include "wasi_all_wasm.h"

WASI_HOSTFN(path_open);
WASI_HOSTFN(path_link);
WASI_HOSTFN(path_symlink);
WASI_HOSTFN(path_filestat_get);
WASI_HOSTFN(path_create_directory);
WASI_HOSTFN(path_readlink);
WASI_HOSTFN(path_unlink_file);
WASI_HOSTFN(path_rename);
WASI_HOSTFN(fd_read);

static char root[256]; /* temp dir: root/box is the sandbox */
static char box[300], outside[300];
static int boxfd = -1;

static void put(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static void at(char *out, size_t n, const char *base, const char *rel) {
  snprintf(out, n, "%s/%s", base, rel);
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s;
  (void)f;
  (void)w;
  return remove(p);
}

static int setup_tree(void **state) {
  (void)state;
  strcpy(root, "/tmp/wasi_path_XXXXXX");
  if (!mkdtemp(root)) return -1;
  char p[512];
  at(box, sizeof box, root, "box");
  at(outside, sizeof outside, root, "outside");
  mkdir(box, 0755);
  mkdir(outside, 0755);
  at(p, sizeof p, outside, "secret");
  put(p, "SECRET");
  at(p, sizeof p, box, "file");
  put(p, "inside");
  at(p, sizeof p, box, "sub");
  mkdir(p, 0755);
  at(p, sizeof p, box, "sub/inner");
  put(p, "inner");
  at(p, sizeof p, box, "race");
  mkdir(p, 0755);
  at(p, sizeof p, box, "race/secret");
  put(p, "inside");
  at(p, sizeof p, box, "evil");
  if (symlink("/etc", p)) return -1;
  at(p, sizeof p, box, "evil_abs_in");
  {
    char t[512];
    at(t, sizeof t, box, "file");
    if (symlink(t, p)) return -1; /* absolute, even though it points inside */
  }
  at(p, sizeof p, box, "esc");
  if (symlink("../outside", p)) return -1;
  at(p, sizeof p, box, "esc_file");
  if (symlink("../outside/secret", p)) return -1;
  at(p, sizeof p, box, "sub/deep_esc");
  if (symlink("../../outside/secret", p)) return -1;
  at(p, sizeof p, box, "sub/up");
  if (symlink("../file", p)) return -1;
  at(p, sizeof p, box, "chain1");
  if (symlink("chain2", p)) return -1;
  at(p, sizeof p, box, "chain2");
  if (symlink("sub/../chain3", p)) return -1;
  at(p, sizeof p, box, "chain3");
  if (symlink("file", p)) return -1;
  at(p, sizeof p, box, "loop1");
  if (symlink("loop2", p)) return -1;
  at(p, sizeof p, box, "loop2");
  if (symlink("loop1", p)) return -1;
  at(p, sizeof p, box, "subl");
  if (symlink("sub", p)) return -1;
  boxfd = open(box, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return boxfd >= 0 ? 0 : -1;
}

static int teardown_tree(void **state) {
  (void)state;
  if (boxfd >= 0) close(boxfd);
  nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* Opens beneath the box and returns the file's first bytes ("" on error). */
static int open_read(const char *path, int follow, char *out, size_t n) {
  int fd = wasi_sb_open(boxfd, path, O_RDONLY, 0, follow);
  out[0] = '\0';
  if (fd < 0) return fd;
  ssize_t r = read(fd, out, n - 1);
  out[r > 0 ? r : 0] = '\0';
  close(fd);
  return 0;
}

static void resolver_cases(void) {
  char buf[64];
  /* inside */
  assert_int_equal(open_read("file", 1, buf, sizeof buf), 0);
  assert_string_equal(buf, "inside");
  assert_int_equal(open_read("sub/../file", 1, buf, sizeof buf), 0);
  assert_string_equal(buf, "inside");
  assert_int_equal(open_read("./sub//inner", 1, buf, sizeof buf), 0);
  assert_string_equal(buf, "inner");
  assert_int_equal(open_read("subl/inner", 1, buf, sizeof buf), 0);
  assert_string_equal(buf, "inner");
  assert_int_equal(open_read("sub/up", 1, buf, sizeof buf), 0);
  assert_string_equal(buf, "inside");
  assert_int_equal(open_read("chain1", 1, buf, sizeof buf), 0);
  assert_string_equal(buf, "inside");
  /* climbing out */
  assert_int_equal(open_read("../outside/secret", 1, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("sub/../../outside/secret", 1, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("..", 1, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("sub/../..", 1, buf, sizeof buf), -EXDEV);
  /* absolute */
  assert_int_equal(open_read("/etc/passwd", 1, buf, sizeof buf), -EXDEV);
  /* symlinks leading out, as an intermediate or the final component */
  assert_int_equal(open_read("evil/passwd", 1, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("evil/passwd", 0, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("esc/secret", 1, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("esc_file", 1, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("sub/deep_esc", 1, buf, sizeof buf), -EXDEV);
  assert_int_equal(open_read("evil_abs_in", 1, buf, sizeof buf), -EXDEV);
  assert_string_equal(buf, "");
  /* not following a final symlink */
  assert_int_equal(open_read("esc_file", 0, buf, sizeof buf), -ELOOP);
  int fd = wasi_sb_open(boxfd, "esc_file", O_PATH, 0, 0);
  assert_true(fd >= 0); /* the link itself, for lstat */
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  close(fd);
  /* loops */
  assert_int_equal(open_read("loop1", 1, buf, sizeof buf), -ELOOP);
  /* creating through an escaping link must not create outside */
  fd = wasi_sb_open(boxfd, "esc/newfile", O_WRONLY | O_CREAT, 0644, 1);
  assert_int_equal(fd, -EXDEV);
  char p[512];
  at(p, sizeof p, outside, "newfile");
  assert_int_equal(access(p, F_OK), -1);
  /* very long paths and components */
  char *lp = malloc(5000);
  memset(lp, 'a', 4999);
  lp[4999] = '\0';
  assert_int_equal(wasi_sb_open(boxfd, lp, O_RDONLY, 0, 1), -ENAMETOOLONG);
  lp[300] = '\0';
  assert_int_equal(wasi_sb_open(boxfd, lp, O_RDONLY, 0, 1), -ENAMETOOLONG);
  free(lp);
  /* parents */
  char last[256];
  int trail;
  fd = wasi_sb_parent(boxfd, "sub/inner", last, &trail);
  assert_true(fd >= 0);
  assert_string_equal(last, "inner");
  assert_int_equal(trail, 0);
  close(fd);
  fd = wasi_sb_parent(boxfd, "sub/", last, &trail);
  assert_true(fd >= 0);
  assert_string_equal(last, "sub");
  assert_int_equal(trail, 1);
  close(fd);
  assert_int_equal(wasi_sb_parent(boxfd, "../x", last, &trail), -EXDEV);
  assert_int_equal(wasi_sb_parent(boxfd, "esc/x", last, &trail), -EXDEV);
  assert_int_equal(wasi_sb_parent(boxfd, "evil/x", last, &trail), -EXDEV);
}

static void test_resolver_openat2(void **state) {
  (void)state;
  wasi_sb_force_walk = 0;
  resolver_cases();
}

static void test_resolver_walk(void **state) {
  (void)state;
  wasi_sb_force_walk = 1;
  resolver_cases();
  wasi_sb_force_walk = 0;
}

/* ---- race: "race" flips between a directory inside and a link outside ---- */

static atomic_int stop_swapping;
/* Handshake for the checks that must succeed: the main thread sets
 * pause_req, the swapper parks with "race" a real directory and sets
 * paused, and resumes once pause_req is cleared. */
static atomic_int pause_req, paused;

static void *swapper(void *arg) {
  (void)arg;
  char d[512], tmp[512];
  at(d, sizeof d, box, "race");
  at(tmp, sizeof tmp, box, "race_real");
  while (!atomic_load(&stop_swapping)) {
    if (atomic_load(&pause_req)) { /* "race" is the directory here */
      atomic_store(&paused, 1);
      while (atomic_load(&pause_req) && !atomic_load(&stop_swapping)) sched_yield();
      atomic_store(&paused, 0);
      continue;
    }
    if (rename(d, tmp) != 0) continue;
    if (symlink(outside, d) == 0) unlink(d);      /* absolute link out */
    if (symlink("../outside", d) == 0) unlink(d); /* relative link out */
    rename(tmp, d);
  }
  return NULL;
}

static void race_run(int walk) {
  wasi_sb_force_walk = walk;
  atomic_store(&stop_swapping, 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, swapper, NULL), 0);
  int opened = 0, checked = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0;; i++) {
    char buf[64];
    if (open_read("race/secret", 1, buf, sizeof buf) == 0) {
      opened++;
      assert_string_equal(buf, "inside"); /* never the outside secret */
    }
    if (i % 256 == 255) {
      /* With the swapper parked the open must work: a resolver that
       * refused everything would otherwise pass this test. */
      atomic_store(&pause_req, 1);
      while (!atomic_load(&paused)) sched_yield();
      assert_int_equal(open_read("race/secret", 1, buf, sizeof buf), 0);
      assert_string_equal(buf, "inside");
      checked++;
      atomic_store(&pause_req, 0);
      while (atomic_load(&paused)) sched_yield();
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (i > 2000 && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 150) break;
  }
  atomic_store(&stop_swapping, 1);
  pthread_join(th, NULL);
  wasi_sb_force_walk = 0;
  assert_true(checked > 0);
  if (getenv("WASI_TEST_VERBOSE"))
    fprintf(stderr, "race walk=%d: %d opened while racing, %d checked parked\n", walk, opened,
            checked);
}

static void test_race_openat2(void **state) {
  (void)state;
  race_run(0);
}
static void test_race_walk(void **state) {
  (void)state;
  race_run(1);
}

/* ---- guest-level: path_* host functions on a real instance -------------------- */

static wasm_linker *linker;
static wasm_module *module;

typedef struct {
  wasi_ctx *ctx;
  wasm_instance *inst;
  uint8_t *mem;
} world;

static void world_new(world *w, int read_only) {
  wasi_preopen pre = {box, "/box", read_only, -1};
  wasi_config cfg = {0};
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  char eb[256];
  assert_int_equal(wasi_ctx_new(&cfg, &w->ctx, eb, sizeof eb), WASI_OK);
  wasm_instance_opts o = {0};
  o.user_data = w->ctx;
  w->inst = instantiate_or_fail(module, linker, &o);
  w->mem = wasm_memory_data(wasm_instance_memory(w->inst));
}

static void world_free(world *w) {
  wasm_instance_free(w->inst);
  wasi_ctx_free(w->ctx);
}

/* Puts a string at guest address p; returns its length. */
static uint32_t gstr(world *w, uint32_t p, const char *s) {
  size_t n = strlen(s);
  memcpy(w->mem + p, s, n);
  return (uint32_t)n;
}

#define CALL(w, fn, ...)                                                                           \
  ({                                                                                               \
    wasm_slot a_[12] = {__VA_ARGS__};                                                              \
    assert_int_equal(wasi_fn_##fn((w)->inst, NULL, a_), WASM_OK);                                  \
    (uint32_t) a_[0];                                                                              \
  })

static void test_guest_paths(void **state) {
  (void)state;
  world w;
  world_new(&w, 0);
  uint32_t n;
  /* NUL inside a path */
  memcpy(w.mem + 100, "file\0/../x", 10);
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, 10, 0, WASI_R_FD_READ, 0, 0, 200), WASI_EINVAL);
  /* absolute and climbing */
  n = gstr(&w, 100, "/etc/passwd");
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, 0, WASI_R_FD_READ, 0, 0, 200),
                   WASI_ENOTCAPABLE);
  n = gstr(&w, 100, "../outside/secret");
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, 0, WASI_R_FD_READ, 0, 0, 200),
                   WASI_ENOTCAPABLE);
  n = gstr(&w, 100, "esc_file");
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, 0, WASI_R_FD_READ, 0, 0, 200),
                   WASI_ENOTCAPABLE);
  /* path pointer past the end of memory */
  assert_int_equal(CALL(&w, path_open, 3, 1, 65530, 10, 0, WASI_R_FD_READ, 0, 0, 200), WASI_EFAULT);
  assert_int_equal(CALL(&w, path_open, 3, 1, 0xfffffff0u, 0x20, 0, WASI_R_FD_READ, 0, 0, 200),
                   WASI_EFAULT);
  /* a good open, read through fd_read */
  n = gstr(&w, 100, "chain1");
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, 0, WASI_R_FD_READ, 0, 0, 200), 0);
  uint32_t fd = wasm_load_le32(w.mem + 200);
  assert_true(fd >= 4);
  wasm_store_le32(w.mem + 300, 400);
  wasm_store_le32(w.mem + 304, 16);
  assert_int_equal(CALL(&w, fd_read, fd, 300, 1, 308), 0);
  assert_int_equal(wasm_load_le32(w.mem + 308), 6);
  assert_memory_equal(w.mem + 400, "inside", 6);
  /* over-long path from the guest */
  assert_int_equal(CALL(&w, path_open, 3, 1, 1000, 5000, 0, WASI_R_FD_READ, 0, 0, 200),
                   WASI_ENAMETOOLONG);
  /* hard link out: the source resolves outside */
  uint32_t n1 = gstr(&w, 100, "../outside/secret"), n2 = gstr(&w, 150, "stolen");
  assert_int_equal(CALL(&w, path_link, 3, 0, 100, n1, 3, 150, n2), WASI_ENOTCAPABLE);
  n1 = gstr(&w, 100, "esc_file");
  assert_int_equal(CALL(&w, path_link, 3, 1, 100, n1, 3, 150, n2), WASI_ENOTCAPABLE);
  n1 = gstr(&w, 100, "esc/secret");
  assert_int_equal(CALL(&w, path_link, 3, 0, 100, n1, 3, 150, n2), WASI_ENOTCAPABLE);
  char p[512];
  at(p, sizeof p, box, "stolen");
  assert_int_equal(access(p, F_OK), -1);
  /* hard link of a link without following: the link itself (still sandboxed) */
  n1 = gstr(&w, 100, "esc_file");
  assert_int_equal(CALL(&w, path_link, 3, 0, 100, n1, 3, 150, n2), 0);
  n2 = gstr(&w, 150, "stolen");
  assert_int_equal(CALL(&w, path_open, 3, 1, 150, n2, 0, WASI_R_FD_READ, 0, 0, 200),
                   WASI_ENOTCAPABLE);
  assert_int_equal(CALL(&w, path_unlink_file, 3, 150, n2), 0);
  /* a hard link target outside */
  n1 = gstr(&w, 100, "file");
  n2 = gstr(&w, 150, "../outside/copy");
  assert_int_equal(CALL(&w, path_link, 3, 0, 100, n1, 3, 150, n2), WASI_ENOTCAPABLE);
  /* symlink creation policy */
  n1 = gstr(&w, 100, "/etc/passwd");
  n2 = gstr(&w, 150, "newlink");
  assert_int_equal(CALL(&w, path_symlink, 100, n1, 3, 150, n2), WASI_EPERM);
  n1 = gstr(&w, 100, "../outside/secret");
  assert_int_equal(CALL(&w, path_symlink, 100, n1, 3, 150, n2), WASI_ENOTCAPABLE);
  n1 = gstr(&w, 100, "sub/../file");
  assert_int_equal(CALL(&w, path_symlink, 100, n1, 3, 150, n2), 0);
  assert_int_equal(CALL(&w, path_readlink, 3, 150, n2, 400, 64, 308), 0);
  assert_int_equal(wasm_load_le32(w.mem + 308), n1);
  assert_memory_equal(w.mem + 400, "sub/../file", n1);
  assert_int_equal(CALL(&w, path_unlink_file, 3, 150, n2), 0);
  /* stat of an escaping link without following works, following does not */
  n = gstr(&w, 100, "evil");
  assert_int_equal(CALL(&w, path_filestat_get, 3, 0, 100, n, 500), 0);
  assert_int_equal(w.mem[500 + 16], WASI_FT_SYMBOLIC_LINK);
  assert_int_equal(CALL(&w, path_filestat_get, 3, 1, 100, n, 500), WASI_ENOTCAPABLE);
  n = gstr(&w, 100, "evil/");
  assert_int_equal(CALL(&w, path_filestat_get, 3, 0, 100, n, 500), WASI_ENOTCAPABLE);
  /* mkdir through an escaping link, and of ".." */
  n = gstr(&w, 100, "esc/newdir");
  assert_int_equal(CALL(&w, path_create_directory, 3, 100, n), WASI_ENOTCAPABLE);
  n = gstr(&w, 100, "..");
  assert_int_equal(CALL(&w, path_create_directory, 3, 100, n), WASI_ENOTCAPABLE);
  n = gstr(&w, 100, "sub/..");
  assert_int_equal(CALL(&w, path_create_directory, 3, 100, n), WASI_EEXIST);
  /* rename out */
  n1 = gstr(&w, 100, "file");
  n2 = gstr(&w, 150, "../outside/moved");
  assert_int_equal(CALL(&w, path_rename, 3, 100, n1, 3, 150, n2), WASI_ENOTCAPABLE);
  world_free(&w);
}

static void test_read_only(void **state) {
  (void)state;
  world w;
  world_new(&w, 1);
  uint32_t n = gstr(&w, 100, "newdir");
  assert_int_equal(CALL(&w, path_create_directory, 3, 100, n), WASI_EROFS);
  n = gstr(&w, 100, "file");
  assert_int_equal(CALL(&w, path_unlink_file, 3, 100, n), WASI_EROFS);
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, WASI_OF_TRUNC, WASI_R_FD_READ, 0, 0, 200),
                   WASI_EROFS);
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, 0, WASI_R_FD_WRITE, 0, 0, 200), WASI_EROFS);
  n = gstr(&w, 100, "created");
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, WASI_OF_CREAT, WASI_R_FD_READ, 0, 0, 200),
                   WASI_EROFS);
  /* reading still works, and the opened file has no write right */
  n = gstr(&w, 100, "file");
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, 0, WASI_R_ALL, WASI_R_ALL, 0, 200),
                   WASI_EROFS);
  assert_int_equal(
      CALL(&w, path_open, 3, 1, 100, n, 0, WASI_R_ALL & ~WASI_R_WRITE_SET, WASI_R_ALL, 0, 200), 0);
  uint32_t fd = wasm_load_le32(w.mem + 200);
  wasi_fd *f;
  assert_int_equal(wasi_fd_get(w.ctx, fd, WASI_R_FD_READ, &f), 0);
  assert_int_equal(wasi_fd_get(w.ctx, fd, WASI_R_FD_WRITE, &f), WASI_EROFS);
  /* the rights Rust's std asks for a read-only open, which include some
   * write-ish ones (set_times): granted minus what the tree lacks */
  const uint64_t rust_read = WASI_R_FD_READ | WASI_R_FD_READDIR | WASI_R_FD_ADVISE |
                             WASI_R_FD_FDSTAT_SET_FLAGS | WASI_R_FD_FILESTAT_GET |
                             WASI_R_FD_FILESTAT_SET_TIMES | WASI_R_FD_SEEK | WASI_R_FD_SYNC |
                             WASI_R_FD_TELL;
  assert_int_equal(CALL(&w, path_open, 3, 1, 100, n, 0, rust_read, rust_read, 0, 200), 0);
  fd = wasm_load_le32(w.mem + 200);
  assert_int_equal(wasi_fd_get(w.ctx, fd, WASI_R_FD_READ | WASI_R_FD_SEEK, &f), 0);
  assert_int_equal(wasi_fd_get(w.ctx, fd, WASI_R_FD_FILESTAT_SET_TIMES, &f), WASI_EROFS);
  world_free(&w);
}

int main(void) {
  wasm_error err;
  (void)err;
  module = compile_or_fail(wasi_all_wasm, wasi_all_wasm_len);
  linker = wasm_linker_new();
  if (!linker || wasi_define(linker, NULL, NULL) != WASM_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolver_openat2), cmocka_unit_test(test_resolver_walk),
      cmocka_unit_test(test_race_openat2),     cmocka_unit_test(test_race_walk),
      cmocka_unit_test(test_guest_paths),      cmocka_unit_test(test_read_only),
  };
  int r = cmocka_run_group_tests(tests, setup_tree, teardown_tree);
  wasm_linker_free(linker);
  wasm_module_free(module);
  return r;
}
