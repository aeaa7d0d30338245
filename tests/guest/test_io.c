/* test_io.c — guest/ whole-stream and whole-file reading (wagi_io.h), built
 * natively (cmocka): contents and the NUL after them, the limit (exactly
 * max is fine, one byte more is an error and nothing is returned), growth
 * past the first 64 KiB buffer, empty input, missing files, directories,
 * a CONTENT_LENGTH over the limit refused before reading, bad arguments. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wagi_io.h"

static char dir[64];

static int make_dir(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/wagi-io-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* n bytes of a pattern in dir/name; returns the path */
static const char *write_pattern(const char *name, size_t n) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) fputc((int)(i * 7 % 251), f);
  assert_int_equal(fclose(f), 0);
  return path;
}

static void assert_pattern(const uint8_t *d, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (d[i] != (uint8_t)(i * 7 % 251)) fail_msg("byte %zu is %u", i, d[i]);
  assert_int_equal(d[n], 0); /* the NUL after the data */
}

static void file_whole_and_limits(void **state) {
  (void)state;
  const char *path = write_pattern("f", 100000);
  uint8_t *d = NULL;
  size_t n = 0;
  char why[160];
  assert_int_equal(wagi_io_read_file(path, 100000, &d, &n, why, sizeof why), WAGI_IO_OK);
  assert_int_equal(n, 100000);
  assert_pattern(d, n);
  free(d);
  d = NULL;
  assert_int_equal(wagi_io_read_file(path, 99999, &d, &n, why, sizeof why), WAGI_IO_ERR_TOO_BIG);
  assert_null(d);
  assert_string_equal(why, "100000 bytes, over the limit of 99999");
  path = write_pattern("empty", 0);
  assert_int_equal(wagi_io_read_file(path, 0, &d, &n, why, sizeof why), WAGI_IO_OK);
  assert_int_equal(n, 0);
  assert_non_null(d);
  assert_int_equal(d[0], 0);
  free(d);
}

static void file_errors_say_why(void **state) {
  (void)state;
  uint8_t *d = NULL;
  size_t n = 0;
  char why[160], path[128];
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_int_equal(wagi_io_read_file(path, 10, &d, &n, why, sizeof why), WAGI_IO_ERR_OPEN);
  assert_string_equal(why, "No such file or directory");
  assert_int_equal(wagi_io_read_file(dir, 1 << 20, &d, &n, why, sizeof why), WAGI_IO_ERR_NOT_FILE);
  assert_string_equal(why, "not a regular file");
  assert_null(d);
  /* no room for a reason is fine too */
  assert_int_equal(wagi_io_read_file(path, 10, &d, &n, NULL, 0), WAGI_IO_ERR_OPEN);
  assert_int_equal(wagi_io_read_file(NULL, 10, &d, &n, why, sizeof why), WAGI_IO_ERR_ARG);
  assert_int_equal(wagi_io_read_file(path, 10, NULL, &n, why, sizeof why), WAGI_IO_ERR_ARG);
  assert_string_equal(wagi_io_strerror(WAGI_IO_ERR_TOO_BIG), "more than the limit");
}

static void stream_grows_and_stops_at_the_limit(void **state) {
  (void)state;
  /* 200000 bytes: past the first 64 KiB buffer twice */
  const char *path = write_pattern("s", 200000);
  uint8_t *d = NULL;
  size_t n = 0;
  FILE *f = fopen(path, "rb");
  assert_int_equal(wagi_io_read_stream(f, 200000, &d, &n), WAGI_IO_OK);
  fclose(f);
  assert_int_equal(n, 200000);
  assert_pattern(d, n);
  free(d);
  d = NULL;
  static const size_t too_small[] = {199999, 65536, 65535, 0};
  for (size_t i = 0; i < sizeof too_small / sizeof *too_small; i++) {
    f = fopen(path, "rb");
    assert_int_equal(wagi_io_read_stream(f, too_small[i], &d, &n), WAGI_IO_ERR_TOO_BIG);
    assert_null(d);
    fclose(f);
  }
  /* exactly the first buffer's size */
  path = write_pattern("s64", 65536);
  f = fopen(path, "rb");
  assert_int_equal(wagi_io_read_stream(f, 65536, &d, &n), WAGI_IO_OK);
  fclose(f);
  assert_int_equal(n, 65536);
  assert_pattern(d, n);
  free(d);
  assert_int_equal(wagi_io_read_stream(NULL, 1, &d, &n), WAGI_IO_ERR_ARG);
}

static void body_from_stdin_and_content_length(void **state) {
  (void)state;
  const char *path = write_pattern("body", 3000);
  assert_non_null(freopen(path, "rb", stdin));
  uint8_t *d = NULL;
  size_t n = 0;
  setenv("CONTENT_LENGTH", "3000", 1);
  assert_int_equal(wagi_io_read_body(3000, &d, &n), WAGI_IO_OK);
  assert_int_equal(n, 3000);
  assert_pattern(d, n);
  free(d);
  d = NULL;
  /* refused by its announced length, stdin untouched */
  assert_non_null(freopen(path, "rb", stdin));
  setenv("CONTENT_LENGTH", "3001", 1);
  assert_int_equal(wagi_io_read_body(3000, &d, &n), WAGI_IO_ERR_TOO_BIG);
  assert_int_equal(ftell(stdin), 0);
  setenv("CONTENT_LENGTH", "99999999999999999999999", 1);
  assert_int_equal(wagi_io_read_body(SIZE_MAX, &d, &n), WAGI_IO_ERR_TOO_BIG);
  /* a lying (small) CONTENT_LENGTH does not let more than max through */
  setenv("CONTENT_LENGTH", "10", 1);
  assert_int_equal(wagi_io_read_body(2999, &d, &n), WAGI_IO_ERR_TOO_BIG);
  assert_null(d);
  unsetenv("CONTENT_LENGTH");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(file_whole_and_limits),
      cmocka_unit_test(file_errors_say_why),
      cmocka_unit_test(stream_grows_and_stops_at_the_limit),
      cmocka_unit_test(body_from_stdin_and_content_length),
  };
  return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
