/* test_toml.c — the TOML 1.0 parser (src/server/toml.c): valid documents
 * per feature (checked through a compact rendering of the tree), invalid
 * documents per feature (checked by message and LINE:COLUMN), positions,
 * limits and the accessors. Cases are grouped like toml-test's
 * valid/invalid directories, written for this project. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/toml.h"
#include "mutate_text.h"

/* ---- rendering -------------------------------------------------------------- */

typedef struct {
  char *p;
  size_t n, cap;
} out_buf;

static void put(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_buf *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  assert_true(k >= 0);
  if (o->n + (size_t)k + 1 > o->cap) {
    o->cap = (o->n + (size_t)k + 1) * 2;
    o->p = realloc(o->p, o->cap);
    assert_non_null(o->p);
  }
  va_start(ap, fmt);
  vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
  va_end(ap);
  o->n += (size_t)k;
}

static void put_str(out_buf *o, const char *s, size_t n, bool allow_bare) {
  bool bare = allow_bare && n > 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      bare = false;
  }
  if (bare) {
    put(o, "%.*s", (int)n, s);
    return;
  }
  put(o, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') put(o, "\\%c", c);
    else if (c < 0x20 || c == 0x7f) put(o, "\\x%02X", c);
    else put(o, "%c", c);
  }
  put(o, "\"");
}

/* Compact rendering: {k=v,...} [v,...] "s" 42 1.5f true ldt:TEXT. */
static void render(out_buf *o, const toml_value *v) {
  switch (v->kind) {
  case TOML_TABLE:
    put(o, "{");
    for (size_t i = 0; i < toml_table_len(v); i++) {
      const toml_entry *e = toml_table_entry(v, i);
      if (i) put(o, ",");
      put_str(o, e->key, e->key_len, true);
      put(o, "=");
      render(o, e->value);
    }
    put(o, "}");
    break;
  case TOML_ARRAY:
    put(o, "[");
    for (size_t i = 0; i < toml_array_len(v); i++) {
      if (i) put(o, ",");
      render(o, toml_array_at(v, i));
    }
    put(o, "]");
    break;
  case TOML_STRING: put_str(o, v->u.str.ptr, v->u.str.len, false); break;
  case TOML_INTEGER: put(o, "%" PRId64, v->u.integer); break;
  case TOML_FLOAT:
    if (isnan(v->u.fp)) put(o, "%snanf", signbit(v->u.fp) ? "-" : "");
    else put(o, "%.17gf", v->u.fp);
    break;
  case TOML_BOOL: put(o, "%s", v->u.boolean ? "true" : "false"); break;
  case TOML_DATETIME: {
    static const char *k[] = {"odt", "ldt", "ld", "lt"};
    put(o, "%s:%s", k[v->dt_kind], v->u.str.ptr);
    break;
  }
  }
}

static toml_value *parse_ok_n(const char *doc, size_t len) {
  toml_value *root = NULL;
  char err[512];
  toml_status st = toml_parse(doc, len, "t.toml", &root, err, sizeof err);
  if (st != TOML_OK) fail_msg("unexpected error for %s\n  %s", doc, err);
  assert_non_null(root);
  return root;
}

static void check_valid_n(const char *doc, size_t len, const char *want) {
  toml_value *root = parse_ok_n(doc, len);
  out_buf o = {0};
  render(&o, root);
  if (strcmp(o.p, want) != 0) fail_msg("document:\n%s\n  got:  %s\n  want: %s", doc, o.p, want);
  free(o.p);
  toml_free(root);
}

static void check_valid(const char *doc, const char *want) {
  check_valid_n(doc, strlen(doc), want);
}

/* Expects failure at LINE:COL with `what` in the message. */
static void check_invalid_n(const char *doc, size_t len, unsigned line, unsigned col,
                            const char *what) {
  toml_value *root = (toml_value *)0x1;
  char err[512];
  toml_status st = toml_parse(doc, len, "t.toml", &root, err, sizeof err);
  if (st == TOML_OK) fail_msg("document should be refused (%s):\n%s", what, doc);
  assert_int_equal(st, TOML_ERR_SYNTAX);
  assert_ptr_equal(root, (toml_value *)0x1); /* *out untouched on failure */
  char prefix[64];
  snprintf(prefix, sizeof prefix, "t.toml:%u:%u: ", line, col);
  if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what))
    fail_msg("document:\n%s\n  got:  %s\n  want: %s...%s", doc, err, prefix, what);
}

static void check_invalid(const char *doc, unsigned line, unsigned col, const char *what) {
  check_invalid_n(doc, strlen(doc), line, col, what);
}

typedef struct {
  const char *doc, *want;
} valid_case;

typedef struct {
  const char *doc;
  unsigned line, col;
  const char *what;
} invalid_case;

static void run_valid(const valid_case *c, size_t n) {
  for (size_t i = 0; i < n; i++) check_valid(c[i].doc, c[i].want);
}

static void run_invalid(const invalid_case *c, size_t n) {
  for (size_t i = 0; i < n; i++) check_invalid(c[i].doc, c[i].line, c[i].col, c[i].what);
}

#define RUN_VALID(arr) run_valid(arr, sizeof arr / sizeof arr[0])
#define RUN_INVALID(arr) run_invalid(arr, sizeof arr / sizeof arr[0])

/* ---- comments, whitespace, newlines, encoding -------------------------------- */

static void test_valid_basics(void **state) {
  (void)state;
  static const valid_case c[] = {
      {"", "{}"},
      {"\n\n  \t\n", "{}"},
      {"# only a comment", "{}"},
      {"# c\na = 1 # trailing\n#c", "{a=1}"},
      {"a = 1\r\nb = 2\r\n", "{a=1,b=2}"},
      {"\xEF\xBB\xBF"
       "a = 1",
       "{a=1}"},
      {"#\tcomment with tab and \xC3\xA9\na=1", "{a=1}"},
      {"\t a\t=\t1\t", "{a=1}"},
      {"a=1\n\n\n", "{a=1}"},
      {"a = \"\xE2\x82\xAC \xF0\x9F\x98\x80\"", "{a=\"\xE2\x82\xAC \xF0\x9F\x98\x80\"}"},
  };
  RUN_VALID(c);
}

static void test_invalid_encoding(void **state) {
  (void)state;
  static const invalid_case c[] = {
      {"a = 1\r", 1, 6, "carriage return not followed by a line feed"},
      {"a = \"x\x01\"", 1, 7, "control character U+0001"},
      {"# \x7f", 1, 3, "control character U+007F"},
      {"a = 1 # \x1b[0m", 1, 9, "control character U+001B"},
      {"a = \"\xff\"", 1, 6, "invalid UTF-8 byte 0xFF"},
      {"a = \"\xc0\xaf\"", 1, 6, "invalid UTF-8 byte 0xC0"},
      {"a = \"\xe0\x80\xaf\"", 1, 6, "overlong UTF-8 sequence"},
      {"a = \"\xed\xa0\x80\"", 1, 6, "surrogate U+D800"},
      {"a = \"\xe2\x82", 1, 6, "truncated UTF-8 sequence"},
      {"a = \"\xe2\x28\xa1\"", 1, 6, "invalid UTF-8 sequence"},
      {"a = \"\xf4\x90\x80\x80\"", 1, 6, "beyond U+10FFFF"},
      {"x = 1\n\xc3\xa9\xc3\xa9\x80", 2, 3, "invalid UTF-8 byte 0x80"},
      {"a = 1 b = 2", 1, 7, "expected end of line after value, found 'b'"},
      {"a = \"x\" \"y\"", 1, 9, "expected end of line after value"},
      {"a = 1 # ok\nb = 2 ]", 2, 7, "expected end of line after value, found ']'"},
  };
  RUN_INVALID(c);
  /* NUL bytes count: the document is len bytes, not a C string */
  check_invalid_n("a = 1\0", 6, 1, 6, "control character U+0000");
  check_invalid_n("a = \"\0\"", 7, 1, 6, "control character U+0000");
}

/* ---- keys -------------------------------------------------------------------- */

static void test_valid_keys(void **state) {
  (void)state;
  static const valid_case c[] = {
      {"A-b_9 = 1", "{A-b_9=1}"},
      {"1234 = 1", "{1234=1}"},
      {"- = 1\n_ = 2", "{-=1,_=2}"},
      {"true = 1\nfalse = 2\ninf = 3\nnan = 4", "{true=1,false=2,inf=3,nan=4}"},
      {"\"a b\" = 1", "{\"a b\"=1}"},
      {"'x.y' = 1", "{\"x.y\"=1}"},
      {"\"\" = 1", "{\"\"=1}"},
      {"'' = 1", "{\"\"=1}"},
      {"\"\\u00e9\" = 1", "{\"\xC3\xA9\"=1}"},
      {"\"\\\"q\\\"\" = 1", "{\"\\\"q\\\"\"=1}"},
      {"a.b.c = 1\na.b.d = 2", "{a={b={c=1,d=2}}}"},
      {"a . b\t.\tc = 1", "{a={b={c=1}}}"},
      {"\"a\".'b'.c = 1", "{a={b={c=1}}}"},
      {"3.14159 = 'pi'", "{3={14159=\"pi\"}}"},
      {"z = 1\na = 2\nm = 3", "{z=1,a=2,m=3}"},
      {"a.b = 1\nc = 2\na.d = 3", "{a={b=1,d=3},c=2}"},
      {"'a.b'.c = 1\na.b = 2", "{\"a.b\"={c=1},a={b=2}}"},
      {"\"\xC3\xA9t\xC3\xA9\" = 1", "{\"\xC3\xA9t\xC3\xA9\"=1}"},
  };
  RUN_VALID(c);
}

static void test_invalid_keys(void **state) {
  (void)state;
  static const invalid_case c[] = {
      {"a", 1, 2, "expected '=' after key, found end of file"},
      {"a 1", 1, 3, "expected '=' after key, found '1'"},
      {"a b = 1", 1, 3, "expected '=' after key, found 'b'"},
      {"a\n= 1", 1, 2, "expected '=' after key, found end of line"},
      {"= 1", 1, 1, "missing key before '='"},
      {"a. = 1", 1, 4, "missing key before '='"},
      {".a = 1", 1, 1, "expected a key, found '.'"},
      {"a..b = 1", 1, 3, "expected a key, found '.'"},
      {"a.\nb = 1", 1, 3, "expected a key, found end of line"},
      {"\xC3\xA9 = 1", 1, 1, "expected a key, found '\xC3\xA9'"},
      {"a:b = 1", 1, 2, "expected '=' after key, found ':'"},
      {"\"\"\"a\"\"\" = 1", 1, 1, "multi-line strings cannot be used as keys"},
      {"'''a''' = 1", 1, 1, "multi-line strings cannot be used as keys"},
      {"\"a = 1", 1, 1, "unterminated string"},
      {"\"a\nb\" = 1", 1, 3, "newline in a single-line string"},
      {"a = 1\na = 2", 2, 1, "duplicate key 'a' (first defined at line 1)"},
      {"a = 1\n'a' = 2", 2, 1, "duplicate key 'a'"},
      {"\"a\" = 1\n\"\\u0061\" = 2", 2, 1, "duplicate key 'a'"},
      {"\"\" = 1\n'' = 2", 2, 1, "duplicate key '\"\"'"},
      {"a.b = 1\na.b = 2", 2, 3, "duplicate key 'a.b'"},
      {"a = 1\na.b = 2", 2, 1, "key 'a' is already an integer (line 1), not a table"},
      {"a = \"s\"\na.b.c = 2", 2, 1, "key 'a' is already a string"},
      {"a.b = 1\na.b.c = 2", 2, 3, "key 'a.b' is already an integer"},
      {"a = [1]\na.b = 2", 2, 1, "key 'a' is already an array"},
  };
  RUN_INVALID(c);
}

/* ---- strings ----------------------------------------------------------------- */

static void test_valid_strings(void **state) {
  (void)state;
  static const valid_case c[] = {
      {"a = \"\"", "{a=\"\"}"},
      {"a = ''", "{a=\"\"}"},
      {"a = \"\\b\\t\\n\\f\\r\\\"\\\\\"", "{a=\"\\x08\\x09\\x0A\\x0C\\x0D\\\"\\\\\"}"},
      {"a = \"\\u00E9\\u20AC\\U0001F600\\U00000041\"",
       "{a=\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
       "A\"}"},
      {"a = \"\\u0000x\"", "{a=\"\\x00x\"}"},
      {"a = \"\\uD7FF\\uE000\\U0010FFFF\"", "{a=\"\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF\"}"},
      {"a = \"tab\there\"", "{a=\"tab\\x09here\"}"},
      {"a = \"# not a comment\"", "{a=\"# not a comment\"}"},
      {"a = 'C:\\Users\\nodejs'", "{a=\"C:\\\\Users\\\\nodejs\"}"},
      {"a = '<\\i\\c*\\s*>'", "{a=\"<\\\\i\\\\c*\\\\s*>\"}"},
      {"a = 'say \"hi\"'", "{a=\"say \\\"hi\\\"\"}"},
      /* multi-line basic */
      {"a = \"\"\"\nhello\nworld\"\"\"", "{a=\"hello\\x0Aworld\"}"},
      {"a = \"\"\"\r\nx\r\ny\"\"\"", "{a=\"x\\x0Ay\"}"},
      {"a = \"\"\"\n\nx\"\"\"", "{a=\"\\x0Ax\"}"},
      {"a = \"\"\"one \\\n    two \\\n\n  three\"\"\"", "{a=\"one two three\"}"},
      {"a = \"\"\"x\\   \n  y\"\"\"", "{a=\"xy\"}"},
      {"a = \"\"\"x\\\r\n\ty\"\"\"", "{a=\"xy\"}"},
      {"a = \"\"\"\\\n\"\"\"", "{a=\"\"}"},
      {"a = \"\"\"a\"\"b\"\"\"", "{a=\"a\\\"\\\"b\"}"},
      {"a = \"\"\"\"quoted\"\"\"\"", "{a=\"\\\"quoted\\\"\"}"},
      {"a = \"\"\"x\"\"\"\"\"", "{a=\"x\\\"\\\"\"}"},
      {"a = \"\"\"\\\"\"\"\"", "{a=\"\\\"\"}"},
      {"a = \"\"\"\\\"\"\"\"\"\"", "{a=\"\\\"\\\"\\\"\"}"},
      {"a = \"\"\"\"\"\"", "{a=\"\"}"},
      {"a = \"\"\"tab\t\\t\\u00e9\"\"\"", "{a=\"tab\\x09\\x09\xC3\xA9\"}"},
      /* multi-line literal */
      {"a = '''\nraw \\n text'''", "{a=\"raw \\\\n text\"}"},
      {"a = '''\n  keep\n  indent\n'''", "{a=\"  keep\\x0A  indent\\x0A\"}"},
      {"a = ''''x''''", "{a=\"'x'\"}"},
      {"a = '''x'''''", "{a=\"x''\"}"},
      {"a = '''a''b'''", "{a=\"a''b\"}"},
      {"a = ''''''", "{a=\"\"}"},
      {"a = '''\\ \"x\"'''", "{a=\"\\\\ \\\"x\\\"\"}"},
  };
  RUN_VALID(c);
}

static void test_invalid_strings(void **state) {
  (void)state;
  static const invalid_case c[] = {
      {"a = \"\\x41\"", 1, 6, "invalid escape sequence '\\x'"},
      {"a = \"\\e\"", 1, 6, "invalid escape sequence '\\e'"},
      {"a = \"\\a\"", 1, 6, "invalid escape sequence '\\a'"},
      {"a = \"\\ \"", 1, 6, "backslash followed by whitespace"},
      {"a = \"\\\xC3\xA9\"", 1, 6, "invalid escape sequence"},
      {"a = \"\\u12\"", 1, 6, "\\u escape needs exactly 4 hexadecimal digits"},
      {"a = \"\\u12G4\"", 1, 6, "\\u escape needs exactly 4"},
      {"a = \"\\U1234567\"", 1, 6, "\\U escape needs exactly 8"},
      {"a = \"\\uD800\"", 1, 6, "escape \\uD800 is not a Unicode scalar value"},
      {"a = \"\\uDFFF\"", 1, 6, "not a Unicode scalar value"},
      {"a = \"\\U00110000\"", 1, 6, "escape \\U00110000 is not a Unicode scalar value"},
      {"a = \"\\UFFFFFFFF\"", 1, 6, "not a Unicode scalar value"},
      {"a = \"abc", 1, 5, "unterminated string"},
      {"a = \"abc\\", 1, 9, "unterminated string"},
      {"a = \"abc\nb = 1", 1, 9, "newline in a single-line string"},
      {"a = 'abc", 1, 5, "unterminated literal string"},
      {"a = 'a\nb'", 1, 7, "newline in a single-line literal string"},
      {"a = 'it's'", 1, 9, "expected end of line after value, found 's'"},
      {"a = \"\"\"abc", 1, 5, "unterminated multi-line string (missing closing \"\"\")"},
      {"a = \"\"\"abc\n\n", 1, 5, "unterminated multi-line string"},
      {"a = '''abc", 1, 5, "unterminated multi-line string (missing closing ''')"},
      {"a = '''abc''''''", 1, 16, "too many quotes"},
      {"a = \"\"\"a\"\"\"\"\"\"", 1, 14, "too many quotes"},
      {"a = \"\"\"\\ x\"\"\"", 1, 8, "backslash followed by whitespace"},
      {"a = \"\"\"\n\\q\"\"\"", 2, 1, "invalid escape sequence '\\q'"},
      {"a = \"\"\"here \"\"\". \"\"\"", 1, 16, "expected end of line after value, found '.'"},
      {"a = \"\"\"x\x01\"\"\"", 1, 9, "control character U+0001"},
      {"a = '''x\x7f'''", 1, 9, "control character U+007F"},
      {"a = \"\"\"x\ry\"\"\"", 1, 9, "carriage return not followed by a line feed"},
  };
  RUN_INVALID(c);
}

/* ---- integers and floats ------------------------------------------------------ */

static void test_valid_numbers(void **state) {
  (void)state;
  static const valid_case c[] = {
      {"a = 0\nb = +0\nc = -0", "{a=0,b=0,c=0}"},
      {"a = 42\nb = +99\nc = -17", "{a=42,b=99,c=-17}"},
      {"a = 1_000\nb = 5_349_221\nc = 1_2_3_4_5", "{a=1000,b=5349221,c=12345}"},
      {"a = 9223372036854775807", "{a=9223372036854775807}"},
      {"a = -9223372036854775808", "{a=-9223372036854775808}"},
      {"a = +9223372036854775807", "{a=9223372036854775807}"},
      {"a = 0xDEADBEEF\nb = 0xdeadbeef\nc = 0xdead_beef",
       "{a=3735928559,b=3735928559,c=3735928559}"},
      {"a = 0x7fffffffffffffff\nb = 0x0\nc = 0x00ff", "{a=9223372036854775807,b=0,c=255}"},
      {"a = 0o01234567\nb = 0o755\nc = 0o777777777777777777777",
       "{a=342391,b=493,c=9223372036854775807}"},
      {"a = 0b11010110\nb = 0b1101_0110\nc = 0b0", "{a=214,b=214,c=0}"},
      {"a = 1.0\nb = +1.0\nc = 3.1415\nd = -0.01", "{a=1f,b=1f,c=3.1415000000000002f,d=-0.01f}"},
      {"a = 5e+22\nb = 1e06\nc = -2E-2\nd = 1E5",
       "{a=4.9999999999999996e+22f,b=1000000f,c=-0.02f,d=100000f}"},
      {"a = 6.626e-34", "{a=6.6259999999999998e-34f}"},
      {"a = 224_617.445_991_228", "{a=224617.44599122801f}"},
      {"a = 0.0\nb = -0.0\nc = +0.0\nd = 0e0\ne = -0e-0", "{a=0f,b=-0f,c=0f,d=0f,e=-0f}"},
      {"a = 1e1_0\nb = 1_0.0_1e+0_2", "{a=10000000000f,b=1001f}"},
      {"a = 1.7976931348623157e308", "{a=1.7976931348623157e+308f}"},
      {"a = 1e-400", "{a=0f}"},
      {"a = inf\nb = +inf\nc = -inf", "{a=inff,b=inff,c=-inff}"},
      {"a = nan\nb = +nan\nc = -nan", "{a=nanf,b=nanf,c=-nanf}"},
      {"a = [1,-1,+1.5,-inf]", "{a=[1,-1,1.5f,-inff]}"},
  };
  RUN_VALID(c);
}

static void test_invalid_numbers(void **state) {
  (void)state;
  static const invalid_case c[] = {
      {"a = 01", 1, 5, "leading zeros are not allowed"},
      {"a = +01", 1, 5, "leading zeros are not allowed"},
      {"a = -00", 1, 5, "leading zeros"},
      {"a = 0_1", 1, 5, "leading zeros"},
      {"a = 1__0", 1, 5, "underscores must be between digits"},
      {"a = 1_", 1, 5, "underscores must be between digits"},
      {"a = _1", 1, 5, "invalid number '_1'"},
      {"a = +_1", 1, 5, "a number cannot start with '_'"},
      {"a = 0x", 1, 5, "invalid hexadecimal integer '0x'"},
      {"a = 0xG1", 1, 5, "invalid hexadecimal integer"},
      {"a = 0x_1", 1, 5, "invalid hexadecimal integer"},
      {"a = 0x1_", 1, 5, "invalid hexadecimal integer"},
      {"a = 0X1", 1, 5, "invalid value '0X1'"},
      {"a = 0b102", 1, 5, "invalid binary integer"},
      {"a = 0o8", 1, 5, "invalid octal integer"},
      {"a = +0x1", 1, 5, "a sign is not allowed on hexadecimal integers"},
      {"a = -0o7", 1, 5, "a sign is not allowed on octal integers"},
      {"a = -0b1", 1, 5, "a sign is not allowed on binary integers"},
      {"a = 9223372036854775808", 1, 5, "out of range"},
      {"a = -9223372036854775809", 1, 5, "out of range"},
      {"a = 99999999999999999999999", 1, 5, "out of range"},
      {"a = 0x8000000000000000", 1, 5, "does not fit in 64 bits"},
      {"a = 0xffffffffffffffffff", 1, 5, "does not fit in 64 bits"},
      {"a = 0b1000000000000000000000000000000000000000000000000000000000000000", 1, 5,
       "does not fit"},
      {"a = 1.", 1, 5, "the fraction needs digits"},
      {"a = 1.e5", 1, 5, "the fraction needs digits"},
      {"a = .1", 1, 5, "invalid number '.1'"},
      {"a = +.1", 1, 5, "invalid number"},
      {"a = 1._0", 1, 5, "the fraction needs digits"},
      {"a = 1_.0", 1, 5, "underscores must be between digits"},
      {"a = 1.0_", 1, 5, "the fraction needs digits"},
      {"a = 1e", 1, 5, "the exponent needs digits"},
      {"a = 1e+", 1, 5, "the exponent needs digits"},
      {"a = 1e_5", 1, 5, "the exponent needs digits"},
      {"a = 1e5.0", 1, 5, "invalid value '1e5.0'"},
      {"a = 1.2.3", 1, 5, "invalid value"},
      {"a = 01.5", 1, 5, "leading zeros"},
      {"a = 1e400", 1, 5, "float '1e400' is out of range"},
      {"a = -1e400", 1, 5, "out of range"},
      {"a = ++1", 1, 5, "invalid number"},
      {"a = 1+1", 1, 5, "invalid value"},
      {"a = -", 1, 5, "invalid value '-'"},
      {"a = inf1", 1, 5, "invalid value 'inf1'"},
      {"a = infinity", 1, 5, "invalid value"},
      {"a = NaN", 1, 5, "invalid value 'NaN'"},
      {"a = Inf", 1, 5, "invalid value"},
      {"a = --inf", 1, 5, "invalid"},
      {"a = 1 2", 1, 7, "expected end of line"},
  };
  RUN_INVALID(c);
}

/* ---- booleans, dates and times ------------------------------------------------ */

static void test_valid_bool_datetime(void **state) {
  (void)state;
  static const valid_case c[] = {
      {"a = true\nb = false", "{a=true,b=false}"},
      {"a = 1979-05-27T07:32:00Z", "{a=odt:1979-05-27T07:32:00Z}"},
      {"a = 1979-05-27T00:32:00-07:00", "{a=odt:1979-05-27T00:32:00-07:00}"},
      {"a = 1979-05-27T00:32:00.999999+23:59", "{a=odt:1979-05-27T00:32:00.999999+23:59}"},
      {"a = 1979-05-27 07:32:00Z", "{a=odt:1979-05-27 07:32:00Z}"},
      {"a = 1979-05-27t07:32:00z", "{a=odt:1979-05-27t07:32:00z}"},
      {"a = 1979-05-27T07:32:00", "{a=ldt:1979-05-27T07:32:00}"},
      {"a = 1979-05-27 00:32:00.999999", "{a=ldt:1979-05-27 00:32:00.999999}"},
      {"a = 1979-05-27", "{a=ld:1979-05-27}"},
      {"a = 1979-05-27 # comment", "{a=ld:1979-05-27}"},
      {"a = 1979-05-27 ", "{a=ld:1979-05-27}"},
      {"a = 07:32:00\nb = 00:32:00.999999", "{a=lt:07:32:00,b=lt:00:32:00.999999}"},
      {"a = 2000-02-29\nb = 2024-02-29\nc = 1900-02-28",
       "{a=ld:2000-02-29,b=ld:2024-02-29,c=ld:1900-02-28}"},
      {"a = 1990-12-31T23:59:60Z", "{a=odt:1990-12-31T23:59:60Z}"},
      {"a = 0000-01-01T00:00:00Z\nb = 9999-12-31", "{a=odt:0000-01-01T00:00:00Z,b=ld:9999-12-31}"},
      {"a = [1979-05-27, 07:32:00, 1979-05-27 07:32:00]",
       "{a=[ld:1979-05-27,lt:07:32:00,ldt:1979-05-27 07:32:00]}"},
      {"a = {d = 1979-05-27T07:32:00Z}", "{a={d=odt:1979-05-27T07:32:00Z}}"},
  };
  RUN_VALID(c);
}

static void test_invalid_bool_datetime(void **state) {
  (void)state;
  static const invalid_case c[] = {
      {"a = True", 1, 5, "invalid value 'True'"},
      {"a = truee", 1, 5, "invalid value 'truee'"},
      {"a = tru", 1, 5, "invalid value 'tru'"},
      {"a = falsey", 1, 5, "invalid value"},
      {"a = yes", 1, 5, "invalid value 'yes' (strings must be quoted)"},
      {"a = 1979-13-01", 1, 5, "month out of range"},
      {"a = 1979-00-01", 1, 5, "month out of range"},
      {"a = 1979-02-30", 1, 5, "day out of range for the month"},
      {"a = 1979-02-29", 1, 5, "day out of range"},
      {"a = 1900-02-29", 1, 5, "day out of range"},
      {"a = 1979-04-31", 1, 5, "day out of range"},
      {"a = 1979-01-00", 1, 5, "day out of range"},
      {"a = 1979-5-27", 1, 5, "expected YYYY-MM-DD"},
      {"a = 1979-05", 1, 5, "expected YYYY-MM-DD"},
      {"a = 1979-05-27X07:32:00", 1, 5, "expected 'T' between date and time"},
      {"a = 1979-05-27T", 1, 5, "expected HH:MM:SS"},
      {"a = 1979-05-27T25:00:00", 1, 5, "hour out of range"},
      {"a = 1979-05-27T07:60:00", 1, 5, "minute out of range"},
      {"a = 1979-05-27T07:32:61", 1, 5, "second out of range"},
      {"a = 1979-05-27T7:32:00", 1, 5, "expected HH:MM:SS"},
      {"a = 07:32", 1, 5, "seconds are required in TOML 1.0"},
      {"a = 1979-05-27T07:32Z", 1, 5, "seconds are required"},
      {"a = 07:32:00.", 1, 5, "expected digits after '.'"},
      {"a = 07:32:00Z", 1, 5, "unexpected characters after the value"},
      {"a = 07:32:00-07:00", 1, 5, "unexpected characters"},
      {"a = 1979-05-27T07:32:00+25:00", 1, 5, "time offset out of range"},
      {"a = 1979-05-27T07:32:00+07:60", 1, 5, "time offset out of range"},
      {"a = 1979-05-27T07:32:00+0700", 1, 5, "expected a time offset"},
      {"a = 1979-05-27T07:32:00+07", 1, 5, "expected a time offset"},
      {"a = 1979-05-27T07:32:00ZZ", 1, 5, "unexpected characters"},
      {"a = 1979-05-27 07:32", 1, 5, "seconds are required"},
      {"a = 1979-05-27  07:32:00", 1, 17, "expected end of line after value, found '0'"},
  };
  RUN_INVALID(c);
}

/* ---- arrays and inline tables --------------------------------------------------- */

static void test_valid_arrays_inline(void **state) {
  (void)state;
  static const valid_case c[] = {
      {"a = []\nb = [ ]\nc = [\n]", "{a=[],b=[],c=[]}"},
      {"a = [1,2,3,]", "{a=[1,2,3]}"},
      {"a = [ 1 , 2 , 3 , ]", "{a=[1,2,3]}"},
      {"a = [\n 1, # one\n 2\n , 3 # three\n]", "{a=[1,2,3]}"},
      {"a = [ # comment\n]", "{a=[]}"},
      {"a = [\r\n1,\r\n2\r\n]", "{a=[1,2]}"},
      {"a = [1, 'a', 2.5, [1], {b = 1}, true, 1979-05-27]",
       "{a=[1,\"a\",2.5f,[1],{b=1},true,ld:1979-05-27]}"},
      {"a = [[1, 2], [3], []]", "{a=[[1,2],[3],[]]}"},
      {"a = [\"\"\"x\ny\"\"\", '''z''']", "{a=[\"x\\x0Ay\",\"z\"]}"},
      {"a = [{x = 1}, {x = 2}]", "{a=[{x=1},{x=2}]}"},
      {"a = {}\nb = { }", "{a={},b={}}"},
      {"a = {x = 1, y.z = 2, y.w = 3}", "{a={x=1,y={z=2,w=3}}}"},
      {"a = {b = {c = {d = 1}}}", "{a={b={c={d=1}}}}"},
      {"a = {x = [1,\n2], y = 3}", "{a={x=[1,2],y=3}}"},
      {"a = {x = \"\"\"\nfoo\"\"\"}", "{a={x=\"foo\"}}"},
      {"a = {\"q k\" = 1, 'l' = 2}", "{a={\"q k\"=1,l=2}}"},
      {"name = { first = \"Tom\", last = \"Preston-Werner\" }",
       "{name={first=\"Tom\",last=\"Preston-Werner\"}}"},
      {"a.b = {c = 1}\na.d = 2", "{a={b={c=1},d=2}}"},
  };
  RUN_VALID(c);
}

static void test_invalid_arrays_inline(void **state) {
  (void)state;
  static const invalid_case c[] = {
      {"a = [1 2]", 1, 8, "expected ',' or ']' in array, found '2'"},
      {"a = [1,,2]", 1, 8, "expected a value, found ','"},
      {"a = [,]", 1, 6, "expected a value, found ','"},
      {"a = [1", 1, 5, "unterminated array (expected ']')"},
      {"a = [1,\n", 1, 5, "unterminated array"},
      {"a = [ # c ]", 1, 5, "unterminated array"},
      {"a = [1]]", 1, 8, "expected end of line after value, found ']'"},
      {"a = [x]", 1, 6, "invalid value 'x'"},
      {"a = {b = 1,}", 1, 12, "trailing comma is not allowed in an inline table"},
      {"a = {b = 1\n}", 1, 11, "an inline table must be closed on the same line"},
      {"a = {\nb = 1}", 1, 6, "newlines are not allowed inside inline tables"},
      {"a = {b = 1,\nc = 2}", 1, 12, "newlines are not allowed inside inline tables"},
      {"a = {b = 1 # c\n}", 1, 12, "an inline table must be closed on the same line"},
      {"a = {b = 1 c = 2}", 1, 12, "expected ',' or '}' in inline table, found 'c'"},
      {"a = {b = 1", 1, 5, "unterminated inline table"},
      {"a = {b = 1, b = 2}", 1, 13, "duplicate key 'b'"},
      {"a = {b.c = 1, b = 2}", 1, 15, "duplicate key 'b'"},
      {"a = {b.c = 1, b.c.d = 2}", 1, 17, "key 'b.c' is already an integer"},
      {"a = {b = {}, b.c = 1}", 1, 14, "cannot add keys to inline table 'b'"},
      {"a = {,}", 1, 6, "expected a key, found ','"},
      {"a = {b}", 1, 7, "expected '=' after key, found '}'"},
      {"a = {b = }", 1, 10, "expected a value, found '}'"},
  };
  RUN_INVALID(c);
}

/* ---- tables and arrays of tables ------------------------------------------------ */

static void test_valid_tables(void **state) {
  (void)state;
  static const valid_case c[] = {
      {"[a]\nx = 1\n[b]\ny = 2", "{a={x=1},b={y=2}}"},
      {"[a]\n[b]", "{a={},b={}}"},
      {"[a.b.c]\nx = 1\n[a]\ny = 2", "{a={b={c={x=1}},y=2}}"},
      {"[ a . b ]\nx = 1", "{a={b={x=1}}}"},
      {"[\"q k\".'l']\nx = 1", "{\"q k\"={l={x=1}}}"},
      {"[\"\"]\nx = 1", "{\"\"={x=1}}"},
      {"[a]\n[a.b]\nx = 1", "{a={b={x=1}}}"},
      {"[a.b]\n[a.c]", "{a={b={},c={}}}"},
      {"a.b = 1\n[a.c]\nd = 2", "{a={b=1,c={d=2}}}"},
      {"[fruit]\napple.color = 'red'\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = "
       "true",
       "{fruit={apple={color=\"red\",taste={sweet=true},texture={smooth=true}}}}"},
      {"[a.b.c]\n[a]\nb.d = 1", "{a={b={c={},d=1}}}"},
      {"x = 1\n[t] # comment\ny = 2", "{x=1,t={y=2}}"},
      {"[t]\n\n  k = 1\n\t[t.u]\n  k = 2", "{t={k=1,u={k=2}}}"},
      {"[true]\n[1.2]\nx = 3", "{true={},1={2={x=3}}}"},
      {"[[a]]\nx = 1\n[[a]]\nx = 2", "{a=[{x=1},{x=2}]}"},
      {"[[a]]\n[[a]]\n[[a]]", "{a=[{},{},{}]}"},
      {"[[a]]\n[a.b]\nc = 1\n[[a]]", "{a=[{b={c=1}},{}]}"},
      {"[[a.b]]\n[[a.b]]\n[a]\nx = 1", "{a={b=[{},{}],x=1}}"},
      {"[[ a ]]\n[[ a . b ]]", "{a=[{b=[{}]}]}"},
      {"[[a]]\nb.c = 1\n[[a]]\nb.c = 2", "{a=[{b={c=1}},{b={c=2}}]}"},
      {"[[fruits]]\nname = 'apple'\n[fruits.physical]\ncolor = 'red'\n[[fruits.varieties]]\nname = "
       "'red delicious'\n"
       "[[fruits.varieties]]\nname = 'granny smith'\n[[fruits]]\nname = "
       "'banana'\n[[fruits.varieties]]\nname = 'plantain'",
       "{fruits=[{name=\"apple\",physical={color=\"red\"},varieties=[{name=\"red "
       "delicious\"},{name=\"granny smith\"}]},"
       "{name=\"banana\",varieties=[{name=\"plantain\"}]}]}"},
      {"[[a]]\n[a.b.c]\n[[a]]\n[a.b.c]", "{a=[{b={c={}}},{b={c={}}}]}"},
  };
  RUN_VALID(c);
}

static void test_invalid_tables(void **state) {
  (void)state;
  static const invalid_case c[] = {
      {"[a]\nb = 1\n[a]", 3, 1, "table [a] is defined twice (first at line 1)"},
      {"[a.b]\n[a]\n[a]", 3, 1, "table [a] is defined twice"},
      {"[a]\n[a.b]\n[a.b]", 3, 1, "table [a.b] is defined twice"},
      {"[\"a\"]\n['a']", 2, 1, "table [a] is defined twice"},
      {"a = {}\n[a]", 2, 1, "table [a] is already defined as an inline table"},
      {"a = {b = 1}\n[a.c]", 2, 2, "cannot extend inline table 'a'"},
      {"a = {b = 1}\na.c = 2", 2, 1, "cannot add keys to inline table 'a'"},
      {"a = {b = {c = 1}}\na.b.d = 2", 2, 1, "cannot add keys to inline table 'a'"},
      {"[product]\ntype = { name = 'Nail' }\ntype.edible = false", 3, 1,
       "cannot add keys to inline table 'type'"},
      {"[fruit]\napple.color = 'red'\n[fruit.apple]", 3, 1,
       "table [fruit.apple] was already defined with dotted keys"},
      {"[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]", 3, 1,
       "already defined with dotted keys"},
      {"a.b = 1\n[a]", 2, 1, "table [a] was already defined with dotted keys (line 1)"},
      {"[a.b.c]\nz = 9\n[a]\nb.c.t = 1", 4, 3,
       "cannot add keys to table [b.c] (defined at line 1) with dotted keys"},
      {"[a.b.c.d]\nz = 9\n[a]\nb.c.d.k.t = 1", 4, 5, "cannot add keys to table [b.c.d]"},
      {"[a]\n[a.b]\n[a]", 3, 1, "table [a] is defined twice"},
      {"a = [1]\n[[a]]", 2, 1, "cannot append to static array 'a' (defined at line 1) with [[a]]"},
      {"a = []\n[[a]]", 2, 1, "cannot append to static array 'a'"},
      {"[[a]]\n[a]", 2, 1, "table [a] conflicts with the array of tables [[a]] (line 1)"},
      {"[a]\n[[a]]", 2, 1, "[[a]] conflicts with table 'a' (line 1)"},
      {"a.b = 1\n[[a]]", 2, 1, "[[a]] conflicts with table 'a'"},
      {"a = 1\n[a]", 2, 1, "key 'a' is already defined as an integer (line 1)"},
      {"a = 1\n[[a]]", 2, 1, "key 'a' is already defined as an integer"},
      {"a = 1\n[a.b]", 2, 2, "key 'a' is already an integer (line 1), not a table"},
      {"a = [1]\n[a.b]", 2, 2, "cannot add a table to static array 'a'"},
      {"a = [{b = 1}]\n[a.c]", 2, 2, "cannot add a table to static array 'a'"},
      {"a = [{b = 1}]\n[[a.c]]", 2, 3, "cannot add a table to static array 'a'"},
      {"[[a.b]]\n[a]\nb.y = 2", 3, 1,
       "key 'b' is already an array of tables (line 1), not a table"},
      {"[a]\nb = 1\n[a.b]", 3, 1, "key 'a.b' is already defined as an integer (line 2)"},
      {"[a", 1, 3, "expected ']' to close the table header, found end of file"},
      {"[a\nb = 1", 1, 3, "expected ']' to close the table header, found end of line"},
      {"[a]]", 1, 4, "expected end of line after table header, found ']'"},
      {"[[a]", 1, 4, "expected ']]' to close the array-of-tables header, found ']'"},
      {"[[a", 1, 4, "expected ']]' to close the array-of-tables header, found end of file"},
      {"[[a] ]", 1, 4, "expected ']]'"},
      {"[[a]]]", 1, 6, "expected end of line after table header"},
      {"[]", 1, 2, "expected a key, found ']'"},
      {"[[]]", 1, 3, "expected a key, found ']'"},
      {"[a.]", 1, 4, "expected a key, found ']'"},
      {"[.a]", 1, 2, "expected a key, found '.'"},
      {"[a b]", 1, 4, "expected ']' to close the table header, found 'b'"},
      {"[a] b = 1", 1, 5, "expected end of line after table header, found 'b'"},
      {"[ [a] ]", 1, 3, "expected a key, found '['"},
      {"[a]\n[]", 2, 2, "expected a key"},
      {"[\"\"\"a\"\"\"]", 1, 2, "multi-line strings cannot be used as keys"},
  };
  RUN_INVALID(c);
}

/* ---- positions, limits, API ----------------------------------------------------- */

static void test_positions(void **state) {
  (void)state;
  const char *doc =
      "# header\n"
      "title = \"x\"\n"
      "[owner]\n"
      "  name = 'é'  \n"
      "  n = [ 1,\n"
      "        2 ]\n"
      "[[m]]\n"
      "s = \"\"\"\n"
      "a\n"
      "\"\"\" \n"
      "after = 1\n"
      "'é' = 'é', x = 1\n";
  /* last line is invalid: check its column after a multi-byte key */
  check_invalid(doc, 12, 10, "expected end of line after value, found ','");
  size_t len = strlen(doc) - strlen(", x = 1\n");
  toml_value *root = parse_ok_n(doc, len);
  const toml_value *title = toml_table_get(root, "title");
  assert_int_equal(title->line, 2);
  assert_int_equal(title->col, 9);
  const toml_value *owner = toml_table_get(root, "owner");
  assert_int_equal(owner->line, 3);
  assert_int_equal(owner->col, 1);
  const toml_entry *e = toml_table_entry(owner, 0);
  assert_string_equal(e->key, "name");
  assert_int_equal(e->line, 4);
  assert_int_equal(e->col, 3);
  assert_int_equal(e->value->col, 10);
  const toml_value *n = toml_table_get(owner, "n");
  assert_int_equal(n->line, 5);
  assert_int_equal(n->col, 7);
  assert_int_equal(toml_array_at(n, 1)->line, 6);
  assert_int_equal(toml_array_at(n, 1)->col, 9);
  const toml_value *m0 = toml_array_at(toml_table_get(root, "m"), 0);
  assert_int_equal(m0->line, 7);
  const toml_value *after = toml_table_get(m0, "after");
  assert_int_equal(after->line, 11);
  assert_int_equal(after->col, 9);
  const toml_value *acc = toml_table_get(m0, "\xC3\xA9");
  assert_non_null(acc);
  assert_int_equal(acc->line, 12);
  assert_int_equal(acc->col, 7); /* 'é' is three characters */
  assert_string_equal(toml_table_get(m0, "s")->u.str.ptr, "a\n");
  toml_free(root);

  /* a table made implicit first takes the position of its own header later */
  root = parse_ok_n("[a.b]\n\n[a]\n", 11);
  assert_int_equal(toml_table_get(root, "a")->line, 3);
  toml_free(root);

  /* errors inside multi-line constructs point at the right line */
  check_invalid("a = [\n  1,\n  2\n  3\n]", 4, 3, "expected ',' or ']' in array, found '3'");
  check_invalid("s = '''\nx\n'''\nt = \"\"\"\nfoo \\z\"\"\"", 5, 5,
                "invalid escape sequence '\\z'");
  check_invalid("a = 1\r\nb = 2\r\nc\r\n", 3, 2, "expected '=' after key, found end of line");
}

static char *repeat(const char *a, int n, const char *mid, const char *b) {
  size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
  char *s = malloc(la * (size_t)n + lm + lb * (size_t)n + 1);
  assert_non_null(s);
  char *p = s;
  for (int i = 0; i < n; i++, p += la) memcpy(p, a, la);
  memcpy(p, mid, lm);
  p += lm;
  for (int i = 0; i < n; i++, p += lb) memcpy(p, b, lb);
  *p = 0;
  return s;
}

static void test_depth_limit(void **state) {
  (void)state;
  /* nested arrays: the root is depth 0, `a`'s array depth 1 */
  char *body = repeat("[", TOML_MAX_DEPTH, "", "]");
  size_t bl = strlen(body);
  char *doc = malloc(bl + 8);
  assert_non_null(doc);
  snprintf(doc, bl + 8, "a = %s", body);
  toml_value *root = parse_ok_n(doc, strlen(doc));
  toml_free(root);
  free(doc);
  free(body);

  body = repeat("[", TOML_MAX_DEPTH + 1, "", "]");
  bl = strlen(body);
  doc = malloc(bl + 8);
  assert_non_null(doc);
  snprintf(doc, bl + 8, "a = %s", body);
  check_invalid(doc, 1, 4 + TOML_MAX_DEPTH + 1, "nesting too deep (more than 128 levels");
  free(doc);
  free(body);

  /* a very deep document must fail cleanly, not overflow the stack */
  body = repeat("[", 100000, "", "");
  doc = malloc(strlen(body) + 8);
  assert_non_null(doc);
  snprintf(doc, strlen(body) + 8, "a = %s", body);
  check_invalid(doc, 1, 4 + TOML_MAX_DEPTH + 1, "nesting too deep");
  free(doc);
  free(body);

  body = repeat("{a = ", 100000, "", "");
  doc = malloc(strlen(body) + 8);
  assert_non_null(doc);
  snprintf(doc, strlen(body) + 8, "a = %s", body);
  toml_value *r = NULL;
  char err[256];
  assert_int_equal(toml_parse(doc, strlen(doc), "t.toml", &r, err, sizeof err), TOML_ERR_SYNTAX);
  assert_non_null(strstr(err, "nesting too deep"));
  free(doc);
  free(body);

  /* dotted keys and headers count as nesting too */
  body = repeat("a.", TOML_MAX_DEPTH - 1, "a = 1", "");
  root = parse_ok_n(body, strlen(body));
  toml_free(root);
  free(body);
  body = repeat("a.", TOML_MAX_DEPTH, "a = 1", "");
  assert_int_equal(toml_parse(body, strlen(body), "t.toml", &r, err, sizeof err), TOML_ERR_SYNTAX);
  assert_non_null(strstr(err, "nesting too deep"));
  free(body);
  body = repeat("a.", 5000, "a = 1", "");
  assert_int_equal(toml_parse(body, strlen(body), "t.toml", &r, err, sizeof err), TOML_ERR_SYNTAX);
  assert_non_null(strstr(err, "too many dotted parts"));
  free(body);
  body = repeat("a.", TOML_MAX_DEPTH, "a]", "");
  doc = malloc(strlen(body) + 2);
  assert_non_null(doc);
  snprintf(doc, strlen(body) + 2, "[%s", body);
  assert_int_equal(toml_parse(doc, strlen(doc), "t.toml", &r, err, sizeof err), TOML_ERR_SYNTAX);
  assert_non_null(strstr(err, "nesting too deep"));
  free(doc);
  free(body);
}

static void test_many_keys(void **state) {
  (void)state;
  /* enough keys to use the hash index; duplicates are still found */
  size_t n = 5000;
  char *doc = malloc(n * 24 + 64);
  assert_non_null(doc);
  char *p = doc;
  for (size_t i = 0; i < n; i++) p += sprintf(p, "k%zu = %zu\n", (i * 7919) % n, i);
  toml_value *root = parse_ok_n(doc, (size_t)(p - doc));
  assert_int_equal(toml_table_len(root), n);
  for (size_t i = 0; i < n; i++) {
    char k[32];
    snprintf(k, sizeof k, "k%zu", (i * 7919) % n);
    const toml_value *v = toml_table_get(root, k);
    assert_non_null(v);
    assert_int_equal(v->u.integer, (int64_t)i);
    assert_string_equal(toml_table_entry(root, i)->key, k); /* document order */
  }
  assert_null(toml_table_get(root, "k5000"));
  toml_free(root);
  sprintf(p, "k17 = 0\n");
  check_invalid(doc, (unsigned)n + 1, 1, "duplicate key 'k17'");
  free(doc);
}

static void test_api(void **state) {
  (void)state;
  toml_value *root = NULL;
  char err[64];
  /* NULL filename, tiny buffer: truncated but terminated */
  assert_int_equal(toml_parse("a = ", 4, NULL, &root, err, sizeof err), TOML_ERR_SYNTAX);
  assert_true(strncmp(err, "<input>:1:5: expected a value", 29) == 0);
  char tiny[8];
  assert_int_equal(toml_parse("a = ", 4, "long-file-name.toml", &root, tiny, sizeof tiny),
                   TOML_ERR_SYNTAX);
  assert_int_equal(strlen(tiny), 7);
  assert_int_equal(toml_parse("a = ", 4, "x", &root, NULL, 0), TOML_ERR_SYNTAX);
  assert_null(root);
  /* text need not be NUL-terminated: only len bytes are read */
  assert_int_equal(toml_parse("a = 12345", 6, "x", &root, err, sizeof err), TOML_OK);
  assert_int_equal(toml_table_get(root, "a")->u.integer, 12);
  toml_free(root);
  assert_int_equal(toml_parse(NULL, 0, "x", &root, err, sizeof err), TOML_OK);
  assert_int_equal(toml_table_len(root), 0);
  toml_free(root);
  toml_free(NULL);

  const char *nul_doc = "\"a\\u0000b\" = \"x\\u0000y\"\nt = [1]";
  root = parse_ok_n(nul_doc, strlen(nul_doc));
  const toml_entry *e = toml_table_entry(root, 0);
  assert_int_equal(e->key_len, 3);
  assert_null(toml_table_get(root, "a"));
  const toml_value *v = toml_table_getn(root, "a\0b", 3);
  assert_non_null(v);
  assert_int_equal(v->kind, TOML_STRING);
  assert_int_equal(v->u.str.len, 3);
  assert_memory_equal(v->u.str.ptr, "x\0y", 4);
  /* accessors on the wrong kind or out of range */
  const toml_value *t = toml_table_get(root, "t");
  assert_int_equal(toml_table_len(t), 0);
  assert_null(toml_table_get(t, "x"));
  assert_null(toml_table_entry(t, 0));
  assert_int_equal(toml_array_len(t), 1);
  assert_null(toml_array_at(t, 1));
  assert_int_equal(toml_array_len(root), 0);
  assert_null(toml_array_at(root, 0));
  assert_null(toml_table_get(NULL, "x"));
  assert_null(toml_table_get(root, NULL));
  assert_int_equal(toml_table_len(NULL), 0);
  assert_int_equal(toml_array_len(NULL), 0);
  toml_free(root);

  assert_string_equal(toml_kind_name(TOML_TABLE), "table");
  assert_string_equal(toml_kind_name(TOML_ARRAY), "array");
  assert_string_equal(toml_kind_name(TOML_STRING), "string");
  assert_string_equal(toml_kind_name(TOML_INTEGER), "integer");
  assert_string_equal(toml_kind_name(TOML_FLOAT), "float");
  assert_string_equal(toml_kind_name(TOML_BOOL), "boolean");
  assert_string_equal(toml_kind_name(TOML_DATETIME), "date-time");

  /* datetime kinds and exact float values */
  const char *dt_doc =
      "a = 1979-05-27T07:32:00Z\nb = 1979-05-27T07:32:00\nc = 1979-05-27\nd = 07:32:00\n"
      "f = 0.1\ng = -0.0\n";
  root = parse_ok_n(dt_doc, strlen(dt_doc));
  assert_int_equal(toml_table_get(root, "a")->dt_kind, TOML_DT_OFFSET_DATETIME);
  assert_int_equal(toml_table_get(root, "b")->dt_kind, TOML_DT_LOCAL_DATETIME);
  assert_int_equal(toml_table_get(root, "c")->dt_kind, TOML_DT_LOCAL_DATE);
  assert_int_equal(toml_table_get(root, "d")->dt_kind, TOML_DT_LOCAL_TIME);
  assert_true(toml_table_get(root, "f")->u.fp == 0.1);
  assert_true(signbit(toml_table_get(root, "g")->u.fp));
  toml_free(root);
}

/* A spec-like document with every construct at once. */
static void test_full_document(void **state) {
  (void)state;
  const char *doc =
      "# This is a TOML document\n"
      "title = \"TOML Example\"\n"
      "\n"
      "[owner]\n"
      "name = \"Tom Preston-Werner\"\n"
      "dob = 1979-05-27T07:32:00-08:00\n"
      "\n"
      "[database]\n"
      "enabled = true\n"
      "ports = [ 8000, 8001, 8002 ]\n"
      "data = [ [\"delta\", \"phi\"], [3.14] ]\n"
      "temp_targets = { cpu = 79.5, case = 72.0 }\n"
      "\n"
      "[servers]\n"
      "\n"
      "[servers.alpha]\n"
      "ip = \"10.0.0.1\"\n"
      "role = \"frontend\"\n"
      "\n"
      "[servers.beta]\n"
      "ip = \"10.0.0.2\"\n"
      "role = \"backend\"\n";
  check_valid(
      doc,
      "{title=\"TOML Example\",owner={name=\"Tom "
      "Preston-Werner\",dob=odt:1979-05-27T07:32:00-08:00},"
      "database={enabled=true,ports=[8000,8001,8002],data=[[\"delta\",\"phi\"],[3."
      "1400000000000001f]],"
      "temp_targets={cpu=79.5f,case=72f}},servers={alpha={ip=\"10.0.0.1\",role=\"frontend\"},"
      "beta={ip=\"10.0.0.2\",role=\"backend\"}}}");
}

/* Random mutations and truncations of valid documents: every result must be
 * a tree or a well-formed error (run under `make san` for memory errors and
 * leaks). A short, deterministic version of the scratch fuzzing. */
static void test_mutations(void **state) {
  (void)state;
  static const char *seeds[] = {
      "# c\ntitle = \"T \\u00e9 \\U0001F600 \\t\"\n[owner]\nname = 'Tom'\ndob = "
      "1979-05-27T07:32:00-08:00\n",
      "[db]\nenabled = true\nports = [ 8000, 8001, ]\ndata = [ [\"d\", \"p\"], [3.14] ]\ntemp = { "
      "cpu = 79.5, case.x = 72.0 }\n",
      "[[fruits]]\nname = 'apple'\n[fruits.physical]\ncolor = 'red'\n[[fruits.varieties]]\nname = "
      "'rd'\n[[fruits]]\n",
      "a = \"\"\"\none \\\n  two\n\"\"\"\"\"\nb = '''\nraw\\n ''x'''''\nc = "
      "\"\\\"\\\\\\b\\f\\n\\r\"\n",
      "i = +99\nj = -17\nk = 1_000\nh = 0xDEAD_beef\no = 0o755\nb = 0b1101\nmax = "
      "9223372036854775807\n",
      "f = +1.0\ng = 3.1415\nh = 5e+22\ni = 1e06\nj = -2E-2\nk = 224_617.445_991_228\nl = -inf\nm "
      "= +nan\n",
      "odt = 1979-05-27 07:32:00.999Z\nldt = 1979-05-27T07:32:00\nld = 1979-05-27\nlt = "
      "00:32:00.999999\n",
      "[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true\n[a.b.c]\n[a]\nx.d = 1\n",
      "a = [[[[1]]], {b = {c = {d = [1, {e = 2}]}}}]\n\"\" = ''\n'x.y' = \"\"\"\"\"\"\n",
      "a = 1\r\nb = [\r\n1,\r\n]\r\n# \xc3\xa9\r\n[t]\r\nc = 'x'\r\n[[t.u]]\r\n",
  };
  static const char interesting[] = "[]{}=\"'.,#\n\r\\ \t0123456789_-+:eExobTZ\x80\xC3\xFF\x7f";
  uint64_t rs = 88172645463325252ull;
  char buf[1024];
  size_t nseeds = sizeof seeds / sizeof seeds[0];
  size_t parsed = 0;
  for (int it = 0; it < 30000; it++) {
    const char *sd = seeds[(size_t)it % nseeds];
    size_t n = strlen(sd);
    memcpy(buf, sd, n);
    int muts = 1 + it % 4;
    for (int m = 0; m < muts; m++)
      mutate_text(buf, &n, sizeof buf, &rs, interesting, sizeof interesting - 1, true, 8);
    char *doc = malloc(n ? n : 1); /* exact size: an overread is caught by ASan */
    assert_non_null(doc);
    memcpy(doc, buf, n);
    toml_value *root = NULL;
    char err[256];
    toml_status st = toml_parse(doc, n, "t.toml", &root, err, sizeof err);
    if (st == TOML_OK) {
      parsed++;
      toml_free(root);
    } else if (st != TOML_ERR_SYNTAX || strncmp(err, "t.toml:", 7) != 0) {
      fail_msg("bad error: %s", err);
    }
    free(doc);
  }
  assert_true(parsed > 100); /* the mutations do not only produce garbage */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_basics),        cmocka_unit_test(test_invalid_encoding),
      cmocka_unit_test(test_valid_keys),          cmocka_unit_test(test_invalid_keys),
      cmocka_unit_test(test_valid_strings),       cmocka_unit_test(test_invalid_strings),
      cmocka_unit_test(test_valid_numbers),       cmocka_unit_test(test_invalid_numbers),
      cmocka_unit_test(test_valid_bool_datetime), cmocka_unit_test(test_invalid_bool_datetime),
      cmocka_unit_test(test_valid_arrays_inline), cmocka_unit_test(test_invalid_arrays_inline),
      cmocka_unit_test(test_valid_tables),        cmocka_unit_test(test_invalid_tables),
      cmocka_unit_test(test_positions),           cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_many_keys),           cmocka_unit_test(test_api),
      cmocka_unit_test(test_full_document),       cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
