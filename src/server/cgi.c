/* cgi.c — argv, CGI environment and user variables of a WAGI guest
 * (docs/modules.md §argv, §Environment). See cgi.h. */
#include "cgi.h"
#include "base/err.h"
#include "base/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Largest --env-file accepted: a config file, not a data set. */
#define ENV_FILE_MAX ((size_t)16 << 20)

/* ---- User variables ------------------------------------------------------ */

void srv_env_list_free(srv_env_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) {
    free(l->items[i].name);
    free(l->items[i].value);
  }
  free(l->items);
  memset(l, 0, sizeof *l);
}

int srv_env_list_set(srv_env_list *l, const char *name, size_t name_len, const char *value,
                     size_t value_len) {
  char *v = malloc(value_len + 1);
  if (!v) return -1;
  memcpy(v, value, value_len);
  v[value_len] = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (strlen(l->items[i].name) == name_len && memcmp(l->items[i].name, name, name_len) == 0) {
      free(l->items[i].value);
      l->items[i].value = v;
      return 0;
    }
  }
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    srv_env_var *ni = realloc(l->items, nc * sizeof *ni);
    if (!ni) {
      free(v);
      return -1;
    }
    l->items = ni;
    l->cap = nc;
  }
  char *nm = malloc(name_len + 1);
  if (!nm) {
    free(v);
    return -1;
  }
  memcpy(nm, name, name_len);
  nm[name_len] = 0;
  l->items[l->n].name = nm;
  l->items[l->n].value = v;
  l->n++;
  return 0;
}

int srv_env_parse_assignment(const char *arg, srv_env_list *l, char *err, size_t errlen) {
  const char *eq = strchr(arg, '=');
  if (!eq) {
    base_set_err(err, errlen, "invalid --env '%s': expected NAME=VALUE (no '=' found)", arg);
    return -1;
  }
  if (eq == arg) {
    base_set_err(err, errlen, "invalid --env '%s': the variable name is empty", arg);
    return -1;
  }
  const char *v = eq + 1;
  size_t vn = strlen(v);
  if (vn >= 2 && ((v[0] == '"' && v[vn - 1] == '"') || (v[0] == '\'' && v[vn - 1] == '\''))) {
    v++;
    vn -= 2;
  }
  if (srv_env_list_set(l, arg, (size_t)(eq - arg), v, vn)) {
    base_set_err(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

static bool sp(char c) { return c == ' ' || c == '\t'; }

/* Growable byte buffer for decoded values. */
typedef struct {
  char *p;
  size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, char c) {
  if (b->n + 1 >= b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 64;
    char *np = realloc(b->p, nc);
    if (!np) return -1;
    b->p = np;
    b->cap = nc;
  }
  b->p[b->n++] = c;
  return 0;
}

int srv_env_parse_text(const char *text, size_t len, const char *name, srv_env_list *l, char *err,
                       size_t errlen) {
  const char *p = text, *end = text + len;
  size_t lineno = 0;
  sbuf b = {0};
  if (!name) name = "<env-file>";
  while (p < end) {
    lineno++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *next = nl ? nl + 1 : end;
    if (le > p && le[-1] == '\r') le--;
    const char *s = p;
    while (s < le && sp(*s)) s++;
    if (s == le || *s == '#') {
      p = next;
      continue;
    }
    if ((size_t)(le - s) > 7 && memcmp(s, "export", 6) == 0 && sp(s[6])) {
      s += 7;
      while (s < le && sp(*s)) s++;
    }
    const char *eq = memchr(s, '=', (size_t)(le - s));
    if (!eq) {
      base_set_err(err, errlen, "%s:%zu: expected NAME=VALUE, found '%.*s'", name, lineno,
                   (int)((le - s) > 100 ? 100 : (le - s)), s);
      goto fail;
    }
    const char *ne = eq;
    while (ne > s && sp(ne[-1])) ne--;
    if (ne == s) {
      base_set_err(err, errlen, "%s:%zu: the variable name is empty", name, lineno);
      goto fail;
    }
    for (const char *c = s; c < ne; c++) {
      if (sp(*c) || *c == 0) {
        base_set_err(err, errlen, "%s:%zu: invalid variable name '%.*s'", name, lineno,
                     (int)(ne - s), s);
        goto fail;
      }
    }
    const char *v = eq + 1;
    while (v < le && sp(*v)) v++;
    b.n = 0;
    if (v < le && (*v == '\'' || *v == '"')) {
      char q = *v++;
      /* A quoted value may span lines (dotenv), so scan the whole text. */
      const char *c = v;
      bool closed = false;
      while (c < end) {
        if (*c == q) {
          closed = true;
          break;
        }
        if (q == '"' && *c == '\\' && c + 1 < end) {
          char e = c[1], o;
          switch (e) {
          case 'n': o = '\n'; break;
          case 't': o = '\t'; break;
          case 'r': o = '\r'; break;
          case '\\':
          case '"':
          case '$':
          case '\'': o = e; break;
          default:
            if (sb_put(&b, '\\')) goto nomem;
            o = e;
          }
          if (sb_put(&b, o)) goto nomem;
          c += 2;
          continue;
        }
        if (*c == '\n') lineno++;
        if (sb_put(&b, *c)) goto nomem;
        c++;
      }
      if (!closed) {
        base_set_err(err, errlen, "%s:%zu: unterminated %s quote in the value of '%.*s'", name,
                     lineno, q == '"' ? "double" : "single", (int)(ne - s), s);
        goto fail;
      }
      /* After the closing quote only blanks or a comment may follow. */
      const char *r = c + 1;
      const char *rle = memchr(r, '\n', (size_t)(end - r));
      if (!rle) rle = end;
      next = rle < end ? rle + 1 : end;
      if (rle > r && rle[-1] == '\r') rle--;
      while (r < rle && sp(*r)) r++;
      if (r < rle && *r != '#') {
        base_set_err(err, errlen, "%s:%zu: unexpected text after the quoted value of '%.*s'", name,
                     lineno, (int)(ne - s), s);
        goto fail;
      }
    } else {
      const char *ve = le;
      for (const char *c = v; c < le; c++) {
        if (*c == '#' && (c == v || sp(c[-1]))) {
          ve = c;
          break;
        }
      }
      while (ve > v && sp(ve[-1])) ve--;
      for (const char *c = v; c < ve; c++)
        if (sb_put(&b, *c)) goto nomem;
    }
    if (srv_env_list_set(l, s, (size_t)(ne - s), b.p ? b.p : "", b.n)) goto nomem;
    p = next;
  }
  free(b.p);
  return 0;
nomem:
  base_set_err(err, errlen, "%s: out of memory", name);
fail:
  free(b.p);
  return -1;
}

int srv_env_parse_file(const char *path, srv_env_list *l, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    base_set_err(err, errlen, "cannot open env file '%s': %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    base_set_err(err, errlen, "env file '%s' is not a regular file", path);
    fclose(f);
    return -1;
  }
  if ((uint64_t)st.st_size > ENV_FILE_MAX) {
    base_set_err(err, errlen, "env file '%s' is too large (%lld bytes, limit %zu)", path,
                 (long long)st.st_size, ENV_FILE_MAX);
    fclose(f);
    return -1;
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  if (!buf) {
    base_set_err(err, errlen, "out of memory reading '%s'", path);
    fclose(f);
    return -1;
  }
  size_t got = fread(buf, 1, n, f);
  bool rerr = ferror(f);
  fclose(f);
  if (rerr) {
    base_set_err(err, errlen, "cannot read env file '%s'", path);
    free(buf);
    return -1;
  }
  int rc = srv_env_parse_text(buf, got, path, l, err, errlen);
  free(buf);
  return rc;
}

int srv_env_merge(const srv_env_list *module_env, const srv_env_list *env_file,
                  const srv_env_list *env, srv_env_list *out) {
  const srv_env_list *ls[3] = {module_env, env_file, env};
  for (int k = 0; k < 3; k++) {
    if (!ls[k]) continue;
    for (size_t i = 0; i < ls[k]->n; i++) {
      const srv_env_var *v = &ls[k]->items[i];
      if (srv_env_list_set(out, v->name, strlen(v->name), v->value, strlen(v->value))) {
        srv_env_list_free(out);
        return -1;
      }
    }
  }
  return 0;
}

/* ---- Request target ---------------------------------------------------------- */

void srv_target_split(const char *target, size_t len, srv_target *out) {
  memset(out, 0, sizeof *out);
  const char *p = target, *end = target + len;
  /* Absolute form: scheme "://" authority [path] */
  const char *c = p;
  while (c < end && ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (c > p && ((*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))))
    c++;
  if (c > p && end - c >= 3 && memcmp(c, "://", 3) == 0) {
    const char *a = c + 3, *ae = a;
    while (ae < end && *ae != '/' && *ae != '?' && *ae != '#') ae++;
    /* Drop userinfo: the authority for SERVER_NAME is host[:port]. */
    const char *at = NULL;
    for (const char *k = a; k < ae; k++)
      if (*k == '@') at = k;
    if (at) a = at + 1;
    out->authority = a;
    out->authority_len = (size_t)(ae - a);
    p = ae;
  }
  const char *q = memchr(p, '?', (size_t)(end - p));
  const char *pe = q ? q : end;
  if (pe == p && out->authority) {
    out->path = "/";
    out->path_len = 1;
  } else {
    out->path = p;
    out->path_len = (size_t)(pe - p);
  }
  if (q) {
    out->query = q + 1;
    out->query_len = (size_t)(end - q - 1);
  }
}

/* ---- Vectors ---------------------------------------------------------------------- */

void srv_strv_free(char **v) { free(v); }

/* A vector being built in two passes: pass 1 counts (str == NULL), pass 2
 * writes the strings (and, when vec is set, their start pointers). */
typedef struct {
  char **vec;   /* NULL: no pointer array */
  char *str;    /* next free byte for strings; NULL in the counting pass */
  size_t count; /* strings so far */
  size_t bytes; /* string bytes so far (incl. NULs) */
} vbuild;

/* Starts a string; parts are appended with vb_add and closed with vb_end. */
static void vb_begin(vbuild *b) {
  if (b->vec) b->vec[b->count] = b->str;
  b->count++;
}
static void vb_add(vbuild *b, const char *s, size_t n) {
  if (b->str) {
    memcpy(b->str, s, n);
    b->str += n;
  }
  b->bytes += n;
}
static void vb_addc(vbuild *b, char c) {
  if (b->str) *b->str++ = c;
  b->bytes++;
}
static void vb_end(vbuild *b) { vb_addc(b, 0); }

static char **vb_alloc(vbuild *b) {
  size_t ptrs = (b->count + 1) * sizeof(char *);
  if (b->bytes > SIZE_MAX - ptrs) return NULL;
  char **v = malloc(ptrs + b->bytes);
  if (!v) return NULL;
  b->vec = v;
  b->str = (char *)(v + b->count + 1);
  b->count = 0;
  b->bytes = 0;
  return v;
}

static bool ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Expands the argv template into b as whitespace-split words. */
static void argv_template(vbuild *b, const srv_request *req, const char *tpl) {
  bool in_word = false;
  const char *t = tpl;
  while (*t) {
    const char *rep = NULL;
    size_t repn = 0;
    bool args = false;
    if (strncmp(t, "${SCRIPT_NAME}", 14) == 0) {
      rep = req->path;
      repn = req->path_len;
      t += 14;
    } else if (strncmp(t, "${ARGS}", 7) == 0) {
      rep = req->query ? req->query : "";
      repn = req->query ? req->query_len : 0;
      args = true;
      t += 7;
    } else {
      rep = t;
      repn = 1;
      t++;
    }
    for (size_t i = 0; i < repn; i++) {
      char c = rep[i];
      if (args && c == '&') c = ' ';
      if (ws(c)) {
        if (in_word) {
          vb_end(b);
          in_word = false;
        }
      } else {
        if (!in_word) {
          vb_begin(b);
          in_word = true;
        }
        vb_addc(b, c);
      }
    }
  }
  if (in_word) vb_end(b);
}

static void argv_default(vbuild *b, const srv_request *req) {
  vb_begin(b);
  vb_add(b, req->path, req->path_len);
  vb_end(b);
  if (!req->query) return;
  const char *q = req->query, *end = req->query + req->query_len;
  for (;;) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    const char *pe = amp ? amp : end;
    vb_begin(b);
    vb_add(b, q, (size_t)(pe - q));
    vb_end(b);
    if (!amp) break;
    q = amp + 1;
  }
}

char **srv_cgi_argv(const srv_request *req, const char *tpl, size_t *argc) {
  vbuild b = {0};
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && !vb_alloc(&b)) return NULL;
    if (tpl) argv_template(&b, req, tpl);
    else argv_default(&b, req);
  }
  b.vec[b.count] = NULL;
  if (argc) *argc = b.count;
  return b.vec;
}

/* ---- SERVER_NAME / SERVER_PORT ------------------------------------------------------ */

/* Is every byte printable ASCII or TAB? Eight bytes at a time: a word with
 * no high bit, no byte below 0x20 and no 0x7f is all visible; any other word
 * is checked byte by byte (TAB is allowed there). */
static bool visible_ascii(const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, s + i, 8);
    y = x ^ (0x7f * ones);
    uint64_t suspect = (x | ((x - 0x20 * ones) & ~x) | ((y - ones) & ~y)) & high;
    if (!suspect) continue;
    for (size_t k = i; k < i + 8; k++) {
      unsigned char c = (unsigned char)s[k];
      if (!((c >= 0x20 && c < 0x7f) || c == '\t')) return false;
    }
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 0x20 && c < 0x7f) || c == '\t')) return false;
  }
  return true;
}

typedef struct {
  const char *p;
  size_t n;
} slice;

/* One step of SERVER_NAME/SERVER_PORT (docs/modules.md §Environment): split at the first ':' (after
 * a bracketed IPv6 literal); a non-empty left part replaces the host, a non-empty right part the
 * port. */
static void apply_hostport(const char *s, size_t n, slice *host, slice *port) {
  size_t split = n;
  if (n > 0 && s[0] == '[') {
    const char *rb = memchr(s, ']', n);
    if (rb) {
      size_t after = (size_t)(rb - s) + 1;
      split = (after < n && s[after] == ':') ? after : n;
      if (after < n && s[after] != ':') split = n; /* junk after ']': take it whole */
    }
  } else {
    const char *c = memchr(s, ':', n);
    if (c) split = (size_t)(c - s);
  }
  if (split > 0) {
    host->p = s;
    host->n = split;
  }
  if (split < n && n - split - 1 > 0) {
    port->p = s + split + 1;
    port->n = n - split - 1;
  }
}

static const srv_header *find_header(const srv_request *req, const char *name) {
  const srv_header *found = NULL;
  size_t nl = strlen(name);
  for (size_t i = 0; i < req->n_headers; i++) {
    const srv_header *h = &req->headers[i];
    if (h->name_len == nl && strncasecmp(h->name, name, nl) == 0) found = h;
  }
  return found;
}

/* `hh` is the last Host header (NULL if none). */
static void server_name_port(const srv_request *req, const srv_header *hh, slice *host,
                             slice *port) {
  host->p = "localhost";
  host->n = 9;
  port->p = "80";
  port->n = 2;
  if (req->authority && req->authority_len) {
    slice h = {0}, pt = {0};
    apply_hostport(req->authority, req->authority_len, &h, &pt);
    if (h.n) *host = h;
    if (pt.n) *port = pt;
  }
  if (req->default_host && req->default_host[0])
    apply_hostport(req->default_host, strlen(req->default_host), host, port);
  if (hh && visible_ascii(hh->value, hh->value_len))
    apply_hostport(hh->value, hh->value_len, host, port);
}

static void copy_trunc(char *dst, size_t cap, slice s) {
  if (!cap) return;
  size_t n = s.n < cap - 1 ? s.n : cap - 1;
  memcpy(dst, s.p, n);
  dst[n] = 0;
}

void srv_cgi_server_name_port(const srv_request *req, char *name, size_t namecap, char *port,
                              size_t portcap) {
  slice h, p;
  server_name_port(req, find_header(req, "host"), &h, &p);
  copy_trunc(name, namecap, h);
  copy_trunc(port, portcap, p);
}

/* ---- Environment ------------------------------------------------------------------ */

/* Writes strings straight into a block sized beforehand by env_scan; `vec`
 * (may be NULL) receives the start of each string. */
typedef struct {
  char *p;
  char **vec;
  size_t count;
} wr;

static inline void w_begin(wr *w) {
  if (w->vec) w->vec[w->count] = w->p;
  w->count++;
}
static inline void w_put(wr *w, const void *s, size_t n) {
  memcpy(w->p, s, n);
  w->p += n;
}
static inline void w_putc(wr *w, char c) { *w->p++ = c; }
static inline void w_end(wr *w) { *w->p++ = 0; }
/* A whole NAME=value string; `lit` is a string literal ending in '='. */
#define W_VAR(w, lit, v, n)                                                                        \
  do {                                                                                             \
    w_begin(w);                                                                                    \
    w_put(w, lit, sizeof lit - 1);                                                                 \
    w_put(w, v, n);                                                                                \
    w_end(w);                                                                                      \
  } while (0)

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s (a stray '%' stays) into out (n bytes suffice);
 * returns the decoded length. "%00" stays encoded: a NUL would end the
 * environment string (the server refuses such paths before this). */
static size_t pct_decode(const char *s, size_t n, unsigned char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int h, l;
    if (s[i] == '%' && n - i > 2 && (h = hexval(s[i + 1])) >= 0 && (l = hexval(s[i + 2])) >= 0 &&
        (h | l) != 0) {
      out[o++] = (unsigned char)(h * 16 + l);
      i += 2;
    } else {
      out[o++] = (unsigned char)s[i];
    }
  }
  return o;
}

bool srv_cgi_path_info_has_nul(const srv_route_match *m) {
  if (!m || !m->raw_path_info) return false;
  const char *p = m->raw_path_info, *end = p + m->raw_path_info_len;
  while (end - p >= 3 && (p = memchr(p, '%', (size_t)(end - p - 2))) != NULL) {
    if (p[1] == '0' && p[2] == '0') return true;
    p++;
  }
  return false;
}

/* Appends bytes as UTF-8, each maximal invalid subpart replaced by U+FFFD
 * (what Rust's from_utf8_lossy does). */
static void add_utf8_lossy(wr *w, const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      w_putc(w, (char)c);
      i++;
      continue;
    }
    uint8_t lo, hi;
    size_t len = base_utf8_lead(c, &lo, &hi);
    size_t k = 1;
    if (len) {
      while (k < len && i + k < n) {
        unsigned char d = s[i + k];
        unsigned char l2 = k == 1 ? lo : 0x80, h2 = k == 1 ? hi : 0xBF;
        if (d < l2 || d > h2) break;
        k++;
      }
    }
    if (len && k == len) {
      w_put(w, s + i, len);
    } else {
      w_put(w, "\xEF\xBF\xBD", 3);
    }
    i += k;
  }
}

/* Header name character -> env spelling: uppercase, '-' -> '_'; 0 for a
 * byte that is no RFC 9110 token character (a header name holding one
 * cannot be an environment variable name: it might hold '=' or NUL), and
 * for '_': "X_Under" would become HTTP_X_UNDER, the variable of "X-Under",
 * so a client could pose as a header that a proxy in front sets (Apache and
 * nginx drop such headers for CGI too). A header with a 0 byte is dropped
 * silently (the server has no debug log level). */
static const char ENVCH[256] = {
    ['!'] = '!', ['#'] = '#', ['$'] = '$', ['%'] = '%', ['&'] = '&', ['\''] = '\'', ['*'] = '*',
    ['+'] = '+', ['-'] = '_', ['.'] = '.', ['^'] = '^', ['`'] = '`', ['|'] = '|',   ['~'] = '~',
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5',   ['6'] = '6',
    ['7'] = '7', ['8'] = '8', ['9'] = '9', ['A'] = 'A', ['B'] = 'B', ['C'] = 'C',   ['D'] = 'D',
    ['E'] = 'E', ['F'] = 'F', ['G'] = 'G', ['H'] = 'H', ['I'] = 'I', ['J'] = 'J',   ['K'] = 'K',
    ['L'] = 'L', ['M'] = 'M', ['N'] = 'N', ['O'] = 'O', ['P'] = 'P', ['Q'] = 'Q',   ['R'] = 'R',
    ['S'] = 'S', ['T'] = 'T', ['U'] = 'U', ['V'] = 'V', ['W'] = 'W', ['X'] = 'X',   ['Y'] = 'Y',
    ['Z'] = 'Z', ['a'] = 'A', ['b'] = 'B', ['c'] = 'C', ['d'] = 'D', ['e'] = 'E',   ['f'] = 'F',
    ['g'] = 'G', ['h'] = 'H', ['i'] = 'I', ['j'] = 'J', ['k'] = 'K', ['l'] = 'L',   ['m'] = 'M',
    ['n'] = 'N', ['o'] = 'O', ['p'] = 'P', ['q'] = 'Q', ['r'] = 'R', ['s'] = 'S',   ['t'] = 'T',
    ['u'] = 'U', ['v'] = 'V', ['w'] = 'W', ['x'] = 'X', ['y'] = 'Y', ['z'] = 'Z',
};

/* The env spelling of any byte (uppercase, '-' -> '_'), token or not: what
 * user variable names are compared and hashed with. */
static char hx(char c) {
  if (c >= 'a' && c <= 'z') return (char)(c - 32);
  if (c == '-') return '_';
  return c;
}

static uint32_t env_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)hx(s[i])) * 16777619u;
  return h;
}

static const char *const CGI_NAMES[] = {
    "AUTH_TYPE",       "CONTENT_LENGTH", "CONTENT_TYPE",    "GATEWAY_INTERFACE", "PATH_INFO",
    "PATH_TRANSLATED", "QUERY_STRING",   "REMOTE_ADDR",     "REMOTE_HOST",       "REMOTE_USER",
    "REQUEST_METHOD",  "SCRIPT_NAME",    "SERVER_NAME",     "SERVER_PORT",       "SERVER_PROTOCOL",
    "SERVER_SOFTWARE", "X_FULL_URL",     "X_MATCHED_ROUTE", "X_RAW_PATH_INFO",
};

/* `n` is strlen(s). */
static bool is_cgi_name(const char *s, size_t n) {
  if (n < 9 || n > 17 || !strchr("ACGPQRSX", s[0])) return false; /* CGI_NAMES' lengths */
  for (size_t i = 0; i < sizeof CGI_NAMES / sizeof *CGI_NAMES; i++)
    if (CGI_NAMES[i][0] == s[0] && strcmp(s, CGI_NAMES[i]) == 0) return true;
  return false;
}

/* What one pass over the headers learns, so nothing is scanned twice. */
typedef struct {
  uint32_t hash; /* env_hash of the name */
  uint8_t emit;  /* an HTTP_* variable comes from this header: it is a
                    token without '_', not Authorization/Connection, and
                    no earlier header has the same env name */
  int32_t next;  /* the next header with the same env name, or -1 */
  int32_t last;  /* on the first one: the last of them */
} hinfo;

typedef struct {
  hinfo *hi;     /* one per header */
  int32_t *slot; /* open addressing: header index of each env name, or -1 */
  size_t mask;
  const srv_header *host, *ctype;            /* last Host / Content-Type, or NULL */
  slice sname, sport;                        /* SERVER_NAME / SERVER_PORT */
  size_t bytes, count;                       /* upper bounds for the block */
  slice method, protocol, ip, script, route; /* lengths measured once */
  void *heap;                                /* hi + slot when they did not fit the stack */
} env_scan;

/* Is header name `hn` (env-spelled) equal to env suffix `s` (as is)? */
static bool hdr_env_eq(const char *hn, size_t hl, const char *s, size_t sl) {
  if (hl != sl) return false;
  for (size_t i = 0; i < hl; i++)
    if (ENVCH[(unsigned char)hn[i]] != s[i]) return false;
  return true;
}

static bool hdr_same(const srv_header *a, const srv_header *b) {
  if (a->name_len != b->name_len) return false;
  for (size_t i = 0; i < a->name_len; i++)
    if (ENVCH[(unsigned char)a->name[i]] != ENVCH[(unsigned char)b->name[i]]) return false;
  return true;
}

/* Up to 64 headers (the common case by far) need no allocation: their
 * table has at most 256 slots (a power of two above twice the count). */
#define SCAN_STACK_HEADERS 64
#define SCAN_STACK_SLOTS 256

/* Scans the headers once (env names, duplicates, Host, Content-Type) and
 * bounds the environment's bytes and strings, so that it is written in one
 * pass into one block. Every byte of PATH_INFO may grow into a 3-byte
 * U+FFFD. Returns 0, or -1 on allocation failure or absurd sizes. */
static int env_scan_init(env_scan *s, const srv_request *req, const srv_route_match *m,
                         const srv_env_list *user, hinfo *hstack, int32_t *sstack) {
  size_t nh = req->n_headers;
  size_t cap = 16;
  while (cap < nh * 2 + 1) cap *= 2;
  s->heap = NULL;
  if (nh <= SCAN_STACK_HEADERS) {
    s->hi = hstack;
    s->slot = sstack;
  } else {
    if (nh > SIZE_MAX / 64) return -1;
    s->heap = malloc(nh * sizeof *s->hi + cap * sizeof *s->slot);
    if (!s->heap) return -1;
    s->slot = s->heap;
    s->hi = (hinfo *)(s->slot + cap);
  }
  s->mask = cap - 1;
  memset(s->slot, 0xff, cap * sizeof *s->slot);
  s->host = s->ctype = NULL;

  size_t rpin = m && m->raw_path_info ? m->raw_path_info_len : 0;
  size_t b = 512; /* every fixed name, '=', NUL and constant value */
  b += 2 * 3 * rpin + rpin;
  b += req->path_len + 2 * (req->query ? req->query_len : 0);
  s->method = (slice){req->method ? req->method : "", req->method ? strlen(req->method) : 0};
  s->protocol =
      req->protocol ? (slice){req->protocol, strlen(req->protocol)} : (slice){"HTTP/1.1", 8};
  s->ip =
      (slice){req->client_ip ? req->client_ip : "", req->client_ip ? strlen(req->client_ip) : 0};
  s->script = s->route = (slice){"", 0};
  if (m && m->route) {
    s->script = (slice){m->route->script_name, strlen(m->route->script_name)};
    s->route = (slice){m->route->text, strlen(m->route->text)};
  }
  b += s->method.n + s->protocol.n + 2 * s->ip.n + s->script.n + s->route.n;
  size_t c = 19;

  for (size_t i = 0; i < nh; i++) {
    const srv_header *h = &req->headers[i];
    hinfo *hi = &s->hi[i];
    size_t vl = h->value_len < 13 ? 13 : h->value_len;
    /* HTTP_NAME=VALUE\0, CONTENT_TYPE may repeat a value, and a repeated
     * name adds only its separator and value */
    if (h->name_len > SIZE_MAX / 4 || vl > SIZE_MAX / 4) goto fail;
    b += 7 + h->name_len + 2 * vl;
    c++;
    uint32_t hash = 2166136261u;
    const unsigned char *nm = (const unsigned char *)h->name;
    size_t nl = h->name_len;
    unsigned char bad = nl == 0;
    for (size_t k = 0; k < nl; k++) {
      unsigned char e = (unsigned char)ENVCH[nm[k]];
      bad |= e == 0;
      hash = (hash ^ e) * 16777619u;
    }
    bool token = !bad;
    hi->hash = hash;
    hi->emit = 0;
    if (h->name_len == 4 && strncasecmp(h->name, "host", 4) == 0) s->host = h;
    else if (h->name_len == 12 && strncasecmp(h->name, "content-type", 12) == 0) s->ctype = h;
    if (!token || (h->name_len == 13 && strncasecmp(h->name, "authorization", 13) == 0) ||
        (h->name_len == 10 && strncasecmp(h->name, "connection", 10) == 0))
      continue;
    hi->emit = 1;
    hi->next = -1;
    hi->last = (int32_t)i;
    for (size_t k = hash & s->mask;; k = (k + 1) & s->mask) {
      int32_t j = s->slot[k];
      if (j < 0) {
        s->slot[k] = (int32_t)i;
        break;
      }
      if (s->hi[j].hash == hash && hdr_same(&req->headers[j], h)) {
        /* A repeated name: one variable, the values joined in order
         * (RFC 3875 4.1.18), written where the first one is. */
        hi->emit = 0;
        s->hi[s->hi[j].last].next = (int32_t)i;
        s->hi[j].last = (int32_t)i;
        break;
      }
    }
  }
  server_name_port(req, s->host, &s->sname, &s->sport);
  b += 2 * (s->sname.n + s->sport.n);
  if (user) {
    for (size_t i = 0; i < user->n; i++)
      b += strlen(user->items[i].name) + strlen(user->items[i].value) + 2;
    c += user->n;
  }
  s->bytes = b;
  s->count = c;
  return 0;
fail:
  free(s->heap);
  s->heap = NULL;
  return -1;
}

/* Is HTTP_<suffix> the env name of a header that gives an HTTP_* variable? */
static bool scan_has_env(const env_scan *s, const srv_request *req, const char *suffix, size_t sl) {
  uint32_t hash = env_hash(suffix, sl);
  for (size_t k = hash & s->mask;; k = (k + 1) & s->mask) {
    int32_t j = s->slot[k];
    if (j < 0) return false;
    if (s->hi[j].hash == hash &&
        hdr_env_eq(req->headers[j].name, req->headers[j].name_len, suffix, sl))
      return true;
  }
}

static void header_value(wr *w, const srv_header *h) {
  if (visible_ascii(h->value, h->value_len)) w_put(w, h->value, h->value_len);
  else w_put(w, "CORRUPT VALUE", 13);
}

/* The value of header i and of every later one with its env name, joined
 * with ", " (RFC 9110 5.3), or "; " for Cookie (RFC 6265 5.4); CORRUPT
 * VALUE if any of them is not visible ASCII. env_scan_init's bound covers
 * it: each header's share there is at least 2 x max(13, its length). */
static void header_values(wr *w, const srv_request *req, const env_scan *s, size_t i) {
  const srv_header *h = &req->headers[i];
  if (s->hi[i].next < 0) {
    header_value(w, h);
    return;
  }
  for (int32_t j = (int32_t)i; j >= 0; j = s->hi[j].next) {
    if (!visible_ascii(req->headers[j].value, req->headers[j].value_len)) {
      w_put(w, "CORRUPT VALUE", 13);
      return;
    }
  }
  bool cookie = h->name_len == 6 && strncasecmp(h->name, "cookie", 6) == 0;
  for (int32_t j = (int32_t)i; j >= 0; j = s->hi[j].next) {
    if (j != (int32_t)i) w_put(w, cookie ? "; " : ", ", 2);
    w_put(w, req->headers[j].value, req->headers[j].value_len);
  }
}

static void put_str(wr *w, const char *s) {
  if (s) w_put(w, s, strlen(s));
}

/* Writes the environment (docs/modules.md §Environment), at most s->bytes bytes and s->count
 * strings. `scratch` holds at least raw_path_info_len bytes. */
static void build_env(wr *w, const srv_request *req, const srv_route_match *m,
                      const srv_env_list *user, const env_scan *s, unsigned char *scratch) {
  const char *rpi = m && m->raw_path_info ? m->raw_path_info : "";
  size_t rpin = m && m->raw_path_info ? m->raw_path_info_len : 0;
  size_t dn = pct_decode(rpi, rpin, scratch);

  W_VAR(w, "AUTH_TYPE=", "", 0);
  char num[32];
  size_t nn = sizeof num;
  uint64_t bl = req->body_len;
  do {
    num[--nn] = (char)('0' + bl % 10);
    bl /= 10;
  } while (bl);
  W_VAR(w, "CONTENT_LENGTH=", num + nn, sizeof num - nn);
  w_begin(w);
  w_put(w, "CONTENT_TYPE=", 13);
  if (s->ctype) header_value(w, s->ctype);
  w_end(w);
  W_VAR(w, "GATEWAY_INTERFACE=", "CGI/1.1", 7);
  w_begin(w);
  w_put(w, "PATH_INFO=", 10);
  char *pi = w->p;
  add_utf8_lossy(w, scratch, dn);
  size_t pin = (size_t)(w->p - pi);
  w_end(w);
  w_begin(w);
  w_put(w, "PATH_TRANSLATED=", 16);
  memmove(w->p, pi, pin);
  w->p += pin;
  w_end(w);
  W_VAR(w, "QUERY_STRING=", req->query ? req->query : "", req->query ? req->query_len : 0);
  W_VAR(w, "REMOTE_ADDR=", s->ip.p, s->ip.n);
  W_VAR(w, "REMOTE_HOST=", s->ip.p, s->ip.n);
  W_VAR(w, "REMOTE_USER=", "", 0);
  W_VAR(w, "REQUEST_METHOD=", s->method.p, s->method.n);
  W_VAR(w, "SCRIPT_NAME=", s->script.p, s->script.n);
  W_VAR(w, "SERVER_NAME=", s->sname.p, s->sname.n);
  W_VAR(w, "SERVER_PORT=", s->sport.p, s->sport.n);
  W_VAR(w, "SERVER_PROTOCOL=", s->protocol.p, s->protocol.n);
  W_VAR(w, "SERVER_SOFTWARE=", "WAGI/1", 6);
  w_begin(w);
  w_put(w, "X_FULL_URL=", 11);
  w_put(w, req->tls ? "https://" : "http://", req->tls ? 8 : 7);
  w_put(w, s->sname.p, s->sname.n);
  w_putc(w, ':');
  w_put(w, s->sport.p, s->sport.n);
  w_put(w, req->path, req->path_len);
  if (req->query) {
    w_putc(w, '?');
    w_put(w, req->query, req->query_len);
  }
  w_end(w);
  W_VAR(w, "X_MATCHED_ROUTE=", s->route.p, s->route.n);
  W_VAR(w, "X_RAW_PATH_INFO=", rpi, rpin);

  for (size_t i = 0; i < req->n_headers; i++) {
    if (!s->hi[i].emit) continue;
    const srv_header *h = &req->headers[i];
    w_begin(w);
    w_put(w, "HTTP_", 5);
    /* Locals: stores through w->p would otherwise reload h each byte. */
    const unsigned char *nm = (const unsigned char *)h->name;
    size_t nl = h->name_len;
    char *d = w->p;
    for (size_t c = 0; c < nl; c++) d[c] = ENVCH[nm[c]];
    w->p = d + nl;
    w_putc(w, '=');
    header_values(w, req, s, i);
    w_end(w);
  }

  if (user) {
    for (size_t i = 0; i < user->n; i++) {
      const srv_env_var *v = &user->items[i];
      size_t nl = strlen(v->name);
      if (!nl || memchr(v->name, '=', nl)) continue;
      if (is_cgi_name(v->name, nl)) continue;
      if (nl >= 5 && memcmp(v->name, "HTTP_", 5) == 0 && scan_has_env(s, req, v->name + 5, nl - 5))
        continue;
      w_begin(w);
      w_put(w, v->name, nl);
      w_putc(w, '=');
      put_str(w, v->value);
      w_end(w);
    }
  }
}

/* Builds the environment into `dst` (s->bytes bytes; vec: s->count + 1
 * pointers or NULL). Returns the string count, or -1 on allocation
 * failure (a long PATH_INFO needs a scratch buffer). */
static long env_write(const srv_request *req, const srv_route_match *m, const srv_env_list *user,
                      const env_scan *s, char *dst, char **vec, size_t *bytes) {
  size_t rpin = m && m->raw_path_info ? m->raw_path_info_len : 0;
  unsigned char small[512];
  unsigned char *scratch = rpin <= sizeof small ? small : malloc(rpin);
  if (!scratch) return -1;
  wr w = {.p = dst, .vec = vec};
  build_env(&w, req, m, user, s, scratch);
  if (scratch != small) free(scratch);
  if (vec) vec[w.count] = NULL;
  if (bytes) *bytes = (size_t)(w.p - dst);
  return (long)w.count;
}

char **srv_cgi_env(const srv_request *req, const srv_route_match *m, const srv_env_list *user,
                   size_t *envc) {
  hinfo hstack[SCAN_STACK_HEADERS];
  int32_t sstack[SCAN_STACK_SLOTS];
  env_scan s;
  if (env_scan_init(&s, req, m, user, hstack, sstack)) return NULL;
  size_t ptrs = (s.count + 1) * sizeof(char *);
  char **v = s.bytes <= SIZE_MAX - ptrs ? malloc(ptrs + s.bytes) : NULL;
  if (v) {
    long n = env_write(req, m, user, &s, (char *)(v + s.count + 1), v, NULL);
    if (n < 0) {
      free(v);
      v = NULL;
    } else if (envc) {
      *envc = (size_t)n;
    }
  }
  free(s.heap);
  return v;
}

/* ---- Packed argv + env ------------------------------------------------------------- */

/* argv strings back to back into dst (NULL: count only); returns the
 * bytes, *argc the strings. */
static size_t argv_pack(const srv_request *req, const char *tpl, char *dst, size_t *argc) {
  vbuild b = {.str = dst};
  if (tpl) argv_template(&b, req, tpl);
  else argv_default(&b, req);
  *argc = b.count;
  return b.bytes;
}

int srv_cgi_pack(const srv_request *req, const char *argv_template, const srv_route_match *m,
                 const srv_env_list *user, void *buf, size_t cap, srv_cgi_packed *out) {
  hinfo hstack[SCAN_STACK_HEADERS];
  int32_t sstack[SCAN_STACK_SLOTS];
  env_scan s;
  memset(out, 0, sizeof *out);
  size_t argc;
  size_t abytes = argv_pack(req, argv_template, NULL, &argc);
  if (env_scan_init(&s, req, m, user, hstack, sstack)) return -1;
  char *dst = buf;
  if (abytes > SIZE_MAX - s.bytes || !buf || cap < abytes + s.bytes) {
    dst = abytes <= SIZE_MAX - s.bytes ? malloc(abytes + s.bytes) : NULL;
    if (!dst) {
      free(s.heap);
      return -1;
    }
    out->heap = dst;
  }
  argv_pack(req, argv_template, dst, &argc);
  size_t ebytes;
  long envc = env_write(req, m, user, &s, dst + abytes, NULL, &ebytes);
  free(s.heap);
  if (envc < 0) {
    free(out->heap);
    out->heap = NULL;
    return -1;
  }
  out->argv = dst;
  out->argv_bytes = abytes;
  out->argc = argc;
  out->env = dst + abytes;
  out->env_bytes = ebytes;
  out->envc = (size_t)envc;
  return 0;
}

void srv_cgi_packed_free(srv_cgi_packed *p) {
  if (!p) return;
  free(p->heap);
  memset(p, 0, sizeof *p);
}
