/* toml.c — strict TOML 1.0 parser (see toml.h).
 *
 * One pass over the text after a validation pass: the first pass checks the
 * whole document is UTF-8 without forbidden control characters, so the parser
 * proper can treat every byte >= 0x20 (and tab) as ordinary text. Errors are
 * returned as -1 up the call chain; every node is attached to the tree (or
 * freed) before the next fallible step, so freeing the root after an error
 * releases everything.
 *
 * Redefinition rules: each table remembers how it came to exist (flags
 * below), which is all TOML's rules depend on:
 *   - [a.b] creates `a` as IMPLICIT; a later [a] may define it once.
 *   - a header defines its last table (HEADER); defining it again is an error,
 *     and dotted keys from another section may not add to it.
 *   - dotted keys create DOTTED tables; a header may pass through them
 *     ([a.b.c] after a.b.x = 1) but may not name one as its own table.
 *   - inline tables (and everything in a static array) are INLINE: sealed.
 *   - [[a]] creates an AOT array; [a] may not name it, [[a]] may not append
 *     to a static array, and dotted keys may not enter either kind.
 */
#include "toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  TF_IMPLICIT = 1u << 0, /* created as an intermediate of a [header] path */
  TF_HEADER = 1u << 1,   /* defined by [header] or as an [[header]] element */
  TF_DOTTED = 1u << 2,   /* created or extended by dotted keys */
  TF_INLINE = 1u << 3,   /* inline table / static array content: sealed */
  TF_AOT = 1u << 4,      /* array made by [[header]] */
};

/* Tables with more keys than this get a hash index for lookups, so a
 * document with many keys stays linear. */
#define INDEX_MIN 8

typedef struct {
  uint32_t line, col;
} pos;

typedef struct {
  char *s;
  size_t len;
  pos at;
} key_seg;

typedef struct {
  key_seg *v;
  size_t n, cap;
} keypath;

typedef struct {
  char *p;
  size_t n, cap;
} sbuf;

typedef struct {
  const char *start, *p, *end;
  const char *line_start;
  uint32_t line;
  const char *col_ptr; /* column cache: col_val is the column of col_ptr */
  uint32_t col_val;
  const char *filename;
  char *err;
  size_t errlen;
  toml_status status;
  toml_value *root;
  toml_value *cur; /* table receiving key/value lines */
} parser;

/* ---- errors and positions ------------------------------------------------ */

/* Column (1-based, in characters) of `at`, which lies on the current line.
 * Counting from a cached point keeps long lines linear. */
static uint32_t column_of(parser *ps, const char *at) {
  const char *from = ps->line_start;
  uint32_t col = 1;
  if (ps->col_ptr >= ps->line_start && at >= ps->col_ptr) {
    from = ps->col_ptr;
    col = ps->col_val;
  }
  for (const char *q = from; q < at; q++)
    if (((unsigned char)*q & 0xC0) != 0x80) col++;
  ps->col_ptr = at;
  ps->col_val = col;
  return col;
}

static pos here(parser *ps) {
  pos r = {ps->line, column_of(ps, ps->p)};
  return r;
}

void toml_format_at(char *buf, size_t buflen, const char *file, uint32_t line, uint32_t col,
                    const char *prefix, const char *fmt, va_list ap) {
  if (!buflen) return;
  int k = snprintf(buf, buflen, "%s:%u:%u: %s", file, line, col, prefix ? prefix : "");
  if (k >= 0 && (size_t)k < buflen) vsnprintf(buf + k, buflen - (size_t)k, fmt, ap);
  for (char *s = buf; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

static int fail_pos(parser *ps, pos at, toml_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_pos(parser *ps, pos at, toml_status st, const char *fmt, ...) {
  if (ps->status != TOML_OK) return -1; /* keep the first error */
  ps->status = st;
  va_list ap;
  va_start(ap, fmt);
  toml_format_at(ps->err, ps->errlen, ps->filename, at.line, at.col, NULL, fmt, ap);
  va_end(ap);
  return -1;
}

#define FAIL_AT(ps, at, ...) fail_pos((ps), (at), TOML_ERR_SYNTAX, __VA_ARGS__)
#define FAIL(ps, ...) fail_pos((ps), here(ps), TOML_ERR_SYNTAX, __VA_ARGS__)
#define NOMEM(ps) fail_pos((ps), here(ps), TOML_ERR_NOMEM, "out of memory")

/* Describes the character at p for "found X" messages. */
static const char *describe(parser *ps, char *buf, size_t cap) {
  if (ps->p >= ps->end) return "end of file";
  unsigned char c = (unsigned char)*ps->p;
  if (c == '\n' || (c == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n')) return "end of line";
  if (c == '\t') return "a tab";
  if (c < 0x80) {
    snprintf(buf, cap, "'%c'", c);
    return buf;
  }
  /* multi-byte: print it as is (the document is valid UTF-8) */
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if ((size_t)(ps->end - ps->p) < n) n = (size_t)(ps->end - ps->p);
  snprintf(buf, cap, "'%.*s'", (int)n, ps->p);
  return buf;
}

/* Appends a printable rendering of a key segment (quoted when not bare,
 * truncated when long) to buf. */
static void key_repr(char *buf, size_t cap, const char *s, size_t len) {
  size_t o = strlen(buf);
  bool bare = len > 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      bare = false;
  }
  if (o + 1 >= cap) return;
  if (!bare) buf[o++] = '"';
  for (size_t i = 0; i < len && o + 8 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (i >= 64) {
      memcpy(buf + o, "...", 3);
      o += 3;
      break;
    }
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      o += (size_t)snprintf(buf + o, cap - o,
                            c == '"'    ? "\\\""
                            : c == '\\' ? "\\\\"
                                        : "\\u%04X",
                            c);
    } else {
      buf[o++] = (char)c;
    }
  }
  if (!bare && o + 1 < cap) buf[o++] = '"';
  buf[o] = 0;
}

/* "a.b.c" for the first `upto` segments of a key path. */
static const char *path_repr(char *buf, size_t cap, const keypath *kp, size_t upto) {
  buf[0] = 0;
  for (size_t i = 0; i < upto; i++) {
    size_t o = strlen(buf);
    if (i > 0 && o + 1 < cap) {
      buf[o] = '.';
      buf[o + 1] = 0;
    }
    key_repr(buf, cap, kp->v[i].s, kp->v[i].len);
  }
  return buf;
}

/* ---- small buffers ---------------------------------------------------------- */

static int sb_reserve(sbuf *b, size_t extra) {
  if (extra > SIZE_MAX / 2 - b->n) return -1;
  size_t need = b->n + extra + 1;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 32;
  while (cap < need) cap *= 2;
  char *np = realloc(b->p, cap);
  if (!np) return -1;
  b->p = np;
  b->cap = cap;
  return 0;
}

static int sb_add(parser *ps, sbuf *b, const char *s, size_t n) {
  if (sb_reserve(b, n) < 0) return NOMEM(ps);
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return 0;
}

/* Ensures a buffer is allocated and NUL-terminated even when empty. */
static int sb_finish(parser *ps, sbuf *b) {
  if (sb_reserve(b, 0) < 0) return NOMEM(ps);
  b->p[b->n] = 0;
  return 0;
}

static void keypath_free(keypath *kp) {
  for (size_t i = 0; i < kp->n; i++) free(kp->v[i].s);
  free(kp->v);
  kp->v = NULL;
  kp->n = kp->cap = 0;
}

/* ---- tree ------------------------------------------------------------------- */

static void value_free(toml_value *v) {
  if (!v) return;
  switch (v->kind) {
  case TOML_TABLE:
    for (size_t i = 0; i < v->u.table.n; i++) {
      free(v->u.table.items[i].key);
      value_free(v->u.table.items[i].value);
    }
    free(v->u.table.items);
    free(v->u.table.index);
    break;
  case TOML_ARRAY:
    for (size_t i = 0; i < v->u.array.n; i++) value_free(v->u.array.items[i]);
    free(v->u.array.items);
    break;
  case TOML_STRING:
  case TOML_DATETIME: free(v->u.str.ptr); break;
  default: break;
  }
  free(v);
}

void toml_free(toml_value *v) { value_free(v); }

static toml_value *new_value(parser *ps, toml_kind kind, pos at, unsigned depth) {
  if (depth > TOML_MAX_DEPTH) {
    FAIL_AT(ps, at, "nesting too deep (more than %d levels of tables and arrays)", TOML_MAX_DEPTH);
    return NULL;
  }
  toml_value *v = calloc(1, sizeof *v);
  if (!v) {
    fail_pos(ps, at, TOML_ERR_NOMEM, "out of memory");
    return NULL;
  }
  v->kind = kind;
  v->line = at.line;
  v->col = at.col;
  v->depth = (uint16_t)depth;
  return v;
}

static uint32_t hash_key(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static int index_rebuild(toml_value *t) {
  size_t cap = 16;
  while (cap < t->u.table.n * 2 + 2) cap *= 2;
  uint32_t *ix = calloc(cap, sizeof *ix);
  if (!ix) return -1;
  for (size_t i = 0; i < t->u.table.n; i++) {
    const toml_entry *e = &t->u.table.items[i];
    size_t h = hash_key(e->key, e->key_len) & (cap - 1);
    while (ix[h]) h = (h + 1) & (cap - 1);
    ix[h] = (uint32_t)(i + 1);
  }
  free(t->u.table.index);
  t->u.table.index = ix;
  t->u.table.index_cap = cap;
  return 0;
}

static toml_entry *table_find(const toml_value *t, const char *key, size_t len) {
  if (!t || t->kind != TOML_TABLE) return NULL;
  if (t->u.table.index) {
    size_t cap = t->u.table.index_cap;
    size_t h = hash_key(key, len) & (cap - 1);
    while (t->u.table.index[h]) {
      toml_entry *e = &t->u.table.items[t->u.table.index[h] - 1];
      if (e->key_len == len && memcmp(e->key, key, len) == 0) return e;
      h = (h + 1) & (cap - 1);
    }
    return NULL;
  }
  for (size_t i = 0; i < t->u.table.n; i++) {
    toml_entry *e = &t->u.table.items[i];
    if (e->key_len == len && memcmp(e->key, key, len) == 0) return e;
  }
  return NULL;
}

/* Adds a copy of the key and v to table t; takes ownership of v on success
 * only. */
static int table_add(parser *ps, toml_value *t, const key_seg *seg, toml_value *v) {
  if (t->u.table.n == t->u.table.cap) {
    size_t cap = t->u.table.cap ? t->u.table.cap * 2 : 4;
    if (cap > SIZE_MAX / sizeof(toml_entry)) return NOMEM(ps);
    toml_entry *ni = realloc(t->u.table.items, cap * sizeof *ni);
    if (!ni) return NOMEM(ps);
    t->u.table.items = ni;
    t->u.table.cap = cap;
  }
  char *key = malloc(seg->len + 1);
  if (!key) return NOMEM(ps);
  memcpy(key, seg->s, seg->len);
  key[seg->len] = 0;
  toml_entry *e = &t->u.table.items[t->u.table.n++];
  e->key = key;
  e->key_len = seg->len;
  e->line = seg->at.line;
  e->col = seg->at.col;
  e->value = v;
  if (t->u.table.n > INDEX_MIN) {
    if (!t->u.table.index || t->u.table.n * 2 > t->u.table.index_cap) {
      if (index_rebuild(t) < 0) {
        t->u.table.n--; /* roll back: the caller still owns v */
        free(key);
        return NOMEM(ps);
      }
    } else {
      size_t cap = t->u.table.index_cap;
      size_t h = hash_key(e->key, e->key_len) & (cap - 1);
      while (t->u.table.index[h]) h = (h + 1) & (cap - 1);
      t->u.table.index[h] = (uint32_t)t->u.table.n;
    }
  }
  return 0;
}

/* Adds an empty table under `key` in `t`, made implicitly by a dotted key or
 * a table header (flags say which). Returns it, or NULL after reporting. */
static toml_value *add_table(parser *ps, toml_value *t, const key_seg *key, unsigned flags) {
  toml_value *nt = new_value(ps, TOML_TABLE, key->at, t->depth + 1u);
  if (!nt) return NULL;
  nt->flags = (uint16_t)flags;
  if (table_add(ps, t, key, nt) < 0) {
    value_free(nt);
    return NULL;
  }
  return nt;
}

/* Adds v to array a; takes ownership of v on success only. */
static int array_push(parser *ps, toml_value *a, toml_value *v) {
  if (a->u.array.n == a->u.array.cap) {
    size_t cap = a->u.array.cap ? a->u.array.cap * 2 : 4;
    if (cap > SIZE_MAX / sizeof(toml_value *)) return NOMEM(ps);
    toml_value **ni = realloc(a->u.array.items, cap * sizeof *ni);
    if (!ni) return NOMEM(ps);
    a->u.array.items = ni;
    a->u.array.cap = cap;
  }
  a->u.array.items[a->u.array.n++] = v;
  return 0;
}

/* ---- lexing helpers ------------------------------------------------------- */

static bool at_eof(const parser *ps) { return ps->p >= ps->end; }

static bool at_newline(const parser *ps) {
  return ps->p < ps->end &&
         (*ps->p == '\n' || (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n'));
}

static void eat_newline(parser *ps) {
  ps->p += *ps->p == '\r' ? 2 : 1;
  ps->line++;
  ps->line_start = ps->p;
  ps->col_ptr = ps->p;
  ps->col_val = 1;
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t')) ps->p++;
}

static void skip_comment(parser *ps) {
  if (ps->p < ps->end && *ps->p == '#')
    while (ps->p < ps->end && !at_newline(ps)) ps->p++;
}

/* Whitespace, comments and newlines (inside arrays). */
static void skip_ws_nl(parser *ps) {
  for (;;) {
    skip_ws(ps);
    skip_comment(ps);
    if (!at_newline(ps)) return;
    eat_newline(ps);
  }
}

static bool is_bare(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static int hex_val(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static size_t utf8_encode(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* ---- whole-document check ------------------------------------------------- */

/* Refuses invalid UTF-8, control characters other than tab / LF / CRLF, and
 * a lone CR, anywhere in the document (TOML allows none of them in any
 * construct), reporting the first one. */
static int check_text(parser *ps) {
  const unsigned char *s = (const unsigned char *)ps->p;
  const unsigned char *e = (const unsigned char *)ps->end;
  while (s < e) {
    unsigned c = *s;
    if (c >= 0x20 && c < 0x7f) {
      s++;
      continue;
    }
    if (c == '\n') {
      ps->p = (const char *)s;
      eat_newline(ps);
      s = (const unsigned char *)ps->p;
      continue;
    }
    if (c == '\t') {
      s++;
      continue;
    }
    ps->p = (const char *)s;
    if (c == '\r') {
      if (s + 1 < e && s[1] == '\n') {
        s++;
        continue;
      }
      return FAIL(ps, "carriage return not followed by a line feed");
    }
    if (c < 0x80) return FAIL(ps, "control character U+%04X is not allowed", c);
    size_t n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      cp = c & 0x1F;
      min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      cp = c & 0x0F;
      min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return FAIL(ps, "invalid UTF-8 byte 0x%02X", c);
    }
    if ((size_t)(e - s) < n) return FAIL(ps, "truncated UTF-8 sequence");
    for (size_t i = 1; i < n; i++) {
      if ((s[i] & 0xC0) != 0x80) return FAIL(ps, "invalid UTF-8 sequence");
      cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min) return FAIL(ps, "overlong UTF-8 sequence");
    if (cp >= 0xD800 && cp <= 0xDFFF) return FAIL(ps, "UTF-8 encoded surrogate U+%04X", cp);
    if (cp > 0x10FFFF) return FAIL(ps, "UTF-8 sequence beyond U+10FFFF");
    s += n;
  }
  return 0;
}

/* ---- strings -------------------------------------------------------------- */

/* Parses one escape sequence (ps->p at the backslash) into b. */
static int parse_escape(parser *ps, sbuf *b) {
  pos at = here(ps);
  ps->p++;
  if (at_eof(ps)) return FAIL_AT(ps, at, "unterminated string");
  char c = *ps->p;
  const char *rep = NULL;
  switch (c) {
  case 'b': rep = "\b"; break;
  case 't': rep = "\t"; break;
  case 'n': rep = "\n"; break;
  case 'f': rep = "\f"; break;
  case 'r': rep = "\r"; break;
  case '"': rep = "\""; break;
  case '\\': rep = "\\"; break;
  case 'u':
  case 'U': {
    int nd = c == 'u' ? 4 : 8;
    uint32_t cp = 0;
    ps->p++;
    for (int i = 0; i < nd; i++) {
      int h = ps->p < ps->end ? hex_val((unsigned char)*ps->p) : -1;
      if (h < 0) return FAIL_AT(ps, at, "\\%c escape needs exactly %d hexadecimal digits", c, nd);
      cp = (cp << 4) | (uint32_t)h;
      ps->p++;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return FAIL_AT(ps, at, "escape \\%c%0*X is not a Unicode scalar value", c, nd, cp);
    char o[4];
    return sb_add(ps, b, o, utf8_encode(o, cp));
  }
  default:
    if (c == ' ' || c == '\t')
      return FAIL_AT(ps, at, "invalid escape sequence (backslash followed by whitespace)");
    if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
      return FAIL_AT(ps, at, "invalid escape sequence '\\%c'", c);
    return FAIL_AT(ps, at, "invalid escape sequence (backslash followed by a non-ASCII character)");
  }
  ps->p++;
  return sb_add(ps, b, rep, 1);
}

/* Single-line basic string, ps->p at the opening quote. */
static int parse_basic(parser *ps, sbuf *b) {
  pos at = here(ps);
  ps->p++;
  for (;;) {
    const char *run = ps->p;
    while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && *ps->p != '\n' && *ps->p != '\r')
      ps->p++;
    if (ps->p > run && sb_add(ps, b, run, (size_t)(ps->p - run)) < 0) return -1;
    if (at_eof(ps)) return FAIL_AT(ps, at, "unterminated string");
    char c = *ps->p;
    if (c == '"') {
      ps->p++;
      return sb_finish(ps, b);
    }
    if (c == '\\') {
      if (parse_escape(ps, b) < 0) return -1;
      continue;
    }
    return FAIL(ps, "newline in a single-line string (use \"\"\" for multi-line strings)");
  }
}

/* Single-line literal string, ps->p at the opening apostrophe. */
static int parse_literal(parser *ps, sbuf *b) {
  pos at = here(ps);
  ps->p++;
  const char *run = ps->p;
  while (ps->p < ps->end && *ps->p != '\'' && *ps->p != '\n' && *ps->p != '\r') ps->p++;
  if (at_eof(ps)) return FAIL_AT(ps, at, "unterminated literal string");
  if (*ps->p != '\'')
    return FAIL(ps, "newline in a single-line literal string (use ''' for multi-line strings)");
  if (sb_add(ps, b, run, (size_t)(ps->p - run)) < 0) return -1;
  ps->p++;
  return sb_finish(ps, b);
}

/* Multi-line basic (q == '"') or literal (q == '\'') string, ps->p at the
 * first of the three opening quotes. Newlines are normalised to LF. */
static int parse_multiline(parser *ps, sbuf *b, char q) {
  pos at = here(ps);
  ps->p += 3;
  if (at_newline(ps)) eat_newline(ps); /* a newline right after the opener is trimmed */
  for (;;) {
    const char *run = ps->p;
    while (ps->p < ps->end && *ps->p != q && *ps->p != '\n' && *ps->p != '\r' &&
           !(q == '"' && *ps->p == '\\'))
      ps->p++;
    if (ps->p > run && sb_add(ps, b, run, (size_t)(ps->p - run)) < 0) return -1;
    if (at_eof(ps))
      return FAIL_AT(ps, at, "unterminated multi-line string (missing closing %s)",
                     q == '"' ? "\"\"\"" : "'''");
    char c = *ps->p;
    if (c == q) {
      size_t n = 0;
      while (ps->p + n < ps->end && ps->p[n] == q) n++;
      if (n >= 3) {
        if (n > 5) {
          ps->p += 5;
          return FAIL(ps, "too many quotes at the end of a multi-line string");
        }
        if (sb_add(ps, b, ps->p, n - 3) < 0) return -1;
        ps->p += n;
        return sb_finish(ps, b);
      }
      if (sb_add(ps, b, ps->p, n) < 0) return -1;
      ps->p += n;
      continue;
    }
    if (c == '\n' || c == '\r') {
      /* the validation pass guarantees a CR here is part of CRLF */
      eat_newline(ps);
      if (sb_add(ps, b, "\n", 1) < 0) return -1;
      continue;
    }
    /* backslash in a basic string: line-ending backslash or an escape */
    const char *s = ps->p + 1;
    while (s < ps->end && (*s == ' ' || *s == '\t')) s++;
    if (s < ps->end && (*s == '\n' || *s == '\r')) {
      ps->p = s;
      for (;;) {
        skip_ws(ps);
        if (!at_newline(ps)) break;
        eat_newline(ps);
      }
      continue;
    }
    if (parse_escape(ps, b) < 0) return -1;
  }
}

/* ---- keys ------------------------------------------------------------------- */

static int keypath_push(parser *ps, keypath *kp, char *s, size_t len, pos at) {
  if (kp->n == kp->cap) {
    size_t cap = kp->cap ? kp->cap * 2 : 4;
    key_seg *nv = realloc(kp->v, cap * sizeof *nv);
    if (!nv) {
      free(s);
      return NOMEM(ps);
    }
    kp->v = nv;
    kp->cap = cap;
  }
  kp->v[kp->n].s = s;
  kp->v[kp->n].len = len;
  kp->v[kp->n].at = at;
  kp->n++;
  return 0;
}

/* Parses a possibly dotted key (bare, "basic" and 'literal' parts). */
static int parse_key(parser *ps, keypath *kp) {
  for (;;) {
    skip_ws(ps);
    pos at = here(ps);
    sbuf b = {0};
    if (at_eof(ps) || at_newline(ps))
      return FAIL(ps, "expected a key, found %s", at_eof(ps) ? "end of file" : "end of line");
    char c = *ps->p;
    int rc;
    if (c == '"' || c == '\'') {
      if (ps->end - ps->p >= 3 && ps->p[1] == c && ps->p[2] == c)
        return FAIL(ps, "multi-line strings cannot be used as keys");
      rc = c == '"' ? parse_basic(ps, &b) : parse_literal(ps, &b);
    } else if (is_bare((unsigned char)c)) {
      const char *s = ps->p;
      while (ps->p < ps->end && is_bare((unsigned char)*ps->p)) ps->p++;
      rc = sb_add(ps, &b, s, (size_t)(ps->p - s));
    } else {
      char d[16];
      if (c == '=') return FAIL(ps, "missing key before '='");
      return FAIL(ps, "expected a key, found %s", describe(ps, d, sizeof d));
    }
    if (rc < 0) {
      free(b.p);
      return -1;
    }
    if (kp->n > TOML_MAX_DEPTH) {
      free(b.p);
      return FAIL_AT(ps, at, "key has too many dotted parts (more than %d)", TOML_MAX_DEPTH);
    }
    if (keypath_push(ps, kp, b.p, b.n, at) < 0) return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '.') {
      ps->p++;
      continue;
    }
    return 0;
  }
}

/* ---- scalars ------------------------------------------------------------- */

static bool token_char(unsigned char c) { return is_bare(c) || c == '+' || c == '.' || c == ':'; }

/* Digits of `base` with single underscores between digits, from s[*i]; at
 * least one digit. Appends the digits (without '_') to out if non-NULL.
 * Returns 0, or -1 with *why set. */
static int scan_digits(const char *s, size_t n, size_t *i, int base, sbuf *out, const char **why) {
  size_t j = *i;
  bool need_digit = true;
  size_t count = 0;
  while (j < n) {
    int c = (unsigned char)s[j];
    int v = hex_val(c);
    bool digit = v >= 0 && v < base;
    if (digit) {
      if (out) {
        out->p[out->n++] = (char)c;
        out->p[out->n] = 0;
      }
      need_digit = false;
      count++;
      j++;
    } else if (c == '_') {
      if (need_digit) {
        *why = count ? "underscores must be between digits" : "a number cannot start with '_'";
        return -1;
      }
      need_digit = true;
      j++;
    } else {
      break;
    }
  }
  if (count == 0) {
    *why = "expected a digit";
    return -1;
  }
  if (need_digit) {
    *why = "underscores must be between digits";
    return -1;
  }
  *i = j;
  return 0;
}

static int parse_number(parser *ps, const char *s, size_t n, pos at, toml_value **out,
                        unsigned depth) {
  size_t i = 0;
  bool neg = false, sign = false;
  const char *why = NULL;
  if (s[0] == '+' || s[0] == '-') {
    sign = true;
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= n) return FAIL_AT(ps, at, "invalid value '%.*s'", (int)n, s);
  if (s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
    int base = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
    const char *name = base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary";
    if (sign) return FAIL_AT(ps, at, "a sign is not allowed on %s integers", name);
    i += 2;
    size_t start = i;
    if (scan_digits(s, n, &i, base, NULL, &why) < 0 || i != n) {
      if (!why) why = "invalid digit";
      return FAIL_AT(ps, at, "invalid %s integer '%.*s': %s", name, (int)n, s, why);
    }
    uint64_t v = 0;
    for (size_t j = start; j < n; j++) {
      if (s[j] == '_') continue;
      uint64_t d = (uint64_t)hex_val((unsigned char)s[j]);
      if (v > ((uint64_t)INT64_MAX - d) / (uint64_t)base)
        return FAIL_AT(ps, at, "integer '%.*s' does not fit in 64 bits (signed)", (int)n, s);
      v = v * (uint64_t)base + d;
    }
    toml_value *r = new_value(ps, TOML_INTEGER, at, depth);
    if (!r) return -1;
    r->u.integer = (int64_t)v;
    *out = r;
    return 0;
  }
  /* decimal integer or float: keep the digits for strtod */
  sbuf clean = {0};
  if (sb_reserve(&clean, n + 1) < 0) return NOMEM(ps);
  clean.p[0] = 0;
  if (neg) {
    clean.p[clean.n++] = '-';
    clean.p[clean.n] = 0;
  }
  size_t int_start = i;
  bool is_float = false;
  int rc = 0;
  if (scan_digits(s, n, &i, 10, &clean, &why) < 0) {
    rc = FAIL_AT(ps, at, "invalid number '%.*s': %s", (int)n, s, why);
    goto out;
  }
  if (s[int_start] == '0' && i - int_start > 1) {
    rc = FAIL_AT(ps, at, "invalid number '%.*s': leading zeros are not allowed", (int)n, s);
    goto out;
  }
  if (i < n && s[i] == '.') {
    is_float = true;
    clean.p[clean.n++] = '.';
    i++;
    if (scan_digits(s, n, &i, 10, &clean, &why) < 0) {
      rc = FAIL_AT(ps, at, "invalid float '%.*s': the fraction needs digits (%s)", (int)n, s, why);
      goto out;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    is_float = true;
    clean.p[clean.n++] = 'e';
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) clean.p[clean.n++] = s[i++];
    if (scan_digits(s, n, &i, 10, &clean, &why) < 0) {
      rc = FAIL_AT(ps, at, "invalid float '%.*s': the exponent needs digits (%s)", (int)n, s, why);
      goto out;
    }
  }
  if (i != n) {
    rc = FAIL_AT(ps, at, "invalid value '%.*s'", (int)n, s);
    goto out;
  }
  toml_value *r;
  if (is_float) {
    errno = 0;
    char *endp;
    double d = strtod(clean.p, &endp);
    if (*endp != 0) {
      rc = FAIL_AT(ps, at, "invalid float '%.*s'", (int)n, s);
      goto out;
    }
    if (isinf(d)) {
      rc = FAIL_AT(ps, at, "float '%.*s' is out of range", (int)n, s);
      goto out;
    }
    r = new_value(ps, TOML_FLOAT, at, depth);
    if (!r) {
      rc = -1;
      goto out;
    }
    r->u.fp = d;
  } else {
    uint64_t v = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t j = neg ? 1 : 0; j < clean.n; j++) {
      uint64_t dgt = (uint64_t)(clean.p[j] - '0');
      if (v > (limit - dgt) / 10) {
        rc = FAIL_AT(ps, at, "integer '%.*s' is out of range (64-bit signed)", (int)n, s);
        goto out;
      }
      v = v * 10 + dgt;
    }
    r = new_value(ps, TOML_INTEGER, at, depth);
    if (!r) {
      rc = -1;
      goto out;
    }
    r->u.integer = neg ? (int64_t)(0 - v) : (int64_t)v;
  }
  *out = r;
out:
  free(clean.p);
  return rc;
}

/* Exactly `k` decimal digits at s[*i] (within n) as a number, or -1. */
static int fixed_digits(const char *s, size_t n, size_t *i, int k) {
  int v = 0;
  for (int j = 0; j < k; j++) {
    if (*i >= n || !is_digit((unsigned char)s[*i])) return -1;
    v = v * 10 + (s[*i] - '0');
    (*i)++;
  }
  return v;
}

/* HH:MM:SS[.frac] at s[*i]. Returns NULL or what is wrong. */
static const char *scan_time(const char *s, size_t n, size_t *i) {
  int h = fixed_digits(s, n, i, 2);
  if (h < 0 || *i >= n || s[*i] != ':') return "expected HH:MM:SS";
  (*i)++;
  int m = fixed_digits(s, n, i, 2);
  if (m < 0) return "expected HH:MM:SS";
  if (*i >= n || s[*i] != ':') return "seconds are required in TOML 1.0 (HH:MM:SS)";
  (*i)++;
  int sec = fixed_digits(s, n, i, 2);
  if (sec < 0) return "expected HH:MM:SS";
  if (h > 23) return "hour out of range";
  if (m > 59) return "minute out of range";
  if (sec > 60) return "second out of range";
  if (*i < n && s[*i] == '.') {
    (*i)++;
    size_t st = *i;
    while (*i < n && is_digit((unsigned char)s[*i])) (*i)++;
    if (*i == st) return "expected digits after '.' in the seconds";
  }
  return NULL;
}

static int parse_datetime(parser *ps, const char *s, size_t n, pos at, toml_value **out,
                          unsigned depth) {
  size_t i = 0;
  const char *why = NULL;
  toml_datetime_kind kind;
  if (n >= 3 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) && s[2] == ':') {
    why = scan_time(s, n, &i);
    kind = TOML_DT_LOCAL_TIME;
  } else {
    int y = fixed_digits(s, n, &i, 4);
    int mo = -1, d = -1;
    if (i < n && s[i] == '-') {
      i++;
      mo = fixed_digits(s, n, &i, 2);
    }
    if (mo >= 0 && i < n && s[i] == '-') {
      i++;
      d = fixed_digits(s, n, &i, 2);
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    kind = TOML_DT_LOCAL_DATE;
    if (y < 0 || mo < 0 || d < 0) {
      why = "expected YYYY-MM-DD";
    } else if (mo < 1 || mo > 12) {
      why = "month out of range";
    } else if (d < 1 || d > mdays[mo - 1] ||
               (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))) {
      why = "day out of range for the month";
    } else if (i < n) {
      if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') {
        why = "expected 'T' between date and time";
      } else {
        i++;
        why = scan_time(s, n, &i);
        kind = TOML_DT_LOCAL_DATETIME;
        if (!why && i < n) {
          if (s[i] == 'Z' || s[i] == 'z') {
            i++;
            kind = TOML_DT_OFFSET_DATETIME;
          } else if (s[i] == '+' || s[i] == '-') {
            i++;
            int oh = fixed_digits(s, n, &i, 2);
            int om = -1;
            if (oh >= 0 && i < n && s[i] == ':') {
              i++;
              om = fixed_digits(s, n, &i, 2);
            }
            if (oh < 0 || om < 0) why = "expected a time offset like +01:00 or Z";
            else if (oh > 23 || om > 59) why = "time offset out of range";
            kind = TOML_DT_OFFSET_DATETIME;
          }
        }
      }
    }
  }
  if (!why && i != n) why = "unexpected characters after the value";
  if (why) return FAIL_AT(ps, at, "invalid date/time '%.*s': %s", (int)n, s, why);
  toml_value *r = new_value(ps, TOML_DATETIME, at, depth);
  if (!r) return -1;
  r->u.str.ptr = malloc(n + 1);
  if (!r->u.str.ptr) {
    value_free(r);
    return NOMEM(ps);
  }
  memcpy(r->u.str.ptr, s, n);
  r->u.str.ptr[n] = 0;
  r->u.str.len = n;
  r->dt_kind = kind;
  *out = r;
  return 0;
}

/* Booleans, numbers, inf/nan and dates: scans the token and classifies it. */
static int parse_scalar(parser *ps, toml_value **out, unsigned depth) {
  pos at = here(ps);
  const char *s = ps->p;
  while (ps->p < ps->end && token_char((unsigned char)*ps->p)) ps->p++;
  /* "1979-05-27 07:32:00": a space may separate date and time */
  if (ps->p - s == 10 && is_digit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-' &&
      ps->end - ps->p >= 4 && ps->p[0] == ' ' && is_digit((unsigned char)ps->p[1]) &&
      is_digit((unsigned char)ps->p[2]) && ps->p[3] == ':') {
    ps->p++;
    while (ps->p < ps->end && token_char((unsigned char)*ps->p)) ps->p++;
  }
  size_t n = (size_t)(ps->p - s);
  if (n == 0) {
    char d[16];
    return FAIL(ps, "expected a value, found %s", describe(ps, d, sizeof d));
  }
  if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
    toml_value *r = new_value(ps, TOML_BOOL, at, depth);
    if (!r) return -1;
    r->u.boolean = n == 4;
    *out = r;
    return 0;
  }
  size_t k = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (n - k == 3 && (memcmp(s + k, "inf", 3) == 0 || memcmp(s + k, "nan", 3) == 0)) {
    toml_value *r = new_value(ps, TOML_FLOAT, at, depth);
    if (!r) return -1;
    r->u.fp = copysign(s[k] == 'i' ? INFINITY : NAN, s[0] == '-' ? -1.0 : 1.0);
    *out = r;
    return 0;
  }
  if ((n >= 5 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) &&
       is_digit((unsigned char)s[2]) && is_digit((unsigned char)s[3]) && s[4] == '-') ||
      (n >= 3 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) && s[2] == ':'))
    return parse_datetime(ps, s, n, at, out, depth);
  if (!is_digit((unsigned char)s[0]) && s[0] != '+' && s[0] != '-') {
    if (s[0] == '.' || s[0] == '_') return FAIL_AT(ps, at, "invalid number '%.*s'", (int)n, s);
    return FAIL_AT(ps, at, "invalid value '%.*s' (strings must be quoted)", (int)(n > 64 ? 64 : n),
                   s);
  }
  return parse_number(ps, s, n, at, out, depth);
}

/* ---- values, arrays, inline tables ---------------------------------------- */

static int parse_value(parser *ps, toml_value **out, unsigned depth);
static int parse_keyval(parser *ps, toml_value *t);

static int parse_string_value(parser *ps, toml_value **out, unsigned depth) {
  pos at = here(ps);
  char q = *ps->p;
  sbuf b = {0};
  int rc;
  if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q) rc = parse_multiline(ps, &b, q);
  else rc = q == '"' ? parse_basic(ps, &b) : parse_literal(ps, &b);
  if (rc < 0) {
    free(b.p);
    return -1;
  }
  toml_value *r = new_value(ps, TOML_STRING, at, depth);
  if (!r) {
    free(b.p);
    return -1;
  }
  r->u.str.ptr = b.p;
  r->u.str.len = b.n;
  *out = r;
  return 0;
}

static int parse_array(parser *ps, toml_value **out, unsigned depth) {
  pos at = here(ps);
  toml_value *a = new_value(ps, TOML_ARRAY, at, depth);
  if (!a) return -1;
  a->flags = TF_INLINE;
  ps->p++;
  for (;;) {
    skip_ws_nl(ps);
    if (ps->p < ps->end && *ps->p == ']') break;
    if (at_eof(ps)) {
      FAIL_AT(ps, at, "unterminated array (expected ']')");
      goto fail;
    }
    toml_value *v = NULL;
    if (parse_value(ps, &v, depth + 1) < 0) goto fail;
    if (array_push(ps, a, v) < 0) {
      value_free(v);
      goto fail;
    }
    skip_ws_nl(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') break;
    char d[16];
    if (at_eof(ps)) FAIL_AT(ps, at, "unterminated array (expected ']')");
    else FAIL(ps, "expected ',' or ']' in array, found %s", describe(ps, d, sizeof d));
    goto fail;
  }
  ps->p++;
  *out = a;
  return 0;
fail:
  value_free(a);
  return -1;
}

static int parse_inline_table(parser *ps, toml_value **out, unsigned depth) {
  pos at = here(ps);
  toml_value *t = new_value(ps, TOML_TABLE, at, depth);
  if (!t) return -1;
  ps->p++;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    t->flags = TF_INLINE;
    *out = t;
    return 0;
  }
  for (;;) {
    skip_ws(ps);
    if (at_newline(ps)) {
      FAIL(ps, "newlines are not allowed inside inline tables (TOML 1.0)");
      goto fail;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      FAIL(ps, "trailing comma is not allowed in an inline table");
      goto fail;
    }
    if (parse_keyval(ps, t) < 0) goto fail;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') break;
    char d[16];
    if (at_eof(ps)) FAIL_AT(ps, at, "unterminated inline table (expected '}')");
    else if (at_newline(ps) || *ps->p == '#')
      FAIL(ps, "an inline table must be closed on the same line (expected ',' or '}')");
    else FAIL(ps, "expected ',' or '}' in inline table, found %s", describe(ps, d, sizeof d));
    goto fail;
  }
  ps->p++;
  t->flags = TF_INLINE;
  *out = t;
  return 0;
fail:
  value_free(t);
  return -1;
}

static int parse_value(parser *ps, toml_value **out, unsigned depth) {
  if (at_eof(ps) || at_newline(ps))
    return FAIL(ps, "expected a value, found %s", at_eof(ps) ? "end of file" : "end of line");
  switch (*ps->p) {
  case '"':
  case '\'': return parse_string_value(ps, out, depth);
  case '[':
    if (depth > TOML_MAX_DEPTH) break;
    return parse_array(ps, out, depth);
  case '{':
    if (depth > TOML_MAX_DEPTH) break;
    return parse_inline_table(ps, out, depth);
  case '#': return FAIL(ps, "expected a value, found a comment");
  default: return parse_scalar(ps, out, depth);
  }
  return FAIL(ps, "nesting too deep (more than %d levels of tables and arrays)", TOML_MAX_DEPTH);
}

static const char *kind_article(toml_kind k) {
  return (k == TOML_ARRAY || k == TOML_INTEGER) ? "an" : "a";
}

/* Parses `key = value` and stores it in table t (the current table, or an
 * inline table being built), walking/creating dotted-key tables. */
static int parse_keyval(parser *ps, toml_value *t) {
  keypath kp = {0};
  char kb[256];
  int rc = -1;
  if (parse_key(ps, &kp) < 0) goto out;
  skip_ws(ps);
  if (at_eof(ps) || *ps->p != '=') {
    char d[16];
    FAIL(ps, "expected '=' after key, found %s", describe(ps, d, sizeof d));
    goto out;
  }
  ps->p++;
  skip_ws(ps);
  for (size_t i = 0; i + 1 < kp.n; i++) {
    toml_entry *e = table_find(t, kp.v[i].s, kp.v[i].len);
    if (!e) {
      if (!(t = add_table(ps, t, &kp.v[i], TF_DOTTED))) goto out;
      continue;
    }
    toml_value *v = e->value;
    if (v->kind == TOML_TABLE) {
      if (v->flags & TF_INLINE) {
        FAIL_AT(ps, kp.v[i].at, "cannot add keys to inline table '%s' (defined at line %u)",
                path_repr(kb, sizeof kb, &kp, i + 1), v->line);
        goto out;
      }
      if (v->flags & TF_HEADER) {
        FAIL_AT(ps, kp.v[i].at,
                "cannot add keys to table [%s] (defined at line %u) with dotted keys from another "
                "table",
                path_repr(kb, sizeof kb, &kp, i + 1), v->line);
        goto out;
      }
      v->flags = (uint16_t)((v->flags & ~TF_IMPLICIT) | TF_DOTTED);
      t = v;
      continue;
    }
    FAIL_AT(ps, kp.v[i].at, "key '%s' is already %s %s (line %u), not a table",
            path_repr(kb, sizeof kb, &kp, i + 1), kind_article(v->kind),
            (v->kind == TOML_ARRAY && (v->flags & TF_AOT)) ? "array of tables"
                                                           : toml_kind_name(v->kind),
            e->line);
    goto out;
  }
  key_seg *last = &kp.v[kp.n - 1];
  toml_entry *dup = table_find(t, last->s, last->len);
  if (dup) {
    FAIL_AT(ps, last->at, "duplicate key '%s' (first defined at line %u)",
            path_repr(kb, sizeof kb, &kp, kp.n), dup->line);
    goto out;
  }
  toml_value *v = NULL;
  if (parse_value(ps, &v, t->depth + 1u) < 0) goto out;
  if (table_add(ps, t, last, v) < 0) {
    value_free(v);
    goto out;
  }
  rc = 0;
out:
  keypath_free(&kp);
  return rc;
}

/* ---- table headers -------------------------------------------------------- */

static int parse_header(parser *ps) {
  keypath kp = {0};
  char kb[256];
  int rc = -1;
  pos at = here(ps);
  bool aot = ps->p + 1 < ps->end && ps->p[1] == '[';
  ps->p += aot ? 2 : 1;
  if (parse_key(ps, &kp) < 0) goto out;
  skip_ws(ps);
  if (at_eof(ps) || *ps->p != ']' || (aot && (ps->p + 1 >= ps->end || ps->p[1] != ']'))) {
    char d[16];
    FAIL(ps, "expected '%s' to close the %s header, found %s", aot ? "]]" : "]",
         aot ? "array-of-tables" : "table", describe(ps, d, sizeof d));
    goto out;
  }
  ps->p += aot ? 2 : 1;

  toml_value *t = ps->root;
  for (size_t i = 0; i + 1 < kp.n; i++) {
    toml_entry *e = table_find(t, kp.v[i].s, kp.v[i].len);
    if (!e) {
      if (!(t = add_table(ps, t, &kp.v[i], TF_IMPLICIT))) goto out;
      continue;
    }
    toml_value *v = e->value;
    if (v->kind == TOML_TABLE) {
      if (v->flags & TF_INLINE) {
        FAIL_AT(ps, kp.v[i].at, "cannot extend inline table '%s' (defined at line %u)",
                path_repr(kb, sizeof kb, &kp, i + 1), v->line);
        goto out;
      }
      t = v;
    } else if (v->kind == TOML_ARRAY && (v->flags & TF_AOT)) {
      t = v->u.array.items[v->u.array.n - 1]; /* the latest [[x]] element */
    } else if (v->kind == TOML_ARRAY) {
      FAIL_AT(ps, kp.v[i].at, "cannot add a table to static array '%s' (defined at line %u)",
              path_repr(kb, sizeof kb, &kp, i + 1), v->line);
      goto out;
    } else {
      FAIL_AT(ps, kp.v[i].at, "key '%s' is already %s %s (line %u), not a table",
              path_repr(kb, sizeof kb, &kp, i + 1), kind_article(v->kind), toml_kind_name(v->kind),
              e->line);
      goto out;
    }
  }
  key_seg *last = &kp.v[kp.n - 1];
  toml_entry *e = table_find(t, last->s, last->len);
  path_repr(kb, sizeof kb, &kp, kp.n);
  if (!aot) {
    if (!e) {
      toml_value *nt = new_value(ps, TOML_TABLE, at, t->depth + 1u);
      if (!nt) goto out;
      nt->flags = TF_HEADER;
      if (table_add(ps, t, last, nt) < 0) {
        value_free(nt);
        goto out;
      }
      ps->cur = nt;
      rc = 0;
      goto out;
    }
    toml_value *v = e->value;
    if (v->kind == TOML_TABLE) {
      if (v->flags & TF_INLINE)
        FAIL_AT(ps, at, "table [%s] is already defined as an inline table (line %u)", kb, v->line);
      else if (v->flags & TF_HEADER)
        FAIL_AT(ps, at, "table [%s] is defined twice (first at line %u)", kb, v->line);
      else if (v->flags & TF_DOTTED)
        FAIL_AT(ps, at, "table [%s] was already defined with dotted keys (line %u)", kb, v->line);
      else {
        v->flags = TF_HEADER;
        v->line = at.line;
        v->col = at.col;
        ps->cur = v;
        rc = 0;
      }
      goto out;
    }
    if (v->kind == TOML_ARRAY && (v->flags & TF_AOT))
      FAIL_AT(ps, at, "table [%s] conflicts with the array of tables [[%s]] (line %u)", kb, kb,
              v->line);
    else
      FAIL_AT(ps, at, "key '%s' is already defined as %s %s (line %u)", kb, kind_article(v->kind),
              toml_kind_name(v->kind), e->line);
    goto out;
  }
  /* [[array of tables]] */
  toml_value *arr;
  if (!e) {
    arr = new_value(ps, TOML_ARRAY, at, t->depth + 1u);
    if (!arr) goto out;
    arr->flags = TF_AOT;
    if (table_add(ps, t, last, arr) < 0) {
      value_free(arr);
      goto out;
    }
  } else {
    arr = e->value;
    if (arr->kind == TOML_ARRAY && !(arr->flags & TF_AOT)) {
      FAIL_AT(ps, at, "cannot append to static array '%s' (defined at line %u) with [[%s]]", kb,
              arr->line, kb);
      goto out;
    }
    if (arr->kind == TOML_TABLE) {
      FAIL_AT(ps, at, "[[%s]] conflicts with table '%s' (line %u)", kb, kb, arr->line);
      goto out;
    }
    if (arr->kind != TOML_ARRAY) {
      FAIL_AT(ps, at, "key '%s' is already defined as %s %s (line %u)", kb, kind_article(arr->kind),
              toml_kind_name(arr->kind), e->line);
      goto out;
    }
  }
  toml_value *el = new_value(ps, TOML_TABLE, at, arr->depth + 1u);
  if (!el) goto out;
  el->flags = TF_HEADER;
  if (array_push(ps, arr, el) < 0) {
    value_free(el);
    goto out;
  }
  ps->cur = el;
  rc = 0;
out:
  keypath_free(&kp);
  return rc;
}

/* ---- document ------------------------------------------------------------- */

static int parse_document(parser *ps) {
  for (;;) {
    skip_ws(ps);
    skip_comment(ps);
    if (at_eof(ps)) return 0;
    if (at_newline(ps)) {
      eat_newline(ps);
      continue;
    }
    const char *what;
    if (*ps->p == '[') {
      if (parse_header(ps) < 0) return -1;
      what = "table header";
    } else {
      if (parse_keyval(ps, ps->cur) < 0) return -1;
      what = "value";
    }
    skip_ws(ps);
    skip_comment(ps);
    if (!at_eof(ps) && !at_newline(ps)) {
      char d[16];
      return FAIL(ps, "expected end of line after %s, found %s", what, describe(ps, d, sizeof d));
    }
  }
}

toml_status toml_parse(const char *text, size_t len, const char *filename, toml_value **out,
                       char *err, size_t errlen) {
  parser ps;
  memset(&ps, 0, sizeof ps);
  ps.filename = filename ? filename : "<input>";
  ps.err = err;
  ps.errlen = errlen;
  if (errlen) err[0] = 0;
  ps.start = ps.p = ps.line_start = ps.col_ptr = text ? text : "";
  ps.end = ps.p + (text ? len : 0);
  ps.line = 1;
  ps.col_val = 1;
  if (len > TOML_MAX_DOC_SIZE) {
    FAIL(&ps, "document too large (%zu bytes, limit %zu)", len, TOML_MAX_DOC_SIZE);
    return ps.status;
  }
  if (check_text(&ps) < 0) return ps.status;
  /* restart after the validation pass */
  ps.p = ps.line_start = ps.col_ptr = ps.start;
  ps.line = 1;
  ps.col_val = 1;
  if (ps.end - ps.p >= 3 && memcmp(ps.p, "\xEF\xBB\xBF", 3) == 0) ps.p += 3; /* byte order mark */
  pos at = {1, 1};
  ps.root = new_value(&ps, TOML_TABLE, at, 0);
  if (!ps.root) return ps.status;
  ps.root->flags = TF_HEADER;
  ps.cur = ps.root;
  if (parse_document(&ps) < 0) {
    value_free(ps.root);
    return ps.status;
  }
  *out = ps.root;
  return TOML_OK;
}

/* ---- accessors ------------------------------------------------------------ */

const char *toml_kind_name(toml_kind k) {
  switch (k) {
  case TOML_TABLE: return "table";
  case TOML_ARRAY: return "array";
  case TOML_STRING: return "string";
  case TOML_INTEGER: return "integer";
  case TOML_FLOAT: return "float";
  case TOML_BOOL: return "boolean";
  case TOML_DATETIME: return "date-time";
  }
  return "value";
}

toml_value *toml_table_getn(const toml_value *t, const char *key, size_t key_len) {
  toml_entry *e = table_find(t, key, key_len);
  return e ? e->value : NULL;
}

toml_value *toml_table_get(const toml_value *t, const char *key) {
  return key ? toml_table_getn(t, key, strlen(key)) : NULL;
}

size_t toml_table_len(const toml_value *t) { return t && t->kind == TOML_TABLE ? t->u.table.n : 0; }

const toml_entry *toml_table_entry(const toml_value *t, size_t i) {
  return i < toml_table_len(t) ? &t->u.table.items[i] : NULL;
}

size_t toml_array_len(const toml_value *a) { return a && a->kind == TOML_ARRAY ? a->u.array.n : 0; }

toml_value *toml_array_at(const toml_value *a, size_t i) {
  return i < toml_array_len(a) ? a->u.array.items[i] : NULL;
}
