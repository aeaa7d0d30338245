/* http_int.h — internals shared by the src/http files and the unit tests.
 *
 *   http.c        ctx, handle table, the five host functions, argument checks
 *   http_parse.c  guest text: method tokens, header text, URLs + allow-list
 *   http_fetch.c  libcurl: global init, share handle, one request with its
 *                 redirects, response capture
 */
#ifndef WAGI_HTTP_INT_H
#define WAGI_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "http.h"

/* A buffered response. `headers` is exactly what headers_get_all returns:
 * "name:value\n" per header line, names lowercased, values trimmed. */
typedef struct http_response {
  uint16_t status;
  char *headers;
  size_t headers_len, headers_cap;
  uint8_t *body;
  size_t body_len, body_cap;
  size_t body_pos; /* body_read cursor */
} http_response;

void http_response_free(http_response *r);
/* Appends one raw header line as received ("Name: value\r\n"); status lines
 * and lines without ':' are ignored. Returns 0, or -1 when out of memory or
 * past the header budget. */
int http_response_add_header_line(http_response *r, const char *line, size_t len);
/* First value of header `name` (any case), or NULL; *len set. */
const char *http_response_header(const http_response *r, const char *name, size_t name_len,
                                 size_t *len);

/* ---- ctx internals (http.c) ---------------------------------------------------- */

struct http_ctx {
  http_allow_fn allow;
  void *allow_arg;
  http_denied_fn denied;
  void *denied_arg;
  uint32_t max_handles;
  uint32_t connect_timeout_ms;
  uint32_t timeout_ms;
  uint64_t deadline_ns;
  uint64_t max_body;
  char module_name[128];
  http_response **slots;   /* slots[i] = handle i, NULL when free */
  uint32_t nslots;         /* allocated length of slots */
  uint32_t next;           /* allocation counter (only moves forward) */
  uint32_t open;           /* occupied slots */
  _Atomic int interrupted; /* http_ctx_interrupt */
};

/* Stores `r` (taking ownership) under a fresh handle. Returns
 * HTTP_E_SUCCESS and the handle in *h, or HTTP_E_TOO_MANY_SESSIONS at the
 * limit / HTTP_E_RUNTIME out of memory (r is then freed). */
uint32_t http_ctx_insert(http_ctx *ctx, http_response *r, uint32_t *h);
http_response *http_ctx_get(http_ctx *ctx, uint32_t h);
/* Reports a URL the allow-list refused to ctx's `denied` callback, if any. */
void http_ctx_denied(const http_ctx *ctx, const char *url);
/* Frees handle h; false if it was not open. */
bool http_ctx_remove(http_ctx *ctx, uint32_t h);

/* ---- guest text (http_parse.c) --------------------------------------------------- */

/* 1 iff the method is a non-empty HTTP token (RFC 9110 tchar). */
bool http_method_valid(const uint8_t *s, size_t n);

/* Called per header line of the guest's header text. Returns
 * HTTP_E_SUCCESS to go on, another code to stop with it. */
typedef uint32_t (*http_header_cb)(void *arg, const char *name, size_t name_len, const char *value,
                                   size_t value_len);
/* Walks the guest's header text (see http.h). Returns HTTP_E_SUCCESS,
 * HTTP_E_UTF8, HTTP_E_INVALID_ENCODING (malformed line) or the callback's
 * code. */
uint32_t http_headers_parse(const uint8_t *text, size_t len, http_header_cb cb, void *arg);

/* The parts of a URL the allow-list needs. */
typedef struct {
  char scheme[8]; /* "http" / "https" */
  char host[256]; /* as in the URL (IPv6 with brackets), lowercased */
  uint16_t port;  /* explicit or default */
} http_dest;

/* Parses an absolute http(s) URL (a C string) with libcurl's URL parser.
 * Returns HTTP_E_SUCCESS and fills *d, or HTTP_E_INVALID_URL (unparsable,
 * no host, other scheme, user info) or HTTP_E_RUNTIME (out of memory). */
uint32_t http_url_dest(const char *url, http_dest *d);
/* HTTP_E_SUCCESS if ctx's allow-list admits d, else
 * HTTP_E_DESTINATION_NOT_ALLOWED. */
uint32_t http_dest_check(const http_ctx *ctx, const http_dest *d);

/* ---- libcurl (http_fetch.c) ---------------------------------------------------------- */

typedef struct {
  const char *url;        /* NUL-terminated, already checked */
  const char *method;     /* NUL-terminated token */
  const uint8_t *headers; /* guest header text (already validated) */
  size_t headers_len;
  const uint8_t *body; /* borrowed from guest memory */
  size_t body_len;
} http_request;

/* Performs `req` (with its redirects) under ctx's policy. Returns
 * HTTP_E_SUCCESS with a new response in *out (caller owns it), or
 * HTTP_E_DESTINATION_NOT_ALLOWED, HTTP_E_INVALID_URL, HTTP_E_REQUEST or
 * HTTP_E_RUNTIME; `why` gets a short reason for the log. */
uint32_t http_fetch(const http_ctx *ctx, const http_request *req, http_response **out, char *why,
                    size_t whylen);

/* The global defaults (http_global_config, else HTTP_DEFAULT_*). */
void http_global_defaults(uint32_t *connect_ms, uint32_t *timeout_ms, uint64_t *max_body);

/* Log through the http_set_log callback (no-op when unset). */
bool http_log_enabled(void);
void http_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs the embedder's blocking hook (http_set_blocking_hook), if any. */
void http_blocking(void);

#endif
