/* server.c — `wagi --config modules.toml`: startup (docs/server.md §Command line), the HTTP
 * layer on libmicrohttpd, and graceful shutdown. The flags are parsed by
 * the CLI (src/cli/server_flags.c), which hands over an srv_options.
 *
 * HTTP threading: libmicrohttpd runs one event loop per CPU (a poll loop:
 * its epoll mode, in 0.9.75, never closed a connection after answering a
 * malformed request itself). A request for a module is suspended on its
 * loop and handed to the runners (pool.c), which run it and resume the
 * connection; the loop then sends the response. So the loops never run
 * guest code, and a slow module holds a runner, not the connections that
 * share its loop. Measured on 2 cores (hello module, 64 keep-alive
 * connections, wrk on the same cores): ~37k requests/s and p99 4-7 ms,
 * against ~28k and p99 9-14 ms with one thread per connection, whose many
 * runnable threads made the scheduler's time slices the tail latency.
 *
 * A response is never queued on the first call of a request: libmicrohttpd
 * then closes the connection (no keep-alive), which cut throughput ~5x.
 *
 * The raw request target (path and query exactly as received, which WAGI
 * needs for argv, QUERY_STRING, X_FULL_URL and routing) is captured by the
 * URI log callback, before libmicrohttpd splits and decodes it. The request
 * context it fills belongs to the connection, not the request: see conn_ctx.
 *
 * Slow clients: a connection costs its buffers, not a thread, but the
 * number of them is still capped (--max-connections), as is the number from
 * one address (--max-connections-per-ip), and a connection still sending
 * its request line and headers gets the short --header-timeout of
 * inactivity, where an idle keep-alive connection or a request body gets
 * SRV_IDLE_TIMEOUT_S.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/file.h"
#include "base/wat.h"
#include "config.h"
#include "server_int.h"
#include "http/http.h"

#define SRV_DRAIN_MS 10000u          /* in-flight requests get this long at exit */
#define SRV_IDLE_TIMEOUT_S 60u       /* idle keep-alive / stalled body: closed */
#define SRV_MAX_DISCARD (1ull << 20) /* body read past max_body before closing */
/* A suspended connection's inactivity timeout, in force from its resume
 * until its response is queued. libmicrohttpd 0.9.75's poll loop resumes
 * connections and then allocates its pollfd array: when that allocation
 * fails, the loop forgets that a resumed connection waits to be served, and
 * sleeps until some socket event or timeout, which for a client waiting for
 * its answer was the idle timeout (a 60 s stall, then a closed connection).
 * With this timeout the loop wakes within a second and serves it. Suspended
 * connections have no timeout, so a long module run is not affected. */
#define SRV_RESUME_TIMEOUT_S 1u

/* The 400 for a path whose PATH_INFO would hold a NUL byte (cgi.h). */
#define NUL_PATH_TEXT                                                                              \
  "Bad Request: the path holds %00 (an encoded NUL byte), which a module cannot be given\n"

/* The 400 for a request target holding a raw space or control character.
 * HTTP forbids them (RFC 9112 3.2), but libmicrohttpd takes everything up
 * to the last space of the request line as the target, so "GET /a b?x y
 * HTTP/1.1" would reach a module with the spaces in PATH_INFO and
 * QUERY_STRING, and an argv template would split them into extra words. */
#define BAD_TARGET_TEXT                                                                            \
  "Bad Request: the request target holds a space or a control character; encode it "               \
  "(a space is %20)\n"

/* ---- State ------------------------------------------------------------------- */

/* Server state built at startup; read-only while serving. */
typedef struct {
  srv_options opts; /* the CLI's, copied; its strings are borrowed */
  srv_config *cfg;
  srv_module *mods;
  size_t nmods;
  srv_route_table *table;
  char log_dir[PATH_MAX];
  bool log_dir_temp; /* made by mkdtemp: removed again if startup fails */
  bool tls;
  struct MHD_Daemon *daemon;
  struct MHD_Response *resp_healthz, *resp_404, *resp_413, *resp_400_nul, *resp_400_target;
  /* Out of memory: sent when no other response can be made. */
  struct MHD_Response *resp_500;
  unsigned header_timeout_s; /* resolved --header-timeout, whole seconds */
  _Atomic long inflight;     /* requests whose headers are in, not yet done */
  sigset_t sigs;             /* SIGINT, SIGTERM: blocked, taken by sigwait */
  char shown[128];           /* the address announced as "Ready: serving on" */
} srv_state;

static srv_state S;

/* "IP:PORT" or "[IPv6]:PORT", numeric only. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
  char host[INET6_ADDRSTRLEN + 8];
  const char *colon;
  const char *h = s;
  size_t hlen;
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':') return -1;
    h = s + 1;
    hlen = (size_t)(rb - h);
    colon = rb + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return -1;
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0 || hlen >= sizeof host) return -1;
  memcpy(host, h, hlen);
  host[hlen] = 0;
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || port > 65535) return -1;
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof *v6;
    return 0;
  }
  return -1;
}

/* ---- Reason phrases ---------------------------------------------------------------- */

/* libmicrohttpd (0.9.75) writes the status line's reason phrase from its own
 * table, which lacks some codes (418 went out as "Non-Standard Status"),
 * and takes no phrase from the caller. It looks the phrase up through
 * these two exported functions, called through its PLT, so the
 * definitions here, in the executable, take their place: the phrase sent
 * is the standard one for the code, as WAGI's hyper sends it (the module's
 * own wording after the code is not sent). tests/server test_output.py
 * checks that the override is in effect. */
static const char *reason_phrase(unsigned code) {
  switch (code) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 102: return "Processing";
  case 103: return "Early Hints";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 207: return "Multi-Status";
  case 208: return "Already Reported";
  case 226: return "IM Used";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 305: return "Use Proxy";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 407: return "Proxy Authentication Required";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 418: return "I'm a teapot";
  case 421: return "Misdirected Request";
  case 422: return "Unprocessable Entity";
  case 423: return "Locked";
  case 424: return "Failed Dependency";
  case 425: return "Too Early";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 451: return "Unavailable For Legal Reasons";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 506: return "Variant Also Negotiates";
  case 507: return "Insufficient Storage";
  case 508: return "Loop Detected";
  case 510: return "Not Extended";
  case 511: return "Network Authentication Required";
  default: return NULL;
  }
}

/* As libmicrohttpd's: "Unknown" and length 0 for a code without a phrase
 * (it then sends "Non-Standard Status"). */
const char *MHD_get_reason_phrase_for(unsigned int code) {
  const char *p = reason_phrase(code);
  return p ? p : "Unknown";
}

size_t MHD_get_reason_phrase_len_for(unsigned int code) {
  const char *p = reason_phrase(code);
  return p ? strlen(p) : 0;
}

/* ---- Loading modules ------------------------------------------------------------ */

/* Where temporary files and directories go: $TMPDIR, else /tmp. */
static const char *tmp_dir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

/* Reads a whole regular file (at most 1 GiB). Returns the bytes or NULL with err. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errlen) {
  uint8_t *buf;
  if (base_read_file(path, WASM_MODULE_MAX_BYTES, BASE_FILE_REGULAR_ONLY, &buf, len, err, errlen) !=
      BASE_FILE_OK)
    return NULL;
  return buf;
}

/* Compiles the module file of one entry (binary wasm or WAT text), or
 * loads its native code (a .wasmc from `wagi compile`). */
static int load_module(srv_module *m, char *err, size_t errlen) {
  size_t len = 0;
  uint8_t *bytes = NULL;
  if (base_load_module_file(m->path, WASM_MODULE_MAX_BYTES, BASE_FILE_REGULAR_ONLY, &bytes, &len,
                            NULL, err, errlen) != BASE_WAT_OK)
    return -1;
  wasm_error werr;
  werr.msg[0] = 0;
  wasm_module *mod = NULL;
  bool native = wasm_is_native(bytes, len);
  if (native && S.opts.tier == SRV_TIER_INTERP) {
    /* As `wagi run --tier interp`: the tier is a promise that no native
     * code from a module file runs (docs/server.md §Native code). */
    free(bytes);
    snprintf(err, errlen,
             "%s is native code (a .wasmc), and --tier interp runs modules on the interpreter "
             "only: give its .wasm, or use --tier auto",
             m->path);
    return -1;
  }
  wasm_status s = native ? wasm_module_load_native(bytes, len, &mod, &werr)
                         : wasm_module_compile(bytes, len, &mod, &werr);
  free(bytes);
  if (s != WASM_OK) {
    snprintf(err, errlen, "%s: %s", m->path, werr.msg[0] ? werr.msg : wasm_status_str(s));
    return -1;
  }
  atomic_store_explicit(&m->module, mod, memory_order_release);
  return 0;
}

/* Fills m from its modules.toml entry: borrowed strings, volumes as
 * preopens, the `environment` table as an env list. */
static int module_from_config(const srv_module_config *mc, srv_module *m, char *err,
                              size_t errlen) {
  m->cfg = mc;
  m->route = mc->route;
  m->entrypoint = mc->entrypoint && *mc->entrypoint ? mc->entrypoint : "_start";
  m->argv_template = mc->argv;
  m->host = mc->host;
  const char *ref = mc->module_ref ? mc->module_ref : "";
  if (!mc->module_path || !*mc->module_path) {
    if (strncmp(ref, "oci:", 4) == 0)
      snprintf(err, errlen,
               "route %.200s: module %.300s: OCI references are not supported by wagi-c (use a "
               "local file)",
               mc->route, ref);
    else if (strncmp(ref, "bindle:", 7) == 0)
      snprintf(err, errlen,
               "route %.200s: module %.300s: bindle is not supported by wagi-c (use a local file)",
               mc->route, ref);
    else snprintf(err, errlen, "route %.200s: module %.300s is not a local file", mc->route, ref);
    return -1;
  }
  m->path = mc->module_path;
  if (mc->n_volumes) {
    m->preopens = calloc(mc->n_volumes, sizeof *m->preopens);
    if (!m->preopens) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    for (size_t k = 0; k < mc->n_volumes; k++) {
      m->preopens[k].guest_path = mc->volumes[k].guest;
      m->preopens[k].host_path = mc->volumes[k].host;
    }
    m->npreopens = mc->n_volumes;
  }
  for (size_t k = 0; k < mc->n_environment; k++) {
    const char *n = mc->environment[k].name, *v = mc->environment[k].value;
    if (srv_env_list_set(&m->env_module, n, strlen(n), v, strlen(v)) != 0) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  return 0;
}

/* Does the module export a function `name`? */
static bool exports_func(const wasm_module *mod, const char *name) {
  for (uint32_t i = 0, n = wasm_module_export_count(mod); i < n; i++) {
    wasm_export_desc d;
    wasm_module_export(mod, i, &d);
    if (d.kind == WASM_EXTERN_FUNC && strcmp(d.name, name) == 0) return true;
  }
  return false;
}

/* "a, b, c": the module's function exports, for messages (cut with "..."
 * when they do not fit; "none" when there are none). */
static void func_exports(const wasm_module *mod, char *out, size_t cap) {
  size_t n = 0;
  out[0] = 0;
  for (uint32_t i = 0, ne = wasm_module_export_count(mod); i < ne; i++) {
    wasm_export_desc d;
    wasm_module_export(mod, i, &d);
    if (d.kind != WASM_EXTERN_FUNC) continue;
    size_t need = strlen(d.name) + (n ? 2 : 0);
    if (n + need + 5 >= cap) {
      snprintf(out + n, cap - n, "%s...", n ? ", " : "");
      return;
    }
    n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", d.name);
  }
  if (!n) snprintf(out, cap, "none");
}

/* The entrypoints are known at startup: one that is not an exported
 * function would make every request to its route a 500, so it stops the
 * server here, named with the module's line in modules.toml. The default
 * `_start` of a module that exports `_routes` (its requests go to the
 * functions `_routes` names) is only a warning: requests matching the
 * configured route itself get 500. */
static srv_status check_entrypoints(const srv_module *m, const srv_module_config *mc,
                                    const srv_dyn_routes *dyn, char *err, size_t errlen) {
  char have[512];
  const char *file = S.cfg->filename ? S.cfg->filename : S.opts.config;
  const wasm_module *mod = srv_module_current(m);
  for (size_t k = 0; k < dyn->n; k++) {
    const srv_dyn_route *d = &dyn->items[k];
    if (exports_func(mod, d->entrypoint)) continue;
    func_exports(mod, have, sizeof have);
    base_set_err(err, errlen,
                 "%s:%u: module \"%s\": _routes maps %s to \"%s\", which is no exported function "
                 "(it exports: %s)",
                 file, mc->line, m->path, d->subroute, d->entrypoint, have);
    return SRV_ERR_INVALID;
  }
  if (exports_func(mod, m->entrypoint)) return SRV_OK;
  func_exports(mod, have, sizeof have);
  if (dyn->n && strcmp(m->entrypoint, "_start") == 0) {
    fprintf(stderr,
            "wagi: warning: %s:%u: module \"%s\": no exported function \"_start\" (it exports: "
            "%s); requests to route %s that no _routes entry matches get 500\n",
            file, mc->line, m->path, have, m->route);
    return SRV_OK;
  }
  base_set_err(err, errlen, "%s:%u: module \"%s\": no exported function \"%s\" (it exports: %s)",
               file, mc->line, m->path, m->entrypoint, have);
  return SRV_ERR_INVALID;
}

/* Resolves the limits of one module: a value the file set (module key or
 * [limits]) wins, then the command line, then config.h's built-in default
 * (already in mc->limits); concurrency defaults to 4 x online CPUs. */
static void resolve_limits(const srv_module_config *mc, srv_run_limits *l) {
  const srv_limits *c = &mc->limits;
  const srv_run_limits *g = &S.opts.limits;
  unsigned set = mc->limits_set;
  uint64_t t = (set & SRV_LIMIT_TIME) || !g->timeout_ms ? c->time_limit_ms : g->timeout_ms;
  l->timeout_ms = t == 0 ? 1u : t > 86400000u ? 86400000u : (uint32_t)t;
  uint64_t pages = (set & SRV_LIMIT_MEMORY) || !g->max_memory_pages
                       ? c->memory_limit_bytes / SRV_WASM_PAGE_SIZE
                       : g->max_memory_pages;
  l->max_memory_pages = pages == 0 ? 1u : pages > 65536 ? 65536u : (uint32_t)pages;
  l->max_output =
      (set & SRV_LIMIT_OUTPUT) || !g->max_output ? c->output_limit_bytes : g->max_output;
  l->max_stderr =
      (set & SRV_LIMIT_STDERR) || !g->max_stderr ? c->stderr_limit_bytes : g->max_stderr;
  l->max_body = (set & SRV_LIMIT_BODY) || !g->max_body ? c->max_request_body_bytes : g->max_body;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  uint32_t dflt = (uint32_t)(SRV_CONCURRENCY_PER_CPU * (ncpu > 0 ? ncpu : 1));
  l->max_concurrency = (set & SRV_LIMIT_CONCURRENCY) && c->max_concurrent_requests
                           ? c->max_concurrent_requests
                       : g->max_concurrency ? g->max_concurrency
                                            : dflt;
}

/* Sets up config entry `i`: compiles, links and runs its `_routes`, and adds
 * its routes to the table. Returns SRV_OK or a failure with the sentence to
 * print in err. */
static srv_status setup_module(size_t i, char *err, size_t errlen) {
  srv_module *m = &S.mods[i];
  const srv_module_config *mc = &S.cfg->modules[i];
  char e2[2048];
  if (module_from_config(mc, m, e2, sizeof e2) != 0) {
    base_set_err(err, errlen, "%s", e2);
    return SRV_ERR_INVALID;
  }
  resolve_limits(mc, &m->limits);
  /* Volumes are opened once, here: every request's WASI context shares the
   * directory fd (it never closes it or moves its offset), which saves an
   * open and a close per volume per request. One that cannot be opened now
   * is retried by each request, which logs why it is missing. */
  for (size_t k = 0; k < m->npreopens; k++) {
    wasi_preopen *p = &m->preopens[k];
    int fd = open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      p->host_fd = fd;
      p->host_path = NULL;
      continue;
    }
    fprintf(stderr,
            "wagi: warning: route %s: volume %s = %s: %s; requests run without it "
            "(each logs this in the route's module.stderr)\n",
            m->route, p->guest_path, p->host_path,
            errno == ENOTDIR ? "not a directory" : strerror(errno));
  }
  if (srv_env_merge(&m->env_module, &S.opts.env_file, &S.opts.env, &m->env) != 0) {
    base_set_err(err, errlen, "out of memory merging environment variables");
    return SRV_ERR_NOMEM;
  }
  if (load_module(m, e2, sizeof e2) != 0) {
    base_set_err(err, errlen, "module for route %s: %s", m->route, e2);
    return SRV_ERR_INVALID;
  }
  /* A .wasm module: native code from the module cache, or queued for the
   * background compiler (native.c; a no-op without a cache); with --tier
   * aot compiled now, before `_routes` and any request run. */
  srv_status st = SRV_OK;
  if (S.opts.tier == SRV_TIER_AUTO) srv_native_lookup(m);
  else if (S.opts.tier == SRV_TIER_AOT) st = srv_native_require(m, e2, sizeof e2);
  if (st != SRV_OK) {
    base_set_err(err, errlen, "module for route %s: %s", m->route, e2);
    return st;
  }
  st = srv_module_link(m, e2, sizeof e2);
  if (st != SRV_OK) {
    base_set_err(err, errlen, "module %s: %s", m->path, e2);
    return st;
  }
  st = srv_route_log_open(S.log_dir, m->route, &m->parent_log_fd, err, errlen);
  if (st != SRV_OK) return st;
  srv_dyn_routes dyn;
  st = srv_module_routes(m, &dyn, e2, sizeof e2);
  if (st != SRV_OK) {
    base_set_err(err, errlen, "route %s (module %s): %s", m->route, m->path, e2);
    return st;
  }
  st = check_entrypoints(m, mc, &dyn, err, errlen);
  if (st != SRV_OK) {
    srv_dyn_routes_free(&dyn);
    return st;
  }
  int rc = srv_route_table_add(S.table, m->route, m->entrypoint, m->host, m, &dyn, e2, sizeof e2);
  srv_dyn_routes_free(&dyn);
  if (rc != 0) {
    base_set_err(err, errlen, "route %s: %s", m->route, e2);
    return SRV_ERR_INVALID;
  }
  /* One module.stderr per route entry of this module (docs/server.md §Logs). */
  size_t n = srv_route_table_len(S.table), cnt = 0;
  for (size_t k = 0; k < n; k++)
    if (srv_route_table_at(S.table, k)->handler == m) cnt++;
  m->logs = calloc(cnt ? cnt : 1, sizeof *m->logs);
  if (!m->logs) {
    base_set_err(err, errlen, "out of memory");
    return SRV_ERR_NOMEM;
  }
  for (size_t k = 0; k < n; k++) {
    const srv_route *r = srv_route_table_at(S.table, k);
    if (r->handler != m) continue;
    int fd = m->parent_log_fd;
    if (strcmp(r->text, m->route) != 0) {
      st = srv_route_log_open(S.log_dir, r->text, &fd, err, errlen);
      if (st != SRV_OK) return st;
    }
    m->logs[m->nlogs].route = r;
    m->logs[m->nlogs].fd = fd;
    m->nlogs++;
  }
  return SRV_OK;
}

/* mkdir -p for the --log-dir. */
static int mkdirs(const char *path, char *err, size_t errlen) {
  char buf[PATH_MAX];
  if (strlen(path) >= sizeof buf) {
    snprintf(err, errlen, "log directory path too long");
    return -1;
  }
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "cannot create %.1000s: %s", buf, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create log directory %.1000s: %s", buf, strerror(errno));
    return -1;
  }
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "log directory %.1000s is not a directory", buf);
    return -1;
  }
  return 0;
}

/* ---- HTTP ------------------------------------------------------------------------- */

/* Per-request state, reset by the URI log callback for each request. */
typedef struct {
  uint64_t t0;
  char *target; /* raw request target, NUL-terminated */
  size_t target_len;
  const srv_route *route; /* after lookup */
  srv_route_result kind;
  srv_route_match match;
  uint8_t *body;
  size_t body_len, body_cap;
  uint64_t max_body;
  uint64_t clen;      /* announced Content-Length (0 if none) */
  uint64_t discarded; /* body bytes dropped (over the limit / no route) */
  bool looked_up;
  bool too_large;
  bool body_nomem; /* the body could not be held: 500 once the request ends */
  bool nul_path;   /* PATH_INFO would hold a NUL: 400 (cgi.h) */
  bool bad_target; /* a raw space or control character in the target: 400 */
  /* The target could not be copied: 500 once the request ends. */
  bool target_nomem;
  bool responded;
  bool live;    /* a request uses it; req_release not yet run */
  bool counted; /* counted in S.inflight */
  /* A module request handed to the runners (pool.c): the connection is
   * suspended from submission until the runner has filled `out`. */
  enum { RUN_NONE, RUN_SUBMITTED, RUN_DONE } run;
  srv_job job;
  struct MHD_Connection *conn;
  const char *method, *version; /* libmicrohttpd's, valid while suspended */
  srv_exec_out out;
} req_ctx;

/* Per-connection state, created by the connection-start notification and
 * freed by the close notification, which libmicrohttpd runs for every
 * connection it accepted, however it ends. The request context lives here
 * because on_uri runs before libmicrohttpd has checked the request: when it
 * then refuses the request itself (431 for too many query arguments, 400,
 * a client gone mid-headers) neither the access handler nor the
 * request-completed callback ever runs, and a context owned by the request
 * alone leaked, with S.inflight stuck. Reusing one context per connection
 * also saves a malloc per keep-alive request. */
typedef struct {
  srv_header *v;
  size_t n, cap;
  bool oom;
} hdr_vec;

typedef struct {
  req_ctx rc;
  char *target; /* rc.target's buffer: target_inline, or a longer one on the heap */
  size_t target_cap;
  char target_inline[256];
  unsigned timeout_s; /* the connection's current inactivity timeout */
  hdr_vec hdrs;       /* the request headers handed to the runner */
  char ip[INET6_ADDRSTRLEN + 1];
} conn_ctx;

/* Ends the request using rc: frees its body and uncounts it. Runs once per
 * request whichever of on_completed, the next on_uri or the close
 * notification comes first. */
static void req_release(req_ctx *rc) {
  if (!rc->live) return;
  if (rc->run == RUN_DONE) srv_exec_out_free(&rc->out);
  rc->run = RUN_NONE;
  free(rc->body);
  rc->body = NULL;
  if (rc->counted) atomic_fetch_sub_explicit(&S.inflight, 1, memory_order_relaxed);
  rc->counted = false;
  rc->live = false;
}

/* Sets the connection's inactivity timeout, skipping the call (it takes a
 * daemon-wide lock) when unchanged. */
static void set_timeout(struct MHD_Connection *c, conn_ctx *cc, unsigned s) {
  if (cc->timeout_s == s) return;
  if (MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, s) == MHD_YES) cc->timeout_s = s;
}

/* Connection contexts for when calloc fails: with one, the connection's
 * requests are read to their end and answered (a 500 wherever memory is
 * missing), as on any other connection. Without, see nomem_request. */
#define CONN_RESERVE 16
static conn_ctx conn_reserve[CONN_RESERVE];
static _Atomic uint32_t conn_reserve_used; /* bit i: conn_reserve[i] taken */

static conn_ctx *conn_ctx_new(void) {
  conn_ctx *cc = calloc(1, sizeof *cc);
  uint32_t used = atomic_load(&conn_reserve_used);
  while (!cc && used != (1u << CONN_RESERVE) - 1) {
    unsigned i = (unsigned)__builtin_ctz(~used);
    if (atomic_compare_exchange_weak(&conn_reserve_used, &used, used | 1u << i)) {
      cc = &conn_reserve[i];
      memset(cc, 0, sizeof *cc);
    }
  }
  return cc;
}

static void conn_ctx_free(conn_ctx *cc) {
  if (cc >= conn_reserve && cc < conn_reserve + CONN_RESERVE)
    atomic_fetch_and(&conn_reserve_used, ~(1u << (unsigned)(cc - conn_reserve)));
  else free(cc);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  (void)cls;
  (void)c;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    /* NULL when even the reserve is used up: see nomem_request. */
    conn_ctx *cc = conn_ctx_new();
    if (cc) {
      cc->timeout_s = S.header_timeout_s; /* the daemon's default */
      cc->target = cc->target_inline;
      cc->target_cap = sizeof cc->target_inline;
    }
    *socket_context = cc;
    return;
  }
  conn_ctx *cc = *socket_context;
  if (!cc) return;
  req_release(&cc->rc);
  if (cc->target != cc->target_inline) free(cc->target);
  free(cc->hdrs.v);
  conn_ctx_free(cc);
  *socket_context = NULL;
}

/* The request context of a request on a connection that has none (calloc
 * failed and the reserve is used up): on_request answers it with the
 * shared 500 on its first call. Never written. */
static char nomem_request;

/* Starts a request: the request line has arrived, its headers not yet. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)cls;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  conn_ctx *cc = ci ? ci->socket_context : NULL;
  if (!cc) return &nomem_request;
  req_release(&cc->rc);   /* a previous request refused by libmicrohttpd */
  size_t n = strlen(uri); /* bounded by the connection memory limit */
  bool nomem = false;
  if (n + 1 > cc->target_cap) {
    char *t = malloc(n + 1);
    if (t) {
      if (cc->target != cc->target_inline) free(cc->target);
      cc->target = t;
      cc->target_cap = n + 1;
    } else {
      nomem = true; /* answered 500 once the request ends */
      n = 0;
    }
  }
  memcpy(cc->target, uri, n);
  cc->target[n] = 0;
  req_ctx *rc = &cc->rc;
  memset(rc, 0, sizeof *rc);
  rc->t0 = base_now_ns();
  rc->target = cc->target;
  rc->target_len = n;
  rc->target_nomem = nomem;
  rc->live = true;
  set_timeout(c, cc, S.header_timeout_s);
  return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  req_ctx *rc = *con_cls;
  if (!rc || *con_cls == &nomem_request) return;
  req_release(rc);
  *con_cls = NULL;
}

/* Keeps the raw path for the unescape step: WAGI routes on the raw path. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size) {
  (void)kind;
  hdr_vec *h = cls;
  if (h->n == h->cap) {
    size_t ncap = h->cap ? h->cap * 2 : 32;
    srv_header *nv = realloc(h->v, ncap * sizeof *nv);
    if (!nv) {
      h->oom = true;
      return MHD_NO;
    }
    h->v = nv;
    h->cap = ncap;
  }
  h->v[h->n].name = key;
  h->v[h->n].name_len = key_size;
  h->v[h->n].value = value ? value : "";
  h->v[h->n].value_len = value ? value_size : 0;
  h->n++;
  return MHD_YES;
}

static void client_ip(struct MHD_Connection *c, char *out, size_t cap) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  snprintf(out, cap, "0.0.0.0");
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
  } else if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)cap);
    else inet_ntop(AF_INET6, a6, out, (socklen_t)cap);
  }
}

static enum MHD_Result queue(struct MHD_Connection *c, req_ctx *rc, const char *method, int status,
                             struct MHD_Response *resp, uint64_t bytes, const char *note) {
  enum MHD_Result r = MHD_queue_response(c, (unsigned)status, resp);
  rc->responded = true;
  srv_target t;
  srv_target_split(rc->target, rc->target_len, &t);
  char ip[INET6_ADDRSTRLEN + 1];
  client_ip(c, ip, sizeof ip);
  srv_access_log(ip, method, &t, rc->route ? rc->route->text : NULL, status, bytes,
                 (double)(base_now_ns() - rc->t0) / 1e6, note);
  return r;
}

/* A new bodiless response. Startup makes the 404 and 413 ones, shared by
 * every request; the other callers make one per response, since they may
 * add a header to it (Retry-After), and free it once queued. */
static struct MHD_Response *empty_response(void) {
  return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
}

/* A new response with wagi's own plain-text reason (static text). WAGI's
 * "no content-type" message goes out as WAGI sends it, without one. */
static struct MHD_Response *text_response(const char *text) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
  if (resp && strcmp(text, SRV_RESPONSE_MSG_NO_CT) != 0 &&
      MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8") != MHD_YES) {
    MHD_destroy_response(resp);
    return NULL;
  }
  return resp;
}

/* The 500 made at startup, for when a response cannot be made for lack of
 * memory: the client gets an answer rather than a closed connection. */
static enum MHD_Result respond_nomem(struct MHD_Connection *c, req_ctx *rc, const char *method,
                                     const char *note) {
  return queue(c, rc, method, 500, S.resp_500, strlen(srv_status_text(SRV_ERR_NOMEM)), note);
}

static enum MHD_Result respond_empty(struct MHD_Connection *c, req_ctx *rc, const char *method,
                                     int status, const char *note) {
  struct MHD_Response *resp =
      status >= 500 ? text_response(srv_status_text(SRV_ERR_NOMEM)) : empty_response();
  if (!resp) return respond_nomem(c, rc, method, note);
  if (status == 503) MHD_add_response_header(resp, "Retry-After", "1");
  enum MHD_Result r = queue(c, rc, method, status, resp, 0, note);
  MHD_destroy_response(resp);
  return r;
}

/* On a runner: runs the module for rc's request (or records the refusal),
 * then resumes the connection, whose event loop sends the result. After
 * the resume, rc belongs to the event loop again. */
static void job_run(srv_job *job, srv_status refused, const char *err) {
  req_ctx *rc = (req_ctx *)((char *)job - offsetof(req_ctx, job));
  conn_ctx *cc = (conn_ctx *)rc; /* rc is its first member */
  if (refused != SRV_OK) {
    memset(&rc->out, 0, sizeof rc->out);
    rc->out.outcome = refused;
    rc->out.status = srv_status_http(refused);
    snprintf(rc->out.note, sizeof rc->out.note, "%s", err);
    srv_log("%s: %d: %s", rc->route->text, rc->out.status, err);
  } else {
    srv_target t;
    srv_target_split(rc->target, rc->target_len, &t);
    srv_request req = {0};
    req.method = rc->method;
    req.path = t.path;
    req.path_len = t.path_len;
    req.query = t.query;
    req.query_len = t.query_len;
    req.protocol = rc->version;
    req.headers = cc->hdrs.v;
    req.n_headers = cc->hdrs.n;
    req.client_ip = cc->ip;
    req.body_len = rc->body_len;
    req.tls = S.tls;
    req.authority = t.authority;
    req.authority_len = t.authority_len;
    req.default_host = S.opts.hostname;
    srv_exec(rc->route, &req, &rc->match, rc->body ? rc->body : (const uint8_t *)"", rc->body_len,
             &rc->out);
  }
  struct MHD_Connection *c = rc->conn;
  rc->run = RUN_DONE;
  MHD_resume_connection(c);
}

/* Hands the matched module's request to the runners; the connection sleeps
 * until job_run resumes it. */
static enum MHD_Result submit_route(struct MHD_Connection *c, req_ctx *rc, const char *method,
                                    const char *version) {
  conn_ctx *cc = (conn_ctx *)rc;
  cc->hdrs.n = 0;
  cc->hdrs.oom = false;
  MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header, &cc->hdrs);
  if (cc->hdrs.oom) return respond_empty(c, rc, method, 500, "out of memory (headers)");
  client_ip(c, cc->ip, sizeof cc->ip);
  rc->conn = c;
  rc->method = method;
  rc->version = version;
  rc->job.mod = (srv_module *)rc->route->handler;
  rc->job.fn = job_run;
  rc->run = RUN_SUBMITTED;
  set_timeout(c, cc, SRV_RESUME_TIMEOUT_S); /* until send_result */
  /* Suspended before the runner can possibly resume it. */
  MHD_suspend_connection(c);
  char err[160];
  srv_status st = srv_pool_submit(&rc->job, err, sizeof err);
  if (st != SRV_OK) job_run(&rc->job, st, err);
  return MHD_YES;
}

static void free_ctx(void *ctx) { wasi_ctx_free(ctx); }

/* Back on the event loop: sends what the module produced. */
static enum MHD_Result send_result(struct MHD_Connection *c, req_ctx *rc, const char *method) {
  srv_exec_out *out = &rc->out;
  set_timeout(c, (conn_ctx *)rc, SRV_IDLE_TIMEOUT_S); /* rc is its first member */
  int status = out->status;
  const uint8_t *body = (const uint8_t *)"";
  size_t blen = 0;
  if (out->parsed) {
    body = out->resp.body;
    blen = out->resp.body_len;
  }
  const char *text = NULL; /* wagi's own answer: a plain-text reason */
  if (!out->parsed) text = srv_status_text(out->outcome);
  else if (out->resp.refused) text = (const char *)out->resp.body;
  if (status < 200) {
    srv_log("%s: 502: module sent informational status %d as its final response", rc->route->text,
            status);
    status = 502; /* its headers are not sent (status differs below) */
    text = SRV_TEXT_502_INFORMATIONAL;
  }
  if (status == 204 || status == 304) blen = 0; /* no body allowed */
  /* The body stays in the WASI context's stdout buffer: the response takes
   * the context and frees it once sent, instead of copying up to the
   * output limit per request. */
  struct MHD_Response *resp;
  if (text) {
    blen = strlen(text);
    resp = text_response(text);
  } else if (out->parsed && out->ctx) {
    resp = MHD_create_response_from_buffer_with_free_callback_cls(blen, (void *)body, free_ctx,
                                                                  out->ctx);
    if (resp) out->ctx = NULL;
  } else {
    resp = empty_response();
  }
  if (!resp) {
    srv_log("%s: 500: out of memory creating the response", rc->route->text);
    srv_exec_out_free(out);
    rc->run = RUN_NONE;
    return respond_nomem(c, rc, method, "out of memory (response)");
  }
  if (out->parsed && !text && status == out->resp.status) {
    for (size_t i = 0; i < out->resp.n_headers; i++) {
      const srv_resp_header *rh = &out->resp.headers[i];
      /* libmicrohttpd refuses an empty value; one space is sent instead,
       * which every client trims away as optional white space. The names
       * and values response.c lets through are all ones it takes, so a
       * refusal is out of memory: the module's answer without one of its
       * headers (a Set-Cookie, a Location) would be a wrong answer. */
      if (MHD_add_response_header(resp, rh->name, rh->value[0] ? rh->value : " ") != MHD_YES) {
        srv_log("%s: 500: out of memory adding response header '%s'", rc->route->text, rh->name);
        MHD_destroy_response(resp);
        srv_exec_out_free(out);
        rc->run = RUN_NONE;
        return respond_nomem(c, rc, method, "out of memory (response headers)");
      }
    }
  }
  if (status == 503) MHD_add_response_header(resp, "Retry-After", "1");
  enum MHD_Result r = queue(c, rc, method, status, resp, blen, out->note);
  MHD_destroy_response(resp);
  srv_exec_out_free(out); /* the response holds the body's ctx, not out */
  rc->run = RUN_NONE;
  return r;
}

/* Is every byte of the raw request target visible (no space, no control
 * character)? Bytes from 0x80 up (raw UTF-8) are let through. */
static bool target_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= 0x20 || ch == 0x7f) return false;
  }
  return true;
}

/* The announced Content-Length (0 if absent, UINT64_MAX if unparsable). */
/* Stops keeping a body that will not be used (over the limit, or no memory
 * for it): what was kept and the n bytes just given count as discarded, and
 * the rest is read and dropped until the request ends. */
static void drop_body(req_ctx *rc, size_t n) {
  free(rc->body);
  rc->body = NULL;
  rc->body_cap = 0;
  rc->discarded = rc->body_len + n;
  rc->body_len = 0;
}

static uint64_t content_length(struct MHD_Connection *c) {
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (!cl) return 0;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(cl, &end, 10);
  return errno ? UINT64_MAX : v;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
  (void)cls;
  (void)url;
  (void)version;
  if (*con_cls == &nomem_request) {
    /* Out of memory in on_uri. Queued on the first call, before any body:
     * libmicrohttpd then reads no body and calls nothing more for it, and
     * closes the connection once the 500 is sent. */
    srv_log("500: out of memory starting a request");
    return MHD_queue_response(c, 500, S.resp_500);
  }
  req_ctx *rc = *con_cls;
  if (!rc) return MHD_NO;
  if (rc->responded) {
    *upload_size = 0; /* discarding the rest of a refused body */
    return MHD_YES;
  }
  if (rc->run == RUN_DONE) return send_result(c, rc, method);
  if (rc->run == RUN_SUBMITTED) return MHD_YES; /* not expected: still suspended */
  if (!rc->looked_up) {
    rc->looked_up = true;
    /* Headers complete: the request counts for the shutdown drain from
     * now on, and a body or the next keep-alive request may be slower. */
    rc->counted = true;
    atomic_fetch_add_explicit(&S.inflight, 1, memory_order_relaxed);
    set_timeout(c, (conn_ctx *)rc, SRV_IDLE_TIMEOUT_S); /* rc is its first member */
    srv_target t;
    srv_target_split(rc->target, rc->target_len, &t);
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    rc->bad_target = !target_ok(rc->target, rc->target_len);
    rc->kind = rc->bad_target || rc->target_nomem
                   ? SRV_ROUTE_NONE
                   : srv_route_lookup(S.table, t.path, t.path_len, host, &rc->match);
    rc->route = rc->kind == SRV_ROUTE_FOUND ? rc->match.route : NULL;
    /* Answer on a later call, never this first one: a response queued
     * before libmicrohttpd has seen the end of the request makes it close
     * the connection (no keep-alive), even for a GET without a body. The
     * exception is a body announced over the limit: 413 and close. */
    rc->max_body = 16 * SRV_MAX_DISCARD; /* /healthz, 404: body read and dropped */
    if (rc->kind == SRV_ROUTE_FOUND && srv_cgi_path_info_has_nul(&rc->match)) {
      rc->nul_path = true; /* answered 400 once the request ends; body dropped */
    } else if (rc->kind == SRV_ROUTE_FOUND) {
      uint64_t clen = content_length(c);
      rc->clen = clen;
      rc->max_body = ((srv_module *)rc->route->handler)->limits.max_body;
      if (clen > rc->max_body) {
        char note[96];
        snprintf(note, sizeof note,
                 "request body of %" PRIu64 " bytes over the %" PRIu64 "-byte limit", clen,
                 rc->max_body);
        return queue(c, rc, method, 413, S.resp_413, 0, note);
      }
    }
    return MHD_YES;
  }
  if (*upload_size > 0) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (rc->kind != SRV_ROUTE_FOUND || rc->too_large || rc->nul_path || rc->body_nomem) {
      /* discard */
      rc->discarded += n;
      if (rc->discarded > rc->max_body + SRV_MAX_DISCARD) {
        srv_target t;
        srv_target_split(rc->target, rc->target_len, &t);
        char ip[INET6_ADDRSTRLEN + 1];
        client_ip(c, ip, sizeof ip);
        srv_access_log(ip, method, &t, rc->route ? rc->route->text : NULL, 413, 0,
                       (double)(base_now_ns() - rc->t0) / 1e6,
                       "request body far over the limit: connection closed");
        return MHD_NO;
      }
      return MHD_YES;
    }
    if (rc->body_len + n > rc->max_body) {
      /* Over the limit: keep reading (and dropping) so that the 413 can be
       * sent once the request ends (libmicrohttpd takes no response in the
       * middle of a body), but give up on a body that goes on and on. */
      rc->too_large = true;
      drop_body(rc, n);
      return MHD_YES;
    }
    if (rc->body_len + n > rc->body_cap) {
      /* One allocation when the length was announced (already checked
       * against the limit); doubling from 4 KiB for chunked bodies. */
      size_t ncap = rc->body_cap ? rc->body_cap : rc->clen ? (size_t)rc->clen : 4096;
      while (ncap < rc->body_len + n) ncap *= 2;
      if (ncap > rc->max_body) ncap = rc->max_body;
      uint8_t *nb = realloc(rc->body, ncap);
      if (!nb) {
        /* Within the limit, so not a 413: a 500 once the request ends;
         * the rest of the body is read and dropped meanwhile. */
        rc->body_nomem = true;
        drop_body(rc, n);
        return MHD_YES;
      }
      rc->body = nb;
      rc->body_cap = ncap;
    }
    memcpy(rc->body + rc->body_len, upload_data, n);
    rc->body_len += n;
    return MHD_YES;
  }
  /* Final call: the whole body is in. */
  if (rc->target_nomem) return respond_nomem(c, rc, method, "out of memory (request target)");
  if (rc->bad_target)
    return queue(c, rc, method, 400, S.resp_400_target, sizeof BAD_TARGET_TEXT - 1,
                 "a raw space or control character in the request target");
  switch (rc->kind) {
  case SRV_ROUTE_HEALTHZ: return queue(c, rc, method, 200, S.resp_healthz, 2, NULL);
  case SRV_ROUTE_NONE: return queue(c, rc, method, 404, S.resp_404, 0, NULL);
  case SRV_ROUTE_FOUND: break;
  }
  if (rc->nul_path)
    return queue(c, rc, method, 400, S.resp_400_nul, sizeof NUL_PATH_TEXT - 1,
                 "the path holds %00 (an encoded NUL byte)");
  if (rc->body_nomem) return respond_empty(c, rc, method, 500, "out of memory (request body)");
  if (rc->too_large) {
    char note[96];
    snprintf(note, sizeof note, "request body over the %" PRIu64 "-byte limit", rc->max_body);
    return queue(c, rc, method, 413, S.resp_413, 0, note);
  }
  return submit_route(c, rc, method, version);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  size_t n = strlen(buf);
  while (n > 0 && buf[n - 1] == '\n') buf[--n] = 0;
  srv_log("http: %s", buf);
}

/* ---- Start, serve, drain ----------------------------------------------------------- */

static char *read_text(const char *path, char *err, size_t errlen) {
  size_t n;
  return (char *)slurp(path, &n, err, errlen);
}

static void cleanup(void) {
  /* Runners first: every suspended connection is resumed before
   * libmicrohttpd stops, as it requires. */
  srv_pool_stop();
  if (S.daemon) MHD_stop_daemon(S.daemon);
  S.daemon = NULL;
  srv_watchdog_stop();
  /* A compiler thread still translating reads a module: then the modules
   * are left to the process's exit. */
  bool free_modules = srv_native_stop();
  for (size_t i = 0; i < S.nmods; i++) {
    srv_module *m = &S.mods[i];
    for (size_t k = 0; k < m->nlogs; k++)
      if (m->logs[k].fd >= 0 && m->logs[k].fd != m->parent_log_fd) close(m->logs[k].fd);
    if (m->parent_log_fd > 0) close(m->parent_log_fd);
    free(m->logs);
    if (m->linker) wasm_linker_free(m->linker);
    wasm_module *mod = srv_module_current(m);
    if (mod && free_modules) wasm_module_free(mod);
    if (m->interp && free_modules) wasm_module_free(m->interp);
    srv_env_list_free(&m->env);
    srv_env_list_free(&m->env_module);
    for (size_t k = 0; k < m->npreopens; k++)
      if (!m->preopens[k].host_path) close(m->preopens[k].host_fd);
    free(m->preopens);
  }
  if (free_modules) free(S.mods);
  S.mods = NULL;
  S.nmods = 0;
  if (S.table) srv_route_table_free(S.table);
  S.table = NULL;
  srv_config_free(S.cfg);
  S.cfg = NULL;
  if (S.resp_healthz) MHD_destroy_response(S.resp_healthz);
  if (S.resp_404) MHD_destroy_response(S.resp_404);
  if (S.resp_413) MHD_destroy_response(S.resp_413);
  if (S.resp_400_nul) MHD_destroy_response(S.resp_400_nul);
  if (S.resp_400_target) MHD_destroy_response(S.resp_400_target);
  if (S.resp_500) MHD_destroy_response(S.resp_500);
  S.resp_healthz = S.resp_404 = S.resp_413 = S.resp_400_nul = S.resp_400_target = NULL;
  S.resp_500 = NULL;
}

/* The log directory (docs/server.md §Logs): --log-dir, created if missing, or a new
 * temporary one, announced on stdout. */
static srv_status open_log_dir(char *err, size_t errlen) {
  if (S.opts.log_dir) {
    if (mkdirs(S.opts.log_dir, err, errlen) != 0) return SRV_ERR_SYSTEM;
    if (!realpath(S.opts.log_dir, S.log_dir))
      snprintf(S.log_dir, sizeof S.log_dir, "%s", S.opts.log_dir);
    return SRV_OK;
  }
  snprintf(S.log_dir, sizeof S.log_dir, "%s/wagi-XXXXXX", tmp_dir());
  if (!mkdtemp(S.log_dir)) {
    base_set_err(err, errlen, "cannot create a temporary log directory %s: %s", S.log_dir,
                 strerror(errno));
    return SRV_ERR_SYSTEM;
  }
  S.log_dir_temp = true;
  fprintf(stderr, "No log_dir specified, using temporary directory %s for logs\n", S.log_dir);
  return SRV_OK;
}

/* Starts libmicrohttpd on `ss` with the TLS material (PEM text, NULL for
 * plain HTTP), and fills S.shown with the address it listens on. */
static srv_status start_daemon(const struct sockaddr_storage *ss, const char *cert, const char *key,
                               char *err, size_t errlen) {
  unsigned flags =
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (ss->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  if (S.tls) flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls_opts[] = {
      {S.tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key},
      {MHD_OPTION_END, 0, NULL},
  };
  /* The port also goes to libmicrohttpd, which binds to the sockaddr but
   * names this number in its own error messages ("Failed to bind to port"). */
  uint16_t lport = ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                                   : ((const struct sockaddr_in *)ss)->sin_port);
  S.header_timeout_s = (S.opts.header_timeout_ms + 999u) / 1000u;
  S.daemon = MHD_start_daemon(
      flags, lport, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
      NULL, /* must come first */
      MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss, MHD_OPTION_NOTIFY_CONNECTION,
      on_connection, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED,
      on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)S.opts.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)S.opts.per_ip_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, S.header_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)(32 * 1024), MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
      MHD_OPTION_THREAD_POOL_SIZE,
      S.opts.http_threads ? S.opts.http_threads : srv_pool_default_workers(), MHD_OPTION_ARRAY,
      tls_opts, MHD_OPTION_END);
  if (!S.daemon) {
    base_set_err(err, errlen, "cannot listen on %s%s", S.opts.listen,
                 S.tls ? " (or the TLS certificate/key were rejected)" : " (address in use?)");
    return SRV_ERR_SYSTEM;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(S.daemon, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = di ? di->port : 0;
  if (ss->ss_family == AF_INET6) {
    char a[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof a);
    snprintf(S.shown, sizeof S.shown, "[%s]:%u", a, port);
  } else {
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof a);
    snprintf(S.shown, sizeof S.shown, "%s:%u", a, port);
  }
  return SRV_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)type;
  (void)ftw;
  remove(path);
  return 0;
}

/* rm -r of the temporary log directory (nothing in it is worth keeping when
 * the server never served: the startup error is printed). */
static void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The route table, once at startup, in matching order: which module and
 * entrypoint each route runs, and where its module.stderr is, so that
 * nobody has to compute a sha256 to find it. */
static void print_routes(void) {
  size_t n = srv_route_table_len(S.table);
  srv_log("%zu route(s), first match wins; /healthz is built in:", n);
  for (size_t k = 0; k < n; k++) {
    const srv_route *r = srv_route_table_at(S.table, k);
    const srv_module *m = r->handler;
    char dir[PATH_MAX + 80];
    srv_route_log_dir(S.log_dir, r->text, dir, sizeof dir);
    srv_log("route %s -> %s%s%s (%s%s%s) log %s/module.stderr", r->text, m->path,
            r->host ? " host " : "", r->host ? r->host : "", r->entrypoint,
            r->dynamic ? ", from _routes" : "",
            wasm_module_is_native(srv_module_current(m)) ? ", native code"
            : m->native_pending ? ", interpreter until its native code is compiled"
                                : "",
            dir);
  }
}

/* srv_start after the signal mask: everything that can fail. On failure
 * the caller cleans up. */
static srv_status start(char *err, size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t slen;
  if (parse_listen(S.opts.listen, &ss, &slen) != 0) {
    base_set_err(err, errlen,
                 "--listen %s: expected a numeric IP:PORT such as 127.0.0.1:3000 or [::1]:3000",
                 S.opts.listen);
    return SRV_ERR_INVALID;
  }
  srv_status st = srv_access_log_open(S.opts.access_log, err, errlen);
  if (st != SRV_OK) return st;

  /* Config (docs/server.md §modules.toml). */
  if (srv_config_load(S.opts.config, &S.cfg, err, errlen) != SRV_CONFIG_OK) return SRV_ERR_INVALID;
  for (size_t i = 0; i < S.cfg->n_warnings; i++) fprintf(stderr, "%s\n", S.cfg->warnings[i]);

  st = open_log_dir(err, errlen);
  if (st != SRV_OK) return st;

  /* TLS material, checked before any module work. */
  char *cert = NULL, *key = NULL;
  if (S.opts.tls_cert) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      base_set_err(err, errlen,
                   "TLS requested but this libmicrohttpd was built without TLS support");
      return SRV_ERR_INVALID;
    }
    char e2[2048];
    cert = read_text(S.opts.tls_cert, e2, sizeof e2);
    if (cert) key = read_text(S.opts.tls_key, e2, sizeof e2);
    if (!cert || !key) {
      base_set_err(err, errlen, "TLS: %s", e2);
      free(cert);
      return SRV_ERR_INVALID;
    }
    S.tls = true;
  }

  /* The module cache (docs/server.md §Native code), before the modules
   * look up their native code there; --tier aot without one compiles
   * into a private temporary directory. */
  if ((S.opts.module_cache && S.opts.tier == SRV_TIER_AUTO) || S.opts.tier == SRV_TIER_AOT) {
    st = S.opts.module_cache ? srv_native_open(S.opts.module_cache, err, errlen)
                             : srv_native_open_temp(tmp_dir(), err, errlen);
    if (st != SRV_OK) {
      free(cert);
      free(key);
      return st;
    }
  } else if (S.opts.module_cache) {
    srv_log("--tier interp: the module cache %s is not used", S.opts.module_cache);
  }

  /* Modules, `_routes`, route table (docs/server.md §Routing). */
  st = srv_watchdog_start(err, errlen);
  if (st == SRV_OK) {
    S.table = srv_route_table_new();
    S.nmods = S.cfg->n_modules;
    S.mods = calloc(S.nmods ? S.nmods : 1, sizeof *S.mods);
    if (!S.table || !S.mods) {
      base_set_err(err, errlen, "out of memory");
      st = SRV_ERR_NOMEM;
    }
  }
  if (st == SRV_OK) {
    for (size_t i = 0; i < S.nmods; i++) S.mods[i].parent_log_fd = -1;
    for (size_t i = 0; i < S.nmods && st == SRV_OK; i++) st = setup_module(i, err, errlen);
  }
  if (st == SRV_OK) {
    S.resp_healthz = MHD_create_response_from_buffer(2, (void *)"OK", MHD_RESPMEM_PERSISTENT);
    S.resp_404 = empty_response();
    S.resp_413 = empty_response();
    S.resp_400_nul = MHD_create_response_from_buffer(sizeof NUL_PATH_TEXT - 1,
                                                     (void *)NUL_PATH_TEXT, MHD_RESPMEM_PERSISTENT);
    if (S.resp_400_nul &&
        MHD_add_response_header(S.resp_400_nul, "Content-Type", "text/plain") != MHD_YES) {
      MHD_destroy_response(S.resp_400_nul);
      S.resp_400_nul = NULL;
    }
    S.resp_400_target = MHD_create_response_from_buffer(
        sizeof BAD_TARGET_TEXT - 1, (void *)BAD_TARGET_TEXT, MHD_RESPMEM_PERSISTENT);
    if (S.resp_400_target &&
        MHD_add_response_header(S.resp_400_target, "Content-Type", "text/plain") != MHD_YES) {
      MHD_destroy_response(S.resp_400_target);
      S.resp_400_target = NULL;
    }
    S.resp_500 = text_response(srv_status_text(SRV_ERR_NOMEM));
    if (!S.resp_healthz || !S.resp_404 || !S.resp_413 || !S.resp_400_nul || !S.resp_400_target ||
        !S.resp_500) {
      base_set_err(err, errlen, "out of memory");
      st = SRV_ERR_NOMEM;
    }
  }
  if (st == SRV_OK) {
    http_set_blocking_hook(srv_pool_blocking);
    wasi_set_blocking_hook(srv_pool_blocking);
    st = srv_pool_start(S.mods, S.nmods, S.opts.workers, err, errlen);
  }
  if (st == SRV_OK) st = start_daemon(&ss, cert, key, err, errlen);
  if (st == SRV_OK) print_routes();
  if (st == SRV_OK) st = srv_native_start(S.mods, S.nmods, err, errlen);
  free(cert);
  free(key);
  return st;
}

srv_status srv_start(const srv_options *o, char *err, size_t errlen) {
  memset(&S, 0, sizeof S);
  S.opts = *o;
  /* Signals: handled by sigwait in srv_serve's thread, blocked before any
   * other thread exists (the watchdog, curl's, the runners, the event
   * loops) so that all of them inherit the mask: a SIGTERM delivered to a
   * thread that does not block it would kill the process. One that arrives
   * during startup waits and is handled once serving starts. */
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&S.sigs);
  sigaddset(&S.sigs, SIGINT);
  sigaddset(&S.sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &S.sigs, NULL);
  sigset_t hup; /* SIGHUP too (srv_serve reopens the logs), not in S.sigs:
                   during the drain it must not cut the wait short */
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hup, NULL);
  srv_status st = start(err, errlen);
  if (st != SRV_OK) {
    cleanup();
    if (S.log_dir_temp) remove_tree(S.log_dir);
  }
  return st;
}

/* SIGHUP: every log file the server opened is opened afresh at its path
 * (logrotate moves them away, then signals): the access log if it is a
 * file, and each route's module.stderr. The server's own log is its
 * stderr, which it did not open: rotate that with copytruncate. */
static void reopen_logs(void) {
  char err[512];
  unsigned failed = 0;
  if (srv_access_log_reopen(err, sizeof err) != SRV_OK) {
    srv_log("SIGHUP: %s", err);
    failed++;
  }
  for (size_t i = 0; i < S.nmods; i++) {
    srv_module *m = &S.mods[i];
    if (srv_route_log_reopen(S.log_dir, m->route, m->parent_log_fd, err, sizeof err) != SRV_OK) {
      srv_log("SIGHUP: %s", err);
      failed++;
    }
    for (size_t k = 0; k < m->nlogs; k++) {
      if (m->logs[k].fd == m->parent_log_fd) continue;
      if (srv_route_log_reopen(S.log_dir, m->logs[k].route->text, m->logs[k].fd, err, sizeof err) !=
          SRV_OK) {
        srv_log("SIGHUP: %s", err);
        failed++;
      }
    }
  }
  if (failed) srv_log("SIGHUP: %u log file(s) kept open as they were", failed);
  else srv_log("SIGHUP: log files reopened");
}

int srv_serve(void) {
  printf("Ready: serving on http://%s\n", S.shown);
  fflush(stdout);
  sigset_t any = S.sigs;
  sigaddset(&any, SIGHUP);
  for (;;) {
    int sig = 0;
    sigwait(&any, &sig);
    if (sig != SIGHUP) return sig;
    reopen_logs();
  }
}

void srv_drain(int sig) {
  srv_log("%s: stop accepting, finishing requests in flight (at most %u s)",
          sig == SIGINT ? "SIGINT" : "SIGTERM", SRV_DRAIN_MS / 1000);
  srv_native_cancel(); /* a compiler still running is killed now */
  MHD_socket lfd = MHD_quiesce_daemon(S.daemon);
  if (lfd != MHD_INVALID_SOCKET) close(lfd);
  uint64_t until = base_now_ns() + (uint64_t)SRV_DRAIN_MS * 1000000ull;
  while (atomic_load(&S.inflight) > 0 && base_now_ns() < until) {
    /* A second SIGINT/SIGTERM cuts the drain short. */
    struct timespec ts = {0, 10 * 1000000};
    if (sigtimedwait(&S.sigs, NULL, &ts) > 0) {
      srv_log("second signal: not waiting any longer");
      break;
    }
  }
  long left = atomic_load(&S.inflight);
  if (left > 0) {
    srv_log("%ld request(s) still running: interrupting them", left);
    srv_watchdog_interrupt_all();
    /* Give the interrupted requests a moment to send their 503. */
    uint64_t until2 = base_now_ns() + 1000000000ull;
    while (atomic_load(&S.inflight) > 0 && base_now_ns() < until2) {
      struct timespec ts = {0, 5 * 1000000};
      nanosleep(&ts, NULL);
    }
  }
  srv_exec_stats st;
  srv_exec_stats_get(&st);
  if (st.runs)
    srv_log("served %" PRIu64 " module runs (%" PRIu64
            " on native code); mean per request: instantiate %.1f us, "
            "WASI ctx + argv/env %.1f us, run %.1f us",
            st.runs, st.native_runs, (double)st.inst_ns / (double)st.runs / 1e3,
            (double)st.ctx_ns / (double)st.runs / 1e3, (double)st.run_ns / (double)st.runs / 1e3);
  unsigned threads = 0, target = 0;
  srv_pool_stats(&threads, &target);
  if (st.runs) srv_log("runners: %u thread(s) started for %u at a time", threads, target);
  cleanup();
}
