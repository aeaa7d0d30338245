/* server.c — the topic's HTTP side on libmicrohttpd (eventgrid.h):
 * POST /api/events?api-version=2018-01-01, GET /api/validate (the
 * validationUrl of the handshake) and GET /healthz. Delivery is topic.c's. */
#include "eventgrid.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/clock.h"

#define API_VERSION "2018-01-01"
/* Publishes wait for an fdatasync (shared among those in flight: group
 * commit), so more threads than cores pays. */
#define EG_HTTP_THREADS 8

typedef struct {
  const eg_config *cfg;
  eg_topic *topic;
} topic;

/* Per-request state (MHD's con_cls). */
typedef struct {
  char *body;
  size_t len, cap;
  bool too_big;
} upload;

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  if (type) MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

/* Azure's error shape: {"error":{"code","message","details":[{"code","message","target"}]}} */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *detail_code, const char *target,
                                  const char *message) {
  char *m = NULL;
  /* JSON-escape message and target through a tiny builder */
  size_t cap = strlen(message) * 6 + (target ? strlen(target) * 6 : 0) + 512;
  m = malloc(cap);
  if (!m) return MHD_NO;
  size_t o = 0;
#define PUT(s) o += (size_t)snprintf(m + o, cap - o, "%s", (s))
  /* JSON string escape of s into m */
#define PUTSTR(s)                                                                                  \
  do {                                                                                             \
    m[o++] = '"';                                                                                  \
    for (const unsigned char *q = (const unsigned char *)(s); *q; q++) {                           \
      if (*q == '"' || *q == '\\') {                                                               \
        m[o++] = '\\';                                                                             \
        m[o++] = (char)*q;                                                                         \
      } else if (*q < 0x20) {                                                                      \
        o += (size_t)snprintf(m + o, cap - o, "\\u%04x", *q);                                      \
      } else {                                                                                     \
        m[o++] = (char)*q;                                                                         \
      }                                                                                            \
    }                                                                                              \
    m[o++] = '"';                                                                                  \
  } while (0)
  PUT("{\"error\":{\"code\":");
  PUTSTR(code);
  PUT(",\"message\":");
  PUTSTR(message);
  if (detail_code) {
    PUT(",\"details\":[{\"code\":");
    PUTSTR(detail_code);
    PUT(",\"message\":");
    PUTSTR(message);
    if (target && *target) {
      PUT(",\"target\":");
      PUTSTR(target);
    }
    PUT("}]");
  }
  PUT("}}");
  m[o] = 0;
#undef PUT
#undef PUTSTR
  enum MHD_Result r = send_text(c, status, "application/json; charset=utf-8", m);
  free(m);
  return r;
}

/* Constant-time comparison for the key. */
static int same_secret(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char d = la != lb;
  for (size_t i = 0; i < la; i++) d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
  return d == 0;
}

static enum MHD_Result publish(topic *T, struct MHD_Connection *c, upload *u) {
  uint64_t t0 = base_now_ns();
  const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "aeg-sas-key");
  const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "aeg-sas-token");
  if (key) {
    if (!same_secret(key, T->cfg->key))
      return send_error(c, 401, "Unauthorized", NULL, NULL,
                        "The request authorization key is not authorized for this topic.");
  } else if (tok) {
    static const char *const why[] = {
        [EG_SAS_MALFORMED] =
            "The aeg-sas-token is not of the form r=RESOURCE&e=EXPIRY&s=SIGNATURE.",
        [EG_SAS_BAD_SIGNATURE] = "The aeg-sas-token is not signed with this topic's key.",
        [EG_SAS_EXPIRED] = "The aeg-sas-token has expired.",
        [EG_SAS_BAD_KEY] =
            "This topic's key is not base64, so it cannot check aeg-sas-tokens; "
            "send aeg-sas-key.",
    };
    eg_sas_result r = eg_sas_check(tok, T->cfg->key, (long long)time(NULL));
    if (r != EG_SAS_OK) return send_error(c, 401, "Unauthorized", NULL, NULL, why[r]);
  } else {
    return send_error(c, 401, "Unauthorized", NULL, NULL,
                      "The request has neither an aeg-sas-key nor an aeg-sas-token header.");
  }
  const char *ver = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "api-version");
  if (!ver)
    return send_error(c, 400, "BadRequest", "MissingApiVersionParameter", "api-version",
                      "The api-version query parameter (?api-version=" API_VERSION
                      ") is required.");
  if (strcmp(ver, API_VERSION))
    return send_error(c, 400, "BadRequest", "InvalidApiVersionParameter", "api-version",
                      "The api-version is not supported: only " API_VERSION " is.");
  if (u->too_big) {
    char m[200];
    snprintf(m, sizeof m, "The batch is larger than the limit of %llu bytes.",
             (unsigned long long)T->cfg->max_batch_bytes);
    return send_error(c, 413, "RequestEntityTooLarge", NULL, NULL, m);
  }
  eg_events *ev = NULL;
  char field[64], msg[512];
  int rc = eg_events_parse(u->body ? u->body : "", u->len, T->cfg->topic, &ev, field, sizeof field,
                           msg, sizeof msg);
  if (rc == -2) return send_error(c, 500, "InternalServerError", NULL, NULL, msg);
  if (rc < 0) {
    eg_logf("publish refused: 400 (%s)", msg);
    return send_error(c, 400, "BadRequest", "InputJsonInvalid", field, msg);
  }
  char err[512];
  eg_status st = eg_topic_publish(T->topic, ev, err, sizeof err);
  if (st != EG_OK) {
    eg_events_free(ev);
    eg_logf("publish failed: 500 (%s)", err);
    return send_error(c, 500, "InternalServerError", NULL, NULL,
                      "The events could not be stored; nothing was accepted.");
  }
  double ms = (double)(base_now_ns() - t0) / 1e6;
  /* the ids, made printable: they are the publisher's text */
  char ids[600];
  size_t o = 0;
  for (size_t i = 0; i < ev->n && i < 5 && o < 400; i++) {
    o += (size_t)snprintf(ids + o, sizeof ids - o, "%s", i ? ", " : "");
    for (const char *p = ev->ev[i].id; *p && o < 400; p++)
      ids[o++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    ids[o] = 0;
  }
  if (ev->n > 5 || o >= 400) snprintf(ids + o, sizeof ids - o, ", ...");
  eg_logf("publish: %zu event%s, %zu bytes, %.1f ms (id %s)", ev->n, ev->n == 1 ? "" : "s", u->len,
          ms, ids);
  eg_events_free(ev);
  return send_text(c, 200, NULL, "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  (void)version;
  topic *T = cls;
  bool is_post = !strcmp(method, "POST");
  if (!*con_cls) {
    /* first call: headers only */
    if (!strcmp(url, "/healthz")) {
      if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(c, 405, "MethodNotAllowed", NULL, NULL, "Use GET /healthz.");
      return send_text(c, 200, "text/plain; charset=utf-8", "ok\n");
    }
    if (!strcmp(url, "/api/validate")) {
      if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(c, 405, "MethodNotAllowed", NULL, NULL,
                          "Use GET /api/validate?subscription=NAME&code=CODE.");
      const char *sub = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "subscription");
      const char *code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code");
      if (!sub || !code)
        return send_error(c, 400, "BadRequest", NULL, NULL,
                          "The subscription and code query parameters are required.");
      int rc = eg_topic_validate(T->topic, sub, code);
      if (rc == -1)
        return send_error(c, 404, "NotFound", NULL, NULL, "There is no such subscription.");
      if (rc == -2)
        return send_error(c, 400, "BadRequest", NULL, NULL,
                          "The validation code is not this subscription's current one.");
      return send_text(c, 200, "text/plain; charset=utf-8", "Webhook successfully validated\n");
    }
    if (strcmp(url, "/api/events"))
      return send_error(
          c, 404, "NotFound", NULL, NULL,
          "Not found: this topic publishes on POST /api/events?api-version=" API_VERSION ".");
    if (!is_post)
      return send_error(c, 405, "MethodNotAllowed", NULL, NULL,
                        "Use POST /api/events?api-version=" API_VERSION ".");
    upload *u = calloc(1, sizeof *u);
    if (!u) return MHD_NO;
    *con_cls = u;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
      char *end;
      unsigned long long v = strtoull(cl, &end, 10);
      if (*end == 0 && v > T->cfg->max_batch_bytes) u->too_big = true;
      else if (*end == 0 && v > 0) {
        u->body = malloc((size_t)v + 1);
        if (!u->body) return MHD_NO;
        u->cap = (size_t)v + 1;
      }
    }
    if (u->too_big) {
      /* answer before the body arrives: MHD then closes the connection */
      u->len = 0;
      return publish(T, c, u);
    }
    return MHD_YES;
  }
  upload *u = *con_cls;
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (u->too_big) return MHD_YES;
    if (u->len + n > T->cfg->max_batch_bytes) {
      u->too_big = true;
      free(u->body);
      u->body = NULL;
      u->len = u->cap = 0;
      return MHD_YES;
    }
    if (u->len + n + 1 > u->cap) {
      size_t nc = u->cap ? u->cap : 4096;
      while (nc < u->len + n + 1) nc *= 2;
      char *nb = realloc(u->body, nc);
      if (!nb) return MHD_NO;
      u->body = nb;
      u->cap = nc;
    }
    memcpy(u->body + u->len, upload_data, n);
    u->len += n;
    u->body[u->len] = 0;
    return MHD_YES;
  }
  return publish(T, c, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls, (void)c, (void)toe;
  upload *u = *con_cls;
  if (u) {
    free(u->body);
    free(u);
    *con_cls = NULL;
  }
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && line[n - 1] == '\n') line[--n] = 0;
  eg_logf("libmicrohttpd: %s", line);
}

/* "IP:PORT" / "[IPv6]:PORT" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  char host[128];
  const char *colon;
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host) return -1;
    memcpy(host, s + 1, (size_t)(rb - s - 1));
    host[rb - s - 1] = 0;
    colon = rb + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
  }
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end || colon[1] < '0' || colon[1] > '9' || port > 65535) return -1;
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  return -1;
}

int eg_serve(const eg_config *cfg, const char *listen_override) {
  const char *listen = listen_override ? listen_override : cfg->listen;
  struct sockaddr_storage ss;
  if (parse_listen(listen, &ss) < 0) {
    fprintf(stderr, "wagi eventgrid: listen address \"%s\" is not IP:PORT (e.g. %s)\n", listen,
            EG_DEFAULT_LISTEN);
    return 1;
  }
  /* SIGINT/SIGTERM are taken by sigwait below; block them before MHD starts
   * its threads so that they inherit the mask. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  topic T = {.cfg = cfg};
  char err[1024], base_url[300];
  snprintf(base_url, sizeof base_url, "http://%s", listen);
  if (eg_topic_open(cfg, base_url, &T.topic, err, sizeof err) != EG_OK) {
    fprintf(stderr, "wagi eventgrid: %s\n", err);
    return 1;
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, &T, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
      MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
      NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)EG_HTTP_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)60, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr,
            "wagi eventgrid: cannot listen on %s (in use, or not an address of this host)\n",
            listen);
    eg_topic_close(T.topic);
    return 1;
  }
  if (eg_topic_start(T.topic, err, sizeof err) != EG_OK) {
    fprintf(stderr, "wagi eventgrid: %s\n", err);
    MHD_stop_daemon(d);
    eg_topic_close(T.topic);
    return 1;
  }
  for (size_t i = 0; i < cfg->n_subs; i++)
    /* not the query: webhook URLs often carry their secret there */
    eg_logf("subscription %s -> %.*s%s", cfg->subs[i].name,
            (int)strcspn(cfg->subs[i].endpoint, "?"), cfg->subs[i].endpoint,
            strchr(cfg->subs[i].endpoint, '?') ? "?..." : "");
  eg_logf("%zu subscription%s configured; delivery started", cfg->n_subs,
          cfg->n_subs == 1 ? "" : "s");
  printf("Ready: eventgrid topic on http://%s/api/events\n", listen);
  fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  eg_logf("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  MHD_stop_daemon(d);
  eg_topic_close(T.topic);
  return 0;
}
