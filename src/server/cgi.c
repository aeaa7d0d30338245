/* cgi.c — argv, CGI environment and user variables of a WAGI guest
 * (WAGI.md §1, §5.2-5.4). See cgi.h. */
#include "cgi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Largest --env-file accepted: a config file, not a data set. */
#define ENV_FILE_MAX ((size_t)16 << 20)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

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

int srv_env_list_set(srv_env_list *l, const char *name, size_t name_len,
                     const char *value, size_t value_len) {
  char *v = malloc(value_len + 1);
  if (!v) return -1;
  memcpy(v, value, value_len);
  v[value_len] = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (strlen(l->items[i].name) == name_len &&
        memcmp(l->items[i].name, name, name_len) == 0) {
      free(l->items[i].value);
      l->items[i].value = v;
      return 0;
    }
  }
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    srv_env_var *ni = realloc(l->items, nc * sizeof *ni);
    if (!ni) { free(v); return -1; }
    l->items = ni;
    l->cap = nc;
  }
  char *nm = malloc(name_len + 1);
  if (!nm) { free(v); return -1; }
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
    set_err(err, errlen, "invalid --env '%s': expected NAME=VALUE (no '=' found)", arg);
    return -1;
  }
  if (eq == arg) {
    set_err(err, errlen, "invalid --env '%s': the variable name is empty", arg);
    return -1;
  }
  const char *v = eq + 1;
  size_t vn = strlen(v);
  if (vn >= 2 && ((v[0] == '"' && v[vn - 1] == '"') || (v[0] == '\'' && v[vn - 1] == '\''))) {
    v++;
    vn -= 2;
  }
  if (srv_env_list_set(l, arg, (size_t)(eq - arg), v, vn)) {
    set_err(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

static bool sp(char c) { return c == ' ' || c == '\t'; }

/* Growable byte buffer for decoded values. */
typedef struct { char *p; size_t n, cap; } sbuf;

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

int srv_env_parse_text(const char *text, size_t len, const char *name,
                       srv_env_list *l, char *err, size_t errlen) {
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
    if (s == le || *s == '#') { p = next; continue; }
    if ((size_t)(le - s) > 7 && memcmp(s, "export", 6) == 0 && sp(s[6])) {
      s += 7;
      while (s < le && sp(*s)) s++;
    }
    const char *eq = memchr(s, '=', (size_t)(le - s));
    if (!eq) {
      set_err(err, errlen, "%s:%zu: expected NAME=VALUE, found '%.*s'", name, lineno,
              (int)((le - s) > 100 ? 100 : (le - s)), s);
      goto fail;
    }
    const char *ne = eq;
    while (ne > s && sp(ne[-1])) ne--;
    if (ne == s) {
      set_err(err, errlen, "%s:%zu: the variable name is empty", name, lineno);
      goto fail;
    }
    for (const char *c = s; c < ne; c++) {
      if (sp(*c) || *c == 0) {
        set_err(err, errlen, "%s:%zu: invalid variable name '%.*s'", name, lineno,
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
        if (*c == q) { closed = true; break; }
        if (q == '"' && *c == '\\' && c + 1 < end) {
          char e = c[1], o;
          switch (e) {
          case 'n': o = '\n'; break;
          case 't': o = '\t'; break;
          case 'r': o = '\r'; break;
          case '\\': case '"': case '$': case '\'': o = e; break;
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
        set_err(err, errlen, "%s:%zu: unterminated %s quote in the value of '%.*s'",
                name, lineno, q == '"' ? "double" : "single", (int)(ne - s), s);
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
        set_err(err, errlen, "%s:%zu: unexpected text after the quoted value of '%.*s'",
                name, lineno, (int)(ne - s), s);
        goto fail;
      }
    } else {
      const char *ve = le;
      for (const char *c = v; c < le; c++) {
        if (*c == '#' && (c == v || sp(c[-1]))) { ve = c; break; }
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
  set_err(err, errlen, "%s: out of memory", name);
fail:
  free(b.p);
  return -1;
}

int srv_env_parse_file(const char *path, srv_env_list *l, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_err(err, errlen, "cannot open env file '%s': %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    set_err(err, errlen, "env file '%s' is not a regular file", path);
    fclose(f);
    return -1;
  }
  if ((uint64_t)st.st_size > ENV_FILE_MAX) {
    set_err(err, errlen, "env file '%s' is too large (%lld bytes, limit %zu)", path,
            (long long)st.st_size, ENV_FILE_MAX);
    fclose(f);
    return -1;
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  if (!buf) {
    set_err(err, errlen, "out of memory reading '%s'", path);
    fclose(f);
    return -1;
  }
  size_t got = fread(buf, 1, n, f);
  bool rerr = ferror(f);
  fclose(f);
  if (rerr) {
    set_err(err, errlen, "cannot read env file '%s'", path);
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
    for (const char *k = a; k < ae; k++) if (*k == '@') at = k;
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

/* A vector being built in two passes: pass 1 counts (buf == NULL), pass 2
 * writes into one block of pointers + strings. */
typedef struct {
  char **vec;     /* NULL in the counting pass */
  char *str;      /* next free byte for strings */
  size_t count;   /* strings so far */
  size_t bytes;   /* string bytes so far (incl. NULs) */
} vbuild;

/* Starts a string; parts are appended with vb_add and closed with vb_end. */
static void vb_begin(vbuild *b) {
  if (b->vec) b->vec[b->count] = b->str;
  b->count++;
}
static void vb_add(vbuild *b, const char *s, size_t n) {
  if (b->vec) { memcpy(b->str, s, n); b->str += n; }
  b->bytes += n;
}
static void vb_addc(vbuild *b, char c) {
  if (b->vec) *b->str++ = c;
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
      rep = req->path; repn = req->path_len; t += 14;
    } else if (strncmp(t, "${ARGS}", 7) == 0) {
      rep = req->query ? req->query : ""; repn = req->query ? req->query_len : 0;
      args = true; t += 7;
    } else {
      rep = t; repn = 1; t++;
    }
    for (size_t i = 0; i < repn; i++) {
      char c = rep[i];
      if (args && c == '&') c = ' ';
      if (ws(c)) {
        if (in_word) { vb_end(b); in_word = false; }
      } else {
        if (!in_word) { vb_begin(b); in_word = true; }
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

static bool visible_ascii(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 0x20 && c < 0x7f) || c == '\t')) return false;
  }
  return true;
}

typedef struct { const char *p; size_t n; } slice;

/* "Apply" of §5.4: split at the first ':' (after a bracketed IPv6 literal);
 * a non-empty left part replaces the host, a non-empty right part the port. */
static void apply_hostport(const char *s, size_t n, slice *host, slice *port) {
  size_t split = n;
  if (n > 0 && s[0] == '[') {
    const char *rb = memchr(s, ']', n);
    if (rb) {
      size_t after = (size_t)(rb - s) + 1;
      split = (after < n && s[after] == ':') ? after : n;
      if (after < n && s[after] != ':') split = n;   /* junk after ']': take it whole */
    }
  } else {
    const char *c = memchr(s, ':', n);
    if (c) split = (size_t)(c - s);
  }
  if (split > 0) { host->p = s; host->n = split; }
  if (split < n && n - split - 1 > 0) { port->p = s + split + 1; port->n = n - split - 1; }
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

static void server_name_port(const srv_request *req, slice *host, slice *port) {
  host->p = "localhost"; host->n = 9;
  port->p = "80"; port->n = 2;
  if (req->authority && req->authority_len) {
    slice h = {0}, pt = {0};
    apply_hostport(req->authority, req->authority_len, &h, &pt);
    if (h.n) *host = h;
    if (pt.n) *port = pt;
  }
  if (req->default_host && req->default_host[0])
    apply_hostport(req->default_host, strlen(req->default_host), host, port);
  const srv_header *hh = find_header(req, "host");
  if (hh && visible_ascii(hh->value, hh->value_len))
    apply_hostport(hh->value, hh->value_len, host, port);
}

static void copy_trunc(char *dst, size_t cap, slice s) {
  if (!cap) return;
  size_t n = s.n < cap - 1 ? s.n : cap - 1;
  memcpy(dst, s.p, n);
  dst[n] = 0;
}

void srv_cgi_server_name_port(const srv_request *req, char *name, size_t namecap,
                              char *port, size_t portcap) {
  slice h, p;
  server_name_port(req, &h, &p);
  copy_trunc(name, namecap, h);
  copy_trunc(port, portcap, p);
}

/* ---- Environment ------------------------------------------------------------------ */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s (a stray '%' stays) into out (n bytes suffice);
 * returns the decoded length. */
static size_t pct_decode(const char *s, size_t n, unsigned char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int h, l;
    if (s[i] == '%' && n - i > 2 && (h = hexval(s[i + 1])) >= 0 &&
        (l = hexval(s[i + 2])) >= 0) {
      out[o++] = (unsigned char)(h * 16 + l);
      i += 2;
    } else {
      out[o++] = (unsigned char)s[i];
    }
  }
  return o;
}

/* Appends bytes as UTF-8, each maximal invalid subpart replaced by U+FFFD
 * (what Rust's from_utf8_lossy does). */
static void add_utf8_lossy(vbuild *b, const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { vb_addc(b, (char)c); i++; continue; }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
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
      vb_add(b, (const char *)s + i, len);
    } else {
      vb_add(b, "\xEF\xBF\xBD", 3);
    }
    i += k;
  }
}

/* Header name -> env spelling: uppercase, '-' -> '_'. */
static char hx(char c) {
  if (c >= 'a' && c <= 'z') return (char)(c - 32);
  if (c == '-') return '_';
  return c;
}

/* RFC 9110 token characters: a header name made of anything else cannot be
 * an environment variable name (it might hold '=' or NUL). */
static const uint8_t TCHAR[256] = {
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
  ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
  ['8'] = 1, ['9'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
  ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
  ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
  ['Y'] = 1, ['Z'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
  ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
  ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
  ['y'] = 1, ['z'] = 1,
};

static uint32_t hdr_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)hx(s[i])) * 16777619u;
  return h;
}

/* Is header name `hn` (env-spelled) equal to env suffix `s`? */
static bool hdr_env_eq(const char *hn, size_t hl, const char *s, size_t sl) {
  if (hl != sl) return false;
  for (size_t i = 0; i < hl; i++)
    if (hx(hn[i]) != s[i]) return false;
  return true;
}

static bool hdr_same(const char *a, size_t al, const char *b, size_t bl) {
  if (al != bl) return false;
  for (size_t i = 0; i < al; i++)
    if (hx(a[i]) != hx(b[i])) return false;
  return true;
}

static const char *const CGI_NAMES[] = {
  "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO",
  "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_USER",
  "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
  "SERVER_SOFTWARE", "X_FULL_URL", "X_MATCHED_ROUTE", "X_RAW_PATH_INFO",
};

static bool is_cgi_name(const char *s) {
  if (!strchr("ACGPQRSX", s[0])) return false;   /* first letters of CGI_NAMES */
  for (size_t i = 0; i < sizeof CGI_NAMES / sizeof *CGI_NAMES; i++)
    if (strcmp(s, CGI_NAMES[i]) == 0) return true;
  return false;
}

static bool skipped_header(const srv_header *h) {
  if (h->name_len == 0) return true;
  for (size_t i = 0; i < h->name_len; i++)
    if (!TCHAR[(unsigned char)h->name[i]]) return true;   /* cannot be an env name */
  return (h->name_len == 13 && strncasecmp(h->name, "authorization", 13) == 0) ||
         (h->name_len == 10 && strncasecmp(h->name, "connection", 10) == 0);
}

static void var(vbuild *b, const char *name, const char *v, size_t n) {
  vb_begin(b);
  vb_add(b, name, strlen(name));
  vb_addc(b, '=');
  vb_add(b, v, n);
  vb_end(b);
}
static void var_s(vbuild *b, const char *name, const char *v) {
  var(b, name, v, v ? strlen(v) : 0);
}

static void header_value(vbuild *b, const srv_header *h) {
  if (visible_ascii(h->value, h->value_len)) vb_add(b, h->value, h->value_len);
  else vb_add(b, "CORRUPT VALUE", 13);
}

/* Which header index is the last of its env name: a small open-addressing
 * table, so a request with thousands of headers stays linear. */
typedef struct {
  int32_t *slot;   /* header index or -1 */
  size_t mask;
} hset;

static int hset_init(hset *s, const srv_request *req, int32_t *stack, size_t stack_n) {
  size_t cap = 16;
  while (cap < req->n_headers * 2 + 1) cap *= 2;
  if (cap <= stack_n) s->slot = stack;
  else if (!(s->slot = malloc(cap * sizeof *s->slot))) return -1;
  s->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) s->slot[i] = -1;
  for (size_t i = 0; i < req->n_headers; i++) {
    const srv_header *h = &req->headers[i];
    if (skipped_header(h)) continue;
    size_t k = hdr_hash(h->name, h->name_len) & s->mask;
    for (;;) {
      int32_t j = s->slot[k];
      if (j < 0 || hdr_same(req->headers[j].name, req->headers[j].name_len, h->name,
                            h->name_len)) {
        s->slot[k] = (int32_t)i;
        break;
      }
      k = (k + 1) & s->mask;
    }
  }
  return 0;
}

/* Index of the header whose env spelling is HTTP_<suffix>, or -1. */
static int32_t hset_find_env(const hset *s, const srv_request *req, const char *suffix) {
  size_t sl = strlen(suffix);
  size_t k = hdr_hash(suffix, sl) & s->mask;
  for (;;) {
    int32_t j = s->slot[k];
    if (j < 0) return -1;
    if (hdr_env_eq(req->headers[j].name, req->headers[j].name_len, suffix, sl)) return j;
    k = (k + 1) & s->mask;
  }
}

static void build_env(vbuild *b, const srv_request *req, const srv_route_match *m,
                      const srv_env_list *user, const hset *hs, unsigned char *scratch) {
  char num[32];
  slice host, port;
  server_name_port(req, &host, &port);
  const char *rpi = m && m->raw_path_info ? m->raw_path_info : "";
  size_t rpin = m && m->raw_path_info ? m->raw_path_info_len : 0;
  size_t dn = pct_decode(rpi, rpin, scratch);

  var_s(b, "AUTH_TYPE", "");
  size_t nn = sizeof num;
  uint64_t bl = req->body_len;
  do { num[--nn] = (char)('0' + bl % 10); bl /= 10; } while (bl);
  var(b, "CONTENT_LENGTH", num + nn, sizeof num - nn);
  const srv_header *ct = find_header(req, "content-type");
  vb_begin(b);
  vb_add(b, "CONTENT_TYPE=", 13);
  if (ct) header_value(b, ct);
  vb_end(b);
  var_s(b, "GATEWAY_INTERFACE", "CGI/1.1");
  static const char *const pinames[] = {"PATH_INFO=", "PATH_TRANSLATED="};
  for (int k = 0; k < 2; k++) {
    vb_begin(b);
    vb_add(b, pinames[k], strlen(pinames[k]));
    add_utf8_lossy(b, scratch, dn);
    vb_end(b);
  }
  var(b, "QUERY_STRING", req->query ? req->query : "", req->query ? req->query_len : 0);
  var_s(b, "REMOTE_ADDR", req->client_ip ? req->client_ip : "");
  var_s(b, "REMOTE_HOST", req->client_ip ? req->client_ip : "");
  var_s(b, "REMOTE_USER", "");
  var_s(b, "REQUEST_METHOD", req->method ? req->method : "");
  var_s(b, "SCRIPT_NAME", m && m->route ? m->route->script_name : "");
  var(b, "SERVER_NAME", host.p, host.n);
  var(b, "SERVER_PORT", port.p, port.n);
  var_s(b, "SERVER_PROTOCOL", req->protocol ? req->protocol : "HTTP/1.1");
  var_s(b, "SERVER_SOFTWARE", "WAGI/1");
  vb_begin(b);
  vb_add(b, "X_FULL_URL=", 11);
  vb_add(b, req->tls ? "https://" : "http://", req->tls ? 8 : 7);
  vb_add(b, host.p, host.n);
  vb_addc(b, ':');
  vb_add(b, port.p, port.n);
  vb_add(b, req->path, req->path_len);
  if (req->query) {
    vb_addc(b, '?');
    vb_add(b, req->query, req->query_len);
  }
  vb_end(b);
  var_s(b, "X_MATCHED_ROUTE", m && m->route ? m->route->text : "");
  var(b, "X_RAW_PATH_INFO", rpi, rpin);

  for (size_t i = 0; i < req->n_headers; i++) {
    const srv_header *h = &req->headers[i];
    if (skipped_header(h)) continue;
    /* Emit only the last header of each env name. */
    size_t k = hdr_hash(h->name, h->name_len) & hs->mask;
    int32_t last = -1;
    for (;;) {
      int32_t j = hs->slot[k];
      if (j < 0) break;
      if (hdr_same(req->headers[j].name, req->headers[j].name_len, h->name, h->name_len)) {
        last = j;
        break;
      }
      k = (k + 1) & hs->mask;
    }
    if (last != (int32_t)i) continue;
    vb_begin(b);
    vb_add(b, "HTTP_", 5);
    for (size_t c = 0; c < h->name_len; c++) vb_addc(b, hx(h->name[c]));
    vb_addc(b, '=');
    header_value(b, h);
    vb_end(b);
  }

  if (user) {
    for (size_t i = 0; i < user->n; i++) {
      const srv_env_var *v = &user->items[i];
      if (!v->name[0] || strchr(v->name, '=')) continue;
      if (is_cgi_name(v->name)) continue;
      if (strncmp(v->name, "HTTP_", 5) == 0 && hset_find_env(hs, req, v->name + 5) >= 0)
        continue;
      var_s(b, v->name, v->value);
    }
  }
}

/* Upper bound of the bytes and strings build_env writes, so the vector is
 * built in one pass into one allocation (a request costs one malloc here).
 * PATH_INFO may grow: every input byte can become a 3-byte U+FFFD. */
static bool env_bound(const srv_request *req, const srv_route_match *m,
                      const srv_env_list *user, size_t *bytes, size_t *count) {
  size_t rpin = m && m->raw_path_info ? m->raw_path_info_len : 0;
  slice host, port;
  server_name_port(req, &host, &port);
  size_t b = 512;   /* every fixed name, '=', NUL and constant value */
  b += 2 * 3 * rpin + rpin;
  b += 2 * (host.n + port.n);
  b += req->path_len + 2 * (req->query ? req->query_len : 0);
  b += req->method ? strlen(req->method) : 0;
  b += req->protocol ? strlen(req->protocol) : 8;
  b += req->client_ip ? 2 * strlen(req->client_ip) : 0;
  if (m && m->route) b += strlen(m->route->script_name) + m->route->text_len;
  size_t c = 19;
  for (size_t i = 0; i < req->n_headers; i++) {
    const srv_header *h = &req->headers[i];
    size_t vl = h->value_len < 13 ? 13 : h->value_len;
    /* HTTP_NAME=VALUE\0, and CONTENT_TYPE may repeat a value */
    if (h->name_len > SIZE_MAX / 4 || vl > SIZE_MAX / 4) return false;
    b += 7 + h->name_len + 2 * vl;
    c++;
  }
  if (user) {
    for (size_t i = 0; i < user->n; i++)
      b += strlen(user->items[i].name) + strlen(user->items[i].value) + 2;
    c += user->n;
  }
  *bytes = b;
  *count = c;
  return true;
}

char **srv_cgi_env(const srv_request *req, const srv_route_match *m,
                   const srv_env_list *user, size_t *envc) {
  int32_t stack[256];
  hset hs;
  size_t bytes, count;
  if (!env_bound(req, m, user, &bytes, &count)) return NULL;
  if (hset_init(&hs, req, stack, sizeof stack / sizeof *stack)) return NULL;
  size_t rpin = m && m->raw_path_info ? m->raw_path_info_len : 0;
  unsigned char sbuf_small[512];
  unsigned char *scratch = rpin <= sizeof sbuf_small ? sbuf_small : malloc(rpin);
  char **v = NULL;
  if (scratch) {
    size_t ptrs = (count + 1) * sizeof(char *);
    v = bytes <= SIZE_MAX - ptrs ? malloc(ptrs + bytes) : NULL;
    if (v) {
      vbuild b = {.vec = v, .str = (char *)(v + count + 1)};
      build_env(&b, req, m, user, &hs, scratch);
      v[b.count] = NULL;
      if (envc) *envc = b.count;
    }
    if (scratch != sbuf_small) free(scratch);
  }
  if (hs.slot != stack) free(hs.slot);
  return v;
}
