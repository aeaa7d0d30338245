/* http.c — the wasi_experimental_http host functions (docs/modules.md
 * §Outbound HTTP): guest
 * memory access, argument checks in the reference's order, and the
 * per-instance handle table. The network part is http_fetch.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/utf8.h"
#include "http_int.h"

const char *http_errcode_str(uint32_t code) {
  static const char *const names[] = {
      "success",          "invalid_handle",    "memory_not_found", "memory_access_error",
      "buffer_too_small", "header_not_found",  "utf8_error",       "destination_not_allowed",
      "invalid_method",   "invalid_encoding",  "invalid_url",      "request_error",
      "runtime_error",    "too_many_sessions",
  };
  return code < sizeof names / sizeof names[0] ? names[code] : "unknown";
}

/* ---- Responses ------------------------------------------------------------------ */

void http_response_free(http_response *r) {
  if (!r) return;
  free(r->headers);
  free(r->body);
  free(r);
}

/* Headers a response may carry in total: far above real servers, and bounds
 * what a hostile upstream can make us hold besides the body. */
#define HEADERS_MAX ((size_t)1 << 20)

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

int http_response_add_header_line(http_response *r, const char *line, size_t len) {
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line) return 0;                   /* status line, blank line, junk */
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) return 0; /* status line */
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1;
  size_t vlen = len - nlen - 1;
  while (vlen && is_ows(*v)) v++, vlen--;
  while (vlen && is_ows(v[vlen - 1])) vlen--;
  size_t need = nlen + 1 + vlen + 1;
  if (r->headers_len + need > HEADERS_MAX) return -1;
  if (r->headers_len + need > r->headers_cap) {
    size_t cap = r->headers_cap ? r->headers_cap : 512;
    while (cap < r->headers_len + need) cap *= 2;
    char *n = realloc(r->headers, cap);
    if (!n) return -1;
    r->headers = n;
    r->headers_cap = cap;
  }
  char *o = r->headers + r->headers_len;
  for (size_t i = 0; i < nlen; i++)
    o[i] = (char)(line[i] >= 'A' && line[i] <= 'Z' ? line[i] - 'A' + 'a' : line[i]);
  o[nlen] = ':';
  memcpy(o + nlen + 1, v, vlen);
  o[nlen + 1 + vlen] = '\n';
  r->headers_len += need;
  return 0;
}

const char *http_response_header(const http_response *r, const char *name, size_t name_len,
                                 size_t *len) {
  if (!r->headers) return NULL; /* no header line came (NULL + 0 is undefined) */
  const char *p = r->headers, *end = r->headers + r->headers_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *colon = memchr(p, ':', (size_t)(nl - p));
    if (colon && (size_t)(colon - p) == name_len) {
      size_t i = 0;
      for (; i < name_len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != p[i]) break;
      }
      if (i == name_len) {
        *len = (size_t)(nl - colon - 1);
        return colon + 1;
      }
    }
    p = nl + 1;
  }
  return NULL;
}

/* ---- ctx ---------------------------------------------------------------------- */

http_status http_ctx_new(const http_config *cfg, http_ctx **out) {
  if (!cfg || !out) return HTTP_ERR_ARG;
  http_ctx *c = calloc(1, sizeof *c);
  if (!c) return HTTP_ERR_NOMEM;
  c->allow = cfg->allow;
  c->allow_arg = cfg->allow_arg;
  c->denied = cfg->denied;
  c->denied_arg = cfg->denied_arg;
  uint32_t dconnect, dtimeout;
  uint64_t dbody;
  http_global_defaults(&dconnect, &dtimeout, &dbody);
  c->max_handles = cfg->max_handles ? cfg->max_handles : HTTP_DEFAULT_MAX_HANDLES;
  c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : dconnect;
  c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : dtimeout;
  c->deadline_ns = cfg->deadline_ns;
  c->max_body = cfg->max_body ? cfg->max_body : dbody;
  snprintf(c->module_name, sizeof c->module_name, "%s", cfg->module_name ? cfg->module_name : "?");
  *out = c;
  return HTTP_OK;
}

void http_ctx_denied(const http_ctx *ctx, const char *url) {
  if (ctx && ctx->denied) ctx->denied(ctx->denied_arg, ctx->module_name, url);
}

void http_ctx_free(http_ctx *ctx) {
  if (!ctx) return;
  for (uint32_t i = 0; i < ctx->nslots; i++) http_response_free(ctx->slots[i]);
  free(ctx->slots);
  free(ctx);
}

void http_ctx_interrupt(http_ctx *ctx) {
  if (ctx) ctx->interrupted = 1;
}

uint32_t http_ctx_open_handles(const http_ctx *ctx) { return ctx ? ctx->open : 0; }

uint32_t http_ctx_insert(http_ctx *ctx, http_response *r, uint32_t *h) {
  if (ctx->open >= ctx->max_handles) {
    http_response_free(r);
    return HTTP_E_TOO_MANY_SESSIONS;
  }
  while (ctx->next < ctx->nslots && ctx->slots[ctx->next]) ctx->next++;
  if (ctx->next == UINT32_MAX) { /* 4 billion requests in one instance */
    http_response_free(r);
    return HTTP_E_TOO_MANY_SESSIONS;
  }
  if (ctx->next >= ctx->nslots) {
    uint32_t n = ctx->nslots ? ctx->nslots : 8;
    while (n <= ctx->next && n < UINT32_MAX / 2) n *= 2;
    if (n <= ctx->next) n = ctx->next + 1;
    http_response **s = realloc(ctx->slots, (size_t)n * sizeof *s);
    if (!s) {
      http_response_free(r);
      return HTTP_E_RUNTIME;
    }
    memset(s + ctx->nslots, 0, (size_t)(n - ctx->nslots) * sizeof *s);
    ctx->slots = s;
    ctx->nslots = n;
  }
  ctx->slots[ctx->next] = r;
  ctx->open++;
  *h = ctx->next;
  return HTTP_E_SUCCESS;
}

http_response *http_ctx_get(http_ctx *ctx, uint32_t h) {
  return ctx && h < ctx->nslots ? ctx->slots[h] : NULL;
}

bool http_ctx_remove(http_ctx *ctx, uint32_t h) {
  http_response *r = http_ctx_get(ctx, h);
  if (!r) return false;
  http_response_free(r);
  ctx->slots[h] = NULL;
  ctx->open--;
  return true;
}

/* ---- Logging -------------------------------------------------------------------- */

static _Atomic(http_log_fn) log_fn;

void http_set_log(http_log_fn fn) { log_fn = fn; }

static void (*blocking_hook)(void);
void http_set_blocking_hook(void (*hook)(void)) { blocking_hook = hook; }
void http_blocking(void) {
  if (blocking_hook) blocking_hook();
}

bool http_log_enabled(void) { return log_fn != NULL; }

void http_logf(const char *fmt, ...) {
  http_log_fn fn = log_fn;
  if (!fn) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fn(line);
}

/* ---- Guest memory ------------------------------------------------------------------ */

/* A view of the guest's exported "memory" (the ABI's rule: not memory 0 by
 * index); guest bytes are reached only through wasm_view_range. */
static bool guest_memory(wasm_instance *inst, wasm_memory_view *m) {
  wasm_extern e;
  if (!inst || wasm_instance_export(inst, "memory", &e) != WASM_OK || e.kind != WASM_EXTERN_MEMORY)
    return false;
  *m = wasm_memory_view_of(e.of.memory);
  return true;
}

/* ---- Linking ------------------------------------------------------------------------ */

static http_ctx *ctx_of(wasm_instance *caller, void *env) {
  const http_binding *e = env;
  if (!caller) return NULL;
  if (!e || !e->get_ctx) return wasm_instance_user_data(caller);
  return e->get_ctx(caller, e->arg);
}

/* The i32 argument `i` of a host call. */
#define HTTP_ARG(i) ((uint32_t)args[i])
#define HTTP_MAX_URL (1u << 20)

/* ---- req ------------------------------------------------------------------------------ */

/* Guest bytes as a NUL-terminated heap string: libcurl wants C strings. */
static char *dup_cstr(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, p, n);
  s[n] = 0;
  return s;
}

static uint32_t do_req(wasm_instance *caller, http_ctx *ctx, wasm_slot *args) {
  uint32_t url_len = HTTP_ARG(1), m_len = HTTP_ARG(3), h_len = HTTP_ARG(5), b_len = HTTP_ARG(7);
  wasm_memory_view m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  if (!ctx) return HTTP_E_DESTINATION_NOT_ALLOWED;
  if (ctx->open >= ctx->max_handles) return HTTP_E_TOO_MANY_SESSIONS;

  /* Unreadable input is BUFFER_TOO_SMALL (4), as the reference answers. */
  const uint8_t *url_in = wasm_view_range(&m, HTTP_ARG(0), url_len);
  if (!url_in) return HTTP_E_BUFFER_TOO_SMALL;
  if (!base_utf8_valid(url_in, url_len, NULL)) return HTTP_E_UTF8;
  /* libcurl refuses URLs over 8 MB anyway; no copy of a guest-sized blob. */
  if (url_len > HTTP_MAX_URL || memchr(url_in, 0, url_len)) return HTTP_E_INVALID_URL;
  char *url = dup_cstr(url_in, url_len);
  if (!url) return HTTP_E_RUNTIME;
  http_dest d;
  uint32_t rc = http_url_dest(url, &d);
  if (rc == HTTP_E_SUCCESS) rc = http_dest_check(ctx, &d);
  if (rc != HTTP_E_SUCCESS) {
    if (rc == HTTP_E_DESTINATION_NOT_ALLOWED) {
      http_logf("%s: outbound request to %s://%s:%u denied (not in allowed_hosts)",
                ctx->module_name, d.scheme, d.host, d.port);
      http_ctx_denied(ctx, url);
    }
    free(url);
    return rc;
  }

  const uint8_t *method_in = wasm_view_range(&m, HTTP_ARG(2), m_len);
  const uint8_t *body_in = wasm_view_range(&m, HTTP_ARG(6), b_len);
  const uint8_t *headers_in = wasm_view_range(&m, HTTP_ARG(4), h_len);
  if (!method_in) rc = HTTP_E_BUFFER_TOO_SMALL;
  else if (!http_method_valid(method_in, m_len)) rc = HTTP_E_INVALID_METHOD;
  else if (!body_in || !headers_in) rc = HTTP_E_BUFFER_TOO_SMALL;
  if (rc != HTTP_E_SUCCESS) {
    free(url);
    return rc;
  }
  char *method = dup_cstr(method_in, m_len);
  if (!method) {
    free(url);
    return HTTP_E_RUNTIME;
  }

  http_request req = {url, method, headers_in, h_len, body_in, b_len};
  http_response *resp = NULL;
  char why[256] = "";
  uint64_t t0 = base_now_ns();
  rc = http_fetch(ctx, &req, &resp, why, sizeof why);
  double ms = (double)(base_now_ns() - t0) / 1e6;
  if (rc != HTTP_E_SUCCESS) {
    http_logf("%s: outbound %s %s://%s:%u failed after %.1f ms: %s (%s)", ctx->module_name, method,
              d.scheme, d.host, d.port, ms, http_errcode_str(rc), why[0] ? why : "-");
    free(url);
    free(method);
    return rc;
  }
  http_logf("%s: outbound %s %s://%s:%u -> %u, %zu bytes, %.1f ms", ctx->module_name, method,
            d.scheme, d.host, d.port, resp->status, resp->body_len, ms);
  free(url);
  free(method);

  /* The outputs are checked after the request, as the reference does; no
   * guest code ran meanwhile, so `m` is still the guest's memory. */
  uint8_t *status_out = wasm_view_range(&m, HTTP_ARG(8), 2);
  uint8_t *handle_out = wasm_view_range(&m, HTTP_ARG(9), 4);
  if (!status_out || !handle_out) {
    http_response_free(resp);
    return HTTP_E_MEMORY_ACCESS;
  }
  uint16_t status = resp->status;
  uint32_t h;
  rc = http_ctx_insert(ctx, resp, &h);
  if (rc != HTTP_E_SUCCESS) return rc;
  wasm_store_le16(status_out, status);
  wasm_store_le32(handle_out, h);
  return HTTP_E_SUCCESS;
}

wasm_status http_fn_req(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_req(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

/* ---- close ------------------------------------------------------------------------ */

wasm_status http_fn_close(wasm_instance *caller, void *env, wasm_slot *args) {
  http_ctx *ctx = ctx_of(caller, env);
  if (ctx) http_ctx_remove(ctx, HTTP_ARG(0));
  args[0] = HTTP_E_SUCCESS;
  return WASM_OK;
}

/* ---- header_get ---------------------------------------------------------------------- */

static uint32_t do_header_get(wasm_instance *caller, http_ctx *ctx, wasm_slot *args) {
  uint32_t n_len = HTTP_ARG(2), v_cap = HTTP_ARG(4);
  wasm_memory_view m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  http_response *r = http_ctx_get(ctx, HTTP_ARG(0));
  if (!r) return HTTP_E_INVALID_HANDLE;
  const uint8_t *name = wasm_view_range(&m, HTTP_ARG(1), n_len);
  if (!name) return HTTP_E_BUFFER_TOO_SMALL;
  if (!base_utf8_valid(name, n_len, NULL)) return HTTP_E_UTF8;
  size_t vlen;
  const char *v = http_response_header(r, (const char *)name, n_len, &vlen);
  if (!v) return HTTP_E_HEADER_NOT_FOUND;
  if (vlen > v_cap) return HTTP_E_BUFFER_TOO_SMALL;
  uint8_t *out = wasm_view_range(&m, HTTP_ARG(3), vlen),
          *written = wasm_view_range(&m, HTTP_ARG(5), 4);
  if (!out || !written) return HTTP_E_MEMORY_ACCESS;
  memcpy(out, v, vlen);
  wasm_store_le32(written, (uint32_t)vlen);
  return HTTP_E_SUCCESS;
}

wasm_status http_fn_header_get(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_header_get(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

/* ---- headers_get_all ----------------------------------------------------------------- */

static uint32_t do_headers_get_all(wasm_instance *caller, http_ctx *ctx, wasm_slot *args) {
  wasm_memory_view m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  http_response *r = http_ctx_get(ctx, HTTP_ARG(0));
  if (!r) return HTTP_E_INVALID_HANDLE;
  if (r->headers_len > HTTP_ARG(2)) return HTTP_E_BUFFER_TOO_SMALL;
  uint8_t *out = wasm_view_range(&m, HTTP_ARG(1), r->headers_len);
  uint8_t *written = wasm_view_range(&m, HTTP_ARG(3), 4);
  if (!out || !written) return HTTP_E_MEMORY_ACCESS;
  if (r->headers_len) memcpy(out, r->headers, r->headers_len);
  wasm_store_le32(written, (uint32_t)r->headers_len);
  return HTTP_E_SUCCESS;
}

wasm_status http_fn_headers_get_all(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_headers_get_all(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

/* ---- body_read -------------------------------------------------------------------------- */

static uint32_t do_body_read(wasm_instance *caller, http_ctx *ctx, wasm_slot *args) {
  uint32_t b_cap = HTTP_ARG(2);
  wasm_memory_view m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  http_response *r = http_ctx_get(ctx, HTTP_ARG(0));
  if (!r) return HTTP_E_INVALID_HANDLE;
  size_t left = r->body_len - r->body_pos;
  uint32_t n = left < b_cap ? (uint32_t)left : b_cap;
  uint8_t *out = wasm_view_range(&m, HTTP_ARG(1), n),
          *written = wasm_view_range(&m, HTTP_ARG(3), 4);
  if (!out || !written) return HTTP_E_MEMORY_ACCESS;
  if (n) memcpy(out, r->body + r->body_pos, n);
  r->body_pos += n;
  wasm_store_le32(written, n);
  return HTTP_E_SUCCESS;
}

wasm_status http_fn_body_read(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_body_read(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

/* One definition; with a get_ctx, its own binding for the linker to own. */
static wasm_status define_one(wasm_linker *l, const char *name, const char *sig, wasm_host_fn fn,
                              http_get_ctx_fn get_ctx, void *arg) {
  static const char mod[] = "wasi_experimental_http";
  if (!get_ctx) return wasm_linker_define_func(l, mod, name, sig, fn, NULL);
  http_binding *b = malloc(sizeof *b);
  if (!b) return WASM_ERR_NOMEM;
  *b = (http_binding){get_ctx, arg};
  return wasm_linker_define_func_owned(l, mod, name, sig, fn, b, free);
}

wasm_status http_define(wasm_linker *l, http_get_ctx_fn get_ctx, void *arg) {
  wasm_status s;
  if ((s = define_one(l, "req", "iiiiiiiiii->i", http_fn_req, get_ctx, arg)) ||
      (s = define_one(l, "close", "i->i", http_fn_close, get_ctx, arg)) ||
      (s = define_one(l, "header_get", "iiiiii->i", http_fn_header_get, get_ctx, arg)) ||
      (s = define_one(l, "headers_get_all", "iiii->i", http_fn_headers_get_all, get_ctx, arg)) ||
      (s = define_one(l, "body_read", "iiii->i", http_fn_body_read, get_ctx, arg)))
    return s;
  return WASM_OK;
}
