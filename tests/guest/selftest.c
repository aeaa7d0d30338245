/* selftest.c — a wasm32-wasi module linking every guest/ source, run by
 * tests/guest/run_tests.py through `wagi run`, which checks its output
 * against Python's hashlib, hmac, base64, urllib, json, uuid and datetime.
 *
 *   selftest sha256 | hmac KEYHEX | b64enc | b64dec | urlenc [slash|form]
 *            | json [MAX_DEPTH] | uuid N | date SEC | now | http-denied
 *
 * Input is stdin; exit status 0 on success, 1 on a usage or I/O error,
 * 2 when the library reports an error (its message on stdout). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_codec.h"
#include "wagi_crypto.h"
#include "wagi_http.h"
#include "wagi_io.h"
#include "wagi_json.h"
#include "wagi_time.h"

static void print_hex(const uint8_t *d, size_t n) {
  char hex[2 * WAGI_SHA256_LEN + 1];
  if (wagi_hex_encode(d, n, hex, sizeof hex, NULL) == WAGI_CODEC_OK) puts(hex);
}

static int fail(const char *what, const char *msg) {
  printf("%s: %s\n", what, msg);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return 1;
  const char *cmd = argv[1];
  int64_t sec;
  char a[WAGI_TIME_RFC1123_SIZE], b[WAGI_TIME_ISO8601_MS_SIZE], c[WAGI_TIME_ISO8601_SIZE];

  if (!strcmp(cmd, "uuid") && argc == 3) {
    for (long i = strtol(argv[2], NULL, 10); i > 0; i--) {
      char u[WAGI_UUID_LEN + 1];
      int rc = wagi_uuid_v4(u);
      if (rc != WAGI_CRYPTO_OK) return fail("uuid", wagi_crypto_strerror(rc));
      puts(u);
    }
    return 0;
  }
  if (!strcmp(cmd, "date") && argc == 3) {
    sec = strtoll(argv[2], NULL, 10);
    int rc = wagi_time_rfc1123(sec, a);
    if (rc == WAGI_TIME_OK) rc = wagi_time_iso8601(sec, c);
    if (rc == WAGI_TIME_OK) rc = wagi_time_iso8601_ms(sec * 1000 + 7, b);
    if (rc != WAGI_TIME_OK) return fail("date", wagi_time_strerror(rc));
    printf("%s|%s|%s\n", a, c, b);
    return 0;
  }
  if (!strcmp(cmd, "now")) {
    int64_t ms;
    int32_t ns;
    int rc = wagi_time_now(&sec, &ns);
    if (rc == WAGI_TIME_OK) rc = wagi_time_now_ms(&ms);
    if (rc == WAGI_TIME_OK) rc = wagi_time_rfc1123(sec, a);
    if (rc == WAGI_TIME_OK) rc = wagi_time_iso8601_ms(ms, b);
    if (rc != WAGI_TIME_OK) return fail("now", wagi_time_strerror(rc));
    printf("%lld %lld %s|%s\n", (long long)sec, (long long)ms, a, b);
    return 0;
  }
  if (!strcmp(cmd, "http-denied")) {
    /* links the outbound-HTTP imports; `wagi run` without --allow-host denies */
    wagi_http_response r;
    int rc = wagi_http_request("GET", "http://127.0.0.1:9/", NULL, 0, NULL, 0, &r);
    if (rc == WAGI_HTTP_OK) wagi_http_close(&r);
    puts(wagi_http_strerror(rc));
    return 0;
  }

  size_t n;
  uint8_t *bytes;
  if (wagi_io_read_stream(stdin, SIZE_MAX, &bytes, &n)) return 1;
  char *in = (char *)bytes;
  int rc = 0;
  if (!strcmp(cmd, "sha256")) {
    /* streamed in uneven pieces, as a module reading a body would */
    wagi_sha256_ctx ctx;
    uint8_t d[WAGI_SHA256_LEN];
    wagi_sha256_init(&ctx);
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 % 4093 + 1)
      wagi_sha256_update(&ctx, in + off, step < n - off ? step : n - off);
    if (wagi_sha256_final(&ctx, d) == WAGI_CRYPTO_OK) print_hex(d, sizeof d);
  } else if (!strcmp(cmd, "hmac") && argc == 3) {
    uint8_t key[512], mac[WAGI_SHA256_LEN];
    size_t klen;
    int crc = wagi_hex_decode(argv[2], strlen(argv[2]), key, sizeof key, &klen, NULL);
    if (crc != WAGI_CODEC_OK) rc = fail("key", wagi_codec_strerror(crc));
    else if (wagi_hmac_sha256(key, klen, in, n, mac) == WAGI_CRYPTO_OK) print_hex(mac, sizeof mac);
  } else if (!strcmp(cmd, "b64enc")) {
    char *out;
    int crc = wagi_base64_encode_alloc(in, n, &out, NULL);
    if (crc != WAGI_CODEC_OK) rc = fail("b64enc", wagi_codec_strerror(crc));
    else puts(out), free(out);
  } else if (!strcmp(cmd, "b64dec")) {
    uint8_t *out;
    size_t len, at = 0;
    int crc = wagi_base64_decode_alloc(in, n, &out, &len, &at);
    if (crc != WAGI_CODEC_OK) {
      printf("b64dec: %s at byte %zu\n", wagi_codec_strerror(crc), at);
      rc = 2;
    } else {
      fwrite(out, 1, len, stdout);
      free(out);
    }
  } else if (!strcmp(cmd, "urlenc")) {
    int flags = argc < 3                    ? 0
                : !strcmp(argv[2], "slash") ? WAGI_URL_KEEP_SLASH
                : !strcmp(argv[2], "form")  ? WAGI_URL_FORM
                                            : 0;
    char *out;
    int crc = wagi_url_encode_alloc(in, n, flags, &out, NULL);
    if (crc != WAGI_CODEC_OK) rc = fail("urlenc", wagi_codec_strerror(crc));
    else puts(out), free(out);
  } else if (!strcmp(cmd, "json")) {
    wagi_json_options opts = {.max_depth = argc == 3 ? (size_t)strtoul(argv[2], NULL, 10) : 0};
    wagi_json_doc *doc;
    wagi_json_error err;
    if (wagi_json_parse(in, n, &opts, &doc, &err) != WAGI_JSON_OK) {
      rc = fail("json", err.msg);
    } else {
      wagi_jw w;
      char *out;
      size_t len;
      wagi_jw_init(&w, 0);
      wagi_jw_value(&w, wagi_json_root(doc));
      int jrc = wagi_jw_finish(&w, &out, &len);
      if (jrc != WAGI_JSON_OK) {
        rc = fail("json", wagi_json_strerror(jrc));
      } else {
        fwrite(out, 1, len, stdout);
        free(out);
      }
      wagi_jw_free(&w);
      wagi_json_free(doc);
    }
  } else {
    rc = 1;
  }
  free(in);
  return rc;
}
