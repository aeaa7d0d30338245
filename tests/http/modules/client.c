/* client.c — test module for the outbound-HTTP integration tests, driven by
 * its query string (values percent-decoded):
 *
 *   op=fetch (default)  one request: url=, method= (GET), h=name:value
 *                       (repeatable), body = the inbound request body,
 *                       get=NAME (header_get), chunk=N (body_read size),
 *                       raw=1 (send the header text of `h` unparsed)
 *   op=open&n=N         N requests to url= without closing them
 *   op=abi              the raw ABI with bad arguments (one line each)
 *   op=reuse            open, close, open again: prints the handles
 *
 * Output: text/plain, "key=value" lines, then for fetch the body bytes
 * after a line "--body--". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_http.h"

#define MAXP 512
static char *keys[MAXP], *vals[MAXP];
static int np;

static int hexv(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static char *decode(const char *s, size_t n) {
  char *o = malloc(n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
      o[k++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
      i += 2;
    } else {
      o[k++] = s[i];
    }
  }
  o[k] = 0;
  return o;
}

static void parse_query(void) {
  const char *q = getenv("QUERY_STRING");
  if (!q) return;
  while (*q && np < MAXP) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', n);
    if (eq) {
      keys[np] = decode(q, (size_t)(eq - q));
      vals[np] = decode(eq + 1, n - (size_t)(eq - q) - 1);
      np++;
    }
    if (!amp) break;
    q = amp + 1;
  }
}

static const char *param(const char *k, const char *dflt) {
  for (int i = 0; i < np; i++)
    if (strcmp(keys[i], k) == 0) return vals[i];
  return dflt;
}

static uint8_t *read_stdin(size_t *len) {
  size_t cap = 65536, n = 0;
  uint8_t *b = malloc(cap);
  for (;;) {
    if (n == cap) b = realloc(b, cap *= 2);
    size_t k = fread(b + n, 1, cap - n, stdin);
    if (k == 0) break;
    n += k;
  }
  *len = n;
  return b;
}

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

static void header_text(char **text, size_t *len) {
  size_t cap = 16, n = 0;
  char *t = malloc(cap);
  for (int i = 0; i < np; i++) {
    if (strcmp(keys[i], "h") != 0) continue;
    size_t l = strlen(vals[i]);
    while (n + l + 2 > cap) t = realloc(t, cap *= 2);
    memcpy(t + n, vals[i], l);
    t[n + l] = '\n';
    n += l + 1;
  }
  *text = t;
  *len = n;
}

static int op_fetch(void) {
  const char *url = param("url", "");
  const char *method = param("method", "GET");
  size_t blen;
  uint8_t *body = read_stdin(&blen);
  char *ht;
  size_t hl;
  header_text(&ht, &hl);
  wagi_http_response r;
  int rc = wagi_http_request_raw(method, strlen(method), url, strlen(url), ht, hl, body, blen, &r);
  printf("rc=%d\n", rc);
  if (rc != 0) return 0;
  printf("status=%u\nhandle=%u\n", r.status, r.handle);
  const char *get = param("get", NULL);
  if (get) {
    char *v;
    size_t vl;
    int grc = wagi_http_header_get(&r, get, &v, &vl);
    printf("hget=%d:%s\n", grc, grc == 0 ? v : "");
  }
  char *all;
  size_t al;
  int arc = wagi_http_headers_all(&r, &all, &al);
  printf("hall_rc=%d\n", arc);
  if (arc == 0) {
    /* One "hdr=" line per header so the test can parse them. */
    char *p = all;
    while (*p) {
      char *nl = strchr(p, '\n');
      if (!nl) break;
      printf("hdr=%.*s\n", (int)(nl - p), p);
      p = nl + 1;
    }
  }
  size_t chunk = (size_t)atoi(param("chunk", "0"));
  uint8_t *b = NULL;
  size_t n = 0;
  int brc;
  if (chunk) {
    size_t cap = 1 << 16;
    b = malloc(cap);
    for (;;) {
      if (cap - n < chunk) b = realloc(b, cap *= 2);
      size_t got;
      brc = wagi_http_body_read(&r, b + n, chunk, &got);
      if (brc || got == 0) break;
      n += got;
    }
  } else {
    brc = wagi_http_body_all(&r, (size_t)64 << 20, &b, &n);
  }
  printf("body_rc=%d\nbody_len=%zu\nbody_fnv=%016llx\n", brc, n, (unsigned long long)fnv(b, n));
  wagi_http_close(&r);
  /* After close the handle is gone. */
  uint32_t got;
  char tmp[8];
  printf("after_close=%u\n", wagi_http_raw_body_read(r.handle, tmp, sizeof tmp, &got));
  printf("--body--\n");
  fflush(stdout);
  fwrite(b, 1, n, stdout);
  return 0;
}

static int op_open(void) {
  const char *url = param("url", "");
  int n = atoi(param("n", "1"));
  for (int i = 0; i < n; i++) {
    wagi_http_response r;
    int rc = wagi_http_request("GET", url, NULL, 0, NULL, 0, &r);
    printf("req%d=%d\n", i, rc);
  }
  return 0;
}

static int op_reuse(void) {
  const char *url = param("url", "");
  wagi_http_response a, b, c, d;
  int r1 = wagi_http_request("GET", url, NULL, 0, NULL, 0, &a);
  int r2 = wagi_http_request("GET", url, NULL, 0, NULL, 0, &b);
  printf("a=%d:%u b=%d:%u\n", r1, a.handle, r2, b.handle);
  wagi_http_close(&b);
  int r3 = wagi_http_request("GET", url, NULL, 0, NULL, 0, &c);
  printf("c=%d:%u\n", r3, c.handle); /* the counter sits on 1, which is free again */
  wagi_http_close(&a);
  int r4 = wagi_http_request("GET", url, NULL, 0, NULL, 0, &d);
  printf("d=%d:%u\n", r4, d.handle); /* 0 is free but the counter moved past it */
  printf("close_unknown=%u\n", wagi_http_raw_close(12345));
  return 0;
}

#define OOB ((const char *)0xfffffff0u)

static int op_abi(void) {
  const char *url = param("url", "");
  uint32_t ul = (uint32_t)strlen(url);
  uint16_t st;
  uint32_t h;
#define REQ(u, ulen, m, mlen, hd, hlen, b, blen, so, ho)                                           \
  wagi_http_raw_req(u, ulen, m, mlen, hd, hlen, b, blen, so, ho)
  printf("url_oob=%u\n", REQ(OOB, 100, "GET", 3, "", 0, "", 0, &st, &h));
  printf("url_utf8=%u\n", REQ("http://\xff\xfe/", 10, "GET", 3, "", 0, "", 0, &st, &h));
  printf("url_invalid=%u\n", REQ("not even a url", 14, "GET", 3, "", 0, "", 0, &st, &h));
  printf("url_nohost=%u\n", REQ("http:///x", 9, "GET", 3, "", 0, "", 0, &st, &h));
  printf("url_ftp=%u\n", REQ("ftp://127.0.0.1/", 16, "GET", 3, "", 0, "", 0, &st, &h));
  printf("url_denied=%u\n", REQ("http://denied.invalid/", 22, "GET", 3, "", 0, "", 0, &st, &h));
  printf("method_empty=%u\n", REQ(url, ul, "", 0, "", 0, "", 0, &st, &h));
  printf("method_bad=%u\n", REQ(url, ul, "GE T", 4, "", 0, "", 0, &st, &h));
  printf("method_oob=%u\n", REQ(url, ul, OOB, 100, "", 0, "", 0, &st, &h));
  printf("body_oob=%u\n", REQ(url, ul, "POST", 4, "", 0, OOB, 100, &st, &h));
  printf("hdr_oob=%u\n", REQ(url, ul, "GET", 3, OOB, 100, "", 0, &st, &h));
  printf("hdr_utf8=%u\n", REQ(url, ul, "GET", 3, "x:\xff\n", 4, "", 0, &st, &h));
  printf("hdr_nocolon=%u\n", REQ(url, ul, "GET", 3, "novalue\n", 8, "", 0, &st, &h));
  printf("hdr_badname=%u\n", REQ(url, ul, "GET", 3, "a b:c\n", 6, "", 0, &st, &h));
  /* Order: a bad URL wins over a bad method; a denied host over a bad method. */
  printf("order_url_method=%u\n", REQ("nope", 4, "", 0, "", 0, "", 0, &st, &h));
  printf("order_denied_method=%u\n",
         REQ("http://denied.invalid/", 22, "", 0, OOB, 100, "", 0, &st, &h));
  printf("order_method_body=%u\n", REQ(url, ul, "", 0, "", 0, OOB, 100, &st, &h));
  printf("status_oob=%u\n", REQ(url, ul, "GET", 3, "", 0, "", 0, (uint16_t *)OOB, &h));
  uint32_t got;
  char small[4];
  printf("bad_handle_header_get=%u\n", wagi_http_raw_header_get(777, "a", 1, small, 4, &got));
  printf("bad_handle_headers_all=%u\n", wagi_http_raw_headers_get_all(777, small, 4, &got));
  printf("bad_handle_body_read=%u\n", wagi_http_raw_body_read(777, small, 4, &got));
  printf("bad_handle_close=%u\n", wagi_http_raw_close(777));
  uint32_t ok = REQ(url, ul, "GET", 3, "", 0, "", 0, &st, &h);
  printf("ok=%u status=%u\n", ok, st);
  printf("hget_small=%u\n", wagi_http_raw_header_get(h, "x-long", 6, small, 4, &got));
  printf("hget_missing=%u\n", wagi_http_raw_header_get(h, "x-none", 6, small, 4, &got));
  printf("hget_name_oob=%u\n", wagi_http_raw_header_get(h, OOB, 100, small, 4, &got));
  printf("hget_out_oob=%u\n", wagi_http_raw_header_get(h, "x-long", 6, (char *)OOB, 4096, &got));
  printf("hall_small=%u\n", wagi_http_raw_headers_get_all(h, small, 4, &got));
  printf("hall_out_oob=%u\n", wagi_http_raw_headers_get_all(h, (char *)OOB, 65536, &got));
  printf("body_out_oob=%u\n", wagi_http_raw_body_read(h, (char *)OOB, 4096, &got));
  printf("body_count_oob=%u\n", wagi_http_raw_body_read(h, small, 4, (uint32_t *)OOB));
  printf("body_zero_cap=%u:%u\n", wagi_http_raw_body_read(h, small, 0, &got), got);
  wagi_http_raw_close(h);
  return 0;
}

int main(void) {
  parse_query();
  printf("content-type: text/plain\n\n");
  const char *op = param("op", "fetch");
  if (strcmp(op, "open") == 0) return op_open();
  if (strcmp(op, "abi") == 0) return op_abi();
  if (strcmp(op, "reuse") == 0) return op_reuse();
  return op_fetch();
}

/* `_routes` runs with every destination denied: the route it prints says
 * what `req` returned then (expected: /routes-rc-7). */
__attribute__((export_name("_routes"))) void routes(void) {
  uint16_t st;
  uint32_t h;
  uint32_t rc = wagi_http_raw_req("http://127.0.0.1:1/", 19, "GET", 3, "", 0, "", 0, &st, &h);
  printf("/routes-rc-%u _start\n", rc);
}
