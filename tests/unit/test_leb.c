/* test_leb.c — LEB128 edge cases for wasm_read_uleb / wasm_read_sleb
 * (wasm_int.h), with the specification's error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wasm/wasm_int.h"

typedef struct {
  const char *err; /* NULL: must succeed */
  size_t consumed; /* bytes read on success */
} outcome;

static wasm_reader reader(const uint8_t *b, size_t n) {
  wasm_reader r = {.start = b, .p = b, .end = b + n, .err = NULL, .err_at = NULL};
  return r;
}

/* Decodes `b` as unsigned LEB of `bits` and checks value or error. */
static void check_u(const uint8_t *b, size_t n, unsigned bits, uint64_t want, outcome o) {
  wasm_reader r = reader(b, n);
  uint64_t v = wasm_read_uleb(&r, bits);
  if (o.err) {
    assert_non_null(r.err);
    assert_string_equal(r.err, o.err);
    assert_int_equal(v, 0);
    assert_ptr_equal(r.p, r.end); /* a failed reader is exhausted */
  } else {
    assert_null(r.err);
    assert_int_equal(v, want);
    assert_int_equal((size_t)(r.p - b), o.consumed);
  }
}

static void check_s(const uint8_t *b, size_t n, unsigned bits, int64_t want, outcome o) {
  wasm_reader r = reader(b, n);
  int64_t v = wasm_read_sleb(&r, bits);
  if (o.err) {
    assert_non_null(r.err);
    assert_string_equal(r.err, o.err);
    assert_ptr_equal(r.p, r.end);
  } else {
    assert_null(r.err);
    assert_int_equal(v, want);
    assert_int_equal((size_t)(r.p - b), o.consumed);
  }
}

#define OK(n) ((outcome){NULL, (n)})
#define TOO_LONG ((outcome){"integer representation too long", 0})
#define TOO_LARGE ((outcome){"integer too large", 0})
#define END ((outcome){"unexpected end", 0})
#define U(bits, want, o, ...)                                                                      \
  do {                                                                                             \
    static const uint8_t b_[] = {__VA_ARGS__};                                                     \
    check_u(b_, sizeof b_, bits, want, o);                                                         \
  } while (0)
#define S(bits, want, o, ...)                                                                      \
  do {                                                                                             \
    static const uint8_t b_[] = {__VA_ARGS__};                                                     \
    check_s(b_, sizeof b_, bits, want, o);                                                         \
  } while (0)

static void uleb32_values(void **state) {
  (void)state;
  U(32, 0, OK(1), 0x00);
  U(32, 127, OK(1), 0x7f);
  U(32, 128, OK(2), 0x80, 0x01);
  U(32, 624485, OK(3), 0xe5, 0x8e, 0x26);
  U(32, UINT32_MAX, OK(5), 0xff, 0xff, 0xff, 0xff, 0x0f);
  /* trailing bytes are not consumed */
  U(32, 1, OK(1), 0x01, 0xff);
}

static void uleb32_overlong(void **state) {
  (void)state;
  /* padded encodings up to 5 bytes are legal */
  U(32, 0, OK(5), 0x80, 0x80, 0x80, 0x80, 0x00);
  U(32, 3, OK(2), 0x83, 0x00);
  U(32, 0, TOO_LONG, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
  U(32, 0, TOO_LONG, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f);
}

static void uleb32_unused_bits(void **state) {
  (void)state;
  U(32, 0, TOO_LARGE, 0xff, 0xff, 0xff, 0xff, 0x1f);
  U(32, 0, TOO_LARGE, 0xff, 0xff, 0xff, 0xff, 0x7f);
  U(32, 0, TOO_LARGE, 0x80, 0x80, 0x80, 0x80, 0x10);
  U(32, 0, TOO_LARGE, 0x82, 0x80, 0x80, 0x80, 0x70);
}

static void uleb_truncated(void **state) {
  (void)state;
  check_u((const uint8_t *)"", 0, 32, 0, END);
  U(32, 0, END, 0x80);
  U(32, 0, END, 0xff, 0xff, 0xff, 0xff);
  U(64, 0, END, 0x80, 0x80, 0x80);
  S(32, 0, END, 0xff);
  S(64, 0, END, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80);
}

static void uleb64_extremes(void **state) {
  (void)state;
  U(64, UINT64_MAX, OK(10), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  U(64, 1ull << 63, OK(10), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
  U(64, 0xffffffffull + 1, OK(5), 0x80, 0x80, 0x80, 0x80, 0x10);
  U(64, 0, OK(10), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
  U(64, 0, TOO_LARGE, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
  U(64, 0, TOO_LARGE, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e);
  U(64, 0, TOO_LONG, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
}

static void sleb32_values(void **state) {
  (void)state;
  S(32, 0, OK(1), 0x00);
  S(32, -1, OK(1), 0x7f);
  S(32, 63, OK(1), 0x3f);
  S(32, -64, OK(1), 0x40);
  S(32, 64, OK(2), 0xc0, 0x00);
  S(32, -65, OK(2), 0xbf, 0x7f);
  S(32, -123456, OK(3), 0xc0, 0xbb, 0x78);
  S(32, INT32_MAX, OK(5), 0xff, 0xff, 0xff, 0xff, 0x07);
  S(32, INT32_MIN, OK(5), 0x80, 0x80, 0x80, 0x80, 0x78);
  /* padded encodings of small values */
  S(32, -1, OK(5), 0xff, 0xff, 0xff, 0xff, 0x7f);
  S(32, 0, OK(5), 0x80, 0x80, 0x80, 0x80, 0x00);
  S(32, -1, OK(2), 0xff, 0x7f);
}

static void sleb32_errors(void **state) {
  (void)state;
  /* unused bits must equal the sign bit */
  S(32, 0, TOO_LARGE, 0xff, 0xff, 0xff, 0xff, 0x0f);
  S(32, 0, TOO_LARGE, 0x80, 0x80, 0x80, 0x80, 0x70);
  S(32, 0, TOO_LARGE, 0x80, 0x80, 0x80, 0x80, 0x1f);
  S(32, 0, TOO_LARGE, 0xff, 0xff, 0xff, 0xff, 0x4f);
  S(32, 0, TOO_LONG, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
  S(32, 0, TOO_LONG, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
}

/* Block types are s33: non-negative values are type indices up to 2^32-1,
 * negative single bytes are value types (0x7f i32 ... 0x40 empty). */
static void sleb33_blocktypes(void **state) {
  (void)state;
  S(33, -1, OK(1), 0x7f);  /* i32 */
  S(33, -64, OK(1), 0x40); /* empty */
  S(33, 0, OK(1), 0x00);   /* type 0 */
  S(33, 4294967295ll, OK(5), 0xff, 0xff, 0xff, 0xff, 0x0f);
  S(33, -4294967296ll, OK(5), 0x80, 0x80, 0x80, 0x80, 0x70);
  S(33, 0, TOO_LARGE, 0x80, 0x80, 0x80, 0x80, 0x10);
  S(33, 0, TOO_LARGE, 0xff, 0xff, 0xff, 0xff, 0x2f);
  S(33, 0, TOO_LONG, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
}

static void sleb64_extremes(void **state) {
  (void)state;
  S(64, INT64_MAX, OK(10), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00);
  S(64, INT64_MIN, OK(10), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f);
  S(64, -1, OK(10), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
  S(64, (int64_t)0xfffffffffll, OK(6), 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  S(64, 0, TOO_LARGE, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  S(64, 0, TOO_LARGE, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e);
  S(64, 0, TOO_LONG, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
}

/* The first error wins and later reads keep failing without overwriting it. */
static void first_error_sticks(void **state) {
  (void)state;
  static const uint8_t b[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01};
  wasm_reader r = reader(b, sizeof b);
  assert_int_equal(wasm_read_u32(&r), 0);
  assert_string_equal(r.err, "integer representation too long");
  const uint8_t *at = r.err_at; /* at or just after the fifth byte */
  assert_true(at >= b + 4 && at <= b + 5);
  assert_int_equal(wasm_read_u8(&r), 0);
  assert_string_equal(r.err, "integer representation too long");
  assert_ptr_equal(r.err_at, at);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(uleb32_values),      cmocka_unit_test(uleb32_overlong),
      cmocka_unit_test(uleb32_unused_bits), cmocka_unit_test(uleb_truncated),
      cmocka_unit_test(uleb64_extremes),    cmocka_unit_test(sleb32_values),
      cmocka_unit_test(sleb32_errors),      cmocka_unit_test(sleb33_blocktypes),
      cmocka_unit_test(sleb64_extremes),    cmocka_unit_test(first_error_sticks),
  };
  return cmocka_run_group_tests_name("leb128", tests, NULL, NULL);
}
