/* http_fetch.c — one outbound request over libcurl, redirects followed by
 * hand so that every hop passes the allow-list.
 *
 * Connection reuse: libcurl documents sharing its connection cache
 * (CURL_LOCK_DATA_CONNECT) between concurrently running threads as not
 * supported (a known race in its pool), so the share handle holds only the
 * DNS cache and TLS sessions, which are thread-safe with lock callbacks, and
 * connections are reused through a pool of easy handles instead: a request
 * takes an idle easy handle (which keeps its own live connections across
 * curl_easy_reset), uses it, and puts it back if its transfer succeeded:
 * libcurl 7.88 does not always leave a handle reusable after a failure
 * inside a transfer (out of memory corrupted the heap on the next one).
 * LIFO keeps hot connections hot; a burst beyond POOL_MAX handles is
 * served by fresh ones.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http_int.h"

/* ---- Global state --------------------------------------------------------------- */

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool inited; /* read without the lock by http_fetch */
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static char *ca_file;
static uint32_t def_connect_ms = HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
static uint32_t def_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
static uint64_t def_max_body = HTTP_DEFAULT_MAX_BODY;

void http_global_defaults(uint32_t *connect_ms, uint32_t *timeout_ms, uint64_t *max_body) {
  *connect_ms = def_connect_ms;
  *timeout_ms = def_timeout_ms;
  *max_body = def_max_body;
}

#define POOL_MAX 32
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];
static unsigned npool;

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u) {
  (void)h;
  (void)a;
  (void)u;
  pthread_mutex_lock(&share_locks[(unsigned)d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u) {
  (void)h;
  (void)u;
  pthread_mutex_unlock(&share_locks[(unsigned)d < CURL_LOCK_DATA_LAST ? d : 0]);
}

http_status http_global_init(const http_global_config *g, char *err, size_t errlen) {
#define FAIL(st, ...)                                                                              \
  do {                                                                                             \
    if (err && errlen) snprintf(err, errlen, __VA_ARGS__);                                         \
    pthread_mutex_unlock(&init_lock);                                                              \
    return st;                                                                                     \
  } while (0)
  pthread_mutex_lock(&init_lock);
  if (inited) {
    pthread_mutex_unlock(&init_lock);
    return HTTP_OK;
  }
  if (g && g->ca_file) {
    FILE *f = fopen(g->ca_file, "r");
    if (!f) FAIL(HTTP_ERR_ARG, "cannot read the CA file %s for outbound HTTPS", g->ca_file);
    fclose(f);
  }
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
    FAIL(HTTP_ERR_CURL, "libcurl initialisation failed");
  curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
  if (!vi || vi->version_num < 0x075500) /* CURLOPT_PROTOCOLS_STR */
    FAIL(HTTP_ERR_CURL, "libcurl %s is too old (7.85 or later needed)", vi ? vi->version : "?");
  if (!(vi->features & CURL_VERSION_SSL))
    FAIL(HTTP_ERR_CURL, "libcurl was built without TLS support");
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&share_locks[i], NULL);
  share = curl_share_init();
  if (!share) FAIL(HTTP_ERR_NOMEM, "out of memory creating the libcurl share handle");
  if (curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock) ||
      curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
      curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
      curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
    curl_share_cleanup(share);
    share = NULL;
    FAIL(HTTP_ERR_CURL, "cannot configure the libcurl share handle");
  }
  free(ca_file);
  ca_file = NULL;
  if (g && g->ca_file && !(ca_file = strdup(g->ca_file))) {
    curl_share_cleanup(share);
    share = NULL;
    FAIL(HTTP_ERR_NOMEM, "out of memory");
  }
  if (g && g->connect_timeout_ms) def_connect_ms = g->connect_timeout_ms;
  if (g && g->timeout_ms) def_timeout_ms = g->timeout_ms;
  if (g && g->max_body) def_max_body = g->max_body;
  inited = true;
  pthread_mutex_unlock(&init_lock);
  return HTTP_OK;
#undef FAIL
}

/* Reads env var `name` as an integer in [1, max]; 0 if unset. -1 if bad. */
static int env_uint(const char *name, uint64_t max, uint64_t *out, char *err, size_t errlen) {
  const char *v = getenv(name);
  *out = 0;
  if (!v || !*v) return 0;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || *end || x < 1 || x > max || v[0] == '-') {
    if (err && errlen)
      snprintf(err, errlen, "%s=%.60s: expected a whole number from 1 to %llu", name, v,
               (unsigned long long)max);
    return -1;
  }
  *out = x;
  return 0;
}

http_status http_global_init_from_env(http_log_fn debug_log, char *err, size_t errlen) {
  http_global_config g = {0};
  uint64_t v;
  g.ca_file = getenv("WAGI_HTTP_CA_FILE");
  if (g.ca_file && !*g.ca_file) g.ca_file = NULL;
  if (env_uint("WAGI_HTTP_CONNECT_TIMEOUT_MS", 86400000u, &v, err, errlen) < 0) return HTTP_ERR_ARG;
  g.connect_timeout_ms = (uint32_t)v;
  if (env_uint("WAGI_HTTP_TIMEOUT_MS", 86400000u, &v, err, errlen) < 0) return HTTP_ERR_ARG;
  g.timeout_ms = (uint32_t)v;
  if (env_uint("WAGI_HTTP_MAX_BODY_BYTES", UINT32_MAX, &v, err, errlen) < 0) return HTTP_ERR_ARG;
  g.max_body = v;
  const char *lvl = getenv("WAGI_LOG_LEVEL"), *dbg = getenv("WAGI_HTTP_DEBUG");
  if ((lvl && strcasecmp(lvl, "debug") == 0) || (dbg && *dbg)) http_set_log(debug_log);
  return http_global_init(&g, err, errlen);
}

void http_global_cleanup(void) {
  pthread_mutex_lock(&init_lock);
  if (inited) {
    pthread_mutex_lock(&pool_lock);
    while (npool) curl_easy_cleanup(pool[--npool]);
    pthread_mutex_unlock(&pool_lock);
    curl_share_cleanup(share);
    share = NULL;
    free(ca_file);
    ca_file = NULL;
    curl_global_cleanup();
    inited = false;
  }
  pthread_mutex_unlock(&init_lock);
}

static CURL *pool_get(void) {
  CURL *e = NULL;
  pthread_mutex_lock(&pool_lock);
  if (npool) e = pool[--npool];
  pthread_mutex_unlock(&pool_lock);
  if (e) {
    curl_easy_reset(e); /* keeps live connections, drops every option */
    return e;
  }
  return curl_easy_init();
}

static void pool_put(CURL *e) {
  pthread_mutex_lock(&pool_lock);
  if (npool < POOL_MAX) {
    pool[npool++] = e;
    e = NULL;
  }
  pthread_mutex_unlock(&pool_lock);
  if (e) curl_easy_cleanup(e);
}

/* ---- Response capture --------------------------------------------------------------- */

typedef struct {
  http_response *r;
  uint64_t max_body;
  bool too_big;
  bool hdr_fail;
} sink;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  sink *s = ud;
  size_t len = sz * n;
  http_response *r = s->r;
  if ((uint64_t)r->body_len + len > s->max_body) {
    s->too_big = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (r->body_len + len > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 16384;
    while (cap < r->body_len + len) cap *= 2;
    if (cap > s->max_body) cap = (size_t)s->max_body;
    uint8_t *b = realloc(r->body, cap);
    if (!b) return 0;
    r->body = b;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, p, len);
  r->body_len += len;
  return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  sink *s = ud;
  size_t len = sz * n;
  /* A new status line starts a new response (after 1xx): forget what came before. */
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) s->r->headers_len = 0;
  else if (http_response_add_header_line(s->r, p, len) != 0) {
    s->hdr_fail = true;
    return 0;
  }
  return len;
}

/* libcurl calls this about once a second even while waiting: the way out
 * for http_ctx_interrupt. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt;
  (void)dn;
  (void)ut;
  (void)un;
  return ((const http_ctx *)ud)->interrupted ? 1 : 0;
}

/* ---- Request headers ------------------------------------------------------------------ */

enum { DROP_AUTH = 1, DROP_BODY_HDRS = 2 };

typedef struct {
  struct curl_slist *list;
  unsigned drop;
  bool has_ct, has_expect;
  bool nomem;
} hdr_build;

static bool name_is(const char *n, size_t nl, const char *lit) {
  return strlen(lit) == nl && strncasecmp(n, lit, nl) == 0;
}

static uint32_t add_header(void *arg, const char *name, size_t nl, const char *value, size_t vl) {
  hdr_build *b = arg;
  if ((b->drop & DROP_AUTH) && (name_is(name, nl, "authorization") || name_is(name, nl, "cookie") ||
                                name_is(name, nl, "proxy-authorization")))
    return HTTP_E_SUCCESS;
  if ((b->drop & DROP_BODY_HDRS) &&
      (name_is(name, nl, "content-type") || name_is(name, nl, "content-length") ||
       name_is(name, nl, "content-encoding") || name_is(name, nl, "transfer-encoding")))
    return HTTP_E_SUCCESS;
  if (name_is(name, nl, "content-type")) b->has_ct = true;
  if (name_is(name, nl, "expect")) b->has_expect = true;
  char *line = malloc(nl + vl + 2);
  if (!line) {
    b->nomem = true;
    return HTTP_E_RUNTIME;
  }
  memcpy(line, name, nl);
  /* curl reads "Name:" as "remove Name"; "Name;" is how it sends an empty value. */
  bool empty = true;
  for (size_t i = 0; i < vl; i++)
    if (value[i] != ' ' && value[i] != '\t') empty = false;
  line[nl] = empty ? ';' : ':';
  memcpy(line + nl + 1, value, empty ? 0 : vl);
  line[nl + 1 + (empty ? 0 : vl)] = 0;
  struct curl_slist *l = curl_slist_append(b->list, line);
  free(line);
  if (!l) {
    b->nomem = true;
    return HTTP_E_RUNTIME;
  }
  b->list = l;
  return HTTP_E_SUCCESS;
}

/* Builds the header list for one hop. Returns HTTP_E_SUCCESS or a guest
 * error code. */
static uint32_t build_headers(const http_request *req, unsigned drop, bool with_body,
                              struct curl_slist **out) {
  hdr_build b = {NULL, drop, false, false, false};
  uint32_t rc = http_headers_parse(req->headers, req->headers_len, add_header, &b);
  /* Nothing behind the module's back: no Expect: 100-continue (which also
   * stalls small uploads by a second), no form Content-Type. */
  if (rc == HTTP_E_SUCCESS && !b.has_expect) {
    struct curl_slist *l = curl_slist_append(b.list, "Expect:");
    if (!l) rc = HTTP_E_RUNTIME;
    else b.list = l;
  }
  if (rc == HTTP_E_SUCCESS && with_body && !b.has_ct) {
    struct curl_slist *l = curl_slist_append(b.list, "Content-Type:");
    if (!l) rc = HTTP_E_RUNTIME;
    else b.list = l;
  }
  if (rc != HTTP_E_SUCCESS) {
    curl_slist_free_all(b.list);
    return rc;
  }
  *out = b.list;
  return HTTP_E_SUCCESS;
}

/* ---- One request ------------------------------------------------------------------------ */

static bool method_is(const char *m, const char *lit) { return strcmp(m, lit) == 0; }

#define SETOPT(e, opt, val) (rc_opt |= curl_easy_setopt((e), (opt), (val)))

uint32_t http_fetch(const http_ctx *ctx, const http_request *req, http_response **out, char *why,
                    size_t whylen) {
  if (!inited && http_global_init(NULL, why, whylen) != HTTP_OK) return HTTP_E_RUNTIME;
  /* Validate the header text before anything touches the network. */
  struct curl_slist *probe = NULL;
  uint32_t rc = build_headers(req, 0, false, &probe);
  curl_slist_free_all(probe);
  if (rc != HTTP_E_SUCCESS) return rc;

  uint64_t now = base_now_ns();
  uint64_t deadline = now + (uint64_t)ctx->timeout_ms * 1000000ull;
  if (ctx->deadline_ns && ctx->deadline_ns < deadline) deadline = ctx->deadline_ns;

  char *url = strdup(req->url);
  if (!url) return HTTP_E_RUNTIME;
  const char *method = req->method;
  const uint8_t *body = req->body;
  size_t body_len = req->body_len;
  bool send_body = body_len > 0 || method_is(method, "POST") || method_is(method, "PUT") ||
                   method_is(method, "PATCH");
  unsigned drop = 0;
  http_dest first;
  if (http_url_dest(url, &first) != 0) {
    free(url);
    return HTTP_E_INVALID_URL;
  }
  http_response *resp = NULL;
  rc = HTTP_E_REQUEST;

  for (unsigned hop = 0;; hop++) {
    now = base_now_ns();
    if (ctx->interrupted) {
      snprintf(why, whylen, "interrupted");
      rc = HTTP_E_REQUEST;
      break;
    }
    if (now >= deadline) {
      snprintf(why, whylen, "time limit reached before the request%s", hop ? " (redirects)" : "");
      rc = HTTP_E_REQUEST;
      break;
    }
    uint64_t left_ms = (deadline - now) / 1000000ull;
    if (left_ms == 0) left_ms = 1;
    resp = calloc(1, sizeof *resp);
    struct curl_slist *hdrs = NULL;
    CURLU *cu = curl_url();
    CURL *e = resp && cu ? pool_get() : NULL;
    if (!e || (rc = build_headers(req, drop, send_body, &hdrs)) != HTTP_E_SUCCESS ||
        curl_url_set(cu, CURLUPART_URL, url, 0) != CURLUE_OK) {
      if (!e || rc == HTTP_E_SUCCESS) rc = HTTP_E_RUNTIME;
      snprintf(why, whylen, "out of memory");
      if (e) pool_put(e);
      curl_url_cleanup(cu);
      curl_slist_free_all(hdrs);
      break;
    }
    sink s = {resp, ctx->max_body, false, false};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc_opt = CURLE_OK;
    SETOPT(e, CURLOPT_CURLU, cu);
    SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(e, CURLOPT_NOSIGNAL, 1L);
    SETOPT(e, CURLOPT_PROXY, "");
    SETOPT(e, CURLOPT_NOPROXY, "*");
    SETOPT(e, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file) SETOPT(e, CURLOPT_CAINFO, ca_file);
    SETOPT(e, CURLOPT_SHARE, share);
    SETOPT(e, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(e, CURLOPT_TIMEOUT_MS, (long)left_ms);
    SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS,
           (long)(ctx->connect_timeout_ms < left_ms ? ctx->connect_timeout_ms : left_ms));
    SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ctx->max_body);
    SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(e, CURLOPT_WRITEDATA, &s);
    SETOPT(e, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(e, CURLOPT_HEADERDATA, &s);
    SETOPT(e, CURLOPT_HTTPHEADER, hdrs);
    SETOPT(e, CURLOPT_NOPROGRESS, 0L);
    SETOPT(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(e, CURLOPT_XFERINFODATA, (void *)ctx);
    if (send_body) {
      SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
      SETOPT(e, CURLOPT_POSTFIELDS, body_len ? (const char *)body : "");
      if (!method_is(method, "POST")) SETOPT(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (method_is(method, "GET")) {
      SETOPT(e, CURLOPT_HTTPGET, 1L);
    } else if (method_is(method, "HEAD")) {
      SETOPT(e, CURLOPT_NOBODY, 1L);
    } else {
      SETOPT(e, CURLOPT_CUSTOMREQUEST, method);
    }
    if (rc_opt == CURLE_OK) http_blocking();
    CURLcode cc = rc_opt == CURLE_OK ? curl_easy_perform(e) : rc_opt;
    long code = 0;
    char *loc = NULL;
    if (cc == CURLE_OK) {
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      if (code >= 300 && code < 400 && code != 304 &&
          curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        loc = strdup(loc);
      else loc = NULL;
    }
    curl_easy_setopt(e, CURLOPT_CURLU, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    if (cc == CURLE_OK) pool_put(e);
    else curl_easy_cleanup(e);
    curl_url_cleanup(cu);
    curl_slist_free_all(hdrs);

    if (cc != CURLE_OK) {
      if (s.too_big || cc == CURLE_FILESIZE_EXCEEDED)
        snprintf(why, whylen, "response body larger than %llu bytes",
                 (unsigned long long)ctx->max_body);
      else if (cc == CURLE_ABORTED_BY_CALLBACK) snprintf(why, whylen, "interrupted");
      else if (s.hdr_fail) snprintf(why, whylen, "response headers too large");
      else snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
      rc = cc == CURLE_OUT_OF_MEMORY ? HTTP_E_RUNTIME : HTTP_E_REQUEST;
      break;
    }
    resp->status = code > 0 && code < 1000 ? (uint16_t)code : 0;
    if (!loc || !(code == 301 || code == 302 || code == 303 || code == 307 || code == 308)) {
      free(loc);
      rc = HTTP_E_SUCCESS;
      break;
    }
    /* A redirect: the next hop passes the same checks as the first. */
    if (hop + 1 > HTTP_MAX_REDIRECTS) {
      free(loc);
      snprintf(why, whylen, "more than %u redirects", HTTP_MAX_REDIRECTS);
      rc = HTTP_E_REQUEST;
      break;
    }
    http_dest d;
    uint32_t urc = http_url_dest(loc, &d);
    if (urc == HTTP_E_SUCCESS) urc = http_dest_check(ctx, &d);
    if (urc != HTTP_E_SUCCESS) {
      if (urc == HTTP_E_DESTINATION_NOT_ALLOWED) http_ctx_denied(ctx, loc);
      snprintf(why, whylen, "redirect to %.200s refused (%s)", loc, http_errcode_str(urc));
      free(loc);
      rc = urc;
      break;
    }
    free(url);
    url = loc;
    if (strcmp(d.scheme, first.scheme) || strcmp(d.host, first.host) || d.port != first.port)
      drop |= DROP_AUTH; /* credentials stay with the origin they were meant for */
    if ((code == 303 && !method_is(method, "HEAD")) ||
        ((code == 301 || code == 302) && method_is(method, "POST"))) {
      method = "GET";
      body = NULL;
      body_len = 0;
      send_body = false;
      drop |= DROP_BODY_HDRS;
    }
    http_response_free(resp);
    resp = NULL;
  }
  free(url);
  if (rc != HTTP_E_SUCCESS) {
    http_response_free(resp);
    return rc;
  }
  *out = resp;
  return HTTP_E_SUCCESS;
}
