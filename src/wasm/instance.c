/* instance.c — the linker, instantiation, host objects and the call API.
 *
 * Instantiation does no validation or translation: the module was validated
 * and compiled once by wasm_module_compile. An instance is one allocation
 * holding its index spaces, function objects, non-exported globals and the
 * references of its passive element segments; only memories, defined tables
 * and exported globals (which other instances may import and keep alive)
 * are separate, reference-counted objects.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aot.h"
#include "wasm_int.h"

#define DEFAULT_CALL_DEPTH 10000u
#define DEFAULT_STACK_SLOTS (1u << 20)

/* Fills *err (if any) with a plain message, no function or offset. */
static wasm_status fail(wasm_error *err, wasm_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static wasm_status fail(wasm_error *err, wasm_status s, const char *fmt, ...) {
  if (err) {
    err->status = s;
    err->func = UINT32_MAX;
    err->offset = UINT32_MAX;
    err->exit_code = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return s;
}

static bool is_valtype(uint8_t t) {
  return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 || t == WASM_F64 || t == WASM_V128 ||
         t == WASM_FUNCREF || t == WASM_EXTERNREF;
}

static bool is_reftype(uint8_t t) { return t == WASM_FUNCREF || t == WASM_EXTERNREF; }

/* ---- Value <-> slot conversion ----------------------------------------- */

static void value_to_slots(const wasm_value *v, uint8_t type, wasm_slot *s) {
  switch (type) {
  case WASM_I32: s[0] = (uint32_t)v->of.i32; break;
  case WASM_F32: s[0] = v->of.f32_bits; break;
  case WASM_I64: s[0] = (uint64_t)v->of.i64; break;
  case WASM_F64: s[0] = v->of.f64_bits; break;
  case WASM_V128: memcpy(s, v->of.v128, 16); break;
  default: s[0] = (uintptr_t)v->of.ref; break;
  }
}

static void slots_to_value(const wasm_slot *s, uint8_t type, wasm_value *v) {
  memset(v, 0, sizeof *v);
  v->type = (wasm_valtype)type;
  switch (type) {
  case WASM_I32: v->of.i32 = (int32_t)(uint32_t)s[0]; break;
  case WASM_F32: v->of.f32_bits = (uint32_t)s[0]; break;
  case WASM_I64: v->of.i64 = (int64_t)s[0]; break;
  case WASM_F64: v->of.f64_bits = s[0]; break;
  case WASM_V128: memcpy(v->of.v128, s, 16); break;
  default: v->of.ref = (void *)(uintptr_t)s[0]; break;
  }
}

/* ---- Tables ------------------------------------------------------------ */

static wasm_table *table_create(uint8_t elemtype, uint32_t min, uint32_t max, void *init) {
  wasm_table *t = malloc(sizeof *t);
  if (!t) return NULL;
  t->elems = NULL;
  if (min) {
    t->elems = malloc((size_t)min * sizeof(void *));
    if (!t->elems) {
      free(t);
      return NULL;
    }
    for (uint32_t i = 0; i < min; i++) t->elems[i] = init;
  }
  t->elemtype = elemtype;
  t->size = min;
  t->capacity = min;
  t->max = max;
  atomic_init(&t->refs, 1);
  return t;
}

static void table_retain(wasm_table *t) {
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

static void table_release(wasm_table *t) {
  if (!t) return;
  if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) return;
  free(t->elems);
  free(t);
}

wasm_status wasm_table_new(wasm_valtype elem, uint32_t min, uint32_t max, void *init,
                           wasm_table **out) {
  if (!out || !is_reftype(elem) || (max != UINT32_MAX && min > max) || min > WASM_TABLE_MAX_ENTRIES)
    return WASM_ERR_ARG;
  wasm_table *t = table_create(elem, min, max, init);
  if (!t) return WASM_ERR_NOMEM;
  *out = t;
  return WASM_OK;
}

void wasm_table_free(wasm_table *t) { table_release(t); }

uint32_t wasm_table_size(const wasm_table *t) { return t ? t->size : 0; }

wasm_status wasm_table_get(const wasm_table *t, uint32_t i, void **out) {
  if (!t || !out) return WASM_ERR_ARG;
  if (i >= t->size) return WASM_TRAP_TABLE_OOB;
  *out = t->elems[i];
  return WASM_OK;
}

wasm_status wasm_table_set(wasm_table *t, uint32_t i, void *ref) {
  if (!t) return WASM_ERR_ARG;
  if (i >= t->size) return WASM_TRAP_TABLE_OOB;
  t->elems[i] = ref;
  return WASM_OK;
}

/* ---- Globals ----------------------------------------------------------- */

static void global_retain(wasm_global *g) {
  atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

static void global_release(wasm_global *g) {
  if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) free(g);
}

wasm_status wasm_global_new(wasm_value init, int mutable_, wasm_global **out) {
  if (!out || !is_valtype((uint8_t)init.type)) return WASM_ERR_ARG;
  wasm_global *g = calloc(1, sizeof *g);
  if (!g) return WASM_ERR_NOMEM;
  g->type = (uint8_t)init.type;
  g->mut = mutable_ != 0;
  value_to_slots(&init, g->type, g->val);
  atomic_init(&g->refs, 1);
  *out = g;
  return WASM_OK;
}

void wasm_global_free(wasm_global *g) { global_release(g); }

void wasm_global_get(const wasm_global *g, wasm_value *out) {
  if (g && out) slots_to_value(g->val, g->type, out);
}

wasm_status wasm_global_set(wasm_global *g, wasm_value v) {
  if (!g || !g->mut || (uint8_t)v.type != g->type) return WASM_ERR_ARG;
  value_to_slots(&v, g->type, g->val);
  return WASM_OK;
}

/* ---- Signatures -------------------------------------------------------- */

static bool letter_type(char c, uint8_t *t) {
  switch (c) {
  case 'i': *t = WASM_I32; return true;
  case 'I': *t = WASM_I64; return true;
  case 'f': *t = WASM_F32; return true;
  case 'F': *t = WASM_F64; return true;
  case 'v': *t = WASM_V128; return true;
  case 'r': *t = WASM_FUNCREF; return true;
  case 'e': *t = WASM_EXTERNREF; return true;
  default: return false;
  }
}

/* ---- Linker ------------------------------------------------------------ */

/* A host function defined through the linker, with its parsed type; the
 * type bytes and signature text follow the struct in the same block. */
typedef struct host_func {
  wasm_func f;
  wasm_functype type;
  wasm_env_free_fn env_free; /* owned env (wasm_linker_define_func_owned) */
  struct host_func *next;
} host_func;

typedef struct {
  char *module, *name; /* one allocation: module '\0' name '\0' */
  uint32_t hash;
  wasm_extern ext;
} link_entry;

/* Entries in definition order plus an open-addressed hash index, so that
 * resolving a module's imports costs O(imports), not O(imports * defs). */
struct wasm_linker {
  link_entry *v;
  uint32_t n, cap;
  uint32_t *index;    /* [index_cap] entry + 1, 0 = empty */
  uint32_t index_cap; /* power of two, > 2 * n */
  host_func *hosts;   /* every host function ever defined */
};

uint32_t wasmi_link_hash(const char *module, const char *name) {
  uint32_t h = 2166136261u;
  for (const char *p = module; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  h = (h ^ 0xff) * 16777619u; /* separator: ("ab","c") != ("a","bc") */
  for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  return h;
}

static link_entry *linker_find(const wasm_linker *l, const char *module, const char *name,
                               uint32_t h) {
  if (!l || !l->index_cap) return NULL;
  uint32_t mask = l->index_cap - 1;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    uint32_t k = l->index[i];
    if (!k) return NULL;
    link_entry *e = &l->v[k - 1];
    if (e->hash == h && strcmp(e->module, module) == 0 && strcmp(e->name, name) == 0) return e;
  }
}

static bool linker_reindex(wasm_linker *l, uint32_t cap) {
  uint32_t *idx = calloc(cap, sizeof *idx);
  if (!idx) return false;
  for (uint32_t k = 0; k < l->n; k++) {
    uint32_t i = l->v[k].hash & (cap - 1);
    while (idx[i]) i = (i + 1) & (cap - 1);
    idx[i] = k + 1;
  }
  free(l->index);
  l->index = idx;
  l->index_cap = cap;
  return true;
}

static void extern_retain(const wasm_extern *e) {
  switch (e->kind) {
  case WASM_EXTERN_TABLE: table_retain(e->of.table); break;
  case WASM_EXTERN_MEMORY: wasmi_memory_retain(e->of.memory); break;
  case WASM_EXTERN_GLOBAL: global_retain(e->of.global); break;
  default: break;
  }
}

static void extern_release(const wasm_extern *e) {
  switch (e->kind) {
  case WASM_EXTERN_TABLE: table_release(e->of.table); break;
  case WASM_EXTERN_MEMORY: wasmi_memory_release(e->of.memory); break;
  case WASM_EXTERN_GLOBAL: global_release(e->of.global); break;
  default: break;
  }
}

wasm_linker *wasm_linker_new(void) { return calloc(1, sizeof(wasm_linker)); }

/* Frees the linker, its host functions, their owned envs and its
 * references to memories, tables and globals. Instances that imported a
 * host function do not point into the linker (they copy it), so they may
 * outlive it unless its env was owned (wasm.h). */
void wasm_linker_free(wasm_linker *l) {
  if (!l) return;
  for (uint32_t i = 0; i < l->n; i++) {
    extern_release(&l->v[i].ext);
    free(l->v[i].module);
  }
  for (host_func *h = l->hosts, *next; h; h = next) {
    next = h->next;
    if (h->env_free) h->env_free(h->f.host_env);
    free(h);
  }
  free(l->v);
  free(l->index);
  free(l);
}

wasm_status wasm_linker_define(wasm_linker *l, const char *module, const char *name,
                               wasm_extern ext) {
  if (!l || !module || !name || ext.kind > WASM_EXTERN_GLOBAL || !ext.of.func) return WASM_ERR_ARG;
  uint32_t h = wasmi_link_hash(module, name);
  link_entry *e = linker_find(l, module, name, h);
  if (e) {
    extern_retain(&ext);
    extern_release(&e->ext);
    e->ext = ext;
    return WASM_OK;
  }
  if (l->n == l->cap) {
    uint32_t cap = l->cap ? l->cap * 2 : 16;
    link_entry *v = realloc(l->v, cap * sizeof *v);
    if (!v) return WASM_ERR_NOMEM;
    l->v = v;
    l->cap = cap;
  }
  size_t ml = strlen(module), nl = strlen(name);
  char *s = malloc(ml + nl + 2);
  if (!s) return WASM_ERR_NOMEM;
  memcpy(s, module, ml + 1);
  memcpy(s + ml + 1, name, nl + 1);
  e = &l->v[l->n++];
  e->module = s;
  e->name = s + ml + 1;
  e->hash = h;
  e->ext = ext;
  if ((uint64_t)l->n * 2 >= l->index_cap) {
    if (!linker_reindex(l, l->index_cap ? l->index_cap * 2 : 64)) {
      l->n--;
      free(s);
      return WASM_ERR_NOMEM;
    }
  } else {
    uint32_t mask = l->index_cap - 1, i = h & mask;
    while (l->index[i]) i = (i + 1) & mask;
    l->index[i] = l->n;
  }
  extern_retain(&ext);
  return WASM_OK;
}

/* Defines a host function; on failure returns the error and leaves env to
 * the caller. */
static wasm_status define_host(wasm_linker *l, const char *module, const char *name,
                               const char *signature, wasm_host_fn fn, void *env,
                               wasm_env_free_fn env_free) {
  if (!l || !module || !name || !signature || !fn) return WASM_ERR_ARG;
  const char *arrow = strstr(signature, "->");
  if (!arrow || strstr(arrow + 2, "->")) return WASM_ERR_ARG;
  size_t np = (size_t)(arrow - signature), nr = strlen(arrow + 2);
  size_t siglen = strlen(signature);
  host_func *h = calloc(1, sizeof *h + np + nr + siglen + 1);
  if (!h) return WASM_ERR_NOMEM;
  h->env_free = env_free;
  uint8_t *types = (uint8_t *)(h + 1);
  char *sig = (char *)types + np + nr;
  uint32_t pslots = 0, rslots = 0;
  for (size_t i = 0; i < np + nr; i++) {
    char c = i < np ? signature[i] : arrow[2 + i - np];
    if (!letter_type(c, &types[i])) {
      free(h);
      return WASM_ERR_ARG;
    }
    uint32_t slots = types[i] == WASM_V128 ? 2 : 1;
    if (i < np) pslots += slots;
    else rslots += slots;
  }
  memcpy(sig, signature, siglen + 1);
  h->type = (wasm_functype){.nparams = (uint32_t)np,
                            .nresults = (uint32_t)nr,
                            .types = types,
                            .param_slots = pslots,
                            .result_slots = rslots,
                            .canon = 0,
                            .sig = sig};
  h->f = (wasm_func){.type = &h->type,
                     .inst = NULL,
                     .index = UINT32_MAX,
                     .code = NULL,
                     .host = fn,
                     .host_env = env};
  wasm_extern ext = {.kind = WASM_EXTERN_FUNC, .of.func = &h->f};
  wasm_status st = wasm_linker_define(l, module, name, ext);
  if (st != WASM_OK) {
    free(h);
    return st;
  }
  h->next = l->hosts;
  l->hosts = h;
  return WASM_OK;
}

wasm_status wasm_linker_define_func(wasm_linker *l, const char *module, const char *name,
                                    const char *signature, wasm_host_fn fn, void *env) {
  return define_host(l, module, name, signature, fn, env, NULL);
}

wasm_status wasm_linker_define_func_owned(wasm_linker *l, const char *module, const char *name,
                                          const char *signature, wasm_host_fn fn, void *env,
                                          wasm_env_free_fn env_free) {
  wasm_status st = define_host(l, module, name, signature, fn, env, env_free);
  if (st != WASM_OK && env_free) env_free(env);
  return st;
}

/* ---- Instance layout --------------------------------------------------- */

/* Byte offsets of the arrays that share the instance's allocation. */
typedef struct {
  size_t globals, tables, funcs, types, storage, hosts;
  size_t data_dropped, elem_dropped, elem_refs, inline_globals, pool;
  size_t total;
} layout;

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static bool compute_layout(const wasm_module *m, layout *L) {
  uint64_t pool = 0;
  for (uint32_t s = 0; s < m->nelems; s++)
    if (m->elems[s].mode == WASM_SEG_PASSIVE) pool += m->elems[s].count;
  uint64_t at = align16(sizeof(wasm_instance));
#define PLACE(field, bytes)                                                                        \
  do {                                                                                             \
    L->field = (size_t)at;                                                                         \
    at = align16(at + (bytes));                                                                    \
  } while (0)
  PLACE(globals, (uint64_t)m->nglobals * sizeof(wasm_global *));
  PLACE(tables, (uint64_t)m->ntables * sizeof(wasm_table *));
  PLACE(funcs, (uint64_t)m->nfuncs * sizeof(wasm_func *));
  PLACE(types, (uint64_t)m->ntypes * sizeof(wasm_functype *));
  PLACE(storage, (uint64_t)(m->nfuncs - m->nfunc_imports) * sizeof(wasm_func));
  PLACE(hosts, (uint64_t)m->nfunc_imports * sizeof(wasm_func));
  PLACE(data_dropped, m->ndatas);
  PLACE(elem_dropped, m->nelems);
  PLACE(elem_refs, (uint64_t)m->nelems * sizeof(void **));
  PLACE(inline_globals, (uint64_t)(m->nglobals - m->nglobal_imports) * sizeof(wasm_global));
  PLACE(pool, pool * sizeof(void *));
#undef PLACE
  L->total = (size_t)at;
  return at < ((uint64_t)1 << 40);
}

#define AT(inst, off, type) ((type)((uint8_t *)(inst) + (off)))

/* Instances whose instantiation trapped after their functions may have been
 * stored into an imported table or global. The spec keeps those writes, so
 * the functions must stay callable: such instances are parked here instead
 * of freed. Rare (a trapping start function or segment in a module that
 * imports tables or reference globals); reachable, so LSan does not flag it. */
typedef struct parked {
  wasm_instance *inst;
  struct parked *next;
} parked;
static parked *parked_list;
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;

static bool park_instance(wasm_instance *inst) {
  parked *p = malloc(sizeof *p);
  if (!p) return false;
  p->inst = inst;
  pthread_mutex_lock(&parked_lock);
  p->next = parked_list;
  parked_list = p;
  pthread_mutex_unlock(&parked_lock);
  return true;
}

/* ---- Import matching --------------------------------------------------- */

static void limits_text(char *buf, size_t n, const char *what, uint32_t min, bool has_max,
                        uint32_t max) {
  if (has_max) snprintf(buf, n, "%s%s%u..%u", what, *what ? " " : "", min, max);
  else snprintf(buf, n, "%s%s%u..", what, *what ? " " : "", min);
}

static void import_text(const wasm_module *m, const wasm_import *im, char *buf, size_t n) {
  switch (im->kind) {
  case WASM_EXTERN_FUNC: snprintf(buf, n, "func %s", m->types[im->desc.func_type].sig); break;
  case WASM_EXTERN_TABLE: {
    char b[64];
    limits_text(b, sizeof b, wasm_valtype_str((wasm_valtype)im->desc.table.elemtype),
                im->desc.table.limits.min, im->desc.table.limits.has_max,
                im->desc.table.limits.max);
    snprintf(buf, n, "table %s", b);
    break;
  }
  case WASM_EXTERN_MEMORY: {
    char b[64];
    limits_text(b, sizeof b, "pages", im->desc.mem.limits.min, im->desc.mem.limits.has_max,
                im->desc.mem.limits.max);
    snprintf(buf, n, "memory %s", b);
    break;
  }
  default:
    snprintf(buf, n, "global %s%s", im->desc.global.mut ? "mut " : "",
             wasm_valtype_str((wasm_valtype)im->desc.global.type));
    break;
  }
}

static void extern_text(const wasm_extern *e, char *buf, size_t n) {
  switch (e->kind) {
  case WASM_EXTERN_FUNC:
    snprintf(buf, n, "func %s", e->of.func->type->sig ? e->of.func->type->sig : "?");
    break;
  case WASM_EXTERN_TABLE: {
    const wasm_table *t = e->of.table;
    char b[64];
    limits_text(b, sizeof b, wasm_valtype_str((wasm_valtype)t->elemtype), t->size,
                t->max != UINT32_MAX, t->max);
    snprintf(buf, n, "table %s", b);
    break;
  }
  case WASM_EXTERN_MEMORY: {
    const wasm_memory *mem = e->of.memory;
    char b[64];
    limits_text(b, sizeof b, "pages", (uint32_t)(wasm_memory_size(mem) / WASM_PAGE_SIZE),
                mem->max_pages != UINT32_MAX, mem->max_pages);
    snprintf(buf, n, "memory %s", b);
    break;
  }
  default:
    snprintf(buf, n, "global %s%s", e->of.global->mut ? "mut " : "",
             wasm_valtype_str((wasm_valtype)e->of.global->type));
    break;
  }
}

/* Limits subtyping: the provided object must be at least as large as
 * declared, and bounded at least as tightly when a maximum is declared. */
static bool limits_match(uint64_t cur, uint32_t max, const wasm_limits *want) {
  if (cur < want->min) return false;
  if (want->has_max && (max == UINT32_MAX || max > want->max)) return false;
  return true;
}

static bool import_matches(const wasm_module *m, const wasm_import *im, const wasm_extern *e) {
  if (e->kind != im->kind) return false;
  switch (im->kind) {
  case WASM_EXTERN_FUNC:
    return wasm_functype_equal(e->of.func->type, &m->types[im->desc.func_type]);
  case WASM_EXTERN_TABLE:
    return e->of.table->elemtype == im->desc.table.elemtype &&
           limits_match(e->of.table->size, e->of.table->max, &im->desc.table.limits);
  case WASM_EXTERN_MEMORY:
    return limits_match(wasm_memory_size(e->of.memory) / WASM_PAGE_SIZE, e->of.memory->max_pages,
                        &im->desc.mem.limits);
  default:
    return e->of.global->type == im->desc.global.type && e->of.global->mut == im->desc.global.mut;
  }
}

/* ---- Instantiation ----------------------------------------------------- */

/* Evaluates a constant expression into slots (two for v128). Validation
 * guarantees global.get names an already initialised global. */
static void eval_const(const wasm_instance *inst, const wasm_const_expr *e, wasm_slot *out) {
  out[0] = out[1] = 0;
  switch (e->kind) {
  case WASM_CONST_VALUE:
    value_to_slots(&e->value, e->type ? e->type : (uint8_t)e->value.type, out);
    break;
  case WASM_CONST_GLOBAL_GET: {
    const wasm_global *g = inst->globals[e->index];
    out[0] = g->val[0];
    out[1] = g->val[1];
    break;
  }
  case WASM_CONST_REF_NULL: break;
  case WASM_CONST_REF_FUNC: out[0] = (uintptr_t)inst->funcs[e->index]; break;
  }
}

/* Element items are nearly always ref.func: keep that path inline. */
static inline void *eval_ref(const wasm_instance *inst, const wasm_const_expr *e) {
  if (WASM_LIKELY(e->kind == WASM_CONST_REF_FUNC)) return inst->funcs[e->index];
  if (e->kind == WASM_CONST_REF_NULL) return NULL;
  wasm_slot s[2];
  eval_const(inst, e, s);
  return (void *)(uintptr_t)s[0];
}

static void release_parts(wasm_instance *inst) {
  const wasm_module *m = inst->module;
  layout L;
  compute_layout(m, &L);
  wasm_global *inl_lo = AT(inst, L.inline_globals, wasm_global *);
  wasm_global *inl_hi = inl_lo + (m->nglobals - m->nglobal_imports);
  for (uint32_t i = 0; i < m->nglobals; i++) {
    wasm_global *g = inst->globals[i];
    if (g && !(g >= inl_lo && g < inl_hi)) global_release(g);
  }
  for (uint32_t i = 0; i < m->ntables; i++) table_release(inst->tables[i]);
  wasmi_memory_release(inst->memory);
}

void wasm_instance_free(wasm_instance *inst) {
  if (!inst) return;
  wasmi_aot_instance_free(inst);
  release_parts(inst);
  free(inst);
}

/* Which globals other instances can import: those get their own
 * reference-counted cell; the rest live inside the instance block. */
static bool global_exported(const wasm_module *m, uint32_t g) {
  for (uint32_t i = 0; i < m->nexports; i++)
    if (m->exports[i].kind == WASM_EXTERN_GLOBAL && m->exports[i].index == g) return true;
  return false;
}

wasm_status wasm_instantiate(const wasm_module *m, const wasm_linker *linker,
                             const wasm_instance_opts *opts, wasm_instance **out, wasm_error *err) {
  if (!m || !out) return fail(err, WASM_ERR_ARG, "wasm_instantiate: no module or output");
  layout L;
  if (!compute_layout(m, &L)) return fail(err, WASM_ERR_NOMEM, "instance too large");
  /* Not calloc: for a large module the function objects dominate the block
   * and are all written below; zero only what is read before it is set
   * (the struct and everything up to the function arrays, the flags). */
  wasm_instance *inst = malloc(L.total);
  if (!inst) return fail(err, WASM_ERR_NOMEM, "out of memory allocating an instance");
  memset(inst, 0, L.funcs);
  memset((uint8_t *)inst + L.data_dropped, 0, L.inline_globals - L.data_dropped);

  inst->module = m;
  inst->globals = AT(inst, L.globals, wasm_global **);
  inst->tables = AT(inst, L.tables, wasm_table **);
  inst->funcs = AT(inst, L.funcs, wasm_func **);
  inst->types = AT(inst, L.types, const wasm_functype **);
  inst->func_storage = AT(inst, L.storage, wasm_func *);
  inst->data_dropped = AT(inst, L.data_dropped, uint8_t *);
  inst->elem_dropped = AT(inst, L.elem_dropped, uint8_t *);
  inst->elem_refs = AT(inst, L.elem_refs, void ***);
  atomic_init(&inst->interrupted, 0);
  if (opts) inst->opts = *opts;
  if (!inst->opts.max_memory_pages || inst->opts.max_memory_pages > WASM_MAX_PAGES)
    inst->opts.max_memory_pages = WASM_MAX_PAGES;
  if (!inst->opts.max_call_depth) inst->opts.max_call_depth = DEFAULT_CALL_DEPTH;
  if (!inst->opts.stack_slots) inst->opts.stack_slots = DEFAULT_STACK_SLOTS;
  inst->user_data = inst->opts.user_data;

  for (uint32_t t = 0; t < m->ntypes; t++) inst->types[t] = &m->types[m->types[t].canon];

  /* 1. Resolve and check imports. Nothing is retained until all match, so a
   * link error only frees the block. */
  wasm_func *hosts = AT(inst, L.hosts, wasm_func *);
  uint32_t fi = 0, ti = 0, mi = 0, gi = 0;
  wasm_memory *imported_mem = NULL;
  bool imports_refs = false; /* imports a table or reference global */
  for (uint32_t i = 0; i < m->nimports; i++) {
    const wasm_import *im = &m->imports[i];
    link_entry *e = linker_find(linker, im->module, im->name, im->link_hash);
    if (!e) {
      free(inst);
      return fail(err, WASM_ERR_LINK, "unknown import: \"%s\".\"%s\"", im->module, im->name);
    }
    if (!import_matches(m, im, &e->ext)) {
      char want[96], got[96];
      import_text(m, im, want, sizeof want);
      extern_text(&e->ext, got, sizeof got);
      free(inst);
      return fail(err, WASM_ERR_LINK,
                  "incompatible import type for \"%s\".\"%s\": expected %s, got %s", im->module,
                  im->name, want, got);
    }
    switch (im->kind) {
    case WASM_EXTERN_FUNC: {
      wasm_func *f = e->ext.of.func;
      if (f->host) {
        /* A private copy typed with this module's canonical type: the
         * instance does not depend on the linker's lifetime, and
         * call_indirect's pointer comparison hits for host functions. */
        wasm_func *h = &hosts[fi];
        *h = *f;
        h->type = inst->types[im->desc.func_type];
        h->inst = NULL;
        h->index = fi;
        f = h;
      }
      inst->funcs[fi++] = f;
      break;
    }
    case WASM_EXTERN_TABLE:
      inst->tables[ti++] = e->ext.of.table;
      imports_refs = true;
      break;
    case WASM_EXTERN_MEMORY:
      if (mi++ == 0) imported_mem = e->ext.of.memory;
      break;
    default:
      if (is_reftype(im->desc.global.type)) imports_refs = true;
      inst->globals[gi++] = e->ext.of.global;
      break;
    }
  }
  for (uint32_t i = 0; i < ti; i++) table_retain(inst->tables[i]);
  for (uint32_t i = 0; i < gi; i++) global_retain(inst->globals[i]);
  if (imported_mem) {
    wasmi_memory_retain(imported_mem);
    inst->memory = imported_mem;
  }

  /* 2. Memory 0 (only one memory exists in WebAssembly 2.0). */
  if (!imported_mem && m->nmems > 0) {
    const wasm_limits *lim = &m->mems[0].limits;
    uint32_t cap = inst->opts.max_memory_pages;
    if (lim->min > cap) {
      wasm_instance_free(inst);
      return fail(err, WASM_ERR_NOMEM, "memory of %u pages exceeds the instance limit of %u pages",
                  lim->min, cap);
    }
    wasm_status st =
        wasmi_memory_create(lim->min, lim->has_max ? lim->max : UINT32_MAX, cap, &inst->memory);
    if (st != WASM_OK) {
      wasm_instance_free(inst);
      return fail(err, WASM_ERR_NOMEM,
                  "cannot create a linear memory of %u pages: out of memory or address space "
                  "(each memory reserves 8 GiB; check ulimit -v / RLIMIT_AS)",
                  lim->min);
    }
  }
  if (inst->memory) inst->mem_base = inst->memory->base;

  /* 3. Defined tables, filled with null. */
  for (uint32_t t = m->ntable_imports; t < m->ntables; t++) {
    const wasm_tabletype *tt = &m->tables[t];
    if (tt->limits.min > WASM_TABLE_MAX_ENTRIES) {
      wasm_instance_free(inst);
      return fail(err, WASM_ERR_NOMEM, "table %u of %u entries exceeds the limit of %u", t,
                  tt->limits.min, WASM_TABLE_MAX_ENTRIES);
    }
    inst->tables[t] = table_create(tt->elemtype, tt->limits.min,
                                   tt->limits.has_max ? tt->limits.max : UINT32_MAX, NULL);
    if (!inst->tables[t]) {
      wasm_instance_free(inst);
      return fail(err, WASM_ERR_NOMEM, "out of memory allocating table %u", t);
    }
  }

  /* 4. Function index space; defined functions before globals, whose
   * initialisers may be ref.func. */
  for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
    wasm_func *f = &inst->func_storage[i - m->nfunc_imports];
    f->type = inst->types[m->func_type[i]];
    f->inst = inst;
    f->index = i;
    f->code = m->bodies[i - m->nfunc_imports].compiled;
    f->host = NULL;
    f->host_env = NULL;
    inst->funcs[i] = f;
  }

  /* 5. Defined globals. */
  wasm_global *inline_globals = AT(inst, L.inline_globals, wasm_global *);
  for (uint32_t g = m->nglobal_imports; g < m->nglobals; g++) {
    wasm_global *cell = &inline_globals[g - m->nglobal_imports];
    if (global_exported(m, g)) {
      cell = calloc(1, sizeof *cell);
      if (!cell) {
        wasm_instance_free(inst);
        return fail(err, WASM_ERR_NOMEM, "out of memory allocating global %u", g);
      }
    }
    cell->type = m->global_types[g].type;
    cell->mut = m->global_types[g].mut;
    atomic_init(&cell->refs, 1);
    eval_const(inst, &m->global_inits[g], cell->val);
    inst->globals[g] = cell;
  }

  /* 5b. Native code's context (needs the globals and memory). */
  if (m->aot && wasmi_aot_instance_init(inst, err) != WASM_OK) {
    wasm_instance_free(inst);
    return WASM_ERR_NOMEM;
  }

  /* 6. Element segments: passive ones keep their references; active ones
   * are table.init then elem.drop, in order; declarative ones are dropped. */
  void **pool = AT(inst, L.pool, void **);
  wasm_status st = WASM_OK;
  bool side_effects = false; /* an imported object may now hold our funcs */
  for (uint32_t s = 0; s < m->nelems; s++) {
    const wasm_elem *el = &m->elems[s];
    if (el->mode == WASM_SEG_PASSIVE) {
      inst->elem_refs[s] = pool;
      for (uint32_t k = 0; k < el->count; k++) pool[k] = eval_ref(inst, &el->items[k]);
      pool += el->count;
      continue;
    }
    inst->elem_dropped[s] = 1;
    if (el->mode != WASM_SEG_ACTIVE) continue;
    wasm_slot off[2];
    eval_const(inst, &el->offset, off);
    wasm_table *tab = inst->tables[el->table];
    uint64_t start = (uint32_t)off[0];
    if (start + el->count > tab->size) {
      st = fail(err, WASM_TRAP_TABLE_OOB,
                "out of bounds table access: element segment %u writes %u entries at "
                "%llu into table %u of size %u",
                s, el->count, (unsigned long long)start, el->table, tab->size);
      break;
    }
    if (el->table < m->ntable_imports && el->count) side_effects = true;
    for (uint32_t k = 0; k < el->count; k++) tab->elems[start + k] = eval_ref(inst, &el->items[k]);
  }

  /* 7. Data segments: memory.init then data.drop for active ones. */
  for (uint32_t d = 0; st == WASM_OK && d < m->ndatas; d++) {
    const wasm_data *seg = &m->datas[d];
    if (seg->mode != WASM_SEG_ACTIVE) continue;
    inst->data_dropped[d] = 1;
    wasm_slot off[2];
    eval_const(inst, &seg->offset, off);
    uint64_t start = (uint32_t)off[0];
    uint64_t size = inst->memory ? wasm_memory_size(inst->memory) : 0;
    if (start + seg->size > size) {
      st = fail(err, WASM_TRAP_MEM_OOB,
                "out of bounds memory access: data segment %u writes %u bytes at %llu "
                "into memory of %llu bytes",
                d, seg->size, (unsigned long long)start, (unsigned long long)size);
      break;
    }
    if (seg->size) memcpy(inst->mem_base + start, seg->bytes, seg->size);
  }

  /* 8. The start function. */
  if (st == WASM_OK && m->has_start) {
    wasm_slot slots[2] = {0, 0};
    if (imports_refs) side_effects = true;
    if (inst->opts.on_start) inst->opts.on_start(inst, inst->opts.on_start_arg);
    st = wasmi_interp_invoke(inst->funcs[m->start], slots, err);
    if (inst->opts.on_start) inst->opts.on_start(NULL, inst->opts.on_start_arg);
  }

  if (st != WASM_OK) {
    if (!(side_effects && park_instance(inst))) wasm_instance_free(inst);
    return st;
  }
  *out = inst;
  return WASM_OK;
}

/* ---- Instance accessors ------------------------------------------------ */

const wasm_module *wasm_instance_module(const wasm_instance *inst) {
  return inst ? inst->module : NULL;
}

void *wasm_instance_user_data(const wasm_instance *inst) { return inst ? inst->user_data : NULL; }

wasm_memory *wasm_instance_memory(wasm_instance *inst) { return inst ? inst->memory : NULL; }

static bool export_extern(wasm_instance *inst, const wasm_export *x, wasm_extern *out) {
  out->kind = (wasm_extern_kind)x->kind;
  switch (x->kind) {
  case WASM_EXTERN_FUNC: out->of.func = inst->funcs[x->index]; break;
  case WASM_EXTERN_TABLE: out->of.table = inst->tables[x->index]; break;
  case WASM_EXTERN_MEMORY: out->of.memory = inst->memory; break;
  case WASM_EXTERN_GLOBAL: out->of.global = inst->globals[x->index]; break;
  default: return false;
  }
  return out->of.func != NULL;
}

wasm_status wasm_instance_export(wasm_instance *inst, const char *name, wasm_extern *out) {
  if (!inst || !name || !out) return WASM_ERR_ARG;
  const wasm_module *m = inst->module;
  for (uint32_t i = 0; i < m->nexports; i++)
    if (strcmp(m->exports[i].name, name) == 0)
      return export_extern(inst, &m->exports[i], out) ? WASM_OK : WASM_ERR_NOT_FOUND;
  return WASM_ERR_NOT_FOUND;
}

wasm_func *wasm_instance_export_func(wasm_instance *inst, const char *name) {
  wasm_extern e;
  if (wasm_instance_export(inst, name, &e) != WASM_OK || e.kind != WASM_EXTERN_FUNC) return NULL;
  return e.of.func;
}

wasm_status wasm_linker_define_instance(wasm_linker *l, const char *module, wasm_instance *inst) {
  if (!l || !module || !inst) return WASM_ERR_ARG;
  const wasm_module *m = inst->module;
  for (uint32_t i = 0; i < m->nexports; i++) {
    wasm_extern e;
    if (!export_extern(inst, &m->exports[i], &e)) continue;
    wasm_status st = wasm_linker_define(l, module, m->exports[i].name, e);
    if (st != WASM_OK) return st;
  }
  return WASM_OK;
}

/* Async-signal-safe: atomic stores the interpreter and native code poll. */
void wasm_instance_interrupt(wasm_instance *inst) {
  if (!inst) return;
  atomic_store(&inst->interrupted, 1);
  wasmi_aot_interrupt(inst, true);
}

void wasm_instance_clear_interrupt(wasm_instance *inst) {
  if (!inst) return;
  atomic_store(&inst->interrupted, 0);
  wasmi_aot_interrupt(inst, false);
}

int wasm_instance_interrupt_pending(const wasm_instance *inst) {
  return inst && atomic_load_explicit(&((wasm_instance *)inst)->interrupted, memory_order_relaxed);
}

void wasm_instance_set_trap_detail(wasm_instance *inst, int32_t exit_code, const char *msg) {
  if (!inst) return;
  inst->exit_code = exit_code;
  size_t n = msg ? strnlen(msg, sizeof inst->trap_msg - 1) : 0;
  if (n) memcpy(inst->trap_msg, msg, n);
  inst->trap_msg[n] = '\0';
}

/* ---- Calling ----------------------------------------------------------- */

const char *wasm_func_signature(const wasm_func *f) {
  return f && f->type->sig ? f->type->sig : "";
}

uint32_t wasm_func_param_count(const wasm_func *f) { return f ? f->type->nparams : 0; }
uint32_t wasm_func_result_count(const wasm_func *f) { return f ? f->type->nresults : 0; }

wasm_valtype wasm_func_param_type(const wasm_func *f, uint32_t i) {
  return f && i < f->type->nparams ? (wasm_valtype)wasm_functype_param(f->type, i)
                                   : (wasm_valtype)0;
}

wasm_valtype wasm_func_result_type(const wasm_func *f, uint32_t i) {
  return f && i < f->type->nresults ? (wasm_valtype)wasm_functype_result(f->type, i)
                                    : (wasm_valtype)0;
}

/* Checks the typed arguments, runs the function and converts the results.
 * `nresults` may exceed the function's result count; only that many are
 * written. */
wasm_status wasm_func_call(wasm_func *f, const wasm_value *args, uint32_t nargs,
                           wasm_value *results, uint32_t nresults, wasm_error *err) {
  if (!f) return fail(err, WASM_ERR_ARG, "wasm_func_call: no function");
  const wasm_functype *t = f->type;
  if (nargs != t->nparams || (nargs && !args))
    return fail(err, WASM_ERR_ARG, "function %s expects %u argument%s, got %u", t->sig, t->nparams,
                t->nparams == 1 ? "" : "s", nargs);
  if (nresults < t->nresults || (t->nresults && !results))
    return fail(err, WASM_ERR_ARG, "function %s returns %u result%s, room for %u", t->sig,
                t->nresults, t->nresults == 1 ? "" : "s", nresults);
  uint32_t n = t->param_slots > t->result_slots ? t->param_slots : t->result_slots;
  wasm_slot local[32];
  wasm_slot *slots = local;
  if (n > 32) {
    slots = malloc((size_t)n * sizeof *slots);
    if (!slots) return fail(err, WASM_ERR_NOMEM, "out of memory for call arguments");
  }
  uint32_t k = 0;
  for (uint32_t i = 0; i < nargs; i++) {
    uint8_t want = wasm_functype_param(t, i);
    if ((uint8_t)args[i].type != want) {
      if (slots != local) free(slots);
      return fail(err, WASM_ERR_ARG, "function %s: argument %u must be %s, got %s", t->sig, i,
                  wasm_valtype_str((wasm_valtype)want),
                  wasm_valtype_str((wasm_valtype)(uint8_t)args[i].type));
    }
    value_to_slots(&args[i], want, &slots[k]);
    k += want == WASM_V128 ? 2 : 1;
  }
  /* Trap detail set by host functions belongs to this call only. */
  if (f->inst && !wasmi_tls_trap_point) {
    f->inst->trap_msg[0] = '\0';
    f->inst->exit_code = 0;
  }
  /* wasmi_interp_invoke sets up the trap handler (wasmi_trap_thread_init, one
   * sigaction per outermost entry): not repeated here. */
  wasm_status st = wasmi_interp_invoke(f, slots, err);
  if (st == WASM_OK) {
    k = 0;
    for (uint32_t i = 0; i < t->nresults; i++) {
      uint8_t rt = wasm_functype_result(t, i);
      slots_to_value(&slots[k], rt, &results[i]);
      k += rt == WASM_V128 ? 2 : 1;
    }
  }
  if (slots != local) free(slots);
  return st;
}

wasm_status wasm_instance_call(wasm_instance *inst, const char *name, const wasm_value *args,
                               uint32_t nargs, wasm_value *results, uint32_t nresults,
                               wasm_error *err) {
  wasm_func *f = wasm_instance_export_func(inst, name);
  if (!f) return fail(err, WASM_ERR_NOT_FOUND, "no exported function \"%s\"", name ? name : "");
  return wasm_func_call(f, args, nargs, results, nresults, err);
}
