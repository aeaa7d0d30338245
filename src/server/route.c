/* route.c — WAGI routing (docs/server.md §Routing): patterns, `_routes` parsing and
 * joining, and the first-match route table. See route.h. */
#include "route.h"
#include "base/err.h"
#include "base/utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PREFIX_SUFFIX "/..."
#define PREFIX_SUFFIX_LEN 4

struct srv_route_table {
  srv_route **items; /* pointers, so entries never move when the table grows */
  size_t n, cap;
};

static bool is_prefix_text(const char *s, size_t n) {
  return n >= PREFIX_SUFFIX_LEN &&
         memcmp(s + n - PREFIX_SUFFIX_LEN, PREFIX_SUFFIX, PREFIX_SUFFIX_LEN) == 0;
}

/* Length of the base of a route text: Exact = all of it, Prefix = P. */
static size_t base_len_of(const char *s, size_t n) {
  return is_prefix_text(s, n) ? n - PREFIX_SUFFIX_LEN : n;
}

/* ---- `_routes` output ------------------------------------------------------ */

static bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

static char *dup_n(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void srv_dyn_routes_free(srv_dyn_routes *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) {
    free(d->items[i].subroute);
    free(d->items[i].entrypoint);
  }
  free(d->items);
  d->items = NULL;
  d->n = 0;
}

int srv_routes_parse_dynamic(const char *text, size_t len, srv_dyn_routes *out, char *err,
                             size_t errlen) {
  if (!text || len == 0) {
    base_set_err(err, errlen, "the output is empty (expected lines 'SUBROUTE ENTRYPOINT')");
    return -1;
  }
  size_t bad;
  if (!base_utf8_valid((const uint8_t *)text, len, &bad)) {
    base_set_err(err, errlen, "the output is not valid UTF-8 (byte offset %zu)", bad);
    return -1;
  }
  srv_dyn_routes d = {0};
  size_t cap = 0, lineno = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *next = nl ? nl + 1 : end;
    lineno++;
    if (le > p && le[-1] == '\r') le--; /* like Rust's str::lines() */
    if (le == p) {
      p = next;
      continue;
    }
    /* Valid UTF-8, but the route and entrypoint become C strings: a NUL
     * would cut them silently. */
    if (memchr(p, 0, (size_t)(le - p))) {
      base_set_err(err, errlen, "line %zu: holds a NUL byte", lineno);
      srv_dyn_routes_free(&d);
      return -1;
    }
    /* Split on whitespace into at most 3 fields (3 is already an error). */
    const char *f[3];
    size_t fl[3], nf = 0;
    const char *q = p;
    while (q < le) {
      while (q < le && is_ws(*q)) q++;
      if (q == le) break;
      const char *s = q;
      while (q < le && !is_ws(*q)) q++;
      if (nf < 3) {
        f[nf] = s;
        fl[nf] = (size_t)(q - s);
      }
      nf++;
    }
    if (nf != 2) {
      base_set_err(err, errlen,
                   "line %zu: expected 'SUBROUTE ENTRYPOINT' (2 fields), found %zu: '%.*s'", lineno,
                   nf, (int)((le - p) > 200 ? 200 : (le - p)), p);
      srv_dyn_routes_free(&d);
      return -1;
    }
    if (d.n == cap) {
      size_t nc = cap ? cap * 2 : 8;
      srv_dyn_route *ni = realloc(d.items, nc * sizeof *ni);
      if (!ni) goto nomem;
      d.items = ni;
      cap = nc;
    }
    char *sub = dup_n(f[0], fl[0]);
    char *ep = dup_n(f[1], fl[1]);
    if (!sub || !ep) {
      free(sub);
      free(ep);
      goto nomem;
    }
    d.items[d.n].subroute = sub;
    d.items[d.n].entrypoint = ep;
    d.n++;
    p = next;
  }
  if (d.n == 0) {
    base_set_err(err, errlen, "the output has no routes (only empty lines)");
    srv_dyn_routes_free(&d);
    return -1;
  }
  *out = d;
  return 0;
nomem:
  srv_dyn_routes_free(&d);
  base_set_err(err, errlen, "out of memory parsing the output");
  return -1;
}

char *srv_route_join(const char *parent, const char *subroute) {
  size_t pn = strlen(parent), sn = strlen(subroute);
  size_t bn = base_len_of(parent, pn);
  if (bn > 0 && parent[bn - 1] == '/') bn--;
  const char *s = subroute;
  if (sn > 0 && s[0] == '/') {
    s++;
    sn--;
  }
  char *r = malloc(bn + 1 + sn + 1);
  if (!r) return NULL;
  memcpy(r, parent, bn);
  r[bn] = '/';
  memcpy(r + bn + 1, s, sn);
  r[bn + 1 + sn] = 0;
  return r;
}

/* ---- Table -------------------------------------------------------------------- */

/* One block: the struct followed by its strings. `text` is the normalised
 * route text (a leading '/' added when missing). */
static srv_route *route_new(const char *text, const char *entrypoint, const char *host,
                            const char *parent_text, void *handler, bool dynamic) {
  size_t tn = strlen(text);
  size_t add_slash = (tn == 0 || text[0] != '/') ? 1 : 0;
  size_t n = tn + add_slash; /* normalised text length */
  size_t pn = strlen(parent_text);
  size_t padd = (pn == 0 || parent_text[0] != '/') ? 1 : 0;
  size_t en = strlen(entrypoint);
  size_t hn = host ? strlen(host) : 0;
  /* script_name: at most base + 1 */
  size_t total =
      sizeof(srv_route) + (n + 1) + (n + 2) + (en + 1) + (pn + padd + 1) + (host ? hn + 1 : 0);
  srv_route *r = calloc(1, total);
  if (!r) return NULL;
  char *p = (char *)(r + 1);

  char *t = p;
  if (add_slash) t[0] = '/';
  memcpy(t + add_slash, text, tn);
  t[n] = 0;
  p += n + 1;
  r->text = t;
  r->text_len = n;
  r->kind = is_prefix_text(t, n) ? SRV_ROUTE_PREFIX : SRV_ROUTE_EXACT;
  r->base = t;
  r->base_len = base_len_of(t, n);

  char *sn = p;
  size_t snl = 0;
  if (r->kind == SRV_ROUTE_EXACT) {
    memcpy(sn, t, n);
    snl = n;
  } else {
    if (r->base_len == 0 || t[0] != '/') sn[snl++] = '/';
    memcpy(sn + snl, t, r->base_len);
    snl += r->base_len;
    /* "/..." has base "" -> SCRIPT_NAME "/" (the '/' added above) */
  }
  sn[snl] = 0;
  p += n + 2;
  r->script_name = sn;

  char *e = p;
  memcpy(e, entrypoint, en + 1);
  p += en + 1;
  r->entrypoint = e;

  char *pt = p;
  if (padd) pt[0] = '/';
  memcpy(pt + padd, parent_text, pn + 1);
  p += pn + padd + 1;
  r->parent_text = pt;

  if (host) {
    char *h = p;
    for (size_t i = 0; i < hn; i++) {
      char c = host[i];
      h[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    h[hn] = 0;
    r->host = h;
  }
  r->handler = handler;
  r->dynamic = dynamic;
  return r;
}

srv_route_table *srv_route_table_new(void) { return calloc(1, sizeof(srv_route_table)); }

void srv_route_table_free(srv_route_table *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) free(t->items[i]);
  free(t->items);
  free(t);
}

static int push(srv_route_table *t, srv_route *r) {
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 16;
    srv_route **ni = realloc(t->items, nc * sizeof *ni);
    if (!ni) return -1;
    t->items = ni;
    t->cap = nc;
  }
  t->items[t->n++] = r;
  return 0;
}

int srv_route_table_add(srv_route_table *t, const char *route, const char *entrypoint,
                        const char *host, void *handler, const srv_dyn_routes *dyn, char *err,
                        size_t errlen) {
  if (!t || !route) {
    base_set_err(err, errlen, "no route given");
    return -1;
  }
  if (route[0] == 0) {
    base_set_err(err, errlen, "the route is empty");
    return -1;
  }
  if (!entrypoint) entrypoint = "_start";
  /* Join onto the normalised parent so "infer" + "/x" gives "/infer/x". */
  char *norm = NULL;
  const char *parent = route;
  if (route[0] != '/') {
    size_t rn = strlen(route);
    norm = malloc(rn + 2);
    if (!norm) goto nomem;
    norm[0] = '/';
    memcpy(norm + 1, route, rn + 1);
    parent = norm;
  }
  size_t n0 = t->n;
  if (dyn) {
    for (size_t i = dyn->n; i-- > 0;) {
      char *joined = srv_route_join(parent, dyn->items[i].subroute);
      if (!joined) goto nomem_undo;
      srv_route *r = route_new(joined, dyn->items[i].entrypoint, host, parent, handler, true);
      free(joined);
      if (!r) goto nomem_undo;
      if (push(t, r)) {
        free(r);
        goto nomem_undo;
      }
    }
  }
  srv_route *r = route_new(parent, entrypoint, host, parent, handler, false);
  if (!r) goto nomem_undo;
  if (push(t, r)) {
    free(r);
    goto nomem_undo;
  }
  free(norm);
  return 0;
nomem_undo:
  while (t->n > n0) free(t->items[--t->n]);
nomem:
  free(norm);
  base_set_err(err, errlen, "out of memory building the route table");
  return -1;
}

size_t srv_route_table_len(const srv_route_table *t) { return t ? t->n : 0; }

const srv_route *srv_route_table_at(const srv_route_table *t, size_t i) {
  return (t && i < t->n) ? t->items[i] : NULL;
}

bool srv_route_matches(const srv_route *r, const char *path, size_t path_len) {
  if (r->kind == SRV_ROUTE_EXACT)
    return path_len == r->text_len && memcmp(path, r->text, path_len) == 0;
  size_t b = r->base_len;
  if (path_len < b || memcmp(path, r->base, b) != 0) return false;
  return path_len == b || path[b] == '/';
}

static bool host_ok(const srv_route *r, const char *host_header) {
  if (!r->host) return true;
  if (!host_header) return false;
  size_t n = strlen(host_header);
  /* The legacy server compared the lowercased header with the key. */
  return n == strlen(r->host) && strncasecmp(host_header, r->host, n) == 0;
}

srv_route_result srv_route_lookup(const srv_route_table *t, const char *path, size_t path_len,
                                  const char *host_header, srv_route_match *m) {
  memset(m, 0, sizeof *m);
  m->raw_path_info = "";
  if (path_len == 8 && memcmp(path, "/healthz", 8) == 0) return SRV_ROUTE_HEALTHZ;
  if (!t) return SRV_ROUTE_NONE;
  for (size_t i = 0; i < t->n; i++) {
    const srv_route *r = t->items[i];
    if (!srv_route_matches(r, path, path_len) || !host_ok(r, host_header)) continue;
    m->route = r;
    if (r->kind == SRV_ROUTE_PREFIX) {
      m->raw_path_info = path + r->base_len;
      m->raw_path_info_len = path_len - r->base_len;
    }
    return SRV_ROUTE_FOUND;
  }
  return SRV_ROUTE_NONE;
}
