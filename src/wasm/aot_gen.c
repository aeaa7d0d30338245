/* aot_gen.c — the AOT translator: a validated module as one C file written
 * against aot_abi.h.
 *
 * One static C function `w<idx>` per defined wasm function. Parameters and
 * locals are C variables `l<n>`; the operand stack is C variables too, one
 * per (height, type) pair as wasm2c does: `i3` is the i32 at stack height 3,
 * `j` i64, `f` f32, `d` f64, `v` v128, `r` references. A branch that carries
 * values copies them into the target's variables, so every block, loop and
 * if is a label and a goto; br_table is a switch. The semantics are the
 * interpreter's own: numeric operators are numops.h's OPS_* macros,
 * loads and stores its LDX_* / STX_* macros, SIMD operations simd_ops.h's
 * wasm_simd_* functions, each generated from opcodes.def as compile.c and
 * interp.c do, so the tiers cannot drift. Traps go through rt->trap with the
 * function index and the module offset of the trapping instruction (the
 * interpreter's "at 0x..." convention). Memory accesses are unchecked: the
 * base never moves and the reservation's guard pages turn any u32 address +
 * u32 offset out of bounds into a fault that the engine's signal handler
 * makes a trap. Code after br, br_table, return and unreachable is skipped
 * up to the end of its block, as compile.c does. Every function checks the
 * call depth (passed in a register), the native stack and interruption on
 * entry with one load; loop back-edges check interruption (aot_abi.h).
 *
 * Entries `e<idx>` unpack the engine's slot layout, call the function and
 * pack its results; the descriptor lists them in function index order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aot.h"
#include "wasm_int.h"

/* ---- Opcode table from opcodes.def -------------------------------------- */

enum {
  K_SPECIAL,
  K_NUMERIC,
  K_LOAD,
  K_STORE,
  K_EXTRACT_LANE,
  K_REPLACE_LANE,
  K_LOAD_LANE,
  K_STORE_LANE
};

#define T_NONE 0
#define T_I32 WASM_I32
#define T_I64 WASM_I64
#define T_F32 WASM_F32
#define T_F64 WASM_F64
#define T_V128 WASM_V128

typedef struct {
  const char *name; /* the opcodes.def name: OPS_<name>, LDX_<name>, wasm_simd_<name> */
  uint8_t valid, kind, res, p1, p2, p3;
} opinfo;

#define OPI(name, code, text, kind, res, p1, p2, p3, lanes)                                        \
  [code] = {#name, 1, K_##kind, T_##res, T_##p1, T_##p2, T_##p3},
static const opinfo OPS[256] = {
#define WASM_OP OPI
#include "opcodes.def"
};
static const opinfo OPS_FC[32] = {
#define WASM_OP_FC OPI
#include "opcodes.def"
};
static const opinfo OPS_FD[256] = {
#define WASM_OP_FD OPI
#include "opcodes.def"
};
#undef OPI

/* The single-byte numeric operators whose OPS_* macro can TRAP: integer
 * division and remainder, and the trapping float-to-int truncations. */
static bool op_traps(uint8_t op) {
  return (op >= WASM_OP_I32_DIV_S && op <= WASM_OP_I32_REM_U) ||
         (op >= WASM_OP_I64_DIV_S && op <= WASM_OP_I64_REM_U) ||
         (op >= WASM_OP_I32_TRUNC_F32_S && op <= WASM_OP_I32_TRUNC_F64_U) ||
         (op >= WASM_OP_I64_TRUNC_F32_S && op <= WASM_OP_I64_TRUNC_F64_U);
}

/* ---- Output buffer ----------------------------------------------------------- */

typedef struct {
  char *p;
  size_t n, cap;
  bool oom;
} sbuf;

static bool sb_reserve(sbuf *b, size_t add) {
  if (b->oom) return false;
  if (b->n + add + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->n + add + 1) {
    if (cap > ((size_t)1 << 40)) {
      b->oom = true;
      return false;
    }
    cap *= 2;
  }
  char *q = realloc(b->p, cap);
  if (!q) {
    b->oom = true;
    return false;
  }
  b->p = q;
  b->cap = cap;
  return true;
}

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (!sb_reserve(b, n)) return;
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (!sb_reserve(b, 128)) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (k < 0) {
    b->oom = true;
    return;
  }
  if ((size_t)k >= b->cap - b->n) {
    if (!sb_reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
  }
  b->n += (size_t)k;
}

/* ---- Translator state ------------------------------------------------------- */

enum { F_BLOCK, F_LOOP, F_IF, F_FUNC };
enum { LOOP_PURE = 1, LOOP_LEAVES = 2 };

typedef struct {
  uint8_t kind;
  bool unreachable; /* the rest of this block is dead code (not emitted) */
  bool has_else;
  uint32_t height; /* operand stack height below the block's params */
  uint32_t np, nr;
  const uint8_t *pt, *rt;
  uint32_t id; /* labels L<id> (end of block/if, head of loop) and E<id> (else) */
} frame;

typedef struct {
  const wasm_module *m;
  bool oom;
  bool simd;         /* v128 somewhere: the output includes simd_ops.h */
  bool strict_loads; /* every load happens, used or not (see force) */

  /* Per function. */
  uint32_t func;
  const wasm_functype *ft;
  const wasm_body *body;
  uint32_t off; /* module offset of the instruction being translated */
  uint8_t *ts;  /* operand stack types */
  uint8_t *ld;  /* per height: the value is a load's result (see force) */
  uint32_t nts, capts, capld;
  uint8_t *used; /* per height: bit set of the types that ever live there */
  uint32_t capused, maxh;
  frame *fs;
  uint32_t nfs, capfs;
  uint32_t nlabels;
  /* Per label id: LOOP_PURE for a loop whose body never leaves generated
   * code (no call, runtime service or libm function), LOOP_LEAVES for any
   * other loop, 0 for other blocks. See emit_function's K<id>_. */
  uint8_t *loops;
  uint32_t caploops;
  bool uses_mem;
  /* The function calls out of the generated code (runtime, libm, imports,
   * call_indirect) or calls another function: it keeps the whole entry
   * check. A leaf with none of these and a small frame only counts depth. */
  bool calls;
  uint64_t *keys; /* br_table: (depth << 32 | index), sorted */
  uint32_t capkeys;
  sbuf b; /* the body being written */

  /* Trap locations (#line markers, see line_before). */
  bool lines;    /* emit them (the module is small enough for the encoding) */
  uint32_t line; /* the marker in force in this function (0: none yet) */
  uint32_t *src; /* per height: the marker of the load the value comes from, or 0 */
  uint32_t capsrc;
  uint32_t *lsrc, *lsrc_ep; /* per local: the same, valid while lsrc_ep[x] == epoch */
  uint32_t caplsrc, caplep, epoch;
  /* Per function index: the marker of the load its single result comes
   * from on every return (0: none or not known yet), so that a caller the C
   * compiler inlines it into carries the load's marker where it uses the
   * result. ret_line/ret_seen: this function's so far. */
  uint32_t *fn_ret;
  uint32_t ret_line;
  bool ret_seen;
} gen;

static bool grow(gen *g, void **p, uint32_t *cap, uint64_t need, size_t elem) {
  if (need <= *cap) return true;
  if (g->oom) return false;
  uint64_t n = *cap ? (uint64_t)*cap * 2 : 64;
  while (n < need) n *= 2;
  if (n > UINT32_MAX / 2 || n * elem > ((size_t)1 << 34)) {
    g->oom = true;
    return false;
  }
  void *q = realloc(*p, (size_t)n * elem);
  if (!q) {
    g->oom = true;
    return false;
  }
  *p = q;
  *cap = (uint32_t)n;
  return true;
}

/* ---- Types ---------------------------------------------------------------- */

/* The variable letter of a value type (also the index of its bit in `used`). */
static char tl(uint8_t t) {
  switch (t) {
  case WASM_I32: return 'i';
  case WASM_I64: return 'j';
  case WASM_F32: return 'f';
  case WASM_F64: return 'd';
  case WASM_V128: return 'v';
  default: return 'r';
  }
}
static const char LETTERS[] = "ijfdvr";
static const char *const CTYPES[] = {"uint32_t", "uint64_t",  "float",
                                     "double",   "wasm_v128", "wref"};
static unsigned tbit(uint8_t t) { return (unsigned)(strchr(LETTERS, tl(t)) - LETTERS); }
static const char *ctype(gen *g, uint8_t t) {
  if (t == WASM_V128) g->simd = true;
  return CTYPES[tbit(t)];
}

static void block_type(gen *g, int64_t bt, frame *f) {
  wasmi_block_sig s = wasmi_block_type(g->m, bt);
  f->np = s.nparams;
  f->nr = s.nresults;
  f->pt = s.params;
  f->rt = s.results;
}

static uint8_t local_type(const gen *g, uint32_t x) {
  return x < g->ft->nparams ? g->ft->types[x] : g->body->local_types[x - g->ft->nparams];
}

/* ---- Operand stack ------------------------------------------------------------ */

static uint32_t push(gen *g, uint8_t t) {
  if (!grow(g, (void **)&g->ts, &g->capts, (uint64_t)g->nts + 1, 1)) return 0;
  if (!grow(g, (void **)&g->used, &g->capused, (uint64_t)g->nts + 1, 1)) return 0;
  if (!grow(g, (void **)&g->ld, &g->capld, (uint64_t)g->nts + 1, 1)) return 0;
  if (!grow(g, (void **)&g->src, &g->capsrc, (uint64_t)g->nts + 1, sizeof(uint32_t))) return 0;
  g->ld[g->nts] = 0;
  g->src[g->nts] = 0;
  while (g->maxh <= g->nts) g->used[g->maxh++] = 0;
  if (t == WASM_V128) g->simd = true;
  g->used[g->nts] |= (uint8_t)(1u << tbit(t));
  g->ts[g->nts] = t;
  return g->nts++;
}

static uint32_t pop(gen *g) { return g->nts ? --g->nts : 0; }

/* A load whose result is dropped must still trap when out of bounds, but
 * the C compiler deletes a load nobody reads: FORCE makes its value
 * needed. Done where the translator sees the value discarded (drop, values
 * a branch leaves behind, values left below a block); a load result that
 * is dead for other reasons (stored into a local that is never read, the
 * operand select does not pick) can still be deleted, unless strict_loads
 * forces every load (at a cost: loops with loads no longer vectorise). */
static void force(gen *g, uint32_t h) {
  if (!g->ld[h]) return;
  switch (g->ts[h]) {
  case WASM_F32: sb_printf(&g->b, "FORCE(bits32(f%u)); ", h); break;
  case WASM_F64: sb_printf(&g->b, "FORCE(bits64(d%u)); ", h); break;
  case WASM_V128: sb_printf(&g->b, "FORCEV(v%u); ", h); break;
  default: sb_printf(&g->b, "FORCE(%c%u); ", tl(g->ts[h]), h); break;
  }
}

static void force_range(gen *g, uint32_t lo, uint32_t hi) {
  for (uint32_t h = lo; h < hi; h++) force(g, h);
}

/* Appends the variable name of stack height h. */
#define VAR "%c%u"
#define VARG(h) tl(g->ts[h]), (unsigned)(h)

static frame *push_frame(gen *g, uint8_t kind, int64_t bt) {
  if (!grow(g, (void **)&g->fs, &g->capfs, (uint64_t)g->nfs + 1, sizeof(frame))) return NULL;
  frame *f = &g->fs[g->nfs++];
  memset(f, 0, sizeof *f);
  f->kind = kind;
  block_type(g, bt, f);
  f->height = g->nts - f->np;
  f->id = g->nlabels++;
  if (!grow(g, (void **)&g->loops, &g->caploops, (uint64_t)g->nlabels, 1)) return NULL;
  g->loops[f->id] = kind == F_LOOP ? LOOP_PURE : 0;
  /* Loaded values left below the block may never be read again (the block
   * may end in a trap or loop forever): make them happen now, so that an
   * out-of-bounds one traps first, as in the interpreter. */
  for (uint32_t h = 0; h < f->height; h++)
    if (g->ld[h]) {
      force(g, h);
      g->ld[h] = 0;
    }
  return f;
}

/* The current instruction may run code outside the generated file: every
 * enclosing loop keeps its interruption check (aot_abi.h, INTR). */
static void leaves_code(gen *g) {
  for (uint32_t i = 0; i < g->nfs; i++)
    if (g->fs[i].kind == F_LOOP) g->loops[g->fs[i].id] = LOOP_LEAVES;
}

/* Operators whose C calls libm (numops.h, simd_ops.h): rounding and sqrt. */
static bool calls_libm(const char *name) {
  return strstr(name, "CEIL") || strstr(name, "FLOOR") || strstr(name, "TRUNC") ||
         strstr(name, "NEAREST") || strstr(name, "SQRT");
}

/* Resets the stack to f's base plus `n` values of `types`. */
static void reset_stack(gen *g, const frame *f, uint32_t n, const uint8_t *types) {
  g->nts = f->height;
  for (uint32_t i = 0; i < n; i++) push(g, types[i]);
}

/* ---- Slots (imports, call_indirect, entries) --------------------------------- */

/* arr[k] = var (the engine's slot layout); returns the slots used. */
static uint32_t pack(gen *g, sbuf *b, uint8_t t, const char *arr, uint32_t k, const char *var) {
  switch (t) {
  case WASM_I32:
  case WASM_I64: sb_printf(b, "%s[%u] = %s; ", arr, k, var); return 1;
  case WASM_F32: sb_printf(b, "%s[%u] = of_f32(%s); ", arr, k, var); return 1;
  case WASM_F64: sb_printf(b, "%s[%u] = of_f64(%s); ", arr, k, var); return 1;
  case WASM_V128:
    g->simd = true;
    sb_printf(b, "memcpy(&%s[%u], &%s, 16); ", arr, k, var);
    return 2;
  default: sb_printf(b, "%s[%u] = (uintptr_t)%s; ", arr, k, var); return 1;
  }
}

/* var = arr[k]; returns the slots used. */
static uint32_t unpack(gen *g, sbuf *b, uint8_t t, const char *arr, uint32_t k, const char *var) {
  switch (t) {
  case WASM_I32: sb_printf(b, "%s = (uint32_t)%s[%u]; ", var, arr, k); return 1;
  case WASM_I64: sb_printf(b, "%s = %s[%u]; ", var, arr, k); return 1;
  case WASM_F32: sb_printf(b, "%s = f32_of(%s[%u]); ", var, arr, k); return 1;
  case WASM_F64: sb_printf(b, "%s = f64_of(%s[%u]); ", var, arr, k); return 1;
  case WASM_V128:
    g->simd = true;
    sb_printf(b, "memcpy(&%s, &%s[%u], 16); ", var, arr, k);
    return 2;
  default: sb_printf(b, "%s = (wref)(uintptr_t)%s[%u]; ", var, arr, k); return 1;
  }
}

static void var_name(gen *g, char *buf, size_t n, uint32_t h) { snprintf(buf, n, VAR, VARG(h)); }

/* Whether instruction `op` (its immediates not yet read from r) may run
 * code outside the generated file: imports and call_indirect (through the
 * runtime), runtime services, libm. */
static bool op_leaves_code(const wasm_reader *r, uint8_t op) {
  switch (op) {
  /* not WASM_OP_CALL: the callee stays in generated code, and checks
   * interruption on entry unless it is a leaf that never leaves it */
  case WASM_OP_CALL_INDIRECT:
  case WASM_OP_TABLE_GET:
  case WASM_OP_TABLE_SET:
  case WASM_OP_MEMORY_SIZE:
  case WASM_OP_MEMORY_GROW:
  case WASM_OP_REF_FUNC: return true;
  case WASM_PREFIX_FC:
  case WASM_PREFIX_FD: {
    wasm_reader peek = *r;
    uint32_t sub = wasm_read_u32(&peek);
    if (peek.err) return true;
    if (op == WASM_PREFIX_FC) return sub >= 8; /* bulk memory and table operators */
    return sub >= 256 || !OPS_FD[sub].valid || calls_libm(OPS_FD[sub].name);
  }
  default: return OPS[op].valid && OPS[op].kind == K_NUMERIC && calls_libm(OPS[op].name);
  }
}

/* ---- Control ---------------------------------------------------------------------- */

static void emit_return(gen *g) {
  const wasm_functype *ft = g->ft;
  uint32_t n = ft->nresults, src = g->nts - n;
  sbuf *b = &g->b;
  if (g->lines && n == 1) { /* see fn_ret */
    uint32_t line = g->src[src];
    if (!g->ret_seen) g->ret_line = line;
    else if (g->ret_line != line) g->ret_line = 0;
    g->ret_seen = true;
  }
  force_range(g, 0, src);
  if (n == 0) sb_puts(b, "return;");
  else if (n == 1) sb_printf(b, "return " VAR ";", VARG(src));
  else {
    sb_printf(b, "{ R%u t_ = {", ft->canon);
    for (uint32_t i = 0; i < n; i++) sb_printf(b, "%s" VAR, i ? ", " : "", VARG(src + i));
    sb_puts(b, "}; return t_; }");
  }
}

/* The taken path of a branch to relative depth d: copies the carried values
 * into the target's variables and jumps (or returns). */
static void emit_branch(gen *g, uint32_t d) {
  frame *f = &g->fs[g->nfs - 1 - d];
  if (f->kind == F_FUNC) {
    emit_return(g);
    return;
  }
  uint32_t n = f->kind == F_LOOP ? f->np : f->nr;
  uint32_t src = g->nts - n;
  sbuf *b = &g->b;
  force_range(g, f->height, src);
  for (uint32_t i = 0; i < n; i++)
    if (src + i != f->height + i)
      sb_printf(b, "%c%u = " VAR "; ", tl(g->ts[src + i]), f->height + i, VARG(src + i));
  if (f->kind == F_LOOP) sb_printf(b, "if (K%u_) INTR(%uu); ", f->id, g->off);
  sb_printf(b, "goto L%u;", f->id);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* br_table: one case group per distinct target. */
static void emit_br_table(gen *g, const uint32_t *depths, uint32_t n) {
  uint32_t hi = pop(g);
  if (!grow(g, (void **)&g->keys, &g->capkeys, (uint64_t)n + 1, sizeof(uint64_t))) return;
  for (uint32_t i = 0; i <= n; i++) g->keys[i] = (uint64_t)depths[i] << 32 | i;
  qsort(g->keys, (size_t)n + 1, sizeof(uint64_t), cmp_u64);
  sbuf *b = &g->b;
  sb_printf(b, "switch (i%u) {\n", hi);
  for (uint32_t i = 0; i <= n;) {
    uint32_t d = (uint32_t)(g->keys[i] >> 32);
    uint32_t k = i;
    for (; k <= n && (uint32_t)(g->keys[k] >> 32) == d; k++) {
      uint32_t idx = (uint32_t)g->keys[k];
      if (idx == n) sb_puts(b, "default: ");
      else sb_printf(b, "case %uu: ", idx);
    }
    sb_puts(b, "{ ");
    emit_branch(g, d);
    sb_puts(b, " }\n");
    i = k;
  }
  sb_puts(b, "}\n");
}

/* ---- Calls ---------------------------------------------------------------------- */

static void emit_call(gen *g, uint32_t fi) {
  const wasm_module *m = g->m;
  const wasm_functype *t = &m->types[m->func_type[fi]];
  uint32_t base = g->nts - t->nparams;
  sbuf *b = &g->b;
  char v[24];
  if (fi < m->nfunc_imports) {
    uint32_t ns = t->param_slots > t->result_slots ? t->param_slots : t->result_slots;
    sb_printf(b, "{ wagi_aot_slot t_[%u]; ", ns ? ns : 1);
    for (uint32_t i = 0, k = 0; i < t->nparams; i++) {
      var_name(g, v, sizeof v, base + i);
      k += pack(g, b, t->types[i], "t_", k, v);
    }
    sb_printf(b, "c->depth = d_; c->rt->call(c, %uu, t_); ", fi);
    g->nts = base;
    for (uint32_t i = 0, k = 0; i < t->nresults; i++) {
      uint32_t h = push(g, wasm_functype_result(t, i));
      var_name(g, v, sizeof v, h);
      k += unpack(g, b, wasm_functype_result(t, i), "t_", k, v);
    }
    sb_puts(b, "}\n");
    return;
  }
  sbuf args = {0};
  for (uint32_t i = 0; i < t->nparams; i++) sb_printf(&args, ", " VAR, VARG(base + i));
  if (args.oom) g->oom = true;
  g->nts = base;
  if (t->nresults == 0) {
    sb_printf(b, "w%u(c, d_ - 1u%s);\n", fi, args.p ? args.p : "");
  } else if (t->nresults == 1) {
    uint32_t h = push(g, wasm_functype_result(t, 0));
    sb_printf(b, VAR " = w%u(c, d_ - 1u%s);\n", VARG(h), fi, args.p ? args.p : "");
  } else {
    sb_printf(b, "{ R%u t_ = w%u(c, d_ - 1u%s); ", t->canon, fi, args.p ? args.p : "");
    for (uint32_t i = 0; i < t->nresults; i++) {
      uint32_t h = push(g, wasm_functype_result(t, i));
      sb_printf(b, VAR " = t_.a%u; ", VARG(h), i);
    }
    sb_puts(b, "}\n");
  }
  free(args.p);
}

static void emit_call_indirect(gen *g, uint32_t ti, uint32_t tab) {
  const wasm_functype *t = &g->m->types[ti];
  uint32_t hi = pop(g);
  uint32_t base = g->nts - t->nparams;
  uint32_t ns = t->param_slots > t->result_slots ? t->param_slots : t->result_slots;
  sbuf *b = &g->b;
  char v[24];
  sb_printf(b, "{ wagi_aot_slot t_[%u]; ", ns ? ns : 1);
  for (uint32_t i = 0, k = 0; i < t->nparams; i++) {
    var_name(g, v, sizeof v, base + i);
    k += pack(g, b, t->types[i], "t_", k, v);
  }
  sb_printf(b, "c->depth = d_; c->rt->call_indirect(c, %uu, %uu, i%u, t_, FN_, %uu); ", tab, ti, hi,
            g->off);
  g->nts = base;
  for (uint32_t i = 0, k = 0; i < t->nresults; i++) {
    uint32_t h = push(g, wasm_functype_result(t, i));
    var_name(g, v, sizeof v, h);
    k += unpack(g, b, wasm_functype_result(t, i), "t_", k, v);
  }
  sb_puts(b, "}\n");
}

/* ---- Operators from opcodes.def ------------------------------------------------- */

/* A SIMD function argument of type t held in variable height h. */
static void simd_arg(gen *g, uint8_t t, uint32_t h) {
  const char *cast = t == WASM_I32 ? "(int32_t)" : t == WASM_I64 ? "(int64_t)" : "";
  sb_printf(&g->b, "%s" VAR, cast, VARG(h));
}

static const char *simd_res_cast(uint8_t t) {
  return t == WASM_I32 ? "(uint32_t)" : t == WASM_I64 ? "(uint64_t)" : "";
}

static void emit_numeric(gen *g, const opinfo *oi, bool simd, bool traps) {
  uint32_t np = oi->p3 ? 3 : oi->p2 ? 2 : 1;
  uint32_t h = g->nts - np;
  uint32_t a[3] = {h, h + 1, h + 2};
  uint8_t at[3] = {oi->p1, oi->p2, oi->p3};
  sbuf *b = &g->b;
  g->nts = h;
  if (simd) {
    /* operands are read before the result variable is written */
    char r[24];
    uint32_t rh = h;
    uint8_t save[3];
    for (uint32_t i = 0; i < np; i++) save[i] = g->ts[a[i]];
    push(g, oi->res);
    snprintf(r, sizeof r, "%c%u", tl(oi->res), rh);
    sb_printf(b, "%s = %swasm_simd_%s(", r, simd_res_cast(oi->res), oi->name);
    for (uint32_t i = 0; i < np; i++) {
      if (i) sb_puts(b, ", ");
      const char *cast = at[i] == WASM_I32 ? "(int32_t)" : at[i] == WASM_I64 ? "(int64_t)" : "";
      sb_printf(b, "%s%c%u", cast, tl(save[i]), a[i]);
    }
    sb_puts(b, ");\n");
    return;
  }
  char x[24], y[24];
  snprintf(x, sizeof x, VAR, VARG(a[0]));
  if (np > 1) snprintf(y, sizeof y, VAR, VARG(a[1]));
  uint32_t rh = push(g, oi->res);
  if (traps) sb_printf(b, "{ const uint32_t O_ = %uu; ", g->off);
  sb_printf(b, "OPS_%s(" VAR ", %s", oi->name, VARG(rh), x);
  if (np > 1) sb_printf(b, ", %s", y);
  sb_puts(b, traps ? "); }\n" : ");\n");
}

static void memarg(wasm_reader *r, uint32_t *offset) {
  wasm_read_u32(r); /* alignment: a hint only */
  *offset = wasm_read_u32(r);
}

static void emit_load(gen *g, const opinfo *oi, uint32_t offset, bool simd) {
  uint32_t ha = pop(g);
  uint32_t h = push(g, oi->res);
  g->ld[h] = !g->oom;
  g->uses_mem = true;
  if (simd) sb_printf(&g->b, "v%u = wasm_simd_%s(EA(i%u, %uu));\n", h, oi->name, ha, offset);
  else
    sb_printf(&g->b, VAR " = %sLDX_%s(EA(i%u, %uu))%s;\n", VARG(h),
              oi->res == WASM_F32   ? "fbits32("
              : oi->res == WASM_F64 ? "fbits64("
                                    : "",
              oi->name, ha, offset, oi->res == WASM_F32 || oi->res == WASM_F64 ? ")" : "");
  if (g->strict_loads) {
    force(g, h);
    g->ld[h] = 0;
  }
}

static void emit_store(gen *g, const opinfo *oi, uint32_t offset, bool simd) {
  uint32_t hv = pop(g), ha = pop(g);
  g->uses_mem = true;
  uint8_t t = g->ts[hv];
  if (simd) sb_printf(&g->b, "wasm_simd_%s(EA(i%u, %uu), v%u);\n", oi->name, ha, offset, hv);
  else
    sb_printf(&g->b, "STX_%s(EA(i%u, %uu), %s" VAR "%s);\n", oi->name, ha, offset,
              t == WASM_F32   ? "bits32("
              : t == WASM_F64 ? "bits64("
                              : "",
              VARG(hv), t == WASM_F32 || t == WASM_F64 ? ")" : "");
}

static void emit_simd(gen *g, wasm_reader *r, uint32_t sub) {
  sbuf *b = &g->b;
  g->simd = true;
  if (sub == WASM_FD_V128_CONST || sub == WASM_FD_I8X16_SHUFFLE) {
    uint8_t k[16];
    for (int i = 0; i < 16; i++) k[i] = wasm_read_u8(r);
    if (sub == WASM_FD_V128_CONST) {
      uint64_t lo = 0, hi = 0;
      for (int i = 0; i < 8; i++) lo |= (uint64_t)k[i] << (8 * i);
      for (int i = 0; i < 8; i++) hi |= (uint64_t)k[8 + i] << (8 * i);
      uint32_t h = push(g, WASM_V128);
      sb_printf(b, "v%u = v128k(0x%llxull, 0x%llxull);\n", h, (unsigned long long)lo,
                (unsigned long long)hi);
      return;
    }
    uint32_t hb = pop(g), ha = pop(g);
    push(g, WASM_V128);
    sb_printf(b, "v%u = SHUF16(v%u, v%u", ha, ha, hb);
    for (int i = 0; i < 16; i++) sb_printf(b, ", %u", k[i] & 31u);
    sb_puts(b, ");\n");
    return;
  }
  if (sub > 0xff || !OPS_FD[sub].valid) {
    wasm_reader_fail(r, "unknown SIMD opcode");
    return;
  }
  const opinfo *oi = &OPS_FD[sub];
  uint32_t off = 0;
  switch (oi->kind) {
  case K_NUMERIC: emit_numeric(g, oi, true, false); return;
  case K_LOAD:
    memarg(r, &off);
    emit_load(g, oi, off, true);
    return;
  case K_STORE:
    memarg(r, &off);
    emit_store(g, oi, off, true);
    return;
  case K_EXTRACT_LANE: {
    uint8_t lane = wasm_read_u8(r);
    uint32_t hv = pop(g);
    uint32_t h = push(g, oi->res);
    sb_printf(b, VAR " = %swasm_simd_%s(v%u, %u);\n", VARG(h), simd_res_cast(oi->res), oi->name, hv,
              lane);
    return;
  }
  case K_REPLACE_LANE: {
    uint8_t lane = wasm_read_u8(r);
    uint32_t hx = pop(g), hv = pop(g);
    push(g, WASM_V128);
    sb_printf(b, "v%u = wasm_simd_%s(v%u, ", hv, oi->name, hv);
    simd_arg(g, oi->p2, hx);
    sb_printf(b, ", %u);\n", lane);
    return;
  }
  case K_LOAD_LANE: {
    memarg(r, &off);
    uint8_t lane = wasm_read_u8(r);
    uint32_t hv = pop(g), ha = pop(g);
    push(g, WASM_V128);
    g->ld[ha] = !g->oom;
    g->uses_mem = true;
    sb_printf(b, "v%u = wasm_simd_%s(EA(i%u, %uu), v%u, %u);\n", ha, oi->name, ha, off, hv, lane);
    return;
  }
  case K_STORE_LANE: {
    memarg(r, &off);
    uint8_t lane = wasm_read_u8(r);
    uint32_t hv = pop(g), ha = pop(g);
    g->uses_mem = true;
    sb_printf(b, "wasm_simd_%s(EA(i%u, %uu), v%u, %u);\n", oi->name, ha, off, hv, lane);
    return;
  }
  default: wasm_reader_fail(r, "unexpected SIMD opcode");
  }
}

static void emit_fc(gen *g, wasm_reader *r, uint32_t sub) {
  sbuf *b = &g->b;
  if (sub <= WASM_FC_I64_TRUNC_SAT_F64_U) {
    emit_numeric(g, &OPS_FC[sub], false, false);
    return;
  }
  switch (sub) {
  case WASM_FC_MEMORY_INIT:
  case WASM_FC_MEMORY_COPY:
  case WASM_FC_MEMORY_FILL: {
    uint32_t x = wasm_read_u32(r);
    if (sub != WASM_FC_MEMORY_FILL) wasm_read_u32(r);
    uint32_t n = pop(g), s = pop(g), d = pop(g);
    if (sub == WASM_FC_MEMORY_INIT)
      sb_printf(b, "CK(c->rt->memory_init(c, %uu, i%u, i%u, i%u), %uu);\n", x, d, s, n, g->off);
    else
      sb_printf(b, "CK(c->rt->memory_%s(c, i%u, i%u, i%u), %uu);\n",
                sub == WASM_FC_MEMORY_COPY ? "copy" : "fill", d, s, n, g->off);
    return;
  }
  case WASM_FC_DATA_DROP: sb_printf(b, "c->rt->data_drop(c, %uu);\n", wasm_read_u32(r)); return;
  case WASM_FC_ELEM_DROP: sb_printf(b, "c->rt->elem_drop(c, %uu);\n", wasm_read_u32(r)); return;
  case WASM_FC_TABLE_INIT: {
    uint32_t seg = wasm_read_u32(r), tab = wasm_read_u32(r);
    uint32_t n = pop(g), s = pop(g), d = pop(g);
    sb_printf(b, "CK(c->rt->table_init(c, %uu, %uu, i%u, i%u, i%u), %uu);\n", tab, seg, d, s, n,
              g->off);
    return;
  }
  case WASM_FC_TABLE_COPY: {
    uint32_t dt = wasm_read_u32(r), st = wasm_read_u32(r);
    uint32_t n = pop(g), s = pop(g), d = pop(g);
    sb_printf(b, "CK(c->rt->table_copy(c, %uu, %uu, i%u, i%u, i%u), %uu);\n", dt, st, d, s, n,
              g->off);
    return;
  }
  case WASM_FC_TABLE_GROW: {
    uint32_t t = wasm_read_u32(r);
    uint32_t n = pop(g), v = pop(g);
    uint32_t h = push(g, WASM_I32);
    sb_printf(b, "i%u = c->rt->table_grow(c, %uu, r%u, i%u);\n", h, t, v, n);
    return;
  }
  case WASM_FC_TABLE_SIZE: {
    uint32_t t = wasm_read_u32(r);
    uint32_t h = push(g, WASM_I32);
    sb_printf(b, "i%u = c->rt->table_size(c, %uu);\n", h, t);
    return;
  }
  case WASM_FC_TABLE_FILL: {
    uint32_t t = wasm_read_u32(r);
    uint32_t n = pop(g), v = pop(g), i = pop(g);
    sb_printf(b, "CK(c->rt->table_fill(c, %uu, i%u, r%u, i%u), %uu);\n", t, i, v, n, g->off);
    return;
  }
  default: wasm_reader_fail(r, "unknown 0xfc opcode");
  }
}

static void global_get(gen *g, uint32_t x) {
  uint8_t t = g->m->global_types[x].type;
  uint32_t h = push(g, t);
  sbuf *b = &g->b;
  switch (t) {
  case WASM_I32: sb_printf(b, "i%u = (uint32_t)G(%u);\n", h, x); break;
  case WASM_I64: sb_printf(b, "j%u = G(%u);\n", h, x); break;
  case WASM_F32: sb_printf(b, "f%u = f32_of(G(%u));\n", h, x); break;
  case WASM_F64: sb_printf(b, "d%u = f64_of(G(%u));\n", h, x); break;
  case WASM_V128: sb_printf(b, "memcpy(&v%u, c->globals[%u], 16);\n", h, x); break;
  default: sb_printf(b, "r%u = (wref)(uintptr_t)G(%u);\n", h, x); break;
  }
}

static void global_set(gen *g, uint32_t x) {
  uint32_t h = pop(g);
  uint8_t t = g->ts[h];
  sbuf *b = &g->b;
  switch (t) {
  case WASM_I32:
  case WASM_I64: sb_printf(b, "G(%u) = " VAR ";\n", x, VARG(h)); break;
  case WASM_F32: sb_printf(b, "G(%u) = of_f32(f%u);\n", x, h); break;
  case WASM_F64: sb_printf(b, "G(%u) = of_f64(d%u);\n", x, h); break;
  case WASM_V128: sb_printf(b, "memcpy(c->globals[%u], &v%u, 16);\n", x, h); break;
  default: sb_printf(b, "G(%u) = (uintptr_t)r%u;\n", x, h); break;
  }
}

/* ---- Trap locations ------------------------------------------------------------- */

/* An out-of-bounds access on native code is a fault in the guard pages. To
 * name its function and offset as the interpreter does, the C carries
 * `#line` markers of a file called "wasm", and `wagi compile` keeps the
 * compiler's line table (code address -> marker) in the .wasmc (aot.c). A
 * marker is 4*off+1 for "the memory access at module offset off", 4*off+2
 * for "the call at off" (a callee that cannot be entered names it, as on
 * the interpreter), 4*off+3 for "in the function holding off". They cost
 * nothing at run time: the machine code is the same with and without them.
 *
 * The C compiler may fold a load into the instruction that uses its value
 * (x86 `add eax, [mem]`, `cmp [mem], 5` for `x + 5 == 0`) and give it
 * that instruction's line, so an instruction whose operands come from
 * loads (directly, through operators, or through locals within
 * straight-line code) carries the earliest such load's marker. Each
 * instruction's C stays on one line, and a line starts only where the
 * marker changes. */
#define LINE_AT(off) (4 * (off) + 1)
#define LINE_CALL(off) (4 * (off) + 2)
#define LINE_IN(off) (4 * (off) + 3)

typedef struct {
  size_t mark;          /* where the instruction's C starts in g->b */
  uint32_t cand;        /* the marker of the load its top operand comes from (0: none) */
  uint32_t deep;        /* the same for its deepest operand that comes from one */
  uint32_t local;       /* local.get/set/tee: the local */
  bool mem, load, pure; /* pure: an operator whose result comes from its operands */
  uint32_t callee;      /* call: the function called (UINT32_MAX: not a call) */
} line_state;

/* How many operands the instruction (r: after its opcode byte) takes from
 * the stack; UINT32_MAX: all of them (control instructions may FORCE the
 * values left below them). Notes memory accesses and operators. */
static uint32_t operand_count(gen *g, uint8_t op, wasm_reader r, line_state *ls) {
  const wasm_module *m = g->m;
  const opinfo *oi;
  switch (op) {
  case WASM_OP_UNREACHABLE:
  case WASM_OP_BLOCK:
  case WASM_OP_LOOP:
  case WASM_OP_IF:
  case WASM_OP_ELSE:
  case WASM_OP_END:
  case WASM_OP_BR:
  case WASM_OP_BR_IF:
  case WASM_OP_BR_TABLE:
  case WASM_OP_RETURN: return UINT32_MAX;
  case WASM_OP_CALL: {
    uint32_t f = wasm_read_u32(&r);
    if (r.err || f >= m->nfuncs) return 0;
    ls->callee = f;
    return m->types[m->func_type[f]].nparams;
  }
  case WASM_OP_CALL_INDIRECT: {
    uint32_t t = wasm_read_u32(&r);
    return r.err || t >= m->ntypes ? 0 : m->types[t].nparams + 1;
  }
  case WASM_OP_SELECT:
  case WASM_OP_SELECT_T: ls->pure = true; return 3;
  case WASM_OP_TABLE_SET: return 2;
  case WASM_OP_LOCAL_GET:
  case WASM_OP_LOCAL_SET:
  case WASM_OP_LOCAL_TEE: ls->local = wasm_read_u32(&r); return op == WASM_OP_LOCAL_GET ? 0 : 1;
  case WASM_OP_DROP:
  case WASM_OP_GLOBAL_SET:
  case WASM_OP_TABLE_GET:
  case WASM_OP_MEMORY_GROW:
  case WASM_OP_REF_IS_NULL: return 1;
  case WASM_PREFIX_FC: {
    uint32_t sub = wasm_read_u32(&r);
    if (sub <= WASM_FC_I64_TRUNC_SAT_F64_U) {
      ls->pure = true;
      return 1;
    }
    if (sub == WASM_FC_TABLE_GROW) return 2;
    if (sub == WASM_FC_DATA_DROP || sub == WASM_FC_ELEM_DROP || sub == WASM_FC_TABLE_SIZE) return 0;
    return 3;
  }
  case WASM_PREFIX_FD: {
    uint32_t sub = wasm_read_u32(&r);
    if (r.err || sub > 0xff) return 0;
    oi = &OPS_FD[sub];
    break;
  }
  default: oi = &OPS[op]; break;
  }
  if (!oi->valid) return 0;
  switch (oi->kind) {
  case K_LOAD:
  case K_LOAD_LANE: ls->load = true; /* fall through */
  case K_STORE:
  case K_STORE_LANE: ls->mem = true; return 0;
  case K_NUMERIC: ls->pure = true; return oi->p3 ? 3 : oi->p2 ? 2 : oi->p1 ? 1 : 0;
  case K_EXTRACT_LANE: ls->pure = true; return 1;
  case K_REPLACE_LANE: ls->pure = true; return 2;
  default: return 0;
  }
}

/* Before the instruction at g->off (r: after its opcode byte): the marker
 * it needs, if that is not the one in force. */
static line_state line_before(gen *g, uint8_t op, const wasm_reader *r) {
  line_state ls = {g->b.n, 0, 0, 0, false, false, false, UINT32_MAX};
  if (!g->lines) return ls;
  uint32_t n = operand_count(g, op, *r, &ls);
  uint32_t want = 0;
  for (uint32_t h = n >= g->nts ? 0 : g->nts - n; h < g->nts && !want; h++) want = g->src[h];
  ls.deep = want;
  if (g->nts) ls.cand = g->src[g->nts - 1];
  if (ls.mem) want = LINE_AT(g->off);
  else if (!want && (op == WASM_OP_CALL || op == WASM_OP_CALL_INDIRECT)) want = LINE_CALL(g->off);
  if (!want) want = (g->line & 3) == 3 ? g->line : LINE_IN(g->off);
  if (want != g->line) {
    sb_printf(&g->b, "\n#line %u \"wasm\"\n", want);
    g->line = want;
  }
  ls.mark = g->b.n;
  return ls;
}

/* After it: its C on one line, and where its result comes from. */
static void line_after(gen *g, uint8_t op, const line_state *ls) {
  if (!g->lines || g->b.oom) return;
  for (size_t i = ls->mark; i < g->b.n; i++)
    if (g->b.p[i] == '\n') g->b.p[i] = ' ';
  bool local = ls->local < g->caplsrc && ls->local < g->caplep;
  switch (op) {
  case WASM_OP_LOCAL_SET:
  case WASM_OP_LOCAL_TEE:
    if (local) {
      g->lsrc[ls->local] = ls->cand;
      g->lsrc_ep[ls->local] = g->epoch;
    }
    return;
  case WASM_OP_LOCAL_GET:
    if (local && g->nts && g->lsrc_ep[ls->local] == g->epoch)
      g->src[g->nts - 1] = g->lsrc[ls->local];
    return;
  case WASM_OP_BLOCK:
  case WASM_OP_LOOP:
  case WASM_OP_IF:
  case WASM_OP_ELSE:
  case WASM_OP_END:
  case WASM_OP_BR_IF:
    g->epoch++; /* a label: locals may come from elsewhere */
    return;
  default: break;
  }
  if (!g->nts) return;
  if (ls->callee != UINT32_MAX && g->fn_ret) g->src[g->nts - 1] = g->fn_ret[ls->callee];
  if (ls->load) g->src[g->nts - 1] = LINE_AT(g->off);
  else if (ls->pure) g->src[g->nts - 1] = ls->deep;
}

/* Per function: no marker in force, no load values in locals. */
static bool line_start(gen *g, uint32_t nlocals) {
  g->line = 0;
  g->epoch = 1;
  if (!g->lines || !nlocals) return true;
  if (!grow(g, (void **)&g->lsrc, &g->caplsrc, nlocals, sizeof(uint32_t)) ||
      !grow(g, (void **)&g->lsrc_ep, &g->caplep, nlocals, sizeof(uint32_t)))
    return false;
  memset(g->lsrc_ep, 0, (size_t)nlocals * sizeof(uint32_t));
  return true;
}

/* Copies the C of the functions into o, where "#line ~" lines become the
 * marker that puts the rest back into module.c's own numbering. */
static void put_restoring_lines(sbuf *o, const sbuf *code) {
  uint32_t line = 1;
  for (size_t i = 0; i < o->n; i++) line += o->p[i] == '\n';
  static const char restore[] = "#line ~\n";
  const char *p = code->p ? code->p : "", *end = p + code->n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *next = nl ? nl + 1 : end;
    if ((size_t)(next - p) == sizeof restore - 1 && !memcmp(p, restore, sizeof restore - 1))
      sb_printf(o, "#line %u \"module.c\"\n", line + 1);
    else sb_put(o, p, (size_t)(next - p));
    line++;
    p = next;
  }
}

/* ---- Function bodies -------------------------------------------------------------- */

static wasm_status body_fail(gen *g, wasm_error *err, const char *what) {
  char label[128];
  wasmi_func_label(g->m, g->func, label, sizeof label);
  return wasmi_error_set(err, WASM_ERR_INVALID, g->func, g->off,
                         "invalid: %s at 0x%x: %s (AOT translator)", label, g->off, what);
}

/* Translates body i into g->b (the statements only). */
static wasm_status translate_body(gen *g, uint32_t i, wasm_error *err) {
  const wasm_module *m = g->m;
  const wasm_body *bd = &m->bodies[i];
  g->body = bd;
  g->func = m->nfunc_imports + i;
  g->ft = &m->types[m->func_type[g->func]];
  g->nts = g->nfs = g->nlabels = g->maxh = 0;
  g->uses_mem = false;
  g->calls = false;
  g->ret_line = 0;
  g->ret_seen = false;
  g->off = bd->offset;
  wasm_reader rd = {m->bytes, bd->code, bd->code_end, NULL, NULL};
  wasm_reader *r = &rd;
  frame *ff = push_frame(g, F_FUNC, -64);
  if (!ff) return WASM_ERR_NOMEM;
  ff->nr = g->ft->nresults;
  ff->rt = g->ft->types + g->ft->nparams;
  uint32_t nlocals = g->ft->nparams + bd->nlocals;
  uint32_t skip_depth = 0;
  uint32_t *depths = NULL, capdepths = 0;
  sbuf *b = &g->b;
  if (!line_start(g, nlocals)) return WASM_ERR_NOMEM;

  while (r->p < r->end && g->nfs > 0 && !g->oom && !b->oom && !r->err) {
    const uint8_t *at = r->p;
    g->off = (uint32_t)(at - m->bytes);
    uint8_t op = wasm_read_u8(r);
    frame *top = &g->fs[g->nfs - 1];

    if (top->unreachable && wasmi_skip_dead(r, op, &skip_depth)) continue;
    line_state ls = line_before(g, op, r);

    if (op_leaves_code(r, op)) leaves_code(g);
    if (op == WASM_OP_CALL || op_leaves_code(r, op)) g->calls = true;
    switch (op) {
    case WASM_OP_UNREACHABLE:
      sb_printf(b, "TR(WAGI_AOT_TRAP_UNREACHABLE, %uu);\n", g->off);
      top->unreachable = true;
      break;
    case WASM_OP_NOP: break;
    case WASM_OP_BLOCK:
    case WASM_OP_LOOP: {
      int64_t bt = wasm_read_sleb(r, 33);
      frame *f = push_frame(g, op == WASM_OP_BLOCK ? F_BLOCK : F_LOOP, bt);
      if (f && op == WASM_OP_LOOP) sb_printf(b, "L%u:;\n", f->id);
      break;
    }
    case WASM_OP_IF: {
      int64_t bt = wasm_read_sleb(r, 33);
      uint32_t hc = pop(g);
      frame *f = push_frame(g, F_IF, bt);
      if (f) sb_printf(b, "if (!i%u) goto E%u;\n", hc, f->id);
      break;
    }
    case WASM_OP_ELSE: {
      frame *f = top;
      if (!f->unreachable) sb_printf(b, "goto L%u;\n", f->id);
      sb_printf(b, "E%u:;\n", f->id);
      f->has_else = true;
      f->unreachable = false;
      skip_depth = 0;
      reset_stack(g, f, f->np, f->pt);
      break;
    }
    case WASM_OP_END: {
      frame *f = top;
      skip_depth = 0;
      if (f->kind == F_FUNC) {
        if (!f->unreachable) {
          emit_return(g);
          sb_puts(b, "\n");
        } else if (g->ft->nresults) {
          sb_puts(b, "__builtin_unreachable();\n");
        }
        g->nfs--;
        break;
      }
      if (f->kind == F_IF && !f->has_else) sb_printf(b, "E%u:;\n", f->id);
      if (f->kind != F_LOOP) sb_printf(b, "L%u:;\n", f->id);
      frame fr = *f;
      g->nfs--;
      reset_stack(g, &fr, fr.nr, fr.rt);
      break;
    }
    case WASM_OP_BR: {
      uint32_t d = wasm_read_u32(r);
      emit_branch(g, d);
      sb_puts(b, "\n");
      top->unreachable = true;
      break;
    }
    case WASM_OP_BR_IF: {
      uint32_t d = wasm_read_u32(r);
      uint32_t hc = pop(g);
      sb_printf(b, "if (i%u) { ", hc);
      emit_branch(g, d);
      sb_puts(b, " }\n");
      break;
    }
    case WASM_OP_BR_TABLE: {
      uint32_t n = wasm_read_u32(r);
      if (r->err) break;
      if ((uint64_t)n + 1 > (size_t)(r->end - r->p)) {
        wasm_reader_fail(r, "br_table too long");
        break;
      }
      if (!grow(g, (void **)&depths, &capdepths, (uint64_t)n + 1, sizeof(uint32_t))) break;
      for (uint32_t k = 0; k <= n; k++) depths[k] = wasm_read_u32(r);
      if (r->err) break;
      emit_br_table(g, depths, n);
      top->unreachable = true;
      break;
    }
    case WASM_OP_RETURN:
      emit_return(g);
      sb_puts(b, "\n");
      top->unreachable = true;
      break;
    case WASM_OP_CALL: emit_call(g, wasm_read_u32(r)); break;
    case WASM_OP_CALL_INDIRECT: {
      uint32_t ti = wasm_read_u32(r), tab = wasm_read_u32(r);
      emit_call_indirect(g, ti, tab);
      break;
    }
    case WASM_OP_DROP:
      force(g, pop(g));
      if (g->ld[g->nts]) sb_puts(b, "\n");
      break;
    case WASM_OP_SELECT:
    case WASM_OP_SELECT_T: {
      if (op == WASM_OP_SELECT_T) {
        uint32_t n = wasm_read_u32(r);
        for (uint32_t k = 0; k < n && !r->err; k++) wasm_read_u8(r);
      }
      uint32_t hc = pop(g), hb = pop(g), ha = pop(g);
      push(g, g->ts[ha]);
      sb_printf(b, VAR " = i%u ? " VAR " : " VAR ";\n", VARG(ha), hc, VARG(ha), VARG(hb));
      break;
    }
    case WASM_OP_LOCAL_GET: {
      uint32_t x = wasm_read_u32(r);
      if (x >= nlocals) {
        wasm_reader_fail(r, "unknown local");
        break;
      }
      uint32_t h = push(g, local_type(g, x));
      sb_printf(b, VAR " = l%u;\n", VARG(h), x);
      break;
    }
    case WASM_OP_LOCAL_SET:
    case WASM_OP_LOCAL_TEE: {
      uint32_t x = wasm_read_u32(r);
      uint32_t h = op == WASM_OP_LOCAL_SET ? pop(g) : g->nts - 1;
      sb_printf(b, "l%u = " VAR ";\n", x, VARG(h));
      break;
    }
    case WASM_OP_GLOBAL_GET: global_get(g, wasm_read_u32(r)); break;
    case WASM_OP_GLOBAL_SET: global_set(g, wasm_read_u32(r)); break;
    case WASM_OP_TABLE_GET: {
      uint32_t t = wasm_read_u32(r);
      uint32_t hi = pop(g);
      uint32_t h = push(g, m->tables[t].elemtype);
      sb_printf(b, "CK(c->rt->table_get(c, %uu, i%u, &r%u), %uu);\n", t, hi, h, g->off);
      break;
    }
    case WASM_OP_TABLE_SET: {
      uint32_t t = wasm_read_u32(r);
      uint32_t hv = pop(g), hi = pop(g);
      sb_printf(b, "CK(c->rt->table_set(c, %uu, i%u, r%u), %uu);\n", t, hi, hv, g->off);
      break;
    }
    case WASM_OP_MEMORY_SIZE: {
      wasm_read_u32(r);
      uint32_t h = push(g, WASM_I32);
      sb_printf(b, "i%u = c->rt->memory_size(c);\n", h);
      break;
    }
    case WASM_OP_MEMORY_GROW: {
      wasm_read_u32(r);
      uint32_t h = g->nts - 1;
      sb_printf(b, "i%u = c->rt->memory_grow(c, i%u);\n", h, h);
      break;
    }
    case WASM_OP_I32_CONST: {
      uint32_t v = (uint32_t)wasm_read_sleb(r, 32);
      sb_printf(b, "i%u = %uu;\n", push(g, WASM_I32), v);
      break;
    }
    case WASM_OP_I64_CONST: {
      uint64_t v = (uint64_t)wasm_read_sleb(r, 64);
      sb_printf(b, "j%u = 0x%llxull;\n", push(g, WASM_I64), (unsigned long long)v);
      break;
    }
    case WASM_OP_F32_CONST:
    case WASM_OP_F64_CONST: {
      unsigned n = op == WASM_OP_F32_CONST ? 4 : 8;
      uint64_t v = 0;
      for (unsigned k = 0; k < n; k++) v |= (uint64_t)wasm_read_u8(r) << (8 * k);
      /* The C compiler folds x * 1, x / -1, x - 0, -0 - x and the like,
       * which must quiet a signalling NaN in wasm: those constants are
       * hidden from it (OPQ). */
      if (op == WASM_OP_F32_CONST) {
        uint32_t u = (uint32_t)v & 0x7fffffffu;
        bool opq = u == 0 || u == 0x3f800000u;
        sb_printf(b, "f%u = fbits32(%s0x%xu%s);\n", push(g, WASM_F32), opq ? "OPQ32(" : "",
                  (unsigned)v, opq ? ")" : "");
      } else {
        uint64_t u = v & 0x7fffffffffffffffull;
        bool opq = u == 0 || u == 0x3ff0000000000000ull;
        sb_printf(b, "d%u = fbits64(%s0x%llxull%s);\n", push(g, WASM_F64), opq ? "OPQ64(" : "",
                  (unsigned long long)v, opq ? ")" : "");
      }
      break;
    }
    case WASM_OP_REF_NULL: {
      uint8_t t = wasm_read_u8(r);
      sb_printf(b, "r%u = 0;\n", push(g, t));
      break;
    }
    case WASM_OP_REF_IS_NULL: {
      uint32_t h = pop(g);
      push(g, WASM_I32);
      sb_printf(b, "i%u = r%u == 0;\n", h, h);
      break;
    }
    case WASM_OP_REF_FUNC: {
      uint32_t fi = wasm_read_u32(r);
      sb_printf(b, "r%u = c->rt->ref_func(c, %uu);\n", push(g, WASM_FUNCREF), fi);
      break;
    }
    case WASM_PREFIX_FC: emit_fc(g, r, wasm_read_u32(r)); break;
    case WASM_PREFIX_FD: emit_simd(g, r, wasm_read_u32(r)); break;
    default: {
      const opinfo *oi = &OPS[op];
      if (!oi->valid) {
        wasm_reader_fail(r, "unknown opcode");
        break;
      }
      if (oi->kind == K_NUMERIC) {
        emit_numeric(g, oi, false, op_traps(op));
        /* (float)(double)x folds to x, which keeps a signalling NaN */
        if (op == WASM_OP_F64_PROMOTE_F32)
          sb_printf(b, "d%u = fbits64(OPQ64(bits64(d%u)));\n", g->nts - 1, g->nts - 1);
      } else if (oi->kind == K_LOAD || oi->kind == K_STORE) {
        uint32_t off;
        memarg(r, &off);
        if (oi->kind == K_LOAD) emit_load(g, oi, off, false);
        else emit_store(g, oi, off, false);
      } else {
        wasm_reader_fail(r, "unexpected opcode");
      }
      break;
    }
    }
    line_after(g, op, &ls);
  }
  free(depths);
  if (g->oom || b->oom) return WASM_ERR_NOMEM;
  if (r->err) return body_fail(g, err, r->err);
  if (g->nfs != 0) return body_fail(g, err, "function body has no end");
  if (g->fn_ret) g->fn_ret[g->func] = g->ret_line;
  return WASM_OK;
}

/* ---- Module ------------------------------------------------------------------------ */

static void emit_result_type(gen *g, sbuf *o, const wasm_functype *t) {
  if (t->nresults == 0) sb_puts(o, "void");
  else if (t->nresults == 1) sb_puts(o, ctype(g, wasm_functype_result(t, 0)));
  else sb_printf(o, "R%u", t->canon);
}

static void emit_signature(gen *g, sbuf *o, uint32_t fi) {
  const wasm_functype *t = &g->m->types[g->m->func_type[fi]];
  sb_puts(o, "static ");
  emit_result_type(g, o, t);
  sb_printf(o, " w%u(wagi_aot_ctx *c, uint32_t d_", fi);
  for (uint32_t k = 0; k < t->nparams; k++) sb_printf(o, ", %s l%u", ctype(g, t->types[k]), k);
  sb_puts(o, ")");
}

/* Declarations of the function's locals and stack variables, then the body. */
static void emit_function(gen *g, sbuf *o, uint32_t i) {
  const wasm_body *bd = &g->m->bodies[i];
  uint32_t fi = g->m->nfunc_imports + i;
  uint32_t np = g->ft->nparams;
  emit_signature(g, o, fi);
  sb_printf(o, " {\nenum { FN_ = %u };\n", fi);
  if (g->uses_mem) sb_puts(o, "uint8_t *const mem = c->mem;\n");
  for (unsigned tb = 0; tb < 6; tb++) {
    bool any = false;
    for (uint32_t k = 0; k < bd->nlocals; k++) {
      uint8_t t = bd->local_types[k];
      if (tbit(t) != tb) continue;
      if (tb == 4) {
        g->simd = true;
        sb_printf(o, "wasm_v128 l%u; memset(&l%u, 0, 16);\n", np + k, np + k);
        continue;
      }
      sb_printf(o, "%s l%u = 0", any ? "," : CTYPES[tb], np + k);
      any = true;
    }
    if (any) sb_puts(o, ";\n");
  }
  for (unsigned tb = 0; tb < 6; tb++) {
    bool any = false;
    for (uint32_t h = 0; h < g->maxh; h++) {
      if (!(g->used[h] & (1u << tb))) continue;
      sb_printf(o, "%s %c%u", any ? "," : CTYPES[tb], LETTERS[tb], h);
      any = true;
    }
    if (any) sb_puts(o, ";\n");
  }
  /* K<id>_: whether loop <id> checks interruption on its back-edges. A
   * loop that never leaves generated code needs no check: interrupting it
   * sends a signal (aot.c), which finds it running inside this code. */
  bool any_loop = false;
  for (uint32_t k = 0; k < g->nlabels; k++) {
    if (!g->loops[k]) continue;
    sb_printf(o, "%sK%u_ = %d", any_loop ? ", " : "enum { ", k, g->loops[k] == LOOP_LEAVES);
    any_loop = true;
  }
  if (any_loop) sb_puts(o, " };\n");
  /* A leaf's frame fits in the stack floor's margin (aot.c): it need not
   * compare it, nor poll for interruption (it stays in generated code,
   * where the interrupt signal reaches it). */
  bool small_frame = (uint64_t)np + bd->nlocals + g->maxh <= 1024;
  sb_puts(o, g->calls || !small_frame ? "ENTER();\n" : "ENTER_LEAF();\n");
  sb_put(o, g->b.p ? g->b.p : "", g->b.n);
  if (g->lines) sb_puts(o, "\n#line ~\n"); /* back to module.c's numbering */
  sb_puts(o, "}\n\n");
}

/* The entry: the engine's slots in, the function's results out. */
static void emit_entry(gen *g, sbuf *o, uint32_t fi) {
  const wasm_functype *t = &g->m->types[g->m->func_type[fi]];
  char v[24];
  sb_printf(o, "static void e%u(wagi_aot_ctx *c, wagi_aot_slot *s) {\n", fi);
  if (!t->nparams && !t->nresults) sb_puts(o, "(void)s;\n");
  for (uint32_t k = 0; k < t->nparams; k++) sb_printf(o, "%s a%u; ", ctype(g, t->types[k]), k);
  for (uint32_t k = 0, s = 0; k < t->nparams; k++) {
    snprintf(v, sizeof v, "a%u", k);
    s += unpack(g, o, t->types[k], "s", s, v);
  }
  if (t->nparams) sb_puts(o, "\n");
  /* Called through a pointer the C compiler cannot see through, so that it
   * does not inline the function here and merge its code into the entry's
   * (the trap map would then name no function); the entry runs once per
   * call from the engine. */
  sb_printf(o, "__typeof__(w%u) *volatile f_ = w%u;\n", fi, fi);
  if (t->nresults == 0) sb_puts(o, "");
  else if (t->nresults == 1) sb_printf(o, "%s r_ = ", ctype(g, wasm_functype_result(t, 0)));
  else sb_printf(o, "R%u r_ = ", t->canon);
  sb_puts(o, "f_(c, c->depth - 1u");
  for (uint32_t k = 0; k < t->nparams; k++) sb_printf(o, ", a%u", k);
  sb_puts(o, ");\n");
  for (uint32_t k = 0, s = 0; k < t->nresults; k++) {
    if (t->nresults == 1) snprintf(v, sizeof v, "r_");
    else snprintf(v, sizeof v, "r_.a%u", k);
    s += pack(g, o, wasm_functype_result(t, k), "s", s, v);
  }
  if (t->nresults) sb_puts(o, "\n");
  sb_puts(o, "}\n");
}

/* The bytes as string literals (much faster for the C compiler to read than
 * an initializer list); octal escapes are always 3 digits, and '?' is
 * escaped against trigraphs. */
static void emit_bytes(sbuf *o, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i += 64) {
    size_t e = i + 64 < n ? i + 64 : n;
    if (!sb_reserve(o, (e - i) * 4 + 8)) return;
    char *w = o->p + o->n;
    *w++ = '"';
    for (size_t k = i; k < e; k++) {
      uint8_t c = p[k];
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '?') {
        *w++ = (char)c;
      } else {
        *w++ = '\\';
        *w++ = (char)('0' + (c >> 6));
        *w++ = (char)('0' + ((c >> 3) & 7));
        *w++ = (char)('0' + (c & 7));
      }
    }
    *w++ = '"';
    *w++ = '\n';
    o->n = (size_t)(w - o->p);
    o->p[o->n] = 0;
  }
}

static const char PRELUDE[] =
    "#if defined(__clang__)\n"
    "#pragma clang diagnostic ignored \"-Wunknown-warning-option\"\n"
    "#pragma clang diagnostic ignored \"-Wunused-label\"\n"
    "#pragma clang diagnostic ignored \"-Wunused-variable\"\n"
    "#pragma clang diagnostic ignored \"-Wunused-but-set-variable\"\n"
    "#pragma clang diagnostic ignored \"-Wunused-parameter\"\n"
    "#pragma clang diagnostic ignored \"-Wunused-but-set-parameter\"\n"
    "#pragma clang diagnostic ignored \"-Winfinite-recursion\"\n"
    "#pragma clang diagnostic ignored \"-Wuninitialized\"\n"
    "#pragma clang diagnostic ignored \"-Wsometimes-uninitialized\"\n"
    "#elif defined(__GNUC__)\n"
    "#pragma GCC diagnostic ignored \"-Wpragmas\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-label\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-variable\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-but-set-variable\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-parameter\"\n"
    "#pragma GCC diagnostic ignored \"-Wunused-but-set-parameter\"\n"
    "#pragma GCC diagnostic ignored \"-Winfinite-recursion\"\n"
    "#pragma GCC diagnostic ignored \"-Wuninitialized\"\n"
    "#pragma GCC diagnostic ignored \"-Wmaybe-uninitialized\"\n"
    "#endif\n"
    "typedef void *wref;\n"
    "/* A trap of this function (FN_) at module offset o. */\n"
    "#define TR(s, o) c->rt->trap(c, (s), FN_, (o))\n"
    "/* numops.h's trapping operators; O_ is the instruction's offset. */\n"
    "#define TRAP(s) TR(WAGI_AOT_TRAP_##s, O_)\n"
    "/* A runtime service's trap status. */\n"
    "#define CK(e, o) do { int st_ = (e); if (WASM_UNLIKELY(st_ != 0)) TR(st_, (o)); } while (0)\n"
    "/* Loop back-edges: interrupted (see aot_abi.h's limit). */\n"
    "#define INTR(o) do { if (WASM_UNLIKELY(atomic_load_explicit(&c->limit, "
    "memory_order_relaxed) == UINTPTR_MAX)) TR(WAGI_AOT_TRAP_INTERRUPTED, (o)); } while (0)\n"
    "/* Function entry: depth budget spent, frame below the stack floor, or interrupted. */\n"
    "#define ENTER() do { uintptr_t sp_ = SP_(); if (WASM_UNLIKELY(d_ == 0 || sp_ < "
    "atomic_load_explicit(&c->limit, memory_order_relaxed))) enter_slow_(c, d_, FN_, sp_); } "
    "while (0)\n"
    "#define ENTER_LEAF() do { if (WASM_UNLIKELY(d_ == 0)) enter_slow_(c, d_, FN_, SP_()); } "
    "while (0)\n"
    "/* The checks' slow path out of line: the fewer instructions a check adds,\n"
    " * the more the C compiler inlines (fib ran 15% faster). */\n"
    "__attribute__((cold, noinline, unused)) static void enter_slow_(wagi_aot_ctx *c, uint32_t d,\n"
    "    uint32_t fn, uintptr_t sp) {\n"
    "  c->rt->enter_check(c, d, fn, (const void *)sp);\n"
    "}\n"
    "/* The stack pointer (__builtin_frame_address would make every function\n"
    " * set up a frame pointer). */\n"
    "#if defined(__x86_64__)\n"
    "#define SP_() ({ uintptr_t s_; __asm__(\"mov %%rsp, %0\" : \"=r\"(s_)); s_; })\n"
    "#elif defined(__aarch64__)\n"
    "#define SP_() ({ uintptr_t s_; __asm__(\"mov %0, sp\" : \"=r\"(s_)); s_; })\n"
    "#else\n"
    "#define SP_() ((uintptr_t)__builtin_frame_address(0))\n"
    "#endif\n"
    "#define EA(a, o) (mem + (uint64_t)(uint32_t)(a) + (uint64_t)(o))\n"
    "#define G(x) (*c->globals[x])\n"
    "/* Makes a value needed (a load that must trap even if its result is dropped). */\n"
    "#define FORCE(x) __asm__ volatile(\"\" : : \"r\"(x))\n"
    "/* Hides a constant from the C compiler's folding (see aot_gen.c). */\n"
    "__attribute__((unused)) static inline uint32_t OPQ32(uint32_t u) { __asm__(\"\" : \"+r\"(u)); "
    "return u; }\n"
    "__attribute__((unused)) static inline uint64_t OPQ64(uint64_t u) { __asm__(\"\" : \"+r\"(u)); "
    "return u; }\n";

static const char PRELUDE_SIMD[] =
    "__attribute__((unused)) static inline wasm_v128 v128k(uint64_t lo, uint64_t hi) {\n"
    "  uint64_t k[2] = {lo, hi}; wasm_v128 v; memcpy(&v, k, 16); return v;\n"
    "}\n"
    "#define FORCEV(v) do { uint64_t q_[2]; memcpy(q_, &(v), 16); FORCE(q_[0]); FORCE(q_[1]); } "
    "while (0)\n"
    "/* i8x16.shuffle's lanes are constants here: the C compiler's own vector\n"
    " * shuffle picks instructions for the pattern (pshufd, punpck*, byte\n"
    " * shifts...) where the general one is a byte loop without SSSE3. */\n"
    "#if defined(__GNUC__) && (defined(SIMDE_X86_SSE2_NATIVE) || defined(SIMDE_ARM_NEON_A64V8_NATIVE))\n"
    "typedef uint8_t wagi_u8x16_ __attribute__((vector_size(16)));\n"
    "#if defined(__clang__)\n"
    "#define SHUF16(a, b, ...) \\\n"
    "  ((wasm_v128)__builtin_shufflevector((wagi_u8x16_)(a), (wagi_u8x16_)(b), __VA_ARGS__))\n"
    "#else\n"
    "#define SHUF16(a, b, ...) \\\n"
    "  ((wasm_v128)__builtin_shuffle((wagi_u8x16_)(a), (wagi_u8x16_)(b), (wagi_u8x16_){__VA_ARGS__}))\n"
    "#endif\n"
    "#else\n"
    "#define SHUF16(a, b, ...) wasm_simd_I8X16_SHUFFLE((a), (b), (const uint8_t[16]){__VA_ARGS__})\n"
    "#endif\n";

wasm_status wasmi_aot_generate(const wasm_module *m, const uint8_t digest[32], bool strict_loads,
                               char **out, size_t *len, wasm_error *err) {
  if (!m || !out || !len)
    return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "no module or output");
  gen g;
  memset(&g, 0, sizeof g);
  g.m = m;
  g.strict_loads = strict_loads;
  g.lines = m->len < ((size_t)1 << 29); /* markers 4*off+3 fit a #line */
  sbuf code = {0};                      /* functions, entries, descriptor */
  sbuf o = {0};                         /* the whole file */
  wasm_status st = WASM_OK;
  uint32_t ndef = m->nfuncs - m->nfunc_imports;

  /* The v128 types of the module's interface (globals, function types);
   * bodies add theirs as they are translated. */
  for (uint32_t k = 0; k < m->nglobals; k++)
    if (m->global_types[k].type == WASM_V128) g.simd = true;
  for (uint32_t k = 0; k < m->ntypes; k++)
    for (uint32_t j = 0; j < m->types[k].nparams + m->types[k].nresults; j++)
      if (m->types[k].types[j] == WASM_V128) g.simd = true;

  /* Multi-value result structs, one per canonical type. */
  for (uint32_t k = 0; k < m->ntypes; k++) {
    const wasm_functype *t = &m->types[k];
    if (t->canon != k || t->nresults < 2) continue;
    sb_puts(&code, "typedef struct {");
    for (uint32_t j = 0; j < t->nresults; j++)
      sb_printf(&code, " %s a%u;", ctype(&g, wasm_functype_result(t, j)), j);
    sb_printf(&code, " } R%u;\n", k);
  }
  for (uint32_t i = 0; i < ndef; i++) {
    emit_signature(&g, &code, m->nfunc_imports + i);
    sb_puts(&code, ";\n");
  }
  sb_puts(&code, "\n");
  /* A first pass learns which functions return a loaded value (fn_ret), so
   * that callers translated before their callees know it too. */
  if (g.lines && !(g.fn_ret = calloc(m->nfuncs ? m->nfuncs : 1, sizeof *g.fn_ret))) g.oom = true;
  for (uint32_t i = 0; g.fn_ret && i < ndef && st == WASM_OK; i++) {
    g.b.n = 0;
    st = translate_body(&g, i, err);
  }
  for (uint32_t i = 0; i < ndef && st == WASM_OK; i++) {
    g.b.n = 0;
    if (g.b.p) g.b.p[0] = 0;
    st = translate_body(&g, i, err);
    if (st == WASM_OK) emit_function(&g, &code, i);
  }
  if (st == WASM_OK) {
    for (uint32_t i = 0; i < ndef; i++) emit_entry(&g, &code, m->nfunc_imports + i);
    if (ndef) {
      sb_printf(&code, "\nstatic const wagi_aot_entry entries_[%u] = {", ndef);
      for (uint32_t i = 0; i < ndef; i++)
        sb_printf(&code, "%se%u", i == 0 ? "\n" : i % 16 ? ", " : ",\n", m->nfunc_imports + i);
      sb_puts(&code, "};\n");
    }
    sb_printf(&code,
              "\n__attribute__((visibility(\"default\"))) const wagi_aot_module WAGI_AOT_SYMBOL = "
              "{WAGI_AOT_ABI, %uu, %s, {",
              ndef, ndef ? "entries_" : "0");
    for (int k = 0; k < 32; k++) sb_printf(&code, "%s0x%02x", k ? ", " : "", digest[k]);
    sb_puts(&code, "}};\n");
    sb_printf(&code,
              "\n__attribute__((visibility(\"default\"))) const unsigned char wagi_aot_wasm[%zu] "
              "=\n",
              m->len + 1);
    emit_bytes(&code, m->bytes, m->len);
    sb_printf(&code,
              ";\n__attribute__((visibility(\"default\"))) const unsigned long wagi_aot_wasm_len "
              "= %zuu;\n",
              m->len);

    sb_puts(&o, "/* Generated by wagi's AOT translator (aot_gen.c). Do not edit. */\n");
    sb_puts(&o, "#include <stdint.h>\n#include <string.h>\n#include \"aot_abi.h\"\n");
    sb_puts(&o, "#include \"numops.h\"\n");
    if (g.simd) sb_puts(&o, "#include \"simd_ops.h\"\n");
    sb_puts(&o, PRELUDE);
    if (g.simd) sb_puts(&o, PRELUDE_SIMD);
    sb_puts(&o, "\n");
    put_restoring_lines(&o, &code);
    if (g.oom || code.oom || o.oom || g.b.oom) st = WASM_ERR_NOMEM;
  } else if (g.oom || g.b.oom || code.oom) {
    st = WASM_ERR_NOMEM;
  }
  if (st == WASM_ERR_NOMEM)
    wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX,
                    "out of memory: translating the module to C");
  free(g.ts);
  free(g.ld);
  free(g.used);
  free(g.fs);
  free(g.keys);
  free(g.loops);
  free(g.fn_ret);
  free(g.src);
  free(g.lsrc);
  free(g.lsrc_ep);
  free(g.b.p);
  free(code.p);
  if (st != WASM_OK) {
    free(o.p);
    return st;
  }
  *out = o.p;
  *len = o.n;
  return WASM_OK;
}
