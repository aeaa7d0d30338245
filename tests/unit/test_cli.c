/* test_cli.c — the wagi command line, run as a subprocess: exit statuses,
 * error messages for bad files and usage, and the three commands on the
 * unit-test modules (the .wasm files in build/unit/wat, next to this binary). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char wagi[PATH_MAX], watdir[PATH_MAX];

typedef struct {
  int status;      /* exit status, or -1 if killed */
  char out[16384]; /* stdout and stderr */
} result;

/* Runs wagi with the given argument string (shell syntax). */
static result *run(const char *fmt, ...) {
  static result r;
  char args[2048], cmd[PATH_MAX + 2100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", wagi, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(r.out, 1, sizeof r.out - 1, p);
  r.out[n] = 0;
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return &r;
}

#define EXPECT(r, st, text)                                                                        \
  do {                                                                                             \
    if ((r)->status != (st) || !strstr((r)->out, (text)))                                          \
      fail_msg("exit %d (want %d), output lacks \"%s\":\n%s", (r)->status, (st), (text),           \
               (r)->out);                                                                          \
  } while (0)

static void help_and_version(void **state) {
  (void)state;
  EXPECT(run("--version"), 0, "wagi ");
  EXPECT(run("--help"), 0, "usage:");
  EXPECT(run(""), 1, "usage:");
  EXPECT(run("frobnicate x"), 1, "unknown command");
  EXPECT(run("validate"), 1, "usage:");
  EXPECT(run("invoke x.wasm"), 1, "usage:");
}

/* COMMAND --help (or -h, anywhere among its arguments) prints that
 * command's usage on stdout and exits 0, without opening any file. */
static void subcommand_help(void **state) {
  (void)state;
  EXPECT(run("validate --help"), 0, "usage: wagi validate MODULE.wasm");
  EXPECT(run("validate -h"), 0, "usage: wagi validate");
  EXPECT(run("validate /nonexistent/x.wasm --help"), 0, "usage: wagi validate");
  EXPECT(run("inspect --help"), 0, "usage: wagi inspect MODULE.wasm");
  EXPECT(run("inspect -h"), 0, "i i32, I i64, f f32");
  EXPECT(run("invoke --help"), 0, "usage: wagi invoke MODULE.wasm FUNC");
  EXPECT(run("invoke x.wasm f -h"), 0, "usage: wagi invoke");
  EXPECT(run("run --help"), 0, "usage: wagi run");
  result *r = run("validate --help");
  assert_null(strstr(r->out, "cannot open"));
  /* the top-level help explains the signature letters */
  EXPECT(run("--help"), 0, "i i32, I i64, f f32");
}

static void bad_files(void **state) {
  (void)state;
  EXPECT(run("validate /nonexistent/x.wasm"), 1, "No such file");
  EXPECT(run("validate /tmp"), 1, "directory");
  /* A sparse file just over 1 GiB: refused before reading. */
  char big[] = "/tmp/wagi-big-XXXXXX";
  int fd = mkstemp(big);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (1L << 30) + 1), 0);
  close(fd);
  EXPECT(run("validate %s", big), 1, "too large");
  unlink(big);
  /* Not a module at all. */
  EXPECT(run("validate /etc/hostname"), 1, "wagi: /etc/hostname: ");
  /* Binary garbage: named as neither form, without wat2wasm's output. */
  char junk[] = "/tmp/wagi-junk-XXXXXX";
  fd = mkstemp(junk);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "\x01\x02\x00\xff(module)", 12), 12);
  close(fd);
  result *r = run("validate %s", junk);
  EXPECT(r, 1, "neither a WebAssembly module (no \\0asm header) nor WAT text");
  if (strstr(r->out, "wat2wasm")) fail_msg("wat2wasm's output leaked:\n%s", r->out);
  unlink(junk);
}

/* Writes `text` to a new temporary file named like "/tmp/wagi-XXXXXX.wat". */
static void write_temp(char *path, const char *text) {
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

/* validate, inspect, invoke and run take WAT text as the server does. */
static void wat_text(void **state) {
  (void)state;
  char ok[] = "/tmp/wagi-ok-XXXXXX.wat", bad[] = "/tmp/wagi-bad-XXXXXX.wat";
  char start[] = "/tmp/wagi-start-XXXXXX.wat";
  write_temp(ok,
             ";; a comment first\n(module (func (export \"add\") (param i32 i32) (result "
             "i32) local.get 0 local.get 1 i32.add))\n");
  write_temp(bad, "(module\n  (func (export \"f\") (result i32) i32.add))\n");
  write_temp(start, "(module (func (export \"_start\")))\n");
  EXPECT(run("validate %s", ok), 0, "ok");
  EXPECT(run("inspect %s", ok), 0, "WAT text");
  EXPECT(run("inspect %s", ok), 0, "ii->i");
  EXPECT(run("invoke %s add 40 2", ok), 0, "42");
  EXPECT(run("run %s", start), 0, "");
  /* wat2wasm's message, under the file's own name with line and column. */
  char want[64];
  snprintf(want, sizeof want, "%s:2:", bad);
  EXPECT(run("validate %s", bad), 1, "not valid WAT");
  EXPECT(run("validate %s", bad), 1, want);
  EXPECT(run("run %s", bad), 1, "not valid WAT");
  /* A pipe works too: the text is read once. */
  EXPECT(run("validate /dev/stdin < %s", ok), 0, "ok");
  unlink(ok);
  unlink(bad);
  unlink(start);
}

static void validate_cmd(void **state) {
  (void)state;
  result *r = run("validate %s/traps.wasm", watdir);
  EXPECT(r, 0, "ok");
  /* A truncated copy fails with the decoder's message. */
  char cut[] = "/tmp/wagi-cut-XXXXXX";
  int fd = mkstemp(cut);
  assert_true(fd >= 0);
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/traps.wasm", watdir);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char buf[40];
  assert_int_equal(fread(buf, 1, sizeof buf, f), sizeof buf);
  fclose(f);
  assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
  close(fd);
  r = run("validate %s", cut);
  unlink(cut);
  assert_int_equal(r->status, 1);
  assert_true(strlen(r->out) > strlen(cut) + 10);
}

static void inspect_cmd(void **state) {
  (void)state;
  result *r = run("inspect %s/traps.wasm", watdir);
  EXPECT(r, 0, "exports: 9");
  EXPECT(r, 0, "div");
  EXPECT(r, 0, "ii->i");
  EXPECT(r, 0, "functions: 9");
  EXPECT(r, 0, "memory");
  EXPECT(r, 0, "pages 1..");
  r = run("inspect %s/host.wasm", watdir);
  EXPECT(r, 0, "imports: 3");
  EXPECT(r, 0, "env.add3");
  EXPECT(r, 0, "iIF->F");
  EXPECT(r, 0, "signatures: PARAMS->RESULTS; i i32, I i64");
}

static void invoke_cmd(void **state) {
  (void)state;
  EXPECT(run("invoke %s/traps.wasm ok 41", watdir), 0, "42");
  EXPECT(run("invoke %s/traps.wasm ok 0xffffffff", watdir), 0, "0");
  EXPECT(run("invoke %s/traps.wasm div -7 2", watdir), 0, "-3");
  EXPECT(run("invoke %s/traps.wasm div 1 0", watdir), 2, "integer divide by zero");
  EXPECT(run("invoke %s/traps.wasm oob 70000", watdir), 2, "out of bounds memory access");
  EXPECT(run("invoke %s/traps.wasm recurse 0", watdir), 2, "call stack exhausted");
  EXPECT(run("invoke %s/traps.wasm ok", watdir), 1, "expected 1 argument");
  EXPECT(run("invoke %s/traps.wasm ok abc", watdir), 1, "not a valid i32");
  EXPECT(run("invoke %s/traps.wasm ok 4294967296", watdir), 1, "not a valid i32");
  EXPECT(run("invoke %s/traps.wasm nosuch", watdir), 1, "no exported function");
  EXPECT(run("invoke %s/host.wasm call_user", watdir), 1, "import");
}

/* --max-memory takes the same sizes in `wagi run` and the server. */
static void max_memory_units(void **state) {
  (void)state;
  /* Accepted: the server goes on to (and fails on) the missing config. */
  EXPECT(run("-c /nonexistent/m.toml --max-memory 64M"), 1, "m.toml");
  EXPECT(run("-c /nonexistent/m.toml --max-memory=1G"), 1, "m.toml");
  EXPECT(run("-c /nonexistent/m.toml --max-memory 100"), 1, "expected a size from 64K to 4G");
  EXPECT(run("-c /nonexistent/m.toml --max-memory 5G"), 1, "expected a size from 64K to 4G");
  EXPECT(run("run --max-memory 64M /nonexistent/x.wasm"), 1, "x.wasm");
  EXPECT(run("run --max-memory 65536 /nonexistent/x.wasm"), 1, "x.wasm");
  EXPECT(run("run --max-memory 5G x.wasm"), 1, "expected a size from 64K to 4G");
  /* The old page count gets the size to write instead. */
  EXPECT(run("run --max-memory 16 x.wasm"), 1, "for 16 pages write 1024K");
}

int main(void) {
  /* This binary is BUILD/unit/test_cli; wagi is BUILD/wagi. */
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = 0;
  *strrchr(self, '/') = 0;
  snprintf(watdir, sizeof watdir, "%.*s/wat", PATH_MAX - 8, self);
  *strrchr(self, '/') = 0;
  snprintf(wagi, sizeof wagi, "%.*s/wagi", PATH_MAX - 8, self);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(help_and_version), cmocka_unit_test(subcommand_help),
      cmocka_unit_test(bad_files),        cmocka_unit_test(validate_cmd),
      cmocka_unit_test(inspect_cmd),      cmocka_unit_test(invoke_cmd),
      cmocka_unit_test(wat_text),         cmocka_unit_test(max_memory_units),
  };
  return cmocka_run_group_tests_name("wagi cli", tests, NULL, NULL);
}
