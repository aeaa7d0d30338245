/* test_http.c — the outbound-HTTP layer without a network: allow-list
 * matching (WAGI.md §7.3 vectors under wagi-c's stricter rule), the guest's
 * header text, response header storage, handle numbering, and the argument
 * checks of the host functions in their documented order (called directly
 * on an instance of a tiny module that exports its memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wasm/wasm.h"
#include "unit_util.h"
#include "base/clock.h"
#include "http/http.h"
#include "http/http_int.h"
#include "server/config.h"

/* (module (memory (export "memory") 1)) */
static const unsigned char mem_module[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05,
                                           0x03, 0x01, 0x00, 0x01, 0x07, 0x0a, 0x01, 0x06, 'm',
                                           'e',  'm',  'o',  'r',  'y',  0x02, 0x00};
/* (module) */
static const unsigned char empty_module[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

/* ---- allow-list ------------------------------------------------------------------- */

static void add_entry(srv_module_config *m, const char *e) {
  char why[256];
  m->allowed_hosts = realloc(m->allowed_hosts, (m->n_allowed_hosts + 1) * sizeof *m->allowed_hosts);
  assert_non_null(m->allowed_hosts);
  if (srv_allowed_host_parse(e, &m->allowed_hosts[m->n_allowed_hosts], why, sizeof why) != 0)
    fail_msg("entry %s: %s", e, why);
  m->n_allowed_hosts++;
}

static void clear_cfg(srv_module_config *m) {
  for (size_t i = 0; i < m->n_allowed_hosts; i++) srv_allowed_host_clear(&m->allowed_hosts[i]);
  free(m->allowed_hosts);
  memset(m, 0, sizeof *m);
}

static bool allow_cfg(void *arg, const char *scheme, const char *host, uint16_t port) {
  return srv_module_allows_host(arg, scheme, host, port);
}

/* What `req` decides for `url` before any I/O: 0 allowed, 7, 10. */
static uint32_t decide(srv_module_config *m, const char *url) {
  http_config hc = {0};
  hc.allow = m ? allow_cfg : NULL;
  hc.allow_arg = m;
  http_ctx *c;
  assert_int_equal(http_ctx_new(&hc, &c), HTTP_OK);
  http_dest d;
  uint32_t rc = http_url_dest(url, &d);
  if (rc == HTTP_E_SUCCESS) rc = http_dest_check(c, &d);
  http_ctx_free(c);
  return rc;
}

static void test_allow_reference_vectors(void **state) {
  (void)state;
  srv_module_config m = {0};
  add_entry(&m, "https://api.brigade.sh");
  add_entry(&m, "https://example.com");
  add_entry(&m, "http://192.168.0.1");
  assert_int_equal(decide(&m, "https://api.brigade.sh/healthz"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "https://example.com/some/path/with/more/paths"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "http://192.168.0.1/login"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "https://test.brigade.sh"), HTTP_E_DESTINATION_NOT_ALLOWED);
  assert_int_equal(decide(&m, "not even a url"), HTTP_E_INVALID_URL);
  m.allow_all_hosts = true;
  assert_int_equal(decide(&m, "https://test.brigade.sh"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "http://anything.example:9/x"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "not even a url"), HTTP_E_INVALID_URL);
  clear_cfg(&m);
}

static void test_allow_stricter_rule(void **state) {
  (void)state;
  srv_module_config m = {0};
  add_entry(&m, "https://api.example.com");
  add_entry(&m, "http://localhost:8080/");
  add_entry(&m, "http://[::1]:9000");
  /* Scheme and port must match too (the reference ignores both). */
  assert_int_equal(decide(&m, "http://api.example.com/"), HTTP_E_DESTINATION_NOT_ALLOWED);
  assert_int_equal(decide(&m, "https://api.example.com:8443/"), HTTP_E_DESTINATION_NOT_ALLOWED);
  assert_int_equal(decide(&m, "https://api.example.com:443/x"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "https://API.Example.COM/x?q=1"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "https://sub.api.example.com/"), HTTP_E_DESTINATION_NOT_ALLOWED);
  assert_int_equal(decide(&m, "http://localhost:8080/a/b"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "http://localhost/a/b"), HTTP_E_DESTINATION_NOT_ALLOWED);
  assert_int_equal(decide(&m, "http://localhost:8081/"), HTTP_E_DESTINATION_NOT_ALLOWED);
  assert_int_equal(decide(&m, "http://[::1]:9000/"), HTTP_E_SUCCESS);
  assert_int_equal(decide(&m, "http://[::1]:9001/"), HTTP_E_DESTINATION_NOT_ALLOWED);
  /* A user@ prefix must not smuggle another host past the check. */
  assert_int_equal(decide(&m, "https://api.example.com@evil.example/"), HTTP_E_INVALID_URL);
  assert_int_equal(decide(&m, "https://evil.example/#@api.example.com"),
                   HTTP_E_DESTINATION_NOT_ALLOWED);
  /* Only http and https; no host, no scheme: invalid URL. */
  assert_int_equal(decide(&m, "ftp://api.example.com/"), HTTP_E_INVALID_URL);
  assert_int_equal(decide(&m, "file:///etc/passwd"), HTTP_E_INVALID_URL);
  assert_int_equal(decide(&m, "api.example.com/x"), HTTP_E_INVALID_URL);
  assert_int_equal(decide(&m, "http://"), HTTP_E_INVALID_URL);
  assert_int_equal(decide(&m, ""), HTTP_E_INVALID_URL);
  clear_cfg(&m);
}

static void test_allow_empty_and_null(void **state) {
  (void)state;
  srv_module_config m = {0};
  assert_int_equal(decide(&m, "https://api.example.com/"),
                   HTTP_E_DESTINATION_NOT_ALLOWED); /* empty list */
  assert_int_equal(decide(NULL, "https://api.example.com/"),
                   HTTP_E_DESTINATION_NOT_ALLOWED); /* no policy: `_routes` */
  assert_int_equal(decide(NULL, "nope"), HTTP_E_INVALID_URL);
}

static void test_allow_entry_errors(void **state) {
  (void)state;
  const char *bad[] = {"example.com",
                       "api.example.com:443",
                       "ftp://example.com",
                       "https://",
                       "https://example.com/path",
                       "https://u@example.com",
                       "https://example.com:0",
                       "https://example.com:70000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    srv_allowed_host h;
    memset(&h, 0, sizeof h);
    char why[256];
    if (srv_allowed_host_parse(bad[i], &h, why, sizeof why) == 0) fail_msg("accepted %s", bad[i]);
    assert_true(why[0] != 0);
  }
}

/* ---- guest header text ------------------------------------------------------------------ */

typedef struct {
  char out[512];
  size_t n;
  int count;
} collect;

static uint32_t collect_cb(void *arg, const char *name, size_t nl, const char *value, size_t vl) {
  collect *c = arg;
  c->n += (size_t)snprintf(c->out + c->n, sizeof c->out - c->n, "[%.*s|%.*s]", (int)nl, name,
                           (int)vl, value);
  c->count++;
  return 0;
}

static uint32_t parse(const char *text, collect *c) {
  memset(c, 0, sizeof *c);
  return http_headers_parse((const uint8_t *)text, strlen(text), collect_cb, c);
}

static void test_header_text(void **state) {
  (void)state;
  collect c;
  assert_int_equal(parse("", &c), HTTP_E_SUCCESS);
  assert_int_equal(c.count, 0);
  assert_int_equal(parse("a:b\nContent-Type:text/plain\n", &c), HTTP_E_SUCCESS);
  assert_string_equal(c.out, "[a|b][Content-Type|text/plain]");
  /* CRLF tolerated, empty lines skipped, value as is (spaces kept), no final LF. */
  assert_int_equal(parse("x-a: v 1 \r\n\r\n\nx-b:\nx-c:a:b", &c), HTTP_E_SUCCESS);
  assert_string_equal(c.out, "[x-a| v 1 ][x-b|][x-c|a:b]");
  assert_int_equal(parse("novalue\n", &c), HTTP_E_INVALID_ENCODING);
  assert_int_equal(parse(":v\n", &c), HTTP_E_INVALID_ENCODING);
  assert_int_equal(parse("a b:c\n", &c), HTTP_E_INVALID_ENCODING);
  assert_int_equal(parse("a(b):c\n", &c), HTTP_E_INVALID_ENCODING);
  assert_int_equal(parse("a:b\rc\n", &c), HTTP_E_INVALID_ENCODING);
  assert_int_equal(parse("a:\x01\n", &c), HTTP_E_INVALID_ENCODING);
  assert_int_equal(parse("a:\xc3\xa9\n", &c), HTTP_E_SUCCESS); /* UTF-8 value: passed on */
  assert_int_equal(parse("a:\xff\n", &c), HTTP_E_UTF8);
  assert_int_equal(parse("a:\xc0\x80\n", &c), HTTP_E_UTF8);     /* overlong */
  assert_int_equal(parse("a:\xed\xa0\x80\n", &c), HTTP_E_UTF8); /* surrogate */
}

static void test_method_token(void **state) {
  (void)state;
  const char *ok[] = {"GET", "post", "PROPFIND", "M-SEARCH", "x!#$%&'*+.^_`|~9"};
  for (size_t i = 0; i < 5; i++)
    assert_true(http_method_valid((const uint8_t *)ok[i], strlen(ok[i])));
  const char *bad[] = {"", "GE T", "GET\r\n", "G:T", "GÉT", "G\"T"};
  for (size_t i = 0; i < 6; i++)
    assert_false(http_method_valid((const uint8_t *)bad[i], strlen(bad[i])));
}

/* ---- response headers ------------------------------------------------------------------ */

static http_response *fake_response(const char *body) {
  http_response *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->status = 200;
  const char *lines[] = {
      "HTTP/1.1 200 OK\r\n", "Content-Type:  text/plain \r\n", "X-Multi: one\r\n",
      "x-multi: two\r\n",    "Set-Cookie: a=b; Path=/\r\n",    "\r\n"};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(http_response_add_header_line(r, lines[i], strlen(lines[i])), 0);
  r->body_len = strlen(body);
  r->body = (uint8_t *)strdup(body);
  return r;
}

static void test_response_headers(void **state) {
  (void)state;
  http_response *r = fake_response("");
  assert_int_equal(r->headers_len, strlen("content-type:text/plain\nx-multi:one\nx-multi:two\n"
                                          "set-cookie:a=b; Path=/\n"));
  assert_memory_equal(r->headers,
                      "content-type:text/plain\nx-multi:one\nx-multi:two\nset-cookie:a=b; Path=/\n",
                      r->headers_len);
  size_t n;
  const char *v = http_response_header(r, "X-MULTI", 7, &n);
  assert_non_null(v);
  assert_int_equal(n, 3);
  assert_memory_equal(v, "one", 3);
  assert_null(http_response_header(r, "x-mult", 6, &n));
  assert_null(http_response_header(r, "content-type:", 13, &n));
  http_response_free(r);
}

/* ---- handles -----------------------------------------------------------------------------------
 */

static void test_handle_numbering(void **state) {
  (void)state;
  http_config hc = {0};
  hc.max_handles = 3;
  http_ctx *c;
  assert_int_equal(http_ctx_new(&hc, &c), HTTP_OK);
  uint32_t h;
  assert_int_equal(http_ctx_insert(c, fake_response("a"), &h), HTTP_E_SUCCESS);
  assert_int_equal(h, 0);
  assert_int_equal(http_ctx_insert(c, fake_response("b"), &h), HTTP_E_SUCCESS);
  assert_int_equal(h, 1);
  /* Counter sits on 1: closing 1 makes it the next number again. */
  assert_true(http_ctx_remove(c, 1));
  assert_false(http_ctx_remove(c, 1));
  assert_int_equal(http_ctx_insert(c, fake_response("c"), &h), HTTP_E_SUCCESS);
  assert_int_equal(h, 1);
  /* 0 is freed but the counter has moved past it: never reused. */
  assert_true(http_ctx_remove(c, 0));
  assert_int_equal(http_ctx_insert(c, fake_response("d"), &h), HTTP_E_SUCCESS);
  assert_int_equal(h, 2);
  assert_int_equal(http_ctx_insert(c, fake_response("e"), &h), HTTP_E_SUCCESS);
  assert_int_equal(h, 3);
  assert_int_equal(http_ctx_open_handles(c), 3);
  /* Limit: 3 open. */
  assert_int_equal(http_ctx_insert(c, fake_response("f"), &h), HTTP_E_TOO_MANY_SESSIONS);
  assert_false(http_ctx_remove(c, 99));
  assert_null(http_ctx_get(c, 0));
  assert_non_null(http_ctx_get(c, 3));
  http_ctx_free(c); /* frees the open ones (ASan/valgrind: no leak) */
}

/* ---- host functions on a real instance ---------------------------------------------------------
 */

typedef struct {
  wasm_module *mod;
  wasm_instance *inst;
  uint8_t *mem;
  http_ctx *ctx;
  http_binding env;
} world;

static http_ctx *world_ctx(wasm_instance *caller, void *arg) {
  (void)caller;
  return ((world *)arg)->ctx;
}

/* Admits http://127.0.0.1:1 (port 1 refuses connections at once) and
 * http://127.0.0.1:<silent_port>. */
static uint16_t silent_port;

static bool allow_port1(void *arg, const char *scheme, const char *host, uint16_t port) {
  (void)arg;
  return strcmp(scheme, "http") == 0 && strcmp(host, "127.0.0.1") == 0 &&
         (port == 1 || (silent_port && port == silent_port));
}

static world *world_new(const unsigned char *b, size_t n, uint32_t max_handles) {
  world *w = calloc(1, sizeof *w);
  w->mod = compile_or_fail(b, n);
  w->inst = instantiate_or_fail(w->mod, NULL, NULL);
  wasm_memory *m = wasm_instance_memory(w->inst);
  w->mem = m ? wasm_memory_data(m) : NULL;
  http_config hc = {0};
  hc.allow = allow_port1;
  hc.max_handles = max_handles;
  hc.connect_timeout_ms = 2000;
  hc.timeout_ms = 3000;
  hc.module_name = "unit";
  assert_int_equal(http_ctx_new(&hc, &w->ctx), HTTP_OK);
  w->env = (http_binding){world_ctx, w};
  return w;
}

static void world_free(world *w) {
  http_ctx_free(w->ctx);
  wasm_instance_free(w->inst);
  wasm_module_free(w->mod);
  free(w);
}

/* Guest memory layout used below. */
enum {
  P_URL = 0x100,
  P_METHOD = 0x200,
  P_HDRS = 0x300,
  P_BODY = 0x400,
  P_STATUS = 0x500,
  P_HANDLE = 0x504,
  P_BUF = 0x600,
  P_NAME = 0x700,
  P_WRITTEN = 0x780,
  OOB = 0x10000
};

static uint32_t put(world *w, uint32_t at, const char *s) {
  size_t n = strlen(s);
  memcpy(w->mem + at, s, n);
  return (uint32_t)n;
}

static uint32_t call(world *w, wasm_host_fn fn, const uint32_t *a, size_t n) {
  wasm_slot s[10] = {0};
  for (size_t i = 0; i < n; i++) s[i] = a[i];
  assert_int_equal(fn(w->inst, &w->env, s), WASM_OK);
  return (uint32_t)s[0];
}

static uint32_t req(world *w, const char *url, uint32_t url_len_or_oob, const char *method,
                    const char *hdrs, const char *body, uint32_t body_ptr) {
  uint32_t ul = url ? put(w, P_URL, url) : 100;
  uint32_t up = url ? P_URL : url_len_or_oob;
  uint32_t ml = method ? put(w, P_METHOD, method) : 100;
  uint32_t mp = method ? P_METHOD : OOB - 10;
  uint32_t hl = hdrs ? put(w, P_HDRS, hdrs) : 100;
  uint32_t hp = hdrs ? P_HDRS : OOB - 10;
  uint32_t bl = body ? put(w, P_BODY, body) : 100;
  uint32_t bp = body ? body_ptr : OOB - 10;
  uint32_t a[10] = {up, ul, mp, ml, hp, hl, bp, bl, P_STATUS, P_HANDLE};
  return call(w, http_fn_req, a, 10);
}

static void test_req_check_order(void **state) {
  (void)state;
  world *w = world_new(mem_module, sizeof mem_module, 1);
  const char *ok = "http://127.0.0.1:1/x";
  /* Each line breaks one more check than the next line: the earliest wins. */
  assert_int_equal(req(w, NULL, OOB - 10, NULL, NULL, NULL, 0),
                   HTTP_E_BUFFER_TOO_SMALL);                                     /* URL oob */
  assert_int_equal(req(w, "http://\xff/", 0, NULL, NULL, NULL, 0), HTTP_E_UTF8); /* URL utf-8 */
  assert_int_equal(req(w, "not even a url", 0, NULL, NULL, NULL, 0),
                   HTTP_E_INVALID_URL); /* URL syntax */
  assert_int_equal(req(w, "http://127.0.0.1:2/", 0, NULL, NULL, NULL, 0),
                   HTTP_E_DESTINATION_NOT_ALLOWED);                              /* allow-list */
  assert_int_equal(req(w, ok, 0, NULL, NULL, NULL, 0), HTTP_E_BUFFER_TOO_SMALL); /* method oob */
  assert_int_equal(req(w, ok, 0, "GE T", NULL, NULL, 0), HTTP_E_INVALID_METHOD); /* method token */
  assert_int_equal(req(w, ok, 0, "", NULL, NULL, 0), HTTP_E_INVALID_METHOD);
  assert_int_equal(req(w, ok, 0, "POST", NULL, NULL, 0), HTTP_E_BUFFER_TOO_SMALL); /* body oob */
  assert_int_equal(req(w, ok, 0, "POST", NULL, "x", P_BODY),
                   HTTP_E_BUFFER_TOO_SMALL);                                   /* headers oob */
  assert_int_equal(req(w, ok, 0, "POST", "a:\xff", "x", P_BODY), HTTP_E_UTF8); /* headers utf-8 */
  assert_int_equal(req(w, ok, 0, "POST", "bad", "x", P_BODY),
                   HTTP_E_INVALID_ENCODING); /* headers syntax */
  /* Everything valid: the request itself fails (nothing listens on port 1). */
  assert_int_equal(req(w, ok, 0, "POST", "a:b\n", "x", P_BODY), HTTP_E_REQUEST);
  assert_int_equal(http_ctx_open_handles(w->ctx), 0);
  /* At the handle limit, HTTP_E_TOO_MANY_SESSIONS comes before every other check. */
  uint32_t h;
  assert_int_equal(http_ctx_insert(w->ctx, fake_response("z"), &h), HTTP_E_SUCCESS);
  assert_int_equal(req(w, NULL, OOB - 10, NULL, NULL, NULL, 0), HTTP_E_TOO_MANY_SESSIONS);
  world_free(w);
}

static void test_no_memory_and_no_ctx(void **state) {
  (void)state;
  world *w = world_new(empty_module, sizeof empty_module, 0);
  uint32_t a[10] = {0};
  assert_int_equal(call(w, http_fn_req, a, 10), HTTP_E_MEMORY_NOT_FOUND);
  assert_int_equal(call(w, http_fn_header_get, a, 6), HTTP_E_MEMORY_NOT_FOUND);
  assert_int_equal(call(w, http_fn_headers_get_all, a, 4), HTTP_E_MEMORY_NOT_FOUND);
  assert_int_equal(call(w, http_fn_body_read, a, 4), HTTP_E_MEMORY_NOT_FOUND);
  assert_int_equal(call(w, http_fn_close, a, 1), HTTP_E_SUCCESS);
  world_free(w);

  /* A NULL ctx (`_routes` discovery) denies everything. */
  w = world_new(mem_module, sizeof mem_module, 0);
  http_ctx_free(w->ctx);
  w->ctx = NULL;
  uint32_t r[10] = {P_URL,    put(w, P_URL, "http://127.0.0.1:1/"),
                    P_METHOD, put(w, P_METHOD, "GET"),
                    0,        0,
                    0,        0,
                    P_STATUS, P_HANDLE};
  assert_int_equal(call(w, http_fn_req, r, 10), HTTP_E_DESTINATION_NOT_ALLOWED);
  uint32_t b[4] = {0, P_BUF, 16, P_WRITTEN};
  assert_int_equal(call(w, http_fn_body_read, b, 4), HTTP_E_INVALID_HANDLE);
  assert_int_equal(call(w, http_fn_headers_get_all, b, 4), HTTP_E_INVALID_HANDLE);
  assert_int_equal(call(w, http_fn_close, b, 1), HTTP_E_SUCCESS);
  world_free(w);
}

static uint32_t rd32(world *w, uint32_t at) {
  uint32_t v;
  memcpy(&v, w->mem + at, 4);
  return v;
}

static void test_response_functions(void **state) {
  (void)state;
  world *w = world_new(mem_module, sizeof mem_module, 0);
  uint32_t h;
  assert_int_equal(http_ctx_insert(w->ctx, fake_response("0123456789"), &h), HTTP_E_SUCCESS);

  /* header_get: case-insensitive name, first value; 4 leaves memory alone. */
  uint32_t g[6] = {h, P_NAME, put(w, P_NAME, "X-Multi"), P_BUF, 3, P_WRITTEN};
  assert_int_equal(call(w, http_fn_header_get, g, 6), HTTP_E_SUCCESS);
  assert_int_equal(rd32(w, P_WRITTEN), 3);
  assert_memory_equal(w->mem + P_BUF, "one", 3);
  memset(w->mem + P_BUF, '#', 16);
  g[4] = 2;
  assert_int_equal(call(w, http_fn_header_get, g, 6), HTTP_E_BUFFER_TOO_SMALL);
  assert_int_equal(w->mem[P_BUF], '#');
  g[2] = put(w, P_NAME, "x-none");
  assert_int_equal(call(w, http_fn_header_get, g, 6), HTTP_E_HEADER_NOT_FOUND);
  g[0] = h + 1;
  assert_int_equal(call(w, http_fn_header_get, g, 6), HTTP_E_INVALID_HANDLE);
  g[0] = h;
  g[2] = put(w, P_NAME, "X-Multi");
  g[1] = OOB - 2; /* name out of bounds: reading input -> 4 */
  assert_int_equal(call(w, http_fn_header_get, g, 6), HTTP_E_BUFFER_TOO_SMALL);
  g[1] = P_NAME;
  g[3] = OOB - 1; /* value out of bounds: writing output -> 3 */
  g[4] = 64;
  assert_int_equal(call(w, http_fn_header_get, g, 6), HTTP_E_MEMORY_ACCESS);

  /* headers_get_all */
  uint32_t a[4] = {h, P_BUF, 4096, P_WRITTEN};
  assert_int_equal(call(w, http_fn_headers_get_all, a, 4), HTTP_E_SUCCESS);
  const char *all = "content-type:text/plain\nx-multi:one\nx-multi:two\nset-cookie:a=b; Path=/\n";
  assert_int_equal(rd32(w, P_WRITTEN), strlen(all));
  assert_memory_equal(w->mem + P_BUF, all, strlen(all));
  a[2] = 10;
  assert_int_equal(call(w, http_fn_headers_get_all, a, 4), HTTP_E_BUFFER_TOO_SMALL);
  a[2] = 4096;
  a[3] = OOB - 3;
  assert_int_equal(call(w, http_fn_headers_get_all, a, 4), HTTP_E_MEMORY_ACCESS);

  /* body_read: chunks, then 0 at the end, then 0 again. */
  uint32_t b[4] = {h, P_BUF, 4, P_WRITTEN};
  assert_int_equal(call(w, http_fn_body_read, b, 4), HTTP_E_SUCCESS);
  assert_int_equal(rd32(w, P_WRITTEN), 4);
  assert_memory_equal(w->mem + P_BUF, "0123", 4);
  b[2] = 100;
  assert_int_equal(call(w, http_fn_body_read, b, 4), HTTP_E_SUCCESS);
  assert_int_equal(rd32(w, P_WRITTEN), 6);
  assert_memory_equal(w->mem + P_BUF, "456789", 6);
  assert_int_equal(call(w, http_fn_body_read, b, 4), HTTP_E_SUCCESS);
  assert_int_equal(rd32(w, P_WRITTEN), 0);
  b[0] = 42;
  assert_int_equal(call(w, http_fn_body_read, b, 4), HTTP_E_INVALID_HANDLE);

  /* close: twice and unknown are both 0; afterwards the handle is unknown. */
  uint32_t c[1] = {h};
  assert_int_equal(call(w, http_fn_close, c, 1), HTTP_E_SUCCESS);
  assert_int_equal(call(w, http_fn_close, c, 1), HTTP_E_SUCCESS);
  b[0] = h;
  assert_int_equal(call(w, http_fn_body_read, b, 4), HTTP_E_INVALID_HANDLE);
  world_free(w);
}

static void *interrupt_later(void *arg) {
  struct timespec ts = {0, 200 * 1000000L};
  nanosleep(&ts, NULL);
  http_ctx_interrupt(arg);
  return NULL;
}

/* A request to a server that accepts and never answers ends soon after
 * http_ctx_interrupt, long before its 3 s timeout. */
static void test_interrupt(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fd, 8), 0);
  socklen_t al = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
  silent_port = ntohs(a.sin_port);
  world *w = world_new(mem_module, sizeof mem_module, 0);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/", silent_port);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, interrupt_later, w->ctx), 0);
  uint64_t t0 = base_now_ns();
  assert_int_equal(req(w, url, 0, "GET", "", "", P_BODY), HTTP_E_REQUEST);
  uint64_t ms = (base_now_ns() - t0) / 1000000u;
  pthread_join(t, NULL);
  assert_true(ms >= 150 && ms < 2500);
  /* Sticky: the next request fails at once. */
  assert_int_equal(req(w, url, 0, "GET", "", "", P_BODY), HTTP_E_REQUEST);
  world_free(w);
  close(fd);
  silent_port = 0;
}

static void test_define(void **state) {
  (void)state;
  wasm_linker *l = wasm_linker_new();
  assert_non_null(l);
  assert_int_equal(http_define(l, NULL, NULL), WASM_OK);
  assert_int_equal(http_define(l, NULL, NULL), WASM_OK);      /* redefining replaces */
  assert_int_equal(http_define(l, world_ctx, NULL), WASM_OK); /* owned bindings, freed below */
  wasm_linker_free(l);
  assert_string_equal(http_errcode_str(HTTP_E_DESTINATION_NOT_ALLOWED), "destination_not_allowed");
  assert_string_equal(http_errcode_str(HTTP_E_TOO_MANY_SESSIONS), "too_many_sessions");
  assert_string_equal(http_errcode_str(99), "unknown");
}

int main(void) {
  char err[256];
  if (http_global_init(NULL, err, sizeof err) != HTTP_OK) {
    fprintf(stderr, "http_global_init: %s\n", err);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allow_reference_vectors),
      cmocka_unit_test(test_allow_stricter_rule),
      cmocka_unit_test(test_allow_empty_and_null),
      cmocka_unit_test(test_allow_entry_errors),
      cmocka_unit_test(test_header_text),
      cmocka_unit_test(test_method_token),
      cmocka_unit_test(test_response_headers),
      cmocka_unit_test(test_handle_numbering),
      cmocka_unit_test(test_req_check_order),
      cmocka_unit_test(test_no_memory_and_no_ctx),
      cmocka_unit_test(test_response_functions),
      cmocka_unit_test(test_interrupt),
      cmocka_unit_test(test_define),
  };
  int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
  http_global_cleanup();
  return rc;
}
