/* config.c — TOPIC.toml for `wagi eventgrid` (see eventgrid.h), on the
 * server's TOML parser so that errors read FILE:LINE:COL like modules.toml's;
 * unknown keys are warnings, as modules.toml's are. */
#include "eventgrid.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/file.h"
#include "server/toml.h"

#define MAX_CONFIG_BYTES ((size_t)16 << 20)
#define MAX_RETRY_DELAY_S 604800.0 /* a week */
#define MAX_EVENT_TTL_S ((uint64_t)30 * 86400)

typedef struct {
  const char *file;
  char *err;
  size_t errlen;
  int failed;
  eg_config *cfg;
} loader;

static int fail_at(loader *L, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(loader *L, uint32_t line, uint32_t col, const char *fmt, ...) {
  if (L->failed) return -1;
  L->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  toml_format_at(L->err, L->errlen, L->file, line, col, NULL, fmt, ap);
  va_end(ap);
  return -1;
}
#define BAD(L, v, ...) fail_at((L), (v)->line, (v)->col, __VA_ARGS__)

static int warn_at(loader *L, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int warn_at(loader *L, uint32_t line, uint32_t col, const char *fmt, ...) {
  size_t need = strlen(L->file) + 512 + 64;
  char *w = malloc(need);
  char **nw = w ? realloc(L->cfg->warnings, (L->cfg->n_warnings + 1) * sizeof *nw) : NULL;
  if (!nw) {
    free(w);
    return fail_at(L, 0, 0, "out of memory");
  }
  va_list ap;
  va_start(ap, fmt);
  toml_format_at(w, need, L->file, line, col, "warning: ", fmt, ap);
  va_end(ap);
  L->cfg->warnings = nw;
  L->cfg->warnings[L->cfg->n_warnings++] = w;
  return 0;
}

static const char *a_an(toml_kind k) { return k == TOML_ARRAY || k == TOML_INTEGER ? "an" : "a"; }

static int str_of(loader *L, const toml_value *v, const char *what, bool nonempty, char **out) {
  if (v->kind != TOML_STRING)
    return BAD(L, v, "%s must be a string, not %s %s", what, a_an(v->kind),
               toml_kind_name(v->kind));
  if (memchr(v->u.str.ptr, 0, v->u.str.len))
    return BAD(L, v, "%s must not contain NUL characters", what);
  if (nonempty && !v->u.str.len) return BAD(L, v, "%s must not be empty", what);
  char *s = malloc(v->u.str.len + 1);
  if (!s) return fail_at(L, v->line, v->col, "out of memory");
  memcpy(s, v->u.str.ptr, v->u.str.len + 1);
  *out = s;
  return 0;
}

static int opt_str(loader *L, const toml_value *t, const char *key, bool nonempty, char **out) {
  const toml_value *v = toml_table_get(t, key);
  if (!v) return 0;
  char *s = NULL;
  if (str_of(L, v, key, nonempty, &s) < 0) return -1;
  free(*out);
  *out = s;
  return 0;
}

static int opt_uint(loader *L, const toml_value *t, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out) {
  const toml_value *v = toml_table_get(t, key);
  if (!v) return 0;
  if (v->kind != TOML_INTEGER)
    return BAD(L, v, "%s must be an integer, not %s %s", key, a_an(v->kind),
               toml_kind_name(v->kind));
  if (v->u.integer < 0 || (uint64_t)v->u.integer < min)
    return BAD(L, v, "%s must be at least %llu (got %lld)", key, (unsigned long long)min,
               (long long)v->u.integer);
  if ((uint64_t)v->u.integer > max)
    return BAD(L, v, "%s must be at most %llu (got %lld)", key, (unsigned long long)max,
               (long long)v->u.integer);
  *out = (uint64_t)v->u.integer;
  return 0;
}

static int warn_unknown(loader *L, const toml_value *t, const char *const *keys, size_t n,
                        const char *where) {
  for (size_t i = 0; i < toml_table_len(t); i++) {
    const toml_entry *e = toml_table_entry(t, i);
    bool known = false;
    for (size_t k = 0; k < n && !known; k++)
      known = strlen(keys[k]) == e->key_len && !memcmp(keys[k], e->key, e->key_len);
    if (!known && warn_at(L, e->line, e->col, "unknown key '%.100s'%s ignored", e->key, where) < 0)
      return -1;
  }
  return 0;
}

/* "IP:PORT" or "[IPv6]:PORT" with a numeric port 1..65535 (0 is refused: the
 * publishers need to know the port). The address itself is checked when the
 * server binds it. */
static int check_listen(loader *L, const toml_value *v, const char *s) {
  const char *colon = s[0] == '[' ? strstr(s, "]:") : strrchr(s, ':');
  if (colon && s[0] == '[') colon++;
  if (!colon || colon == s || !colon[1])
    return BAD(L, v, "listen must be IP:PORT (e.g. \"%s\"), not \"%.100s\"", EG_DEFAULT_LISTEN, s);
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end || port == 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
    return BAD(L, v, "listen port must be a number from 1 to 65535, not \"%.50s\"", colon + 1);
  return 0;
}

/* An http:// or https:// URL with a host. */
static int check_endpoint(loader *L, const toml_value *v, const char *s) {
  const char *rest = NULL;
  if (!strncasecmp(s, "http://", 7)) rest = s + 7;
  else if (!strncasecmp(s, "https://", 8)) rest = s + 8;
  if (!rest) return BAD(L, v, "endpoint must be an http:// or https:// URL, not \"%.200s\"", s);
  size_t hl = strcspn(rest, "/?#");
  if (hl == 0 || (hl >= 1 && rest[0] == ':'))
    return BAD(L, v, "endpoint \"%.200s\" has no host", s);
  if (memchr(rest, '@', hl))
    return BAD(L, v, "endpoint \"%.200s\": user information is not allowed", s);
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f)
      return BAD(L, v, "endpoint \"%.200s\" contains a space or control character", s);
  return 0;
}

static int read_retry_delays(loader *L, const toml_value *v) {
  if (v->kind != TOML_ARRAY)
    return BAD(L, v, "retry_delays must be an array of seconds, not %s %s", a_an(v->kind),
               toml_kind_name(v->kind));
  size_t n = toml_array_len(v);
  if (n == 0) return BAD(L, v, "retry_delays must not be empty");
  if (n > 1000) return BAD(L, v, "retry_delays has %zu entries (at most 1000)", n);
  uint32_t *d = malloc(n * sizeof *d);
  if (!d) return fail_at(L, v->line, v->col, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const toml_value *e = toml_array_at(v, i);
    double s;
    if (e->kind == TOML_INTEGER) s = (double)e->u.integer;
    else if (e->kind == TOML_FLOAT) s = e->u.fp;
    else {
      free(d);
      return BAD(L, e, "retry_delays[%zu] must be a number of seconds, not %s %s", i, a_an(e->kind),
                 toml_kind_name(e->kind));
    }
    if (!(s >= 0 && s <= MAX_RETRY_DELAY_S)) {
      free(d);
      return BAD(L, e, "retry_delays[%zu] must be from 0 to %.0f seconds", i, MAX_RETRY_DELAY_S);
    }
    d[i] = (uint32_t)(s * 1000.0 + 0.5);
  }
  free(L->cfg->retry_delays_ms);
  L->cfg->retry_delays_ms = d;
  L->cfg->n_retry_delays = n;
  return 0;
}

/* A number of seconds (integer or float) into milliseconds. */
static int opt_seconds_ms(loader *L, const toml_value *t, const char *key, double min_s,
                          double max_s, uint32_t *out) {
  const toml_value *v = toml_table_get(t, key);
  if (!v) return 0;
  double s;
  if (v->kind == TOML_INTEGER) s = (double)v->u.integer;
  else if (v->kind == TOML_FLOAT) s = v->u.fp;
  else
    return BAD(L, v, "%s must be a number of seconds, not %s %s", key, a_an(v->kind),
               toml_kind_name(v->kind));
  if (!(s >= min_s && s <= max_s))
    return BAD(L, v, "%s must be from %g to %g seconds", key, min_s, max_s);
  *out = (uint32_t)(s * 1000.0 + 0.5);
  return 0;
}

static int valid_sub_name(const char *s) {
  size_t n = strlen(s);
  if (n < 3 || n > 64) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '-'))
      return 0;
  return 1;
}

static int read_sub(loader *L, const toml_value *t, size_t idx, eg_subscription *s) {
  static const char *const keys[] = {"name", "endpoint", "event_types", "subject_begins_with"};
  if (t->kind != TOML_TABLE)
    return BAD(L, t, "subscription %zu must be a table ([[subscription]]), not %s %s", idx + 1,
               a_an(t->kind), toml_kind_name(t->kind));
  const toml_value *v = toml_table_get(t, "name");
  if (!v) return BAD(L, t, "subscription %zu has no name", idx + 1);
  if (str_of(L, v, "name", true, &s->name) < 0) return -1;
  if (!valid_sub_name(s->name))
    return BAD(L, v,
               "subscription name \"%.100s\" must be 3 to 64 letters, digits or '-' (as Azure's)",
               s->name);
  for (size_t i = 0; i < idx; i++)
    if (!strcasecmp(L->cfg->subs[i].name, s->name))
      return BAD(L, v, "subscription name \"%s\" is used twice", s->name);
  v = toml_table_get(t, "endpoint");
  if (!v) return BAD(L, t, "subscription \"%s\" has no endpoint", s->name);
  if (str_of(L, v, "endpoint", true, &s->endpoint) < 0) return -1;
  if (check_endpoint(L, v, s->endpoint) < 0) return -1;
  v = toml_table_get(t, "event_types");
  if (v) {
    if (v->kind != TOML_ARRAY)
      return BAD(L, v, "event_types must be an array of strings, not %s %s", a_an(v->kind),
                 toml_kind_name(v->kind));
    size_t n = toml_array_len(v);
    if (n == 0)
      return BAD(L, v, "event_types must not be empty (leave it out to match every type)");
    s->event_types = calloc(n, sizeof *s->event_types);
    if (!s->event_types) return fail_at(L, v->line, v->col, "out of memory");
    for (size_t i = 0; i < n; i++) {
      s->n_event_types = i + 1;
      if (str_of(L, toml_array_at(v, i), "an event_types entry", true, &s->event_types[i]) < 0)
        return -1;
    }
  }
  if (opt_str(L, t, "subject_begins_with", false, &s->subject_begins_with) < 0) return -1;
  return warn_unknown(L, t, keys, sizeof keys / sizeof keys[0], " in [[subscription]]");
}

static int read_root(loader *L, const toml_value *root) {
  static const char *const keys[] = {"listen",
                                     "key",
                                     "topic",
                                     "data_dir",
                                     "retry_delays",
                                     "max_attempts",
                                     "event_ttl",
                                     "max_batch_bytes",
                                     "delivery_timeout",
                                     "max_in_flight",
                                     "log_compact_bytes",
                                     "subscription"};
  eg_config *c = L->cfg;
  const toml_value *v;
  if (opt_str(L, root, "listen", true, &c->listen) < 0) return -1;
  if ((v = toml_table_get(root, "listen")) && check_listen(L, v, c->listen) < 0) return -1;
  if (!(v = toml_table_get(root, "key")))
    return fail_at(L, 1, 1, "key (the aeg-sas-key publishers send) is required");
  if (opt_str(L, root, "key", true, &c->key) < 0) return -1;
  if (opt_str(L, root, "topic", true, &c->topic) < 0) return -1;
  if (!(v = toml_table_get(root, "data_dir")))
    return fail_at(L, 1, 1, "data_dir (where the event log is kept) is required");
  if (opt_str(L, root, "data_dir", true, &c->data_dir) < 0) return -1;
  if ((v = toml_table_get(root, "retry_delays")) && read_retry_delays(L, v) < 0) return -1;
  uint64_t u = c->max_attempts;
  if (opt_uint(L, root, "max_attempts", 1, 1000, &u) < 0) return -1;
  c->max_attempts = (uint32_t)u;
  if (opt_uint(L, root, "event_ttl", 1, MAX_EVENT_TTL_S, &c->event_ttl_s) < 0) return -1;
  if (opt_uint(L, root, "max_batch_bytes", 1024, EG_MAX_BATCH_LIMIT, &c->max_batch_bytes) < 0)
    return -1;
  if (opt_seconds_ms(L, root, "delivery_timeout", 0.001, 3600, &c->delivery_timeout_ms) < 0)
    return -1;
  u = c->max_in_flight;
  if (opt_uint(L, root, "max_in_flight", 1, 1000, &u) < 0) return -1;
  c->max_in_flight = (uint32_t)u;
  if (opt_uint(L, root, "log_compact_bytes", 4096, (uint64_t)1 << 40, &c->log_compact_bytes) < 0)
    return -1;
  if ((v = toml_table_get(root, "subscription"))) {
    if (v->kind != TOML_ARRAY)
      return BAD(L, v, "subscription must be an array of tables ([[subscription]]), not %s %s",
                 a_an(v->kind), toml_kind_name(v->kind));
    size_t n = toml_array_len(v);
    c->subs = calloc(n ? n : 1, sizeof *c->subs);
    if (!c->subs) return fail_at(L, v->line, v->col, "out of memory");
    for (size_t i = 0; i < n; i++) {
      c->n_subs = i + 1;
      if (read_sub(L, toml_array_at(v, i), i, &c->subs[i]) < 0) return -1;
    }
  }
  return warn_unknown(L, root, keys, sizeof keys / sizeof keys[0], "");
}

eg_status eg_config_load(const char *path, eg_config **out, char *err, size_t errlen) {
  if (errlen) err[0] = 0;
  uint8_t *text = NULL;
  size_t len = 0;
  base_file_status fs =
      base_read_file(path, MAX_CONFIG_BYTES, BASE_FILE_REGULAR_ONLY, &text, &len, err, errlen);
  if (fs != BASE_FILE_OK) return fs == BASE_FILE_ERR_NOMEM ? EG_ERR_NOMEM : EG_ERR_CONFIG;
  toml_value *root = NULL;
  toml_status ts = toml_parse((const char *)text, len, path, &root, err, errlen);
  free(text);
  if (ts != TOML_OK) return ts == TOML_ERR_NOMEM ? EG_ERR_NOMEM : EG_ERR_CONFIG;
  eg_config *c = calloc(1, sizeof *c);
  static const uint32_t delays[] = EG_DEFAULT_RETRY_DELAYS;
  if (c) {
    c->listen = strdup(EG_DEFAULT_LISTEN);
    c->topic = strdup(EG_DEFAULT_TOPIC);
    c->retry_delays_ms = malloc(sizeof delays);
  }
  if (!c || !c->listen || !c->topic || !c->retry_delays_ms) {
    eg_config_free(c);
    toml_free(root);
    snprintf(err, errlen, "out of memory");
    return EG_ERR_NOMEM;
  }
  c->n_retry_delays = sizeof delays / sizeof delays[0];
  for (size_t i = 0; i < c->n_retry_delays; i++) c->retry_delays_ms[i] = delays[i] * 1000u;
  c->max_attempts = EG_DEFAULT_MAX_ATTEMPTS;
  c->event_ttl_s = EG_DEFAULT_EVENT_TTL_S;
  c->max_batch_bytes = EG_DEFAULT_MAX_BATCH_BYTES;
  c->delivery_timeout_ms = EG_DEFAULT_DELIVERY_TIMEOUT_MS;
  c->max_in_flight = EG_DEFAULT_MAX_IN_FLIGHT;
  c->log_compact_bytes = EG_DEFAULT_LOG_COMPACT_BYTES;
  loader L = {.file = path, .err = err, .errlen = errlen, .cfg = c};
  int rc = read_root(&L, root);
  toml_free(root);
  if (rc < 0) {
    eg_config_free(c);
    return EG_ERR_CONFIG;
  }
  *out = c;
  return EG_OK;
}

void eg_config_free(eg_config *c) {
  if (!c) return;
  free(c->listen);
  free(c->key);
  free(c->topic);
  free(c->data_dir);
  free(c->retry_delays_ms);
  for (size_t i = 0; i < c->n_subs; i++) {
    eg_subscription *s = &c->subs[i];
    free(s->name);
    free(s->endpoint);
    for (size_t k = 0; k < s->n_event_types; k++) free(s->event_types[k]);
    free(s->event_types);
    free(s->subject_begins_with);
  }
  free(c->subs);
  for (size_t i = 0; i < c->n_warnings; i++) free(c->warnings[i]);
  free(c->warnings);
  free(c);
}
