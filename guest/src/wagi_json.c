/* wagi_json.c — strict JSON reader and writer; see wagi_json.h.
 *
 * The reader is a recursive-descent parser written here, not Debian's jsmn
 * (libjsmn-dev 1.1.0): jsmn only splits text into tokens and, even with
 * JSMN_STRICT, accepts "[1,,2]", "[1 2]", "{"a" "b"}", trailing commas,
 * "1.2.3" and "tru", neither validates UTF-8 nor decodes escapes, stops at
 * a NUL, keeps offsets in int and reports no position; making it strict
 * would have meant rewriting it.
 *
 * Memory: a document is an arena (a list of chunks); values, member arrays
 * and decoded strings are carved from it and freed together. While parsing,
 * the children of open containers wait on two scratch stacks (values,
 * members) and are copied into the arena, contiguous, when their container
 * closes. Neither the parser nor wagi_jw_value recurses: open containers
 * live on heap stacks, so deep input cannot overflow a module's small
 * stack (which in wasm32 would corrupt memory or trap, not fail cleanly). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_json.h"

const char *wagi_json_strerror(int code) {
  switch (code) {
  case WAGI_JSON_OK: return "success";
  case WAGI_JSON_ERR_ARG: return "invalid argument";
  case WAGI_JSON_ERR_SYNTAX: return "invalid JSON";
  case WAGI_JSON_ERR_UTF8: return "invalid UTF-8";
  case WAGI_JSON_ERR_DEPTH: return "JSON nested too deeply";
  case WAGI_JSON_ERR_NOMEM: return "out of memory";
  case WAGI_JSON_ERR_TOO_LARGE: return "JSON output too large";
  case WAGI_JSON_ERR_TYPE: return "JSON value of another type";
  case WAGI_JSON_ERR_RANGE: return "JSON number out of range";
  default: return "unknown error";
  }
}

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 if it is not
 * one: overlong forms, UTF-16 surrogates (U+D800..DFFF) and code points past
 * U+10FFFF are invalid (RFC 3629 §4). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c == 0xe0) len = 3, lo = 0xa0;
  else if (c == 0xed) len = 3, hi = 0x9f;
  else if (c >= 0xe1 && c <= 0xef) len = 3;
  else if (c == 0xf0) len = 4, lo = 0x90;
  else if (c == 0xf4) len = 4, hi = 0x8f;
  else if (c >= 0xf1 && c <= 0xf3) len = 4;
  else return 0;
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if (s[k] < 0x80 || s[k] > 0xbf) return 0;
  return len;
}

/* ---- Arena ---- */

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} chunk;

struct wagi_json_doc {
  chunk *chunks;
  const wagi_json *root;
};

#define CHUNK_MIN 8192u

static void *arena_alloc(wagi_json_doc *d, size_t size) {
  size = (size + 15) & ~(size_t)15;
  if (size == 0) size = 16;
  chunk *c = d->chunks;
  if (!c || c->cap - c->used < size) {
    size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
    if (cap > SIZE_MAX - sizeof(chunk)) return NULL;
    c = malloc(sizeof(chunk) + cap);
    if (!c) return NULL;
    c->used = 0, c->cap = cap, c->next = d->chunks;
    d->chunks = c;
  }
  void *p = c->data + c->used;
  c->used += size;
  return p;
}

void wagi_json_free(wagi_json_doc *doc) {
  if (!doc) return;
  for (chunk *c = doc->chunks, *next; c; c = next) next = c->next, free(c);
  free(doc);
}

const wagi_json *wagi_json_root(const wagi_json_doc *doc) { return doc ? doc->root : NULL; }

/* ---- Parser ---- */

typedef struct {
  const unsigned char *s;
  size_t n, i;
  size_t max_depth;
  wagi_json_doc *doc;
  wagi_json_error *err;
  const wagi_json **items; /* scratch: elements of open arrays */
  size_t nitems, capitems;
  wagi_json_member *members; /* scratch: members of open objects */
  size_t nmembers, capmembers;
} parser;

static int fail(parser *p, int code, size_t at, const char *fmt, ...) {
  if (p->err) {
    p->err->code = code;
    p->err->offset = at;
    int k, detail = code != WAGI_JSON_ERR_NOMEM && code != WAGI_JSON_ERR_ARG;
    if (code == WAGI_JSON_ERR_NOMEM)
      k = snprintf(p->err->msg, sizeof p->err->msg, "out of memory while parsing JSON (byte %zu)",
                   at);
    else if (code == WAGI_JSON_ERR_ARG)
      k = snprintf(p->err->msg, sizeof p->err->msg, "wagi_json_parse: invalid argument");
    else k = snprintf(p->err->msg, sizeof p->err->msg, "invalid JSON at byte %zu: ", at);
    if (detail && k > 0 && (size_t)k < sizeof p->err->msg) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(p->err->msg + k, sizeof p->err->msg - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return code;
}

static int nomem(parser *p) { return fail(p, WAGI_JSON_ERR_NOMEM, p->i, ""); }

/* Names what is at p->i for a message: end of input, a character or a
 * byte. */
static int unexpected(parser *p, const char *expected) {
  if (p->i >= p->n)
    return fail(p, WAGI_JSON_ERR_SYNTAX, p->i, "unexpected end of input; %s", expected);
  unsigned char c = p->s[p->i];
  if (c > 0x20 && c < 0x7f)
    return fail(p, WAGI_JSON_ERR_SYNTAX, p->i, "unexpected '%c'; %s", c, expected);
  return fail(p, WAGI_JSON_ERR_SYNTAX, p->i, "unexpected byte 0x%02x; %s", c, expected);
}

static void skip_ws(parser *p) {
  while (p->i < p->n) {
    unsigned char c = p->s[p->i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->i++;
  }
}

static int grow(void **arr, size_t *cap, size_t elem) {
  size_t ncap = *cap ? *cap * 2 : 32;
  if (ncap < *cap || ncap > SIZE_MAX / elem) return 0;
  void *q = realloc(*arr, ncap * elem);
  if (!q) return 0;
  *arr = q;
  *cap = ncap;
  return 1;
}

static wagi_json *new_value(parser *p, wagi_json_type t) {
  wagi_json *v = arena_alloc(p->doc, sizeof *v);
  if (v) {
    memset(v, 0, sizeof *v);
    v->type = t;
  }
  return v;
}

static int hex4(const unsigned char *s, unsigned *out) {
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    unsigned char c = s[k];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return 0;
  }
  *out = v;
  return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Parses the string starting at the '"' at p->i into a NUL-terminated copy
 * in the arena. The decoded text is never longer than the source. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
  size_t start = ++p->i, end = start;
  while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
  if (end >= p->n) {
    p->i = p->n;
    return fail(p, WAGI_JSON_ERR_SYNTAX, start - 1, "string not closed before the end of input");
  }
  char *buf = arena_alloc(p->doc, end - start + 1);
  if (!buf) return nomem(p);
  size_t o = 0, i = start;
  while (i < end) {
    unsigned char c = p->s[i];
    if (c < 0x20)
      return fail(p, WAGI_JSON_ERR_SYNTAX, i,
                  "control character 0x%02x in a string (must be escaped)", c);
    if (c >= 0x80) {
      size_t k = utf8_seq(p->s + i, end - i);
      if (!k) return fail(p, WAGI_JSON_ERR_UTF8, i, "invalid UTF-8 byte 0x%02x in a string", c);
      memcpy(buf + o, p->s + i, k);
      o += k, i += k;
      continue;
    }
    if (c != '\\') {
      buf[o++] = (char)c, i++;
      continue;
    }
    unsigned char e = p->s[i + 1]; /* i + 1 < end: the scan stepped over it */
    switch (e) {
    case '"': buf[o++] = '"'; break;
    case '\\': buf[o++] = '\\'; break;
    case '/': buf[o++] = '/'; break;
    case 'b': buf[o++] = '\b'; break;
    case 'f': buf[o++] = '\f'; break;
    case 'n': buf[o++] = '\n'; break;
    case 'r': buf[o++] = '\r'; break;
    case 't': buf[o++] = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (end - i < 6 || !hex4(p->s + i + 2, &cp))
        return fail(p, WAGI_JSON_ERR_SYNTAX, i, "\\u must be followed by four hex digits");
      if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(p, WAGI_JSON_ERR_SYNTAX, i, "lone low surrogate \\u%04X", cp);
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (end - i < 12 || p->s[i + 6] != '\\' || p->s[i + 7] != 'u' || !hex4(p->s + i + 8, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
          return fail(p, WAGI_JSON_ERR_SYNTAX, i,
                      "high surrogate \\u%04X not followed by a low surrogate escape", cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i += 6;
      }
      o += put_utf8(buf + o, cp);
      i += 6;
      continue;
    }
    default:
      if (e > 0x20 && e < 0x7f) return fail(p, WAGI_JSON_ERR_SYNTAX, i, "invalid escape \\%c", e);
      return fail(p, WAGI_JSON_ERR_SYNTAX, i, "invalid escape: byte 0x%02x after '\\'", e);
    }
    i += 2;
  }
  buf[o] = 0;
  p->i = end + 1;
  *out = buf;
  *out_len = o;
  return WAGI_JSON_OK;
}

static int is_digit(parser *p, size_t i) { return i < p->n && p->s[i] >= '0' && p->s[i] <= '9'; }

static int parse_number(parser *p, wagi_json **out) {
  size_t start = p->i, i = p->i;
  if (p->s[i] == '-') i++;
  if (!is_digit(p, i)) {
    p->i = i;
    return unexpected(p, "expected a digit after '-'");
  }
  if (p->s[i] == '0') {
    i++;
    if (is_digit(p, i)) return fail(p, WAGI_JSON_ERR_SYNTAX, i, "leading zero in a number");
  } else {
    while (is_digit(p, i)) i++;
  }
  if (i < p->n && p->s[i] == '.') {
    i++;
    if (!is_digit(p, i)) {
      p->i = i;
      return unexpected(p, "expected a digit after '.'");
    }
    while (is_digit(p, i)) i++;
  }
  if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
    i++;
    if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
    if (!is_digit(p, i)) {
      p->i = i;
      return unexpected(p, "expected a digit in the exponent");
    }
    while (is_digit(p, i)) i++;
  }
  wagi_json *v = new_value(p, WAGI_JSON_NUMBER);
  char *text = v ? arena_alloc(p->doc, i - start + 1) : NULL;
  if (!text) return nomem(p);
  memcpy(text, p->s + start, i - start);
  text[i - start] = 0;
  v->u.number.value = strtod(text, NULL); /* the grammar above is a subset of strtod's */
  v->u.number.text = text;
  v->u.number.len = i - start;
  p->i = i;
  *out = v;
  return WAGI_JSON_OK;
}

static int literal(parser *p, const char *word, wagi_json_type t, int b, wagi_json **out) {
  size_t len = strlen(word);
  for (size_t k = 0; k < len; k++)
    if (p->i + k >= p->n || p->s[p->i + k] != (unsigned char)word[k]) {
      p->i += k;
      return unexpected(p, k ? "misspelt literal" : "expected a value");
    }
  wagi_json *v = new_value(p, t);
  if (!v) return nomem(p);
  v->u.boolean = b;
  p->i += len;
  *out = v;
  return WAGI_JSON_OK;
}

/* A scalar (string, number, literal) at p->i. */
static int parse_scalar(parser *p, wagi_json **out) {
  unsigned char c = p->s[p->i];
  switch (c) {
  case '"': {
    wagi_json *v = new_value(p, WAGI_JSON_STRING);
    if (!v) return nomem(p);
    int rc = parse_string(p, &v->u.string.ptr, &v->u.string.len);
    if (rc == WAGI_JSON_OK) *out = v;
    return rc;
  }
  case 't': return literal(p, "true", WAGI_JSON_BOOL, 1, out);
  case 'f': return literal(p, "false", WAGI_JSON_BOOL, 0, out);
  case 'n': return literal(p, "null", WAGI_JSON_NULL, 0, out);
  default:
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, out);
    return unexpected(p, "expected a value");
  }
}

/* An open array or object while parsing. */
typedef struct {
  int is_object;
  size_t base;     /* its first child on the items / members scratch stack */
  size_t open;     /* offset of its '[' or '{' */
  const char *key; /* object: the key whose value is being parsed */
  size_t key_len;
} frame;

/* Reads `"key" :` of the object in f (p->i at the key's quote, after
 * whitespace). */
static int parse_key(parser *p, frame *f) {
  skip_ws(p);
  if (p->i >= p->n || p->s[p->i] != '"') return unexpected(p, "expected a string as object key");
  int rc = parse_string(p, &f->key, &f->key_len);
  if (rc != WAGI_JSON_OK) return rc;
  skip_ws(p);
  if (p->i >= p->n || p->s[p->i] != ':') return unexpected(p, "expected ':' after an object key");
  p->i++;
  return WAGI_JSON_OK;
}

/* Moves the children of f from the scratch stack into the arena as the
 * closed container's value. */
static int close_container(parser *p, const frame *f, wagi_json **out) {
  wagi_json *v = new_value(p, f->is_object ? WAGI_JSON_OBJECT : WAGI_JSON_ARRAY);
  if (!v) return nomem(p);
  if (f->is_object) {
    size_t count = p->nmembers - f->base;
    wagi_json_member *ms = count ? arena_alloc(p->doc, count * sizeof *ms) : NULL;
    if (count && !ms) return nomem(p);
    if (count) memcpy(ms, p->members + f->base, count * sizeof *ms);
    v->u.object.members = ms;
    v->u.object.count = count;
    p->nmembers = f->base;
  } else {
    size_t count = p->nitems - f->base;
    const wagi_json **items = count ? arena_alloc(p->doc, count * sizeof *items) : NULL;
    if (count && !items) return nomem(p);
    if (count) memcpy(items, p->items + f->base, count * sizeof *items);
    v->u.array.items = items;
    v->u.array.count = count;
    p->nitems = f->base;
  }
  *out = v;
  return WAGI_JSON_OK;
}

/* The whole value at p->i. Iterative, with the open containers on a heap
 * stack, so that nesting costs no C (or wasm shadow) stack: a module with
 * the default 64 KiB stack parses WAGI_JSON_MAX_DEPTH levels. */
static int parse_value(parser *p, wagi_json **out) {
  frame *frames = NULL;
  size_t nframes = 0, capframes = 0;
  int rc = WAGI_JSON_OK;
  wagi_json *v = NULL;
  for (;;) {
    /* here a value starts */
    skip_ws(p);
    if (p->i >= p->n) {
      rc = unexpected(p, "expected a value");
      break;
    }
    unsigned char c = p->s[p->i];
    if (c == '[' || c == '{') {
      if (nframes >= p->max_depth) {
        rc = fail(p, WAGI_JSON_ERR_DEPTH, p->i, "nesting deeper than %zu", p->max_depth);
        break;
      }
      if (nframes == capframes && !grow((void **)&frames, &capframes, sizeof *frames)) {
        rc = nomem(p);
        break;
      }
      frame *f = &frames[nframes++];
      f->is_object = c == '{';
      f->base = f->is_object ? p->nmembers : p->nitems;
      f->open = p->i++;
      skip_ws(p);
      if (p->i < p->n && p->s[p->i] == (f->is_object ? '}' : ']')) {
        p->i++;
        rc = close_container(p, f, &v);
        nframes--;
      } else {
        if (f->is_object && (rc = parse_key(p, f)) != WAGI_JSON_OK) break;
        continue;
      }
    } else {
      rc = parse_scalar(p, &v);
    }
    /* here v is a complete value: hand it to its container, and close
     * every container that ends right after it */
    while (rc == WAGI_JSON_OK && nframes) {
      frame *f = &frames[nframes - 1];
      if (f->is_object) {
        if (p->nmembers == p->capmembers &&
            !grow((void **)&p->members, &p->capmembers, sizeof *p->members)) {
          rc = nomem(p);
          break;
        }
        p->members[p->nmembers++] = (wagi_json_member){f->key, f->key_len, v};
      } else {
        if (p->nitems == p->capitems && !grow((void **)&p->items, &p->capitems, sizeof *p->items)) {
          rc = nomem(p);
          break;
        }
        p->items[p->nitems++] = v;
      }
      skip_ws(p);
      char close = f->is_object ? '}' : ']';
      if (p->i < p->n && p->s[p->i] == ',') {
        p->i++;
        if (f->is_object) rc = parse_key(p, f);
        break; /* the next element or member value */
      }
      if (p->i < p->n && p->s[p->i] == (unsigned char)close) {
        p->i++;
        rc = close_container(p, f, &v);
        nframes--;
        continue;
      }
      if (p->i >= p->n)
        rc = fail(p, WAGI_JSON_ERR_SYNTAX, p->i,
                  "unexpected end of input; expected ',' or '%c' for the %s at byte %zu", close,
                  f->is_object ? "object" : "array", f->open);
      else
        rc = unexpected(p, f->is_object ? "expected ',' or '}' after an object member"
                                        : "expected ',' or ']' after an array element");
    }
    if (rc != WAGI_JSON_OK || !nframes) break;
  }
  free(frames);
  if (rc == WAGI_JSON_OK) *out = v;
  return rc;
}

int wagi_json_parse(const char *text, size_t len, const wagi_json_options *opts,
                    wagi_json_doc **out, wagi_json_error *err) {
  parser p = {0};
  p.err = err;
  if ((!text && len) || !out) return fail(&p, WAGI_JSON_ERR_ARG, 0, "invalid argument");
  p.s = (const unsigned char *)(text ? text : "");
  p.n = len;
  p.max_depth = opts && opts->max_depth ? opts->max_depth : WAGI_JSON_DEFAULT_DEPTH;
  if (p.max_depth > WAGI_JSON_MAX_DEPTH) p.max_depth = WAGI_JSON_MAX_DEPTH;
  if (len >= 3 && p.s[0] == 0xef && p.s[1] == 0xbb && p.s[2] == 0xbf)
    return fail(&p, WAGI_JSON_ERR_SYNTAX, 0, "byte order mark (RFC 8259 §8.1 forbids it)");
  p.doc = calloc(1, sizeof *p.doc);
  if (!p.doc) return nomem(&p);
  wagi_json *root = NULL;
  int rc = parse_value(&p, &root);
  if (rc == WAGI_JSON_OK) {
    skip_ws(&p);
    if (p.i < p.n) rc = unexpected(&p, "expected nothing after the top-level value");
  }
  free(p.items);
  free(p.members);
  if (rc != WAGI_JSON_OK) {
    wagi_json_free(p.doc);
    return rc;
  }
  p.doc->root = root;
  *out = p.doc;
  if (err) {
    err->code = WAGI_JSON_OK;
    err->offset = 0;
    err->msg[0] = 0;
  }
  return WAGI_JSON_OK;
}

/* ---- Accessors ---- */

int wagi_json_typeof(const wagi_json *v) { return v ? (int)v->type : -1; }

const wagi_json *wagi_json_getn(const wagi_json *obj, const char *key, size_t key_len) {
  if (!obj || obj->type != WAGI_JSON_OBJECT || (!key && key_len)) return NULL;
  for (size_t k = 0; k < obj->u.object.count; k++) {
    const wagi_json_member *m = &obj->u.object.members[k];
    if (m->key_len == key_len && (key_len == 0 || memcmp(m->key, key, key_len) == 0))
      return m->value;
  }
  return NULL;
}

const wagi_json *wagi_json_get(const wagi_json *obj, const char *key) {
  return key ? wagi_json_getn(obj, key, strlen(key)) : NULL;
}

size_t wagi_json_count(const wagi_json *v) {
  if (!v) return 0;
  if (v->type == WAGI_JSON_ARRAY) return v->u.array.count;
  if (v->type == WAGI_JSON_OBJECT) return v->u.object.count;
  return 0;
}

const wagi_json *wagi_json_at(const wagi_json *arr, size_t i) {
  if (!arr || arr->type != WAGI_JSON_ARRAY || i >= arr->u.array.count) return NULL;
  return arr->u.array.items[i];
}

const wagi_json_member *wagi_json_member_at(const wagi_json *obj, size_t i) {
  if (!obj || obj->type != WAGI_JSON_OBJECT || i >= obj->u.object.count) return NULL;
  return &obj->u.object.members[i];
}

const char *wagi_json_string(const wagi_json *v, size_t *len) {
  if (!v || v->type != WAGI_JSON_STRING) return NULL;
  if (len) *len = v->u.string.len;
  return v->u.string.ptr;
}

int wagi_json_number(const wagi_json *v, double *out) {
  if (!v || v->type != WAGI_JSON_NUMBER || !out) return WAGI_JSON_ERR_TYPE;
  if (!isfinite(v->u.number.value)) return WAGI_JSON_ERR_RANGE;
  *out = v->u.number.value;
  return WAGI_JSON_OK;
}

int wagi_json_int64(const wagi_json *v, int64_t *out) {
  if (!v || v->type != WAGI_JSON_NUMBER || !out) return WAGI_JSON_ERR_TYPE;
  const char *t = v->u.number.text;
  int neg = *t == '-';
  /* Accumulate negatively so INT64_MIN fits. */
  int64_t x = 0;
  for (const char *c = t + neg; *c; c++) {
    if (*c < '0' || *c > '9') return WAGI_JSON_ERR_RANGE; /* fraction or exponent */
    int d = *c - '0';
    if (x < (INT64_MIN + d) / 10) return WAGI_JSON_ERR_RANGE;
    x = x * 10 - d;
  }
  if (!neg && x == INT64_MIN) return WAGI_JSON_ERR_RANGE;
  *out = neg ? x : -x;
  return WAGI_JSON_OK;
}

int wagi_json_bool(const wagi_json *v, int *out) {
  if (!v || v->type != WAGI_JSON_BOOL || !out) return WAGI_JSON_ERR_TYPE;
  *out = v->u.boolean;
  return WAGI_JSON_OK;
}

int wagi_json_is_null(const wagi_json *v) { return v && v->type == WAGI_JSON_NULL; }

/* ---- Writer ---- */

/* Container states on the writer's stack. */
enum {
  W_OBJECT = 0x80,  /* kind bit; absent: array */
  W_EMPTY = 0,      /* nothing written in it yet */
  W_MORE = 1,       /* an element or member written: a comma comes next */
  W_NEED_VALUE = 2, /* object: a key written, its value comes next */
  /* depth 0 (w->top): W_EMPTY, then W_DONE once the one value is complete */
  W_DONE = 3,
};

void wagi_jw_init(wagi_jw *w, size_t max_bytes) {
  if (!w) return;
  w->buf = NULL;
  w->len = w->cap = 0;
  w->max_bytes = max_bytes ? max_bytes : SIZE_MAX - 1;
  w->err = WAGI_JSON_OK;
  w->depth = 0;
  w->top = W_EMPTY;
}

void wagi_jw_free(wagi_jw *w) {
  if (!w) return;
  free(w->buf);
  w->buf = NULL;
  w->len = w->cap = 0;
}

static int w_fail(wagi_jw *w, int code) {
  if (w->err == WAGI_JSON_OK) w->err = code;
  return w->err;
}

static int w_reserve(wagi_jw *w, size_t more) {
  if (more > w->max_bytes - w->len) return w_fail(w, WAGI_JSON_ERR_TOO_LARGE);
  size_t need = w->len + more + 1; /* room for the NUL */
  if (need <= w->cap) return WAGI_JSON_OK;
  size_t cap = w->cap ? w->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *b = realloc(w->buf, cap);
  if (!b) return w_fail(w, WAGI_JSON_ERR_NOMEM);
  w->buf = b;
  w->cap = cap;
  return WAGI_JSON_OK;
}

static int w_put(wagi_jw *w, const char *s, size_t n) {
  int rc = w_reserve(w, n);
  if (rc != WAGI_JSON_OK) return rc;
  if (n) memcpy(w->buf + w->len, s, n);
  w->len += n;
  return WAGI_JSON_OK;
}

/* Checks that a value may come now and writes the comma before it.
 * Returns the state byte to update after the value, through *slot. */
static int w_before_value(wagi_jw *w, uint8_t **slot) {
  if (w->err) return w->err;
  uint8_t *s = w->depth ? &w->stack[w->depth - 1] : &w->top;
  if (!w->depth) {
    if (*s == W_DONE) return w_fail(w, WAGI_JSON_ERR_ARG); /* a second top-level value */
  } else if (*s & W_OBJECT) {
    if ((*s & 0x7f) != W_NEED_VALUE) return w_fail(w, WAGI_JSON_ERR_ARG); /* value without key */
  } else if (*s == W_MORE) {
    if (w_put(w, ",", 1)) return w->err;
  }
  *slot = s;
  return WAGI_JSON_OK;
}

/* Marks the value just written as complete in its container. */
static void w_after_value(wagi_jw *w, uint8_t *s) {
  if (s == &w->top) *s = W_DONE;
  else *s = (uint8_t)((*s & W_OBJECT) | W_MORE);
}

/* Writes s[0..n) quoted and escaped; WAGI_JSON_ERR_UTF8 on invalid UTF-8. */
static int w_quoted(wagi_jw *w, const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  if (!s && n) return w_fail(w, WAGI_JSON_ERR_ARG);
  /* Validate first so a failed string leaves no partial output. */
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq(s + i, n - i);
    if (!k) return w_fail(w, WAGI_JSON_ERR_UTF8);
    i += k;
  }
  if (w_put(w, "\"", 1)) return w->err;
  size_t run = 0; /* start of bytes copied as they are */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    char esc[6];
    size_t elen = 2;
    if (c == '"' || c == '\\') esc[0] = '\\', esc[1] = (char)c;
    else if (c >= 0x20) continue;
    else if (c == '\b') esc[0] = '\\', esc[1] = 'b';
    else if (c == '\f') esc[0] = '\\', esc[1] = 'f';
    else if (c == '\n') esc[0] = '\\', esc[1] = 'n';
    else if (c == '\r') esc[0] = '\\', esc[1] = 'r';
    else if (c == '\t') esc[0] = '\\', esc[1] = 't';
    else {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
      elen = 6;
    }
    if (w_put(w, (const char *)s + run, i - run) || w_put(w, esc, elen)) return w->err;
    run = i + 1;
  }
  if (w_put(w, (const char *)s + run, n - run) || w_put(w, "\"", 1)) return w->err;
  return WAGI_JSON_OK;
}

static int w_begin(wagi_jw *w, uint8_t kind, char open) {
  if (!w) return WAGI_JSON_ERR_ARG;
  uint8_t *slot;
  if (w_before_value(w, &slot)) return w->err;
  if (w->depth >= WAGI_JSON_MAX_DEPTH) return w_fail(w, WAGI_JSON_ERR_DEPTH);
  if (w_put(w, &open, 1)) return w->err;
  w->stack[w->depth++] = (uint8_t)(kind | W_EMPTY);
  return WAGI_JSON_OK;
}

static int w_end(wagi_jw *w, uint8_t kind, char close) {
  if (!w) return WAGI_JSON_ERR_ARG;
  if (w->err) return w->err;
  if (!w->depth) return w_fail(w, WAGI_JSON_ERR_ARG);
  uint8_t s = w->stack[w->depth - 1];
  if ((s & W_OBJECT) != kind || (s & 0x7f) == W_NEED_VALUE) return w_fail(w, WAGI_JSON_ERR_ARG);
  if (w_put(w, &close, 1)) return w->err;
  w->depth--;
  w_after_value(w, w->depth ? &w->stack[w->depth - 1] : &w->top);
  return WAGI_JSON_OK;
}

int wagi_jw_object_begin(wagi_jw *w) { return w_begin(w, W_OBJECT, '{'); }
int wagi_jw_object_end(wagi_jw *w) { return w_end(w, W_OBJECT, '}'); }
int wagi_jw_array_begin(wagi_jw *w) { return w_begin(w, 0, '['); }
int wagi_jw_array_end(wagi_jw *w) { return w_end(w, 0, ']'); }

int wagi_jw_keyn(wagi_jw *w, const char *key, size_t len) {
  if (!w) return WAGI_JSON_ERR_ARG;
  if (w->err) return w->err;
  if (!w->depth) return w_fail(w, WAGI_JSON_ERR_ARG);
  uint8_t *s = &w->stack[w->depth - 1];
  if (!(*s & W_OBJECT) || (*s & 0x7f) == W_NEED_VALUE) return w_fail(w, WAGI_JSON_ERR_ARG);
  size_t mark = w->len;
  if ((*s & 0x7f) == W_MORE && w_put(w, ",", 1)) return w->err;
  if (w_quoted(w, key, len) || w_put(w, ":", 1)) {
    w->len = mark;
    return w->err;
  }
  *s = W_OBJECT | W_NEED_VALUE;
  return WAGI_JSON_OK;
}

int wagi_jw_key(wagi_jw *w, const char *key) {
  if (!key) return w ? w_fail(w, WAGI_JSON_ERR_ARG) : WAGI_JSON_ERR_ARG;
  return wagi_jw_keyn(w, key, strlen(key));
}

/* Writes one scalar's text (already JSON) as the next value. */
static int w_scalar(wagi_jw *w, const char *text, size_t n) {
  if (!w) return WAGI_JSON_ERR_ARG;
  uint8_t *slot;
  size_t mark = w->len;
  if (w_before_value(w, &slot) || w_put(w, text, n)) {
    w->len = mark;
    return w->err;
  }
  w_after_value(w, slot);
  return WAGI_JSON_OK;
}

int wagi_jw_stringn(wagi_jw *w, const char *s, size_t len) {
  if (!w) return WAGI_JSON_ERR_ARG;
  uint8_t *slot;
  size_t mark = w->len;
  if (w_before_value(w, &slot) || w_quoted(w, s, len)) {
    w->len = mark;
    return w->err;
  }
  w_after_value(w, slot);
  return WAGI_JSON_OK;
}

int wagi_jw_string(wagi_jw *w, const char *s) {
  if (!s) return w ? w_fail(w, WAGI_JSON_ERR_ARG) : WAGI_JSON_ERR_ARG;
  return wagi_jw_stringn(w, s, strlen(s));
}

int wagi_jw_number(wagi_jw *w, double v) {
  if (!w) return WAGI_JSON_ERR_ARG;
  if (!isfinite(v)) return w_fail(w, WAGI_JSON_ERR_RANGE);
  char buf[32];
  int k = 0;
  if (v == trunc(v) && fabs(v) <= 1e17) /* integral: "100", not "1e+02" (as JSON.stringify) */
    k = snprintf(buf, sizeof buf, "%.0f", v);
  else
    for (int prec = 1; prec <= 17; prec++) {
      k = snprintf(buf, sizeof buf, "%.*g", prec, v);
      if (strtod(buf, NULL) == v) break;
    }
  if (k <= 0 || (size_t)k >= sizeof buf) return w_fail(w, WAGI_JSON_ERR_RANGE);
  return w_scalar(w, buf, (size_t)k);
}

int wagi_jw_int64(wagi_jw *w, int64_t v) {
  char buf[24];
  int k = snprintf(buf, sizeof buf, "%lld", (long long)v);
  return w_scalar(w, buf, (size_t)k);
}

int wagi_jw_bool(wagi_jw *w, int v) { return v ? w_scalar(w, "true", 4) : w_scalar(w, "false", 5); }
int wagi_jw_null(wagi_jw *w) { return w_scalar(w, "null", 4); }

/* One scalar, or the opening of a container (its children follow). */
static int w_value_start(wagi_jw *w, const wagi_json *v) {
  switch (v->type) {
  case WAGI_JSON_NULL: return wagi_jw_null(w);
  case WAGI_JSON_BOOL: return wagi_jw_bool(w, v->u.boolean);
  case WAGI_JSON_NUMBER: return w_scalar(w, v->u.number.text, v->u.number.len);
  case WAGI_JSON_STRING: return wagi_jw_stringn(w, v->u.string.ptr, v->u.string.len);
  case WAGI_JSON_ARRAY: return wagi_jw_array_begin(w);
  case WAGI_JSON_OBJECT: return wagi_jw_object_begin(w);
  }
  return w_fail(w, WAGI_JSON_ERR_ARG);
}

int wagi_jw_value(wagi_jw *w, const wagi_json *v) {
  if (!w) return WAGI_JSON_ERR_ARG;
  if (!v) return w_fail(w, WAGI_JSON_ERR_ARG);
  /* Iterative walk (see the top of this file): per open container, the
   * container and the index of its next child. */
  struct walk {
    const wagi_json *v;
    size_t next;
  } *st = NULL;
  size_t n = 0, cap = 0;
  if (w_value_start(w, v)) return w->err;
  if (v->type == WAGI_JSON_ARRAY || v->type == WAGI_JSON_OBJECT) {
    if (!grow((void **)&st, &cap, sizeof *st)) return w_fail(w, WAGI_JSON_ERR_NOMEM);
    st[n++] = (struct walk){v, 0};
  }
  while (n) {
    struct walk *t = &st[n - 1];
    int is_obj = t->v->type == WAGI_JSON_OBJECT;
    if (t->next == wagi_json_count(t->v)) {
      if (is_obj ? wagi_jw_object_end(w) : wagi_jw_array_end(w)) break;
      n--;
      continue;
    }
    const wagi_json *child;
    if (is_obj) {
      const wagi_json_member *m = &t->v->u.object.members[t->next++];
      if (wagi_jw_keyn(w, m->key, m->key_len)) break;
      child = m->value;
    } else {
      child = t->v->u.array.items[t->next++];
    }
    if (w_value_start(w, child)) break;
    if (child->type == WAGI_JSON_ARRAY || child->type == WAGI_JSON_OBJECT) {
      if (n == cap && !grow((void **)&st, &cap, sizeof *st)) {
        w_fail(w, WAGI_JSON_ERR_NOMEM);
        break;
      }
      st[n++] = (struct walk){child, 0};
    }
  }
  free(st);
  return w->err;
}

int wagi_jw_finish(wagi_jw *w, char **out, size_t *len) {
  if (!w || !out) return WAGI_JSON_ERR_ARG;
  if (w->err) return w->err;
  if (w->depth || w->top != W_DONE) return WAGI_JSON_ERR_ARG;
  if (w_reserve(w, 0)) return w->err;
  w->buf[w->len] = 0;
  *out = w->buf;
  if (len) *len = w->len;
  w->buf = NULL;
  w->len = w->cap = 0;
  w->top = W_EMPTY;
  return WAGI_JSON_OK;
}

int wagi_json_quote(const char *s, size_t len, char **out, size_t *out_len) {
  if (!out) return WAGI_JSON_ERR_ARG;
  wagi_jw w;
  wagi_jw_init(&w, 0);
  int rc = wagi_jw_stringn(&w, s, len);
  if (rc == WAGI_JSON_OK) rc = wagi_jw_finish(&w, out, out_len);
  wagi_jw_free(&w);
  return rc;
}
