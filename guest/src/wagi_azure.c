/* wagi_azure.c — the requests of wagi_azure.h over wagi_http.h
 * (wasm32-wasi only; the signing lives in wagi_azure_core.c). */
#define _POSIX_C_SOURCE 200809L /* strdup, strncasecmp */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wagi_azure.h"
#include "wagi_codec.h"
#include "wagi_crypto.h"
#include "wagi_http.h"
#include "wagi_json.h"
#include "wagi_time.h"

#define BLOB_API_VERSION "2021-12-02"
#define COSMOS_API_VERSION "2018-12-31"
/* Error answers and JSON replies we read whole; bodies of blobs are bounded
 * by the caller instead. */
#define REPLY_MAX ((size_t)16 << 20)

int wagi_az__fail(wagi_az_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wagi_az__ok(wagi_az_error *err);

typedef struct {
  int status;
  uint8_t *body;
  size_t len;
  wagi_http_response r;
} reply;

static void reply_free(reply *rp) {
  free(rp->body);
  rp->body = NULL;
  wagi_http_close(&rp->r);
}

static const char *http_hint(int rc) {
  switch (rc) {
  case WAGI_HTTP_ERR_DESTINATION_NOT_ALLOWED:
    return " (the host is not in the module's allowed_hosts)";
  case WAGI_HTTP_ERR_REQUEST: return " (connection failed or timed out)";
  default: return "";
  }
}

/* Sends a request and reads the whole answer (up to max bytes). */
static int send_req(const char *what, const char *method, const char *url,
                    const wagi_http_header *h, size_t nh, const void *body, size_t len, size_t max,
                    reply *rp, wagi_az_error *err) {
  memset(rp, 0, sizeof *rp);
  int rc = wagi_http_request(method, url, h, nh, body, len, &rp->r);
  if (rc != WAGI_HTTP_OK)
    return wagi_az__fail(err, rc == WAGI_HTTP_ERR_NOMEM ? WAGI_AZ_ERR_NOMEM : WAGI_AZ_ERR_HTTP,
                         "%s: %s %.300s: %s%s", what, method, url, wagi_http_strerror(rc),
                         http_hint(rc));
  rp->status = rp->r.status;
  rc = wagi_http_body_all(&rp->r, max, &rp->body, &rp->len);
  if (rc != WAGI_HTTP_OK) {
    wagi_http_close(&rp->r);
    return wagi_az__fail(err,
                         rc == WAGI_HTTP_ERR_NOMEM       ? WAGI_AZ_ERR_NOMEM
                         : rc == WAGI_HTTP_ERR_TOO_LARGE ? WAGI_AZ_ERR_RESPONSE
                                                         : WAGI_AZ_ERR_HTTP,
                         "%s: reading the answer: %s%s", what, wagi_http_strerror(rc),
                         rc == WAGI_HTTP_ERR_TOO_LARGE ? " (larger than allowed)" : "");
  }
  return WAGI_AZ_OK;
}

/* The text between <Tag> and </Tag> in an XML error body. */
static void xml_field(const uint8_t *body, size_t len, const char *tag, char *out, size_t cap) {
  out[0] = 0;
  if (!body) return;
  char open[40], close[40];
  snprintf(open, sizeof open, "<%s>", tag);
  snprintf(close, sizeof close, "</%s>", tag);
  const char *b = (const char *)body, *s = strstr(b, open);
  if (!s || (size_t)(s - b) >= len) return;
  s += strlen(open);
  const char *e = strstr(s, close);
  if (!e) return;
  size_t n = (size_t)(e - s);
  if (n >= cap) n = cap - 1;
  memcpy(out, s, n);
  out[n] = 0;
}

/* A service error from an answer: code and message from a JSON body
 * ({"code","message"} or {"error":{"code","message"}}) or an XML one. */
static int service_error(const char *what, reply *rp, wagi_az_error *err) {
  char code[64] = "", msg[300] = "";
  if (rp->body && rp->len && rp->body[0] == '<') {
    xml_field(rp->body, rp->len, "Code", code, sizeof code);
    xml_field(rp->body, rp->len, "Message", msg, sizeof msg);
  } else if (rp->body && rp->len) {
    wagi_json_doc *doc = NULL;
    wagi_json_error je;
    if (wagi_json_parse((const char *)rp->body, rp->len, NULL, &doc, &je) == WAGI_JSON_OK) {
      const wagi_json *root = wagi_json_root(doc), *e = wagi_json_get(root, "error");
      if (!e) e = root;
      const char *c = wagi_json_string(wagi_json_get(e, "code"), NULL);
      const char *m = wagi_json_string(wagi_json_get(e, "message"), NULL);
      snprintf(code, sizeof code, "%s", c ? c : "");
      snprintf(msg, sizeof msg, "%s", m ? m : "");
    } else {
      snprintf(msg, sizeof msg, "%.*s", (int)(rp->len < 200 ? rp->len : 200), (char *)rp->body);
    }
    wagi_json_free(doc);
  }
  if (!code[0]) {
    char *h = NULL;
    size_t hl;
    if (wagi_http_header_get(&rp->r, "x-ms-error-code", &h, &hl) == WAGI_HTTP_OK) {
      snprintf(code, sizeof code, "%s", h);
      free(h);
    }
  }
  int status = rp->status;
  wagi_az__fail(err, WAGI_AZ_ERR_SERVICE, "%s: %d%s%s%s%s", what, status, code[0] ? " " : "", code,
                msg[0] ? ": " : "", msg);
  if (err) {
    err->http_status = status;
    snprintf(err->service_code, sizeof err->service_code, "%s", code);
  }
  return WAGI_AZ_ERR_SERVICE;
}

/* Ends an exchange whose answer carries nothing more: success for one of
 * the two expected statuses (ok2 0: only ok1), else the service's error. */
static int expect_status(const char *what, reply *rp, int ok1, int ok2, wagi_az_error *err) {
  int rc =
      rp->status == ok1 || (ok2 && rp->status == ok2) ? WAGI_AZ_OK : service_error(what, rp, err);
  reply_free(rp);
  if (rc == WAGI_AZ_OK) wagi_az__ok(err);
  return rc;
}

static int now_rfc1123(char out[WAGI_TIME_RFC1123_SIZE]) {
  int64_t ms = 0;
  if (wagi_time_now_ms(&ms) || wagi_time_rfc1123(ms / 1000, out)) return -1;
  return 0;
}

/* ---- Blob --------------------------------------------------------------------- */

/* The URL and the path as sent ("/acct/c/b" for path-style endpoints). */
static int blob_url(const wagi_az_blob *c, const char *container, const char *blob, char **url,
                    char **path) {
  char *ec = NULL, *eb = NULL;
  size_t n;
  if (wagi_url_encode_alloc(container, strlen(container), 0, &ec, &n)) return -1;
  if (blob && wagi_url_encode_alloc(blob, strlen(blob), WAGI_URL_KEEP_SLASH, &eb, &n)) {
    free(ec);
    return -1;
  }
  const char *rest = strstr(c->endpoint, "://");
  rest = rest ? rest + 3 : c->endpoint;
  const char *ep_path = strchr(rest, '/');
  if (!ep_path) ep_path = "";
  size_t cap = strlen(c->endpoint) + strlen(ec) + (eb ? strlen(eb) : 0) + 4;
  *url = malloc(cap);
  *path = malloc(cap);
  if (!*url || !*path) {
    free(*url);
    free(*path);
    free(ec);
    free(eb);
    return -1;
  }
  snprintf(*url, cap, "%s/%s%s%s", c->endpoint, ec, eb ? "/" : "", eb ? eb : "");
  snprintf(*path, cap, "%s/%s%s%s", ep_path, ec, eb ? "/" : "", eb ? eb : "");
  free(ec);
  free(eb);
  return 0;
}

static int check_blob_names(const char *container, const char *blob, wagi_az_error *err) {
  if (!container || !*container)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "the container name is empty");
  if (strlen(container) < 3 || strlen(container) > 63)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "container \"%.80s\": a name is 3 to 63 characters",
                         container);
  for (const char *p = container; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
      return wagi_az__fail(err, WAGI_AZ_ERR_ARG,
                           "container \"%.80s\": only lower-case letters, digits and '-'",
                           container);
  if (blob && (!*blob || strlen(blob) > 1024))
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "a blob name is 1 to 1024 characters");
  return WAGI_AZ_OK;
}

/* One signed Blob request. extra: the operation's own headers. */
static int blob_req(const wagi_az_blob *c, const char *what, const char *method,
                    const char *container, const char *blob, const char *query,
                    const wagi_az_header *extra, size_t nextra, const void *body, size_t len,
                    size_t max, reply *rp, wagi_az_error *err) {
  char date[WAGI_TIME_RFC1123_SIZE], clen[24], auth[300];
  if (now_rfc1123(date)) return wagi_az__fail(err, WAGI_AZ_ERR_HTTP, "%s: no clock", what);
  char *url = NULL, *path = NULL;
  if (blob_url(c, container, blob, &url, &path))
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  snprintf(clen, sizeof clen, "%zu", len);
  wagi_az_header h[12];
  size_t n = 0;
  for (size_t i = 0; i < nextra && n < 8; i++) h[n++] = extra[i];
  h[n++] = (wagi_az_header){"x-ms-date", date};
  h[n++] = (wagi_az_header){"x-ms-version", BLOB_API_VERSION};
  /* signed as the host will send it (libcurl sets the length itself) */
  wagi_az_header signed_h[13];
  memcpy(signed_h, h, n * sizeof *h);
  signed_h[n] = (wagi_az_header){"Content-Length", clen};
  int rc = wagi_az_blob_authorization(c->account, c->key, c->key_len, method, path, query, signed_h,
                                      n + 1, auth, sizeof auth);
  if (rc) {
    free(url);
    free(path);
    return wagi_az__fail(err, rc, "%s: cannot sign the request", what);
  }
  h[n++] = (wagi_az_header){"Authorization", auth};
  size_t ulen = strlen(url) + (query ? strlen(query) + 2 : 1);
  char *full = malloc(ulen);
  if (!full) {
    free(url);
    free(path);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  }
  snprintf(full, ulen, "%s%s%s", url, query && *query ? "?" : "", query ? query : "");
  wagi_http_header hh[12];
  for (size_t i = 0; i < n; i++) hh[i] = (wagi_http_header){h[i].name, h[i].value};
  rc = send_req(what, method, full, hh, n, body, len, max, rp, err);
  free(full);
  free(url);
  free(path);
  return rc;
}

int wagi_az_blob_create_container(const wagi_az_blob *c, const char *container,
                                  wagi_az_error *err) {
  if (!c || !c->account) return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "no Blob client");
  int rc = check_blob_names(container, NULL, err);
  if (rc) return rc;
  char what[160];
  snprintf(what, sizeof what, "Create Container %s", container);
  reply rp;
  rc = blob_req(c, what, "PUT", container, NULL, "restype=container", NULL, 0, NULL, 0, REPLY_MAX,
                &rp, err);
  if (rc) return rc;
  /* 409 ContainerAlreadyExists: what we wanted */
  return expect_status(what, &rp, 201, 409, err);
}

int wagi_az_blob_put(const wagi_az_blob *c, const char *container, const char *blob,
                     const void *data, size_t len, const char *content_type, wagi_az_error *err) {
  if (!c || !c->account || (len && !data))
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "Put Blob: no client or no data");
  int rc = check_blob_names(container, blob, err);
  if (rc) return rc;
  char what[160];
  snprintf(what, sizeof what, "Put Blob %s/%.100s", container, blob);
  wagi_az_header h[] = {{"x-ms-blob-type", "BlockBlob"},
                        {"Content-Type", content_type ? content_type : "application/octet-stream"}};
  reply rp;
  rc = blob_req(c, what, "PUT", container, blob, NULL, h, 2, data, len, REPLY_MAX, &rp, err);
  if (rc) return rc;
  return expect_status(what, &rp, 201, 0, err);
}

int wagi_az_blob_get(const wagi_az_blob *c, const char *container, const char *blob,
                     size_t max_bytes, uint8_t **data, size_t *len, char **content_type,
                     wagi_az_error *err) {
  if (!c || !c->account || !data || !len)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "Get Blob: no client or no output");
  int rc = check_blob_names(container, blob, err);
  if (rc) return rc;
  char what[160];
  snprintf(what, sizeof what, "Get Blob %s/%.100s", container, blob);
  reply rp;
  /* error bodies are small; a blob is bounded by the caller */
  rc = blob_req(c, what, "GET", container, blob, NULL, NULL, 0, NULL, 0,
                max_bytes > REPLY_MAX ? max_bytes : REPLY_MAX, &rp, err);
  if (rc) return rc;
  if (rp.status != 200) {
    rc = service_error(what, &rp, err);
    reply_free(&rp);
    return rc;
  }
  if (rp.len > max_bytes) {
    reply_free(&rp);
    return wagi_az__fail(err, WAGI_AZ_ERR_RESPONSE, "%s: the blob is larger than %zu bytes", what,
                         max_bytes);
  }
  if (content_type) {
    *content_type = NULL;
    size_t n;
    (void)wagi_http_header_get(&rp.r, "content-type", content_type, &n);
  }
  *data = rp.body ? rp.body : calloc(1, 1);
  *len = rp.len;
  rp.body = NULL;
  reply_free(&rp);
  if (!*data) return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  wagi_az__ok(err);
  return WAGI_AZ_OK;
}

/* ---- Event Grid --------------------------------------------------------------- */

static int write_event(wagi_jw *w, const wagi_az_event *e, size_t i, wagi_az_error *err) {
  if (!e->event_type || !*e->event_type || !e->subject || !*e->subject || !e->data_json)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG,
                         "event %zu: event_type, subject and data_json are required", i);
  wagi_json_doc *data = NULL;
  wagi_json_error je;
  if (wagi_json_parse(e->data_json, strlen(e->data_json), NULL, &data, &je) != WAGI_JSON_OK)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "event %zu: data_json is not JSON: %s", i, je.msg);
  char id[WAGI_UUID_LEN + 1], when[WAGI_TIME_ISO8601_MS_SIZE];
  int64_t ms = 0;
  if (!e->id && wagi_uuid_v4(id)) {
    wagi_json_free(data);
    return wagi_az__fail(err, WAGI_AZ_ERR_HTTP, "event %zu: no random source for its id", i);
  }
  if (!e->event_time && (wagi_time_now_ms(&ms) || wagi_time_iso8601_ms(ms, when))) {
    wagi_json_free(data);
    return wagi_az__fail(err, WAGI_AZ_ERR_HTTP, "event %zu: no clock for its eventTime", i);
  }
  wagi_jw_object_begin(w);
  wagi_jw_key(w, "id");
  wagi_jw_string(w, e->id ? e->id : id);
  wagi_jw_key(w, "eventType");
  wagi_jw_string(w, e->event_type);
  wagi_jw_key(w, "subject");
  wagi_jw_string(w, e->subject);
  wagi_jw_key(w, "eventTime");
  wagi_jw_string(w, e->event_time ? e->event_time : when);
  wagi_jw_key(w, "data");
  wagi_jw_value(w, wagi_json_root(data));
  wagi_jw_key(w, "dataVersion");
  wagi_jw_string(w, e->data_version ? e->data_version : "1.0");
  wagi_jw_object_end(w);
  wagi_json_free(data);
  return WAGI_AZ_OK;
}

int wagi_az_eventgrid_publish(const wagi_az_eventgrid *c, const wagi_az_event *events, size_t n,
                              wagi_az_error *err) {
  if (!c || !c->url || (n && !events) || !n)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "Event Grid publish: no client or no events");
  wagi_jw w;
  wagi_jw_init(&w, 1 << 20);
  wagi_jw_array_begin(&w);
  for (size_t i = 0; i < n; i++) {
    int rc = write_event(&w, &events[i], i, err);
    if (rc) {
      wagi_jw_free(&w);
      return rc;
    }
  }
  wagi_jw_array_end(&w);
  char *body = NULL;
  size_t len = 0;
  int jr = wagi_jw_finish(&w, &body, &len);
  if (jr != WAGI_JSON_OK) {
    wagi_jw_free(&w);
    return wagi_az__fail(err, jr == WAGI_JSON_ERR_NOMEM ? WAGI_AZ_ERR_NOMEM : WAGI_AZ_ERR_ARG,
                         "Event Grid publish: %s%s", wagi_json_strerror(jr),
                         jr == WAGI_JSON_ERR_TOO_LARGE ? " (the batch is over 1 MiB)" : "");
  }
  wagi_http_header h[] = {{"Content-Type", "application/json"}, {"aeg-sas-key", c->key}};
  char host[200], what[260];
  snprintf(what, sizeof what, "Event Grid publish to %s",
           wagi_az_eventgrid_host(c, host, sizeof host));
  char *token = NULL;
  if (c->sas_ttl_s > 0) {
    /* a token for the endpoint (without its query), valid sas_ttl_s from now */
    int64_t now = 0;
    char *base = strdup(c->url);
    if (!base || wagi_time_now_ms(&now)) {
      free(base);
      free(body);
      return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "%s: cannot make a SAS token", what);
    }
    base[strcspn(base, "?")] = 0;
    int rc = wagi_az_eventgrid_sas_token(base, now / 1000 + c->sas_ttl_s, c->key, &token, err);
    free(base);
    if (rc) {
      free(body);
      return rc;
    }
    h[1] = (wagi_http_header){"aeg-sas-token", token};
  }
  reply rp;
  int rc = send_req(what, "POST", c->url, h, 2, body, len, REPLY_MAX, &rp, err);
  free(token);
  free(body);
  if (rc) return rc;
  return expect_status(what, &rp, 200, 0, err);
}

/* ---- Cosmos DB ---------------------------------------------------------------- */

/* One signed Cosmos request; path is the URL path (encoded), link the
 * resource link for the signature. */
static int cosmos_req(const wagi_az_cosmos *c, const char *what, const char *method,
                      const char *path, const char *type, const char *link,
                      const wagi_http_header *extra, size_t nextra, const char *body, size_t len,
                      reply *rp, wagi_az_error *err) {
  char date[WAGI_TIME_RFC1123_SIZE], auth[200];
  if (now_rfc1123(date)) return wagi_az__fail(err, WAGI_AZ_ERR_HTTP, "%s: no clock", what);
  if (wagi_az_cosmos_auth(method, type, link, date, c->key, c->key_len, auth, sizeof auth))
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "%s: cannot sign the request", what);
  wagi_http_header h[16];
  size_t n = 0;
  h[n++] = (wagi_http_header){"Authorization", auth};
  h[n++] = (wagi_http_header){"x-ms-date", date};
  h[n++] = (wagi_http_header){"x-ms-version", COSMOS_API_VERSION};
  h[n++] = (wagi_http_header){"Accept", "application/json"};
  for (size_t i = 0; i < nextra && n < 16; i++) h[n++] = extra[i];
  size_t ulen = strlen(c->endpoint) + strlen(path) + 1;
  char *url = malloc(ulen);
  if (!url) return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  snprintf(url, ulen, "%s%s", c->endpoint, path);
  int rc = send_req(what, method, url, h, n, body, len, REPLY_MAX, rp, err);
  free(url);
  return rc;
}

/* "/dbs/D/colls/C" encoded for the URL, and "dbs/D/colls/C" for the link. */
static int coll_paths(const wagi_az_cosmos *c, char **path, char **link) {
  char *ed = NULL, *ec = NULL;
  size_t n;
  if (wagi_url_encode_alloc(c->database, strlen(c->database), 0, &ed, &n) ||
      wagi_url_encode_alloc(c->collection, strlen(c->collection), 0, &ec, &n)) {
    free(ed);
    return -1;
  }
  size_t cap = strlen(ed) + strlen(ec) + strlen(c->database) + strlen(c->collection) + 32;
  *path = malloc(cap);
  *link = malloc(cap);
  if (*path) snprintf(*path, cap, "/dbs/%s/colls/%s", ed, ec);
  if (*link) snprintf(*link, cap, "dbs/%s/colls/%s", c->database, c->collection);
  free(ed);
  free(ec);
  if (!*path || !*link) {
    free(*path);
    free(*link);
    return -1;
  }
  return 0;
}

/* A JSON string literal of s (for the partition-key header and bodies). */
static char *json_quote(const char *s) {
  wagi_jw w;
  wagi_jw_init(&w, 0);
  wagi_jw_array_begin(&w);
  wagi_jw_string(&w, s);
  wagi_jw_array_end(&w);
  char *out = NULL;
  size_t n;
  if (wagi_jw_finish(&w, &out, &n) != WAGI_JSON_OK) {
    wagi_jw_free(&w);
    return NULL;
  }
  return out; /* ["s"]: the partition-key header's own form */
}

int wagi_az_cosmos_ensure(const wagi_az_cosmos *c, wagi_az_error *err) {
  if (!c || !c->endpoint) return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "no Cosmos DB client");
  wagi_http_header ct[] = {{"Content-Type", "application/json"}};
  char what[400];
  /* the database */
  wagi_jw w;
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "id");
  wagi_jw_string(&w, c->database);
  wagi_jw_object_end(&w);
  char *body = NULL;
  size_t len;
  if (wagi_jw_finish(&w, &body, &len)) {
    wagi_jw_free(&w);
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "the database name cannot be written as JSON");
  }
  snprintf(what, sizeof what, "Create Database %s", c->database);
  reply rp;
  int rc = cosmos_req(c, what, "POST", "/dbs", "dbs", "", ct, 1, body, len, &rp, err);
  free(body);
  if (rc) return rc;
  if ((rc = expect_status(what, &rp, 201, 409, err))) return rc;
  /* the collection, partitioned by /id */
  char *ed = NULL;
  if (wagi_url_encode_alloc(c->database, strlen(c->database), 0, &ed, &len))
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  char path[600], link[600];
  snprintf(path, sizeof path, "/dbs/%s/colls", ed);
  snprintf(link, sizeof link, "dbs/%s", c->database);
  free(ed);
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "id");
  wagi_jw_string(&w, c->collection);
  wagi_jw_key(&w, "partitionKey");
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "paths");
  wagi_jw_array_begin(&w);
  wagi_jw_string(&w, "/id");
  wagi_jw_array_end(&w);
  wagi_jw_key(&w, "kind");
  wagi_jw_string(&w, "Hash");
  wagi_jw_object_end(&w);
  wagi_jw_object_end(&w);
  if (wagi_jw_finish(&w, &body, &len)) {
    wagi_jw_free(&w);
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "the collection name cannot be written as JSON");
  }
  snprintf(what, sizeof what, "Create Collection %s/%s", c->database, c->collection);
  rc = cosmos_req(c, what, "POST", path, "colls", link, ct, 1, body, len, &rp, err);
  free(body);
  if (rc) return rc;
  return expect_status(what, &rp, 201, 409, err);
}

int wagi_az_cosmos_put(const wagi_az_cosmos *c, const char *doc_json, size_t len, int upsert,
                       wagi_az_error *err) {
  if (!c || !c->endpoint || !doc_json)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "Cosmos DB put: no client or no document");
  wagi_json_doc *doc = NULL;
  wagi_json_error je;
  if (wagi_json_parse(doc_json, len, NULL, &doc, &je) != WAGI_JSON_OK)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "the document is not JSON: %s", je.msg);
  const char *id = wagi_json_string(wagi_json_get(wagi_json_root(doc), "id"), NULL);
  if (wagi_json_typeof(wagi_json_root(doc)) != WAGI_JSON_OBJECT || !id || !*id) {
    wagi_json_free(doc);
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG,
                         "the document must be a JSON object with a non-empty string \"id\"");
  }
  char *pk = json_quote(id), *path = NULL, *link = NULL;
  char what[400];
  snprintf(what, sizeof what, "%s Document %.100s in %s/%s", upsert ? "Upsert" : "Create", id,
           c->database, c->collection);
  wagi_json_free(doc);
  if (!pk || coll_paths(c, &path, &link)) {
    free(pk);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  }
  size_t pl = strlen(path) + 6;
  char *docs = malloc(pl);
  if (docs) snprintf(docs, pl, "%s/docs", path);
  wagi_http_header h[] = {{"Content-Type", "application/json"},
                          {"x-ms-documentdb-partitionkey", pk},
                          {"x-ms-documentdb-is-upsert", "True"}};
  reply rp;
  int rc = docs ? cosmos_req(c, what, "POST", docs, "docs", link, h, upsert ? 3 : 2, doc_json, len,
                             &rp, err)
                : wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  free(docs);
  free(path);
  free(link);
  free(pk);
  if (rc) return rc;
  return expect_status(what, &rp, 200, 201, err);
}

int wagi_az_cosmos_read(const wagi_az_cosmos *c, const char *id, char **doc_json, size_t *len,
                        wagi_az_error *err) {
  if (!c || !c->endpoint || !id || !*id || !doc_json || !len)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "Cosmos DB read: no client, id or output");
  char *path = NULL, *link = NULL, *eid = NULL, *pk = json_quote(id);
  size_t n;
  if (!pk || coll_paths(c, &path, &link) || wagi_url_encode_alloc(id, strlen(id), 0, &eid, &n)) {
    free(pk);
    free(path);
    free(link);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  }
  size_t pl = strlen(path) + strlen(eid) + 8, ll = strlen(link) + strlen(id) + 8;
  char *p2 = malloc(pl), *l2 = malloc(ll);
  if (p2) snprintf(p2, pl, "%s/docs/%s", path, eid);
  if (l2) snprintf(l2, ll, "%s/docs/%s", link, id);
  char what[400];
  snprintf(what, sizeof what, "Read Document %.100s in %s/%s", id, c->database, c->collection);
  wagi_http_header h[] = {{"x-ms-documentdb-partitionkey", pk},
                          {"x-ms-documentdb-query-enablecrosspartition", "true"}};
  reply rp;
  int rc = p2 && l2 ? cosmos_req(c, what, "GET", p2, "docs", l2, h, 2, NULL, 0, &rp, err)
                    : wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  free(p2);
  free(l2);
  free(path);
  free(link);
  free(eid);
  free(pk);
  if (rc) return rc;
  if (rp.status != 200) {
    rc = service_error(what, &rp, err);
    reply_free(&rp);
    return rc;
  }
  *doc_json = (char *)(rp.body ? rp.body : calloc(1, 1));
  *len = rp.len;
  rp.body = NULL;
  reply_free(&rp);
  if (!*doc_json) return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  wagi_az__ok(err);
  return WAGI_AZ_OK;
}

int wagi_az_cosmos_query(const wagi_az_cosmos *c, const char *query, const wagi_az_param *params,
                         size_t n, char **docs_json, size_t *len, wagi_az_error *err) {
  if (!c || !c->endpoint || !query || (n && !params) || !docs_json || !len)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "Cosmos DB query: no client, query or output");
  /* the body: the query text and its parameters, values as parsed JSON */
  wagi_jw w;
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "query");
  wagi_jw_string(&w, query);
  wagi_jw_key(&w, "parameters");
  wagi_jw_array_begin(&w);
  for (size_t i = 0; i < n; i++) {
    wagi_json_doc *v = NULL;
    wagi_json_error je;
    if (!params[i].name || !params[i].value_json ||
        wagi_json_parse(params[i].value_json, strlen(params[i].value_json), NULL, &v, &je)) {
      wagi_jw_free(&w);
      return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "query parameter %zu: no name or not JSON", i);
    }
    wagi_jw_object_begin(&w);
    wagi_jw_key(&w, "name");
    wagi_jw_string(&w, params[i].name);
    wagi_jw_key(&w, "value");
    wagi_jw_value(&w, wagi_json_root(v));
    wagi_jw_object_end(&w);
    wagi_json_free(v);
  }
  wagi_jw_array_end(&w);
  wagi_jw_object_end(&w);
  char *body = NULL;
  size_t blen;
  if (wagi_jw_finish(&w, &body, &blen)) {
    wagi_jw_free(&w);
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "the query cannot be written as JSON");
  }
  char *path = NULL, *link = NULL;
  if (coll_paths(c, &path, &link)) {
    free(body);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  }
  size_t pl = strlen(path) + 6;
  char *docs = malloc(pl);
  if (docs) snprintf(docs, pl, "%s/docs", path);
  char what[400];
  snprintf(what, sizeof what, "Query Documents in %s/%s", c->database, c->collection);
  /* all pages into one array */
  wagi_jw out;
  wagi_jw_init(&out, 0);
  wagi_jw_array_begin(&out);
  char *cont = NULL;
  int rc = docs ? WAGI_AZ_OK : wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  for (int page = 0; rc == WAGI_AZ_OK; page++) {
    wagi_http_header h[6] = {{"Content-Type", "application/query+json"},
                             {"x-ms-documentdb-isquery", "True"},
                             {"x-ms-documentdb-query-enablecrosspartition", "True"},
                             {"x-ms-max-item-count", "100"}};
    size_t nh = 4;
    if (cont) h[nh++] = (wagi_http_header){"x-ms-continuation", cont};
    reply rp;
    rc = cosmos_req(c, what, "POST", docs, "docs", link, h, nh, body, blen, &rp, err);
    free(cont);
    cont = NULL;
    if (rc) break;
    if (rp.status != 200) {
      rc = service_error(what, &rp, err);
      reply_free(&rp);
      break;
    }
    wagi_json_doc *d = NULL;
    wagi_json_error je;
    const wagi_json *arr = NULL;
    if (wagi_json_parse((const char *)rp.body, rp.len, NULL, &d, &je) == WAGI_JSON_OK)
      arr = wagi_json_get(wagi_json_root(d), "Documents");
    if (wagi_json_typeof(arr) != WAGI_JSON_ARRAY) {
      rc = wagi_az__fail(err, WAGI_AZ_ERR_RESPONSE, "%s: the answer has no Documents array", what);
    } else {
      for (size_t i = 0; i < wagi_json_count(arr); i++) wagi_jw_value(&out, wagi_json_at(arr, i));
    }
    wagi_json_free(d);
    size_t cl;
    if (rc == WAGI_AZ_OK &&
        wagi_http_header_get(&rp.r, "x-ms-continuation", &cont, &cl) != WAGI_HTTP_OK)
      cont = NULL;
    reply_free(&rp);
    if (!cont || !*cont) break;
    if (page > 10000) {
      rc = wagi_az__fail(err, WAGI_AZ_ERR_RESPONSE, "%s: more than 10000 pages", what);
      break;
    }
  }
  free(cont);
  free(docs);
  free(path);
  free(link);
  free(body);
  wagi_jw_array_end(&out);
  if (rc) {
    wagi_jw_free(&out);
    return rc;
  }
  int jr = wagi_jw_finish(&out, docs_json, len);
  if (jr) {
    wagi_jw_free(&out);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "%s: %s", what, wagi_json_strerror(jr));
  }
  wagi_az__ok(err);
  return WAGI_AZ_OK;
}
