/* wagi_codec.c — base64, hex and URL percent-encoding; see wagi_codec.h. */
#include <stdlib.h>
#include <string.h>

#include "wagi_codec.h"

const char *wagi_codec_strerror(int code) {
  switch (code) {
  case WAGI_CODEC_OK: return "success";
  case WAGI_CODEC_ERR_ARG: return "invalid argument";
  case WAGI_CODEC_ERR_SPACE: return "output buffer too small";
  case WAGI_CODEC_ERR_INVALID: return "invalid character in encoded input";
  case WAGI_CODEC_ERR_PADDING: return "invalid base64 length or padding";
  case WAGI_CODEC_ERR_NOMEM: return "out of memory";
  case WAGI_CODEC_ERR_TOO_LARGE: return "input too large";
  case WAGI_CODEC_ERR_NOT_FOUND: return "no such query parameter";
  default: return "unknown error";
  }
}

static void set_at(size_t *err_at, size_t at) {
  if (err_at) *err_at = at;
}

static void set_len(size_t *out_len, size_t n) {
  if (out_len) *out_len = n;
}

/* ---- base64 ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t wagi_base64_encoded_size(size_t n) {
  size_t groups = n / 3 + (n % 3 != 0);
  if (groups > (SIZE_MAX - 1) / 4) return 0;
  return groups * 4 + 1;
}

int wagi_base64_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len) {
  if ((!in && n) || !out) return WAGI_CODEC_ERR_ARG;
  size_t need = wagi_base64_encoded_size(n);
  if (!need) return WAGI_CODEC_ERR_TOO_LARGE;
  if (cap < need) return WAGI_CODEC_ERR_SPACE;
  const uint8_t *p = in;
  char *o = out;
  size_t i = 0;
  for (; n - i >= 3; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *o++ = B64[v >> 18], *o++ = B64[(v >> 12) & 63], *o++ = B64[(v >> 6) & 63], *o++ = B64[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    *o++ = B64[v >> 18], *o++ = B64[(v >> 12) & 63], *o++ = '=', *o++ = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    *o++ = B64[v >> 18], *o++ = B64[(v >> 12) & 63], *o++ = B64[(v >> 6) & 63], *o++ = '=';
  }
  *o = 0;
  set_len(out_len, (size_t)(o - out));
  return WAGI_CODEC_OK;
}

int wagi_base64_encode_alloc(const void *in, size_t n, char **out, size_t *out_len) {
  if ((!in && n) || !out) return WAGI_CODEC_ERR_ARG;
  size_t need = wagi_base64_encoded_size(n);
  if (!need) return WAGI_CODEC_ERR_TOO_LARGE;
  char *buf = malloc(need);
  if (!buf) return WAGI_CODEC_ERR_NOMEM;
  int rc = wagi_base64_encode(in, n, buf, need, out_len);
  if (rc != WAGI_CODEC_OK) {
    free(buf);
    return rc;
  }
  *out = buf;
  return WAGI_CODEC_OK;
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int wagi_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len,
                       size_t *err_at) {
  if ((!in && n) || !out) return WAGI_CODEC_ERR_ARG;
  if (n % 4) {
    set_at(err_at, n - n % 4); /* where the incomplete group starts */
    return WAGI_CODEC_ERR_PADDING;
  }
  size_t pad = 0;
  if (n && in[n - 1] == '=') pad = (n >= 2 && in[n - 2] == '=') ? 2 : 1;
  size_t len = n / 4 * 3 - pad;
  if (cap < len + 1) return WAGI_CODEC_ERR_SPACE;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int last = i + 4 == n;
    int v[4];
    for (int j = 0; j < 4; j++) {
      unsigned char c = (unsigned char)in[i + j];
      if (c == '=') {
        /* '=' only in the final group's last pad positions */
        if (!last || j < 4 - (int)pad) {
          set_at(err_at, i + j);
          return WAGI_CODEC_ERR_PADDING;
        }
        v[j] = 0;
        continue;
      }
      v[j] = b64_value(c);
      if (v[j] < 0) {
        set_at(err_at, i + j);
        return WAGI_CODEC_ERR_INVALID;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    if (last && pad == 2 && (w & 0xffff)) {
      set_at(err_at, i + 1); /* bits that padding says are unused */
      return WAGI_CODEC_ERR_PADDING;
    }
    if (last && pad == 1 && (w & 0xff)) {
      set_at(err_at, i + 2);
      return WAGI_CODEC_ERR_PADDING;
    }
    out[o++] = (uint8_t)(w >> 16);
    if (!(last && pad == 2)) out[o++] = (uint8_t)(w >> 8);
    if (!(last && pad)) out[o++] = (uint8_t)w;
  }
  out[o] = 0;
  set_len(out_len, o);
  return WAGI_CODEC_OK;
}

int wagi_base64_decode_alloc(const char *in, size_t n, uint8_t **out, size_t *out_len,
                             size_t *err_at) {
  if ((!in && n) || !out) return WAGI_CODEC_ERR_ARG;
  uint8_t *buf = malloc(n / 4 * 3 + 1);
  if (!buf) return WAGI_CODEC_ERR_NOMEM;
  int rc = wagi_base64_decode(in, n, buf, n / 4 * 3 + 1, out_len, err_at);
  if (rc != WAGI_CODEC_OK) {
    free(buf);
    return rc;
  }
  *out = buf;
  return WAGI_CODEC_OK;
}

/* ---- hex ---- */

static const char HEX_LOWER[] = "0123456789abcdef";
static const char HEX_UPPER[] = "0123456789ABCDEF";

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int wagi_hex_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len) {
  if ((!in && n) || !out) return WAGI_CODEC_ERR_ARG;
  if (n > (SIZE_MAX - 1) / 2) return WAGI_CODEC_ERR_TOO_LARGE;
  if (cap < 2 * n + 1) return WAGI_CODEC_ERR_SPACE;
  const uint8_t *p = in;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = HEX_LOWER[p[i] >> 4];
    out[2 * i + 1] = HEX_LOWER[p[i] & 15];
  }
  out[2 * n] = 0;
  set_len(out_len, 2 * n);
  return WAGI_CODEC_OK;
}

int wagi_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len,
                    size_t *err_at) {
  if ((!in && n) || !out) return WAGI_CODEC_ERR_ARG;
  if (n % 2) {
    set_at(err_at, n);
    return WAGI_CODEC_ERR_INVALID;
  }
  if (cap < n / 2 + 1) return WAGI_CODEC_ERR_SPACE;
  for (size_t i = 0; i < n; i += 2) {
    int hi = hex_value((unsigned char)in[i]), lo = hex_value((unsigned char)in[i + 1]);
    if (hi < 0 || lo < 0) {
      set_at(err_at, hi < 0 ? i : i + 1);
      return WAGI_CODEC_ERR_INVALID;
    }
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  out[n / 2] = 0;
  set_len(out_len, n / 2);
  return WAGI_CODEC_OK;
}

/* ---- URL ---- */

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

/* Output bytes (without the NUL) for encoding in[0..n). */
static size_t url_encoded_len(const char *in, size_t n, int flags) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    int plain = unreserved(c) || (c == '/' && (flags & WAGI_URL_KEEP_SLASH)) ||
                (c == ' ' && (flags & WAGI_URL_FORM));
    len += plain ? 1 : 3;
  }
  return len;
}

int wagi_url_encode(const char *in, size_t n, int flags, char *out, size_t cap, size_t *out_len) {
  if ((!in && n) || !out || (flags & ~(WAGI_URL_KEEP_SLASH | WAGI_URL_FORM)))
    return WAGI_CODEC_ERR_ARG;
  if (n > (SIZE_MAX - 1) / 3) return WAGI_CODEC_ERR_TOO_LARGE;
  if (cap < url_encoded_len(in, n, flags) + 1) return WAGI_CODEC_ERR_SPACE;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (unreserved(c) || (c == '/' && (flags & WAGI_URL_KEEP_SLASH))) {
      out[o++] = (char)c;
    } else if (c == ' ' && (flags & WAGI_URL_FORM)) {
      out[o++] = '+';
    } else {
      out[o++] = '%';
      out[o++] = HEX_UPPER[c >> 4];
      out[o++] = HEX_UPPER[c & 15];
    }
  }
  out[o] = 0;
  set_len(out_len, o);
  return WAGI_CODEC_OK;
}

int wagi_url_encode_alloc(const char *in, size_t n, int flags, char **out, size_t *out_len) {
  if ((!in && n) || !out || (flags & ~(WAGI_URL_KEEP_SLASH | WAGI_URL_FORM)))
    return WAGI_CODEC_ERR_ARG;
  if (n > (SIZE_MAX - 1) / 3) return WAGI_CODEC_ERR_TOO_LARGE;
  size_t need = url_encoded_len(in, n, flags) + 1;
  char *buf = malloc(need);
  if (!buf) return WAGI_CODEC_ERR_NOMEM;
  int rc = wagi_url_encode(in, n, flags, buf, need, out_len);
  if (rc != WAGI_CODEC_OK) {
    free(buf);
    return rc;
  }
  *out = buf;
  return WAGI_CODEC_OK;
}

/* Checks in[0..n) and returns the decoded length, or SIZE_MAX with *bad set
 * to the offset of a '%' without two hex digits after it. */
static size_t url_decoded_len(const char *in, size_t n, size_t *bad) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++, len++) {
    if (in[i] != '%') continue;
    if (n - i < 3 || hex_value((unsigned char)in[i + 1]) < 0 ||
        hex_value((unsigned char)in[i + 2]) < 0) {
      *bad = i;
      return SIZE_MAX;
    }
    i += 2;
  }
  return len;
}

int wagi_url_decode(const char *in, size_t n, int flags, char *out, size_t cap, size_t *out_len,
                    size_t *err_at) {
  if ((!in && n) || !out || (flags & ~(WAGI_URL_KEEP_SLASH | WAGI_URL_FORM)))
    return WAGI_CODEC_ERR_ARG;
  size_t bad = 0, len = url_decoded_len(in, n, &bad);
  if (len == SIZE_MAX) {
    set_at(err_at, bad);
    return WAGI_CODEC_ERR_INVALID;
  }
  if (cap < len + 1) return WAGI_CODEC_ERR_SPACE;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    if (c == '%') {
      out[o++] =
          (char)(hex_value((unsigned char)in[i + 1]) << 4 | hex_value((unsigned char)in[i + 2]));
      i += 2;
    } else {
      out[o++] = (c == '+' && (flags & WAGI_URL_FORM)) ? ' ' : c;
    }
  }
  out[o] = 0;
  set_len(out_len, o);
  return WAGI_CODEC_OK;
}

int wagi_query_get(const char *query, const char *name, char **value, size_t *value_len) {
  if (!query || !name || !value) return WAGI_CODEC_ERR_ARG;
  if (*query == '?') query++;
  size_t name_len = strlen(name);
  const char *p = query;
  for (;;) {
    const char *end = strchr(p, '&');
    if (!end) end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    const char *kend = eq ? eq : end;
    size_t klen = (size_t)(kend - p);
    if (klen || eq) {
      char *key = malloc(klen + 1);
      if (!key) return WAGI_CODEC_ERR_NOMEM;
      size_t kdec;
      int match =
          wagi_url_decode(p, klen, WAGI_URL_FORM, key, klen + 1, &kdec, NULL) == WAGI_CODEC_OK &&
          kdec == name_len && memcmp(key, name, name_len) == 0;
      free(key);
      if (match) {
        const char *v = eq ? eq + 1 : end;
        size_t vlen = (size_t)(end - v), vdec;
        char *val = malloc(vlen + 1);
        if (!val) return WAGI_CODEC_ERR_NOMEM;
        int rc = wagi_url_decode(v, vlen, WAGI_URL_FORM, val, vlen + 1, &vdec, NULL);
        if (rc == WAGI_CODEC_OK && memchr(val, 0, vdec)) rc = WAGI_CODEC_ERR_INVALID;
        if (rc != WAGI_CODEC_OK) {
          free(val);
          return rc;
        }
        *value = val;
        set_len(value_len, vdec);
        return WAGI_CODEC_OK;
      }
    }
    if (!*end) return WAGI_CODEC_ERR_NOT_FOUND;
    p = end + 1;
  }
}
