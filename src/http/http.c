/* http.c — the wasi_experimental_http host functions (WAGI.md §7): guest
 * memory access, argument checks in the reference's order, and the
 * per-instance handle table. The network part is http_fetch.c. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_int.h"

const char *http_errcode_str(uint32_t code) {
  static const char *const names[] = {
      "success",          "invalid_handle",  "memory_not_found",        "memory_access_error",
      "buffer_too_small", "header_not_found", "utf8_error",             "destination_not_allowed",
      "invalid_method",   "invalid_encoding", "invalid_url",            "request_error",
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
  if (!colon || colon == line) return 0;   /* status line, blank line, junk */
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) return 0;   /* status line */
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
  const char *p = r->headers, *end = r->headers + r->headers_len;
  while (p && p < end) {
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
  if (ctx->next == UINT32_MAX) {   /* 4 billion requests in one instance */
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
  return 0;
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

typedef struct {
  uint8_t *data;
  uint64_t size;
} gmem;

/* The guest's exported "memory" (WAGI.md §7: not memory 0 by index). */
static bool guest_memory(wasm_instance *inst, gmem *m) {
  wasm_extern e;
  if (!inst || wasm_instance_export(inst, "memory", &e) != WASM_OK || e.kind != WASM_EXTERN_MEMORY)
    return false;
  m->data = wasm_memory_data(e.of.memory);
  m->size = wasm_memory_size(e.of.memory);
  return true;
}

static bool in_bounds(const gmem *m, uint32_t ptr, uint32_t len) {
  return (uint64_t)ptr + len <= m->size;
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* ---- Linking ------------------------------------------------------------------------ */

typedef struct {
  http_get_ctx_fn get_ctx;
  void *arg;
} env_pair;

#define MAX_ENVS 64
static env_pair envs[MAX_ENVS];
static unsigned nenvs;
static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;

void *http_env_for(http_get_ctx_fn get_ctx, void *arg) {
  pthread_mutex_lock(&envs_lock);
  env_pair *e = NULL;
  for (unsigned i = 0; i < nenvs; i++)
    if (envs[i].get_ctx == get_ctx && envs[i].arg == arg) e = &envs[i];
  if (!e && nenvs < MAX_ENVS) {
    e = &envs[nenvs++];
    e->get_ctx = get_ctx;
    e->arg = arg;
  }
  pthread_mutex_unlock(&envs_lock);
  return e;
}

static http_ctx *ctx_of(wasm_instance *caller, void *env) {
  const env_pair *e = env;
  if (!caller) return NULL;
  if (!e || !e->get_ctx) return wasm_instance_user_data(caller);
  return e->get_ctx(caller, e->arg);
}

#define A(i) ((uint32_t)args[i])
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
  uint32_t url_ptr = A(0), url_len = A(1), m_ptr = A(2), m_len = A(3), h_ptr = A(4),
           h_len = A(5), b_ptr = A(6), b_len = A(7), status_out = A(8), handle_out = A(9);
  gmem m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  if (!ctx) return HTTP_E_DESTINATION_NOT_ALLOWED;
  if (ctx->open >= ctx->max_handles) return HTTP_E_TOO_MANY_SESSIONS;

  if (!in_bounds(&m, url_ptr, url_len)) return HTTP_E_BUFFER_TOO_SMALL;   /* reading input: 4 */
  if (!http_utf8_valid(m.data + url_ptr, url_len)) return HTTP_E_UTF8;
  /* libcurl refuses URLs over 8 MB anyway; no copy of a guest-sized blob. */
  if (url_len > HTTP_MAX_URL || memchr(m.data + url_ptr, 0, url_len)) return HTTP_E_INVALID_URL;
  char *url = dup_cstr(m.data + url_ptr, url_len);
  if (!url) return HTTP_E_RUNTIME;
  http_dest d;
  uint32_t rc = http_url_dest(url, &d);
  if (rc == 0) rc = http_dest_check(ctx, &d);
  if (rc != 0) {
    if (rc == HTTP_E_DESTINATION_NOT_ALLOWED)
      http_logf("%s: outbound request to %s://%s:%u denied (not in allowed_hosts)", ctx->module_name,
                d.scheme, d.host, d.port);
    free(url);
    return rc;
  }

  if (!in_bounds(&m, m_ptr, m_len)) rc = HTTP_E_BUFFER_TOO_SMALL;
  else if (!http_method_valid(m.data + m_ptr, m_len)) rc = HTTP_E_INVALID_METHOD;
  else if (!in_bounds(&m, b_ptr, b_len)) rc = HTTP_E_BUFFER_TOO_SMALL;
  else if (!in_bounds(&m, h_ptr, h_len)) rc = HTTP_E_BUFFER_TOO_SMALL;
  if (rc != 0) {
    free(url);
    return rc;
  }
  char *method = dup_cstr(m.data + m_ptr, m_len);
  if (!method) {
    free(url);
    return HTTP_E_RUNTIME;
  }

  http_request req = {url, method, m.data + h_ptr, h_len, m.data + b_ptr, b_len};
  http_response *resp = NULL;
  char why[256] = "";
  uint64_t t0 = base_now_ns();
  rc = http_fetch(ctx, &req, &resp, why, sizeof why);
  double ms = (double)(base_now_ns() - t0) / 1e6;
  if (rc != 0) {
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
  if (!in_bounds(&m, status_out, 2) || !in_bounds(&m, handle_out, 4)) {
    http_response_free(resp);
    return HTTP_E_MEMORY_ACCESS;
  }
  uint16_t status = resp->status;
  uint32_t h;
  rc = http_ctx_insert(ctx, resp, &h);
  if (rc != 0) return rc;
  m.data[status_out] = (uint8_t)status;
  m.data[status_out + 1] = (uint8_t)(status >> 8);
  put_u32(m.data + handle_out, h);
  return 0;
}

wasm_status http_fn_req(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_req(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

/* ---- close ------------------------------------------------------------------------ */

wasm_status http_fn_close(wasm_instance *caller, void *env, wasm_slot *args) {
  http_ctx *ctx = ctx_of(caller, env);
  if (ctx) http_ctx_remove(ctx, A(0));
  args[0] = 0;
  return WASM_OK;
}

/* ---- header_get ---------------------------------------------------------------------- */

static uint32_t do_header_get(wasm_instance *caller, http_ctx *ctx, wasm_slot *args) {
  uint32_t h = A(0), n_ptr = A(1), n_len = A(2), v_ptr = A(3), v_cap = A(4), w_out = A(5);
  gmem m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  http_response *r = http_ctx_get(ctx, h);
  if (!r) return HTTP_E_INVALID_HANDLE;
  if (!in_bounds(&m, n_ptr, n_len)) return HTTP_E_BUFFER_TOO_SMALL;
  if (!http_utf8_valid(m.data + n_ptr, n_len)) return HTTP_E_UTF8;
  size_t vlen;
  const char *v = http_response_header(r, (const char *)m.data + n_ptr, n_len, &vlen);
  if (!v) return HTTP_E_HEADER_NOT_FOUND;
  if (vlen > v_cap) return HTTP_E_BUFFER_TOO_SMALL;
  if (!in_bounds(&m, v_ptr, (uint32_t)vlen) || !in_bounds(&m, w_out, 4))
    return HTTP_E_MEMORY_ACCESS;
  memcpy(m.data + v_ptr, v, vlen);
  put_u32(m.data + w_out, (uint32_t)vlen);
  return 0;
}

wasm_status http_fn_header_get(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_header_get(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

/* ---- headers_get_all ----------------------------------------------------------------- */

static uint32_t do_headers_get_all(wasm_instance *caller, http_ctx *ctx, wasm_slot *args) {
  uint32_t h = A(0), b_ptr = A(1), b_cap = A(2), w_out = A(3);
  gmem m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  http_response *r = http_ctx_get(ctx, h);
  if (!r) return HTTP_E_INVALID_HANDLE;
  if (r->headers_len > b_cap) return HTTP_E_BUFFER_TOO_SMALL;
  if (!in_bounds(&m, b_ptr, (uint32_t)r->headers_len) || !in_bounds(&m, w_out, 4))
    return HTTP_E_MEMORY_ACCESS;
  if (r->headers_len) memcpy(m.data + b_ptr, r->headers, r->headers_len);
  put_u32(m.data + w_out, (uint32_t)r->headers_len);
  return 0;
}

wasm_status http_fn_headers_get_all(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_headers_get_all(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

/* ---- body_read -------------------------------------------------------------------------- */

static uint32_t do_body_read(wasm_instance *caller, http_ctx *ctx, wasm_slot *args) {
  uint32_t h = A(0), b_ptr = A(1), b_cap = A(2), w_out = A(3);
  gmem m;
  if (!guest_memory(caller, &m)) return HTTP_E_MEMORY_NOT_FOUND;
  http_response *r = http_ctx_get(ctx, h);
  if (!r) return HTTP_E_INVALID_HANDLE;
  size_t left = r->body_len - r->body_pos;
  uint32_t n = left < b_cap ? (uint32_t)left : b_cap;
  if (!in_bounds(&m, b_ptr, n) || !in_bounds(&m, w_out, 4)) return HTTP_E_MEMORY_ACCESS;
  if (n) memcpy(m.data + b_ptr, r->body + r->body_pos, n);
  r->body_pos += n;
  put_u32(m.data + w_out, n);
  return 0;
}

wasm_status http_fn_body_read(wasm_instance *caller, void *env, wasm_slot *args) {
  args[0] = do_body_read(caller, ctx_of(caller, env), args);
  return WASM_OK;
}

wasm_status http_define(wasm_linker *l, http_get_ctx_fn get_ctx, void *arg) {
  static const char mod[] = "wasi_experimental_http";
  void *env = http_env_for(get_ctx, arg);
  if (!env) return WASM_ERR_NOMEM;
  wasm_status s;
  if ((s = wasm_linker_define_func(l, mod, "req", "iiiiiiiiii->i", http_fn_req, env)) ||
      (s = wasm_linker_define_func(l, mod, "close", "i->i", http_fn_close, env)) ||
      (s = wasm_linker_define_func(l, mod, "header_get", "iiiiii->i", http_fn_header_get, env)) ||
      (s = wasm_linker_define_func(l, mod, "headers_get_all", "iiii->i", http_fn_headers_get_all,
                                   env)) ||
      (s = wasm_linker_define_func(l, mod, "body_read", "iiii->i", http_fn_body_read, env)))
    return s;
  return WASM_OK;
}
