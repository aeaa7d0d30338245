/* http.h — outbound HTTP for modules: the `wasi_experimental_http` host ABI
 * (docs/modules.md §Outbound HTTP) over libcurl, deny by default.
 *
 * Model (the same shape as wasi.h): the embedder calls http_global_init()
 * once, builds ONE linker per module with http_define(), and gives every
 * instance (= every inbound request) its own http_ctx, which the host
 * functions find per call through the get_ctx callback. The ctx holds the
 * instance's open response handles and its policy (allow-list, limits).
 *
 *   http_config hc = {0};                 // zero = every destination denied
 *   hc.allow = my_allow; hc.allow_arg = module_cfg;
 *   hc.deadline_ns = base_now_ns() + time_limit_ms * 1000000;
 *   hc.module_name = "/hello";
 *   http_ctx *hctx;
 *   if (http_ctx_new(&hc, &hctx) != HTTP_OK) ...;
 *   ... instantiate, run ...
 *   http_ctx_free(hctx);                  // closes every handle left open
 *
 * Decisions (what the guest sees; codes in docs/modules.md §Outbound HTTP):
 *  - Every function takes the guest's exported memory "memory" (else 2).
 *    `req` then checks, in order: open-handle limit (13), URL bytes (4
 *    out of bounds, 6 bad UTF-8), URL syntax (10: unparsable, no host, a
 *    scheme other than http/https, user:password@, over 1 MiB), allow-list (7), method (8: not an
 * HTTP token), body bytes (4), header text (4, 6, 9). Nothing touches the network before all checks
 * pass.
 *  - The allow-list is a callback (the server's srv_module_allows_host:
 *    scheme, host AND port must match an entry). allow == NULL denies every
 *    destination (used during `_routes` discovery). A refusal is reported
 *    to the `denied` callback with the URL: it is almost always a
 *    configuration mistake, which the embedder logs.
 *  - Redirects are followed by hand (CURLOPT_FOLLOWLOCATION off), at most
 *    HTTP_MAX_REDIRECTS hops; every hop's URL goes through the same URL and
 *    allow-list checks. A hop to a destination that is not allowed ends the
 *    call with 7 (destination_not_allowed); nothing is sent to it. 301/302
 *    turn a POST into a body-less GET (as browsers and reqwest do), 303 turns
 *    every method but HEAD into GET; 307/308 resend the method and body.
 *  - Time: each request (all its hops) gets at most timeout_ms, its connect
 *    phase at most connect_timeout_ms, and never more than what remains
 *    until deadline_ns (the inbound request's own time limit: the engine's
 *    watchdog cannot interrupt a thread blocked in libcurl). Running out
 *    gives 11 (request_error).
 *  - The response body is buffered whole, up to max_body bytes; a larger
 *    body gives 11.
 *  - No proxy, no .netrc, no cookies, no automatic decompression, TLS peer
 *    and host verification on. No `Expect: 100-continue` and no default
 *    Content-Type are added: the request carries exactly the module's
 *    headers (plus Host, Content-Length and curl's `Accept: * / *` when the
 *    module sets none).
 *  - Header text from the guest: lines `name:value` separated by LF (a CR
 *    before the LF is dropped); empty lines are skipped; the value is sent
 *    as is. A line without ':', a name that is not a token or a value with
 *    control characters gives 9.
 *  - Handles: per ctx, numbered from 0; a counter that only moves past
 *    occupied numbers picks the next one, so a closed number is reused once
 *    the counter reaches it. close() of an unknown handle returns 0;
 *    header_get / headers_get_all / body_read of one return 1.
 *  - Each request is logged through the http_set_log callback (module,
 *    method, host, status or error, duration): the embedder decides whether
 *    that is a debug line.
 *
 * Threads: host functions of different ctxs may run concurrently; one ctx is
 * used by one instance at a time. DNS results and TLS sessions are shared by
 * every ctx through one libcurl share handle; idle connections are reused
 * through a process-wide pool of easy handles (libcurl does not support a
 * connection cache shared by concurrently running threads; see http_fetch.c).
 */
#ifndef WAGI_HTTP_H
#define WAGI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  HTTP_OK = 0,
  HTTP_ERR_ARG, /* bad argument (NULL config, bad CA file, ...) */
  HTTP_ERR_NOMEM,
  HTTP_ERR_CURL, /* libcurl could not be initialised */
} http_status;

/* The guest-visible error codes of the wasi_experimental_http functions
 * (docs/modules.md §Outbound HTTP); they return them as their i32 result. */
typedef enum {
  HTTP_E_SUCCESS = 0,
  HTTP_E_INVALID_HANDLE = 1,
  HTTP_E_MEMORY_NOT_FOUND = 2,
  HTTP_E_MEMORY_ACCESS = 3,
  HTTP_E_BUFFER_TOO_SMALL = 4,
  HTTP_E_HEADER_NOT_FOUND = 5,
  HTTP_E_UTF8 = 6,
  HTTP_E_DESTINATION_NOT_ALLOWED = 7,
  HTTP_E_INVALID_METHOD = 8,
  HTTP_E_INVALID_ENCODING = 9,
  HTTP_E_INVALID_URL = 10,
  HTTP_E_REQUEST = 11,
  HTTP_E_RUNTIME = 12,
  HTTP_E_TOO_MANY_SESSIONS = 13,
} http_errcode;

/* Static name of a guest error code ("destination_not_allowed"); never
 * freed. */
const char *http_errcode_str(uint32_t code);

/* Defaults used for the zero values of http_config / http_global_config. */
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define HTTP_DEFAULT_TIMEOUT_MS 30000u
#define HTTP_DEFAULT_MAX_BODY ((uint64_t)64 << 20)
/* Open handles per ctx when max_handles is 0 (each holds a whole body). */
#define HTTP_DEFAULT_MAX_HANDLES 256u
#define HTTP_MAX_REDIRECTS 10u

/* ---- Global state ------------------------------------------------------------ */

/* Receives one line per outbound request (no trailing newline), from any
 * thread; `line` is borrowed for the call. */
typedef void (*http_log_fn)(const char *line);

typedef struct {
  /* PEM bundle of CAs trusted for HTTPS instead of the system store
   * (copied); NULL = the system store. */
  const char *ca_file;
  /* Defaults for the ctxs that leave these at 0; 0 here = the HTTP_DEFAULT_*. */
  uint32_t connect_timeout_ms;
  uint32_t timeout_ms;
  uint64_t max_body;
} http_global_config;

/* curl_global_init and the shared connection/DNS/TLS-session cache. Call
 * once before the first ctx (further calls are no-ops returning HTTP_OK;
 * thread-safe). On failure writes a sentence into err (may be NULL). */
http_status http_global_init(const http_global_config *g, char *err, size_t errlen);
/* http_global_init with settings from the environment, for the server:
 *   WAGI_HTTP_CA_FILE            PEM CA bundle trusted instead of the system's
 *   WAGI_HTTP_CONNECT_TIMEOUT_MS connect timeout per request (1..86400000)
 *   WAGI_HTTP_TIMEOUT_MS         whole request incl. redirects (1..86400000)
 *   WAGI_HTTP_MAX_BODY_BYTES     response body cap (1..4294967295)
 * and installs `debug_log` as the request log when WAGI_LOG_LEVEL=debug or
 * WAGI_HTTP_DEBUG is set (non-empty). A bad value is an error (sentence in
 * err). Idempotent like http_global_init. */
http_status http_global_init_from_env(http_log_fn debug_log, char *err, size_t errlen);
/* Releases the global state (after the last ctx is freed). */
void http_global_cleanup(void);

/* NULL (the default) logs nothing. */
void http_set_log(http_log_fn fn);

/* Called on the requesting thread right before it waits on the network for
 * a guest's request (NULL, the default: nothing). An embedder that runs
 * guests on a fixed set of threads uses it to let another thread take the
 * CPU. Set it before any request is made. */
void http_set_blocking_hook(void (*hook)(void));

/* ---- Per-instance context ------------------------------------------------------ */

/* Whether a request may go to scheme://host:port. `scheme` is "http" or
 * "https" (lowercase); `host` is as in the URL (an IPv6 literal keeps its
 * brackets); `port` is explicit or the scheme's default. */
typedef bool (*http_allow_fn)(void *arg, const char *scheme, const char *host, uint16_t port);

/* Told that the allow-list refused `url` (a request's URL or a redirect
 * hop's Location), on the requesting thread, before req returns
 * destination_not_allowed. Both strings are borrowed for the call;
 * module_name is the ctx's. */
typedef void (*http_denied_fn)(void *arg, const char *module_name, const char *url);

typedef struct {
  http_allow_fn allow;   /* NULL = deny every destination */
  void *allow_arg;       /* borrowed; must outlive the ctx */
  http_denied_fn denied; /* NULL = nothing (the debug log still has a line) */
  void *denied_arg;      /* borrowed; must outlive the ctx */
  uint32_t max_handles;  /* open handles (http_max_concurrency); 0 = HTTP_DEFAULT_MAX_HANDLES */
  uint32_t connect_timeout_ms; /* 0 = HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
  uint32_t timeout_ms;         /* whole request incl. redirects; 0 = HTTP_DEFAULT_TIMEOUT_MS */
  uint64_t deadline_ns;        /* base_now_ns() (base/clock.h); 0 = none */
  uint64_t max_body;           /* response body cap in bytes; 0 = HTTP_DEFAULT_MAX_BODY */
  const char *module_name;     /* for log lines (copied); NULL = "?" */
} http_config;

typedef struct http_ctx http_ctx;

/* Creates a ctx (one allocation, no I/O). The config is copied (allow_arg
 * stays borrowed). *out is written only on success; the caller owns it and
 * frees it with http_ctx_free after the instance using it is gone. */
http_status http_ctx_new(const http_config *cfg, http_ctx **out);
/* Frees every open handle and the ctx. NULL is fine. */
void http_ctx_free(http_ctx *ctx);
/* Makes a `req` running (now or later) in this ctx fail with
 * HTTP_E_REQUEST within about a second: for a server shutting down, next to
 * wasm_instance_interrupt (which cannot reach a thread blocked in libcurl).
 * Safe from any thread; sticky. */
void http_ctx_interrupt(http_ctx *ctx);

/* Number of open handles (for tests and logs). */
uint32_t http_ctx_open_handles(const http_ctx *ctx);

/* ---- Linking ---------------------------------------------------------------- */

/* Finds the http_ctx of the instance making a call. */
typedef http_ctx *(*http_get_ctx_fn)(wasm_instance *caller, void *arg);

/* Defines the five wasi_experimental_http functions (req, close,
 * header_get, headers_get_all, body_read) on `l`, once per linker. A call
 * whose get_ctx returns NULL behaves as a ctx that denies everything (req
 * returns HTTP_E_DESTINATION_NOT_ALLOWED, close HTTP_E_SUCCESS, the others
 * HTTP_E_INVALID_HANDLE). get_ctx NULL means
 * wasm_instance_user_data(caller) is the http_ctx. `arg` is borrowed. With
 * a get_ctx the linker owns the http_binding copies made here, so instances
 * linked through `l` must be freed before wasm_linker_free(l). Returns
 * WASM_OK or the linker's error. */
wasm_status http_define(wasm_linker *l, http_get_ctx_fn get_ctx, void *arg);

/* The `env` of the host functions below: how they find the caller's
 * http_ctx. http_define gives each definition its own copy; an embedder or
 * test calling them directly passes its own (borrowed for the call), or
 * NULL for "wasm_instance_user_data(caller) is the http_ctx". */
typedef struct {
  http_get_ctx_fn get_ctx;
  void *arg;
} http_binding;

/* The host functions themselves. Guest pointers are checked against the
 * caller's exported "memory"; the result is an http_errcode in args[0]. */
wasm_status http_fn_req(wasm_instance *caller, void *env, wasm_slot *args);
wasm_status http_fn_close(wasm_instance *caller, void *env, wasm_slot *args);
wasm_status http_fn_header_get(wasm_instance *caller, void *env, wasm_slot *args);
wasm_status http_fn_headers_get_all(wasm_instance *caller, void *env, wasm_slot *args);
wasm_status http_fn_body_read(wasm_instance *caller, void *env, wasm_slot *args);

#ifdef __cplusplus
}
#endif
#endif
