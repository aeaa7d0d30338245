/* toml.h — a strict TOML 1.0 parser producing a read-only document tree.
 *
 * toml_parse() turns a whole document into a tree of toml_value nodes owned by
 * the caller (free it with toml_free). Every node remembers where it starts
 * (line and column, 1-based; the column counts characters, not bytes, so it
 * matches what an editor shows), so code that interprets the document can
 * report "FILE:LINE:COLUMN: what is wrong" for a bad value as well.
 *
 * The parser refuses everything TOML 1.0 refuses (invalid UTF-8, control
 * characters, bad escapes, leading zeros, out-of-range integers, invalid
 * dates, duplicate keys, table redefinitions, ...) with one error message of
 * the form "FILE:LINE:COLUMN: what is wrong". It never recurses deeper than
 * TOML_MAX_DEPTH nested arrays/tables, whatever the input.
 *
 * Nodes are plain structs: read their fields directly or use the accessors
 * below. Fields marked private are parser bookkeeping.
 */
#ifndef WAGI_TOML_H
#define WAGI_TOML_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest nesting of tables and arrays a document may have (the root table is
 * depth 0); deeper documents are refused with an error, not a stack overflow. */
#define TOML_MAX_DEPTH 128

/* Largest document toml_parse accepts (bytes). */
#define TOML_MAX_DOC_SIZE ((size_t)1 << 30)

typedef enum {
  TOML_OK = 0,
  TOML_ERR_SYNTAX, /* the text is not valid TOML 1.0 (message says why and where) */
  TOML_ERR_NOMEM,  /* an allocation failed */
} toml_status;

typedef enum {
  TOML_TABLE,
  TOML_ARRAY,
  TOML_STRING,
  TOML_INTEGER,
  TOML_FLOAT,
  TOML_BOOL,
  TOML_DATETIME,
} toml_kind;

/* Which of TOML's four date/time forms a TOML_DATETIME value is. */
typedef enum {
  TOML_DT_OFFSET_DATETIME, /* 1979-05-27T07:32:00Z, 1979-05-27 07:32:00-07:00 */
  TOML_DT_LOCAL_DATETIME,  /* 1979-05-27T07:32:00.999 */
  TOML_DT_LOCAL_DATE,      /* 1979-05-27 */
  TOML_DT_LOCAL_TIME,      /* 07:32:00 */
} toml_datetime_kind;

typedef struct toml_value toml_value;

/* One key of a table, in document order. `key` is NUL-terminated but may
 * itself contain NUL bytes (a quoted key with \u0000): `key_len` is exact. */
typedef struct {
  char *key;
  size_t key_len;
  uint32_t line, col; /* where the key is written */
  toml_value *value;
} toml_entry;

struct toml_value {
  toml_kind kind;
  uint32_t line, col; /* where the value starts (for a table made by a header
                         or dotted key: where that key is written) */
  union {
    /* TOML_STRING: UTF-8, NUL-terminated, may contain NULs (len is exact).
     * TOML_DATETIME: the text exactly as written (validated). */
    struct {
      char *ptr;
      size_t len;
    } str;
    int64_t integer;
    double fp;
    bool boolean;
    struct {
      toml_entry *items;
      size_t n, cap;
      uint32_t *index;
      size_t index_cap;
    } table;
    struct {
      toml_value **items;
      size_t n, cap;
    } array;
  } u;
  toml_datetime_kind dt_kind; /* TOML_DATETIME only */
  /* private: table/array provenance for the redefinition rules, and depth */
  uint16_t flags;
  uint16_t depth;
};

/* Parses `len` bytes of `text` (need not be NUL-terminated). On success
 * returns TOML_OK and stores the root table in *out (caller frees it with
 * toml_free). On failure *out is untouched and `err` (if errlen > 0) holds
 * "FILENAME:LINE:COLUMN: message"; `filename` is only used in that text
 * (NULL gives "<input>"). */
toml_status toml_parse(const char *text, size_t len, const char *filename, toml_value **out,
                       char *err, size_t errlen);

/* Writes "FILE:LINE:COL: " PREFIX and the message of fmt/ap into buf
 * (buflen 0: nothing) as one printable line: control characters become '?',
 * since messages quote values from the file. toml_parse's own errors and
 * the loaders built on it (modules.toml, the Event Grid topic) all use it,
 * so every positioned message reads the same. */
void toml_format_at(char *buf, size_t buflen, const char *file, uint32_t line, uint32_t col,
                    const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));

/* Frees a tree returned by toml_parse (NULL is fine). Only roots may be freed. */
void toml_free(toml_value *v);

/* Static name of a kind for messages: "table", "array", "string", "integer",
 * "float", "boolean", "date-time". */
const char *toml_kind_name(toml_kind k);

/* Value of `key` (a NUL-terminated key) in table `t`, or NULL if `t` is not a
 * table or has no such key. Borrowed from the tree. */
toml_value *toml_table_get(const toml_value *t, const char *key);

/* Same with an explicit key length (keys may contain NUL bytes). */
toml_value *toml_table_getn(const toml_value *t, const char *key, size_t key_len);

/* Number of keys of a table (0 for a non-table) and the i-th entry in
 * document order (NULL when out of range). */
size_t toml_table_len(const toml_value *t);
const toml_entry *toml_table_entry(const toml_value *t, size_t i);

/* Number of elements of an array (0 for a non-array) and the i-th element
 * (NULL when out of range). */
size_t toml_array_len(const toml_value *a);
toml_value *toml_array_at(const toml_value *a, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* WAGI_TOML_H */
