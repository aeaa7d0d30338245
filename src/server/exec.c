/* exec.c — running a module for one request (docs/modules.md, docs/server.md §Failures) and for its
 * `_routes` discovery (docs/modules.md §_routes), under wagi-c's limits.
 *
 * A request gets a fresh instance of the precompiled module, linked through
 * the module's linker (built once at startup) with its own wasi_ctx: argv
 * and env from cgi.h, stdin = the request body (borrowed, no copy), stdout
 * captured up to the output cap, stderr appended to the route's
 * module.stderr, volumes preopened. The wasi_ctx travels in the instance's
 * user data (an srv_guest, which has room for the outbound-HTTP ctx).
 *
 * Limits, and what each gives:
 *   wall clock   the watchdog interrupts the instance      -> 504
 *   memory       wasm_instance_opts.max_memory_pages: a failed memory.grow
 *                usually ends in a trap or a non-zero exit  -> 500
 *   output       stdout capture cap (the guest sees EFBIG)  -> 500
 *   concurrency  per-module run slots with a bounded wait queue
 *                (pool.c)                                  -> 503
 * Each failure writes one line naming the cause to the server log and to the
 * route's module.stderr.
 *
 * The watchdog is ONE thread with a min-heap of deadlines (not a timer per
 * request). An execution registers its instance before the call and
 * unregisters it before freeing the instance; both happen under wd_lock, as
 * does every interrupt, so the watchdog never touches a freed instance.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "server_int.h"
#include "http/http.h"

static struct timespec ns_to_ts(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  return ts;
}

/* ---- Watchdog ------------------------------------------------------------- */

typedef struct {
  uint64_t deadline; /* CLOCK_MONOTONIC ns */
  wasm_instance *inst;
  wasi_ctx *ctx; /* interrupted too: reaches a sleeping poll_oneoff */
  size_t idx;    /* position in the heap; SIZE_MAX when removed */
  bool fired;    /* the watchdog interrupted it */
  bool shutdown; /* ... because the server is shutting down */
} wd_entry;

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;
static wd_entry **wd_heap;
static size_t wd_n, wd_cap;
static bool wd_started, wd_stopping, wd_kill_all;
/* When the watchdog will next wake up by itself. An execution wakes it
 * only if its deadline is earlier, which with one time limit per module is
 * almost never: no context switch per request. */
static uint64_t wd_next_wake;
#define WD_IDLE_WAKE_NS 1000000000ull /* with nothing to watch: every 1 s */
static pthread_t wd_thread;

static void heap_swap(size_t a, size_t b) {
  wd_entry *t = wd_heap[a];
  wd_heap[a] = wd_heap[b];
  wd_heap[b] = t;
  wd_heap[a]->idx = a;
  wd_heap[b]->idx = b;
}

static void heap_up(size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (wd_heap[p]->deadline <= wd_heap[i]->deadline) break;
    heap_swap(i, p);
    i = p;
  }
}

static void heap_down(size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < wd_n && wd_heap[l]->deadline < wd_heap[m]->deadline) m = l;
    if (r < wd_n && wd_heap[r]->deadline < wd_heap[m]->deadline) m = r;
    if (m == i) break;
    heap_swap(i, m);
    i = m;
  }
}

static void heap_remove(wd_entry *e) {
  size_t i = e->idx;
  if (i == SIZE_MAX) return;
  wd_n--;
  if (i != wd_n) {
    wd_heap[i] = wd_heap[wd_n];
    wd_heap[i]->idx = i;
    heap_down(i);
    heap_up(i);
  }
  e->idx = SIZE_MAX;
}

/* Outbound HTTP (src/http): a module blocked in libcurl is released too
 * (within ~1 s; its request's own deadline bounds it anyway). */
static void interrupt_http(wasm_instance *inst) {
  srv_guest *g = wasm_instance_user_data(inst);
  if (g) http_ctx_interrupt(g->http);
}

static void *watchdog_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&wd_lock);
  while (!wd_stopping) {
    uint64_t now = base_now_ns();
    while (wd_n > 0 && (wd_kill_all || wd_heap[0]->deadline <= now)) {
      wd_entry *e = wd_heap[0];
      e->fired = true;
      e->shutdown = wd_kill_all && e->deadline > now;
      wasm_instance_interrupt(e->inst);
      wasi_ctx_interrupt(e->ctx);
      interrupt_http(e->inst);
      heap_remove(e);
    }
    wd_next_wake = wd_n ? wd_heap[0]->deadline : now + WD_IDLE_WAKE_NS;
    struct timespec ts = ns_to_ts(wd_next_wake);
    pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
  }
  pthread_mutex_unlock(&wd_lock);
  return NULL;
}

srv_status srv_watchdog_start(char *err, size_t errlen) {
  if (wd_started) return SRV_OK;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&wd_cond, &ca);
  pthread_condattr_destroy(&ca);
  wd_cap = 256;
  wd_heap = malloc(wd_cap * sizeof *wd_heap);
  if (!wd_heap) {
    base_set_err(err, errlen, "out of memory starting the watchdog");
    return SRV_ERR_NOMEM;
  }
  int rc = pthread_create(&wd_thread, NULL, watchdog_main, NULL);
  if (rc != 0) {
    base_set_err(err, errlen, "cannot start the watchdog thread: %s", strerror(rc));
    free(wd_heap);
    wd_heap = NULL;
    return SRV_ERR_SYSTEM;
  }
  wd_started = true;
  return SRV_OK;
}

void srv_watchdog_interrupt_all(void) {
  pthread_mutex_lock(&wd_lock);
  wd_kill_all = true;
  wd_next_wake = 0;
  pthread_cond_signal(&wd_cond);
  pthread_mutex_unlock(&wd_lock);
}

void srv_watchdog_stop(void) {
  if (!wd_started) return;
  pthread_mutex_lock(&wd_lock);
  wd_stopping = true;
  pthread_cond_signal(&wd_cond);
  pthread_mutex_unlock(&wd_lock);
  pthread_join(wd_thread, NULL);
  free(wd_heap);
  wd_heap = NULL;
  wd_started = false;
}

/* Registers `inst` to be interrupted `timeout_ms` from now. Returns -1 if
 * the heap cannot grow (the caller then refuses the request). */
static int wd_add(wd_entry *e, wasm_instance *inst, wasi_ctx *ctx, uint32_t timeout_ms) {
  e->inst = inst;
  e->ctx = ctx;
  e->fired = false;
  e->shutdown = false;
  e->deadline = base_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  e->idx = SIZE_MAX;
  pthread_mutex_lock(&wd_lock);
  if (wd_kill_all) {
    /* Shutting down past the drain period: run nothing new to completion. */
    e->fired = true;
    e->shutdown = true;
    wasm_instance_interrupt(inst);
    wasi_ctx_interrupt(ctx);
    interrupt_http(inst);
    pthread_mutex_unlock(&wd_lock);
    return 0;
  }
  if (wd_n == wd_cap) {
    size_t ncap = wd_cap * 2;
    wd_entry **nh = realloc(wd_heap, ncap * sizeof *nh);
    if (!nh) {
      pthread_mutex_unlock(&wd_lock);
      return -1;
    }
    wd_heap = nh;
    wd_cap = ncap;
  }
  e->idx = wd_n;
  wd_heap[wd_n++] = e;
  heap_up(e->idx);
  if (e->deadline < wd_next_wake) {
    wd_next_wake = e->deadline;
    pthread_cond_signal(&wd_cond);
  }
  pthread_mutex_unlock(&wd_lock);
  return 0;
}

/* Unregisters; returns 0, or 1 if the watchdog interrupted the instance at
 * its deadline, 2 if it did so because the server is shutting down. */
static int wd_remove(wd_entry *e) {
  pthread_mutex_lock(&wd_lock);
  heap_remove(e);
  int fired = e->fired ? (e->shutdown ? 2 : 1) : 0;
  pthread_mutex_unlock(&wd_lock);
  return fired;
}

/* The time limit also covers the module's start function, which runs inside
 * wasm_instantiate: wasm_instance_opts.on_start registers the instance for
 * that time, and the entrypoint then gets what is left of the limit. */
typedef struct {
  wd_entry we;
  wasi_ctx *ctx;
  uint32_t timeout_ms;
  uint64_t deadline; /* 0 until a start function ran */
  int state;         /* 0 idle, 1 registered, -1 could not register */
  int fired;         /* wd_remove's answer */
} start_watch;

static void watch_start(wasm_instance *inst, void *arg) {
  start_watch *w = arg;
  if (inst) {
    w->deadline = base_now_ns() + (uint64_t)w->timeout_ms * 1000000ull;
    if (wd_add(&w->we, inst, w->ctx, w->timeout_ms) == 0) {
      w->state = 1;
    } else {
      w->state = -1; /* refuse the request rather than run it unwatched */
      wasm_instance_interrupt(inst);
    }
  } else if (w->state == 1) {
    w->fired = wd_remove(&w->we);
    w->state = 0;
  }
}

/* ---- Statistics ------------------------------------------------------------- */

static _Atomic uint64_t st_runs, st_native_runs, st_inst_ns, st_ctx_ns, st_run_ns;

void srv_exec_stats_get(srv_exec_stats *out) {
  out->runs = atomic_load(&st_runs);
  out->native_runs = atomic_load(&st_native_runs);
  out->inst_ns = atomic_load(&st_inst_ns);
  out->ctx_ns = atomic_load(&st_ctx_ns);
  out->run_ns = atomic_load(&st_run_ns);
}

/* ---- Linking ----------------------------------------------------------------- */

/* Outbound HTTP (src/http/http.h, owned by the http layer): the hooks that
 * give it each request's ctx and the module's allow-list. */

static http_ctx *guest_http(wasm_instance *caller, void *arg) {
  (void)arg;
  srv_guest *g = caller ? wasm_instance_user_data(caller) : NULL;
  return g ? g->http : NULL; /* NULL (`_routes` runs): every destination denied */
}

static bool module_allows(void *arg, const char *scheme, const char *host, uint16_t port) {
  return srv_module_allows_host(arg, scheme, host, port);
}

static void http_log_line(const char *line) { srv_log("http: %s", line); }

/* A denied outbound request is logged at the default level: it is almost
 * always a mistake in allowed_hosts. The URL is shown without its query
 * (which may carry a token), cut and with control characters replaced. */
static void module_denied(void *arg, const char *route, const char *url) {
  const srv_module *m = arg;
  size_t ul = strcspn(url, "?#");
  char shown[256];
  size_t n = 0;
  for (size_t i = 0; i < ul && i < 200; i++) {
    unsigned char c = (unsigned char)url[i];
    shown[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  shown[n] = 0;
  srv_log("%s: outbound request to %s%s denied: not in allowed_hosts of module %s%s", route, shown,
          ul > 200  ? "..."
          : url[ul] ? "?..."
                    : "",
          m->path,
          m->cfg && (m->cfg->n_allowed_hosts || m->cfg->allow_all_hosts) ? "" : " (it has none)");
}

/* The per-request outbound-HTTP ctx of module `mod`: its allow-list and
 * http_max_concurrency, bounded by the request's own time limit. */
static http_ctx *http_ctx_for(const srv_module *mod, const char *route) {
  http_config hc = {0};
  hc.allow = module_allows;
  hc.allow_arg = (void *)mod->cfg;
  hc.denied = module_denied;
  hc.denied_arg = (void *)mod;
  hc.max_handles = mod->cfg ? mod->cfg->http_max_concurrency : 0;
  hc.deadline_ns = base_now_ns() + (uint64_t)mod->limits.timeout_ms * 1000000ull;
  hc.module_name = route;
  http_ctx *h = NULL;
  return http_ctx_new(&hc, &h) == HTTP_OK ? h : NULL;
}

static wasi_ctx *guest_wasi(wasm_instance *caller, void *arg) {
  (void)arg;
  srv_guest *g = caller ? wasm_instance_user_data(caller) : NULL;
  return g ? g->wasi : NULL;
}

srv_status srv_module_link(srv_module *m, char *err, size_t errlen) {
  m->linker = wasm_linker_new();
  if (!m->linker) {
    base_set_err(err, errlen, "out of memory creating the linker");
    return SRV_ERR_NOMEM;
  }
  if (http_global_init_from_env(http_log_line, err, errlen) != HTTP_OK) return SRV_ERR_INVALID;
  if (m->cfg && m->cfg->allow_all_hosts)
    srv_log(
        "WARNING: route %s: allowed_hosts has \"insecure:allow-all\": this module may send "
        "HTTP requests to ANY host, including internal services",
        m->route);
  wasm_status s = wasi_define(m->linker, guest_wasi, NULL);
  if (s == WASM_OK) s = http_define(m->linker, guest_http, NULL);
  if (s != WASM_OK) {
    base_set_err(err, errlen, "cannot define host functions: %s", wasm_status_str(s));
    return s == WASM_ERR_NOMEM ? SRV_ERR_NOMEM : SRV_ERR_INVALID;
  }
  return SRV_OK;
}

/* ---- Running ------------------------------------------------------------------ */

static int route_log_fd(const srv_module *m, const srv_route *r) {
  for (size_t i = 0; i < m->nlogs; i++)
    if (m->logs[i].route == r) return m->logs[i].fd;
  return m->parent_log_fd;
}

/* Describes a failed run in err (trap text, function, offset, memory). The
 * engine words every trap it reports with a message as "trap: ..." (with
 * the function and offset); a bare status or another failure gets the
 * prefix here. */
static void describe_trap(wasm_status s, const wasm_error *werr, wasm_instance *inst,
                          const srv_module *m, char *err, size_t errlen) {
  bool worded = werr->msg[0] && wasm_status_is_trap(s);
  const char *msg = werr->msg[0] ? werr->msg : wasm_status_str(s);
  int n = snprintf(err, errlen, "%s%.400s", worded ? "" : "trap: ", msg);
  wasm_memory *mem = inst ? wasm_instance_memory(inst) : NULL;
  if (mem && n > 0 && (size_t)n < errlen) {
    uint64_t pages = wasm_memory_size(mem) / 65536u;
    snprintf(err + n, errlen - (size_t)n, " (memory %" PRIu64 " of %u pages%s)", pages,
             m->limits.max_memory_pages,
             pages + 16 >= m->limits.max_memory_pages ? ", at the memory limit" : "");
  }
}

int srv_status_http(srv_status s) {
  switch (s) {
  case SRV_OK: return 200;
  case SRV_RUN_TIMEOUT: return 504;
  case SRV_ERR_BUSY:
  case SRV_ERR_STOPPING: return 503;
  default: return 500;
  }
}

const char *srv_status_text(srv_status s) {
  switch (s) {
  case SRV_RUN_INSTANTIATE:
  case SRV_RUN_NO_ENTRY:
  case SRV_RUN_TRAP:
  case SRV_RUN_EXIT: return "500 Internal Server Error: the module failed; see the server log\n";
  case SRV_RUN_OUTPUT_LIMIT:
    return "500 Internal Server Error: the module's output went over the limit; see the server "
           "log\n";
  case SRV_RUN_TIMEOUT: return "504 Gateway Timeout: the module ran past its time limit\n";
  case SRV_ERR_BUSY: return "503 Service Unavailable: the server is busy; try again shortly\n";
  case SRV_ERR_STOPPING: return "503 Service Unavailable: the server is shutting down\n";
  default: return "500 Internal Server Error: see the server log\n";
  }
}

/* What an interrupt the watchdog fired means (wd_remove's answer: 2 for the
 * shutdown, else the time limit); `what` names what was still running. */
static srv_status interrupted(int fired, const char *what, uint32_t timeout_ms, char *err,
                              size_t errlen) {
  if (fired == 2) {
    base_set_err(err, errlen, "interrupted: the server is shutting down");
    return SRV_ERR_STOPPING;
  }
  base_set_err(err, errlen, "time limit: %s running after %u ms, interrupted", what, timeout_ms);
  return SRV_RUN_TIMEOUT;
}

/* One call of `entry` on a fresh instance: shared by requests and `_routes`.
 * Returns SRV_OK (the module ran and its stdout is to be parsed) or the
 * outcome that stopped it, with a reason in err: an SRV_RUN_* failure,
 * SRV_ERR_NOMEM (stdout could not be captured whole),
 * SRV_ERR_BUSY (the time limit could not be registered) or
 * SRV_ERR_STOPPING (interrupted by the shutdown). With `routes`, a module
 * without the export gives SRV_RUN_NO_EXPORT and runs nothing.
 * Instantiation time goes to *inst_ns. */
static srv_status run_once(srv_module *m, const char *entry, wasi_ctx *ctx, http_ctx *hctx,
                           bool routes, char *err, size_t errlen, uint64_t *inst_ns) {
  srv_guest guest = {ctx, hctx};
  wasm_instance_opts o = {0};
  o.max_memory_pages = m->limits.max_memory_pages;
  o.user_data = &guest;
  start_watch sw = {.ctx = ctx, .timeout_ms = m->limits.timeout_ms};
  o.on_start = watch_start;
  o.on_start_arg = &sw;
  wasm_instance *inst = NULL;
  wasm_error werr;
  werr.msg[0] = 0;
  uint64_t t0 = base_now_ns();
  /* Read once: the background compiler may swap in native code at any
   * time (native.c); this instance keeps the module it was made from. */
  const wasm_module *mod = srv_module_current(m);
  /* Requests on native code are counted for the shutdown summary: the
   * one place that shows which tier requests really ran on. */
  if (!routes && wasm_module_is_native(mod))
    atomic_fetch_add_explicit(&st_native_runs, 1, memory_order_relaxed);
  wasm_status s = wasm_instantiate(mod, m->linker, &o, &inst, &werr);
  uint64_t t1 = base_now_ns();
  *inst_ns = t1 - t0;
  if (s == WASM_OK && sw.fired) { /* the limit came as the start function returned */
    wasm_instance_free(inst);
    s = WASM_TRAP_INTERRUPTED;
  }
  if (s != WASM_OK) {
    if (sw.state == -1) {
      base_set_err(err, errlen, "out of memory registering the time limit");
      return SRV_ERR_BUSY;
    }
    if (s == WASM_TRAP_INTERRUPTED && sw.fired)
      return interrupted(sw.fired, "the start function still", m->limits.timeout_ms, err, errlen);
    base_set_err(err, errlen, "instantiation failed: %.400s",
                 werr.msg[0] ? werr.msg : wasm_status_str(s));
    return SRV_RUN_INSTANTIATE;
  }
  if (routes && !wasm_instance_export_func(inst, entry)) {
    wasm_instance_free(inst);
    return SRV_RUN_NO_EXPORT;
  }
  /* After a start function, what is left of the limit (at least 1 ms). */
  uint32_t left_ms = m->limits.timeout_ms;
  if (sw.deadline) {
    uint64_t now = base_now_ns();
    left_ms = sw.deadline > now + 1000000ull ? (uint32_t)((sw.deadline - now) / 1000000ull) : 1;
  }
  wd_entry we;
  if (wd_add(&we, inst, ctx, left_ms) != 0) {
    wasm_instance_free(inst);
    base_set_err(err, errlen, "out of memory registering the time limit");
    return SRV_ERR_BUSY;
  }
  int code = 0;
  werr.msg[0] = 0;
  s = wasi_run(inst, entry, &code, &werr);
  int fired = wd_remove(&we);
  atomic_fetch_add_explicit(&st_run_ns, base_now_ns() - t1, memory_order_relaxed);
  srv_status st = SRV_OK;
  if (s == WASM_ERR_NOT_FOUND) {
    base_set_err(err, errlen, "No such function '%.150s' in %.300s", entry, m->path);
    st = SRV_RUN_NO_ENTRY;
  } else if (s == WASM_TRAP_INTERRUPTED && fired) {
    st = interrupted(fired, "still", m->limits.timeout_ms, err, errlen);
  } else if (s != WASM_OK) {
    describe_trap(s, &werr, inst, m, err, errlen);
    st = SRV_RUN_TRAP;
  } else if (wasi_ctx_stdout_truncated(ctx)) {
    base_set_err(err, errlen, "output limit: module wrote more than %" PRIu64 " bytes",
                 m->limits.max_output);
    st = SRV_RUN_OUTPUT_LIMIT;
  } else if (wasi_ctx_stdout_lost(ctx)) {
    /* Whatever the module did next, its output is incomplete. */
    base_set_err(err, errlen, "out of memory capturing the module's stdout");
    st = SRV_ERR_NOMEM;
  } else if (code != 0) {
    base_set_err(err, errlen, "module exited with code %d", code);
    st = SRV_RUN_EXIT;
  }
  wasm_instance_free(inst);
  return st;
}

/* After a run whose stderr went over the limit: one marker line in its log,
 * on a line of its own. */
static void stderr_cut_marker(const srv_module *m, wasi_ctx *ctx, int logfd) {
  if (logfd < 0 || !wasi_ctx_stderr_truncated(ctx)) return;
  char line[96];
  int n = snprintf(line, sizeof line, "%s[wagi: stderr cut at %" PRIu64 " bytes]\n",
                   wasi_ctx_stderr_ends_line(ctx) ? "" : "\n", m->limits.max_stderr);
  if (n > 0 && write(logfd, line, (size_t)n) < 0) {} /* nowhere to report a failing log */
}

srv_status srv_module_routes(srv_module *m, srv_dyn_routes *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  wasi_config cfg = {0};
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  cfg.stdout_cap = m->limits.max_output;
  cfg.stderr_kind = m->parent_log_fd >= 0 ? WASI_STDIO_FD : WASI_STDIO_NULL;
  cfg.stderr_fd = m->parent_log_fd;
  cfg.stderr_cap = m->limits.max_stderr;
  wasi_ctx *ctx = NULL;
  char eb[256];
  wasi_status ws = wasi_ctx_new(&cfg, &ctx, eb, sizeof eb);
  if (ws != WASI_OK) {
    base_set_err(err, errlen, "cannot create the WASI context: %.200s", eb);
    return ws == WASI_ERR_NOMEM ? SRV_ERR_NOMEM : SRV_ERR_SYSTEM;
  }
  char run_err[512] = "";
  uint64_t ins;
  /* Only a module exporting `_routes` must instantiate at startup; for
   * the others an instantiation failure is a 500 per request, which
   * a trial instantiation announces now as a warning. */
  bool has_routes = false;
  const wasm_module *mod = srv_module_current(m);
  for (uint32_t i = 0, n = wasm_module_export_count(mod); i < n; i++) {
    wasm_export_desc d;
    wasm_module_export(mod, i, &d);
    if (d.kind == WASM_EXTERN_FUNC && strcmp(d.name, "_routes") == 0) has_routes = true;
  }
  srv_status st = run_once(m, "_routes", ctx, NULL, true, run_err, sizeof run_err, &ins);
  stderr_cut_marker(m, ctx, m->parent_log_fd);
  srv_status rc = SRV_OK;
  if (st == SRV_RUN_NO_EXPORT) {
    rc = SRV_OK;
  } else if (st != SRV_OK && !has_routes) {
    fprintf(stderr, "wagi: warning: route %s (module %s): %s; every request to it will get %d\n",
            m->route, m->path, run_err, st == SRV_RUN_TIMEOUT ? 504 : 500);
  } else if (st == SRV_RUN_INSTANTIATE) {
    base_set_err(err, errlen, "%.450s", run_err);
    rc = st;
  } else if (st != SRV_OK) {
    base_set_err(err, errlen, "_routes failed: %.400s", run_err);
    rc = st;
  } else {
    size_t len;
    const uint8_t *o = wasi_ctx_stdout(ctx, &len);
    char perr[256];
    if (srv_routes_parse_dynamic((const char *)o, len, out, perr, sizeof perr) != 0) {
      base_set_err(err, errlen, "_routes output: %.200s", perr);
      rc = SRV_ERR_INVALID;
    }
  }
  wasi_ctx_free(ctx);
  return rc;
}

/* The request's WASI ctx: argv and env packed into a stack buffer (no
 * allocation unless they exceed it), copied by wasi_ctx_new into its one
 * allocation. A separate function so that the buffer is off the stack
 * while the guest runs. The route log fds stay open until shutdown, hence
 * WASI_TRUSTED_STDIO_FDS (no fcntl + fstat per request). */
static __attribute__((noinline)) wasi_status
new_request_ctx(const srv_module *mod, const srv_request *req, const srv_route_match *m,
                const uint8_t *body, size_t body_len, int logfd, wasi_ctx **ctx, char *err,
                size_t errlen) {
  char buf[SRV_CGI_PACK_STACK];
  srv_cgi_packed pk;
  if (srv_cgi_pack(req, mod->argv_template, m, &mod->env, buf, sizeof buf, &pk) != 0) {
    base_set_err(err, errlen, "out of memory building argv/env");
    return WASI_ERR_NOMEM;
  }
  wasi_config cfg = {0};
  cfg.argv_packed = pk.argv;
  cfg.argv_packed_len = pk.argv_bytes;
  cfg.argc = pk.argc;
  cfg.env_packed = pk.env;
  cfg.env_packed_len = pk.env_bytes;
  cfg.envc = pk.envc;
  cfg.stdin_kind = WASI_STDIO_BUFFER;
  cfg.stdin_buf = body;
  cfg.stdin_len = body_len;
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  cfg.stdout_cap = mod->limits.max_output;
  cfg.stderr_kind = logfd >= 0 ? WASI_STDIO_FD : WASI_STDIO_NULL;
  cfg.stderr_fd = logfd;
  cfg.stderr_cap = mod->limits.max_stderr;
  cfg.preopens = mod->preopens;
  cfg.npreopens = mod->npreopens;
  cfg.flags = WASI_SKIP_BAD_PREOPENS | WASI_TRUSTED_STDIO_FDS;
  wasi_status ws = wasi_ctx_new(&cfg, ctx, err, errlen);
  srv_cgi_packed_free(&pk);
  return ws;
}

void srv_exec(const srv_route *r, const srv_request *req, const srv_route_match *m,
              const uint8_t *body, size_t body_len, srv_exec_out *out) {
  srv_module *mod = r->handler;
  memset(out, 0, sizeof *out);
  out->outcome = SRV_ERR_SYSTEM;
  out->status = 500;
  int logfd = route_log_fd(mod, r);

  uint64_t t0 = base_now_ns();
  char eb[256];
  wasi_status ws = new_request_ctx(mod, req, m, body, body_len, logfd, &out->ctx, eb, sizeof eb);
  atomic_fetch_add_explicit(&st_ctx_ns, base_now_ns() - t0, memory_order_relaxed);
  if (ws != WASI_OK) {
    out->ctx = NULL;
    out->outcome = ws == WASI_ERR_NOMEM ? SRV_ERR_NOMEM : SRV_ERR_SYSTEM;
    snprintf(out->note, sizeof out->note, "cannot create the WASI context: %.200s", eb);
    srv_log("%s: 500: %s", r->text, out->note);
    srv_route_log_write(logfd, "500: %s", out->note);
    return;
  }
  const char *warn = wasi_ctx_warnings(out->ctx);
  if (warn) /* the server log got a startup warning; no line per request there */
    srv_route_log_write(logfd, "volume skipped: %s", warn);

  uint64_t ins = 0;
  http_ctx *hctx = http_ctx_for(mod, r->text); /* NULL if out of memory: all denied */
  srv_status st =
      run_once(mod, r->entrypoint, out->ctx, hctx, false, out->note, sizeof out->note, &ins);
  http_ctx_free(hctx);
  stderr_cut_marker(mod, out->ctx, logfd);
  out->inst_ns = ins;
  atomic_fetch_add_explicit(&st_runs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&st_inst_ns, ins, memory_order_relaxed);
  if (st != SRV_OK) {
    out->outcome = st;
    out->status = srv_status_http(st);
    srv_log("%s: %d: %s", r->text, out->status, out->note);
    srv_route_log_write(logfd, "%d: %s", out->status, out->note);
    return;
  }

  size_t len;
  const uint8_t *o = wasi_ctx_stdout(out->ctx, &len);
  if (srv_response_parse(o, len, &out->resp) != 0) {
    out->outcome = SRV_ERR_NOMEM;
    out->status = 500;
    snprintf(out->note, sizeof out->note, "out of memory parsing the response");
    srv_log("%s: 500: %s", r->text, out->note);
    return;
  }
  out->parsed = true;
  out->outcome = SRV_OK;
  out->status = out->resp.status;
  if (out->resp.warnings) {
    /* One log line per warning sentence. */
    const char *p = out->resp.warnings;
    while (*p) {
      const char *nl = strchr(p, '\n');
      int len2 = nl ? (int)(nl - p) : (int)strlen(p);
      if (len2 > 0) {
        srv_log("%s: response: %.*s", r->text, len2, p);
        srv_route_log_write(logfd, "response: %.*s", len2, p);
      }
      if (!nl) break;
      p = nl + 1;
    }
    if (out->status >= 500) snprintf(out->note, sizeof out->note, "bad response headers");
  }
}

void srv_exec_out_free(srv_exec_out *out) {
  if (out->parsed) srv_response_free(&out->resp);
  wasi_ctx_free(out->ctx);
  memset(out, 0, sizeof *out);
}
