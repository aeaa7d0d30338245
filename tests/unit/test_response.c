/* test_response.c — guest stdout -> HTTP response (WAGI.md §6): header/body
 * split variants, Status/Location/Content-Type rules, the output rows of the
 * §6.3 failure table, repeated headers, invalid names and values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/response.h"

static srv_response parse(const char *out, size_t len) {
  srv_response r;
  assert_int_equal(srv_response_parse((const uint8_t *)out, len, &r), 0);
  return r;
}
#define P(s) parse(s, sizeof s - 1)

static const char *hdr(const srv_response *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
  return NULL;
}

static void body_is(const srv_response *r, const char *want) {
  assert_int_equal(r->body_len, strlen(want));
  assert_memory_equal(r->body, want, r->body_len);
}

static void test_split_variants(void **state) {
  (void)state;
  const char *v[] = {
      "Content-Type: text/plain\n\nhello\r\n",
      "Content-Type: text/plain\r\n\r\nhello\r\n",
      "Content-Type: text/plain\n\r\nhello\r\n",
      "Content-Type: text/plain\r\r\n\r\r\nhello\r\n",
  };
  for (size_t i = 0; i < 4; i++) {
    srv_response r = parse(v[i], strlen(v[i]));
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "content-type"), "text/plain");
    body_is(&r, "hello\r\n"); /* body is byte-exact, CRs kept */
    srv_response_free(&r);
  }
  /* can_serve_wat */
  srv_response r = P("content-type: text/plain\r\n\r\nOh hi world\r\n");
  body_is(&r, "Oh hi world\r\n");
  srv_response_free(&r);
  /* Empty body; body with blank lines and binary. */
  r = P("Content-Type: a/b\n\n");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 0);
  srv_response_free(&r);
  r = P("Content-Type: a/b\n\n\n\n\0\xff\r");
  assert_int_equal(r.body_len, 5);
  assert_memory_equal(r.body, "\n\n\0\xff\r", 5);
  srv_response_free(&r);
  /* Several header lines; a line without ':' is ignored. */
  r = P("Content-Type: text/html\nX-One: 1\nnot a header\nX-Two:2\n\nbody");
  assert_string_equal(hdr(&r, "x-one"), "1");
  assert_string_equal(hdr(&r, "x-two"), "2");
  assert_int_equal(r.n_headers, 3);
  assert_non_null(r.warnings);
  body_is(&r, "body");
  srv_response_free(&r);
  /* Names and values trimmed, value split at the first ':' only. */
  r = P("  Location :  http://x/y:z  \nContent-Type:\ttext/plain \n\n");
  assert_string_equal(hdr(&r, "location"), "http://x/y:z");
  assert_string_equal(hdr(&r, "content-type"), "text/plain");
  srv_response_free(&r);
}

static void test_no_blank_line(void **state) {
  (void)state;
  srv_response r = P("Content-Type: text/plain\nhello");
  assert_int_equal(r.status, 500);
  body_is(&r, SRV_RESPONSE_MSG_NO_CT);
  assert_int_equal(r.n_headers, 0);
  srv_response_free(&r);
  r = P("");
  assert_int_equal(r.status, 500);
  body_is(&r, SRV_RESPONSE_MSG_NO_CT);
  srv_response_free(&r);
  r = parse(NULL, 0);
  assert_int_equal(r.status, 500);
  srv_response_free(&r);
  /* "\n\n" at the start: empty header block. */
  r = P("\n\nbody");
  assert_int_equal(r.status, 500);
  body_is(&r, SRV_RESPONSE_MSG_NO_CT);
  srv_response_free(&r);
}

static void test_sufficiency(void **state) {
  (void)state;
  srv_response r = P("X-Foo: bar\n\nbody");
  assert_int_equal(r.status, 500);
  body_is(&r, "Exactly one of 'location' or 'content-type' must be specified");
  assert_int_equal(r.n_headers, 0);
  srv_response_free(&r);
  /* Location alone: 302, body kept. */
  r = P("Location: /elsewhere\n\nmoved");
  assert_int_equal(r.status, 302);
  assert_string_equal(hdr(&r, "location"), "/elsewhere");
  body_is(&r, "moved");
  srv_response_free(&r);
  /* Both Content-Type and Location are fine. */
  r = P("Content-Type: text/plain\nLocation: http://a/\n\n");
  assert_int_equal(r.status, 302);
  assert_non_null(hdr(&r, "content-type"));
  srv_response_free(&r);
  /* Status alone is sufficient. */
  r = P("Status: 204\n\n");
  assert_int_equal(r.status, 204);
  assert_int_equal(r.n_headers, 0);
  srv_response_free(&r);
  /* Case-insensitive names. */
  r = P("CONTENT-TYPE: x/y\nSTATUS: 201 Created\n\n");
  assert_int_equal(r.status, 201);
  assert_string_equal(hdr(&r, "content-type"), "x/y");
  srv_response_free(&r);
}

static void test_status(void **state) {
  (void)state;
  struct {
    const char *out;
    int want;
  } v[] = {
      {"Content-Type: a/b\nStatus: 404 Not Found\n\n", 404},
      {"Content-Type: a/b\nStatus: 404\n\n", 404},
      {"Content-Type: a/b\nStatus: 999 Whatever\n\n", 999},
      {"Content-Type: a/b\nStatus: 100\n\n", 100},
      {"Content-Type: a/b\nStatus: 418 I'm a teapot\n\n", 418},
      /* A number outside 100..999 is a module error (500), anything else 502. */
      {"Content-Type: a/b\nStatus: 099\n\n", 500},
      {"Content-Type: a/b\nStatus: 1000\n\n", 500},
      {"Content-Type: a/b\nStatus: 99 Low\n\n", 500},
      {"Content-Type: a/b\nStatus: 0\n\n", 500},
      {"Content-Type: a/b\nStatus: abc\n\n", 502},
      {"Content-Type: a/b\nStatus:\n\n", 502},
      {"Content-Type: a/b\nStatus: 20\n\n", 500},
      {"Content-Type: a/b\nStatus: 200\tOK\n\n", 502},
      {"Content-Type: a/b\nStatus: -20\n\n", 502},
      /* Explicit Status wins over Location, whatever the order. */
      {"Location: /x\nStatus: 301\n\n", 301},
      {"Status: 301\nLocation: /x\n\n", 301},
      {"Status: 200\nLocation: /x\n\n", 200},
      {"Location: /x\nStatus: bad\n\n", 502},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    srv_response r = parse(v[i].out, strlen(v[i].out));
    if (r.status != v[i].want) fail_msg("'%s': status %d, want %d", v[i].out, r.status, v[i].want);
    assert_null(hdr(&r, "status"));
    if (v[i].want == 500 || v[i].want == 502) assert_non_null(r.warnings);
    if (v[i].want == 500) {
      assert_true(r.refused);
      assert_int_equal(r.n_headers, 0);
      body_is(&r, SRV_RESPONSE_MSG_BAD);
      assert_non_null(strstr(r.warnings, "outside 100..999"));
    }
    srv_response_free(&r);
  }
  /* 502 keeps the module's headers and body (as the reference does). */
  srv_response r = P("Content-Type: a/b\nStatus: nope\n\nbody");
  assert_int_equal(r.status, 502);
  body_is(&r, "body");
  srv_response_free(&r);
}

static void test_repeated_headers(void **state) {
  (void)state;
  srv_response r =
      P("Content-Type: text/plain\nSet-Cookie: a=1\nset-cookie: b=2\n"
        "Set-Cookie: c=3; Path=/\nContent-Type: text/html\n\nx");
  size_t cookies = 0;
  const char *want[] = {"a=1", "b=2", "c=3; Path=/"};
  for (size_t i = 0; i < r.n_headers; i++) {
    if (strcasecmp(r.headers[i].name, "set-cookie") == 0) {
      assert_string_equal(r.headers[i].value, want[cookies]);
      cookies++;
    }
  }
  assert_int_equal(cookies, 3);
  /* Content-Type is single-valued: the last one wins. */
  assert_int_equal(r.n_headers, 4);
  assert_string_equal(hdr(&r, "content-type"), "text/html");
  srv_response_free(&r);
}

static void test_invalid_headers(void **state) {
  (void)state;
  /* Invalid names are dropped with a warning. */
  srv_response r = P("Content-Type: a/b\nBad Name: x\nBad(n): y\n: empty\nGood: z\n\n");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.n_headers, 2);
  assert_string_equal(hdr(&r, "good"), "z");
  assert_non_null(r.warnings);
  assert_non_null(strstr(r.warnings, "Bad Name"));
  srv_response_free(&r);
  /* Invalid values give 500 with the short reason. */
  const char *bad[] = {
      "Content-Type: a/b\nX: caf\xC3\xA9\n\nbody",
      "Content-Type: a/b\nX: a\x01z\n\nbody",
      "Content-Type: a/b\nX: a\x7fz\n\nbody",
      "Content-Type: t\xC3\xA9xt/plain\n\nbody",
      "Location: /\xC3\xA9\n\nbody",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    r = parse(bad[i], strlen(bad[i]));
    assert_int_equal(r.status, 500);
    body_is(&r, SRV_RESPONSE_MSG_BAD);
    assert_true(r.refused);
    assert_int_equal(r.n_headers, 0);
    assert_non_null(r.warnings);
    srv_response_free(&r);
  }
  /* Header block not UTF-8 -> 500 with the short reason. */
  r = P("Content-Type: a/b\nX: \xff\xfe\n\nbody");
  assert_int_equal(r.status, 500);
  body_is(&r, SRV_RESPONSE_MSG_BAD);
  assert_non_null(strstr(r.warnings, "UTF-8"));
  srv_response_free(&r);
  /* Unicode whitespace around a value is trimmed (Rust's str::trim). */
  r = P("Content-Type:\xC2\xA0text/plain\xE3\x80\x80\n\n");
  assert_int_equal(r.status, 200);
  assert_string_equal(hdr(&r, "content-type"), "text/plain");
  srv_response_free(&r);
  /* The body may be anything: only the header block must be UTF-8. */
  r = P("Content-Type: a/b\n\n\xff\xfe");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 2);
  srv_response_free(&r);
  /* Framing headers are the server's. */
  r = P(
      "Content-Type: a/b\nContent-Length: 99\nTransfer-Encoding: chunked\nConnection: close\n\nxy");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.n_headers, 1);
  assert_non_null(r.warnings);
  srv_response_free(&r);
}

/* The edge cases README's server section decides. */
static void test_edge_cases(void **state) {
  (void)state;
  /* An empty value is kept. */
  srv_response r = P("Content-Type: a/b\nX-Empty:\nX-Blank:   \n\nok");
  assert_int_equal(r.status, 200);
  assert_string_equal(hdr(&r, "x-empty"), "");
  assert_string_equal(hdr(&r, "x-blank"), "");
  assert_null(r.warnings);
  srv_response_free(&r);
  /* Date is the server's: dropped with a warning like the framing headers. */
  r = P("Content-Type: a/b\ndate: Thu, 01 Jan 1970 00:00:00 GMT\n\nok");
  assert_int_equal(r.status, 200);
  assert_null(hdr(&r, "date"));
  assert_non_null(r.warnings);
  assert_non_null(strstr(r.warnings, "'date' dropped (the server sets Date)"));
  srv_response_free(&r);
  /* No blank line after the headers: the warning says so. */
  r = P("Content-Type: text/plain\nhello");
  assert_int_equal(r.status, 500);
  assert_true(r.refused);
  assert_non_null(strstr(r.warnings, "no blank line after its headers"));
  srv_response_free(&r);
  r = P("");
  assert_int_equal(r.status, 500);
  assert_non_null(strstr(r.warnings, "nothing to stdout"));
  srv_response_free(&r);
  /* The module's own 500 is not a refusal. */
  r = P("Status: 500\nContent-Type: a/b\n\nmine");
  assert_int_equal(r.status, 500);
  assert_false(r.refused);
  body_is(&r, "mine");
  srv_response_free(&r);
}

static void test_large(void **state) {
  (void)state;
  size_t n = 1 << 20;
  char *out = malloc(n);
  size_t k = 0;
  k += (size_t)sprintf(out, "Content-Type: a/b\n");
  while (k < n / 2) k += (size_t)sprintf(out + k, "X-H%zu: v\r\n", k);
  k += (size_t)sprintf(out + k, "\r\n");
  memset(out + k, 'b', n - k);
  srv_response r = parse(out, n);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, n - k);
  assert_ptr_equal(r.body, (const uint8_t *)out + k);
  srv_response_free(&r);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_variants),   cmocka_unit_test(test_no_blank_line),
      cmocka_unit_test(test_sufficiency),      cmocka_unit_test(test_status),
      cmocka_unit_test(test_repeated_headers), cmocka_unit_test(test_invalid_headers),
      cmocka_unit_test(test_edge_cases),       cmocka_unit_test(test_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
