/* test_json.c — guest/ JSON reader and writer, built natively (cmocka).
 * Accept/reject cases follow the ideas of JSONTestSuite's y_ and n_ files
 * (nst/JSONTestSuite), written here as inline strings; each rejection also
 * checks the error code and byte offset. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wagi_json.h"

/* A string literal with its length, embedded NULs included. */
#define S(lit) lit, sizeof(lit) - 1

static wagi_json_doc *parse_ok(const char *text, size_t len) {
  wagi_json_doc *doc = NULL;
  wagi_json_error err;
  int rc = wagi_json_parse(text, len, NULL, &doc, &err);
  if (rc != WAGI_JSON_OK) fail_msg("rejected %.*s: %s", (int)len, text, err.msg);
  assert_int_equal(err.code, WAGI_JSON_OK);
  assert_non_null(wagi_json_root(doc));
  return doc;
}

/* Compact re-serialisation of a parsed document. */
static char *rewrite(const wagi_json_doc *doc) {
  wagi_jw w;
  char *out = NULL;
  wagi_jw_init(&w, 0);
  assert_int_equal(wagi_jw_value(&w, wagi_json_root(doc)), WAGI_JSON_OK);
  assert_int_equal(wagi_jw_finish(&w, &out, NULL), WAGI_JSON_OK);
  wagi_jw_free(&w);
  return out;
}

static void accept_cases(void **state) {
  (void)state;
  static const struct {
    const char *in;
    size_t len;
    const char *compact; /* the writer's output for it */
  } cs[] = {
      {S("[]"), "[]"},
      {S("{}"), "{}"},
      {S(" \t\r\n[ ] \n"), "[]"},
      {S("[[[]]]"), "[[[]]]"},
      {S("\"a\""), "\"a\""}, /* scalars at the top level (RFC 8259) */
      {S("123"), "123"},
      {S("true"), "true"},
      {S("false"), "false"},
      {S("null"), "null"},
      {S("[-0,0,-0.0,0e0,0E+1,-1.5e-10,1.25E10,123456789012345678901234567890]"),
       "[-0,0,-0.0,0e0,0E+1,-1.5e-10,1.25E10,123456789012345678901234567890]"},
      {S("[1e400, -1e400, 1e-400]"), "[1e400,-1e400,1e-400]"}, /* grammar-valid, kept as written */
      {S("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"),
       "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"},
      {S("{ \"a\" : 1 , \"b\" : 2 }"), "{\"a\":1,\"b\":2}"},
      {S("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"), "[\"\\\"\\\\/\\b\\f\\n\\r\\t\"]"},
      {S("[\"\\u0041\\u00e9\\u20AC\"]"), "[\"A\xc3\xa9\xe2\x82\xac\"]"},
      {S("[\"\\ud83d\\ude00\"]"), "[\"\xf0\x9f\x98\x80\"]"}, /* surrogate pair */
      {S("[\"\\uDBFF\\uDFFF\"]"), "[\"\xf4\x8f\xbf\xbf\"]"}, /* U+10FFFF */
      {S("[\"\\u0000\"]"), "[\"\\u0000\"]"},
      {S("[\"\\u001f\\u007f\"]"), "[\"\\u001f\x7f\"]"},
      {S("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]"),
       "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]"},
      {S("[\"\xef\xbf\xbf\"]"), "[\"\xef\xbf\xbf\"]"}, /* U+FFFF, a noncharacter: valid */
      {S("[\"\\uFFFF\"]"), "[\"\xef\xbf\xbf\"]"},
      {S("[\"\x7f\"]"), "[\"\x7f\"]"}, /* DEL needs no escape */
      {S("[\"a/b\"]"), "[\"a/b\"]"},
      {S("{\"a\":1,\"a\":2}"), "{\"a\":1,\"a\":2}"}, /* duplicates kept */
      {S("{\"\":0}"), "{\"\":0}"},
      {S("[-9223372036854775808]"), "[-9223372036854775808]"},
  };
  for (size_t k = 0; k < sizeof cs / sizeof *cs; k++) {
    wagi_json_doc *doc = parse_ok(cs[k].in, cs[k].len);
    char *out = rewrite(doc);
    if (strcmp(out, cs[k].compact) != 0)
      fail_msg("%s -> %s, want %s", cs[k].in, out, cs[k].compact);
    /* round trip: the output parses and rewrites to itself */
    wagi_json_doc *again = parse_ok(out, strlen(out));
    char *out2 = rewrite(again);
    assert_string_equal(out, out2);
    free(out), free(out2);
    wagi_json_free(doc), wagi_json_free(again);
  }
}

static void reject_cases(void **state) {
  (void)state;
  static const struct {
    const char *in;
    size_t len;
    int code;
    size_t at;
  } cs[] = {
      {S(""), WAGI_JSON_ERR_SYNTAX, 0},
      {S("   "), WAGI_JSON_ERR_SYNTAX, 3},
      {S("["), WAGI_JSON_ERR_SYNTAX, 1},
      {S("]"), WAGI_JSON_ERR_SYNTAX, 0},
      {S("[1,]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[,1]"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("[1,,2]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[1 2]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[1,"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[1"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("{\"a\" 1}"), WAGI_JSON_ERR_SYNTAX, 5},
      {S("{\"a\":1,}"), WAGI_JSON_ERR_SYNTAX, 7},
      {S("{\"a\":1 \"b\":2}"), WAGI_JSON_ERR_SYNTAX, 7},
      {S("{\"a\":}"), WAGI_JSON_ERR_SYNTAX, 5},
      {S("{\"a\":"), WAGI_JSON_ERR_SYNTAX, 5},
      {S("{\"a\""), WAGI_JSON_ERR_SYNTAX, 4},
      {S("{a:1}"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("{'a':1}"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("{1:1}"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("{\"a\":1}}"), WAGI_JSON_ERR_SYNTAX, 7},
      {S("[1]x"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[1][2]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("1 2"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[01]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[-01]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[-]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[- 1]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[.5]"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("[1.]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[1.e5]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[1e]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[1e+]"), WAGI_JSON_ERR_SYNTAX, 4},
      {S("[+1]"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("[0x10]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[1.2.3]"), WAGI_JSON_ERR_SYNTAX, 4},
      {S("[NaN]"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("[Infinity]"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("[-Infinity]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[tru]"), WAGI_JSON_ERR_SYNTAX, 4},
      {S("[True]"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("[nul"), WAGI_JSON_ERR_SYNTAX, 4},
      {S("[truex]"), WAGI_JSON_ERR_SYNTAX, 5},
      {S("\"abc"), WAGI_JSON_ERR_SYNTAX, 0},
      {S("[\"abc\\\"]"), WAGI_JSON_ERR_SYNTAX, 1}, /* the escaped quote does not close it */
      {S("[\"\x01\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\t\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"a\nb\"]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[\"\\a\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\\x41\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\\'\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\\u12\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\\u12G4\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\\U0041\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"ab\\ud800\"]"), WAGI_JSON_ERR_SYNTAX, 4},      /* lone high surrogate */
      {S("[\"\\udc00\"]"), WAGI_JSON_ERR_SYNTAX, 2},        /* lone low surrogate */
      {S("[\"\\ud800\\u0041\"]"), WAGI_JSON_ERR_SYNTAX, 2}, /* high then not low */
      {S("[\"\\ud800\\ud800\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\\ud800abcdef\"]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"\\udc00\\ud800\"]"), WAGI_JSON_ERR_SYNTAX, 2}, /* reversed pair */
      {S("[\"\xc3\"]"), WAGI_JSON_ERR_UTF8, 2},             /* truncated sequence */
      {S("[\"\xc3\x28\"]"), WAGI_JSON_ERR_UTF8, 2},
      {S("[\"\xc0\xaf\"]"), WAGI_JSON_ERR_UTF8, 2},         /* overlong '/' */
      {S("[\"\xe0\x80\xaf\"]"), WAGI_JSON_ERR_UTF8, 2},     /* overlong, 3 bytes */
      {S("[\"\xed\xa0\x80\"]"), WAGI_JSON_ERR_UTF8, 2},     /* encoded surrogate */
      {S("[\"\xf4\x90\x80\x80\"]"), WAGI_JSON_ERR_UTF8, 2}, /* past U+10FFFF */
      {S("[\"\xf8\x88\x80\x80\x80\"]"), WAGI_JSON_ERR_UTF8, 2},
      {S("[\"\xff\"]"), WAGI_JSON_ERR_UTF8, 2},
      {S("[\"a\x80\"]"), WAGI_JSON_ERR_UTF8, 3},      /* lone continuation byte */
      {S("[\xc3\xa9]"), WAGI_JSON_ERR_SYNTAX, 1},     /* non-ASCII outside a string */
      {S("\xef\xbb\xbf{}"), WAGI_JSON_ERR_SYNTAX, 0}, /* byte order mark */
      {S("[1\0]"), WAGI_JSON_ERR_SYNTAX, 2},
      {S("[\"a\0\"]"), WAGI_JSON_ERR_SYNTAX, 3},
      {S("[\f1]"), WAGI_JSON_ERR_SYNTAX, 1}, /* form feed is not JSON whitespace */
      {S("[\v1]"), WAGI_JSON_ERR_SYNTAX, 1},
      {S("[1,\xc2\xa0"
         "2]"),
       WAGI_JSON_ERR_SYNTAX, 3}, /* no-break space */
      {S("/* c */ 1"), WAGI_JSON_ERR_SYNTAX, 0},
      {S("[1] // c"), WAGI_JSON_ERR_SYNTAX, 4},
      {S("{\"a\":1;\"b\":2}"), WAGI_JSON_ERR_SYNTAX, 6},
      {S("[\"a\":1]"), WAGI_JSON_ERR_SYNTAX, 4},
  };
  for (size_t k = 0; k < sizeof cs / sizeof *cs; k++) {
    wagi_json_doc *doc = (wagi_json_doc *)&doc; /* must stay untouched */
    wagi_json_error err = {0};
    int rc = wagi_json_parse(cs[k].in, cs[k].len, NULL, &doc, &err);
    if (rc != cs[k].code || err.code != cs[k].code || err.offset != cs[k].at)
      fail_msg("case %zu: code %d at %zu (%s), want %d at %zu", k, rc, err.offset, err.msg,
               cs[k].code, cs[k].at);
    assert_ptr_equal(doc, (wagi_json_doc *)&doc);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "invalid JSON at byte %zu: ", cs[k].at);
    assert_true(strncmp(err.msg, prefix, strlen(prefix)) == 0);
  }
}

static void error_messages(void **state) {
  (void)state;
  wagi_json_doc *doc;
  wagi_json_error err;
  assert_int_equal(wagi_json_parse(S("{\"a\" 1}"), NULL, &doc, &err), WAGI_JSON_ERR_SYNTAX);
  assert_string_equal(err.msg,
                      "invalid JSON at byte 5: unexpected '1'; expected ':' after an object key");
  assert_int_equal(wagi_json_parse(S("[1,2"), NULL, &doc, &err), WAGI_JSON_ERR_SYNTAX);
  assert_string_equal(err.msg,
                      "invalid JSON at byte 4: unexpected end of input; expected ',' or ']' "
                      "for the array at byte 0");
  assert_int_equal(wagi_json_parse(S("[\"\\ud800\"]"), NULL, &doc, &err), WAGI_JSON_ERR_SYNTAX);
  assert_string_equal(err.msg,
                      "invalid JSON at byte 2: high surrogate \\uD800 not followed by a "
                      "low surrogate escape");
  assert_int_equal(wagi_json_parse(S("[\"\xff\"]"), NULL, &doc, &err), WAGI_JSON_ERR_UTF8);
  assert_string_equal(err.msg, "invalid JSON at byte 2: invalid UTF-8 byte 0xff in a string");
  assert_int_equal(wagi_json_parse(S("[\x01]"), NULL, &doc, &err), WAGI_JSON_ERR_SYNTAX);
  assert_string_equal(err.msg, "invalid JSON at byte 1: unexpected byte 0x01; expected a value");
  /* err may be NULL; NULL text with a length is an argument error */
  assert_int_equal(wagi_json_parse(S("[x]"), NULL, &doc, NULL), WAGI_JSON_ERR_SYNTAX);
  assert_int_equal(wagi_json_parse(NULL, 1, NULL, &doc, &err), WAGI_JSON_ERR_ARG);
  assert_string_equal(err.msg, "wagi_json_parse: invalid argument");
  assert_int_equal(wagi_json_parse("1", 1, NULL, NULL, &err), WAGI_JSON_ERR_ARG);
  assert_int_equal(wagi_json_parse(NULL, 0, NULL, &doc, &err), WAGI_JSON_ERR_SYNTAX);
  /* a long input: the message stays within its buffer */
  char big[400];
  memset(big, '[', sizeof big);
  assert_int_equal(wagi_json_parse(big, sizeof big, NULL, &doc, &err), WAGI_JSON_ERR_DEPTH);
  assert_int_equal(err.offset, WAGI_JSON_DEFAULT_DEPTH);
  assert_string_equal(err.msg, "invalid JSON at byte 128: nesting deeper than 128");
}

static char *nested(size_t depth) {
  char *s = malloc(2 * depth + 1);
  assert_non_null(s);
  memset(s, '[', depth);
  memset(s + depth, ']', depth);
  s[2 * depth] = 0;
  return s;
}

static void depth_limit(void **state) {
  (void)state;
  wagi_json_doc *doc;
  wagi_json_error err;
  char *s = nested(WAGI_JSON_DEFAULT_DEPTH);
  assert_int_equal(wagi_json_parse(s, strlen(s), NULL, &doc, &err), WAGI_JSON_OK);
  wagi_json_free(doc);
  free(s);
  s = nested(WAGI_JSON_DEFAULT_DEPTH + 1);
  assert_int_equal(wagi_json_parse(s, strlen(s), NULL, &doc, &err), WAGI_JSON_ERR_DEPTH);
  free(s);
  wagi_json_options o = {.max_depth = 2};
  assert_int_equal(wagi_json_parse(S("[{}]"), &o, &doc, &err), WAGI_JSON_OK);
  wagi_json_free(doc);
  assert_int_equal(wagi_json_parse(S("[{\"a\":[]}]"), &o, &doc, &err), WAGI_JSON_ERR_DEPTH);
  assert_int_equal(err.offset, 6);
  /* the hard maximum, also when more is asked for */
  o.max_depth = 100000;
  s = nested(WAGI_JSON_MAX_DEPTH);
  assert_int_equal(wagi_json_parse(s, strlen(s), &o, &doc, &err), WAGI_JSON_OK);
  char *out = rewrite(doc);
  assert_string_equal(out, s);
  free(out);
  wagi_json_free(doc);
  free(s);
  s = nested(WAGI_JSON_MAX_DEPTH + 1);
  assert_int_equal(wagi_json_parse(s, strlen(s), &o, &doc, &err), WAGI_JSON_ERR_DEPTH);
  free(s);
}

static void accessors(void **state) {
  (void)state;
  const char *text =
      "{\"s\":\"h\\u00e9llo\",\"n\":-2.5,\"i\":9223372036854775807,"
      "\"big\":1e400,\"t\":true,\"z\":null,\"a\":[10,\"x\",{}],"
      "\"d\":{\"k\":1},\"k\\u0000x\":\"nul key\",\"dup\":1,\"dup\":2}";
  wagi_json_doc *doc = parse_ok(text, strlen(text));
  const wagi_json *r = wagi_json_root(doc);
  assert_int_equal(wagi_json_typeof(r), WAGI_JSON_OBJECT);
  assert_int_equal(wagi_json_count(r), 11);
  size_t n;
  assert_string_equal(wagi_json_string(wagi_json_get(r, "s"), &n), "h\xc3\xa9llo");
  assert_int_equal(n, 6);
  assert_null(wagi_json_string(wagi_json_get(r, "n"), &n));
  double d;
  int64_t i;
  int b;
  assert_int_equal(wagi_json_number(wagi_json_get(r, "n"), &d), 0);
  assert_true(d == -2.5);
  assert_int_equal(wagi_json_int64(wagi_json_get(r, "n"), &i), WAGI_JSON_ERR_RANGE);
  assert_int_equal(wagi_json_int64(wagi_json_get(r, "i"), &i), 0);
  assert_true(i == INT64_MAX);
  assert_int_equal(wagi_json_number(wagi_json_get(r, "big"), &d), WAGI_JSON_ERR_RANGE);
  assert_int_equal(wagi_json_number(wagi_json_get(r, "s"), &d), WAGI_JSON_ERR_TYPE);
  assert_int_equal(wagi_json_bool(wagi_json_get(r, "t"), &b), 0);
  assert_int_equal(b, 1);
  assert_int_equal(wagi_json_bool(wagi_json_get(r, "z"), &b), WAGI_JSON_ERR_TYPE);
  assert_true(wagi_json_is_null(wagi_json_get(r, "z")));
  assert_false(wagi_json_is_null(wagi_json_get(r, "missing")));
  const wagi_json *a = wagi_json_get(r, "a");
  assert_int_equal(wagi_json_count(a), 3);
  assert_int_equal(wagi_json_int64(wagi_json_at(a, 0), &i), 0);
  assert_int_equal(i, 10);
  assert_string_equal(wagi_json_string(wagi_json_at(a, 1), NULL), "x");
  assert_int_equal(wagi_json_typeof(wagi_json_at(a, 2)), WAGI_JSON_OBJECT);
  assert_null(wagi_json_at(a, 3));
  assert_null(wagi_json_at(r, 0)); /* not an array */
  /* chained lookups through missing values end in NULL, not a crash */
  assert_int_equal(wagi_json_int64(wagi_json_get(wagi_json_get(r, "d"), "k"), &i), 0);
  assert_null(wagi_json_get(wagi_json_get(r, "nope"), "k"));
  assert_int_equal(wagi_json_typeof(NULL), -1);
  assert_int_equal(wagi_json_count(NULL), 0);
  /* key with an escaped NUL: only the counted lookup finds it */
  assert_null(wagi_json_get(r, "k"));
  assert_string_equal(wagi_json_string(wagi_json_getn(r, "k\0x", 3), NULL), "nul key");
  /* duplicates: first wins, both visible by index */
  assert_int_equal(wagi_json_int64(wagi_json_get(r, "dup"), &i), 0);
  assert_int_equal(i, 1);
  const wagi_json_member *m = wagi_json_member_at(r, 10);
  assert_string_equal(m->key, "dup");
  assert_int_equal(wagi_json_int64(m->value, &i), 0);
  assert_int_equal(i, 2);
  assert_null(wagi_json_member_at(r, 11));
  wagi_json_free(doc);
  wagi_json_free(NULL);

  static const struct {
    const char *num;
    int rc;
    int64_t v;
  } ints[] = {
      {"0", 0, 0},
      {"-0", 0, 0},
      {"-9223372036854775808", 0, INT64_MIN},
      {"9223372036854775807", 0, INT64_MAX},
      {"9223372036854775808", WAGI_JSON_ERR_RANGE, 0},
      {"-9223372036854775809", WAGI_JSON_ERR_RANGE, 0},
      {"99999999999999999999", WAGI_JSON_ERR_RANGE, 0},
      {"1.0", WAGI_JSON_ERR_RANGE, 0},
      {"1e2", WAGI_JSON_ERR_RANGE, 0},
  };
  for (size_t k = 0; k < sizeof ints / sizeof *ints; k++) {
    doc = parse_ok(ints[k].num, strlen(ints[k].num));
    i = 12345;
    assert_int_equal(wagi_json_int64(wagi_json_root(doc), &i), ints[k].rc);
    assert_true(i == (ints[k].rc ? 12345 : ints[k].v));
    wagi_json_free(doc);
  }
}

static void writer_basic(void **state) {
  (void)state;
  wagi_jw w;
  char *out;
  size_t n;
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "s");
  wagi_jw_stringn(&w, S("q\"b\\s\b\f\n\r\t\x01\x1f/\x7f\xc3\xa9\0."));
  wagi_jw_key(&w, "n");
  wagi_jw_number(&w, 1.5);
  wagi_jw_key(&w, "i");
  wagi_jw_int64(&w, INT64_MIN);
  wagi_jw_key(&w, "t");
  wagi_jw_bool(&w, 7);
  wagi_jw_key(&w, "f");
  wagi_jw_bool(&w, 0);
  wagi_jw_key(&w, "z");
  wagi_jw_null(&w);
  wagi_jw_keyn(&w, S("a\nb"));
  wagi_jw_array_begin(&w);
  wagi_jw_int64(&w, 1);
  wagi_jw_array_begin(&w);
  wagi_jw_array_end(&w);
  wagi_jw_object_begin(&w);
  wagi_jw_object_end(&w);
  wagi_jw_string(&w, "");
  wagi_jw_array_end(&w);
  wagi_jw_object_end(&w);
  assert_int_equal(wagi_jw_finish(&w, &out, &n), WAGI_JSON_OK);
  const char *want =
      "{\"s\":\"q\\\"b\\\\s\\b\\f\\n\\r\\t\\u0001\\u001f/\x7f\xc3\xa9\\u0000.\","
      "\"n\":1.5,\"i\":-9223372036854775808,\"t\":true,\"f\":false,\"z\":null,"
      "\"a\\nb\":[1,[],{},\"\"]}";
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
  /* what it wrote parses back to the same values */
  wagi_json_doc *doc = parse_ok(out, n);
  size_t sl;
  const char *s = wagi_json_string(wagi_json_get(wagi_json_root(doc), "s"), &sl);
  assert_int_equal(sl, sizeof("q\"b\\s\b\f\n\r\t\x01\x1f/\x7f\xc3\xa9\0.") - 1);
  assert_memory_equal(s, "q\"b\\s\b\f\n\r\t\x01\x1f/\x7f\xc3\xa9\0.", sl);
  wagi_json_free(doc);
  free(out);
  wagi_jw_free(&w); /* no-op after finish */

  /* every byte below 0x80 through wagi_json_quote, then back */
  char all[128];
  for (int c = 0; c < 128; c++) all[c] = (char)c;
  assert_int_equal(wagi_json_quote(all, sizeof all, &out, &n), 0);
  doc = parse_ok(out, n);
  s = wagi_json_string(wagi_json_root(doc), &sl);
  assert_int_equal(sl, 128);
  assert_memory_equal(s, all, 128);
  wagi_json_free(doc);
  free(out);
}

static void writer_numbers(void **state) {
  (void)state;
  static const struct {
    double v;
    const char *text;
  } cs[] = {
      {0.0, "0"},
      {-0.0, "-0"},
      {1.0, "1"},
      {100.0, "100"},
      {0.1, "0.1"},
      {-2.5, "-2.5"},
      {1e21, "1e+21"},
      {1.0 / 3, "0.3333333333333333"},
      {5e-324, "5e-324"},
      {1e17, "100000000000000000"},
      {1e22, "1e+22"},
      {-123.0, "-123"},
      {9007199254740993.0, "9007199254740992"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {123456789.0, "123456789"},
  };
  for (size_t k = 0; k < sizeof cs / sizeof *cs; k++) {
    wagi_jw w;
    char *out;
    wagi_jw_init(&w, 0);
    assert_int_equal(wagi_jw_number(&w, cs[k].v), 0);
    assert_int_equal(wagi_jw_finish(&w, &out, NULL), 0);
    /* integers as integers, others the shortest text that reads back exactly */
    if (strcmp(out, cs[k].text) != 0) fail_msg("%.17g -> %s, want %s", cs[k].v, out, cs[k].text);
    assert_true(strtod(out, NULL) == cs[k].v);
    free(out);
  }
  wagi_jw w;
  char *out;
  wagi_jw_init(&w, 0);
  wagi_jw_array_begin(&w);
  assert_int_equal(wagi_jw_number(&w, NAN), WAGI_JSON_ERR_RANGE);
  assert_int_equal(wagi_jw_number(&w, 1), WAGI_JSON_ERR_RANGE); /* sticky */
  assert_int_equal(wagi_jw_finish(&w, &out, NULL), WAGI_JSON_ERR_RANGE);
  wagi_jw_free(&w);
  wagi_jw_init(&w, 0);
  assert_int_equal(wagi_jw_number(&w, -INFINITY), WAGI_JSON_ERR_RANGE);
  wagi_jw_free(&w);
}

static void writer_misuse(void **state) {
  (void)state;
  wagi_jw w;
  char *out = (char *)"untouched";
  /* nothing written */
  wagi_jw_init(&w, 0);
  assert_int_equal(wagi_jw_finish(&w, &out, NULL), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  /* two top-level values */
  wagi_jw_init(&w, 0);
  assert_int_equal(wagi_jw_int64(&w, 1), 0);
  assert_int_equal(wagi_jw_int64(&w, 2), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  /* a value without a key, a key in an array, a key twice */
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  assert_int_equal(wagi_jw_int64(&w, 1), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  wagi_jw_init(&w, 0);
  wagi_jw_array_begin(&w);
  assert_int_equal(wagi_jw_key(&w, "k"), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "k");
  assert_int_equal(wagi_jw_key(&w, "k"), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  /* a key with no value before the end; mismatched ends; unclosed */
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "k");
  assert_int_equal(wagi_jw_object_end(&w), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  assert_int_equal(wagi_jw_array_end(&w), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  wagi_jw_init(&w, 0);
  assert_int_equal(wagi_jw_array_end(&w), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  wagi_jw_init(&w, 0);
  wagi_jw_array_begin(&w);
  assert_int_equal(wagi_jw_finish(&w, &out, NULL), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  /* invalid UTF-8 is refused, in values and keys, and the error sticks */
  static const char *bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    wagi_jw_init(&w, 0);
    wagi_jw_array_begin(&w);
    assert_int_equal(wagi_jw_string(&w, bad[k]), WAGI_JSON_ERR_UTF8);
    assert_int_equal(wagi_jw_array_end(&w), WAGI_JSON_ERR_UTF8);
    assert_int_equal(wagi_jw_finish(&w, &out, NULL), WAGI_JSON_ERR_UTF8);
    wagi_jw_free(&w);
    wagi_jw_init(&w, 0);
    wagi_jw_object_begin(&w);
    assert_int_equal(wagi_jw_key(&w, bad[k]), WAGI_JSON_ERR_UTF8);
    wagi_jw_free(&w);
  }
  assert_string_equal(out, "untouched");
  wagi_jw_init(&w, 0);
  assert_int_equal(wagi_jw_string(&w, NULL), WAGI_JSON_ERR_ARG);
  wagi_jw_free(&w);
  assert_int_equal(wagi_jw_value(NULL, NULL), WAGI_JSON_ERR_ARG);
  assert_int_equal(wagi_json_quote("\xff", 1, &out, NULL), WAGI_JSON_ERR_UTF8);
  /* the output bound */
  wagi_jw_init(&w, 8);
  wagi_jw_array_begin(&w);
  assert_int_equal(wagi_jw_string(&w, "12345"), 0); /* ["12345" is 8 bytes */
  assert_int_equal(wagi_jw_array_end(&w), WAGI_JSON_ERR_TOO_LARGE);
  wagi_jw_free(&w);
  /* depth: WAGI_JSON_MAX_DEPTH containers, not one more */
  wagi_jw_init(&w, 0);
  for (int k = 0; k < WAGI_JSON_MAX_DEPTH; k++) assert_int_equal(wagi_jw_array_begin(&w), 0);
  assert_int_equal(wagi_jw_array_begin(&w), WAGI_JSON_ERR_DEPTH);
  wagi_jw_free(&w);
}

static unsigned seed = 12345;
static unsigned rnd(void) {
  seed = seed * 1103515245u + 12345u;
  return (seed >> 16) & 0x7fff;
}

/* Random documents from a small grammar: write, parse, rewrite, compare. */
static void writer_roundtrip_random(void **state) {
  (void)state;
  for (int doc_no = 0; doc_no < 300; doc_no++) {
    wagi_jw w;
    wagi_jw_init(&w, 0);
    int depth = 0, open[32], count[32];
    wagi_jw_array_begin(&w);
    open[depth] = 0, count[depth++] = 0;
    while (depth > 0) {
      int r = (int)rnd() % 10;
      int in_obj = open[depth - 1];
      if (r == 0 || count[depth - 1] > 4) {
        if (in_obj) wagi_jw_object_end(&w);
        else wagi_jw_array_end(&w);
        depth--;
        continue;
      }
      if (in_obj) {
        char key[8];
        snprintf(key, sizeof key, "k%d", (int)rnd() % 5); /* duplicates likely */
        wagi_jw_key(&w, key);
      }
      count[depth - 1]++;
      char str[12];
      switch (r) {
      case 1:
        if (depth < 6) {
          wagi_jw_object_begin(&w);
          open[depth] = 1, count[depth++] = 0;
        } else {
          wagi_jw_null(&w);
        }
        break;
      case 2:
        if (depth < 6) {
          wagi_jw_array_begin(&w);
          open[depth] = 0, count[depth++] = 0;
        } else {
          wagi_jw_bool(&w, 1);
        }
        break;
      case 4: {
        double num = (double)(int)rnd();
        wagi_jw_number(&w, num / ((int)rnd() + 1));
        break;
      }
      case 5: {
        int64_t a = rnd(), b = rnd();
        wagi_jw_int64(&w, a * b * -99991);
        break;
      }
      case 3:
      case 6: wagi_jw_bool(&w, r & 1); break;
      case 7: wagi_jw_null(&w); break;
      default:
        for (int k = 0; k < 11; k++) str[k] = (char)(rnd() % 128); /* controls and quotes */
        wagi_jw_stringn(&w, str, rnd() % 12);
        break;
      }
    }
    char *out, *out2;
    size_t n;
    assert_int_equal(wagi_jw_finish(&w, &out, &n), WAGI_JSON_OK);
    wagi_json_doc *doc = parse_ok(out, n);
    out2 = rewrite(doc);
    assert_string_equal(out, out2);
    free(out), free(out2);
    wagi_json_free(doc);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accept_cases),
      cmocka_unit_test(reject_cases),
      cmocka_unit_test(error_messages),
      cmocka_unit_test(depth_limit),
      cmocka_unit_test(accessors),
      cmocka_unit_test(writer_basic),
      cmocka_unit_test(writer_numbers),
      cmocka_unit_test(writer_misuse),
      cmocka_unit_test(writer_roundtrip_random),
  };
  return cmocka_run_group_tests_name("guest_json", tests, NULL, NULL);
}
