/* response.c — guest stdout -> HTTP response (docs/modules.md §Output). See response.h. */
#include "response.h"
#include "base/utf8.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const uint8_t EMPTY[1] = {0};

/* ---- warnings ---------------------------------------------------------------- */

static void warn(srv_response *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(srv_response *r, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  size_t old = r->warnings ? strlen(r->warnings) : 0, ln = strlen(line);
  char *w = realloc(r->warnings, old + ln + 2);
  if (!w) return; /* a lost warning is not worth failing the response */
  if (old) w[old++] = '\n';
  memcpy(w + old, line, ln + 1);
  r->warnings = w;
}

/* ---- UTF-8 and Rust's str::trim --------------------------------------------------- */

static bool is_uspace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

/* Decodes the (valid) UTF-8 character starting at s[i]; *len gets its size. */
static uint32_t decode_at(const uint8_t *s, size_t i, size_t *len) {
  uint8_t c = s[i];
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  if (c < 0xE0) {
    *len = 2;
    return ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
  }
  if (c < 0xF0) {
    *len = 3;
    return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
  }
  *len = 4;
  return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
         ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

/* Trims Unicode White_Space from both ends of valid UTF-8 [*b, *e). */
static void trim(const uint8_t *s, size_t *b, size_t *e) {
  while (*b < *e) {
    size_t l;
    uint32_t c = decode_at(s, *b, &l);
    if (!is_uspace(c)) break;
    *b += l;
  }
  while (*e > *b) {
    size_t st = *e - 1;
    while (st > *b && (s[st] & 0xC0) == 0x80) st--;
    size_t l;
    uint32_t c = decode_at(s, st, &l);
    if (!is_uspace(c)) break;
    *e = st;
  }
}

/* ---- header checks ---------------------------------------------------------------------- */

static bool tchar(uint8_t c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool valid_name(const uint8_t *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!tchar(s[i])) return false;
  return true;
}

/* http's HeaderValue::from_str: visible ASCII, SP and HTAB only. */
static bool valid_value(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 0x20 && s[i] < 0x7F) || s[i] == '\t')) return false;
  return true;
}

static bool name_is(const uint8_t *s, size_t n, const char *lit) {
  return strlen(lit) == n && strncasecmp((const char *)s, lit, n) == 0;
}

/* StatusCode::from_bytes: exactly three digits, 100-999. Returns the code,
 * -2 for a number outside 100..999 (digits only: "99", "1000", "099"), -1
 * for anything else. */
static int parse_status(const uint8_t *s, size_t n) {
  /* "CODE[ reason]": only what precedes the first space is the code. */
  const uint8_t *sp = memchr(s, ' ', n);
  if (sp) n = (size_t)(sp - s);
  if (n == 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return -1;
  if (n != 3) return -2;
  int v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  return v >= 100 ? v : -2;
}

static char *dup_n(const uint8_t *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

static int add_header(srv_response *r, size_t *cap, const uint8_t *name, size_t nn,
                      const uint8_t *val, size_t vn) {
  if (r->n_headers == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    srv_resp_header *h = realloc(r->headers, nc * sizeof *h);
    if (!h) return -1;
    r->headers = h;
    *cap = nc;
  }
  char *a = dup_n(name, nn), *b = dup_n(val, vn);
  if (!a || !b) {
    free(a);
    free(b);
    return -1;
  }
  r->headers[r->n_headers].name = a;
  r->headers[r->n_headers].value = b;
  r->n_headers++;
  return 0;
}

/* Removes every header named like `lit` (case-insensitive). */
static void remove_named(srv_response *r, const char *lit) {
  size_t o = 0;
  for (size_t i = 0; i < r->n_headers; i++) {
    if (strcasecmp(r->headers[i].name, lit) == 0) {
      free(r->headers[i].name);
      free(r->headers[i].value);
    } else {
      r->headers[o++] = r->headers[i];
    }
  }
  r->n_headers = o;
}

static void drop_headers(srv_response *r) {
  for (size_t i = 0; i < r->n_headers; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->headers);
  r->headers = NULL;
  r->n_headers = 0;
}

static void fail_500(srv_response *r, const char *body) {
  drop_headers(r);
  r->status = 500;
  r->refused = true;
  if (!body) body = SRV_RESPONSE_MSG_BAD;
  r->body = (const uint8_t *)body;
  r->body_len = strlen(body);
}

void srv_response_free(srv_response *r) {
  if (!r) return;
  drop_headers(r);
  free(r->warnings);
  memset(r, 0, sizeof *r);
}

int srv_response_parse(const uint8_t *out, size_t len, srv_response *r) {
  memset(r, 0, sizeof *r);
  r->status = 200;
  r->body = EMPTY;
  if (!out) len = 0;

  /* In header mode CRs are dropped; an LF after a kept LF ends the
   * headers. The header block (CR-free) is copied; the body is borrowed. */
  size_t hend = 0; /* bytes of `out` consumed by the header block */
  bool split = false;
  size_t kept = 0;
  uint8_t last = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = out[i];
    if (c == '\r') continue;
    if (c == '\n' && last == '\n') {
      hend = i + 1;
      split = true;
      break;
    }
    last = c;
    kept++;
  }
  if (!split) {
    /* No blank line: everything is body and there are no headers, which
     * can only be the "no content-type" 500. */
    if (len == 0) warn(r, "module wrote nothing to stdout (500: no Content-Type)");
    else
      warn(r,
           "module output has no blank line after its headers, so all of it (%zu bytes) is "
           "the body and there is no Content-Type (500); print an empty line after the headers",
           len);
    fail_500(r, SRV_RESPONSE_MSG_NO_CT);
    return 0;
  }
  uint8_t *hb = malloc(kept ? kept : 1);
  if (!hb) {
    fail_500(r, NULL);
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < hend - 1; i++)
    if (out[i] != '\r') hb[k++] = out[i];
  /* k == kept: the block ends with the first LF of the pair. */
  r->body = out + hend;
  r->body_len = len - hend;

  if (!base_utf8_valid(hb, k, NULL)) {
    free(hb);
    warn(r, "module output headers are not valid UTF-8");
    fail_500(r, NULL);
    return 0;
  }

  size_t cap = 0;
  bool sufficient = false, have_status = false, bad_value = false, bad_status = false,
       nomem = false;
  int status = 0;
  bool have_location = false;
  size_t b = 0, e = k;
  trim(hb, &b, &e);
  while (b < e && !nomem) {
    const uint8_t *nl = memchr(hb + b, '\n', e - b);
    size_t le = nl ? (size_t)(nl - hb) : e;
    size_t next = nl ? le + 1 : e;
    const uint8_t *colon = memchr(hb + b, ':', le - b);
    if (!colon) {
      if (le > b)
        warn(r, "module output header line without ':' ignored: '%.*s'",
             (int)((le - b) > 100 ? 100 : (le - b)), (const char *)hb + b);
      b = next;
      continue;
    }
    size_t nb = b, ne = (size_t)(colon - hb), vb = ne + 1, ve = le;
    trim(hb, &nb, &ne);
    trim(hb, &vb, &ve);
    const uint8_t *name = hb + nb, *val = hb + vb;
    size_t nn = ne - nb, vn = ve - vb;
    b = next;

    if (name_is(name, nn, "status")) {
      sufficient = true;
      have_status = true;
      status = parse_status(val, vn);
      if (status == -1)
        warn(r, "module output has an invalid Status '%.*s' (502)", (int)(vn > 100 ? 100 : vn),
             (const char *)val);
      else if (status == -2) {
        warn(r, "module output has a Status '%.*s' outside 100..999 (500)",
             (int)(vn > 100 ? 100 : vn), (const char *)val);
        bad_status = true;
      }
      continue;
    }
    if (!valid_name(name, nn)) {
      warn(r, "module output header with an invalid name dropped: '%.*s'",
           (int)(nn > 100 ? 100 : nn), (const char *)name);
      continue;
    }
    if (!valid_value(val, vn)) {
      warn(r, "module output header '%.*s' has an invalid value (500)", (int)(nn > 100 ? 100 : nn),
           (const char *)name);
      bad_value = true;
      continue;
    }
    if (name_is(name, nn, "content-length") || name_is(name, nn, "transfer-encoding") ||
        name_is(name, nn, "connection")) {
      warn(r, "module output header '%.*s' dropped (the server sets framing headers)", (int)nn,
           (const char *)name);
      continue;
    }
    if (name_is(name, nn, "date")) {
      warn(r, "module output header '%.*s' dropped (the server sets Date)", (int)nn,
           (const char *)name);
      continue;
    }
    if (name_is(name, nn, "content-type")) {
      sufficient = true;
      remove_named(r, "content-type");
    } else if (name_is(name, nn, "location")) {
      sufficient = true;
      have_location = true;
      remove_named(r, "location");
    }
    if (add_header(r, &cap, name, nn, val, vn)) nomem = true;
  }
  free(hb);
  if (nomem) {
    fail_500(r, NULL);
    return -1;
  }
  if (bad_value || bad_status) {
    fail_500(r, NULL);
    return 0;
  }
  if (!sufficient) {
    warn(r, "module output has none of Content-Type, Location or Status (500)");
    fail_500(r, SRV_RESPONSE_MSG_NO_CT);
    return 0;
  }
  if (have_status) r->status = status < 0 ? 502 : status;
  else if (have_location) r->status = 302;
  return 0;
}
