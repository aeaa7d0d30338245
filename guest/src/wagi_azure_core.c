/* wagi_azure_core.c — the I/O-free half of wagi_azure.h: settings, errors
 * and request signing. Builds natively as well as for wasm32-wasi, so the
 * signing is unit-tested on the host against the official SDKs' output. */
#define _POSIX_C_SOURCE 200809L /* strdup, strncasecmp */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wagi_azure.h"
#include "wagi_codec.h"
#include "wagi_crypto.h"
#include "wagi_time.h"

/* Azurite's well-known development account (public, in Microsoft's docs). */
#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY                                                                                    \
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DEV_ENDPOINT "http://127.0.0.1:10000/devstoreaccount1"

const char *wagi_az_strerror(int code) {
  switch (code) {
  case WAGI_AZ_OK: return "ok";
  case WAGI_AZ_ERR_ARG: return "invalid argument";
  case WAGI_AZ_ERR_CONFIG: return "configuration";
  case WAGI_AZ_ERR_NOMEM: return "out of memory";
  case WAGI_AZ_ERR_HTTP: return "http";
  case WAGI_AZ_ERR_SERVICE: return "service";
  case WAGI_AZ_ERR_RESPONSE: return "response";
  default: return "unknown";
  }
}

int wagi_az_is_not_found(const wagi_az_error *err) {
  return err && err->code == WAGI_AZ_ERR_SERVICE && err->http_status == 404;
}

/* Shared with wagi_azure.c. */
int wagi_az__fail(wagi_az_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int wagi_az__fail(wagi_az_error *err, int code, const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  err->http_status = 0;
  err->service_code[0] = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  /* one line, whatever a service put in its message */
  for (char *p = err->message; *p; p++)
    if ((unsigned char)*p < 0x20) *p = ' ';
  return code;
}

void wagi_az__ok(wagi_az_error *err) {
  if (!err) return;
  err->code = WAGI_AZ_OK;
  err->http_status = 0;
  err->service_code[0] = 0;
  err->message[0] = 0;
}

static char *dup_trim_slash(const char *s) {
  size_t n = strlen(s);
  while (n && s[n - 1] == '/') n--;
  char *r = malloc(n + 1);
  if (r) {
    memcpy(r, s, n);
    r[n] = 0;
  }
  return r;
}

static int decode_key(const char *what, const char *b64, uint8_t **key, size_t *key_len,
                      wagi_az_error *err) {
  size_t at = 0;
  int rc = wagi_base64_decode_alloc(b64, strlen(b64), key, key_len, &at);
  if (rc == WAGI_CODEC_ERR_NOMEM) return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  if (rc != WAGI_CODEC_OK || *key_len == 0) {
    if (rc == WAGI_CODEC_OK) free(*key);
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                         "%s is not a base64 key (%s at character %zu); copy it from the "
                         "portal's Access keys",
                         what, rc == WAGI_CODEC_OK ? "empty" : wagi_codec_strerror(rc), at);
  }
  return WAGI_AZ_OK;
}

static int is_http_url(const char *s) {
  return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/* ---- Blob: settings ----------------------------------------------------------- */

int wagi_az_blob_init(wagi_az_blob *c, const char *account, const char *key_base64,
                      const char *endpoint, wagi_az_error *err) {
  if (!c || !account || !key_base64)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "wagi_az_blob_init: account and key are required");
  memset(c, 0, sizeof *c);
  if (!*account) return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG, "the storage account name is empty");
  for (const char *p = account; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
      return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                           "storage account \"%.64s\" must be lower-case letters and digits",
                           account);
  if (endpoint && *endpoint && !is_http_url(endpoint))
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                         "the storage endpoint \"%.200s\" is not an http:// or https:// URL",
                         endpoint);
  int rc = decode_key("the storage account key", key_base64, &c->key, &c->key_len, err);
  if (rc) return rc;
  c->account = strdup(account);
  if (endpoint && *endpoint) c->endpoint = dup_trim_slash(endpoint);
  else {
    size_t n = strlen(account) + 40;
    if ((c->endpoint = malloc(n)))
      snprintf(c->endpoint, n, "https://%s.blob.core.windows.net", account);
  }
  if (!c->account || !c->endpoint) {
    wagi_az_blob_free(c);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  }
  wagi_az__ok(err);
  return WAGI_AZ_OK;
}

/* The value of `name` in "k=v;k=v" (names ignore case; values may hold '='). */
static char *conn_get(const char *conn, const char *name) {
  size_t nl = strlen(name);
  const char *p = conn;
  while (*p) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    if (len > nl && p[nl] == '=' && !strncasecmp(p, name, nl)) {
      char *v = malloc(len - nl);
      if (v) {
        memcpy(v, p + nl + 1, len - nl - 1);
        v[len - nl - 1] = 0;
      }
      return v;
    }
    if (!end) break;
    p = end + 1;
  }
  return NULL;
}

int wagi_az_blob_from_connection_string(wagi_az_blob *c, const char *conn, wagi_az_error *err) {
  if (!c || !conn) return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "no connection string");
  char *dev = conn_get(conn, "UseDevelopmentStorage");
  if (dev && !strcasecmp(dev, "true")) {
    free(dev);
    char *ep = conn_get(conn, "DevelopmentStorageProxyUri");
    int rc = wagi_az_blob_init(c, DEV_ACCOUNT, DEV_KEY, DEV_ENDPOINT, err);
    free(ep);
    return rc;
  }
  free(dev);
  char *name = conn_get(conn, "AccountName"), *key = conn_get(conn, "AccountKey");
  char *ep = conn_get(conn, "BlobEndpoint");
  char *proto = conn_get(conn, "DefaultEndpointsProtocol"),
       *suffix = conn_get(conn, "EndpointSuffix");
  int rc;
  if (!name || !key) {
    rc = wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                       "AZURE_STORAGE_CONNECTION_STRING has no %s (expected "
                       "\"AccountName=...;AccountKey=...[;BlobEndpoint=...]\")",
                       !name ? "AccountName" : "AccountKey");
  } else if (ep) {
    rc = wagi_az_blob_init(c, name, key, ep, err);
  } else {
    char built[300];
    snprintf(built, sizeof built, "%s://%s.blob.%s", proto ? proto : "https", name,
             suffix ? suffix : "core.windows.net");
    rc = wagi_az_blob_init(c, name, key, built, err);
  }
  free(name);
  free(key);
  free(ep);
  free(proto);
  free(suffix);
  return rc;
}

int wagi_az_blob_from_env(wagi_az_blob *c, wagi_az_error *err) {
  const char *conn = getenv("AZURE_STORAGE_CONNECTION_STRING");
  if (conn && *conn) return wagi_az_blob_from_connection_string(c, conn, err);
  const char *account = getenv("STORAGE_ACCOUNT"), *key = getenv("STORAGE_MASTER_KEY");
  if (!account || !*account || !key || !*key)
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                         "%s is not set: give the module STORAGE_ACCOUNT and STORAGE_MASTER_KEY "
                         "(or AZURE_STORAGE_CONNECTION_STRING) in its environment",
                         !account || !*account ? "STORAGE_ACCOUNT" : "STORAGE_MASTER_KEY");
  return wagi_az_blob_init(c, account, key, getenv("STORAGE_ENDPOINT"), err);
}

void wagi_az_blob_free(wagi_az_blob *c) {
  if (!c) return;
  free(c->account);
  free(c->key);
  free(c->endpoint);
  memset(c, 0, sizeof *c);
}

/* ---- Blob: SharedKey ---------------------------------------------------------- */

typedef struct {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + n + 1) nc *= 2;
    char *ns = realloc(b->s, nc);
    if (!ns) {
      b->oom = 1;
      return;
    }
    b->s = ns;
    b->cap = nc;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static const char *header_value(const wagi_az_header *h, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (h[i].name && !strcasecmp(h[i].name, name)) return h[i].value ? h[i].value : "";
  return "";
}

/* A canonical header value: trimmed, inner whitespace runs as one space. */
static void sb_canon_value(sbuf *b, const char *v) {
  while (*v == ' ' || *v == '\t') v++;
  int space = 0;
  for (; *v; v++) {
    if (*v == ' ' || *v == '\t') {
      space = 1;
      continue;
    }
    if (space) sb_add(b, " ", 1);
    space = 0;
    sb_add(b, v, 1);
  }
}

typedef struct {
  char *name, *value;
} kv;

static int kv_cmp(const void *a, const void *b) {
  const kv *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

int wagi_az_blob_string_to_sign(const char *account, const char *method, const char *path,
                                const char *query, const wagi_az_header *headers, size_t n,
                                char **out) {
  if (!account || !method || !path || !out || (n && !headers)) return WAGI_AZ_ERR_ARG;
  sbuf b = {0};
  for (const char *p = method; *p; p++) {
    char ch = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
    sb_add(&b, &ch, 1);
  }
  sb_str(&b, "\n");
  static const char *const std[] = {"Content-Encoding",
                                    "Content-Language",
                                    "Content-Length",
                                    "Content-MD5",
                                    "Content-Type",
                                    "Date",
                                    "If-Modified-Since",
                                    "If-Match",
                                    "If-None-Match",
                                    "If-Unmodified-Since",
                                    "Range"};
  for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
    const char *v = header_value(headers, n, std[i]);
    if (i == 2 && !strcmp(v, "0")) v = ""; /* a zero length signs as empty */
    sb_str(&b, v);
    sb_str(&b, "\n");
  }
  /* x-ms-* headers, lower-cased and sorted */
  kv *xs = calloc(n ? n : 1, sizeof *xs);
  size_t nx = 0;
  int rc = WAGI_AZ_OK;
  if (!xs) rc = WAGI_AZ_ERR_NOMEM;
  for (size_t i = 0; rc == WAGI_AZ_OK && i < n; i++) {
    if (!headers[i].name || strncasecmp(headers[i].name, "x-ms-", 5)) continue;
    char *nm = strdup(headers[i].name);
    if (!nm) {
      rc = WAGI_AZ_ERR_NOMEM;
      break;
    }
    for (char *p = nm; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
    xs[nx].name = nm;
    xs[nx++].value = (char *)(headers[i].value ? headers[i].value : "");
  }
  qsort(xs, nx, sizeof *xs, kv_cmp);
  for (size_t i = 0; rc == WAGI_AZ_OK && i < nx; i++) {
    sb_str(&b, xs[i].name);
    sb_str(&b, ":");
    sb_canon_value(&b, xs[i].value);
    sb_str(&b, "\n");
  }
  for (size_t i = 0; i < nx; i++) free(xs[i].name);
  free(xs);
  /* the canonical resource */
  sb_str(&b, "/");
  sb_str(&b, account);
  sb_str(&b, path);
  if (rc == WAGI_AZ_OK && query && *query) {
    size_t cap = 1;
    for (const char *p = query; *p; p++) cap += *p == '&';
    kv *qs = calloc(cap, sizeof *qs);
    size_t nq = 0;
    if (!qs) rc = WAGI_AZ_ERR_NOMEM;
    const char *p = query;
    while (rc == WAGI_AZ_OK && *p) {
      const char *end = strchr(p, '&');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      const char *eq = memchr(p, '=', len);
      size_t nl = eq ? (size_t)(eq - p) : len;
      char *nm = malloc(nl + 1), *val = malloc(len - nl + 1);
      size_t o1 = 0, o2 = 0, at;
      if (!nm || !val || wagi_url_decode(p, nl, 0, nm, nl + 1, &o1, &at) ||
          wagi_url_decode(eq ? eq + 1 : "", eq ? len - nl - 1 : 0, 0, val, len - nl + 1, &o2,
                          &at)) {
        free(nm);
        free(val);
        rc = nm && val ? WAGI_AZ_ERR_ARG : WAGI_AZ_ERR_NOMEM;
        break;
      }
      for (char *q = nm; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q + 32);
      if (len) {
        qs[nq].name = nm;
        qs[nq++].value = val;
      } else {
        free(nm);
        free(val);
      }
      if (!end) break;
      p = end + 1;
    }
    qsort(qs, nq, sizeof *qs, kv_cmp);
    for (size_t i = 0; rc == WAGI_AZ_OK && i < nq; i++) {
      if (i && !strcmp(qs[i].name, qs[i - 1].name)) {
        sb_str(&b, ",");
      } else {
        sb_str(&b, "\n");
        sb_str(&b, qs[i].name);
        sb_str(&b, ":");
      }
      sb_str(&b, qs[i].value);
    }
    for (size_t i = 0; i < nq; i++) {
      free(qs[i].name);
      free(qs[i].value);
    }
    free(qs);
  }
  if (rc == WAGI_AZ_OK && b.oom) rc = WAGI_AZ_ERR_NOMEM;
  if (rc != WAGI_AZ_OK) {
    free(b.s);
    return rc;
  }
  *out = b.s;
  return WAGI_AZ_OK;
}

static int sign_b64(const uint8_t *key, size_t key_len, const char *text, char *out, size_t cap) {
  uint8_t mac[WAGI_SHA256_LEN];
  if (wagi_hmac_sha256(key, key_len, text, strlen(text), mac)) return WAGI_AZ_ERR_ARG;
  size_t n;
  return wagi_base64_encode(mac, sizeof mac, out, cap, &n) ? WAGI_AZ_ERR_ARG : WAGI_AZ_OK;
}

int wagi_az_blob_authorization(const char *account, const uint8_t *key, size_t key_len,
                               const char *method, const char *path, const char *query,
                               const wagi_az_header *headers, size_t n, char *out, size_t cap) {
  char *sts = NULL;
  int rc = wagi_az_blob_string_to_sign(account, method, path, query, headers, n, &sts);
  if (rc) return rc;
  char sig[64];
  rc = sign_b64(key, key_len, sts, sig, sizeof sig);
  free(sts);
  if (rc) return rc;
  if ((size_t)snprintf(out, cap, "SharedKey %s:%s", account, sig) >= cap) return WAGI_AZ_ERR_ARG;
  return WAGI_AZ_OK;
}

/* ---- Event Grid: settings ----------------------------------------------------- */

int wagi_az_eventgrid_init(wagi_az_eventgrid *c, const char *host_or_url, const char *key,
                           wagi_az_error *err) {
  if (!c || !host_or_url || !key)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "wagi_az_eventgrid_init: host and key are required");
  memset(c, 0, sizeof *c);
  if (!*host_or_url) return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG, "the topic host name is empty");
  if (!*key) return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG, "the topic key is empty");
  for (const char *p = host_or_url; *p; p++)
    if ((unsigned char)*p <= 0x20)
      return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                           "the topic host \"%.200s\" contains a space or control character",
                           host_or_url);
  size_t n = strlen(host_or_url) + 64;
  char *url = malloc(n);
  if (!url) return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  if (is_http_url(host_or_url)) {
    const char *rest = strstr(host_or_url, "://") + 3;
    const char *path = strchr(rest, '/');
    char *base = dup_trim_slash(host_or_url);
    if (!base) {
      free(url);
      return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
    }
    if (!path || !path[1]) snprintf(url, n, "%s/api/events", base);
    else snprintf(url, n, "%s", host_or_url);
    free(base);
  } else if (strchr(host_or_url, '/')) {
    free(url);
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                         "the topic host \"%.200s\" is neither a host name nor an http(s):// URL",
                         host_or_url);
  } else {
    snprintf(url, n, "https://%s/api/events", host_or_url);
  }
  if (!strstr(url, "api-version=")) {
    size_t l = strlen(url);
    snprintf(url + l, n - l, "%sapi-version=2018-01-01", strchr(url, '?') ? "&" : "?");
  }
  c->url = url;
  c->key = strdup(key);
  if (!c->key) {
    wagi_az_eventgrid_free(c);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  }
  wagi_az__ok(err);
  return WAGI_AZ_OK;
}

int wagi_az_eventgrid_from_env(wagi_az_eventgrid *c, wagi_az_error *err) {
  const char *host = getenv("TOPIC_HOST_NAME"), *key = getenv("TOPIC_KEY");
  const char *ttl = getenv("TOPIC_SAS_TTL");
  if (!host || !*host || !key || !*key)
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                         "%s is not set: give the module TOPIC_HOST_NAME and TOPIC_KEY in its "
                         "environment",
                         !host || !*host ? "TOPIC_HOST_NAME" : "TOPIC_KEY");
  long long secs = 0;
  if (ttl && *ttl) {
    char *end;
    secs = strtoll(ttl, &end, 10);
    if (*end || secs < 1 || secs > 365LL * 86400)
      return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                           "TOPIC_SAS_TTL \"%.40s\" must be a number of seconds from 1 to "
                           "31536000",
                           ttl);
  }
  int rc = wagi_az_eventgrid_init(c, host, key, err);
  if (!rc) c->sas_ttl_s = secs;
  return rc;
}

int wagi_az_eventgrid_sas_token(const char *endpoint_url, int64_t expires_unix,
                                const char *key_base64, char **out, wagi_az_error *err) {
  if (!endpoint_url || !key_base64 || !out)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "SAS token: no endpoint or key");
  uint8_t *key = NULL;
  size_t key_len;
  int rc = decode_key("the topic key", key_base64, &key, &key_len, err);
  if (rc) return rc;
  /* the expiry as the SDKs write it: M/D/YYYY h:mm:ss AM, in UTC */
  char iso[WAGI_TIME_ISO8601_SIZE], when[40];
  if (wagi_time_iso8601(expires_unix, iso)) {
    free(key);
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "SAS token: the expiry is out of range");
  }
  int y = atoi(iso), mo = atoi(iso + 5), d = atoi(iso + 8), h = atoi(iso + 11);
  snprintf(when, sizeof when, "%d/%d/%d %d:%.2s:%.2s %s", mo, d, y, h % 12 ? h % 12 : 12, iso + 14,
           iso + 17, h >= 12 ? "PM" : "AM");
  size_t cap = strlen(endpoint_url) + 64;
  char *resource = malloc(cap);
  char *er = NULL, *ew = NULL, *unsigned_sas = NULL, *es = NULL;
  size_t n;
  char sig[64];
  rc = WAGI_AZ_ERR_NOMEM;
  if (resource) {
    snprintf(resource, cap, "%s?apiVersion=2018-01-01", endpoint_url);
    if (!wagi_url_encode_alloc(resource, strlen(resource), 0, &er, &n) &&
        !wagi_url_encode_alloc(when, strlen(when), 0, &ew, &n) &&
        (unsigned_sas = malloc(strlen(er) + strlen(ew) + 8))) {
      sprintf(unsigned_sas, "r=%s&e=%s", er, ew);
      if (sign_b64(key, key_len, unsigned_sas, sig, sizeof sig) == WAGI_AZ_OK &&
          !wagi_url_encode_alloc(sig, strlen(sig), 0, &es, &n) &&
          (*out = malloc(strlen(unsigned_sas) + strlen(es) + 4))) {
        sprintf(*out, "%s&s=%s", unsigned_sas, es);
        rc = WAGI_AZ_OK;
      }
    }
  }
  free(resource);
  free(er);
  free(ew);
  free(unsigned_sas);
  free(es);
  free(key);
  if (rc) return wagi_az__fail(err, rc, "out of memory");
  wagi_az__ok(err);
  return WAGI_AZ_OK;
}

void wagi_az_eventgrid_free(wagi_az_eventgrid *c) {
  if (!c) return;
  free(c->url);
  free(c->key);
  memset(c, 0, sizeof *c);
}

const char *wagi_az_eventgrid_host(const wagi_az_eventgrid *c, char *buf, size_t cap) {
  if (!cap) return "";
  buf[0] = 0;
  if (!c || !c->url) return buf;
  const char *h = strstr(c->url, "://");
  h = h ? h + 3 : c->url;
  size_t n = strcspn(h, "/?");
  if (n >= cap) n = cap - 1;
  memcpy(buf, h, n);
  buf[n] = 0;
  return buf;
}

/* ---- Cosmos DB: settings and auth --------------------------------------------- */

static int check_name(const char *what, const char *s, wagi_az_error *err) {
  if (!s || !*s) return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG, "%s is empty", what);
  if (strlen(s) > 255)
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG, "%s is longer than 255 characters", what);
  for (const char *p = s; *p; p++)
    if (*p == '/' || *p == '\\' || *p == '?' || *p == '#' || (unsigned char)*p < 0x20)
      return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                           "%s \"%.100s\" contains '/', '\\', '?', '#' or a control character",
                           what, s);
  return WAGI_AZ_OK;
}

int wagi_az_cosmos_init(wagi_az_cosmos *c, const char *endpoint, const char *key_base64,
                        const char *database, const char *collection, wagi_az_error *err) {
  if (!c || !endpoint || !key_base64 || !database || !collection)
    return wagi_az__fail(err, WAGI_AZ_ERR_ARG, "wagi_az_cosmos_init: every argument is required");
  memset(c, 0, sizeof *c);
  if (!is_http_url(endpoint))
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                         "the Cosmos DB endpoint \"%.200s\" is not an http:// or https:// URL",
                         endpoint);
  int rc = check_name("the Cosmos DB database name", database, err);
  if (!rc) rc = check_name("the Cosmos DB collection name", collection, err);
  if (!rc) rc = decode_key("the Cosmos DB master key", key_base64, &c->key, &c->key_len, err);
  if (rc) return rc;
  c->endpoint = dup_trim_slash(endpoint);
  c->database = strdup(database);
  c->collection = strdup(collection);
  if (!c->endpoint || !c->database || !c->collection) {
    wagi_az_cosmos_free(c);
    return wagi_az__fail(err, WAGI_AZ_ERR_NOMEM, "out of memory");
  }
  wagi_az__ok(err);
  return WAGI_AZ_OK;
}

int wagi_az_cosmos_from_env(wagi_az_cosmos *c, wagi_az_error *err) {
  const char *account = getenv("COSMOS_ACCOUNT"), *endpoint = getenv("COSMOS_ENDPOINT");
  const char *key = getenv("COSMOS_MASTER_KEY"), *db = getenv("COSMOS_DATABASE");
  const char *coll = getenv("COSMOS_COLLECTION");
  const char *missing = (!endpoint || !*endpoint) && (!account || !*account)
                            ? "COSMOS_ACCOUNT (or COSMOS_ENDPOINT)"
                        : !key || !*key   ? "COSMOS_MASTER_KEY"
                        : !db || !*db     ? "COSMOS_DATABASE"
                        : !coll || !*coll ? "COSMOS_COLLECTION"
                                          : NULL;
  if (missing)
    return wagi_az__fail(err, WAGI_AZ_ERR_CONFIG,
                         "%s is not set: give the module COSMOS_ACCOUNT (or COSMOS_ENDPOINT), "
                         "COSMOS_MASTER_KEY, COSMOS_DATABASE and COSMOS_COLLECTION in its "
                         "environment",
                         missing);
  char built[300];
  if (!endpoint || !*endpoint) {
    snprintf(built, sizeof built, "https://%s.documents.azure.com:443", account);
    endpoint = built;
  }
  return wagi_az_cosmos_init(c, endpoint, key, db, coll, err);
}

void wagi_az_cosmos_free(wagi_az_cosmos *c) {
  if (!c) return;
  free(c->endpoint);
  free(c->key);
  free(c->database);
  free(c->collection);
  memset(c, 0, sizeof *c);
}

int wagi_az_cosmos_auth(const char *verb, const char *resource_type, const char *resource_link,
                        const char *date, const uint8_t *key, size_t key_len, char *out,
                        size_t cap) {
  if (!verb || !resource_type || !resource_link || !date || !key || !out) return WAGI_AZ_ERR_ARG;
  sbuf b = {0};
  const char *parts[] = {verb, resource_type, resource_link, date};
  for (int i = 0; i < 4; i++) {
    for (const char *p = parts[i]; *p; p++) {
      /* the link keeps its case; verb, type and date are lower-cased */
      char ch = i != 2 && *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
      sb_add(&b, &ch, 1);
    }
    sb_str(&b, "\n");
  }
  sb_str(&b, "\n");
  if (b.oom) {
    free(b.s);
    return WAGI_AZ_ERR_NOMEM;
  }
  char sig[64], token[128];
  int rc = sign_b64(key, key_len, b.s, sig, sizeof sig);
  free(b.s);
  if (rc) return rc;
  snprintf(token, sizeof token, "type=master&ver=1.0&sig=%s", sig);
  size_t n;
  return wagi_url_encode(token, strlen(token), 0, out, cap, &n) ? WAGI_AZ_ERR_ARG : WAGI_AZ_OK;
}
