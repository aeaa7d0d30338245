/* server_int.h — what the server core's files share (the CLI's part is
 * server.h):
 *
 *   server.c  startup (docs/server.md), libmicrohttpd glue, shutdown
 *   pool.c    the runners: the threads that run module requests
 *   exec.c    one request: instance, WASI world, limits, watchdog, response
 *   log.c     diagnostics, access log, per-route module.stderr files
 *   native.c  the module cache and the background compiler (native code)
 * Request semantics live in route.h (routing), cgi.h (argv/env) and
 * response.h (stdout -> HTTP response).
 *
 * Threads: libmicrohttpd runs one event loop per CPU; a request for a module
 * is suspended there and handed to the runners (pool.c), which resume it
 * with the response. One watchdog thread interrupts instances whose
 * wall-clock deadline passed. Everything built at startup (modules, linkers,
 * route table, env lists) is read-only afterwards, except the run-slot
 * counters of each module, which pool.c guards, and each module's
 * `module` pointer, which the background compiler thread (native.c) may
 * swap once for native code.
 *
 * Errors: functions that can fail return an srv_status (server.h) and write
 * one sentence to `char *err, size_t errlen`.
 */
#ifndef WAGI_SRV_SERVER_INT_H
#define WAGI_SRV_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wasm/wasm.h"
#include "wasi/wasi.h"
#include "config.h"
#include "cgi.h"
#include "response.h"
#include "route.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Limits ------------------------------------------------------------------ */

/* The limits one module runs under (srv_run_limits, server.h), resolved at
 * startup from (highest first) its own modules.toml keys, the file's
 * [limits] table, the command line, and config.h's built-in defaults (30 s,
 * 256 MiB memory, 16 MiB output, 1 MiB stderr, 16 MiB request body).
 *
 * Concurrency (a module's run slots) defaults to SRV_CONCURRENCY_PER_CPU x
 * online CPUs, so that a burst cannot start hundreds of 256 MiB instances
 * at once. The runners (pool.c) run one job per CPU at a time anyway; the
 * extra slots are for jobs that wait on the network or a sleep, or compute
 * for long, and have been moved off the CPU count. Requests beyond the
 * limit wait in a queue (at most SRV_QUEUE_FACTOR x the limit waiters, each
 * at most SRV_QUEUE_WAIT_MS or the time limit if shorter); a full queue or
 * a wait that runs out gives 503 with Retry-After: 1. */
#define SRV_CONCURRENCY_PER_CPU 4u
#define SRV_QUEUE_FACTOR 64u
#define SRV_QUEUE_WAIT_MS 10000u

/* ---- One configured [[module]] entry ----------------------------------------- */

/* The log file of one route entry (configured or from `_routes`). */
typedef struct {
  const srv_route *route;
  int fd;
} srv_route_log;

typedef struct srv_module {
  /* Borrowed from the config, which outlives the modules. */
  const char *route;         /* configured route text (normalised) */
  const char *path;          /* file the module came from (for messages) */
  const char *entrypoint;    /* configured entrypoint ("_start") */
  const char *argv_template; /* NULL = CGI default */
  const char *host;          /* legacy per-module host, NULL = any */
  /* The module every request instantiates, shared by all of them. Each
   * request reads it once (srv_module_current). It starts as the
   * interpreter's module (or native code: a .wasmc, or a module cache
   * hit) and may be swapped once, by the background compiler (native.c),
   * for native code; the interpreter's module then moves to `interp` and
   * stays alive until shutdown, since requests in flight may still hold
   * instances of it. */
  _Atomic(wasm_module *) module;
  wasm_module *interp;    /* the replaced interpreter module (freed at shutdown), or NULL */
  bool native_pending;    /* queued for the background compiler (native.c) */
  char native_key[160];   /* its cache file name, "" = none */
  wasm_linker *linker;    /* WASI (+ outbound-HTTP hook), built once */
  wasi_preopen *preopens; /* volumes */
  size_t npreopens;
  const srv_module_config *cfg; /* its modules.toml entry (borrowed) */
  srv_env_list env_module;      /* the module's `environment` table */
  srv_env_list env;             /* merged user variables (module < file < --env) */
  srv_run_limits limits;

  srv_route_log *logs; /* one per route entry of this module */
  size_t nlogs;
  int parent_log_fd; /* the configured route's file (`_routes` runs) */

  /* Run slots (pool.c, under its lock): jobs running or ready to run, and
   * the FIFO of jobs waiting for a slot. */
  uint32_t running, waiting;
  struct srv_job *q_head, *q_tail;
} srv_module;

/* The module a new request instantiates (one atomic read). */
static inline wasm_module *srv_module_current(const srv_module *m) {
  return atomic_load_explicit(&m->module, memory_order_acquire);
}

/* ---- native.c: native code for .wasm modules (docs/server.md §Native code) ---- */

/* Opens the module cache `dir` (--module-cache): creates it 0700 if
 * missing, and refuses one that is not a directory, not owned by the
 * server's user, or writable by group or others. Then identifies the C
 * compiler ($CC, else cc) by its `--version`; without one it logs one line
 * and nothing is compiled or loaded from the cache. Returns SRV_OK, or
 * SRV_ERR_INVALID / SRV_ERR_SYSTEM with a sentence in err. */
srv_status srv_native_open(const char *dir, char *err, size_t errlen);
/* srv_native_open on a new private directory (mkdtemp, 0700) under tmpdir,
 * for --tier aot without --module-cache; srv_native_start removes it once
 * every module's code is loaded (srv_native_stop, if startup fails). */
srv_status srv_native_open_temp(const char *tmpdir, char *err, size_t errlen);
/* For a .wasm module just loaded (m->module is the interpreter's): its
 * native code from the cache if there is a usable entry (swapped in now,
 * one log line); otherwise it is queued for the background compiler. A
 * no-op when the cache is not open or has no compiler. */
void srv_native_lookup(srv_module *m);
/* --tier aot, for a module just loaded: its native code from the cache, or
 * compiled now (blocking), swapped in before any request. Returns SRV_OK
 * (a .wasmc needs nothing), or SRV_ERR_INVALID with one line in err naming
 * the module and why (no C compiler, the compiler's last messages). */
srv_status srv_native_require(srv_module *m, char *err, size_t errlen);
/* After the modules are set up: removes srv_native_open_temp's directory.
 * Then starts the background compiler thread if a module is queued: it compiles
 * them one after another into the cache, loads each and swaps it in.
 * Returns SRV_OK, or SRV_ERR_SYSTEM with a sentence in err. */
srv_status srv_native_start(srv_module *mods, size_t nmods, char *err, size_t errlen);
/* Shutdown: stops compiling (a running compiler is killed). */
void srv_native_cancel(void);
/* Cancels and waits for the compiler thread (bounded: a translation in
 * progress is not interruptible). Returns false if it is still running,
 * in which case the modules must not be freed. Closes the cache. */
bool srv_native_stop(void);

/* ---- pool.c: the runners ------------------------------------------------------ */

/* One module request handed to the runners. The submitter owns it; it must
 * stay valid until fn has been called, which happens exactly once after a
 * successful srv_pool_submit: on a runner thread with SRV_OK and err NULL
 * (run the module), or with the reason it was refused with a 503:
 * SRV_ERR_BUSY (it waited too long for a module slot) or SRV_ERR_STOPPING
 * (the server is shutting down), and a sentence in err. */
typedef struct srv_job srv_job;
struct srv_job {
  srv_module *mod;
  void (*fn)(srv_job *job, srv_status refused, const char *err);
  /* pool.c's */
  srv_job *next;
  uint64_t expires_ns;
  uint32_t wait_ms;
};

/* Starts the runners: `workers` jobs run at once (0 = one per CPU), on
 * threads started now, plus more on demand while a job runs long. mods are
 * the modules jobs will name (for queue expiry). Returns SRV_OK, or
 * SRV_ERR_NOMEM / SRV_ERR_SYSTEM with a sentence in err. */
srv_status srv_pool_start(srv_module *mods, size_t nmods, unsigned workers, char *err,
                          size_t errlen);
unsigned srv_pool_default_workers(void);
/* Queues a job. Returns SRV_OK (fn will be called), or the reason for a 503
 * with a sentence in err: SRV_ERR_BUSY (the module's queue is full) or
 * SRV_ERR_STOPPING. */
srv_status srv_pool_submit(srv_job *job, char *err, size_t errlen);
/* Refuses the jobs waiting for slots, runs the ready ones, joins every
 * thread. Call after the HTTP side stopped submitting. */
void srv_pool_stop(void);
void srv_pool_stats(unsigned *threads, unsigned *target);
/* On a runner: the job is about to block (network, sleep), so it stops
 * counting against the CPU limit and another runner may start. Elsewhere a
 * no-op. The hook for http_set_blocking_hook and wasi_set_blocking_hook. */
void srv_pool_blocking(void);

/* ---- exec.c -------------------------------------------------------------------- */

/* The user data of every instance the server creates: each host-function
 * family finds its per-request context here through its get_ctx callback
 * (wasi_define's, and http_define's once outbound HTTP is linked). */
typedef struct {
  wasi_ctx *wasi;
  void *http; /* outbound HTTP ctx (http_ctx); NULL: every host denied */
} srv_guest;

/* Starts the watchdog thread (once, before the first execution). Returns
 * SRV_OK, or SRV_ERR_NOMEM / SRV_ERR_SYSTEM with a sentence in err. */
srv_status srv_watchdog_start(char *err, size_t errlen);
/* Interrupts every running instance (shutdown after the drain period) and
 * stops the watchdog thread. */
void srv_watchdog_stop(void);
void srv_watchdog_interrupt_all(void);

/* Builds m->linker: WASI preview 1 plus the outbound-HTTP hook. Returns
 * SRV_OK or a failure with a sentence in err. */
srv_status srv_module_link(srv_module *m, char *err, size_t errlen);

/* Runs the module's `_routes` export (docs/modules.md §_routes) if it has one: no args, env or
 * stdin, stdout captured, stderr to the configured route's log file.
 * Returns SRV_OK with *out filled (empty when there is no `_routes`), or a
 * failure (the run's SRV_RUN_* outcome, SRV_ERR_INVALID for bad output)
 * with a sentence in err. */
srv_status srv_module_routes(srv_module *m, srv_dyn_routes *out, char *err, size_t errlen);

/* The HTTP status a failed run or a refusal answers with (500 for the
 * SRV_RUN_* failures, 504 for SRV_RUN_TIMEOUT, 503 for SRV_ERR_BUSY and
 * SRV_ERR_STOPPING, 500 otherwise). */
int srv_status_http(srv_status s);
/* The plain-text body (one line, no internals) of the answer srv_status_http
 * gives for a failed run or a refusal, e.g. "500 Internal Server Error: the
 * module failed; see the server log\n". Static. */
const char *srv_status_text(srv_status s);
/* The body of the 502 for a module that sent a 1xx status as its answer. */
#define SRV_TEXT_502_INFORMATIONAL                                                                 \
  "502 Bad Gateway: the module answered with an informational (1xx) status; see the server "       \
  "log\n"

/* What one execution produced. */
typedef struct {
  srv_status outcome; /* SRV_OK: the module ran and its stdout was parsed */
  int status;         /* HTTP status to send */
  srv_response resp;  /* valid when `parsed`: headers, body */
  bool parsed;
  wasi_ctx *ctx;    /* owns the stdout bytes resp.body points into */
  char note[512];   /* short reason for the access log, "" if none */
  uint64_t inst_ns; /* time spent instantiating */
} srv_exec_out;

/* Runs route `r` (whose handler is an srv_module) for one request, on a
 * runner that holds one of the module's run slots: builds argv/env, instantiates, calls the
 * entrypoint under the wall-clock limit, parses stdout. Always fills *out (a failure is a status
 * such as 500/503/504 whose body send_result makes from srv_status_text); release it with
 * srv_exec_out_free. */
void srv_exec(const srv_route *r, const srv_request *req, const srv_route_match *m,
              const uint8_t *body, size_t body_len, srv_exec_out *out);
void srv_exec_out_free(srv_exec_out *out);

/* Counters for the shutdown summary and the benchmark. */
typedef struct {
  uint64_t runs;
  uint64_t native_runs; /* of those, on native code */
  uint64_t inst_ns;     /* sum of instantiate times */
  uint64_t ctx_ns;      /* sum of wasi_ctx_new + argv/env times */
  uint64_t run_ns;      /* sum of entrypoint run times */
} srv_exec_stats;
void srv_exec_stats_get(srv_exec_stats *out);

/* ---- log.c --------------------------------------------------------------------- */

/* One diagnostic line to stderr: "<time> wagi: <text>". */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Access log to FILE ("-" = stderr, the default; "off" = none). Returns
 * SRV_OK or SRV_ERR_SYSTEM with a sentence in err. */
srv_status srv_access_log_open(const char *path, char *err, size_t errlen);
/* SIGHUP (logrotate): reopens the access log if it is a file, onto the
 * same fd number. Returns SRV_OK or SRV_ERR_SYSTEM with a sentence in err
 * (the old file is then kept). */
srv_status srv_access_log_reopen(char *err, size_t errlen);
/* One access-log line (README, "The server"):
 *   <time> <client> <method> <path>[?<query>] route=<route|-> status=<n>
 *   bytes=<body bytes> ms=<duration>[ (<note>)]
 * path and query raw as received (control characters as '?', cut at 512
 * and 400 bytes), client the peer's numeric address. */
void srv_access_log(const char *client, const char *method, const srv_target *t, const char *route,
                    int status, uint64_t bytes, double ms, const char *note);

/* <log_dir>/<hex sha256(route_text)> into out (docs/server.md §Logs). */
void srv_route_log_dir(const char *log_dir, const char *route_text, char *out, size_t cap);
/* Creates the route's log directory and opens module.stderr for appending
 * into *fd. Returns SRV_OK, or SRV_ERR_SYSTEM with a sentence in err. */
srv_status srv_route_log_open(const char *log_dir, const char *route_text, int *fd, char *err,
                              size_t errlen);
/* SIGHUP: opens the route's module.stderr afresh (directory and file
 * created if moved away) onto the same fd number, which requests running
 * meanwhile keep using. Returns SRV_OK or SRV_ERR_SYSTEM with a sentence
 * in err (the old file is then kept). */
srv_status srv_route_log_reopen(const char *log_dir, const char *route_text, int fd, char *err,
                                size_t errlen);
/* One "<time> wagi: <text>" line into a route's module.stderr (fd < 0: no-op). */
void srv_route_log_write(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
