/* config.c — WAGI module map loader on top of toml.c (see config.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "server.h"
#include "toml.h"

#define MAX_TIME_LIMIT_MS 86400000u
#define MAX_MEMORY_LIMIT_BYTES ((uint64_t)SRV_WASM_PAGE_SIZE * 65536u) /* 4 GiB: all of wasm32 */
#define MAX_SIZE_LIMIT ((uint64_t)1 << 32)

typedef struct {
  const char *filename;
  char *err;
  size_t errlen;
  srv_config_status status;
  srv_config *cfg;
  const srv_module_config *mod; /* module being loaded, for message context */
} loader;

/* ---- messages ----------------------------------------------------------------- */

/* "module 2 (route \"/x\"): " for the module being loaded, "" outside one. */
static void module_context(const loader *L, char *buf, size_t cap) {
  buf[0] = 0;
  if (!L->mod) return;
  if (L->mod->route)
    snprintf(buf, cap, "module %zu (route \"%.100s\"): ", L->mod->index + 1, L->mod->route);
  else snprintf(buf, cap, "module %zu: ", L->mod->index + 1);
}

static int fail_at(loader *L, srv_config_status st, uint32_t line, uint32_t col, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static int fail_at(loader *L, srv_config_status st, uint32_t line, uint32_t col, const char *fmt,
                   ...) {
  if (L->status != SRV_CONFIG_OK) return -1;
  L->status = st;
  if (!L->errlen) return -1;
  char ctx[160];
  module_context(L, ctx, sizeof ctx);
  va_list ap;
  va_start(ap, fmt);
  toml_format_at(L->err, L->errlen, L->filename, line, col, ctx, fmt, ap);
  va_end(ap);
  return -1;
}

#define INVALID(L, v, ...) fail_at((L), SRV_CONFIG_ERR_INVALID, (v)->line, (v)->col, __VA_ARGS__)
#define NOMEM(L) fail_at((L), SRV_CONFIG_ERR_NOMEM, 0, 0, "out of memory")

static int warn_at(loader *L, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int warn_at(loader *L, uint32_t line, uint32_t col, const char *fmt, ...) {
  char prefix[180];
  module_context(L, prefix + 9, sizeof prefix - 9);
  memcpy(prefix, "warning: ", 9);
  size_t need = strlen(L->filename) + strlen(prefix) + 512 + 64;
  char *w = malloc(need);
  if (!w) return NOMEM(L);
  va_list ap;
  va_start(ap, fmt);
  toml_format_at(w, need, L->filename, line, col, prefix, fmt, ap);
  va_end(ap);
  srv_config *c = L->cfg;
  char **nw = realloc(c->warnings, (c->n_warnings + 1) * sizeof *nw);
  if (!nw) {
    free(w);
    return NOMEM(L);
  }
  c->warnings = nw;
  c->warnings[c->n_warnings++] = w;
  return 0;
}

/* ---- typed getters -------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

/* A string value as a new C string; `what` names it in messages. */
static int string_value(loader *L, const toml_value *v, const char *what, bool nonempty,
                        char **out) {
  if (v->kind != TOML_STRING)
    return INVALID(L, v, "%s must be a string, not %s %s", what,
                   v->kind == TOML_ARRAY || v->kind == TOML_INTEGER ? "an" : "a",
                   toml_kind_name(v->kind));
  if (memchr(v->u.str.ptr, 0, v->u.str.len))
    return INVALID(L, v, "%s must not contain NUL characters", what);
  if (nonempty && v->u.str.len == 0) return INVALID(L, v, "%s must not be empty", what);
  *out = dup_n(v->u.str.ptr, v->u.str.len);
  return *out ? 0 : NOMEM(L);
}

/* Optional string key: leaves *out alone when absent. */
static int opt_string(loader *L, const toml_value *t, const char *key, bool nonempty, char **out) {
  const toml_value *v = toml_table_get(t, key);
  if (!v) return 0;
  free(*out);
  *out = NULL;
  return string_value(L, v, key, nonempty, out);
}

/* Optional integer key within [min, max]; *present tells if it was there. */
static int opt_uint(loader *L, const toml_value *t, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out, bool *present) {
  const toml_value *v = toml_table_get(t, key);
  if (present) *present = v != NULL;
  if (!v) return 0;
  if (v->kind != TOML_INTEGER)
    return INVALID(L, v, "%s must be an integer, not %s %s", key,
                   v->kind == TOML_ARRAY ? "an" : "a", toml_kind_name(v->kind));
  if (v->u.integer < 0 || (uint64_t)v->u.integer < min)
    return INVALID(L, v, "%s must be at least %llu (got %lld)", key, (unsigned long long)min,
                   (long long)v->u.integer);
  if ((uint64_t)v->u.integer > max)
    return INVALID(L, v, "%s must be at most %llu (got %lld)", key, (unsigned long long)max,
                   (long long)v->u.integer);
  *out = (uint64_t)v->u.integer;
  return 0;
}

static const toml_value *opt_kind(loader *L, const toml_value *t, const char *key, toml_kind kind,
                                  const char *what, int *rc) {
  const toml_value *v = toml_table_get(t, key);
  *rc = 0;
  if (v && v->kind != kind) {
    *rc = INVALID(L, v, "%s must be %s, not %s %s", key, what,
                  v->kind == TOML_ARRAY || v->kind == TOML_INTEGER ? "an" : "a",
                  toml_kind_name(v->kind));
    return NULL;
  }
  return v;
}

/* ---- limits ------------------------------------------------------------------- */

static const char *const limit_keys[] = {"time_limit_ms",          "memory_limit_bytes",
                                         "output_limit_bytes",     "stderr_limit_bytes",
                                         "max_request_body_bytes", "max_concurrent_requests"};

/* Reads the limit keys present in table t over *lim, adding SRV_LIMIT_* bits
 * for them to *set. */
static int read_limits(loader *L, const toml_value *t, srv_limits *lim, unsigned *set) {
  uint64_t v;
  bool present;
  if (opt_uint(L, t, "time_limit_ms", 1, MAX_TIME_LIMIT_MS, &v, &present) < 0) return -1;
  if (present) {
    lim->time_limit_ms = v;
    *set |= SRV_LIMIT_TIME;
  }
  if (opt_uint(L, t, "memory_limit_bytes", SRV_WASM_PAGE_SIZE, MAX_MEMORY_LIMIT_BYTES, &v,
               &present) < 0)
    return -1;
  if (present) {
    if (v % SRV_WASM_PAGE_SIZE) {
      const toml_value *tv = toml_table_get(t, "memory_limit_bytes");
      return INVALID(L, tv,
                     "memory_limit_bytes must be a multiple of the wasm page size 65536 "
                     "(e.g. %llu = %llu pages)",
                     (unsigned long long)(v / SRV_WASM_PAGE_SIZE * SRV_WASM_PAGE_SIZE),
                     (unsigned long long)(v / SRV_WASM_PAGE_SIZE));
    }
    lim->memory_limit_bytes = v;
    *set |= SRV_LIMIT_MEMORY;
  }
  if (opt_uint(L, t, "output_limit_bytes", 1, MAX_SIZE_LIMIT, &v, &present) < 0) return -1;
  if (present) {
    lim->output_limit_bytes = v;
    *set |= SRV_LIMIT_OUTPUT;
  }
  if (opt_uint(L, t, "stderr_limit_bytes", 1, MAX_SIZE_LIMIT, &v, &present) < 0) return -1;
  if (present) {
    lim->stderr_limit_bytes = v;
    *set |= SRV_LIMIT_STDERR;
  }
  if (opt_uint(L, t, "max_request_body_bytes", 1, MAX_SIZE_LIMIT, &v, &present) < 0) return -1;
  if (present) {
    lim->max_request_body_bytes = v;
    *set |= SRV_LIMIT_BODY;
  }
  if (opt_uint(L, t, "max_concurrent_requests", 1, UINT32_MAX, &v, &present) < 0) return -1;
  if (present) {
    lim->max_concurrent_requests = (uint32_t)v;
    *set |= SRV_LIMIT_CONCURRENCY;
  }
  return 0;
}

/* ---- module references ------------------------------------------------------------ */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Length of the URL scheme at the start of s (letters, digits, + - . after a
 * letter, then ':'), or 0 when s has none and is therefore a plain path. */
static size_t scheme_len(const char *s) {
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
  size_t i = 1;
  while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
         (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.')
    i++;
  return s[i] == ':' ? i : 0;
}

/* Resolves `module` into a local path (file: URL or plain path) or refuses it. */
static int module_reference(loader *L, const toml_value *v, srv_module_config *m) {
  const char *ref = m->module_ref;
  size_t sl = scheme_len(ref);
  if (sl == 0) {
    m->module_path = strdup(ref);
    return m->module_path ? 0 : NOMEM(L);
  }
  if ((sl == 3 && strncasecmp(ref, "oci", 3) == 0) ||
      (sl == 6 && strncasecmp(ref, "bindle", 6) == 0))
    return INVALID(L, v,
                   "bindle/OCI module references are not supported by wagi-c: \"%.200s\" "
                   "(use a local path or a file: URL)",
                   ref);
  if (!(sl == 4 && strncasecmp(ref, "file", 4) == 0))
    return INVALID(L, v,
                   "unsupported module reference scheme '%.*s:' in \"%.200s\" "
                   "(use a local path or a file: URL)",
                   (int)(sl > 40 ? 40 : sl), ref, ref);
  const char *p = ref + 5;
  if (p[0] == '/' && p[1] == '/') {
    const char *auth = p + 2;
    const char *slash = strchr(auth, '/');
    size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
    if (alen && !(alen == 9 && strncasecmp(auth, "localhost", 9) == 0))
      return INVALID(L, v, "file: URL \"%.200s\" names host '%.*s'; only local files are supported",
                     ref, (int)(alen > 100 ? 100 : alen), auth);
    p = auth + alen;
  }
  if (strpbrk(p, "?#"))
    return INVALID(L, v, "file: URL \"%.200s\" must not have a query or fragment", ref);
  if (*p == 0) return INVALID(L, v, "file: URL \"%.200s\" has no path", ref);
  /* decode %XX; a file: URL path is absolute ("file:x.wasm" is "/x.wasm", as
   * the reference's URL parser reads it) */
  char *path = malloc(strlen(p) + 2);
  if (!path) return NOMEM(L);
  size_t o = 0;
  if (*p != '/') path[o++] = '/';
  for (size_t i = 0; p[i]; i++) {
    if (p[i] == '%') {
      int h = hexval((unsigned char)p[i + 1]), l = h >= 0 ? hexval((unsigned char)p[i + 2]) : -1;
      if (h < 0 || l < 0 || (h == 0 && l == 0)) {
        free(path);
        return INVALID(L, v, "file: URL \"%.200s\" has an invalid %%-escape", ref);
      }
      path[o++] = (char)(h * 16 + l);
      i += 2;
    } else {
      path[o++] = p[i];
    }
  }
  path[o] = 0;
  m->module_path = path;
  return 0;
}

/* ---- allowed_hosts -------------------------------------------------------------- */

void srv_allowed_host_clear(srv_allowed_host *h) {
  if (!h) return;
  free(h->entry);
  free(h->host);
  memset(h, 0, sizeof *h);
}

srv_config_status srv_allowed_host_parse(const char *entry, srv_allowed_host *out, char *err,
                                         size_t errlen) {
#define WHY(...) (snprintf(err, errlen, __VA_ARGS__), SRV_CONFIG_ERR_INVALID)
  if (errlen) err[0] = 0;
  const char *sep = strstr(entry, "://");
  size_t sl = scheme_len(entry);
  if (sep && (sl == 0 || entry + sl != sep))
    return WHY("not a URL of the form scheme://host[:port]");
  if (!sep && sl > 0 &&
      ((sl == 4 && strncasecmp(entry, "http", 4) == 0) ||
       (sl == 5 && strncasecmp(entry, "https", 5) == 0)))
    return WHY("expected \"%.*s://\" before the host", (int)sl, entry);
  if (!sep) {
    return WHY(
        "no scheme: write \"https://%.100s\" or \"http://%.100s\" (a bare host name is not "
        "allowed)",
        entry, entry);
  }
  bool https;
  if (sl == 5 && strncasecmp(entry, "https", 5) == 0) https = true;
  else if (sl == 4 && strncasecmp(entry, "http", 4) == 0) https = false;
  else return WHY("scheme '%.*s' is not http or https", (int)(sl > 40 ? 40 : sl), entry);
  const char *h = sep + 3;
  const char *end = h + strcspn(h, "/?#");
  if (*end == '?' || *end == '#') return WHY("a query or fragment is not allowed");
  if (*end == '/' && end[1] != 0)
    return WHY("a path is not allowed (only scheme://host[:port] is matched)");
  if (memchr(h, '@', (size_t)(end - h))) return WHY("user information is not allowed");
  const char *hs = h, *he, *portp = NULL;
  if (*h == '[') {
    const char *rb = memchr(h, ']', (size_t)(end - h));
    if (!rb) return WHY("unterminated IPv6 address");
    hs = h + 1;
    he = rb;
    for (const char *q = hs; q < he; q++)
      if (!(hexval((unsigned char)*q) >= 0 || *q == ':' || *q == '.'))
        return WHY("invalid IPv6 address");
    if (he - hs < 2) return WHY("invalid IPv6 address");
    if (rb + 1 < end) {
      if (rb[1] != ':') return WHY("unexpected characters after the IPv6 address");
      portp = rb + 2;
    }
  } else {
    const char *colon = memchr(h, ':', (size_t)(end - h));
    he = colon ? colon : end;
    if (colon) portp = colon + 1;
    for (const char *q = hs; q < he; q++) {
      unsigned char c = (unsigned char)*q;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_'))
        return WHY("invalid character '%c' in host name", c >= 0x20 && c < 0x7f ? c : '?');
    }
  }
  if (he == hs) return WHY("no host");
  unsigned long port = https ? 443 : 80;
  bool explicit_port = false;
  if (portp) {
    if (portp == end) return WHY("empty port");
    port = 0;
    for (const char *q = portp; q < end; q++) {
      if (*q < '0' || *q > '9') return WHY("invalid port");
      port = port * 10 + (unsigned long)(*q - '0');
      if (port > 65535) return WHY("port out of range");
    }
    if (port == 0) return WHY("port out of range");
    explicit_port = true;
  }
  char *host = dup_n(hs, (size_t)(he - hs));
  char *copy = strdup(entry);
  if (!host || !copy) {
    free(host);
    free(copy);
    snprintf(err, errlen, "out of memory");
    return SRV_CONFIG_ERR_NOMEM;
  }
  for (char *q = host; *q; q++)
    if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
  out->entry = copy;
  out->https = https;
  out->host = host;
  out->port = (uint16_t)port;
  out->explicit_port = explicit_port;
  return 0;
#undef WHY
}

bool srv_module_allows_host(const srv_module_config *m, const char *scheme, const char *host,
                            uint16_t port) {
  if (!m || !scheme || !host || !*host) return false;
  if (m->allow_all_hosts) return true;
  bool https;
  if (strcasecmp(scheme, "https") == 0) https = true;
  else if (strcasecmp(scheme, "http") == 0) https = false;
  else return false;
  size_t hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* "[::1]" as in a URL */
    host++;
    hl -= 2;
  }
  for (size_t i = 0; i < m->n_allowed_hosts; i++) {
    const srv_allowed_host *a = &m->allowed_hosts[i];
    if (a->https == https && a->port == port && strlen(a->host) == hl &&
        strncasecmp(a->host, host, hl) == 0)
      return true;
  }
  return false;
}

/* `wagi run --allow-host`: a module config holding only an allow-list. */
struct srv_allow_list {
  srv_module_config m;
  size_t cap;
};

srv_allow_list *srv_allow_list_new(void) { return calloc(1, sizeof(srv_allow_list)); }

srv_status srv_allow_list_add(srv_allow_list *l, const char *entry, char *err, size_t errlen) {
  if (strcmp(entry, "insecure:allow-all") == 0) {
    l->m.allow_all_hosts = true;
    return SRV_OK;
  }
  if (l->m.n_allowed_hosts == l->cap) {
    size_t ncap = l->cap ? 2 * l->cap : 4;
    srv_allowed_host *n = realloc(l->m.allowed_hosts, ncap * sizeof *n);
    if (!n) {
      snprintf(err, errlen, "out of memory");
      return SRV_ERR_NOMEM;
    }
    l->m.allowed_hosts = n;
    l->cap = ncap;
  }
  srv_allowed_host h;
  memset(&h, 0, sizeof h);
  srv_config_status st = srv_allowed_host_parse(entry, &h, err, errlen);
  if (st != SRV_CONFIG_OK) return st == SRV_CONFIG_ERR_NOMEM ? SRV_ERR_NOMEM : SRV_ERR_INVALID;
  l->m.allowed_hosts[l->m.n_allowed_hosts++] = h;
  return SRV_OK;
}

bool srv_allow_list_allows(void *l, const char *scheme, const char *host, uint16_t port) {
  return l && srv_module_allows_host(&((srv_allow_list *)l)->m, scheme, host, port);
}

void srv_allow_list_free(srv_allow_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->m.n_allowed_hosts; i++) srv_allowed_host_clear(&l->m.allowed_hosts[i]);
  free(l->m.allowed_hosts);
  free(l);
}

static int read_allowed_hosts(loader *L, const toml_value *arr, srv_module_config *m) {
  size_t n = toml_array_len(arr);
  if (n == 0) return 0;
  m->allowed_hosts = calloc(n, sizeof *m->allowed_hosts);
  if (!m->allowed_hosts) return NOMEM(L);
  for (size_t i = 0; i < n; i++) {
    const toml_value *v = toml_array_at(arr, i);
    char *s = NULL;
    if (string_value(L, v, "allowed_hosts entry", true, &s) < 0) return -1;
    if (strcmp(s, "insecure:allow-all") == 0) {
      free(s);
      if (!m->allow_all_hosts &&
          warn_at(L, v->line, v->col,
                  "allowed_hosts contains \"insecure:allow-all\": outbound HTTP "
                  "requests to any host are allowed") < 0)
        return -1;
      m->allow_all_hosts = true;
      continue;
    }
    char err[256];
    srv_allowed_host h;
    memset(&h, 0, sizeof h);
    srv_config_status hs = srv_allowed_host_parse(s, &h, err, sizeof err);
    if (hs != SRV_CONFIG_OK) {
      int rc = hs == SRV_CONFIG_ERR_NOMEM
                   ? NOMEM(L)
                   : INVALID(L, v, "invalid allowed_hosts entry \"%.200s\": %s", s, err);
      free(s);
      return rc;
    }
    free(s);
    m->allowed_hosts[m->n_allowed_hosts++] = h;
  }
  return 0;
}

/* ---- string tables (volumes, environment) ------------------------------------------- */

static int read_volumes(loader *L, const toml_value *t, srv_module_config *m) {
  size_t n = toml_table_len(t);
  if (n == 0) return 0;
  m->volumes = calloc(n, sizeof *m->volumes);
  if (!m->volumes) return NOMEM(L);
  for (size_t i = 0; i < n; i++) {
    const toml_entry *e = toml_table_entry(t, i);
    srv_volume *vol = &m->volumes[m->n_volumes];
    if (e->key_len == 0)
      return fail_at(L, SRV_CONFIG_ERR_INVALID, e->line, e->col,
                     "volumes: the guest path must not be empty");
    if (memchr(e->key, 0, e->key_len))
      return fail_at(L, SRV_CONFIG_ERR_INVALID, e->line, e->col,
                     "volumes: the guest path must not contain NUL characters");
    char what[160];
    snprintf(what, sizeof what, "volumes[\"%.100s\"] (the host directory)", e->key);
    if (string_value(L, e->value, what, true, &vol->host) < 0) return -1;
    vol->guest = strdup(e->key);
    if (!vol->guest) {
      free(vol->host);
      vol->host = NULL;
      return NOMEM(L);
    }
    m->n_volumes++;
  }
  return 0;
}

static int read_environment(loader *L, const toml_value *t, srv_module_config *m) {
  size_t n = toml_table_len(t);
  if (n == 0) return 0;
  m->environment = calloc(n, sizeof *m->environment);
  if (!m->environment) return NOMEM(L);
  for (size_t i = 0; i < n; i++) {
    const toml_entry *e = toml_table_entry(t, i);
    srv_env_var *ev = &m->environment[m->n_environment];
    if (e->key_len == 0)
      return fail_at(L, SRV_CONFIG_ERR_INVALID, e->line, e->col,
                     "environment: variable names must not be empty");
    if (memchr(e->key, 0, e->key_len) || strchr(e->key, '='))
      return fail_at(L, SRV_CONFIG_ERR_INVALID, e->line, e->col,
                     "environment: variable name \"%.100s\" must not contain '=' or NUL", e->key);
    char what[160];
    snprintf(what, sizeof what, "environment.%.100s", e->key);
    if (string_value(L, e->value, what, false, &ev->value) < 0) return -1;
    ev->name = strdup(e->key);
    if (!ev->name) {
      free(ev->value);
      ev->value = NULL;
      return NOMEM(L);
    }
    m->n_environment++;
  }
  return 0;
}

/* ---- one [[module]] -------------------------------------------------------------- */

static void module_clear(srv_module_config *m) {
  free(m->route);
  free(m->module_ref);
  free(m->module_path);
  free(m->entrypoint);
  for (size_t i = 0; i < m->n_volumes; i++) {
    free(m->volumes[i].guest);
    free(m->volumes[i].host);
  }
  free(m->volumes);
  for (size_t i = 0; i < m->n_allowed_hosts; i++) srv_allowed_host_clear(&m->allowed_hosts[i]);
  free(m->allowed_hosts);
  free(m->argv);
  for (size_t i = 0; i < m->n_environment; i++) {
    free(m->environment[i].name);
    free(m->environment[i].value);
  }
  free(m->environment);
  free(m->host);
}

/* Keys WAGI and wagi-c know; any other is ignored (as WAGI does) with a
 * warning, so that a misspelt limit does not go unnoticed. */
static const char *const module_keys[] = {
    "route", "module",        "entrypoint", "volumes",     "allowed_hosts", "http_max_concurrency",
    "argv",  "bindle_server", "repository", "environment", "host"};
static const char *const top_keys[] = {"module", "limits", "default_host"};

static bool key_in(const toml_entry *e, const char *const *keys, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (e->key_len == strlen(keys[k]) && memcmp(e->key, keys[k], e->key_len) == 0) return true;
  return false;
}

/* Warns about each key of table t that is in neither list. */
static int warn_unknown_keys(loader *L, const toml_value *t, const char *const *keys, size_t n,
                             bool limits_too, const char *where) {
  for (size_t i = 0; i < toml_table_len(t); i++) {
    const toml_entry *e = toml_table_entry(t, i);
    if (key_in(e, keys, n)) continue;
    if (limits_too && key_in(e, limit_keys, sizeof limit_keys / sizeof limit_keys[0])) continue;
    if (warn_at(L, e->line, e->col, "unknown key '%.100s'%s%s ignored", e->key, *where ? " " : "",
                where) < 0)
      return -1;
  }
  return 0;
}

static int read_module(loader *L, const toml_value *t, srv_module_config *m) {
  int rc;
  /* route first, so later messages can name it */
  const toml_value *rv = toml_table_get(t, "route");
  if (!rv) return INVALID(L, t, "missing required key 'route'");
  char *route = NULL;
  if (string_value(L, rv, "route", true, &route) < 0) return -1;
  if (route[0] != '/') {
    size_t n = strlen(route);
    char *r = malloc(n + 2);
    if (!r) {
      free(route);
      return NOMEM(L);
    }
    r[0] = '/';
    memcpy(r + 1, route, n + 1);
    m->route = r;
    rc = warn_at(L, rv->line, rv->col, "route \"%.100s\" does not start with '/'; using \"%.100s\"",
                 route, r);
    free(route);
    if (rc < 0) return -1;
  } else {
    m->route = route;
  }

  const toml_value *mv = toml_table_get(t, "module");
  if (!mv) return INVALID(L, t, "missing required key 'module'");
  if (string_value(L, mv, "module", true, &m->module_ref) < 0) return -1;
  if (module_reference(L, mv, m) < 0) return -1;

  m->entrypoint = strdup("_start");
  if (!m->entrypoint) return NOMEM(L);
  if (opt_string(L, t, "entrypoint", true, &m->entrypoint) < 0) return -1;

  const toml_value *v =
      opt_kind(L, t, "volumes", TOML_TABLE, "a table of guest path = host directory", &rc);
  if (rc < 0 || (v && read_volumes(L, v, m) < 0)) return -1;

  v = opt_kind(L, t, "allowed_hosts", TOML_ARRAY, "an array of strings", &rc);
  if (rc < 0 || (v && read_allowed_hosts(L, v, m) < 0)) return -1;

  uint64_t conc = 0;
  const toml_value *cv = toml_table_get(t, "http_max_concurrency");
  if (cv && cv->kind == TOML_INTEGER && cv->u.integer == 0)
    return INVALID(
        L, cv,
        "http_max_concurrency must be at least 1 (0 would refuse every outbound request); "
        "remove the key for no limit");
  if (opt_uint(L, t, "http_max_concurrency", 1, UINT32_MAX, &conc, NULL) < 0) return -1;
  m->http_max_concurrency = (uint32_t)conc;

  if (opt_string(L, t, "argv", false, &m->argv) < 0) return -1;

  v = opt_kind(L, t, "environment", TOML_TABLE, "a table of NAME = \"value\"", &rc);
  if (rc < 0 || (v && read_environment(L, v, m) < 0)) return -1;

  if (opt_string(L, t, "host", true, &m->host) < 0) return -1;
  if (m->host)
    for (char *q = m->host; *q; q++)
      if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');

  m->limits = L->cfg->defaults;
  m->limits_set = L->cfg->limits_set;
  if (read_limits(L, t, &m->limits, &m->limits_set) < 0) return -1;
  /* warn_at names the module and its route */
  return warn_unknown_keys(L, t, module_keys, sizeof module_keys / sizeof module_keys[0], true, "");
}

/* ---- document --------------------------------------------------------------------- */

static int read_config(loader *L, const toml_value *root) {
  srv_config *c = L->cfg;
  c->defaults.time_limit_ms = SRV_DEFAULT_TIME_LIMIT_MS;
  c->defaults.memory_limit_bytes = SRV_DEFAULT_MEMORY_LIMIT_BYTES;
  c->defaults.output_limit_bytes = SRV_DEFAULT_OUTPUT_LIMIT_BYTES;
  c->defaults.stderr_limit_bytes = SRV_DEFAULT_STDERR_LIMIT_BYTES;
  c->defaults.max_request_body_bytes = SRV_DEFAULT_MAX_REQUEST_BODY_BYTES;
  c->defaults.max_concurrent_requests = SRV_DEFAULT_MAX_CONCURRENT_REQUESTS;

  int rc;
  const toml_value *lim = opt_kind(L, root, "limits", TOML_TABLE, "a table ([limits])", &rc);
  if (rc < 0) return -1;
  if (lim) {
    if (read_limits(L, lim, &c->defaults, &c->limits_set) < 0) return -1;
    if (warn_unknown_keys(L, lim, NULL, 0, true, "in [limits]") < 0) return -1;
  }
  if (warn_unknown_keys(L, root, top_keys, sizeof top_keys / sizeof top_keys[0], false,
                        "at the top level") < 0)
    return -1;
  if (opt_string(L, root, "default_host", true, &c->default_host) < 0) return -1;
  if (c->default_host)
    for (char *q = c->default_host; *q; q++)
      if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');

  const toml_value *mods = toml_table_get(root, "module");
  if (!mods)
    return fail_at(L, SRV_CONFIG_ERR_INVALID, 1, 1,
                   "no [[module]] entries: the module map needs at least one");
  if (mods->kind != TOML_ARRAY)
    return INVALID(L, mods, "'module' must be an array of tables ([[module]]), not %s %s",
                   mods->kind == TOML_INTEGER ? "an" : "a", toml_kind_name(mods->kind));
  size_t n = toml_array_len(mods);
  if (n) {
    c->modules = calloc(n, sizeof *c->modules);
    if (!c->modules) return NOMEM(L);
  }
  for (size_t i = 0; i < n; i++) {
    const toml_value *t = toml_array_at(mods, i);
    srv_module_config *m = &c->modules[i];
    m->index = i;
    m->line = t->line;
    m->col = t->col;
    c->n_modules = i + 1; /* counted before filling so a failure frees it */
    L->mod = m;
    if (t->kind != TOML_TABLE)
      return INVALID(L, t, "each module entry must be a table, not %s %s",
                     t->kind == TOML_ARRAY || t->kind == TOML_INTEGER ? "an" : "a",
                     toml_kind_name(t->kind));
    if (read_module(L, t, m) < 0) return -1;
    for (size_t j = 0; j < i; j++) {
      if (strcmp(c->modules[j].route, m->route) == 0 &&
          strcmp(c->modules[j].host ? c->modules[j].host : "", m->host ? m->host : "") == 0) {
        const toml_value *rv = toml_table_get(t, "route");
        if (warn_at(L, rv->line, rv->col,
                    "route \"%.100s\" is also defined by module %zu (line %u); the first "
                    "definition wins",
                    m->route, j + 1, c->modules[j].line) < 0)
          return -1;
        break;
      }
    }
    L->mod = NULL;
  }
  return 0;
}

void srv_config_free(srv_config *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n_modules; i++) module_clear(&c->modules[i]);
  free(c->modules);
  for (size_t i = 0; i < c->n_warnings; i++) free(c->warnings[i]);
  free(c->warnings);
  free(c->default_host);
  free(c->filename);
  free(c);
}

size_t srv_config_module_count(const srv_config *c) { return c ? c->n_modules : 0; }

srv_config_status srv_config_parse(const char *text, size_t len, const char *filename,
                                   srv_config **out, char *err, size_t errlen) {
  loader L;
  memset(&L, 0, sizeof L);
  L.filename = filename ? filename : "<config>";
  L.err = err;
  L.errlen = errlen;
  if (errlen) err[0] = 0;
  toml_value *root = NULL;
  toml_status ts = toml_parse(text, len, L.filename, &root, err, errlen);
  if (ts != TOML_OK) return ts == TOML_ERR_NOMEM ? SRV_CONFIG_ERR_NOMEM : SRV_CONFIG_ERR_SYNTAX;
  int rc;
  L.cfg = calloc(1, sizeof *L.cfg);
  if (!L.cfg || !(L.cfg->filename = strdup(L.filename))) rc = NOMEM(&L);
  else rc = read_config(&L, root);
  toml_free(root);
  if (rc < 0) {
    srv_config_free(L.cfg);
    return L.status;
  }
  *out = L.cfg;
  return SRV_CONFIG_OK;
}

srv_config_status srv_config_load(const char *path, srv_config **out, char *err, size_t errlen) {
  uint8_t *buf;
  size_t n;
  switch (base_read_file(path, SRV_CONFIG_MAX_FILE_SIZE, BASE_FILE_REGULAR_ONLY, &buf, &n, err,
                         errlen)) {
  case BASE_FILE_OK: break;
  case BASE_FILE_ERR_NOMEM: return SRV_CONFIG_ERR_NOMEM;
  default: return SRV_CONFIG_ERR_IO;
  }
  srv_config_status s = srv_config_parse((const char *)buf, n, path, out, err, errlen);
  free(buf);
  return s;
}

const char *srv_config_status_str(srv_config_status s) {
  switch (s) {
  case SRV_CONFIG_OK: return "ok";
  case SRV_CONFIG_ERR_IO: return "cannot read config file";
  case SRV_CONFIG_ERR_SYNTAX: return "config file is not valid TOML";
  case SRV_CONFIG_ERR_INVALID: return "invalid module map";
  case SRV_CONFIG_ERR_NOMEM: return "out of memory";
  }
  return "unknown status";
}
