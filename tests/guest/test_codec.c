/* test_codec.c — guest/ base64, hex and URL encoding, built natively
 * (cmocka). Vectors: RFC 4648 §10 (base64 and base16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wagi_codec.h"

static const char *RFC4648[][3] = {
    /* input, base64, base16 */
    {"", "", ""},
    {"f", "Zg==", "66"},
    {"fo", "Zm8=", "666F"},
    {"foo", "Zm9v", "666F6F"},
    {"foob", "Zm9vYg==", "666F6F62"},
    {"fooba", "Zm9vYmE=", "666F6F6261"},
    {"foobar", "Zm9vYmFy", "666F6F626172"},
};

static void base64_rfc4648(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof RFC4648 / sizeof *RFC4648; k++) {
    const char *in = RFC4648[k][0], *b64 = RFC4648[k][1];
    char out[16];
    size_t n = 99;
    assert_int_equal(wagi_base64_encoded_size(strlen(in)), strlen(b64) + 1);
    assert_int_equal(wagi_base64_encode(in, strlen(in), out, sizeof out, &n), WAGI_CODEC_OK);
    assert_string_equal(out, b64);
    assert_int_equal(n, strlen(b64));
    /* exactly the needed size fits, one less does not */
    assert_int_equal(wagi_base64_encode(in, strlen(in), out, strlen(b64) + 1, NULL), 0);
    assert_int_equal(wagi_base64_encode(in, strlen(in), out, strlen(b64), NULL),
                     WAGI_CODEC_ERR_SPACE);
    uint8_t dec[16];
    assert_int_equal(wagi_base64_decode(b64, strlen(b64), dec, sizeof dec, &n, NULL), 0);
    assert_int_equal(n, strlen(in));
    assert_memory_equal(dec, in, n);
    assert_int_equal(dec[n], 0); /* NUL after the bytes */
    char *a;
    uint8_t *b;
    assert_int_equal(wagi_base64_encode_alloc(in, strlen(in), &a, &n), 0);
    assert_string_equal(a, b64);
    assert_int_equal(wagi_base64_decode_alloc(a, n, &b, &n, NULL), 0);
    assert_int_equal(n, strlen(in));
    assert_memory_equal(b, in, n);
    free(a);
    free(b);
  }
}

static void base64_all_bytes(void **state) {
  (void)state;
  uint8_t in[256], back[257];
  for (int i = 0; i < 256; i++) in[i] = (uint8_t)i;
  for (size_t n = 0; n <= 256; n++) {
    char *enc;
    size_t elen, dlen;
    assert_int_equal(wagi_base64_encode_alloc(in, n, &enc, &elen), 0);
    assert_int_equal(wagi_base64_decode(enc, elen, back, sizeof back, &dlen, NULL), 0);
    assert_int_equal(dlen, n);
    assert_memory_equal(back, in, n);
    free(enc);
  }
  /* the key Azurite and the Cosmos emulator publish decodes to 64 bytes */
  const char *key =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
      "KBHBeksoGMGw==";
  size_t n;
  uint8_t k[80];
  assert_int_equal(wagi_base64_decode(key, strlen(key), k, sizeof k, &n, NULL), 0);
  assert_int_equal(n, 64);
  /* decoding in place */
  char buf[] = "Zm9vYmFy";
  assert_int_equal(wagi_base64_decode(buf, 8, (uint8_t *)buf, sizeof buf, &n, NULL), 0);
  assert_int_equal(n, 6);
  assert_string_equal(buf, "foobar");
}

static void base64_strict(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int code;
    size_t at;
  } bad[] = {
      {"Zg=", WAGI_CODEC_ERR_PADDING, 0},       /* length not a multiple of 4 */
      {"Zg", WAGI_CODEC_ERR_PADDING, 0},        /* padding left out */
      {"Zm9vY", WAGI_CODEC_ERR_PADDING, 4},     /* dangling group */
      {"Z===", WAGI_CODEC_ERR_PADDING, 1},      /* three '=' */
      {"====", WAGI_CODEC_ERR_PADDING, 0},      /* all padding */
      {"Zh==", WAGI_CODEC_ERR_PADDING, 1},      /* non-zero bits under padding */
      {"Zm9=", WAGI_CODEC_ERR_PADDING, 2},      /* non-zero bits under padding */
      {"Zg==Zg==", WAGI_CODEC_ERR_PADDING, 2},  /* padding in the middle */
      {"Z=g=", WAGI_CODEC_ERR_PADDING, 1},      /* '=' then data */
      {"Zm9v\n", WAGI_CODEC_ERR_PADDING, 4},    /* trailing newline (length) */
      {"Zm9\nZm9v", WAGI_CODEC_ERR_INVALID, 3}, /* line break */
      {"Zm 9", WAGI_CODEC_ERR_INVALID, 2},      /* space */
      {"Zm-v", WAGI_CODEC_ERR_INVALID, 2},      /* base64url alphabet */
      {"Zm_v", WAGI_CODEC_ERR_INVALID, 2},
      {"Zm9\xc3", WAGI_CODEC_ERR_INVALID, 3}, /* non-ASCII */
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    uint8_t out[16];
    size_t at = 999, n = 777;
    int rc = wagi_base64_decode(bad[k].in, strlen(bad[k].in), out, sizeof out, &n, &at);
    if (rc != bad[k].code || at != bad[k].at)
      fail_msg("%s: code %d at %zu, want %d at %zu", bad[k].in, rc, at, bad[k].code, bad[k].at);
    assert_int_equal(n, 777); /* untouched on error */
  }
  uint8_t out[4];
  size_t at;
  const char nul[] = "Zm\0v";
  assert_int_equal(wagi_base64_decode(nul, 4, out, sizeof out, NULL, &at), WAGI_CODEC_ERR_INVALID);
  assert_int_equal(at, 2);
  assert_int_equal(wagi_base64_decode("Zm9v", 4, out, 3, NULL, NULL), WAGI_CODEC_ERR_SPACE);
  assert_int_equal(wagi_base64_decode("Zm9v", 4, out, 4, NULL, NULL), 0);
  assert_int_equal(wagi_base64_decode(NULL, 4, out, 4, NULL, NULL), WAGI_CODEC_ERR_ARG);
  assert_int_equal(wagi_base64_decode("", 0, out, 1, NULL, NULL), 0);
  uint8_t *p = (uint8_t *)"untouched";
  assert_int_equal(wagi_base64_decode_alloc("Zh==", 4, &p, NULL, NULL), WAGI_CODEC_ERR_PADDING);
  assert_string_equal((char *)p, "untouched");
  assert_int_equal(wagi_base64_encoded_size(SIZE_MAX), 0);
  assert_int_equal(wagi_base64_encode("x", SIZE_MAX, (char *)out, 4, NULL),
                   WAGI_CODEC_ERR_TOO_LARGE);
}

static void hex(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof RFC4648 / sizeof *RFC4648; k++) {
    const char *in = RFC4648[k][0], *b16 = RFC4648[k][2];
    char out[16];
    uint8_t dec[16];
    size_t n;
    assert_int_equal(wagi_hex_encode(in, strlen(in), out, sizeof out, &n), 0);
    assert_int_equal(n, strlen(b16));
    char lower[16];
    for (size_t i = 0; i <= n; i++)
      lower[i] = (char)(b16[i] >= 'A' && b16[i] <= 'F' ? b16[i] + 32 : b16[i]);
    assert_string_equal(out, lower); /* lowercase */
    assert_int_equal(wagi_hex_decode(b16, strlen(b16), dec, sizeof dec, &n, NULL), 0);
    assert_int_equal(n, strlen(in));
    assert_memory_equal(dec, in, n);
    assert_int_equal(wagi_hex_decode(out, strlen(out), dec, sizeof dec, &n, NULL), 0);
    assert_memory_equal(dec, in, n);
  }
  uint8_t d[8];
  size_t at;
  assert_int_equal(wagi_hex_decode("abc", 3, d, sizeof d, NULL, &at), WAGI_CODEC_ERR_INVALID);
  assert_int_equal(at, 3);
  assert_int_equal(wagi_hex_decode("0g", 2, d, sizeof d, NULL, &at), WAGI_CODEC_ERR_INVALID);
  assert_int_equal(at, 1);
  assert_int_equal(wagi_hex_decode("x0", 2, d, sizeof d, NULL, &at), WAGI_CODEC_ERR_INVALID);
  assert_int_equal(at, 0);
  assert_int_equal(wagi_hex_decode("0000", 4, d, 2, NULL, NULL), WAGI_CODEC_ERR_SPACE);
  char o[8];
  assert_int_equal(wagi_hex_encode("ab", 2, o, 4, NULL), WAGI_CODEC_ERR_SPACE);
  assert_int_equal(wagi_hex_encode("\xff\x00", 2, o, 5, NULL), 0);
  assert_string_equal(o, "ff00");
}

static void url_encode(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int flags;
    const char *out;
  } cs[] = {
      {"", 0, ""},
      {"AZaz09-._~", 0, "AZaz09-._~"}, /* the unreserved set stays */
      {"a b", 0, "a%20b"},
      {"a b", WAGI_URL_FORM, "a+b"},
      {"a+b", WAGI_URL_FORM, "a%2Bb"},
      {"dir/file name.txt", 0, "dir%2Ffile%20name.txt"},
      {"dir/file name.txt", WAGI_URL_KEEP_SLASH, "dir/file%20name.txt"},
      {"!*'();:@&=+$,/?#[]", 0, "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D"},
      {"\xc3\xa9\xe2\x82\xac", 0, "%C3%A9%E2%82%AC"}, /* UTF-8 bytes, uppercase hex */
      {"a+b/c=", 0, "a%2Bb%2Fc%3D"},                  /* a SAS signature's characters */
      {"%", 0, "%25"},
  };
  for (size_t k = 0; k < sizeof cs / sizeof *cs; k++) {
    char out[128], *a;
    size_t n, an;
    assert_int_equal(wagi_url_encode(cs[k].in, strlen(cs[k].in), cs[k].flags, out, sizeof out, &n),
                     0);
    assert_string_equal(out, cs[k].out);
    assert_int_equal(n, strlen(cs[k].out));
    assert_int_equal(wagi_url_encode_alloc(cs[k].in, strlen(cs[k].in), cs[k].flags, &a, &an), 0);
    assert_string_equal(a, cs[k].out);
    free(a);
    /* and back */
    char back[128];
    assert_int_equal(
        wagi_url_decode(out, n, cs[k].flags & WAGI_URL_FORM, back, sizeof back, &n, NULL), 0);
    assert_int_equal(n, strlen(cs[k].in));
    assert_memory_equal(back, cs[k].in, n);
  }
  char out[8];
  assert_int_equal(wagi_url_encode("a b", 3, 0, out, 5, NULL), WAGI_CODEC_ERR_SPACE);
  assert_int_equal(wagi_url_encode("a b", 3, 0, out, 6, NULL), 0);
  assert_int_equal(wagi_url_encode("\0", 1, 0, out, sizeof out, NULL), 0);
  assert_string_equal(out, "%00");
  assert_int_equal(wagi_url_encode("a", 1, 64, out, sizeof out, NULL), WAGI_CODEC_ERR_ARG);
}

static void url_decode(void **state) {
  (void)state;
  char out[32];
  size_t n, at;
  assert_int_equal(wagi_url_decode("a%2fb%2F%41+", 12, 0, out, sizeof out, &n, NULL), 0);
  assert_string_equal(out, "a/b/A+"); /* '+' is itself outside form mode */
  assert_int_equal(wagi_url_decode("a+b%2B", 6, WAGI_URL_FORM, out, sizeof out, &n, NULL), 0);
  assert_string_equal(out, "a b+");
  assert_int_equal(wagi_url_decode("a%00b", 5, 0, out, sizeof out, &n, NULL), 0);
  assert_int_equal(n, 3);
  assert_memory_equal(out, "a\0b", 3);
  static const struct {
    const char *in;
    size_t at;
  } bad[] = {{"%", 0}, {"a%4", 1}, {"ab%zz", 2}, {"%4g", 0}, {"ok%20%", 5}, {"%%41", 0}};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    at = 999;
    assert_int_equal(wagi_url_decode(bad[k].in, strlen(bad[k].in), 0, out, sizeof out, NULL, &at),
                     WAGI_CODEC_ERR_INVALID);
    assert_int_equal(at, bad[k].at);
  }
  /* bad input is reported even when the buffer is also too small */
  assert_int_equal(wagi_url_decode("abc%", 4, 0, out, 1, NULL, &at), WAGI_CODEC_ERR_INVALID);
  assert_int_equal(wagi_url_decode("%41%42", 6, 0, out, 2, NULL, NULL), WAGI_CODEC_ERR_SPACE);
  assert_int_equal(wagi_url_decode("%41%42", 6, 0, out, 3, &n, NULL), 0);
  assert_string_equal(out, "AB");
  char inplace[] = "x%20y%2Fz";
  assert_int_equal(wagi_url_decode(inplace, 9, 0, inplace, sizeof inplace, &n, NULL), 0);
  assert_string_equal(inplace, "x y/z");
}

static void query_get(void **state) {
  (void)state;
  char *v;
  size_t n;
  const char *q = "?container=c1&blob=dir%2Fa+b.txt&empty=&flag&x%20y=2&container=second";
  assert_int_equal(wagi_query_get(q, "container", &v, &n), 0);
  assert_string_equal(v, "c1"); /* the first of duplicates */
  assert_int_equal(n, 2);
  free(v);
  assert_int_equal(wagi_query_get(q, "blob", &v, &n), 0);
  assert_string_equal(v, "dir/a b.txt");
  free(v);
  assert_int_equal(wagi_query_get(q, "empty", &v, &n), 0);
  assert_string_equal(v, "");
  assert_int_equal(n, 0);
  free(v);
  assert_int_equal(wagi_query_get(q, "flag", &v, &n), 0);
  assert_string_equal(v, "");
  free(v);
  assert_int_equal(wagi_query_get(q, "x y", &v, NULL), 0); /* decoded name */
  assert_string_equal(v, "2");
  free(v);
  v = (char *)"untouched";
  assert_int_equal(wagi_query_get(q, "missing", &v, &n), WAGI_CODEC_ERR_NOT_FOUND);
  assert_int_equal(wagi_query_get(q, "contain", &v, &n), WAGI_CODEC_ERR_NOT_FOUND);
  assert_int_equal(wagi_query_get("", "a", &v, &n), WAGI_CODEC_ERR_NOT_FOUND);
  assert_int_equal(wagi_query_get("&&", "a", &v, &n), WAGI_CODEC_ERR_NOT_FOUND);
  assert_int_equal(wagi_query_get("a=%zz", "a", &v, &n), WAGI_CODEC_ERR_INVALID);
  assert_int_equal(wagi_query_get("a=x%00y", "a", &v, &n), WAGI_CODEC_ERR_INVALID);
  assert_string_equal(v, "untouched");
  /* a malformed other parameter does not hide the wanted one */
  assert_int_equal(wagi_query_get("b%=1&a=ok", "a", &v, &n), 0);
  assert_string_equal(v, "ok");
  free(v);
  assert_int_equal(wagi_query_get(NULL, "a", &v, &n), WAGI_CODEC_ERR_ARG);
  assert_string_equal(wagi_codec_strerror(WAGI_CODEC_ERR_PADDING),
                      "invalid base64 length or padding");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(base64_rfc4648), cmocka_unit_test(base64_all_bytes),
      cmocka_unit_test(base64_strict),  cmocka_unit_test(hex),
      cmocka_unit_test(url_encode),     cmocka_unit_test(url_decode),
      cmocka_unit_test(query_get),
  };
  return cmocka_run_group_tests_name("guest_codec", tests, NULL, NULL);
}
