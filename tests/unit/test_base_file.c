/* test_base_file.c — base_read_file: whole files, pipes, the size limit,
 * the refusals and their messages, and base_format_size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"

static char dir[] = "/tmp/wagi-test-base-XXXXXX";

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name) {
  static char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static void write_file(const char *name, const void *data, size_t n) {
  FILE *f = fopen(path_of(name), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void reads_whole_file_with_nul_after(void **state) {
  (void)state;
  const char data[] = "a\0b\nc";
  write_file("f", data, 5);
  uint8_t *buf = NULL;
  size_t len = 99;
  char err[256] = "";
  assert_int_equal(base_read_file(path_of("f"), 100, 0, &buf, &len, err, sizeof err), BASE_FILE_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(buf, data, 5);
  assert_int_equal(buf[5], 0);
  free(buf);

  write_file("empty", "", 0);
  assert_int_equal(
      base_read_file(path_of("empty"), 100, BASE_FILE_REGULAR_ONLY, &buf, &len, err, sizeof err),
      BASE_FILE_OK);
  assert_int_equal(len, 0);
  assert_int_equal(buf[0], 0);
  free(buf);
}

static void limit_is_exact(void **state) {
  (void)state;
  char big[4096];
  memset(big, 'x', sizeof big);
  write_file("big", big, sizeof big);
  uint8_t *buf = (uint8_t *)"untouched";
  size_t len = 7;
  char err[256];
  assert_int_equal(base_read_file(path_of("big"), sizeof big, 0, &buf, &len, err, sizeof err),
                   BASE_FILE_OK);
  assert_int_equal(len, sizeof big);
  free(buf);

  buf = (uint8_t *)"untouched";
  len = 7;
  assert_int_equal(base_read_file(path_of("big"), sizeof big - 1, 0, &buf, &len, err, sizeof err),
                   BASE_FILE_ERR_IO);
  char want[512];
  snprintf(want, sizeof want, "%s: file too large (4096 bytes; the limit is 4095 bytes)",
           path_of("big"));
  assert_string_equal(err, want);
  assert_string_equal((char *)buf, "untouched"); /* *out written only on success */
  assert_int_equal(len, 7);
}

/* A pipe has no size: the limit is enforced while reading. */
static void pipe_read_to_eof_and_limited(void **state) {
  (void)state;
  for (int over = 0; over <= 1; over++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    size_t n = 200000 + (size_t)over;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      char chunk[1000];
      memset(chunk, 'p', sizeof chunk);
      for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof chunk ? n - done : sizeof chunk;
        if (write(fds[1], chunk, k) != (ssize_t)k) _exit(1);
        done += k;
      }
      _exit(0);
    }
    close(fds[1]);
    char p[64];
    snprintf(p, sizeof p, "/dev/fd/%d", fds[0]);
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    base_file_status st = base_read_file(p, 200000, 0, &buf, &len, err, sizeof err);
    close(fds[0]);
    int wst;
    waitpid(pid, &wst, 0);
    if (!over) {
      assert_int_equal(st, BASE_FILE_OK);
      assert_int_equal(len, 200000);
      assert_int_equal(buf[199999], 'p');
      assert_int_equal(buf[200000], 0);
      free(buf);
    } else {
      assert_int_equal(st, BASE_FILE_ERR_IO);
      assert_non_null(strstr(err, "file too large (the limit is 200000 bytes)"));
    }
  }
}

static void refusals_name_the_path(void **state) {
  (void)state;
  uint8_t *buf;
  size_t len;
  char err[512], want[512];

  assert_int_equal(base_read_file(path_of("missing"), 10, 0, &buf, &len, err, sizeof err),
                   BASE_FILE_ERR_IO);
  snprintf(want, sizeof want, "%s: cannot open: %s", path_of("missing"), strerror(ENOENT));
  assert_string_equal(err, want);

  assert_int_equal(base_read_file(dir, 10, 0, &buf, &len, err, sizeof err), BASE_FILE_ERR_IO);
  snprintf(want, sizeof want, "%s: is a directory, not a file", dir);
  assert_string_equal(err, want);

  assert_int_equal(mkfifo(path_of("fifo"), 0600), 0);
  /* O_RDWR keeps the open of the fifo from blocking for a writer. */
  int keep = open(path_of("fifo"), O_RDWR);
  assert_true(keep >= 0);
  assert_int_equal(
      base_read_file(path_of("fifo"), 10, BASE_FILE_REGULAR_ONLY, &buf, &len, err, sizeof err),
      BASE_FILE_ERR_IO);
  snprintf(want, sizeof want, "%s: not a regular file", path_of("fifo"));
  assert_string_equal(err, want);
  close(keep);

  assert_int_equal(base_read_file("", 10, 0, &buf, &len, err, sizeof err), BASE_FILE_ERR_IO);
  assert_string_equal(err, "the file name is empty");
  assert_int_equal(base_read_file(NULL, 10, 0, &buf, &len, NULL, 0), BASE_FILE_ERR_IO);
}

static void format_size(void **state) {
  (void)state;
  char b[32];
  base_format_size(1ull << 30, b, sizeof b);
  assert_string_equal(b, "1 GiB");
  base_format_size(16ull << 20, b, sizeof b);
  assert_string_equal(b, "16 MiB");
  base_format_size(3ull << 10, b, sizeof b);
  assert_string_equal(b, "3 KiB");
  base_format_size(1000, b, sizeof b);
  assert_string_equal(b, "1000 bytes");
  base_format_size((1ull << 30) + 1024, b, sizeof b);
  assert_string_equal(b, "1048577 KiB");
  base_format_size(0, b, sizeof b);
  assert_string_equal(b, "0 bytes");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reads_whole_file_with_nul_after),
      cmocka_unit_test(limit_is_exact),
      cmocka_unit_test(pipe_read_to_eof_and_limited),
      cmocka_unit_test(refusals_name_the_path),
      cmocka_unit_test(format_size),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
