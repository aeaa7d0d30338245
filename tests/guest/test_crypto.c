/* test_crypto.c — guest/ SHA-256, HMAC-SHA256, UUIDs, built natively
 * (cmocka). Vectors: FIPS 180-2 appendix B / NIST CAVP examples for
 * SHA-256, RFC 4231 §4.2-4.8 for HMAC-SHA256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wagi_crypto.h"

static void to_hex(const uint8_t *d, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = hex[d[i] >> 4], out[2 * i + 1] = hex[d[i] & 15];
  out[2 * n] = 0;
}

static void check_sha(const void *data, size_t n, const char *want) {
  uint8_t d[WAGI_SHA256_LEN];
  char hex[65];
  assert_int_equal(wagi_sha256(data, n, d), WAGI_CRYPTO_OK);
  to_hex(d, sizeof d, hex);
  assert_string_equal(hex, want);
}

static void sha256_nist(void **state) {
  (void)state;
  check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check_sha(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check_sha(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
      "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  check_sha(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void sha256_million_a(void **state) {
  (void)state;
  /* One shot over a 1,000,000-byte buffer, then streamed in odd pieces. */
  char *a = malloc(1000000);
  assert_non_null(a);
  memset(a, 'a', 1000000);
  check_sha(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  wagi_sha256_ctx c;
  uint8_t d[32];
  char hex[65];
  assert_int_equal(wagi_sha256_init(&c), 0);
  size_t done = 0, step = 1;
  while (done < 1000000) {
    size_t take = step > 1000000 - done ? 1000000 - done : step;
    assert_int_equal(wagi_sha256_update(&c, a + done, take), 0);
    done += take;
    step = step * 7 % 997 + 1;
  }
  assert_int_equal(wagi_sha256_final(&c, d), 0);
  to_hex(d, 32, hex);
  assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(a);
}

/* Every split point of messages around the padding boundaries (55, 56, 63,
 * 64, 65 bytes) gives the one-shot digest. */
static void sha256_split_points(void **state) {
  (void)state;
  uint8_t msg[130];
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 31 + 7);
  for (size_t n = 0; n <= sizeof msg; n++) {
    uint8_t want[32];
    assert_int_equal(wagi_sha256(msg, n, want), 0);
    for (size_t cut = 0; cut <= n; cut++) {
      wagi_sha256_ctx c;
      uint8_t got[32];
      wagi_sha256_init(&c);
      assert_int_equal(wagi_sha256_update(&c, msg, cut), 0);
      assert_int_equal(wagi_sha256_update(&c, msg + cut, n - cut), 0);
      assert_int_equal(wagi_sha256_final(&c, got), 0);
      assert_memory_equal(got, want, 32);
    }
  }
}

static void sha256_misuse(void **state) {
  (void)state;
  wagi_sha256_ctx c;
  uint8_t d[32];
  assert_int_equal(wagi_sha256_init(NULL), WAGI_CRYPTO_ERR_ARG);
  assert_int_equal(wagi_sha256_init(&c), 0);
  assert_int_equal(wagi_sha256_update(&c, NULL, 1), WAGI_CRYPTO_ERR_ARG);
  assert_int_equal(wagi_sha256_final(&c, NULL), WAGI_CRYPTO_ERR_ARG);
  assert_int_equal(wagi_sha256_final(&c, d), 0);
  /* finished: no more updates or finals until init */
  assert_int_equal(wagi_sha256_update(&c, "x", 1), WAGI_CRYPTO_ERR_ARG);
  assert_int_equal(wagi_sha256_final(&c, d), WAGI_CRYPTO_ERR_ARG);
  /* the 2^61 - 1 byte limit, without hashing that much */
  assert_int_equal(wagi_sha256_init(&c), 0);
  c.bytes = (UINT64_C(1) << 61) - 10;
  assert_int_equal(wagi_sha256_update(&c, "0123456789", 10), WAGI_CRYPTO_ERR_TOO_LONG);
  assert_int_equal(wagi_sha256_update(&c, "012345678", 9), 0);
  assert_int_equal(wagi_sha256_update(&c, "0", 1), WAGI_CRYPTO_ERR_TOO_LONG);
  assert_string_equal(wagi_crypto_strerror(WAGI_CRYPTO_ERR_TOO_LONG),
                      "message too long for SHA-256");
  assert_string_equal(wagi_crypto_strerror(999), "unknown error");
}

typedef struct {
  uint8_t key[131];
  size_t key_len;
  uint8_t data[160];
  size_t data_len;
  const char *mac; /* hex; case 5 is truncated to 128 bits */
} hmac_case;

static void fill(uint8_t *p, uint8_t v, size_t n) { memset(p, v, n); }

static void hmac_rfc4231(void **state) {
  (void)state;
  static hmac_case cs[7];
  memset(cs, 0, sizeof cs);
  /* 1 */
  fill(cs[0].key, 0x0b, 20), cs[0].key_len = 20;
  memcpy(cs[0].data, "Hi There", 8), cs[0].data_len = 8;
  cs[0].mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  /* 2: a key shorter than the output */
  memcpy(cs[1].key, "Jefe", 4), cs[1].key_len = 4;
  memcpy(cs[1].data, "what do ya want for nothing?", 28), cs[1].data_len = 28;
  cs[1].mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  /* 3 */
  fill(cs[2].key, 0xaa, 20), cs[2].key_len = 20;
  fill(cs[2].data, 0xdd, 50), cs[2].data_len = 50;
  cs[2].mac = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
  /* 4 */
  for (int i = 0; i < 25; i++) cs[3].key[i] = (uint8_t)(i + 1);
  cs[3].key_len = 25;
  fill(cs[3].data, 0xcd, 50), cs[3].data_len = 50;
  cs[3].mac = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
  /* 5: truncation to 128 bits */
  fill(cs[4].key, 0x0c, 20), cs[4].key_len = 20;
  memcpy(cs[4].data, "Test With Truncation", 20), cs[4].data_len = 20;
  cs[4].mac = "a3b6167473100ee06e0c796c2955552b";
  /* 6: a key larger than the block size */
  fill(cs[5].key, 0xaa, 131), cs[5].key_len = 131;
  const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  memcpy(cs[5].data, d6, strlen(d6)), cs[5].data_len = strlen(d6);
  cs[5].mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
  /* 7: key and data larger than the block size */
  fill(cs[6].key, 0xaa, 131), cs[6].key_len = 131;
  const char *d7 =
      "This is a test using a larger than block-size key and a larger than "
      "block-size data. The key needs to be hashed before being used by the HMAC "
      "algorithm.";
  memcpy(cs[6].data, d7, strlen(d7)), cs[6].data_len = strlen(d7);
  cs[6].mac = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";

  for (int k = 0; k < 7; k++) {
    uint8_t mac[32];
    char hex[65];
    assert_int_equal(wagi_hmac_sha256(cs[k].key, cs[k].key_len, cs[k].data, cs[k].data_len, mac),
                     0);
    to_hex(mac, 32, hex);
    hex[strlen(cs[k].mac)] = 0;
    assert_string_equal(hex, cs[k].mac);
    /* streamed a byte at a time gives the same */
    wagi_hmac_sha256_ctx c;
    uint8_t mac2[32];
    assert_int_equal(wagi_hmac_sha256_init(&c, cs[k].key, cs[k].key_len), 0);
    for (size_t i = 0; i < cs[k].data_len; i++)
      assert_int_equal(wagi_hmac_sha256_update(&c, cs[k].data + i, 1), 0);
    assert_int_equal(wagi_hmac_sha256_final(&c, mac2), 0);
    assert_memory_equal(mac, mac2, 32);
    /* finished context refuses more */
    assert_int_equal(wagi_hmac_sha256_final(&c, mac2), WAGI_CRYPTO_ERR_ARG);
  }
}

static void hmac_edges(void **state) {
  (void)state;
  uint8_t mac[32];
  char hex[65];
  /* empty key and data (Python: hmac.new(b"", b"", "sha256")) */
  assert_int_equal(wagi_hmac_sha256(NULL, 0, NULL, 0, mac), 0);
  to_hex(mac, 32, hex);
  assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  /* a 64-byte key is used as is, a 65-byte one hashed: they differ */
  uint8_t k[65], m64[32], m65[32];
  memset(k, 'k', sizeof k);
  assert_int_equal(wagi_hmac_sha256(k, 64, "x", 1, m64), 0);
  assert_int_equal(wagi_hmac_sha256(k, 65, "x", 1, m65), 0);
  assert_memory_not_equal(m64, m65, 32);
  assert_int_equal(wagi_hmac_sha256(NULL, 1, "x", 1, mac), WAGI_CRYPTO_ERR_ARG);
  assert_int_equal(wagi_hmac_sha256("k", 1, NULL, 1, mac), WAGI_CRYPTO_ERR_ARG);
  assert_int_equal(wagi_crypto_equal(m64, m64, 32), 1);
  assert_int_equal(wagi_crypto_equal(m64, m65, 32), 0);
  assert_int_equal(wagi_crypto_equal(m64, m65, 0), 1);
}

static void uuid_v4(void **state) {
  (void)state;
  char u[WAGI_UUID_LEN + 1];
  uint8_t ff[16], zero[16] = {0};
  memset(ff, 0xff, 16);
  assert_int_equal(wagi_uuid_v4_from(ff, u), 0);
  assert_string_equal(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  assert_int_equal(wagi_uuid_v4_from(zero, u), 0);
  assert_string_equal(u, "00000000-0000-4000-8000-000000000000");
  char prev[WAGI_UUID_LEN + 1] = "";
  for (int i = 0; i < 100; i++) {
    assert_int_equal(wagi_uuid_v4(u), 0);
    assert_int_equal(strlen(u), 36);
    for (int j = 0; j < 36; j++) {
      if (j == 8 || j == 13 || j == 18 || j == 23) assert_int_equal(u[j], '-');
      else assert_non_null(strchr("0123456789abcdef", u[j]));
    }
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
    assert_string_not_equal(u, prev);
    memcpy(prev, u, sizeof u);
  }
  uint8_t big[1000] = {0};
  assert_int_equal(wagi_random_bytes(big, sizeof big), 0); /* more than getentropy's 256 */
  size_t nonzero = 0;
  for (size_t i = 0; i < sizeof big; i++) nonzero += big[i] != 0;
  assert_true(nonzero > 900);
  assert_int_equal(wagi_random_bytes(NULL, 1), WAGI_CRYPTO_ERR_ARG);
  assert_int_equal(wagi_uuid_v4(NULL), WAGI_CRYPTO_ERR_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sha256_nist),
      cmocka_unit_test(sha256_million_a),
      cmocka_unit_test(sha256_split_points),
      cmocka_unit_test(sha256_misuse),
      cmocka_unit_test(hmac_rfc4231),
      cmocka_unit_test(hmac_edges),
      cmocka_unit_test(uuid_v4),
  };
  return cmocka_run_group_tests_name("guest_crypto", tests, NULL, NULL);
}
