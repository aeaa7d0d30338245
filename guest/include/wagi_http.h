/* wagi_http.h — outbound HTTP for C modules run by WAGI (wagi-c or the
 * reference server), over the `wasi_experimental_http` host ABI.
 *
 * Build: clang-16 --target=wasm32-wasi -Iguest/include app.c
 *        guest/src/wagi_http.c -o app.wasm
 * The module's modules.toml entry must list the destination in
 * allowed_hosts ("https://api.example.com"); everything else is refused.
 *
 *   wagi_http_header h[] = {{"accept", "application/json"}};
 *   wagi_http_response r;
 *   int rc = wagi_http_request("GET", "https://api.example.com/v1/x", h, 1,
 *                              NULL, 0, &r);
 *   if (rc != WAGI_HTTP_OK) { puts(wagi_http_strerror(rc)); return; }
 *   uint8_t *body; size_t n;
 *   rc = wagi_http_body_all(&r, 1 << 20, &body, &n);   // malloc'd
 *   wagi_http_close(&r);
 *
 * Every function returns a WAGI_HTTP_* code: 0 or the host's error code
 * (1..13, see the enum), or WAGI_HTTP_ERR_NOMEM / _TOO_LARGE from the
 * library itself. Strings returned through pointers are malloc'd and
 * NUL-terminated (the caller frees them); the length excludes the NUL.
 * A response holds host memory until wagi_http_close: the host allows only
 * a few open responses per request (http_max_concurrency).
 */
#ifndef WAGI_HTTP_GUEST_H
#define WAGI_HTTP_GUEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_HTTP_OK = 0,
  WAGI_HTTP_ERR_INVALID_HANDLE = 1,
  WAGI_HTTP_ERR_MEMORY_NOT_FOUND = 2,
  WAGI_HTTP_ERR_MEMORY_ACCESS = 3,
  WAGI_HTTP_ERR_BUFFER_TOO_SMALL = 4,
  WAGI_HTTP_ERR_HEADER_NOT_FOUND = 5,
  WAGI_HTTP_ERR_UTF8 = 6,
  WAGI_HTTP_ERR_DESTINATION_NOT_ALLOWED = 7,
  WAGI_HTTP_ERR_INVALID_METHOD = 8,
  WAGI_HTTP_ERR_INVALID_ENCODING = 9,
  WAGI_HTTP_ERR_INVALID_URL = 10,
  WAGI_HTTP_ERR_REQUEST = 11,
  WAGI_HTTP_ERR_RUNTIME = 12,
  WAGI_HTTP_ERR_TOO_MANY_SESSIONS = 13,
  /* From the library, not the host. */
  WAGI_HTTP_ERR_NOMEM = 100,     /* malloc failed */
  WAGI_HTTP_ERR_TOO_LARGE = 101, /* header over 64 KiB, body over the caller's max */
  WAGI_HTTP_ERR_ARG = 102,       /* NULL where a value is required, a name with ':' ... */
};

/* Static name of a code ("destination_not_allowed"); never freed. */
const char *wagi_http_strerror(int code);

typedef struct {
  const char *name;  /* a token: letters, digits, !#$%&'*+-.^_`|~ */
  const char *value; /* no CR / LF */
} wagi_http_header;

typedef struct {
  uint16_t status; /* HTTP status code */
  uint32_t handle; /* host handle; valid while `open` */
  int open;
} wagi_http_response;

/* Sends a request and waits for the whole response (the host buffers the
 * body). `headers` may be NULL when nheaders is 0; `body` may be NULL when
 * body_len is 0. Everything passed in stays the caller's (it is copied by
 * the host before returning). On success fills *out (status, open handle);
 * the caller then owns the response and releases it with wagi_http_close. */
int wagi_http_request(const char *method, const char *url, const wagi_http_header *headers,
                      size_t nheaders, const void *body, size_t body_len, wagi_http_response *out);

/* Same with the header text already in the host's format: lines
 * "name:value" separated by "\n". Useful for forwarding headers verbatim. */
int wagi_http_request_raw(const char *method, size_t method_len, const char *url, size_t url_len,
                          const char *header_text, size_t header_len, const void *body,
                          size_t body_len, wagi_http_response *out);

/* First value of response header `name` (any case). Starts with a 4 KiB
 * buffer and doubles it up to 64 KiB while the host says it is too small.
 * On WAGI_HTTP_OK *value is a malloc'd, NUL-terminated copy that the caller
 * frees with free(); it does not depend on the response (still valid after
 * wagi_http_close). On any error *value and *len are left untouched and
 * nothing needs freeing. */
int wagi_http_header_get(const wagi_http_response *r, const char *name, char **value, size_t *len);

/* All response headers as "name:value\n" lines (lowercase names), read
 * into a 64 KiB buffer (WAGI_HTTP_ERR_BUFFER_TOO_SMALL beyond). On
 * WAGI_HTTP_OK *text is malloc'd and NUL-terminated, owned by the caller
 * (free()), independent of the response; on error *text and *len are left
 * untouched and nothing needs freeing. */
int wagi_http_headers_all(const wagi_http_response *r, char **text, size_t *len);

/* Reads the next part of the body into the caller's buf (up to cap bytes);
 * *n = 0 at the end. */
int wagi_http_body_read(const wagi_http_response *r, void *buf, size_t cap, size_t *n);

/* Reads the rest of the body in 4 KiB chunks into a malloc'd buffer (with
 * a NUL after it); more than `max` bytes gives WAGI_HTTP_ERR_TOO_LARGE. On
 * WAGI_HTTP_OK the caller owns *body (free()); on error nothing is
 * returned and nothing needs freeing. */
int wagi_http_body_all(const wagi_http_response *r, size_t max, uint8_t **body, size_t *len);

/* Releases the response on the host (safe to call twice). Strings and
 * bodies returned earlier stay valid: they are the caller's copies. */
void wagi_http_close(wagi_http_response *r);

/* ---- The host ABI itself (docs/modules.md §Outbound HTTP), for raw use ---- */

#define WAGI_HTTP_IMPORT(n) __attribute__((import_module("wasi_experimental_http"), import_name(n)))

WAGI_HTTP_IMPORT("req")
uint32_t wagi_http_raw_req(const char *url, uint32_t url_len, const char *method,
                           uint32_t method_len, const char *headers, uint32_t headers_len,
                           const void *body, uint32_t body_len, uint16_t *status_out,
                           uint32_t *handle_out);
WAGI_HTTP_IMPORT("close")
uint32_t wagi_http_raw_close(uint32_t handle);
WAGI_HTTP_IMPORT("header_get")
uint32_t wagi_http_raw_header_get(uint32_t handle, const char *name, uint32_t name_len, char *value,
                                  uint32_t value_cap, uint32_t *written_out);
WAGI_HTTP_IMPORT("headers_get_all")
uint32_t wagi_http_raw_headers_get_all(uint32_t handle, char *buf, uint32_t buf_cap,
                                       uint32_t *written_out);
WAGI_HTTP_IMPORT("body_read")
uint32_t wagi_http_raw_body_read(uint32_t handle, void *buf, uint32_t buf_cap,
                                 uint32_t *written_out);

#ifdef __cplusplus
}
#endif
#endif
