/* test_wasi_io.c — WASI context and I/O: linking every import, errno mapping,
 * the stdout cap, guest pointer checks (EFAULT, never a host crash), stdin
 * buffers, args/environ layout, prestat, readdir cookies and truncation,
 * proc_exit through wasi_run_start, poll_oneoff clocks, random_get. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
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

WASI_HOSTFN(fd_read);
WASI_HOSTFN(fd_write);
WASI_HOSTFN(fd_pread);
WASI_HOSTFN(fd_seek);
WASI_HOSTFN(fd_seek_u);
WASI_HOSTFN(fd_close);
WASI_HOSTFN(fd_renumber);
WASI_HOSTFN(fd_fdstat_get);
WASI_HOSTFN(fd_fdstat_set_rights);
WASI_HOSTFN(fd_prestat_get);
WASI_HOSTFN(fd_prestat_dir_name);
WASI_HOSTFN(fd_readdir);
WASI_HOSTFN(fd_filestat_get);
WASI_HOSTFN(path_open);

static wasm_linker *linker;
static wasm_module *module;
static char tmpdir[64];

typedef struct {
  wasi_ctx *ctx;
  wasm_instance *inst;
  uint8_t *mem;
} world;

static void world_from(world *w, const wasi_config *cfg) {
  char eb[256];
  wasi_status s = wasi_ctx_new(cfg, &w->ctx, eb, sizeof eb);
  if (s != WASI_OK) fail_msg("wasi_ctx_new: %s", eb);
  wasm_instance_opts o = {0};
  o.user_data = w->ctx;
  w->inst = instantiate_or_fail(module, linker, &o);
  w->mem = wasm_memory_data(wasm_instance_memory(w->inst));
}

/* A world whose only preopen is `dir` as "/" (fd 3). */
static void world_at(world *w, const char *dir) {
  wasi_preopen pre = {dir, "/", 0, -1};
  wasi_config cfg = {0};
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  world_from(w, &cfg);
}

static void world_free(world *w) {
  wasm_instance_free(w->inst);
  wasi_ctx_free(w->ctx);
}

#define CALL(w, fn, ...)                                                                           \
  ({                                                                                               \
    wasm_slot a_[12] = {__VA_ARGS__};                                                              \
    assert_int_equal(wasi_fn_##fn((w)->inst, NULL, a_), WASM_OK);                                  \
    (uint32_t) a_[0];                                                                              \
  })

/* Calls an export of the test module with i32 arguments; returns its i32. */
static int32_t callx(world *w, const char *name, int n, ...) {
  wasm_value args[4], res[1];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) args[i] = v_i32(va_arg(ap, int32_t));
  va_end(ap);
  wasm_error err;
  wasm_status s = wasm_instance_call(w->inst, name, args, (uint32_t)n, res, 1, &err);
  if (s != WASM_OK) fail_msg("%s: %s", name, err.msg);
  return res[0].of.i32;
}

static void test_errno_map(void **state) {
  (void)state;
  assert_int_equal(wasi_errno_from_host(0), WASI_ESUCCESS);
  assert_int_equal(wasi_errno_from_host(E2BIG), 1);
  assert_int_equal(wasi_errno_from_host(EACCES), 2);
  assert_int_equal(wasi_errno_from_host(EBADF), 8);
  assert_int_equal(wasi_errno_from_host(EEXIST), 20);
  assert_int_equal(wasi_errno_from_host(EINVAL), 28);
  assert_int_equal(wasi_errno_from_host(EIO), 29);
  assert_int_equal(wasi_errno_from_host(EISDIR), 31);
  assert_int_equal(wasi_errno_from_host(ELOOP), 32);
  assert_int_equal(wasi_errno_from_host(ENAMETOOLONG), 37);
  assert_int_equal(wasi_errno_from_host(ENOENT), 44);
  assert_int_equal(wasi_errno_from_host(ENOSYS), 52);
  assert_int_equal(wasi_errno_from_host(ENOTDIR), 54);
  assert_int_equal(wasi_errno_from_host(ENOTEMPTY), 55);
  assert_int_equal(wasi_errno_from_host(ENOTSUP), 58);
  assert_int_equal(wasi_errno_from_host(EOPNOTSUPP), 58);
  assert_int_equal(wasi_errno_from_host(EPERM), 63);
  assert_int_equal(wasi_errno_from_host(EROFS), 69);
  assert_int_equal(wasi_errno_from_host(ESPIPE), 70);
  assert_int_equal(wasi_errno_from_host(EXDEV), 75);
  assert_int_equal(wasi_errno_from_host(EWOULDBLOCK), WASI_EAGAIN);
  assert_int_equal(wasi_errno_from_host(12345), WASI_EIO);
  /* escapes found by the resolver are ENOTCAPABLE, not EXDEV */
  assert_int_equal(wasi_path_errno(-EXDEV), 76);
  assert_int_equal(wasi_path_errno(-ENOENT), 44);
  assert_string_equal(wasi_errno_str(76), "ENOTCAPABLE");
  assert_string_equal(wasi_errno_str(44), "ENOENT");
  assert_string_equal(wasi_errno_str(999), "E?");
}

static void test_link_all_and_exit(void **state) {
  (void)state;
  wasi_config cfg = {0};
  world w;
  world_from(&w, &cfg); /* instantiation linked every import */
  int code = -1;
  wasm_error err;
  assert_int_equal(wasi_run_start(w.inst, &code, &err), WASM_OK);
  assert_int_equal(code, 7);
  int32_t c2;
  assert_true(wasi_ctx_exited(w.ctx, &c2));
  assert_int_equal(c2, 7);
  assert_int_equal(wasi_run(w.inst, "nope", &code, &err), WASM_ERR_NOT_FOUND);
  world_free(&w);
}

static wasi_ctx *the_ctx;
static wasi_ctx *get_ctx(wasm_instance *caller, void *arg) {
  (void)caller;
  assert_ptr_equal(arg, &the_ctx);
  return the_ctx;
}

static void test_get_ctx_and_no_ctx(void **state) {
  (void)state;
  wasm_linker *l = wasm_linker_new();
  assert_int_equal(wasi_define(l, get_ctx, &the_ctx), WASM_OK);
  assert_int_equal(wasi_define(l, get_ctx, &the_ctx), WASM_OK); /* redefining replaces */
  wasi_config cfg = {0};
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  char eb[128];
  assert_int_equal(wasi_ctx_new(&cfg, &the_ctx, eb, sizeof eb), WASI_OK);
  wasm_instance *inst = instantiate_or_fail(module, l, NULL);
  uint8_t *mem = wasm_memory_data(wasm_instance_memory(inst));
  memcpy(mem + 100, "hi", 2);
  wasm_store_le32(mem + 0, 100);
  wasm_store_le32(mem + 4, 2);
  wasm_value args[4] = {v_i32(1), v_i32(0), v_i32(1), v_i32(8)}, res[1];
  wasm_error err;
  assert_int_equal(wasm_instance_call(inst, "write", args, 4, res, 1, &err), WASM_OK);
  assert_int_equal(res[0].of.i32, 0);
  size_t n;
  const uint8_t *out = wasi_ctx_stdout(the_ctx, &n);
  assert_int_equal(n, 2);
  assert_memory_equal(out, "hi", 2);
  wasm_instance_free(inst);
  wasi_ctx_free(the_ctx);
  wasm_linker_free(l);
  /* no ctx at all (user_data NULL): a host trap, not a crash */
  inst = instantiate_or_fail(module, linker, NULL);
  assert_int_equal(wasm_instance_call(inst, "write", args, 4, res, 1, &err), WASM_TRAP_HOST);
  wasm_instance_free(inst);
}

/* An embedder's stderr fd with a cap: what fits reaches the fd, the rest
 * is dropped while the guest is told all was written; the ctx reports the
 * cut and whether the last byte written ended a line. */
static void test_stderr_fd_cap(void **state) {
  (void)state;
  char path[] = "/tmp/wagi-test-stderr-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  wasi_config cfg = {0};
  cfg.stderr_kind = WASI_STDIO_FD;
  cfg.stderr_fd = fd;
  cfg.stderr_cap = 10;
  world w;
  world_from(&w, &cfg);
  assert_true(wasi_ctx_stderr_ends_line(w.ctx)); /* nothing written yet */
  memcpy(w.mem + 100, "01234\n6789abcdef", 16);
  wasm_store_le32(w.mem + 0, 100);
  wasm_store_le32(w.mem + 4, 6);
  assert_int_equal(callx(&w, "write", 4, 2, 0, 1, 8), 0);
  assert_int_equal(wasm_load_le32(w.mem + 8), 6);
  assert_false(wasi_ctx_stderr_truncated(w.ctx));
  assert_true(wasi_ctx_stderr_ends_line(w.ctx));
  /* two iovecs of 6: 4 bytes fit, the guest is told 12 */
  wasm_store_le32(w.mem + 8, 100);
  wasm_store_le32(w.mem + 12, 6);
  assert_int_equal(callx(&w, "write", 4, 2, 0, 2, 16), 0);
  assert_int_equal(wasm_load_le32(w.mem + 16), 12);
  assert_true(wasi_ctx_stderr_truncated(w.ctx));
  assert_false(wasi_ctx_stderr_ends_line(w.ctx)); /* cut after "0123" */
  /* full: still success, nothing more reaches the fd */
  assert_int_equal(callx(&w, "write", 4, 2, 0, 1, 16), 0);
  assert_int_equal(wasm_load_le32(w.mem + 16), 6);
  char got[32];
  assert_int_equal(pread(fd, got, sizeof got, 0), 10);
  assert_memory_equal(got, "01234\n0123", 10);
  size_t n;
  wasi_ctx_stderr(w.ctx, &n);
  assert_int_equal(n, 0); /* no capture buffer */
  world_free(&w);
  close(fd);
}

static void test_stdout_cap_and_efault(void **state) {
  (void)state;
  wasi_config cfg = {0};
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  cfg.stdout_cap = 10;
  cfg.stderr_kind = WASI_STDIO_BUFFER;
  world w;
  world_from(&w, &cfg);
  memcpy(w.mem + 100, "0123456789abcdef", 16);
  wasm_store_le32(w.mem + 0, 100);
  wasm_store_le32(w.mem + 4, 6);
  assert_int_equal(callx(&w, "write", 4, 1, 0, 1, 8), 0);
  assert_int_equal(wasm_load_le32(w.mem + 8), 6);
  assert_false(wasi_ctx_stdout_truncated(w.ctx));
  /* 6 more: 4 fit, the call reports 4 */
  assert_int_equal(callx(&w, "write", 4, 1, 0, 1, 8), 0);
  assert_int_equal(wasm_load_le32(w.mem + 8), 4);
  assert_true(wasi_ctx_stdout_truncated(w.ctx));
  /* full: the module sees EFBIG */
  assert_int_equal(callx(&w, "write", 4, 1, 0, 1, 8), WASI_EFBIG);
  size_t n;
  const uint8_t *out = wasi_ctx_stdout(w.ctx, &n);
  assert_int_equal(n, 10);
  assert_memory_equal(out, "0123450123", 10);
  /* stderr has no cap; the legacy module name writes too */
  assert_int_equal(callx(&w, "u_write", 4, 2, 0, 1, 8), 0);
  out = wasi_ctx_stderr(w.ctx, &n);
  assert_int_equal(n, 6);
  /* iovec whose buffer runs past the end of memory */
  wasm_store_le32(w.mem + 16, 65530);
  wasm_store_le32(w.mem + 20, 100);
  assert_int_equal(callx(&w, "write", 4, 2, 16, 1, 8), WASI_EFAULT);
  wasm_store_le32(w.mem + 16, 0xffffffffu);
  wasm_store_le32(w.mem + 20, 2);
  assert_int_equal(callx(&w, "write", 4, 2, 16, 1, 8), WASI_EFAULT);
  /* iovec array itself past the end, and a huge count */
  assert_int_equal(callx(&w, "write", 4, 2, 65532, 1, 8), WASI_EFAULT);
  assert_int_equal(callx(&w, "write", 4, 2, 0, 0x7fffffff, 8), WASI_EINVAL);
  assert_int_equal(callx(&w, "write", 4, 2, 0, 1000, 8), WASI_EFAULT);
  /* result pointer out of bounds: nothing written */
  size_t before;
  wasi_ctx_stderr(w.ctx, &before);
  assert_int_equal(callx(&w, "write", 4, 2, 0, 1, 65535), WASI_EFAULT);
  wasi_ctx_stderr(w.ctx, &n);
  assert_int_equal(n, before);
  /* bad fds */
  assert_int_equal(callx(&w, "write", 4, 99, 0, 1, 8), WASI_EBADF);
  assert_int_equal(callx(&w, "write", 4, -1, 0, 1, 8), WASI_EBADF);
  assert_int_equal(callx(&w, "write", 4, 0, 0, 1, 8), WASI_ENOTCAPABLE); /* stdin */
  /* random_get bounds */
  assert_int_equal(callx(&w, "random", 2, 1000, 64), 0);
  assert_int_equal(callx(&w, "random", 2, 65500, 64), WASI_EFAULT);
  world_free(&w);
}

static void test_stdin_args_env(void **state) {
  (void)state;
  const char *argv[] = {"prog", "a b", ""};
  const char *env[] = {"X=1", "EMPTY="};
  static const uint8_t input[] = "hello stdin";
  wasi_config cfg = {0};
  cfg.argv = argv;
  cfg.argc = 3;
  cfg.env = env;
  cfg.envc = 2;
  cfg.stdin_kind = WASI_STDIO_BUFFER;
  cfg.stdin_buf = input;
  cfg.stdin_len = 11;
  world w;
  world_from(&w, &cfg);
  /* fd_read in two pieces */
  wasm_store_le32(w.mem + 0, 100);
  wasm_store_le32(w.mem + 4, 5);
  wasm_store_le32(w.mem + 8, 200);
  wasm_store_le32(w.mem + 12, 3);
  assert_int_equal(CALL(&w, fd_read, 0, 0, 2, 16), 0);
  assert_int_equal(wasm_load_le32(w.mem + 16), 8);
  assert_memory_equal(w.mem + 100, "hello", 5);
  assert_memory_equal(w.mem + 200, " st", 3);
  assert_int_equal(CALL(&w, fd_read, 0, 0, 2, 16), 0);
  assert_int_equal(wasm_load_le32(w.mem + 16), 3);
  assert_int_equal(CALL(&w, fd_read, 0, 0, 2, 16), 0);
  assert_int_equal(wasm_load_le32(w.mem + 16), 0); /* EOF */
  assert_int_equal(CALL(&w, fd_seek, 0, 0, 0, 16), WASI_ESPIPE);
  /* fdstat of stdin */
  assert_int_equal(CALL(&w, fd_fdstat_get, 0, 300), 0);
  assert_true(wasm_load_le64(w.mem + 308) & WASI_R_FD_READ);
  assert_false(wasm_load_le64(w.mem + 308) & WASI_R_FD_WRITE);
  /* rights can shrink, never grow */
  assert_int_equal(CALL(&w, fd_fdstat_set_rights, 0, 0, 0), 0);
  assert_int_equal(CALL(&w, fd_read, 0, 0, 2, 16), WASI_ENOTCAPABLE);
  assert_int_equal(CALL(&w, fd_fdstat_set_rights, 0, WASI_R_FD_READ, 0), WASI_ENOTCAPABLE);
  assert_int_equal(CALL(&w, fd_close, 0), 0);
  assert_int_equal(CALL(&w, fd_close, 0), WASI_EBADF);
  world_free(&w);
  /* the ctx's copies of argv and environ (the guest layout is checked
   * end to end in tests/wasi) */
  wasi_ctx *ctx;
  char eb[64];
  assert_int_equal(wasi_ctx_new(&cfg, &ctx, eb, sizeof eb), WASI_OK);
  assert_int_equal(ctx->argc, 3);
  assert_int_equal(ctx->argv_bytes, 5 + 4 + 1);
  assert_string_equal(ctx->argv[1], "a b");
  assert_int_equal(ctx->env_bytes, 4 + 7);
  assert_string_equal(ctx->env[1], "EMPTY=");
  wasi_ctx_free(ctx);
}

/* argv / env given packed (srv_cgi_pack's form): same guest view as the
 * vectors; a run that does not hold exactly argc/envc strings is refused. */
static void test_packed_args_env(void **state) {
  (void)state;
  static const char ap[] = "prog\0a b\0"; /* 3 strings: "prog", "a b", "" */
  static const char ep[] = "X=1\0EMPTY="; /* 2 strings */
  wasi_config cfg = {0};
  cfg.argv_packed = ap;
  cfg.argv_packed_len = sizeof ap;
  cfg.argc = 3;
  cfg.env_packed = ep;
  cfg.env_packed_len = sizeof ep;
  cfg.envc = 2;
  world w;
  world_from(&w, &cfg);
  assert_int_equal(callx(&w, "call_args_sizes_get", 2, 0, 4), 0);
  assert_int_equal(wasm_load_le32(w.mem + 0), 3);
  assert_int_equal(wasm_load_le32(w.mem + 4), 10);
  assert_int_equal(callx(&w, "call_args_get", 2, 100, 200), 0);
  assert_int_equal(wasm_load_le32(w.mem + 100), 200);
  assert_int_equal(wasm_load_le32(w.mem + 104), 205);
  assert_int_equal(wasm_load_le32(w.mem + 108), 209);
  assert_memory_equal(w.mem + 200, "prog\0a b\0", 10);
  assert_int_equal(callx(&w, "call_environ_sizes_get", 2, 0, 4), 0);
  assert_int_equal(wasm_load_le32(w.mem + 0), 2);
  assert_int_equal(wasm_load_le32(w.mem + 4), 11);
  assert_int_equal(callx(&w, "call_environ_get", 2, 300, 400), 0);
  assert_int_equal(wasm_load_le32(w.mem + 304), 404);
  assert_string_equal((const char *)w.mem + 404, "EMPTY=");
  world_free(&w);

  struct {
    const char *run;
    size_t len, n;
    int ok;
  } v[] = {
      {"a\0b\0", 4, 3, 0},                                /* fewer strings than the count */
      {"a\0b", 3, 2, 0},                                  /* last one unterminated */
      {"a\0b\0c", 5, 2, 0},                               /* bytes left over */
      {"a\0b\0", 4, 1, 0},  {"", 0, 0, 1}, {"", 1, 1, 1}, /* one empty string */
      {"a\0\0\0", 4, 3, 1},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    for (int which = 0; which < 2; which++) {
      wasi_config c = {0};
      if (which) {
        c.env_packed = v[i].run;
        c.env_packed_len = v[i].len;
        c.envc = v[i].n;
      } else {
        c.argv_packed = v[i].run;
        c.argv_packed_len = v[i].len;
        c.argc = v[i].n;
      }
      wasi_ctx *ctx = NULL;
      char eb[128] = "";
      wasi_status st = wasi_ctx_new(&c, &ctx, eb, sizeof eb);
      if (v[i].ok) {
        assert_int_equal(st, WASI_OK);
        assert_int_equal(which ? ctx->envc : ctx->argc, v[i].n);
        assert_int_equal(which ? ctx->env_bytes : ctx->argv_bytes, v[i].len);
        wasi_ctx_free(ctx);
      } else {
        assert_int_equal(st, WASI_ERR_ARG);
        assert_null(ctx);
        assert_non_null(strstr(eb, "does not hold exactly"));
      }
    }
  }
}

/* WASI_TRUSTED_STDIO_FDS: no check at wasi_ctx_new, the type looked up on
 * first use, with the same rights as without the flag; a closed fd is
 * EBADF for the guest instead of an error for the embedder. */
static void test_trusted_stdio_fds(void **state) {
  (void)state;
  char path[] = "/tmp/wasi_io_fd_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "0123456789", 10), 10);
  uint64_t rights[2];
  for (int trusted = 0; trusted < 2; trusted++) {
    wasi_config cfg = {0};
    cfg.stdin_kind = WASI_STDIO_FD;
    cfg.stdin_fd = fd;
    cfg.stderr_kind = WASI_STDIO_FD;
    cfg.stderr_fd = fd;
    cfg.flags = trusted ? WASI_TRUSTED_STDIO_FDS : 0;
    world w;
    world_from(&w, &cfg);
    assert_int_equal(w.ctx->fds[2].lazy != 0, trusted);
    assert_int_equal(CALL(&w, fd_fdstat_get, 2, 300), 0);
    assert_int_equal(w.ctx->fds[2].lazy, 0);
    assert_int_equal(w.mem[300], 4); /* WASI_FT_REGULAR_FILE */
    rights[trusted] = wasm_load_le64(w.mem + 308);
    assert_true(rights[trusted] & WASI_R_FD_SYNC);
    assert_false(rights[trusted] & WASI_R_FD_SEEK); /* an output fd keeps its offset */
    /* stdin: the seek right comes with the type, before the rights check */
    assert_int_equal(CALL(&w, fd_seek, 0, 2, 0, 16), 0); /* SEEK_SET 2 */
    assert_int_equal(wasm_load_le64(w.mem + 16), 2);
    world_free(&w);
  }
  assert_true(rights[0] == rights[1]);

  int closed = dup(fd);
  assert_true(closed >= 0);
  close(closed);
  wasi_config cfg = {0};
  cfg.stdout_kind = WASI_STDIO_FD;
  cfg.stdout_fd = closed;
  wasi_ctx *ctx = NULL;
  char eb[128];
  assert_int_equal(wasi_ctx_new(&cfg, &ctx, eb, sizeof eb), WASI_ERR_ARG);
  cfg.flags = WASI_TRUSTED_STDIO_FDS;
  world w;
  world_from(&w, &cfg);
  memcpy(w.mem + 100, "hi", 2);
  wasm_store_le32(w.mem + 0, 100);
  wasm_store_le32(w.mem + 4, 2);
  assert_int_equal(callx(&w, "write", 4, 1, 0, 1, 8), WASI_EBADF);
  world_free(&w);
  cfg.stdout_fd = -1; /* a negative fd is refused even when trusted */
  assert_int_equal(wasi_ctx_new(&cfg, &ctx, eb, sizeof eb), WASI_ERR_ARG);
  close(fd);
  unlink(path);
}

/* Captured stdout starts inside the ctx and moves to the heap as it grows:
 * every byte must survive each move, and the cap still cuts exactly. */
static void test_stdout_growth(void **state) {
  (void)state;
  static const uint32_t sizes[] = {1000, 24, 1, 3000, 1, 9000, 7};
  for (int capped = 0; capped < 2; capped++) {
    wasi_config cfg = {0};
    cfg.stdout_kind = WASI_STDIO_BUFFER;
    cfg.stdout_cap = capped ? 1030 : 0;
    world w;
    world_from(&w, &cfg);
    uint8_t *want = malloc(20000);
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
      for (uint32_t k = 0; k < sizes[i]; k++) w.mem[1000 + k] = (uint8_t)(i * 31 + k * 7);
      wasm_store_le32(w.mem + 0, 1000);
      wasm_store_le32(w.mem + 4, sizes[i]);
      int32_t e = callx(&w, "write", 4, 1, 0, 1, 8);
      size_t room = capped ? 1030 - total : SIZE_MAX;
      if (capped && room == 0) {
        assert_int_equal(e, WASI_EFBIG);
        continue;
      }
      assert_int_equal(e, 0);
      size_t took = sizes[i] < room ? sizes[i] : room;
      assert_int_equal(wasm_load_le32(w.mem + 8), took);
      memcpy(want + total, w.mem + 1000, took);
      total += took;
    }
    size_t n;
    const uint8_t *out = wasi_ctx_stdout(w.ctx, &n);
    assert_int_equal(n, total);
    assert_int_equal(total, capped ? 1030 : 13033);
    assert_memory_equal(out, want, total);
    assert_int_equal(wasi_ctx_stdout_truncated(w.ctx), capped);
    free(want);
    world_free(&w);
  }
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s;
  (void)f;
  (void)w;
  return remove(p);
}

/* The inode fd_readdir gives for ".." (24-byte dirent header: d_next,
 * d_ino, d_namlen, d_type); entry 1 of a listing from cookie 1. */
static uint64_t dotdot_inode(world *w, uint32_t fd) {
  assert_int_equal(CALL(w, fd_readdir, fd, 1000, 200, 1, 16), 0);
  assert_true(wasm_load_le32(w->mem + 16) >= 26);
  assert_int_equal(wasm_load_le32(w->mem + 1000 + 16), 2);
  assert_memory_equal(w->mem + 1000 + 24, "..", 2);
  return wasm_load_le64(w->mem + 1000 + 8);
}

/* ".." never shows the inode of the directory above a preopen: not through
 * the preopen's fd, nor through another fd on the same directory (path_open
 * of "." or of "sub/.."), also once the preopen's fd is closed (both found
 * by tests/fuzz/fuzz_wasi_path.c); below the root it is the real parent. */
static void test_readdir_dotdot_stays_inside(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/wasi_io_XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  char box[96], sub[128];
  snprintf(box, sizeof box, "%s/box", tmpdir);
  snprintf(sub, sizeof sub, "%s/sub", box);
  assert_int_equal(mkdir(box, 0755), 0);
  assert_int_equal(mkdir(sub, 0755), 0);
  struct stat above, root;
  assert_int_equal(stat(tmpdir, &above), 0);
  assert_int_equal(stat(box, &root), 0);
  world w;
  world_at(&w, box);
  assert_int_equal(dotdot_inode(&w, 3), (uint64_t)root.st_ino);
  memcpy(w.mem + 300, ".", 1);
  assert_int_equal(
      CALL(&w, path_open, 3, 0, 300, 1, WASI_OF_DIRECTORY, WASI_R_FD_READDIR, 0, 0, 20), 0);
  uint32_t dot = wasm_load_le32(w.mem + 20);
  uint64_t ino = dotdot_inode(&w, dot);
  assert_int_not_equal(ino, (uint64_t)above.st_ino);
  assert_int_equal(ino, (uint64_t)root.st_ino);
  memcpy(w.mem + 300, "sub", 3);
  assert_int_equal(
      CALL(&w, path_open, 3, 0, 300, 3, WASI_OF_DIRECTORY, WASI_R_FD_READDIR, 0, 0, 20), 0);
  uint32_t subfd = wasm_load_le32(w.mem + 20);
  assert_int_equal(dotdot_inode(&w, subfd), (uint64_t)root.st_ino);
  /* The root reached through "sub/.." is no different, and with the
   * preopen's fd closed the root's fds still keep its parent hidden. */
  memcpy(w.mem + 300, "sub/..", 6);
  assert_int_equal(
      CALL(&w, path_open, 3, 0, 300, 6, WASI_OF_DIRECTORY, WASI_R_FD_READDIR, 0, 0, 20), 0);
  uint32_t up = wasm_load_le32(w.mem + 20);
  assert_int_equal(CALL(&w, fd_close, 3), 0);
  assert_int_equal(dotdot_inode(&w, dot), (uint64_t)root.st_ino);
  assert_int_equal(dotdot_inode(&w, up), (uint64_t)root.st_ino);
  world_free(&w);
  nftw(tmpdir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_preopens_readdir(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/wasi_io_XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  char p[128];
  for (int i = 0; i < 50; i++) {
    snprintf(p, sizeof p, "%s/file_with_a_longish_name_%02d", tmpdir, i);
    close(open(p, O_CREAT | O_WRONLY, 0644));
  }
  wasi_preopen pre[3] = {
      {"/nonexistent/dir", "/bad", 0, -1}, {tmpdir, "/data", 0, -1}, {tmpdir, "/", 1, -1}};
  wasi_config cfg = {0};
  cfg.preopens = pre;
  cfg.npreopens = 3;
  wasi_ctx *ctx;
  char eb[256];
  assert_int_equal(wasi_ctx_new(&cfg, &ctx, eb, sizeof eb), WASI_ERR_PREOPEN);
  assert_non_null(strstr(eb, "/nonexistent/dir"));
  cfg.flags = WASI_SKIP_BAD_PREOPENS;
  world w;
  world_from(&w, &cfg);
  assert_non_null(strstr(wasi_ctx_warnings(w.ctx), "/nonexistent/dir"));
  /* /data is fd 3, / is fd 4, fd 5 is not a preopen */
  assert_int_equal(CALL(&w, fd_prestat_get, 3, 100), 0);
  assert_int_equal(w.mem[100], 0);
  assert_int_equal(wasm_load_le32(w.mem + 104), 5);
  assert_int_equal(CALL(&w, fd_prestat_dir_name, 3, 200, 5), 0);
  assert_memory_equal(w.mem + 200, "/data", 5);
  assert_int_equal(CALL(&w, fd_prestat_dir_name, 3, 200, 4), WASI_ENAMETOOLONG);
  assert_int_equal(CALL(&w, fd_prestat_get, 4, 100), 0);
  assert_int_equal(wasm_load_le32(w.mem + 104), 1);
  assert_int_equal(CALL(&w, fd_prestat_get, 5, 100), WASI_EBADF);
  assert_int_equal(CALL(&w, fd_prestat_get, 0, 100), WASI_EBADF);
  /* readdir with a small buffer: follow cookies until done, count names;
   * "." and ".." come first */
  int seen = 0, dots = 0, calls = 0;
  uint64_t cookie = 0;
  const uint32_t buf = 1000, blen = 200;
  for (;;) {
    assert_int_equal(CALL(&w, fd_readdir, 3, buf, blen, cookie, 16), 0);
    uint32_t used = wasm_load_le32(w.mem + 16);
    uint32_t off = 0;
    calls++;
    while (off + 24 <= used) {
      uint32_t nl = wasm_load_le32(w.mem + buf + off + 16);
      if (off + 24 + nl > used) break; /* cut entry: ask again from cookie */
      const uint8_t *name = w.mem + buf + off + 24;
      if (seen + dots < 2) {
        assert_int_equal(nl, (uint32_t)(seen + dots + 1));
        assert_memory_equal(name, "..", nl);
        assert_int_equal(w.mem[buf + off + 20], WASI_FT_DIRECTORY);
        dots++;
      } else {
        assert_memory_equal(name, "file_with_a_longish_name_", 25);
        assert_int_equal(w.mem[buf + off + 20], WASI_FT_REGULAR_FILE);
        seen++;
      }
      cookie = wasm_load_le64(w.mem + buf + off);
      assert_int_equal(cookie, (uint64_t)(seen + dots));
      off += 24 + nl;
    }
    if (used < blen) break;
    assert_true(calls < 1000);
  }
  assert_int_equal(seen, 50);
  assert_int_equal(dots, 2);
  /* readdir into a buffer past the end of memory */
  assert_int_equal(CALL(&w, fd_readdir, 3, 65500, 200, 0, 16), WASI_EFAULT);
  /* renumber a preopen over stdout, then close it */
  assert_int_equal(CALL(&w, fd_renumber, 3, 1), 0);
  assert_int_equal(CALL(&w, fd_prestat_get, 1, 100), 0);
  assert_int_equal(CALL(&w, fd_prestat_get, 3, 100), WASI_EBADF);
  assert_int_equal(CALL(&w, fd_close, 1), 0);
  /* the read-only preopen cannot create */
  memcpy(w.mem + 300, "newf", 4);
  assert_int_equal(CALL(&w, path_open, 4, 0, 300, 4, WASI_OF_CREAT, WASI_R_FD_READ, 0, 0, 16),
                   WASI_EROFS);
  world_free(&w);

  /* Two ctxs sharing one embedder-opened dir fd: interleaved listings stay
   * complete (each reads through its own private fd) and the shared fd
   * survives both ctxs. */
  int shared = open(tmpdir, O_RDONLY | O_DIRECTORY);
  assert_true(shared >= 0);
  wasi_preopen sp = {NULL, "/s", 0, shared};
  wasi_config sc = {0};
  sc.preopens = &sp;
  sc.npreopens = 1;
  world w1, w2;
  world_from(&w1, &sc);
  world_from(&w2, &sc);
  int seen1 = 0, seen2 = 0;
  uint64_t c1 = 0, c2 = 0;
  for (int round = 0; round < 200 && (c1 != UINT64_MAX || c2 != UINT64_MAX); round++) {
    world *ws[2] = {&w1, &w2};
    uint64_t *cs[2] = {&c1, &c2};
    int *ns[2] = {&seen1, &seen2};
    for (int k = 0; k < 2; k++) {
      if (*cs[k] == UINT64_MAX) continue;
      world *x = ws[k];
      assert_int_equal(CALL(x, fd_readdir, 3, buf, blen, *cs[k], 16), 0);
      uint32_t used = wasm_load_le32(x->mem + 16), off = 0;
      while (off + 24 <= used) {
        uint32_t nl = wasm_load_le32(x->mem + buf + off + 16);
        if (off + 24 + nl > used) break;
        *cs[k] = wasm_load_le64(x->mem + buf + off);
        (*ns[k])++;
        off += 24 + nl;
      }
      if (used < blen) *cs[k] = UINT64_MAX;
    }
  }
  assert_int_equal(seen1, 52); /* with . and .. */
  assert_int_equal(seen2, 52);
  memcpy(w1.mem + 300, "file_with_a_longish_name_07", 27);
  assert_int_equal(CALL(&w1, path_open, 3, 0, 300, 27, 0, WASI_R_FD_READ, 0, 0, 16), 0);
  assert_int_equal(CALL(&w1, fd_close, 3), 0); /* closing the preopen: only the ctx's slot */
  world_free(&w1);
  world_free(&w2);
  assert_true(fcntl(shared, F_GETFD) >= 0); /* still open */
  /* a bad shared fd: refused, or skipped with a warning */
  sp.host_fd = -1;
  assert_int_equal(wasi_ctx_new(&sc, &ctx, eb, sizeof eb), WASI_ERR_PREOPEN);
  sc.flags = WASI_SKIP_BAD_PREOPENS;
  assert_int_equal(wasi_ctx_new(&sc, &ctx, eb, sizeof eb), WASI_OK);
  assert_non_null(wasi_ctx_warnings(ctx));
  wasi_ctx_free(ctx);
  close(shared);
  nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_seek_legacy_and_pread(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/wasi_io_XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  char p[128];
  snprintf(p, sizeof p, "%s/f", tmpdir);
  int hfd = open(p, O_CREAT | O_WRONLY, 0644);
  assert_int_equal(write(hfd, "abcdefghij", 10), 10);
  close(hfd);
  wasi_preopen pre = {tmpdir, "/", 0, -1};
  wasi_config cfg = {0};
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  world w;
  world_from(&w, &cfg);
  memcpy(w.mem + 300, "f", 1);
  assert_int_equal(CALL(&w, path_open, 3, 0, 300, 1, 0,
                        WASI_R_FD_READ | WASI_R_FD_SEEK | WASI_R_FD_TELL | WASI_R_FD_FILESTAT_GET,
                        0, 0, 16),
                   0);
  uint32_t fd = wasm_load_le32(w.mem + 16);
  /* preview1 whence END=2; wasi_unstable END=1 */
  assert_int_equal(CALL(&w, fd_seek, fd, (uint64_t)-3, 2, 24), 0);
  assert_int_equal(wasm_load_le64(w.mem + 24), 7);
  assert_int_equal(CALL(&w, fd_seek_u, fd, (uint64_t)-4, 1, 24), 0);
  assert_int_equal(wasm_load_le64(w.mem + 24), 6);
  assert_int_equal(CALL(&w, fd_seek_u, fd, 2, 2, 24), 0); /* unstable SET */
  assert_int_equal(wasm_load_le64(w.mem + 24), 2);
  assert_int_equal(CALL(&w, fd_seek, fd, 0, 3, 24), WASI_EINVAL);
  wasm_store_le32(w.mem + 0, 100);
  wasm_store_le32(w.mem + 4, 4);
  assert_int_equal(CALL(&w, fd_pread, fd, 0, 1, 5, 8), 0);
  assert_int_equal(wasm_load_le32(w.mem + 8), 4);
  assert_memory_equal(w.mem + 100, "fghi", 4);
  assert_int_equal(CALL(&w, fd_write, fd, 0, 1, 8), WASI_ENOTCAPABLE);
  assert_int_equal(CALL(&w, fd_filestat_get, fd, 400), 0);
  assert_int_equal(w.mem[416], WASI_FT_REGULAR_FILE);
  assert_int_equal(wasm_load_le64(w.mem + 432), 10);
  assert_int_equal(CALL(&w, fd_filestat_get, fd, 65530), WASI_EFAULT);
  /* the fd table grows past its inline slots, then stops at EMFILE */
  uint32_t opened = 0, last_err = 0;
  for (int i = 0; i < 1100; i++) {
    uint32_t e = CALL(&w, path_open, 3, 0, 300, 1, 0, WASI_R_FD_READ, 0, 0, 16);
    if (e) {
      last_err = e;
      break;
    }
    opened++;
  }
  assert_true(opened > 100);
  assert_int_equal(last_err, WASI_EMFILE);
  for (uint32_t i = 0; i < opened; i++) CALL(&w, fd_close, 5 + i);
  assert_int_equal(CALL(&w, path_open, 3, 0, 300, 1, 0, WASI_R_FD_READ, 0, 0, 16), 0);
  assert_int_equal(wasm_load_le32(w.mem + 16), 5); /* lowest free number again */
  world_free(&w);
  /* a smaller cap */
  cfg.max_fds = 8;
  world_from(&w, &cfg);
  memcpy(w.mem + 300, "f", 1);
  opened = 0;
  while (CALL(&w, path_open, 3, 0, 300, 1, 0, WASI_R_FD_READ, 0, 0, 16) == 0) opened++;
  assert_int_equal(opened, 4); /* fds 4..7 */
  world_free(&w);
  nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void *interrupter(void *ctx) {
  struct timespec d = {0, 50000000};
  nanosleep(&d, NULL);
  wasi_ctx_interrupt(ctx);
  return NULL;
}

/* What the fuzz_wasm_exec target did: only the engine's interrupt. */
static void *instance_interrupter(void *inst) {
  struct timespec d = {0, 50000000};
  nanosleep(&d, NULL);
  wasm_instance_interrupt(inst);
  return NULL;
}

static void test_poll_clock(void **state) {
  (void)state;
  wasi_config cfg = {0};
  world w;
  world_from(&w, &cfg);
  /* one relative 20 ms clock subscription */
  memset(w.mem, 0, 256);
  wasm_store_le64(w.mem + 0, 0xabcdef);
  w.mem[8] = 0;                   /* clock */
  wasm_store_le32(w.mem + 16, 1); /* monotonic */
  wasm_store_le64(w.mem + 24, 20000000);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(callx(&w, "poll", 4, 0, 100, 1, 200), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= 19);
  assert_int_equal(wasm_load_le32(w.mem + 200), 1);
  assert_int_equal(wasm_load_le64(w.mem + 100), 0xabcdef);
  assert_int_equal(wasm_load_le16(w.mem + 108), 0);
  /* stdin (empty) read readiness is immediate, alongside a long clock */
  wasm_store_le64(w.mem + 24, 5000000000ull);
  wasm_store_le64(w.mem + 48, 7);
  w.mem[56] = 1; /* fd_read */
  wasm_store_le32(w.mem + 64, 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(callx(&w, "poll", 4, 0, 100, 2, 200), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 2);
  assert_int_equal(wasm_load_le32(w.mem + 200), 1);
  assert_int_equal(wasm_load_le64(w.mem + 100), 7);
  /* a long sleep ended by wasi_ctx_interrupt from another thread */
  wasm_store_le64(w.mem + 24, 30000000000ull); /* 30 s */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, interrupter, w.ctx), 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  wasm_value pa[4] = {v_i32(0), v_i32(100), v_i32(1), v_i32(200)}, pr[1];
  wasm_error perr;
  assert_int_equal(wasm_instance_call(w.inst, "poll", pa, 4, pr, 1, &perr), WASM_TRAP_INTERRUPTED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(th, NULL);
  assert_true(t1.tv_sec - t0.tv_sec < 5);
  world_free(&w);
  /* the same sleep ended by wasm_instance_interrupt alone, on a fresh ctx */
  world_from(&w, &cfg);
  memset(w.mem, 0, 256);
  w.mem[8] = 0;
  wasm_store_le32(w.mem + 16, 1);
  wasm_store_le64(w.mem + 24, 30000000000ull);
  assert_int_equal(pthread_create(&th, NULL, instance_interrupter, w.inst), 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(wasm_instance_call(w.inst, "poll", pa, 4, pr, 1, &perr), WASM_TRAP_INTERRUPTED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(th, NULL);
  assert_true(t1.tv_sec - t0.tv_sec < 5);
  assert_non_null(strstr(perr.msg, "poll_oneoff"));
  wasm_instance_clear_interrupt(w.inst);
  /* events written over the subscriptions themselves: one event each */
  memset(w.mem, 0, 256);
  for (int i = 0; i < 3; i++) {
    wasm_store_le64(w.mem + 48u * i, 100 + i);
    w.mem[48 * i + 8] = (uint8_t)(i == 1 ? 0 : i == 0 ? 1 : 2); /* read, clock, write */
    wasm_store_le32(w.mem + 48u * i + 16,
                    i == 1 ? 1 : (uint32_t)i / 2); /* fds 0 and 1; monotonic */
  }
  assert_int_equal(callx(&w, "poll", 4, 0, 8, 3, 200), 0);
  assert_int_equal(wasm_load_le32(w.mem + 200), 3);
  /* zero subscriptions and bad pointers */
  assert_int_equal(callx(&w, "poll", 4, 0, 100, 0, 200), WASI_EINVAL);
  assert_int_equal(callx(&w, "poll", 4, 65500, 100, 2, 200), WASI_EFAULT);
  assert_int_equal(callx(&w, "poll", 4, 0, 100, 60000, 200), WASI_EFAULT);
  assert_int_equal(callx(&w, "poll", 4, 0, 100, 100000, 200), WASI_EINVAL); /* over the cap */
  world_free(&w);
}

static void *fifo_writer(void *fd) {
  struct timespec d = {0, 50000000};
  nanosleep(&d, NULL);
  assert_int_equal(write(*(int *)fd, "hi", 2), 2);
  return NULL;
}

/* A FIFO in a preopen with a writer that does not write: the guest's read
 * blocks as on a blocking fd, yet an interrupt ends it (before, it sat in
 * read(2), out of reach of the server's time limit). */
static void test_fifo_read_waits_interruptibly(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/wasi_fifo_XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  char fifo[96];
  snprintf(fifo, sizeof fifo, "%s/p", tmpdir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  int host = open(fifo, O_RDWR); /* a writer (and reader) that stays open */
  assert_true(host >= 0);
  world w;
  world_at(&w, tmpdir);
  memcpy(w.mem + 300, "p", 1);
  assert_int_equal(CALL(&w, path_open, 3, 0, 300, 1, 0, WASI_R_FD_READ, 0, 0, 20), 0);
  uint32_t fd = wasm_load_le32(w.mem + 20);
  wasm_store_le32(w.mem + 0, 400); /* one iovec: 16 bytes at 400 */
  wasm_store_le32(w.mem + 4, 16);
  /* data written while the guest waits arrives, as on a blocking fd */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, fifo_writer, &host), 0);
  assert_int_equal(CALL(&w, fd_read, fd, 0, 1, 8), 0);
  pthread_join(th, NULL);
  assert_int_equal(wasm_load_le32(w.mem + 8), 2);
  assert_memory_equal(w.mem + 400, "hi", 2);
  /* nothing written: the engine's interrupt ends the wait */
  assert_int_equal(pthread_create(&th, NULL, instance_interrupter, w.inst), 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  wasm_slot a[4] = {fd, 0, 1, 8};
  assert_int_equal(wasi_fn_fd_read(w.inst, NULL, a), WASM_TRAP_INTERRUPTED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(th, NULL);
  assert_true(t1.tv_sec - t0.tv_sec < 5);
  wasm_instance_clear_interrupt(w.inst);
  /* and wasi_ctx_interrupt too */
  assert_int_equal(pthread_create(&th, NULL, interrupter, w.ctx), 0);
  wasm_slot b[4] = {fd, 0, 1, 8};
  assert_int_equal(wasi_fn_fd_read(w.inst, NULL, b), WASM_TRAP_INTERRUPTED);
  pthread_join(th, NULL);
  world_free(&w);
  /* a guest that asked for NONBLOCK gets EAGAIN at once */
  world_at(&w, tmpdir);
  memcpy(w.mem + 300, "p", 1);
  assert_int_equal(
      CALL(&w, path_open, 3, 0, 300, 1, 0, WASI_R_FD_READ, 0, WASI_FDF_NONBLOCK, 20), 0);
  fd = wasm_load_le32(w.mem + 20);
  wasm_store_le32(w.mem + 0, 400);
  wasm_store_le32(w.mem + 4, 16);
  assert_int_equal(CALL(&w, fd_read, fd, 0, 1, 8), WASI_EAGAIN);
  world_free(&w);
  close(host);
  nftw(tmpdir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* Every import with arguments drawn from edge values, over memory that is
 * sometimes random bytes: any result is fine, a crash or an escape is not.
 * Skipped: poll_oneoff (random timeouts sleep) and fd_allocate (it would
 * really reserve gigabytes). */
static void test_fuzz_all(void **state) {
  (void)state;
  char parent[64], boxp[80], p[128];
  strcpy(parent, "/tmp/wasi_fuzz_XXXXXX");
  assert_non_null(mkdtemp(parent));
  snprintf(boxp, sizeof boxp, "%s/box", parent);
  assert_int_equal(mkdir(boxp, 0755), 0);
  snprintf(p, sizeof p, "%s/box/f", parent);
  close(open(p, O_CREAT | O_WRONLY, 0644));
  wasi_preopen pre = {boxp, "/", 0, -1};
  wasi_config cfg = {0};
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  cfg.stdout_cap = 4096;
  world w;
  world_from(&w, &cfg);
  static const uint64_t edge[] = {
      0,           1,           2,           3,          4,          5,        8,     64,
      100,         4095,        4096,        65528,      65532,      65535,    65536, 0x7fffffff,
      0x80000000u, 0xfffffff8u, 0xffffffffu, 1ull << 32, UINT64_MAX, INT64_MAX};
  srand(12345);
  uint32_t nexp = wasm_module_export_count(module);
  int calls = 0, oks = 0;
  for (int iter = 0; iter < 40000; iter++) {
    if (iter % 500 == 0) { /* memory: random bytes, or short "names" */
      for (int i = 0; i < 65536; i++)
        w.mem[i] = (iter / 500) % 2 ? (uint8_t)rand() : (uint8_t)("ab./\0f"[rand() % 7]);
    }
    wasm_export_desc d;
    wasm_module_export(module, (uint32_t)rand() % nexp, &d);
    if (strncmp(d.name, "call_", 5) || !strcmp(d.name, "call_poll_oneoff") ||
        !strcmp(d.name, "call_fd_allocate"))
      continue;
    wasm_func *f = wasm_instance_export_func(w.inst, d.name);
    uint32_t np = wasm_func_param_count(f);
    wasm_value args[12], res[1];
    for (uint32_t i = 0; i < np; i++) {
      uint64_t v = rand() % 3 ? edge[rand() % (sizeof edge / sizeof edge[0])]
                              : ((uint64_t)rand() << 16) ^ (uint64_t)rand();
      if (wasm_func_param_type(f, i) == WASM_I64) args[i] = v_i64((int64_t)v);
      else args[i] = v_i32((int32_t)(uint32_t)v);
    }
    wasm_error err;
    wasm_status s = wasm_instance_call(w.inst, d.name, args, np, res, 1, &err);
    assert_int_equal(s, WASM_OK);
    assert_true((uint32_t)res[0].of.i32 <= WASI_ENOTCAPABLE);
    calls++;
    if (res[0].of.i32 == 0) oks++;
  }
  if (getenv("WASI_TEST_VERBOSE")) fprintf(stderr, "fuzz: %d calls, %d succeeded\n", calls, oks);
  assert_true(calls > 10000);
  world_free(&w);
  /* nothing appeared next to the box */
  DIR *dir = opendir(parent);
  struct dirent *e;
  int others = 0;
  while ((e = readdir(dir)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "box")) others++;
  closedir(dir);
  assert_int_equal(others, 0);
  nftw(parent, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  module = compile_or_fail(wasi_all_wasm, wasi_all_wasm_len);
  linker = wasm_linker_new();
  if (!linker || wasi_define(linker, NULL, NULL) != WASM_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errno_map),
      cmocka_unit_test(test_link_all_and_exit),
      cmocka_unit_test(test_get_ctx_and_no_ctx),
      cmocka_unit_test(test_stdout_cap_and_efault),
      cmocka_unit_test(test_stderr_fd_cap),
      cmocka_unit_test(test_stdin_args_env),
      cmocka_unit_test(test_packed_args_env),
      cmocka_unit_test(test_trusted_stdio_fds),
      cmocka_unit_test(test_stdout_growth),
      cmocka_unit_test(test_preopens_readdir),
      cmocka_unit_test(test_readdir_dotdot_stays_inside),
      cmocka_unit_test(test_seek_legacy_and_pread),
      cmocka_unit_test(test_poll_clock),
      cmocka_unit_test(test_fifo_read_waits_interruptibly),
      cmocka_unit_test(test_fuzz_all),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  wasm_linker_free(linker);
  wasm_module_free(module);
  return r;
}
