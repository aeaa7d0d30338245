/* fuzz_http_args.c — libFuzzer target for the argument checks of the
 * wasi_experimental_http host functions (src/http/http.c, http_parse.c;
 * docs/modules.md §Outbound HTTP): guest pointers and lengths, URL syntax,
 * the allow-list (modules.toml's allowed_hosts through
 * srv_module_allows_host), method, header text and body; and, with a
 * response from a loopback server, the response side: status and header
 * capture, redirects and their allow-list checks, header_get,
 * headers_get_all and body_read on a live handle.
 *
 * Input: 17 little-endian u32 words, then an image of guest memory (placed
 * at address 0 of a one-page memory; the rest is zero). Words 0-9 are req's
 * arguments (url, url_len, method, method_len, headers, headers_len, body,
 * body_len, status_out, handle_out); word 10 is the handle given to
 * header_get, headers_get_all, body_read and close, words 11-15 their other
 * arguments (pointers and lengths). Word 16 picks the mode:
 *
 *  - bit 31 clear: no network. The allow-list has four entries and the ctx
 *    is interrupted before the call, which http_fetch checks after every
 *    argument check and before connecting, so a request that passes them
 *    all ends in request_error (11).
 *  - bit 31 set: the allow-list is only http://127.0.0.1:PORT, a server on
 *    a loopback port of this process (LOOPBACK_PORT when free, so that
 *    seeds can name it; when it is not, the input's "47391"s are rewritten
 *    to the port in use), which answers every connection with guest memory
 *    bytes [RESPONSE_AT, RESPONSE_AT + (word 16 & 0x3fff)) and closes.
 *
 * Checked: every result is a documented code; without the network req
 * never succeeds, and a request that got as far as the fetch had been past
 * the allow-list; lengths written back never exceed the buffers given; no
 * handle is left after close; nothing is written outside guest memory
 * (ASan). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "http/http.h"
#include "server/config.h"
#include "wasm/wasm.h"

static const char ALLOW_TOML[] =
    "[[module]]\n"
    "route = \"/\"\n"
    "module = \"x.wasm\"\n"
    "allowed_hosts = [\"https://api.example.com\", "
    "\"http://127.0.0.1:8080\", \"http://[::1]:3000/\", "
    "\"https://Example.ORG:8443/\"]\n";

/* (module (memory (export "memory") 1 1)) */
static const uint8_t MEMORY_MODULE[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05,
                                        0x04, 0x01, 0x01, 0x01, 0x01, 0x07, 0x0a, 0x01, 0x06,
                                        'm',  'e',  'm',  'o',  'r',  'y',  0x02, 0x00};

#define LOOPBACK_PORT 47391
#define RESPONSE_AT 0xC000u
#define HEADER_WORDS 17u

static srv_config *config, *loopback_config;
static wasm_module *module;
static wasm_instance *inst;
static int allow_called;

static bool allow(void *arg, const char *scheme, const char *host, uint16_t port) {
  allow_called = 1;
  return srv_module_allows_host(arg, scheme, host, port);
}

static http_ctx *the_ctx;
static http_ctx *get_ctx(wasm_instance *caller, void *arg) {
  (void)caller;
  (void)arg;
  return the_ctx;
}

/* ---- the loopback server ------------------------------------------------------ */

static pthread_mutex_t resp_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t resp_bytes[0x4000];
static size_t resp_len;
static int listen_fd = -1;
static uint16_t port;

static void *serve(void *arg) {
  (void)arg;
  for (;;) {
    int c = accept(listen_fd, NULL, NULL);
    if (c < 0) continue;
    struct timeval tv = {0, 200000};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* Read the request head (the body, if any, is not waited for). */
    char req[8192];
    size_t got = 0;
    while (got < sizeof req - 1) {
      ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
      if (r <= 0) break;
      got += (size_t)r;
      req[got] = 0;
      if (strstr(req, "\r\n\r\n")) break;
    }
    pthread_mutex_lock(&resp_lock);
    uint8_t out[sizeof resp_bytes];
    size_t n = resp_len;
    memcpy(out, resp_bytes, n);
    pthread_mutex_unlock(&resp_lock);
    for (size_t off = 0; off < n;) {
      ssize_t w = send(c, out + off, n - off, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += (size_t)w;
    }
    shutdown(c, SHUT_RDWR);
    close(c);
  }
  return NULL;
}

static void start_server(void) {
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  a.sin_port = htons(LOOPBACK_PORT);
  if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0) {
    a.sin_port = 0; /* taken (another run): any port; seeds naming 47391 are then denied */
    if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0) abort();
  }
  socklen_t al = sizeof a;
  if (listen(listen_fd, 64) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &al) != 0)
    abort();
  port = ntohs(a.sin_port);
  pthread_t t;
  if (pthread_create(&t, NULL, serve, NULL) != 0) abort();
  pthread_detach(t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char err[256];
  wasm_error werr;
  start_server();
  char loop_toml[256];
  int n = snprintf(loop_toml, sizeof loop_toml,
                   "[[module]]\nroute = \"/\"\nmodule = \"x.wasm\"\n"
                   "allowed_hosts = [\"http://127.0.0.1:%u\"]\n",
                   port);
  if (srv_config_parse(ALLOW_TOML, sizeof ALLOW_TOML - 1, "allow.toml", &config, err, sizeof err) !=
          SRV_CONFIG_OK ||
      srv_config_parse(loop_toml, (size_t)n, "loopback.toml", &loopback_config, err, sizeof err) !=
          SRV_CONFIG_OK ||
      wasm_module_compile(MEMORY_MODULE, sizeof MEMORY_MODULE, &module, &werr) != WASM_OK ||
      wasm_instantiate(module, NULL, NULL, &inst, &werr) != WASM_OK ||
      http_global_init(NULL, err, sizeof err) != HTTP_OK)
    abort();
  return 0;
}

static uint32_t word(const uint8_t *d, unsigned i) {
  return (uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 |
         (uint32_t)d[4 * i + 3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 * HEADER_WORDS || size > 4 * HEADER_WORDS + 65536) return 0;
  wasm_memory *mem = wasm_instance_memory(inst);
  uint8_t *base = wasm_memory_data(mem);
  memset(base, 0, wasm_memory_size(mem));
  memcpy(base, data + 4 * HEADER_WORDS, size - 4 * HEADER_WORDS);

  uint32_t mode = word(data, 16);
  bool network = mode >> 31;
  http_config hc = {0};
  hc.allow = allow;
  hc.allow_arg = network ? &loopback_config->modules[0] : &config->modules[0];
  hc.max_handles = 1 + (data[0] & 3); /* word 0's low bits: also the url pointer */
  hc.module_name = "/fuzz";
  hc.timeout_ms = 2000;
  hc.connect_timeout_ms = 500;
  if (http_ctx_new(&hc, &the_ctx) != HTTP_OK) abort();
  if (network && port != LOOPBACK_PORT && port >= 10000) {
    /* Another process has LOOPBACK_PORT (libFuzzer's -minimize_crash runs
     * children while holding it): point the input's URLs at ours. */
    char want[6], have[6];
    snprintf(want, sizeof want, "%u", LOOPBACK_PORT);
    snprintf(have, sizeof have, "%u", port);
    for (uint8_t *p = base; (p = memmem(p, 65536 - 5 - (size_t)(p - base), want, 5)); p += 5)
      memcpy(p, have, 5);
  }
  if (network) {
    pthread_mutex_lock(&resp_lock);
    resp_len = mode & 0x3fff;
    memcpy(resp_bytes, base + RESPONSE_AT, resp_len);
    pthread_mutex_unlock(&resp_lock);
  } else {
    http_ctx_interrupt(the_ctx);
  }
  http_binding b = {get_ctx, NULL};

  wasm_slot a[10];
  for (unsigned i = 0; i < 10; i++) a[i] = word(data, i);
  allow_called = 0;
  FUZZ_CHECK(http_fn_req(inst, &b, a) == WASM_OK, "req trapped");
  uint32_t rc = (uint32_t)a[0];
  FUZZ_CHECK(rc <= HTTP_E_TOO_MANY_SESSIONS, "req returned %u", rc);
  FUZZ_CHECK(strcmp(http_errcode_str(rc), "unknown") != 0, "no name for %u", rc);
  FUZZ_CHECK(network || rc != HTTP_E_SUCCESS, "req succeeded without the network");
  if (rc == HTTP_E_REQUEST || rc == HTTP_E_INVALID_METHOD || rc == HTTP_E_INVALID_ENCODING ||
      rc == HTTP_E_SUCCESS)
    FUZZ_CHECK(allow_called, "code %u before the allow-list was asked", rc);
  FUZZ_CHECK(http_ctx_open_handles(the_ctx) == (rc == HTTP_E_SUCCESS), "%u handles after %u",
             http_ctx_open_handles(the_ctx), rc);

  /* The other functions, on the handle of word 10 (the live one, if req
   * made it and the input names it). */
  uint32_t h = word(data, 10);
  a[0] = h;
  for (unsigned i = 1; i < 6; i++) a[i] = word(data, 10 + i);
  FUZZ_CHECK(http_fn_header_get(inst, &b, a) == WASM_OK, "header_get trapped");
  if (a[0] == HTTP_E_SUCCESS)
    FUZZ_CHECK(wasm_load_le32(base + word(data, 15)) <= word(data, 14), "header_get wrote more");
  else FUZZ_CHECK(a[0] <= HTTP_E_UTF8, "header_get returned %u", (unsigned)a[0]);
  a[0] = h;
  for (unsigned i = 1; i < 4; i++) a[i] = word(data, 10 + i);
  FUZZ_CHECK(http_fn_headers_get_all(inst, &b, a) == WASM_OK, "headers_get_all trapped");
  if (a[0] == HTTP_E_SUCCESS)
    FUZZ_CHECK(wasm_load_le32(base + word(data, 13)) <= word(data, 12),
               "headers_get_all wrote more");
  for (int rounds = 0; rounds < 3; rounds++) {
    a[0] = h;
    for (unsigned i = 1; i < 4; i++) a[i] = word(data, 10 + i);
    FUZZ_CHECK(http_fn_body_read(inst, &b, a) == WASM_OK, "body_read trapped");
    if (a[0] != HTTP_E_SUCCESS) break;
    FUZZ_CHECK(wasm_load_le32(base + word(data, 13)) <= word(data, 12), "body_read wrote more");
  }
  for (uint32_t k = 0; k < 8; k++) {
    a[0] = k == 0 ? h : k - 1;
    FUZZ_CHECK(http_fn_close(inst, &b, a) == WASM_OK && a[0] == HTTP_E_SUCCESS, "close");
  }
  FUZZ_CHECK(http_ctx_open_handles(the_ctx) == 0, "a handle is open");

  /* A ctx-less call (during _routes discovery) denies everything. */
  the_ctx = (http_ctx_free(the_ctx), NULL);
  for (unsigned i = 0; i < 10; i++) a[i] = word(data, i);
  FUZZ_CHECK(http_fn_req(inst, &b, a) == WASM_OK, "req trapped");
  FUZZ_CHECK(a[0] == HTTP_E_DESTINATION_NOT_ALLOWED, "ctx-less req returned %u", (unsigned)a[0]);
  return 0;
}
