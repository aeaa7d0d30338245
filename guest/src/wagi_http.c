/* wagi_http.c — the guest side of wasi_experimental_http (see wagi_http.h).
 * Compiled for wasm32-wasi only; buffer habits follow the Rust
 * `wasi-experimental-http` crate so that hosts tuned for it behave alike. */
#include <stdlib.h>
#include <string.h>

#include "wagi_http.h"

#define HEADER_START 4096u
#define HEADER_MAX 65536u
#define HEADERS_ALL 65536u
#define BODY_CHUNK 4096u

const char *wagi_http_strerror(int code) {
  switch (code) {
  case WAGI_HTTP_OK: return "success";
  case 1: return "invalid_handle";
  case 2: return "memory_not_found";
  case 3: return "memory_access_error";
  case 4: return "buffer_too_small";
  case 5: return "header_not_found";
  case 6: return "utf8_error";
  case 7: return "destination_not_allowed";
  case 8: return "invalid_method";
  case 9: return "invalid_encoding";
  case 10: return "invalid_url";
  case 11: return "request_error";
  case 12: return "runtime_error";
  case 13: return "too_many_sessions";
  case WAGI_HTTP_ERR_NOMEM: return "out_of_memory";
  case WAGI_HTTP_ERR_TOO_LARGE: return "too_large";
  case WAGI_HTTP_ERR_ARG: return "invalid_argument";
  default: return "unknown_error";
  }
}

int wagi_http_request_raw(const char *method, size_t method_len, const char *url, size_t url_len,
                          const char *header_text, size_t header_len, const void *body,
                          size_t body_len, wagi_http_response *out) {
  if (!out || (!method && method_len) || (!url && url_len) || (!header_text && header_len) ||
      (!body && body_len))
    return WAGI_HTTP_ERR_ARG;
  uint16_t status = 0;
  uint32_t handle = 0;
  uint32_t rc =
      wagi_http_raw_req(url ? url : "", (uint32_t)url_len, method ? method : "",
                        (uint32_t)method_len, header_text ? header_text : "", (uint32_t)header_len,
                        body ? body : "", (uint32_t)body_len, &status, &handle);
  if (rc != 0) return (int)rc;
  out->status = status;
  out->handle = handle;
  out->open = 1;
  return WAGI_HTTP_OK;
}

int wagi_http_request(const char *method, const char *url, const wagi_http_header *headers,
                      size_t nheaders, const void *body, size_t body_len, wagi_http_response *out) {
  if (!method || !url || (!headers && nheaders)) return WAGI_HTTP_ERR_ARG;
  size_t total = 0;
  for (size_t i = 0; i < nheaders; i++) {
    if (!headers[i].name || !headers[i].value || strchr(headers[i].name, ':'))
      return WAGI_HTTP_ERR_ARG;
    total += strlen(headers[i].name) + strlen(headers[i].value) + 2;
  }
  char *text = malloc(total + 1);
  if (!text) return WAGI_HTTP_ERR_NOMEM;
  size_t o = 0;
  for (size_t i = 0; i < nheaders; i++) {
    size_t nl = strlen(headers[i].name), vl = strlen(headers[i].value);
    memcpy(text + o, headers[i].name, nl);
    text[o + nl] = ':';
    memcpy(text + o + nl + 1, headers[i].value, vl);
    text[o + nl + 1 + vl] = '\n';
    o += nl + vl + 2;
  }
  int rc =
      wagi_http_request_raw(method, strlen(method), url, strlen(url), text, o, body, body_len, out);
  free(text);
  return rc;
}

int wagi_http_header_get(const wagi_http_response *r, const char *name, char **value, size_t *len) {
  if (!r || !name || !value || !len) return WAGI_HTTP_ERR_ARG;
  if (!r->open) return WAGI_HTTP_ERR_INVALID_HANDLE;
  for (uint32_t cap = HEADER_START; cap <= HEADER_MAX; cap *= 2) {
    char *buf = malloc(cap + 1);
    if (!buf) return WAGI_HTTP_ERR_NOMEM;
    uint32_t n = 0;
    uint32_t rc = wagi_http_raw_header_get(r->handle, name, (uint32_t)strlen(name), buf, cap, &n);
    if (rc == 0) {
      buf[n] = 0;
      *value = buf;
      *len = n;
      return WAGI_HTTP_OK;
    }
    free(buf);
    if (rc != WAGI_HTTP_ERR_BUFFER_TOO_SMALL) return (int)rc;
  }
  return WAGI_HTTP_ERR_TOO_LARGE;
}

int wagi_http_headers_all(const wagi_http_response *r, char **text, size_t *len) {
  if (!r || !text || !len) return WAGI_HTTP_ERR_ARG;
  if (!r->open) return WAGI_HTTP_ERR_INVALID_HANDLE;
  char *buf = malloc(HEADERS_ALL + 1);
  if (!buf) return WAGI_HTTP_ERR_NOMEM;
  uint32_t n = 0;
  uint32_t rc = wagi_http_raw_headers_get_all(r->handle, buf, HEADERS_ALL, &n);
  if (rc != 0) {
    free(buf);
    return (int)rc;
  }
  buf[n] = 0;
  *text = buf;
  *len = n;
  return WAGI_HTTP_OK;
}

int wagi_http_body_read(const wagi_http_response *r, void *buf, size_t cap, size_t *n) {
  if (!r || (!buf && cap) || !n) return WAGI_HTTP_ERR_ARG;
  if (!r->open) return WAGI_HTTP_ERR_INVALID_HANDLE;
  uint32_t got = 0;
  uint32_t rc = wagi_http_raw_body_read(r->handle, buf, (uint32_t)cap, &got);
  if (rc != 0) return (int)rc;
  *n = got;
  return WAGI_HTTP_OK;
}

int wagi_http_body_all(const wagi_http_response *r, size_t max, uint8_t **body, size_t *len) {
  if (!r || !body || !len) return WAGI_HTTP_ERR_ARG;
  if (!r->open) return WAGI_HTTP_ERR_INVALID_HANDLE;
  size_t cap = BODY_CHUNK, n = 0;
  uint8_t *b = malloc(cap + 1);
  if (!b) return WAGI_HTTP_ERR_NOMEM;
  for (;;) {
    if (cap - n < BODY_CHUNK) {
      size_t ncap = cap * 2;
      uint8_t *nb = realloc(b, ncap + 1);
      if (!nb) {
        free(b);
        return WAGI_HTTP_ERR_NOMEM;
      }
      b = nb;
      cap = ncap;
    }
    uint32_t got = 0;
    uint32_t rc = wagi_http_raw_body_read(r->handle, b + n, BODY_CHUNK, &got);
    if (rc != 0) {
      free(b);
      return (int)rc;
    }
    if (got == 0) break;
    n += got;
    if (n > max) {
      free(b);
      return WAGI_HTTP_ERR_TOO_LARGE;
    }
  }
  b[n] = 0;
  *body = b;
  *len = n;
  return WAGI_HTTP_OK;
}

void wagi_http_close(wagi_http_response *r) {
  if (!r || !r->open) return;
  wagi_http_raw_close(r->handle);
  r->open = 0;
}
