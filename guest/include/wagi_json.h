/* wagi_json.h — a strict JSON reader (RFC 8259) with a small read-only
 * tree, and a JSON writer, for C modules (wasm32-wasi), also buildable
 * natively.
 *
 * Reading:
 *   wagi_json_doc *doc;
 *   wagi_json_error err;
 *   if (wagi_json_parse(body, len, NULL, &doc, &err) != WAGI_JSON_OK) {
 *     printf("Status: 400\n\n%s\n", err.msg);   // "invalid JSON at byte 12: ..."
 *     return;
 *   }
 *   const wagi_json *root = wagi_json_root(doc);
 *   size_t n;
 *   const char *type = wagi_json_string(wagi_json_get(root, "eventType"), &n);
 *   ...
 *   wagi_json_free(doc);   // every value and string of the tree goes with it
 *
 * What the reader accepts is exactly RFC 8259's grammar over UTF-8 text:
 *  - the input must be valid UTF-8 (no overlong forms, no encoded
 *    surrogates, nothing past U+10FFFF); a byte order mark is rejected;
 *  - one value, with only space, tab, CR and LF around and between tokens;
 *  - strings: no raw control characters (U+0000..U+001F); escapes are the
 *    eight of the RFC plus \uXXXX; a \uD800-\uDBFF escape must be followed
 *    by a \uDC00-\uDFFF escape (the pair becomes one 4-byte UTF-8
 *    character); a lone surrogate escape is an error. \u0000 is allowed and
 *    gives a NUL inside the string: use the length;
 *  - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; numbers too
 *    large for a double are accepted (the grammar allows them) and reported
 *    by wagi_json_number as WAGI_JSON_ERR_RANGE;
 *  - nesting deeper than the limit (default 128, at most 1024) is an error;
 *  - duplicate object keys are kept in order: wagi_json_get returns the
 *    first, iterating with wagi_json_member_at sees them all.
 * An error gives a code, the byte offset where the input went wrong and a
 * one-line message naming both.
 *
 * Writing (a growable buffer; commas and colons are placed for you):
 *   wagi_jw w;
 *   wagi_jw_init(&w, 0);
 *   wagi_jw_object_begin(&w);
 *   wagi_jw_key(&w, "id");    wagi_jw_string(&w, id);
 *   wagi_jw_key(&w, "value"); wagi_jw_stringn(&w, text, text_len);
 *   wagi_jw_object_end(&w);
 *   char *json; size_t json_len;
 *   if (wagi_jw_finish(&w, &json, &json_len) != WAGI_JSON_OK) ...   // then free(json)
 * The first error sticks: later calls do nothing and return it, and
 * wagi_jw_finish reports it, so a sequence of calls needs one check.
 * Strings are escaped as JSON requires: '"' and '\' as \" and \\,
 * \b \f \n \r \t in their short forms, every other control character as
 * \u00XX (lowercase hex, as JavaScript's JSON.stringify); everything else,
 * including '/' and non-ASCII, is copied as is. Invalid UTF-8 in a string
 * or key is rejected (WAGI_JSON_ERR_UTF8), never replaced: a module storing
 * arbitrary bytes should base64 them (wagi_codec.h).
 */
#ifndef WAGI_JSON_H
#define WAGI_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_JSON_OK = 0,
  WAGI_JSON_ERR_ARG = 1,       /* NULL where a value is required, a misused writer */
  WAGI_JSON_ERR_SYNTAX = 2,    /* not JSON: unexpected character, bad escape, bad number */
  WAGI_JSON_ERR_UTF8 = 3,      /* invalid UTF-8 (reader: in the input; writer: in a string) */
  WAGI_JSON_ERR_DEPTH = 4,     /* nesting over the limit */
  WAGI_JSON_ERR_NOMEM = 5,     /* malloc failed */
  WAGI_JSON_ERR_TOO_LARGE = 6, /* writer: output over its max_bytes */
  WAGI_JSON_ERR_TYPE = 7,      /* accessor: the value is not of the asked type (or is NULL) */
  WAGI_JSON_ERR_RANGE = 8,     /* accessor: the number does not fit the asked type */
};

/* Static text for a WAGI_JSON_* code; never freed. */
const char *wagi_json_strerror(int code);

#define WAGI_JSON_DEFAULT_DEPTH 128
#define WAGI_JSON_MAX_DEPTH 1024

/* ---- Reader ---- */

typedef enum {
  WAGI_JSON_NULL,
  WAGI_JSON_BOOL,
  WAGI_JSON_NUMBER,
  WAGI_JSON_STRING,
  WAGI_JSON_ARRAY,
  WAGI_JSON_OBJECT,
} wagi_json_type;

typedef struct wagi_json wagi_json;
typedef struct wagi_json_doc wagi_json_doc; /* opaque: owns every value and string */

typedef struct {
  const char *key; /* decoded UTF-8, NUL-terminated (may hold a NUL: use key_len) */
  size_t key_len;
  const wagi_json *value;
} wagi_json_member;

/* A value in a parsed document; read it through the accessors below. All
 * pointers in it belong to the document and stay valid until
 * wagi_json_free. */
struct wagi_json {
  wagi_json_type type;
  union {
    int boolean; /* 0 or 1 */
    struct {
      double value;     /* nearest double; +-HUGE_VAL past the range */
      const char *text; /* the number as written, NUL-terminated */
      size_t len;
    } number;
    struct {
      const char *ptr; /* decoded UTF-8, NUL-terminated */
      size_t len;
    } string;
    struct {
      const wagi_json *const *items;
      size_t count;
    } array;
    struct {
      const wagi_json_member *members; /* in input order, duplicates kept */
      size_t count;
    } object;
  } u;
};

typedef struct {
  int code;      /* WAGI_JSON_* */
  size_t offset; /* byte offset in the input where it went wrong */
  char msg[160]; /* "invalid JSON at byte 12: expected ':' after an object key" */
} wagi_json_error;

typedef struct {
  size_t max_depth; /* arrays/objects inside each other; 0 = WAGI_JSON_DEFAULT_DEPTH */
} wagi_json_options;

/* Parses text[0..len) (need not be NUL-terminated; a NUL byte in it is an
 * error like any other stray character). opts may be NULL (defaults); err
 * may be NULL. On WAGI_JSON_OK *out is a new document the caller owns
 * (wagi_json_free); on error *out is untouched and *err says what and
 * where. The document keeps no pointer into text. */
int wagi_json_parse(const char *text, size_t len, const wagi_json_options *opts,
                    wagi_json_doc **out, wagi_json_error *err);
/* Frees the document and every value and string in it (NULL is fine). */
void wagi_json_free(wagi_json_doc *doc);
/* The top-level value (never NULL for a parsed document). */
const wagi_json *wagi_json_root(const wagi_json_doc *doc);

/* Accessors. Each accepts NULL for v (so lookups chain:
 * wagi_json_get(wagi_json_get(root, "data"), "blob")) and then returns
 * NULL / WAGI_JSON_ERR_TYPE. */
/* WAGI_JSON_NULL .. WAGI_JSON_OBJECT; -1 for NULL. */
int wagi_json_typeof(const wagi_json *v);
/* The first member called key (NUL-terminated) of an object; NULL if v is
 * not an object or has no such member. */
const wagi_json *wagi_json_get(const wagi_json *obj, const char *key);
/* The same with a counted key (which may contain NUL). */
const wagi_json *wagi_json_getn(const wagi_json *obj, const char *key, size_t key_len);
/* Elements of an array or members of an object; 0 for anything else. */
size_t wagi_json_count(const wagi_json *v);
/* Element i of an array; NULL out of range or if not an array. */
const wagi_json *wagi_json_at(const wagi_json *arr, size_t i);
/* Member i of an object; NULL out of range or if not an object. */
const wagi_json_member *wagi_json_member_at(const wagi_json *obj, size_t i);
/* A string's decoded bytes (NUL-terminated, owned by the document) and,
 * if len is not NULL, its length; NULL if v is not a string. */
const char *wagi_json_string(const wagi_json *v, size_t *len);
/* A number as a double: WAGI_JSON_ERR_RANGE if it overflows (1e400). */
int wagi_json_number(const wagi_json *v, double *out);
/* A number written as an integer (no fraction, no exponent) that fits in
 * int64_t; WAGI_JSON_ERR_RANGE for 1.5, 1e3 or 2^63, _TYPE for non-numbers. */
int wagi_json_int64(const wagi_json *v, int64_t *out);
/* true / false as 1 / 0. */
int wagi_json_bool(const wagi_json *v, int *out);
/* 1 for a JSON null, else 0 (also for a missing value). */
int wagi_json_is_null(const wagi_json *v);

/* ---- Writer ---- */

/* Writer state; fields are private. Lives where the caller puts it. */
typedef struct {
  char *buf;
  size_t len, cap, max_bytes;
  int err;
  uint32_t depth;
  uint8_t stack[WAGI_JSON_MAX_DEPTH]; /* per open container: kind and state */
  uint8_t top;                        /* state at depth 0 */
} wagi_jw;

/* Starts an empty writer. max_bytes bounds the output (0: no bound but
 * size_t). Allocates nothing yet. */
void wagi_jw_init(wagi_jw *w, size_t max_bytes);
/* Releases the buffer unless wagi_jw_finish handed it over (safe twice). */
void wagi_jw_free(wagi_jw *w);

int wagi_jw_object_begin(wagi_jw *w);
int wagi_jw_object_end(wagi_jw *w);
int wagi_jw_array_begin(wagi_jw *w);
int wagi_jw_array_end(wagi_jw *w);
/* A member name; only directly inside an object, before each value. */
int wagi_jw_key(wagi_jw *w, const char *key);
int wagi_jw_keyn(wagi_jw *w, const char *key, size_t len);
int wagi_jw_string(wagi_jw *w, const char *s);
int wagi_jw_stringn(wagi_jw *w, const char *s, size_t len);
/* Integral values up to 1e17 in plain digits ("100", "-0"), others as the
 * shortest %g text that reads back as the same double ("0.1", "1e+21");
 * NaN and infinities (which JSON cannot express) are WAGI_JSON_ERR_RANGE. */
int wagi_jw_number(wagi_jw *w, double v);
int wagi_jw_int64(wagi_jw *w, int64_t v);
int wagi_jw_bool(wagi_jw *w, int v);
int wagi_jw_null(wagi_jw *w);
/* A value from a parsed document, copied whole (numbers as written). */
int wagi_jw_value(wagi_jw *w, const wagi_json *v);

/* Ends writing: WAGI_JSON_ERR_ARG unless exactly one complete value was
 * written, or the first error met. On WAGI_JSON_OK *out is the malloc'd,
 * NUL-terminated text (the caller frees it) and the writer is empty again
 * (wagi_jw_free is then a no-op); on error the writer keeps its buffer
 * (wagi_jw_free releases it). */
int wagi_jw_finish(wagi_jw *w, char **out, size_t *len);

/* Shorthand for one string: writes s[0..len) as a quoted, escaped JSON
 * string into a new malloc'd buffer (*out, NUL-terminated; the caller
 * frees it). */
int wagi_json_quote(const char *s, size_t len, char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
