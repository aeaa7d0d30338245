/* fuzz_http_args.c — libFuzzer target for the argument checks of the
 * wasi_experimental_http host functions (src/http/http.c, http_parse.c;
 * docs/modules.md §Outbound HTTP): guest pointers and lengths, URL syntax,
 * the allow-list (modules.toml's allowed_hosts through
 * srv_module_allows_host), method, header text and body.
 *
 * Input: 16 little-endian u32 words, then an image of guest memory (placed
 * at address 0 of a one-page memory; the rest is zero). Words 0-9 are req's
 * arguments (url, url_len, method, method_len, headers, headers_len, body,
 * body_len, status_out, handle_out); words 10-15 go to close, header_get,
 * headers_get_all and body_read (handle, then pointers and lengths).
 *
 * Nothing may reach the network: the ctx is interrupted before the call,
 * which http_fetch checks after every argument check and before connecting,
 * so a request that passes them all ends in request_error (11). Checked: every result is a
 * documented code, req never succeeds, a request that got as far as the
 * fetch had a destination the allow-list admits, and no handle is left. */
#include <stdint.h>

#include "fuzz_common.h"
#include "http/http.h"
#include "server/config.h"
#include "wasm/wasm.h"

static const char ALLOW_TOML[] = "[[module]]\n"
                                 "route = \"/\"\n"
                                 "module = \"x.wasm\"\n"
                                 "allowed_hosts = [\"https://api.example.com\", "
                                 "\"http://127.0.0.1:8080\", \"http://[::1]:3000/\", "
                                 "\"https://Example.ORG:8443/\"]\n";

/* (module (memory (export "memory") 1 1)) */
static const uint8_t MEMORY_MODULE[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                                        0x05, 0x04, 0x01, 0x01, 0x01, 0x01, 0x07, 0x0a,
                                        0x01, 0x06, 'm',  'e',  'm',  'o',  'r',  'y',
                                        0x02, 0x00};

static srv_config *config;
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

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char err[256];
  wasm_error werr;
  if (srv_config_parse(ALLOW_TOML, sizeof ALLOW_TOML - 1, "allow.toml", &config, err,
                       sizeof err) != SRV_CONFIG_OK ||
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

#define HEADER_WORDS 16u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 * HEADER_WORDS || size > 4 * HEADER_WORDS + 65536) return 0;
  wasm_memory *mem = wasm_instance_memory(inst);
  uint8_t *base = wasm_memory_data(mem);
  memset(base, 0, wasm_memory_size(mem));
  memcpy(base, data + 4 * HEADER_WORDS, size - 4 * HEADER_WORDS);

  http_config hc = {0};
  hc.allow = allow;
  hc.allow_arg = &config->modules[0];
  hc.max_handles = 1 + (data[0] & 3); /* word 0's low bits: also the url pointer */
  hc.module_name = "/fuzz";
  if (http_ctx_new(&hc, &the_ctx) != HTTP_OK) abort();
  http_ctx_interrupt(the_ctx);
  http_binding b = {get_ctx, NULL};

  wasm_slot a[10];
  for (unsigned i = 0; i < 10; i++) a[i] = word(data, i);
  allow_called = 0;
  FUZZ_CHECK(http_fn_req(inst, &b, a) == WASM_OK, "req trapped");
  uint32_t rc = (uint32_t)a[0];
  FUZZ_CHECK(rc <= HTTP_E_TOO_MANY_SESSIONS && rc != HTTP_E_SUCCESS, "req returned %u", rc);
  FUZZ_CHECK(strcmp(http_errcode_str(rc), "unknown") != 0, "no name for %u", rc);
  if (rc == HTTP_E_REQUEST || rc == HTTP_E_INVALID_METHOD || rc == HTTP_E_INVALID_ENCODING)
    FUZZ_CHECK(allow_called, "code %u before the allow-list was asked", rc);

  /* The other functions, on handles that do not exist. */
  for (unsigned i = 0; i < 6; i++) a[i] = word(data, 10 + i);
  FUZZ_CHECK(http_fn_header_get(inst, &b, a) == WASM_OK, "header_get trapped");
  FUZZ_CHECK(a[0] == HTTP_E_INVALID_HANDLE, "header_get returned %u", (unsigned)a[0]);
  for (unsigned i = 0; i < 4; i++) a[i] = word(data, 10 + i);
  FUZZ_CHECK(http_fn_headers_get_all(inst, &b, a) == WASM_OK, "headers_get_all trapped");
  FUZZ_CHECK(a[0] == HTTP_E_INVALID_HANDLE, "headers_get_all returned %u", (unsigned)a[0]);
  for (unsigned i = 0; i < 4; i++) a[i] = word(data, 10 + i);
  FUZZ_CHECK(http_fn_body_read(inst, &b, a) == WASM_OK, "body_read trapped");
  FUZZ_CHECK(a[0] == HTTP_E_INVALID_HANDLE, "body_read returned %u", (unsigned)a[0]);
  a[0] = word(data, 10);
  FUZZ_CHECK(http_fn_close(inst, &b, a) == WASM_OK && a[0] == HTTP_E_SUCCESS, "close");
  FUZZ_CHECK(http_ctx_open_handles(the_ctx) == 0, "a handle is open");

  /* A ctx-less call (during _routes discovery) denies everything. */
  the_ctx = (http_ctx_free(the_ctx), NULL);
  for (unsigned i = 0; i < 10; i++) a[i] = word(data, i);
  FUZZ_CHECK(http_fn_req(inst, &b, a) == WASM_OK, "req trapped");
  FUZZ_CHECK(a[0] == HTTP_E_DESTINATION_NOT_ALLOWED, "ctx-less req returned %u", (unsigned)a[0]);
  return 0;
}
