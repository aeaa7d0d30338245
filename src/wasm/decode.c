/* decode.c — WebAssembly 2.0 binary -> struct wasm_module.
 *
 * The decoder checks the binary format only: section framing and order,
 * LEB128 encodings, vector lengths, UTF-8 names, value/reference types,
 * limits, constant expressions and function body framing (size and locals).
 * Instructions inside bodies are left to validate.c and compile.c; index
 * ranges and typing rules are validate.c's business too.
 *
 * Robustness rules followed throughout:
 * - every read goes through a bounded wasm_reader; a failure sets the
 *   reader's first error and moves it to its end, so loops test r.err;
 * - every count is checked against the bytes left before anything is
 *   allocated (each item takes at least one byte), so allocations are at
 *   most a small multiple of the input size;
 * - everything the module owns, except the byte copy and the custom section
 *   table, is bump-allocated from one arena (m->arena), so a failure at any
 *   point is cleaned up by wasmi_decoded_free freeing the chunks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/utf8.h"
#include "wasm_int.h"

/* Per-function cap on declared locals: keeps frames small and rejects the
 * spec's 2^32-locals bombs before allocating anything. */
#define MAX_LOCALS 50000u

enum {
  SEC_CUSTOM = 0,
  SEC_TYPE,
  SEC_IMPORT,
  SEC_FUNCTION,
  SEC_TABLE,
  SEC_MEMORY,
  SEC_GLOBAL,
  SEC_EXPORT,
  SEC_START,
  SEC_ELEMENT,
  SEC_CODE,
  SEC_DATA,
  SEC_DATACOUNT,
  SEC_LAST = SEC_DATACOUNT
};

static const char *const section_names[] = {
    "custom", "type",  "import",  "function", "table", "memory",     "global",
    "export", "start", "element", "code",     "data",  "data count",
};

/* Required position of each known section; data count sits between
 * element and code although its id is 12. */
static const uint8_t section_rank[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};

/* Opcode names, to tell "not a constant instruction" (invalid) from "not an
 * instruction at all" (malformed) inside constant expressions. */
static const char *const op_text[256] = {
#define WASM_OP(name, code, text, kind, res, p1, p2, p3, lanes) [code] = text,
#include "opcodes.def"
};
static const char *const fc_text[256] = {
#define WASM_OP_FC(name, code, text, kind, res, p1, p2, p3, lanes) [code] = text,
#include "opcodes.def"
};
static const char *const fd_text[256] = {
#define WASM_OP_FD(name, code, text, kind, res, p1, p2, p3, lanes) [code] = text,
#include "opcodes.def"
};

typedef struct {
  wasm_module *m;
  wasm_reader r; /* bounded to the current section or body */
  const uint8_t *mod_end;
  wasm_status status; /* what a failure reports: MALFORMED unless set */
  int section;        /* id being decoded, -1 outside sections */
  uint32_t section_off;
  uint32_t func_sec_off, datacount_off; /* for checks made after the last section */
  const char *item;                     /* item being decoded ("import", ...) or NULL */
  uint32_t item_idx;
  const char *item_sub; /* e.g. "body" after "function 3" */
  size_t arena_next;    /* size of the next arena chunk */
  uint32_t func;        /* function index for err->func */
  uint32_t ndefs;       /* function section count */
  bool have_code;
  bool have_funcs, have_tables, have_mems, have_globals;
  uint32_t cap_customs;
  uint32_t cap_sections;
  const uint8_t *name_sec, *name_end;
  char detail[256];
} decoder;

/* ---- failures ------------------------------------------------------------ */

static void vfail(decoder *d, wasm_status st, const uint8_t *at, const char *fmt, va_list ap) {
  if (!d->r.err) {
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    d->r.err = d->detail;
    d->r.err_at = at ? at : d->r.p;
    d->status = st;
  }
  d->r.p = d->r.end;
}

__attribute__((format(printf, 3, 4))) static void failf(decoder *d, const uint8_t *at,
                                                        const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(d, WASM_ERR_MALFORMED, at, fmt, ap);
  va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void fail_invalid(decoder *d, const uint8_t *at,
                                                               const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(d, WASM_ERR_INVALID, at, fmt, ap);
  va_end(ap);
}

static void fail_nomem(decoder *d) {
  if (!d->r.err) {
    snprintf(d->detail, sizeof d->detail, "out of memory");
    d->r.err = d->detail;
    d->r.err_at = d->r.p;
    d->status = WASM_ERR_NOMEM;
  }
  d->r.p = d->r.end;
}

/* Adds what was being read to a bare reader error ("integer too large"). */
static void annotate(decoder *d, const char *what) {
  if (!d->r.err || d->r.err == d->detail) return;
  const char *e = d->r.err;
  if (!strcmp(e, "unexpected end")) return;
  /* The result is tested only to keep gcc's truncation warning quiet:
   * a cut detail is still a fine message. */
  if (snprintf(d->detail, sizeof d->detail, "%s (%s)", e, what) < 0) return;
  d->r.err = d->detail;
}

static uint32_t off(const decoder *d, const uint8_t *p) { return (uint32_t)(p - d->r.start); }

static size_t left(const decoder *d) { return (size_t)(d->r.end - d->r.p); }

/* ---- allocation ---------------------------------------------------------- */

/* Chunks grow from 4 KiB to 256 KiB, so a small module costs one small
 * allocation and a large one a few hundred; bigger requests get a chunk of
 * their own. */
#define ARENA_MIN 4096u
#define ARENA_MAX (256u * 1024)

struct wasm_arena_chunk {
  struct wasm_arena_chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

/* n bytes, 16-byte aligned, owned by the module's arena; NULL (and a
 * recorded failure) when out of memory. */
static void *arena_alloc(decoder *d, size_t n) {
  struct wasm_arena_chunk *c = d->m->arena;
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  if (!c || c->cap - c->used < n) {
    size_t cap = d->arena_next;
    bool own = n > cap / 4; /* keep filling the current chunk afterwards */
    if (own) cap = n;
    struct wasm_arena_chunk *nc = malloc(sizeof *nc + cap);
    if (!nc) {
      fail_nomem(d);
      return NULL;
    }
    nc->cap = cap;
    nc->used = 0;
    if (own && c) {
      nc->next = c->next;
      c->next = nc;
    } else {
      nc->next = c;
      d->m->arena = nc;
      if (d->arena_next < ARENA_MAX) d->arena_next *= 2;
    }
    c = nc;
  }
  void *p = c->data + c->used;
  c->used += n;
  return p;
}

/* Zeroed array of n elements from the arena; NULL for n == 0 (callers
 * index by count). Sizes are bounded by the input: counts were checked. */
static void *alloc_array(decoder *d, size_t n, size_t size) {
  if (n == 0) return NULL;
  if (n > (SIZE_MAX - 16) / size) {
    fail_nomem(d);
    return NULL;
  }
  void *p = arena_alloc(d, n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

static char *arena_strdup(decoder *d, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = arena_alloc(d, n);
  if (p) memcpy(p, s, n);
  return p;
}

/* ---- primitive readers --------------------------------------------------- */

/* A u32 LEB128. When the section or body ends inside the number but the
 * module does not, the number's own defect ("integer representation too
 * long", "integer too large") is what the reference interpreter reports, and
 * it is the more useful message, so that one wins. */
static uint32_t read_u32(decoder *d, const char *what) {
  const uint8_t *start = d->r.p;
  uint32_t x = wasm_read_u32(&d->r);
  if (!d->r.err) return x;
  if (d->r.err != d->detail && !strcmp(d->r.err, "unexpected end") && d->r.end < d->mod_end) {
    wasm_reader full = {.start = d->r.start, .p = start, .end = d->mod_end};
    (void)wasm_read_u32(&full);
    if (full.err && strcmp(full.err, "unexpected end")) {
      d->r.err = full.err;
      d->r.err_at = full.err_at;
    }
  }
  annotate(d, what);
  return 0;
}

/* A vector count, rejected when the items cannot fit in what is left of the
 * section (each takes at least one byte): nothing allocates for a count the
 * input cannot back. A tighter per-kind minimum would fail earlier but with
 * a vaguer message than decoding the items until they run out. */
static uint32_t read_count(decoder *d, const char *what) {
  const uint8_t *at = d->r.p;
  uint32_t n = read_u32(d, what);
  if (d->r.err) return 0;
  if (n > left(d)) {
    failf(d, at, "unexpected end of section or function: %u %s declared, only %zu bytes left", n,
          what, left(d));
    return 0;
  }
  return n;
}

static uint32_t read_index(decoder *d, const char *what) { return read_u32(d, what); }

/* A NUL-terminated copy of a name (already checked to be UTF-8), or NULL
 * when out of memory. U+0000 is stored as the overlong pair C0 80
 * ("modified UTF-8"): names are C strings everywhere, and distinct names
 * such as "" and "\0" must stay distinct. */
static char *dup_name(decoder *dec, const uint8_t *s, uint32_t n) {
  size_t nuls = 0;
  for (uint32_t i = 0; i < n; i++) nuls += s[i] == 0;
  char *d = arena_alloc(dec, (size_t)n + nuls + 1), *o = d;
  if (!d) return NULL;
  if (!nuls) {
    memcpy(d, s, n);
    o += n;
  } else {
    for (uint32_t i = 0; i < n; i++) {
      if (s[i]) {
        *o++ = (char)s[i];
        continue;
      }
      *o++ = (char)0xc0;
      *o++ = (char)0x80;
    }
  }
  *o = 0;
  return d;
}

/* A name: length-prefixed UTF-8. Returns a NUL-terminated copy in the
 * module's arena (see dup_name) or NULL on failure. */
static char *read_name(decoder *d, const char *what) {
  const uint8_t *at = d->r.p;
  uint32_t n = read_u32(d, what);
  if (d->r.err) return NULL;
  if (n > left(d)) {
    failf(d, at, "unexpected end of section or function: %s of %u bytes, only %zu bytes left", what,
          n, left(d));
    return NULL;
  }
  if (!base_utf8_valid(d->r.p, n, NULL)) {
    failf(d, at, "malformed UTF-8 encoding in %s", what);
    return NULL;
  }
  char *s = dup_name(d, d->r.p, n);
  if (!s) return NULL;
  d->r.p += n;
  return s;
}

static bool is_reftype(uint8_t b) { return b == WASM_FUNCREF || b == WASM_EXTERNREF; }

static bool is_valtype(uint8_t b) {
  return b == WASM_I32 || b == WASM_I64 || b == WASM_F32 || b == WASM_F64 || b == WASM_V128 ||
         is_reftype(b);
}

/* Type bytes are signed 7-bit LEB128 in the spec's grammar, so a padded
 * encoding is "integer representation too long" rather than a bad type. */
static uint8_t read_type_byte(decoder *d) {
  int64_t v = wasm_read_sleb(&d->r, 7);
  return (uint8_t)(v & 0x7f);
}

static uint8_t read_valtype(decoder *d) {
  const uint8_t *at = d->r.p;
  uint8_t b = read_type_byte(d);
  if (d->r.err) return 0;
  if (!is_valtype(b)) {
    failf(d, at, "malformed value type 0x%02x", b);
    return 0;
  }
  return b;
}

static uint8_t read_reftype(decoder *d) {
  const uint8_t *at = d->r.p;
  uint8_t b = read_type_byte(d);
  if (d->r.err) return 0;
  if (!is_reftype(b)) {
    failf(d, at, "malformed reference type 0x%02x", b);
    return 0;
  }
  return b;
}

/* Limits: the flag is a 1-bit LEB128 (so 0x02 is "integer too large" and
 * 0x81 0x00 "integer representation too long", as the spec tests expect). */
static void read_limits(decoder *d, wasm_limits *l) {
  uint32_t flag = (uint32_t)wasm_read_uleb(&d->r, 1);
  annotate(d, "limits flag must be 0 or 1");
  l->min = read_u32(d, "limits minimum");
  l->has_max = flag == 1;
  l->max = UINT32_MAX;
  if (l->has_max) {
    l->max = read_u32(d, "limits maximum");
  }
}

static void read_globaltype(decoder *d, wasm_globaltype *g) {
  g->type = read_valtype(d);
  const uint8_t *at = d->r.p;
  uint8_t mut = wasm_read_u8(&d->r);
  if (d->r.err) return;
  if (mut > 1) {
    failf(d, at, "malformed mutability 0x%02x", mut);
    return;
  }
  g->mut = mut == 1;
}

static void read_bytes(decoder *d, void *dst, size_t n) {
  if (left(d) < n) {
    wasm_reader_fail(&d->r, "unexpected end");
    return;
  }
  memcpy(dst, d->r.p, n);
  d->r.p += n;
}

static void declare_func(decoder *d, uint32_t x) {
  if (d->m->func_declared && x < d->m->nfuncs) d->m->func_declared[x] = 1;
}

/* ---- constant expressions ------------------------------------------------ */

/* An instruction that may not appear in a constant expression: invalid if it
 * exists at all, malformed otherwise. r.p is just past the opcode byte. */
static void non_constant(decoder *d, const uint8_t *at, uint8_t op) {
  const char *name = op_text[op];
  if (op == WASM_PREFIX_FC || op == WASM_PREFIX_FD) {
    uint32_t sub = wasm_read_u32(&d->r);
    if (d->r.err) return;
    name = sub < 256 ? (op == WASM_PREFIX_FC ? fc_text : fd_text)[sub] : NULL;
    if (!name) {
      failf(d, at, "illegal opcode 0x%02x %u", op, sub);
      return;
    }
  } else if (!name) {
    failf(d, at, "illegal opcode 0x%02x", op);
    return;
  }
  fail_invalid(d, at, "constant expression required: %s is not a constant instruction", name);
}

/* Decodes one constant instruction into *e. Returns false, with r.p just
 * past the opcode byte, when `op` is not a constant instruction (or `end`). */
static bool read_const_instr(decoder *d, uint8_t op, wasm_const_expr *e) {
  wasm_reader *r = &d->r;
  e->kind = WASM_CONST_VALUE;
  switch (op) {
  case WASM_OP_I32_CONST:
    e->type = WASM_I32;
    e->value.of.i32 = (int32_t)wasm_read_sleb(r, 32);
    annotate(d, "i32.const immediate");
    break;
  case WASM_OP_I64_CONST:
    e->type = WASM_I64;
    e->value.of.i64 = wasm_read_sleb(r, 64);
    annotate(d, "i64.const immediate");
    break;
  case WASM_OP_F32_CONST: {
    uint8_t b[4] = {0};
    e->type = WASM_F32;
    read_bytes(d, b, 4);
    e->value.of.f32_bits =
        (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    break;
  }
  case WASM_OP_F64_CONST: {
    uint8_t b[8] = {0};
    uint64_t v = 0;
    e->type = WASM_F64;
    read_bytes(d, b, 8);
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    e->value.of.f64_bits = v;
    break;
  }
  case WASM_OP_REF_NULL:
    e->kind = WASM_CONST_REF_NULL;
    e->type = read_reftype(d);
    break;
  case WASM_OP_REF_FUNC:
    e->kind = WASM_CONST_REF_FUNC;
    e->type = WASM_FUNCREF;
    e->index = read_index(d, "function index");
    break;
  case WASM_OP_GLOBAL_GET:
    e->kind = WASM_CONST_GLOBAL_GET;
    e->type = 0;
    e->index = read_index(d, "global index");
    break;
  case WASM_PREFIX_FD: {
    const uint8_t *save = r->p;
    uint32_t sub = wasm_read_u32(r);
    if (r->err) return true;
    if (sub != WASM_FD_V128_CONST) {
      r->p = save;
      return false;
    }
    e->type = WASM_V128;
    read_bytes(d, e->value.of.v128, 16);
    break;
  }
  default: return false;
  }
  e->value.type = (wasm_valtype)e->type;
  return true;
}

/* A constant expression: one constant instruction, then `end`. Following
 * the spec's precedence, any non-constant instruction makes it "constant
 * expression required", otherwise more than one value is a "type mismatch"
 * (both invalid, not malformed); an unknown opcode is malformed. The loop
 * over extra instructions is flat: no recursion on input. global.get leaves
 * ->type 0, for the validator to resolve. */
static void read_const_expr(decoder *d, wasm_const_expr *e) {
  wasm_reader *r = &d->r;
  memset(e, 0, sizeof *e);
  e->offset = off(d, r->p);
  e->kind = WASM_CONST_VALUE;
  uint32_t ninstr = 0;
  const uint8_t *second = NULL;
  for (;;) {
    const uint8_t *at = r->p;
    uint8_t op = wasm_read_u8(r);
    if (r->err) return;
    if (op == WASM_OP_END) break;
    wasm_const_expr scratch;
    memset(&scratch, 0, sizeof scratch);
    if (!read_const_instr(d, op, ninstr ? &scratch : e)) {
      non_constant(d, at, op);
      return;
    }
    if (r->err) return;
    if (++ninstr == 2) second = at;
  }
  if (ninstr == 0) {
    fail_invalid(d, r->p - 1, "type mismatch: empty constant expression");
  } else if (ninstr > 1) {
    fail_invalid(d, second, "type mismatch: constant expression leaves %u values", ninstr);
  } else if (e->kind == WASM_CONST_REF_FUNC) {
    declare_func(d, e->index);
  }
}

/* ---- index spaces -------------------------------------------------------- */

/* Index spaces are allocated when their defining section is decoded, or
 * with no definitions once a later section (or the end) shows it absent. */
static void alloc_funcs(decoder *d, uint32_t ndefs) {
  wasm_module *m = d->m;
  d->have_funcs = true;
  d->ndefs = ndefs;
  m->nfuncs = m->nfunc_imports + ndefs;
  m->func_type = alloc_array(d, m->nfuncs, sizeof *m->func_type);
  m->func_declared = alloc_array(d, m->nfuncs, 1);
  m->bodies = alloc_array(d, ndefs, sizeof *m->bodies);
  if (d->r.err) return;
  uint32_t k = 0;
  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == WASM_EXTERN_FUNC) m->func_type[k++] = m->imports[i].desc.func_type;
}

static void alloc_tables(decoder *d, uint32_t n) {
  wasm_module *m = d->m;
  d->have_tables = true;
  m->ntables = m->ntable_imports + n;
  m->tables = alloc_array(d, m->ntables, sizeof *m->tables);
  if (d->r.err) return;
  uint32_t k = 0;
  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == WASM_EXTERN_TABLE) m->tables[k++] = m->imports[i].desc.table;
}

static void alloc_mems(decoder *d, uint32_t n) {
  wasm_module *m = d->m;
  d->have_mems = true;
  m->nmems = m->nmem_imports + n;
  m->mems = alloc_array(d, m->nmems, sizeof *m->mems);
  if (d->r.err) return;
  uint32_t k = 0;
  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == WASM_EXTERN_MEMORY) m->mems[k++] = m->imports[i].desc.mem;
}

static void alloc_globals(decoder *d, uint32_t n) {
  wasm_module *m = d->m;
  d->have_globals = true;
  m->nglobals = m->nglobal_imports + n;
  m->global_types = alloc_array(d, m->nglobals, sizeof *m->global_types);
  m->global_inits = alloc_array(d, m->nglobals, sizeof *m->global_inits);
  if (d->r.err) return;
  uint32_t k = 0;
  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == WASM_EXTERN_GLOBAL) m->global_types[k++] = m->imports[i].desc.global;
}

/* Allocates the index spaces whose sections come before `rank` and were
 * absent. */
static void settle_spaces(decoder *d, unsigned rank) {
  if (!d->have_funcs && rank > section_rank[SEC_FUNCTION]) alloc_funcs(d, 0);
  if (!d->have_tables && rank > section_rank[SEC_TABLE]) alloc_tables(d, 0);
  if (!d->have_mems && rank > section_rank[SEC_MEMORY]) alloc_mems(d, 0);
  if (!d->have_globals && rank > section_rank[SEC_GLOBAL]) alloc_globals(d, 0);
}

/* ---- sections ------------------------------------------------------------ */

static void set_item(decoder *d, const char *item, uint32_t idx) {
  d->item = item;
  d->item_idx = idx;
  d->item_sub = NULL;
}

static uint32_t type_hash(const wasm_functype *t) {
  uint32_t h = 2166136261u ^ t->nparams * 31u ^ t->nresults;
  for (uint32_t i = 0; i < t->nparams + t->nresults; i++) h = (h ^ t->types[i]) * 16777619u;
  return h;
}

/* canon = first structurally equal type; a hash table keeps this linear for
 * modules with many distinct types. */
static void canonicalise_types(decoder *d) {
  wasm_module *m = d->m;
  if (m->ntypes == 0) return;
  size_t cap = 16;
  while (cap < (size_t)m->ntypes * 2) cap <<= 1;
  uint32_t *tab = calloc(cap, sizeof *tab); /* type index + 1; 0 = empty */
  if (!tab) {
    fail_nomem(d);
    return;
  }
  for (uint32_t i = 0; i < m->ntypes; i++) {
    wasm_functype *t = &m->types[i];
    size_t h = type_hash(t) & (cap - 1);
    for (;;) {
      if (!tab[h]) {
        tab[h] = i + 1;
        t->canon = i;
        break;
      }
      if (wasm_functype_equal(&m->types[tab[h] - 1], t)) {
        t->canon = tab[h] - 1;
        break;
      }
      h = (h + 1) & (cap - 1);
    }
  }
  free(tab);
}

static char sig_letter(uint8_t t) {
  switch (t) {
  case WASM_I32: return 'i';
  case WASM_I64: return 'I';
  case WASM_F32: return 'f';
  case WASM_F64: return 'F';
  case WASM_V128: return 'v';
  case WASM_FUNCREF: return 'r';
  case WASM_EXTERNREF: return 'e';
  default: return '?';
  }
}

/* Skips `n` value types, checking each; returns where they started. */
static const uint8_t *scan_valtypes(decoder *d, uint32_t n) {
  const uint8_t *start = d->r.p;
  for (uint32_t i = 0; i < n && !d->r.err; i++) read_valtype(d);
  return start;
}

static void read_functype(decoder *d, wasm_functype *t) {
  const uint8_t *at = d->r.p;
  uint8_t form = read_type_byte(d);
  if (d->r.err) return;
  if (form != 0x60) {
    failf(d, at, "malformed function type 0x%02x (expected 0x60)", form);
    return;
  }
  uint32_t np = read_count(d, "parameters");
  const uint8_t *params = scan_valtypes(d, np);
  uint32_t nr = read_count(d, "results");
  const uint8_t *results = scan_valtypes(d, nr);
  if (d->r.err) return;
  size_t n = (size_t)np + nr;
  t->types = arena_alloc(d, n);
  t->sig = arena_alloc(d, n + 3);
  if (d->r.err) return;
  memcpy(t->types, params, np);
  memcpy(t->types + np, results, nr);
  t->nparams = np;
  t->nresults = nr;
  char *s = t->sig;
  for (uint32_t i = 0; i < np; i++) {
    *s++ = sig_letter(params[i]);
    t->param_slots += params[i] == WASM_V128 ? 2 : 1;
  }
  *s++ = '-';
  *s++ = '>';
  for (uint32_t i = 0; i < nr; i++) {
    *s++ = sig_letter(results[i]);
    t->result_slots += results[i] == WASM_V128 ? 2 : 1;
  }
  *s = 0;
}

static void sec_type(decoder *d) {
  wasm_module *m = d->m;
  uint32_t n = read_count(d, "types");
  m->types = alloc_array(d, n, sizeof *m->types);
  if (d->r.err) return;
  m->ntypes = n;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    set_item(d, "type", i);
    read_functype(d, &m->types[i]);
  }
  if (!d->r.err) canonicalise_types(d);
}

static void sec_import(decoder *d) {
  wasm_module *m = d->m;
  uint32_t n = read_count(d, "imports");
  m->imports = alloc_array(d, n, sizeof *m->imports);
  if (d->r.err) return;
  m->nimports = n;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    wasm_import *im = &m->imports[i];
    set_item(d, "import", i);
    im->module = read_name(d, "import module name");
    if (d->r.err) return;
    im->name = read_name(d, "import name");
    if (d->r.err) return;
    const uint8_t *at = d->r.p;
    uint8_t kind = wasm_read_u8(&d->r);
    if (d->r.err) return;
    im->kind = kind;
    switch (kind) {
    case WASM_EXTERN_FUNC:
      im->desc.func_type = read_index(d, "type index");
      m->nfunc_imports++;
      break;
    case WASM_EXTERN_TABLE:
      im->desc.table.elemtype = read_reftype(d);
      read_limits(d, &im->desc.table.limits);
      m->ntable_imports++;
      break;
    case WASM_EXTERN_MEMORY:
      read_limits(d, &im->desc.mem.limits);
      m->nmem_imports++;
      break;
    case WASM_EXTERN_GLOBAL:
      read_globaltype(d, &im->desc.global);
      m->nglobal_imports++;
      break;
    default: failf(d, at, "malformed import kind 0x%02x", kind); return;
    }
  }
}

static void sec_function(decoder *d) {
  uint32_t n = read_count(d, "functions");
  if (d->r.err) return;
  alloc_funcs(d, n);
  wasm_module *m = d->m;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    set_item(d, "function", m->nfunc_imports + i);
    m->func_type[m->nfunc_imports + i] = read_index(d, "type index");
  }
}

static void sec_table(decoder *d) {
  uint32_t n = read_count(d, "tables");
  if (d->r.err) return;
  alloc_tables(d, n);
  wasm_module *m = d->m;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    wasm_tabletype *t = &m->tables[m->ntable_imports + i];
    set_item(d, "table", m->ntable_imports + i);
    t->elemtype = read_reftype(d);
    read_limits(d, &t->limits);
  }
}

static void sec_memory(decoder *d) {
  uint32_t n = read_count(d, "memories");
  if (d->r.err) return;
  alloc_mems(d, n);
  wasm_module *m = d->m;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    set_item(d, "memory", m->nmem_imports + i);
    read_limits(d, &m->mems[m->nmem_imports + i].limits);
  }
}

static void sec_global(decoder *d) {
  uint32_t n = read_count(d, "globals");
  if (d->r.err) return;
  alloc_globals(d, n);
  wasm_module *m = d->m;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    uint32_t g = m->nglobal_imports + i;
    set_item(d, "global", g);
    read_globaltype(d, &m->global_types[g]);
    if (!d->r.err) read_const_expr(d, &m->global_inits[g]);
  }
}

static void sec_export(decoder *d) {
  wasm_module *m = d->m;
  uint32_t n = read_count(d, "exports");
  m->exports = alloc_array(d, n, sizeof *m->exports);
  if (d->r.err) return;
  m->nexports = n;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    wasm_export *ex = &m->exports[i];
    set_item(d, "export", i);
    ex->name = read_name(d, "export name");
    if (d->r.err) return;
    const uint8_t *at = d->r.p;
    uint8_t kind = wasm_read_u8(&d->r);
    if (d->r.err) return;
    if (kind > WASM_EXTERN_GLOBAL) {
      failf(d, at, "malformed export kind 0x%02x", kind);
      return;
    }
    ex->kind = kind;
    ex->index = read_index(d, "export index");
    if (!d->r.err && kind == WASM_EXTERN_FUNC) declare_func(d, ex->index);
  }
}

static void sec_start(decoder *d) {
  d->m->start = read_index(d, "start function index");
  d->m->has_start = !d->r.err;
}

/* Element segments, all eight encodings of the 2.0 format:
 *   bit 0: passive/declarative (1) or active (0)
 *   bit 1: with bit 0 clear, an explicit table index; set, declarative
 *   bit 2: items are constant expressions (else function indices)
 * Function index lists become REF_FUNC items so later stages see one form. */
static void read_elem(decoder *d, wasm_elem *el) {
  const uint8_t *at = d->r.p;
  uint32_t flags = read_u32(d, "segment flags");
  if (d->r.err) return;
  if (flags > 7) {
    failf(d, at, "malformed elements segment kind %u", flags);
    return;
  }
  bool passive_or_decl = flags & 1, explicit_table = flags & 2, exprs = flags & 4;
  el->elemtype = WASM_FUNCREF;
  if (passive_or_decl) {
    el->mode = explicit_table ? WASM_SEG_DECLARATIVE : WASM_SEG_PASSIVE;
  } else {
    el->mode = WASM_SEG_ACTIVE;
    if (explicit_table) el->table = read_index(d, "table index");
    if (d->r.err) return;
    read_const_expr(d, &el->offset);
  }
  if (d->r.err) return;
  /* Flags 0 and 4 imply funcref; the others name it. */
  if (passive_or_decl || explicit_table) {
    if (exprs) {
      el->elemtype = read_reftype(d);
    } else {
      const uint8_t *kat = d->r.p;
      uint8_t kind = wasm_read_u8(&d->r);
      if (d->r.err) return;
      if (kind != 0) {
        failf(d, kat, "malformed element kind 0x%02x", kind);
        return;
      }
    }
  }
  if (d->r.err) return;
  uint32_t n = read_count(d, "elements");
  el->items = alloc_array(d, n, sizeof *el->items);
  if (d->r.err) return;
  el->count = n;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    wasm_const_expr *e = &el->items[i];
    if (exprs) {
      read_const_expr(d, e);
    } else {
      e->offset = off(d, d->r.p);
      e->kind = WASM_CONST_REF_FUNC;
      e->type = WASM_FUNCREF;
      e->value.type = WASM_FUNCREF;
      e->index = read_index(d, "function index");
      if (!d->r.err) declare_func(d, e->index);
    }
  }
}

static void sec_element(decoder *d) {
  wasm_module *m = d->m;
  uint32_t n = read_count(d, "element segments");
  m->elems = alloc_array(d, n, sizeof *m->elems);
  if (d->r.err) return;
  m->nelems = n;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    set_item(d, "element segment", i);
    read_elem(d, &m->elems[i]);
  }
}

/* Reads a body's local declarations twice: once to check the total against
 * MAX_LOCALS before allocating, once to fill local_types. */
static void read_locals(decoder *d, wasm_body *b) {
  uint32_t ndecls = read_count(d, "local declarations");
  if (d->r.err) return;
  const uint8_t *decls = d->r.p;
  uint64_t total = 0;
  for (uint32_t i = 0; i < ndecls && !d->r.err; i++) {
    const uint8_t *at = d->r.p;
    uint32_t c = read_u32(d, "local count");
    read_valtype(d);
    total += c;
    if (total > MAX_LOCALS) {
      failf(d, at, "too many locals (more than %u)", MAX_LOCALS);
      return;
    }
  }
  if (d->r.err) return;
  b->local_types = total ? arena_alloc(d, (size_t)total) : NULL;
  if (d->r.err) return;
  b->nlocals = (uint32_t)total;
  d->r.p = decls;
  uint32_t k = 0;
  for (uint32_t i = 0; i < ndecls; i++) {
    uint32_t c = wasm_read_u32(&d->r);
    uint8_t t = read_type_byte(d);
    if (c) memset(b->local_types + k, t, c);
    k += c;
  }
}

static void sec_code(decoder *d) {
  wasm_module *m = d->m;
  const uint8_t *at = d->r.p;
  uint32_t n = read_u32(d, "function count");
  if (d->r.err) return;
  d->have_code = true;
  if (n != d->ndefs) {
    failf(d, at, "function and code section have inconsistent lengths (%u functions, %u bodies)",
          d->ndefs, n);
    return;
  }
  const uint8_t *sec_end = d->r.end;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    wasm_body *b = &m->bodies[i];
    uint32_t f = m->nfunc_imports + i;
    set_item(d, "function", f);
    d->item_sub = "body";
    d->func = f;
    const uint8_t *bat = d->r.p;
    b->offset = off(d, bat);
    uint32_t size = read_u32(d, "body size");
    if (d->r.err) return;
    if (size > left(d)) {
      failf(d, bat, "length out of bounds: body of %u bytes, only %zu bytes left", size, left(d));
      return;
    }
    const uint8_t *body_end = d->r.p + size;
    d->r.end = body_end;
    read_locals(d, b);
    if (d->r.err) return;
    b->code = d->r.p;
    b->code_end = body_end;
    /* Every body ends with the `end` opcode, which has no immediates. */
    if (b->code == body_end || body_end[-1] != WASM_OP_END) {
      if (body_end == d->mod_end)
        failf(d, body_end, "unexpected end of section or function: body has no final `end`");
      else failf(d, body_end, "END opcode expected at the end of the body");
      return;
    }
    d->r.p = body_end;
    d->r.end = sec_end;
  }
  d->func = UINT32_MAX;
}

static void sec_data(decoder *d) {
  wasm_module *m = d->m;
  uint32_t n = read_count(d, "data segments");
  m->datas = alloc_array(d, n, sizeof *m->datas);
  if (d->r.err) return;
  m->ndatas = n;
  for (uint32_t i = 0; i < n && !d->r.err; i++) {
    wasm_data *seg = &m->datas[i];
    set_item(d, "data segment", i);
    const uint8_t *at = d->r.p;
    uint32_t flags = read_u32(d, "segment flags");
    if (d->r.err) return;
    if (flags > 2) {
      failf(d, at, "malformed data segment kind %u", flags);
      return;
    }
    seg->mode = flags == 1 ? WASM_SEG_PASSIVE : WASM_SEG_ACTIVE;
    if (flags == 2) seg->memory = read_index(d, "memory index");
    if (flags != 1 && !d->r.err) read_const_expr(d, &seg->offset);
    if (d->r.err) return;
    const uint8_t *lat = d->r.p;
    uint32_t size = read_u32(d, "data size");
    if (d->r.err) return;
    if (size > left(d)) {
      failf(d, lat,
            "unexpected end of section or function: %u data bytes declared, only %zu bytes left",
            size, left(d));
      return;
    }
    seg->size = size;
    seg->bytes = d->r.p;
    d->r.p += size;
  }
}

static void sec_datacount(decoder *d) {
  d->m->datacount = read_index(d, "data count");
  d->m->has_datacount = !d->r.err;
}

static void sec_custom(decoder *d) {
  wasm_module *m = d->m;
  wasm_reader raw = d->r; /* the name's bytes as in the binary, for wasm_module_section */
  uint32_t raw_len = (uint32_t)wasm_read_uleb(&raw, 32);
  char *name = read_name(d, "custom section name");
  if (d->r.err) return;
  if (m->ncustoms == d->cap_customs) {
    uint32_t cap = d->cap_customs ? d->cap_customs * 2 : 4;
    wasm_custom *c = realloc(m->customs, cap * sizeof *c);
    if (!c) {
      fail_nomem(d);
      return;
    }
    m->customs = c;
    d->cap_customs = cap;
  }
  wasm_custom *c = &m->customs[m->ncustoms++];
  c->name = name;
  c->raw_name = raw.p;
  c->raw_name_len = raw_len;
  c->data = d->r.p;
  c->size = (uint32_t)left(d);
  if (!d->name_sec && !strcmp(name, "name")) {
    d->name_sec = d->r.p;
    d->name_end = d->r.end;
  }
  d->r.p = d->r.end;
}

/* Appends a section to m->sections (wasm_module_section). */
static bool record_section(decoder *d, uint8_t id, uint32_t at, uint32_t size) {
  wasm_module *m = d->m;
  if (m->nsections == d->cap_sections) {
    uint32_t cap = d->cap_sections ? d->cap_sections * 2 : 16;
    wasm_section_desc *v = realloc(m->sections, cap * sizeof *v);
    if (!v) {
      fail_nomem(d);
      return false;
    }
    m->sections = v;
    d->cap_sections = cap;
  }
  const wasm_custom *c = id == SEC_CUSTOM ? &m->customs[m->ncustoms - 1] : NULL;
  m->sections[m->nsections++] = (wasm_section_desc){.id = id,
                                                    .offset = at,
                                                    .size = size,
                                                    .name = c ? c->raw_name : NULL,
                                                    .name_len = c ? c->raw_name_len : 0};
  return true;
}

/* ---- name section ---------------------------------------------------------- */

/* Module name (subsection 0) and function names (subsection 1). The section
 * is advisory: anything malformed (or running out of memory) drops what it
 * gave and is otherwise ignored; the arena space it used stays until the
 * module is released, bounded by the section's size. */
static void parse_names(decoder *d) {
  wasm_module *m = d->m;
  wasm_reader r = {.start = d->r.start, .p = d->name_sec, .end = d->name_end};
  char *modname = NULL;
  char **fnames = NULL;
  int last = -1;
  bool ok = true;
  while (ok && r.p < r.end) {
    uint8_t id = wasm_read_u8(&r);
    uint32_t size = wasm_read_u32(&r);
    if (r.err || size > (size_t)(r.end - r.p) || (int)id <= last) {
      ok = false;
      break;
    }
    last = id;
    const uint8_t *sub_end = r.p + size;
    wasm_reader s = {.start = r.start, .p = r.p, .end = sub_end};
    r.p = sub_end;
    if (id == 0) {
      uint32_t n = wasm_read_u32(&s);
      if (s.err || n != (size_t)(s.end - s.p) || !base_utf8_valid(s.p, n, NULL) ||
          !(modname = dup_name(d, s.p, n))) {
        ok = false;
        break;
      }
      s.p += n;
    } else if (id == 1) {
      uint32_t count = wasm_read_u32(&s);
      if (s.err || count > (size_t)(s.end - s.p) / 2) {
        ok = false;
        break;
      }
      if (m->nfuncs && !(fnames = alloc_array(d, m->nfuncs, sizeof *fnames))) {
        ok = false;
        break;
      }
      int64_t prev = -1;
      for (uint32_t i = 0; i < count && ok; i++) {
        uint32_t x = wasm_read_u32(&s);
        uint32_t len = wasm_read_u32(&s);
        if (s.err || (int64_t)x <= prev || len > (size_t)(s.end - s.p) ||
            !base_utf8_valid(s.p, len, NULL)) {
          ok = false;
          break;
        }
        prev = x;
        if (x < m->nfuncs) {
          if (!(fnames[x] = dup_name(d, s.p, len))) {
            ok = false;
            break;
          }
        }
        s.p += len;
      }
    } else {
      s.p = s.end;
    }
    if (s.p != s.end) ok = false;
  }
  if (ok && !r.err) {
    m->module_name = modname;
    m->func_names = fnames;
  }
}

/* ---- descriptions for the introspection API -------------------------------- */

static char *limits_text(decoder *d, const char *what, const wasm_limits *l) {
  char buf[64];
  if (l->has_max) snprintf(buf, sizeof buf, "%s %u..%u", what, l->min, l->max);
  else snprintf(buf, sizeof buf, "%s %u..", what, l->min);
  return arena_strdup(d, buf);
}

/* Function types share the type's signature text; the others get theirs
 * from the arena. */
static char *extern_text(decoder *d, uint8_t kind, const void *desc) {
  const wasm_module *m = d->m;
  switch (kind) {
  case WASM_EXTERN_FUNC: {
    uint32_t t = *(const uint32_t *)desc;
    return t < m->ntypes ? m->types[t].sig : "?";
  }
  case WASM_EXTERN_TABLE: {
    const wasm_tabletype *t = desc;
    return limits_text(d, wasm_valtype_str((wasm_valtype)t->elemtype), &t->limits);
  }
  case WASM_EXTERN_MEMORY: return limits_text(d, "pages", &((const wasm_memtype *)desc)->limits);
  default: {
    const wasm_globaltype *g = desc;
    char buf[32];
    snprintf(buf, sizeof buf, "%s%s", g->mut ? "mut " : "",
             wasm_valtype_str((wasm_valtype)g->type));
    return arena_strdup(d, buf);
  }
  }
}

/* Type strings of imports and exports, made once so the introspection API
 * can hand out borrowed pointers from an immutable module. */
static void describe_externs(decoder *d) {
  wasm_module *m = d->m;
  for (uint32_t i = 0; i < m->nimports; i++) {
    wasm_import *im = &m->imports[i];
    if (!(im->type_text = extern_text(d, im->kind, &im->desc))) return;
  }
  for (uint32_t i = 0; i < m->nexports; i++) {
    wasm_export *ex = &m->exports[i];
    const void *desc = NULL;
    switch (ex->kind) {
    case WASM_EXTERN_FUNC:
      if (ex->index < m->nfuncs) desc = &m->func_type[ex->index];
      break;
    case WASM_EXTERN_TABLE:
      if (ex->index < m->ntables) desc = &m->tables[ex->index];
      break;
    case WASM_EXTERN_MEMORY:
      if (ex->index < m->nmems) desc = &m->mems[ex->index];
      break;
    default:
      if (ex->index < m->nglobals) desc = &m->global_types[ex->index];
      break;
    }
    if (!(ex->type_text = desc ? extern_text(d, ex->kind, desc) : "?")) return;
  }
}

/* ---- driver ---------------------------------------------------------------- */

static void decode_header(decoder *d) {
  static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
  static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
  if (left(d) < 4) {
    wasm_reader_fail(&d->r, "unexpected end");
    return;
  }
  if (memcmp(d->r.p, magic, 4)) {
    failf(d, d->r.p, "magic header not detected");
    return;
  }
  d->r.p += 4;
  if (left(d) < 4) {
    wasm_reader_fail(&d->r, "unexpected end");
    return;
  }
  if (memcmp(d->r.p, version, 4)) {
    failf(d, d->r.p, "unknown binary version 0x%02x%02x%02x%02x", d->r.p[3], d->r.p[2], d->r.p[1],
          d->r.p[0]);
    return;
  }
  d->r.p += 4;
}

static void decode_sections(decoder *d) {
  unsigned last_rank = 0;
  int last_id = -1;
  while (d->r.p < d->mod_end && !d->r.err) {
    d->section = -1;
    set_item(d, NULL, 0);
    const uint8_t *at = d->r.p;
    uint8_t id = wasm_read_u8(&d->r);
    if (id > SEC_LAST) {
      failf(d, at, "malformed section id %u", id);
      return;
    }
    uint32_t size = wasm_read_u32(&d->r);
    if (d->r.err) {
      annotate(d, "section size");
      return;
    }
    if (size > left(d)) {
      failf(d, at, "length out of bounds: section %u (%s) of %u bytes, only %zu bytes left", id,
            section_names[id], size, left(d));
      return;
    }
    if (id != SEC_CUSTOM) {
      if (section_rank[id] <= last_rank) {
        if (id == last_id)
          failf(d, at, "unexpected content after last section: duplicate %s section",
                section_names[id]);
        else
          failf(d, at, "unexpected content after last section: %s section after %s section",
                section_names[id], section_names[last_id]);
        return;
      }
      last_rank = section_rank[id];
      last_id = id;
      settle_spaces(d, last_rank);
      if (d->r.err) return;
    }
    d->section = id;
    d->section_off = off(d, at);
    if (id == SEC_FUNCTION) d->func_sec_off = d->section_off;
    if (id == SEC_DATACOUNT) d->datacount_off = d->section_off;
    const uint8_t *sec_end = d->r.p + size;
    d->r.end = sec_end;
    switch (id) {
    case SEC_CUSTOM: sec_custom(d); break;
    case SEC_TYPE: sec_type(d); break;
    case SEC_IMPORT: sec_import(d); break;
    case SEC_FUNCTION: sec_function(d); break;
    case SEC_TABLE: sec_table(d); break;
    case SEC_MEMORY: sec_memory(d); break;
    case SEC_GLOBAL: sec_global(d); break;
    case SEC_EXPORT: sec_export(d); break;
    case SEC_START: sec_start(d); break;
    case SEC_ELEMENT: sec_element(d); break;
    case SEC_CODE: sec_code(d); break;
    case SEC_DATA: sec_data(d); break;
    case SEC_DATACOUNT: sec_datacount(d); break;
    }
    if (d->r.err) return;
    if (d->r.p != sec_end) {
      set_item(d, NULL, 0);
      failf(d, d->r.p, "section size mismatch: %u bytes declared, %u used", size,
            (uint32_t)(d->r.p - (sec_end - size)));
      return;
    }
    d->r.end = d->mod_end;
    if (!record_section(d, id, off(d, at), size)) return;
  }
  d->section = -1;
  set_item(d, NULL, 0);
  settle_spaces(d, ~0u);
  if (d->r.err) return;
  if (!d->have_code && d->ndefs) {
    d->section = SEC_FUNCTION;
    failf(d, d->r.start + d->func_sec_off,
          "function and code section have inconsistent lengths (%u functions, no code section)",
          d->ndefs);
    return;
  }
  if (d->m->has_datacount && d->m->datacount != d->m->ndatas) {
    d->section = SEC_DATACOUNT;
    failf(d, d->r.start + d->datacount_off,
          "data count and data section have inconsistent lengths (data count %u, %u segments)",
          d->m->datacount, d->m->ndatas);
    return;
  }
}

/* Composes err from the first failure: "malformed: section 10 (code) at
 * 0x1f: function 2 body: unexpected end of section or function". */
static wasm_status report(decoder *d, wasm_error *err) {
  const char *what = d->r.err;
  wasm_status st = d->status ? d->status : WASM_ERR_MALFORMED;
  if (d->section >= 0 && !strcmp(what, "unexpected end"))
    what = "unexpected end of section or function";
  uint32_t at = off(d, d->r.err_at);
  char where[96], item[64] = "";
  if (d->section >= 0)
    snprintf(where, sizeof where, "section %d (%s) at 0x%x", d->section, section_names[d->section],
             at);
  else snprintf(where, sizeof where, "at 0x%x", at);
  if (d->item)
    snprintf(item, sizeof item, "%s %u%s%s: ", d->item, d->item_idx, d->item_sub ? " " : "",
             d->item_sub ? d->item_sub : "");
  return wasmi_error_set(err, st, d->func, at, "%s: %s: %s%s",
                         st == WASM_ERR_INVALID ? "invalid"
                         : st == WASM_ERR_NOMEM ? "error"
                                                : "malformed",
                         where, item, what);
}

wasm_status wasmi_decode(const uint8_t *bytes, size_t len, wasm_module **out, wasm_error *err) {
  if (len > UINT32_MAX)
    return wasmi_error_set(err, WASM_ERR_MALFORMED, UINT32_MAX, UINT32_MAX,
                           "malformed: module of %zu bytes is too large", len);
  if (!bytes && len)
    return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "no module bytes");
  wasm_module *m = calloc(1, sizeof *m);
  uint8_t *copy = malloc(len ? len : 1);
  if (!m || !copy) {
    free(m);
    free(copy);
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX, "out of memory");
  }
  if (len) memcpy(copy, bytes, len);
  m->bytes = copy;
  m->len = len;

  decoder d;
  memset(&d, 0, sizeof d);
  d.m = m;
  d.r.start = d.r.p = copy;
  d.r.end = d.mod_end = copy + len;
  d.section = -1;
  d.func = UINT32_MAX;
  d.arena_next = ARENA_MIN;

  decode_header(&d);
  if (!d.r.err) decode_sections(&d);
  if (!d.r.err) describe_externs(&d);
  if (d.r.err) {
    wasm_status st = report(&d, err);
    wasmi_decoded_free(m);
    return st;
  }
  if (d.name_sec) parse_names(&d);
  *out = m;
  return WASM_OK;
}

void wasmi_decoded_free(wasm_module *m) {
  if (!m) return;
  free(m->customs);
  free(m->sections);
  free(m->bytes);
  for (struct wasm_arena_chunk *c = m->arena, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(m);
}
