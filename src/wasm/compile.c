/* compile.c — translates validated function bodies into threaded code.
 *
 * One pass per body. The wasm operand stack is tracked at compile time: each
 * stack position owns a fixed frame slot ("canonical slot"), but an entry
 * may still live elsewhere — in a local's slot (pending local.get) or as a
 * constant — until something needs it in its canonical slot (block
 * boundaries, calls, a local.set of that local). Consumers address the
 * operand where it lives, so `local.get a; local.get b; i32.add` is one
 * instruction reading both locals directly. Fusions done here:
 *   - constants as immediates for i32/i64 binary ops and compares;
 *   - constants that loops need in a slot come from a per-frame pool set once
 *     on entry (second pass, only for functions that need it);
 *   - `x + imm` / `x + local` feeding a load or store folds into its address;
 *   - a result followed by local.set/tee is written straight into the local;
 *   - i32/i64/f32/f64 compare (and eqz) followed by br_if or if becomes one
 *     compare-branch; f32/f64 mul followed by add becomes one instruction;
 *   - calls to functions of the same module jump straight to their code;
 *     local arguments move with one MOVN; a one-cell return moves itself,
 *     or the instruction computing it writes slot 0 directly;
 *   - a load feeding a binary op (load-op), and `x[i] = v op x[i]` (RMW);
 *     `y[i] += a * x[i]` (AXPY); i32 xor/add/or/and of a shifted or rotated
 *     value; `x + y + z`; `a & ~b`; two adjacent i32 adds (or an add and an
 *     i32 copy) as one ADDP; adjacent moves as MOVP;
 *   - `i += k` or an i32.load right before a compare-branch (BRINC, BRLD).
 * Fusions only look back at the instruction(s) just emitted, never across a
 * label (last_start / last_label), so no branch can land inside one. A fused
 * instruction that can trap carries the wasm offset of the part that traps
 * (emit_op_at; a second pc entry inside AXPY and BRLD for their second part).
 * Branch targets are resolved to cell pointers; values carried by branches
 * are moved into the target's slots by explicit moves emitted on the taken
 * path only. Unreachable code is parsed but not emitted. Declared locals are
 * zeroed on entry only if they may be read before written (note_local).
 * WAGI_DUMP_CODE=1 prints every compiled body to stderr (dump_code).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "wasm_int.h"

#define NONE32 UINT32_MAX
#define POOL_MAX 32

/* Where a stack entry's value is: its canonical slot, a local's slot, a
 * constant, or (K_ADDI) an i32 sum "base + imm" not computed yet, whose base
 * is a local (local != NONE32) or the entry's own canonical slot, or
 * (K_ADDL) an i32 sum "base + local `val`" with the same kinds of base. */
enum { K_SLOT, K_LOCAL, K_CONST, K_ADDI, K_ADDL };

typedef struct {
  uint8_t kind, type;
  uint32_t slot;  /* canonical slot of this stack position */
  uint32_t local; /* K_LOCAL, K_ADDI */
  uint64_t val;   /* K_CONST, K_ADDI */
  uint8_t saved;  /* emit_return: kind to restore */
} vent;

enum { F_BLOCK, F_LOOP, F_IF, F_ELSE, F_FUNC };

typedef struct {
  uint8_t kind;
  bool unreachable;
  uint32_t height;    /* vstack entries below the block's params */
  uint32_t base_slot; /* slot of the first param / result */
  uint32_t nparams, nresults;
  const uint8_t *ptypes, *rtypes;
  uint32_t label;    /* loop: cell index of the loop head */
  uint32_t fix;      /* forward-branch chain: cell index + 1, 0 = none */
  uint32_t else_fix; /* if: cell holding the jump to else, or NONE32 */
  uint32_t gen;      /* unique id (local zeroing analysis) */
} cfr;

typedef struct {
  const wasm_module *m;
  const void *const *labels;
  uint32_t func;
  const wasm_functype *ft;
  uint32_t nlocals; /* params + declared locals */
  const uint8_t *body_ltypes;
  uint32_t *lslot;
  uint32_t local_slots;
  /* Per local: LS_NONE until its first access; LS_SET if that access is a
   * write that runs before any later code (so the entry zeroing can skip
   * it); LS_ZERO if it may be read before written. */
  uint8_t *lstate;
  uint32_t *lgen; /* LS_SET: gen of the frame whose end ends it, 0 = never */
  uint32_t *lset; /* locals in LS_SET with lgen != 0, innermost frame on top */
  uint32_t nlset, ngen;

  wasm_cell *code;
  uint32_t ncode, capcode;
  uint32_t *pcmap;
  uint32_t npc, cappc;
  uint32_t *tfix;
  uint32_t ntfix, captfix;
  uint32_t *dcalls;
  uint32_t ndcalls, capdcalls;
  vent *vs;
  uint32_t nvs, capvs;
  cfr *cs;
  uint32_t ncs, capcs;
  uint32_t cur_slot, max_slot;
  bool oom;

  uint32_t last_start; /* start of the last instruction, NONE32 after a label */
  uint32_t last_label; /* cell index of the latest label */
  uint32_t cell2;      /* latest extra pc entry inside an instruction (AXPY, BRLD) */
  int last_iop;
  bool last_dst;    /* last instruction writes its result to A0 */
  uint32_t cur_off; /* module offset of the wasm instruction being compiled */

  /* Constant pool: constants that loops need in a slot live in frame slots
   * after the locals, set once on entry. Pass 1 collects them, pass 2 uses
   * them. */
  uint32_t loop_depth;
  bool pool_final;
  uint32_t npool;
  uint64_t pool[POOL_MAX];
} comp;

/* ---- Opcode table from opcodes.def -------------------------------------- */

#define T_NONE 0
#define T_I32 WASM_I32
#define T_I64 WASM_I64
#define T_F32 WASM_F32
#define T_F64 WASM_F64
#define T_V128 WASM_V128

enum {
  OK_SPECIAL,
  OK_NUMERIC,
  OK_LOAD,
  OK_STORE,
  OK_EXTRACT_LANE,
  OK_REPLACE_LANE,
  OK_LOAD_LANE,
  OK_STORE_LANE
};

typedef struct {
  uint8_t kind, res, p1, p2, p3;
  bool valid;
  int16_t iop, iop_i;
} opinfo;

#define IOPOF_SPECIAL(name) -1
#define IOPOF_NUMERIC(name) WASM_IOP_##name
#define IOPOF_LOAD(name) WASM_IOP_##name
#define IOPOF_STORE(name) WASM_IOP_##name
#define IOPOF_EXTRACT_LANE(name) WASM_IOP_##name
#define IOPOF_REPLACE_LANE(name) WASM_IOP_##name
#define IOPOF_LOAD_LANE(name) WASM_IOP_##name
#define IOPOF_STORE_LANE(name) WASM_IOP_##name
#define IMMOF_SPECIAL(name, p1, p2) -1
#define IMMOF_NUMERIC(name, p1, p2) IMMN_##p2(name, p1)
#define IMMOF_LOAD(name, p1, p2) -1
#define IMMOF_STORE(name, p1, p2) -1
#define IMMOF_EXTRACT_LANE(name, p1, p2) -1
#define IMMOF_REPLACE_LANE(name, p1, p2) -1
#define IMMOF_LOAD_LANE(name, p1, p2) -1
#define IMMOF_STORE_LANE(name, p1, p2) -1
#define IMMN_NONE(name, p1) -1
#define IMMN_F32(name, p1) -1
#define IMMN_F64(name, p1) -1
#define IMMN_V128(name, p1) -1
#define IMMN_I32(name, p1) IMMB_##p1(name)
#define IMMN_I64(name, p1) IMMB_##p1(name)
#define IMMB_I32(name) WASM_IOP_##name##_I
#define IMMB_I64(name) WASM_IOP_##name##_I
#define IMMB_V128(name) -1
#define OPI(name, code, text, kind, res, p1, p2, p3, lanes)                                        \
  [code] = {OK_##kind,                                                                             \
            T_##res,                                                                               \
            T_##p1,                                                                                \
            T_##p2,                                                                                \
            T_##p3,                                                                                \
            true,                                                                                  \
            IOPOF_##kind(name),                                                                    \
            IMMOF_##kind(name, p1, p2)},

static const opinfo OPS[256] = {
#define WASM_OP OPI
#include "opcodes.def"
};
static const opinfo OPS_FC[32] = {
#define WASM_OP_FC OPI
#include "opcodes.def"
};
#if WASM_HAVE_SIMD
static const opinfo OPS_FD[256] = {
#define WASM_OP_FD OPI
#include "opcodes.def"
};
#endif

/* ---- Buffers ---------------------------------------------------------------- */

static bool grow(comp *c, void **p, uint32_t *cap, uint32_t need, size_t elem) {
  if (need <= *cap) return true;
  if (c->oom) return false;
  uint64_t n = *cap ? (uint64_t)*cap * 2 : 64;
  while (n < need) n *= 2;
  if (n > UINT32_MAX / 2 || n * elem > ((size_t)1 << 34)) {
    c->oom = true;
    return false;
  }
  void *q = realloc(*p, (size_t)n * elem);
  if (!q) {
    c->oom = true;
    return false;
  }
  *p = q;
  *cap = (uint32_t)n;
  return true;
}

static void put_cell(comp *c, uint64_t u) {
  if (!grow(c, (void **)&c->code, &c->capcode, c->ncode + 1, sizeof(wasm_cell))) return;
  c->code[c->ncode++].u = u;
}

static void emit_op(comp *c, int iop) {
  if (!grow(c, (void **)&c->pcmap, &c->cappc, c->npc + 2, sizeof(uint32_t))) return;
  c->pcmap[c->npc++] = c->ncode;
  c->pcmap[c->npc++] = c->cur_off;
  c->last_start = c->ncode;
  c->last_iop = iop;
  c->last_dst = false;
  if (!grow(c, (void **)&c->code, &c->capcode, c->ncode + 1, sizeof(wasm_cell))) return;
  c->code[c->ncode++].h = c->labels[iop];
}

static void emit2(comp *c, uint32_t a, uint32_t b) {
  put_cell(c, (uint64_t)a | ((uint64_t)b << 32));
}

/* A cell holding a branch target (cell index until finalisation). */
static uint32_t emit_target(comp *c, uint32_t idx) {
  if (!grow(c, (void **)&c->tfix, &c->captfix, c->ntfix + 1, sizeof(uint32_t))) return 0;
  c->tfix[c->ntfix++] = c->ncode;
  put_cell(c, idx);
  return c->ncode - 1;
}

/* Removes the last instruction (used when fusing it into a branch). */
static void unemit_last(comp *c) {
  c->ncode = c->last_start;
  while (c->npc >= 2 && c->pcmap[c->npc - 2] >= c->ncode) c->npc -= 2;
  c->last_start = NONE32;
}

static void place_label(comp *c) {
  c->last_start = NONE32;
  c->last_label = c->ncode;
}

/* Wasm offset recorded for the last instruction (before it is taken back). */
static uint32_t last_off(const comp *c) { return c->npc ? c->pcmap[c->npc - 1] : c->cur_off; }

/* emit_op for a fused instruction that can trap only in its first part: the
 * pc map names that part's wasm offset, so trap locations stay exact. */
static void emit_op_at(comp *c, int iop, uint32_t off) {
  uint32_t cur = c->cur_off;
  c->cur_off = off;
  emit_op(c, iop);
  c->cur_off = cur;
}

/* Forward reference to frame f's end label. */
static void emit_fwd(comp *c, cfr *f) {
  uint32_t cell = emit_target(c, f->fix);
  if (!c->oom) f->fix = cell + 1;
}

static void patch_chain(comp *c, uint32_t head, uint32_t target) {
  while (head && !c->oom) {
    uint32_t cell = head - 1;
    head = (uint32_t)c->code[cell].u;
    c->code[cell].u = target;
  }
}

/* ---- Operand stack ------------------------------------------------------------ */

static inline uint32_t width(uint8_t t) { return t == WASM_V128 ? 2 : 1; }

static vent *push(comp *c, uint8_t type, uint8_t kind) {
  if (!grow(c, (void **)&c->vs, &c->capvs, c->nvs + 1, sizeof(vent))) return NULL;
  vent *e = &c->vs[c->nvs++];
  e->kind = kind;
  e->type = type;
  e->slot = c->cur_slot;
  e->local = 0;
  e->val = 0;
  c->cur_slot += width(type);
  if (c->cur_slot > c->max_slot) c->max_slot = c->cur_slot;
  return e;
}

static vent pop(comp *c) {
  vent e = c->vs[--c->nvs];
  c->cur_slot = e.slot;
  return e;
}

static void pair_adds(comp *c);

static void emit_mov(comp *c, uint8_t type, uint32_t dst, uint32_t src) {
  if (dst == src) return;
  if (type == WASM_I32 && c->last_start != NONE32 && c->ncode == c->last_start + 3 &&
      (c->last_iop == WASM_IOP_I32_ADD || c->last_iop == WASM_IOP_I32_ADD_I)) {
    /* An i32 copy right after an add (`local.tee a; local.set b`, loop
     * variables) is an add of 0 that pairs with it into one ADDP. */
    emit_op(c, WASM_IOP_I32_ADD_I);
    emit2(c, dst, src);
    emit2(c, 0, 0);
    c->last_dst = true;
    pair_adds(c);
    return;
  }
  if (width(type) == 1 && c->last_start != NONE32 && c->last_iop == WASM_IOP_MOV &&
      c->last_start + 2 == c->ncode) {
    /* Pair with the move just emitted (no label between them): one dispatch.
     * The pair's A0 is not the latest result, so no local.set rewrite. */
    c->code[c->last_start].h = c->labels[WASM_IOP_MOVP];
    c->last_iop = WASM_IOP_MOVP;
    emit2(c, dst, src);
    c->last_dst = false;
    return;
  }
  emit_op(c, width(type) == 2 ? WASM_IOP_MOV2 : WASM_IOP_MOV);
  emit2(c, dst, src);
  c->last_dst = true;
}

static void emit_const(comp *c, uint32_t dst, uint64_t v) {
  emit_op(c, WASM_IOP_CONST);
  emit2(c, dst, 0);
  put_cell(c, v);
  c->last_dst = true;
}

static uint32_t addi_base(const comp *c, const vent *e) {
  return e->local != NONE32 ? c->lslot[e->local] : e->slot;
}

/* Called after an i32.add (register or immediate form) is emitted: if the
 * instruction right before it is one too (no label between), the two become
 * one ADDP. */
static void pair_adds(comp *c) {
  if (c->last_start == NONE32 ||
      (c->last_iop != WASM_IOP_I32_ADD && c->last_iop != WASM_IOP_I32_ADD_I) || c->npc < 4)
    return;
  uint32_t ps = c->pcmap[c->npc - 4], ls = c->last_start;
  if (ps + 3 != ls || c->ncode != ls + 3 || c->last_label > ps || ps == c->cell2) return;
  bool imm1 = c->code[ps].h == c->labels[WASM_IOP_I32_ADD_I];
  if (!imm1 && c->code[ps].h != c->labels[WASM_IOP_I32_ADD]) return;
  bool imm2 = c->last_iop == WASM_IOP_I32_ADD_I;
  wasm_cell i1a = c->code[ps + 1], i1b = c->code[ps + 2];
  wasm_cell i2a = c->code[ls + 1], i2b = c->code[ls + 2];
  c->ncode = ps;
  c->npc -= 4;
  bool dst = c->last_dst;
  int iop = WASM_IOP_I32_ADDP + (imm2 ? 1 : 0) + (imm1 ? 2 : 0);
  emit_op(c, iop);
  emit2(c, i2a.a[0], i2a.a[1]);
  emit2(c, i2b.a[0], i1a.a[0]);
  emit2(c, i1a.a[1], i1b.a[0]);
  c->last_dst = dst;
}

/* Writes the value of entry e into slot dst. */
static void move_to(comp *c, const vent *e, uint32_t dst) {
  if (e->kind == K_CONST) emit_const(c, dst, e->val);
  else if (e->kind == K_ADDL) {
    emit_op(c, WASM_IOP_I32_ADD);
    emit2(c, dst, addi_base(c, e));
    emit2(c, c->lslot[e->val], 0);
    c->last_dst = true;
    pair_adds(c);
  } else if (e->kind == K_ADDI) {
    emit_op(c, WASM_IOP_I32_ADD_I);
    emit2(c, dst, addi_base(c, e));
    emit2(c, (uint32_t)e->val, 0);
    c->last_dst = true;
    pair_adds(c);
  } else if (e->kind == K_LOCAL) emit_mov(c, e->type, dst, c->lslot[e->local]);
  else emit_mov(c, e->type, dst, e->slot);
}

/* Forces entry e into its canonical slot. */
static void materialize(comp *c, vent *e) {
  if (e->kind == K_SLOT) return;
  move_to(c, e, e->slot);
  e->kind = K_SLOT;
}

/* Slot where entry e can be read (constants are materialised). */
static uint32_t src(comp *c, vent *e) {
  if (e->kind == K_LOCAL) return c->lslot[e->local];
  if (e->kind == K_CONST && c->loop_depth) {
    for (uint32_t k = 0; k < c->npool; k++)
      if (c->pool[k] == e->val) return c->local_slots + k;
    if (!c->pool_final && c->npool < POOL_MAX) c->pool[c->npool++] = e->val;
  }
  materialize(c, e);
  return e->slot;
}

static void flush_all(comp *c) {
  for (uint32_t i = 0; i < c->nvs; i++) materialize(c, &c->vs[i]);
}

/* Whether entry e reads local x (so a write to x must materialise it). */
static bool uses_local(const vent *e, uint32_t x) {
  if (e->kind == K_LOCAL || e->kind == K_ADDI) return e->local == x;
  if (e->kind == K_ADDL) return e->local == x || e->val == x;
  return false;
}

static void flush_local(comp *c, uint32_t x) {
  for (uint32_t i = 0; i < c->nvs; i++)
    if (uses_local(&c->vs[i], x)) materialize(c, &c->vs[i]);
}

static bool has_local(comp *c, uint32_t x) {
  for (uint32_t i = 0; i < c->nvs; i++)
    if (uses_local(&c->vs[i], x)) return true;
  return false;
}

static uint8_t local_type(comp *c, uint32_t x) {
  return x < c->ft->nparams ? c->ft->types[x] : c->body_ltypes[x - c->ft->nparams];
}

/* ---- Which locals need zeroing on entry -------------------------------------- */

enum { LS_NONE, LS_SET, LS_ZERO };

/* Whether a branch emitted so far may land after the current position: a
 * pending forward reference to the end of a still open block, or the false
 * edge of an open `if`. Without one, everything compiled from here on runs
 * only after the current instruction (loops jump back, returns leave). */
static const cfr *fwd_pending(const comp *c) {
  for (uint32_t i = c->ncs; i-- > 0;)
    if (c->cs[i].fix || c->cs[i].else_fix != NONE32) return &c->cs[i];
  return NULL;
}

/* A write with such a pending branch still covers the code up to the end
 * (or else) of the innermost frame holding one: paths that skip the write
 * join only there. After it, the local counts as not accessed yet. */
static void note_local(comp *c, uint32_t x, bool write) {
  if (c->lstate[x] != LS_NONE) return;
  if (!write) {
    c->lstate[x] = LS_ZERO;
    return;
  }
  c->lstate[x] = LS_SET;
  const cfr *f = fwd_pending(c);
  c->lgen[x] = f ? f->gen : 0;
  if (f) c->lset[c->nlset++] = x;
}

/* Frame f ends (or reaches its else): writes it covered no longer count. */
static void end_local_cover(comp *c, const cfr *f) {
  while (c->nlset && c->lgen[c->lset[c->nlset - 1]] == f->gen)
    c->lstate[c->lset[--c->nlset]] = LS_NONE;
}

/* ---- Control ------------------------------------------------------------------ */

static const uint8_t VT_BYTES[] = {WASM_I32,  WASM_I64,     WASM_F32,      WASM_F64,
                                   WASM_V128, WASM_FUNCREF, WASM_EXTERNREF};

wasmi_block_sig wasmi_block_type(const wasm_module *m, int64_t bt) {
  wasmi_block_sig s = {0, 0, NULL, NULL};
  if (bt == -64) return s;
  if (bt < 0) {
    uint8_t b = (uint8_t)(bt & 0x7f);
    for (size_t i = 0; i < sizeof VT_BYTES; i++)
      if (VT_BYTES[i] == b) {
        s.results = &VT_BYTES[i];
        s.nresults = 1;
      }
    return s;
  }
  const wasm_functype *t = &m->types[bt];
  s.nparams = t->nparams;
  s.nresults = t->nresults;
  s.params = t->types;
  s.results = t->types + t->nparams;
  return s;
}

static void block_type(comp *c, int64_t bt, cfr *f) {
  wasmi_block_sig s = wasmi_block_type(c->m, bt);
  f->nparams = s.nparams;
  f->nresults = s.nresults;
  f->ptypes = s.params;
  f->rtypes = s.results;
}

static cfr *push_frame(comp *c, uint8_t kind, int64_t bt) {
  if (!grow(c, (void **)&c->cs, &c->capcs, c->ncs + 1, sizeof(cfr))) return NULL;
  cfr *f = &c->cs[c->ncs++];
  memset(f, 0, sizeof *f);
  f->kind = kind;
  f->else_fix = NONE32;
  f->gen = ++c->ngen;
  block_type(c, bt, f);
  f->height = c->nvs - f->nparams;
  f->base_slot = f->nparams ? c->vs[f->height].slot : c->cur_slot;
  return f;
}

/* Resets the operand stack to frame f's base and pushes `n` values of
 * `types` in their canonical slots. */
static void reset_stack(comp *c, cfr *f, uint32_t n, const uint8_t *types) {
  c->nvs = f->height;
  c->cur_slot = f->base_slot;
  for (uint32_t i = 0; i < n; i++) push(c, types[i], K_SLOT);
}

/* Moves the top `n` values into consecutive slots starting at `dst`. */
static void move_top(comp *c, uint32_t n, uint32_t dst) {
  uint32_t first = c->nvs - n;
  for (uint32_t i = 0; i < n; i++) {
    vent *e = &c->vs[first + i];
    if (!(e->kind == K_SLOT && e->slot == dst)) move_to(c, e, dst);
    dst += width(e->type);
  }
}

static bool top_in_place(comp *c, uint32_t n, uint32_t dst) {
  uint32_t first = c->nvs - n;
  for (uint32_t i = 0; i < n; i++) {
    vent *e = &c->vs[first + i];
    if (!(e->kind == K_SLOT && e->slot == dst)) return false;
    dst += width(e->type);
  }
  return true;
}

static uint32_t arity(const cfr *f) { return f->kind == F_LOOP ? f->nparams : f->nresults; }

static void emit_return(comp *c) {
  uint32_t n = c->ft->nresults;
  uint32_t first = c->nvs - n;
  if (n == 1 && c->ft->result_slots == 1) {
    /* One-cell result: the return instruction moves it itself. */
    vent e = c->vs[first];
    uint32_t s = src(c, &e);
    if (s != 0 && e.kind == K_SLOT && c->last_start != NONE32 && c->last_dst &&
        c->code[c->last_start + 1].a[0] == s) {
      /* It was computed by the instruction just before (no label between):
       * that one writes slot 0 instead. Handlers read their operands before
       * writing the result, and nothing after the return reads the frame. */
      c->code[c->last_start + 1].a[0] = 0;
      s = 0;
    }
    if (s == 0) {
      emit_op(c, WASM_IOP_RETURN);
      return;
    }
    emit_op(c, WASM_IOP_RETURN1);
    emit2(c, s, 0);
    return;
  }
  /* A local read from a slot the results overwrite must be copied out first.
   * The entries are restored afterwards: on br_if this code runs only on the
   * taken path, so the fall-through path must not believe they moved. */
  for (uint32_t i = 0; i < n; i++) {
    vent *e = &c->vs[first + i];
    e->saved = e->kind;
    bool low = (e->kind == K_LOCAL || e->kind == K_ADDI || e->kind == K_ADDL) &&
               e->local != NONE32 && c->lslot[e->local] < c->ft->result_slots;
    if (e->kind == K_ADDL && c->lslot[e->val] < c->ft->result_slots) low = true;
    if (low) {
      move_to(c, e, e->slot);
      e->kind = K_SLOT;
    }
  }
  move_top(c, n, 0);
  for (uint32_t i = 0; i < n; i++) c->vs[first + i].kind = c->vs[first + i].saved;
  emit_op(c, WASM_IOP_RETURN);
}

/* Unconditional jump to label `depth`, including value moves. */
static void emit_br(comp *c, uint32_t depth) {
  cfr *f = &c->cs[c->ncs - 1 - depth];
  if (f->kind == F_FUNC) {
    emit_return(c);
    return;
  }
  move_top(c, arity(f), f->base_slot);
  if (f->kind == F_LOOP) {
    emit_op(c, WASM_IOP_BR_L);
    emit_target(c, f->label);
  } else {
    emit_op(c, WASM_IOP_BR);
    emit_fwd(c, f);
  }
}

/* A condition popped for br_if / if: either a fusable compare or a slot. */
typedef struct {
  int k; /* compare index 0..9 (BR_EQ..BR_GE_U), -1: plain, -2: eqz */
  bool imm;
  bool wide; /* i64 compare (BR64_*) */
  bool fl;   /* float compare (BRF_*): k = 0..11 */
  uint32_t a, b;
  uint64_t imm64;
  uint32_t inc; /* start + 1 of an `a = y + k` just before the compare, or 0 */
  uint32_t ld;  /* start + 1 of an `a = i32.load` just before the compare, or 0 */
} cond_t;

/* Pops a condition. If it is the result of the instruction just emitted and
 * that is a compare (only an i32 compare with `i32_only`), the compare is
 * taken back and returned for fusion; otherwise r.k = -1, r.a = its slot. */
static cond_t take_cond_ex(comp *c, bool i32_only) {
  cond_t r = {-1, false, false, false, 0, 0, 0, 0, 0};
  vent e = pop(c);
  if (e.kind == K_SLOT && c->last_start != NONE32 && c->last_dst &&
      c->code[c->last_start + 1].a[0] == e.slot) {
    int iop = c->last_iop;
    const wasm_cell *ins = &c->code[c->last_start];
    if (iop >= WASM_IOP_I32_EQ && iop <= WASM_IOP_I32_GE_U_I) {
      /* enum order: I32_EQ, I32_EQ_I, I32_NE, I32_NE_I, ... */
      int rel = iop - WASM_IOP_I32_EQ;
      r.k = rel / 2;
      r.imm = rel & 1;
      r.a = ins[1].a[1];
      r.b = ins[2].a[0];
      if (c->npc >= 4) {
        /* Remember an increment of a right before: a loop back-edge may
         * absorb it (see emit_cond_jump). */
        uint32_t ps = c->pcmap[c->npc - 4];
        if (ps + 3 == c->last_start && c->last_label <= ps && ps != c->cell2 &&
            c->code[ps + 1].a[0] == r.a) {
          if (c->code[ps].h == c->labels[WASM_IOP_I32_ADD_I]) r.inc = ps + 1;
          if (c->code[ps].h == c->labels[WASM_IOP_I32_LOAD]) r.ld = ps + 1;
        }
      }
      unemit_last(c);
      return r;
    }
    if (i32_only) {
      r.a = e.slot;
      return r;
    }
    if (iop >= WASM_IOP_I64_EQ && iop <= WASM_IOP_I64_GE_U_I) {
      int rel = iop - WASM_IOP_I64_EQ;
      r.k = rel / 2;
      r.imm = rel & 1;
      r.wide = true;
      r.a = ins[1].a[1];
      if (r.imm) r.imm64 = ins[2].u;
      else r.b = ins[2].a[0];
      unemit_last(c);
      return r;
    }
    if ((iop >= WASM_IOP_F32_EQ && iop <= WASM_IOP_F32_GE) ||
        (iop >= WASM_IOP_F64_EQ && iop <= WASM_IOP_F64_GE)) {
      r.k = iop <= WASM_IOP_F32_GE ? iop - WASM_IOP_F32_EQ : 6 + iop - WASM_IOP_F64_EQ;
      r.fl = true;
      r.a = ins[1].a[1];
      r.b = ins[2].a[0];
      unemit_last(c);
      return r;
    }
    if (iop == WASM_IOP_I64_EQZ) {
      r.k = 0;
      r.imm = true;
      r.wide = true;
      r.a = ins[1].a[1];
      r.imm64 = 0;
      unemit_last(c);
      return r;
    }
    if (iop == WASM_IOP_I32_EQZ) {
      r.k = -2;
      r.a = ins[1].a[1];
      unemit_last(c);
      return r;
    }
  }
  r.a = src(c, &e);
  return r;
}

static cond_t take_cond(comp *c) { return take_cond_ex(c, false); }

static const int NEG_CMP[10] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};

/* Conditional branch on `cd` (negated if `neg`) to a target given later:
 * returns the target cell. `loop`: the target is a loop head. */
static uint32_t emit_cond_jump(comp *c, cond_t cd, bool neg, bool loop) {
  if (cd.k >= 0 && cd.fl) {
    emit_op(c, WASM_IOP_BRF_F32_EQ + 4 * cd.k + (neg ? 1 : 0) + (loop ? 2 : 0));
    emit2(c, cd.a, cd.b);
  } else if (cd.k >= 0 && cd.wide) {
    int k = neg ? NEG_CMP[cd.k] : cd.k;
    emit_op(c, WASM_IOP_BR64_EQ + 4 * k + (cd.imm ? 1 : 0) + (loop ? 2 : 0));
    emit2(c, cd.a, cd.b);
    if (cd.imm) put_cell(c, cd.imm64);
  } else if (cd.k >= 0 && cd.inc && loop && c->ncode == cd.inc + 2 && c->npc >= 2 &&
             c->pcmap[c->npc - 2] == cd.inc - 1) {
    /* `i = y + k; br_if (i cmp n)` to a loop head: one instruction. */
    int k = neg ? NEG_CMP[cd.k] : cd.k;
    const wasm_cell *ins = &c->code[cd.inc - 1];
    uint32_t x = ins[1].a[0], y = ins[1].a[1], imm = ins[2].a[0];
    c->ncode = cd.inc - 1;
    c->npc -= 2;
    emit_op(c, WASM_IOP_BRINC_EQ + 2 * k + (cd.imm ? 1 : 0));
    emit2(c, x, y);
    emit2(c, imm, cd.b);
  } else if (cd.k >= 0 && cd.ld && c->ncode == cd.ld + 2 && c->npc >= 2 &&
             c->pcmap[c->npc - 2] == cd.ld - 1) {
    /* `a = load(p); br_if (a cmp b)` (scans: `while (x[i] < pivot)`): one
     * instruction that still writes a. Its first cell maps to the load's
     * offset (memory traps), the second to the branch's (interrupts). */
    int k = neg ? NEG_CMP[cd.k] : cd.k;
    const wasm_cell *ins = &c->code[cd.ld - 1];
    uint32_t d = ins[1].a[0], p = ins[1].a[1], off = ins[2].a[0];
    uint32_t load_off = c->pcmap[c->npc - 1];
    c->ncode = cd.ld - 1;
    c->npc -= 2;
    uint32_t at = c->ncode;
    emit_op_at(c, WASM_IOP_BRLD_EQ + 4 * k + (cd.imm ? 1 : 0) + (loop ? 2 : 0), load_off);
    emit2(c, d, p);
    emit2(c, off, cd.b);
    if (grow(c, (void **)&c->pcmap, &c->cappc, c->npc + 2, sizeof(uint32_t))) {
      c->pcmap[c->npc++] = at + 1;
      c->pcmap[c->npc++] = c->cur_off;
    }
    c->cell2 = at + 1;
  } else if (cd.k >= 0) {
    int k = neg ? NEG_CMP[cd.k] : cd.k;
    emit_op(c, WASM_IOP_BR_EQ + 4 * k + (cd.imm ? 1 : 0) + (loop ? 2 : 0));
    emit2(c, cd.a, cd.b);
  } else {
    bool n = (cd.k == -2) ? !neg : neg;
    emit_op(c, (n ? WASM_IOP_BR_IFNOT : WASM_IOP_BR_IF) + (loop ? 1 : 0));
    emit2(c, cd.a, 0);
  }
  return emit_target(c, 0);
}

static void emit_br_if(comp *c, uint32_t depth) {
  cond_t cd = take_cond(c);
  cfr *f = &c->cs[c->ncs - 1 - depth];
  if (f->kind != F_FUNC && top_in_place(c, arity(f), f->base_slot)) {
    uint32_t cell = emit_cond_jump(c, cd, false, f->kind == F_LOOP);
    if (c->oom) return;
    if (f->kind == F_LOOP) c->code[cell].u = f->label;
    else {
      c->code[cell].u = f->fix;
      f->fix = cell + 1;
    }
    return;
  }
  uint32_t skip = emit_cond_jump(c, cd, true, false);
  emit_br(c, depth);
  if (c->oom) return;
  c->code[skip].u = c->ncode;
  place_label(c);
}

static void emit_br_table(comp *c, uint32_t n, const uint32_t *depths) {
  vent e = pop(c);
  uint32_t idx = src(c, &e);
  emit_op(c, WASM_IOP_BR_TABLE);
  emit2(c, idx, n);
  uint32_t first = c->ncode;
  for (uint32_t i = 0; i <= n; i++) {
    cfr *f = &c->cs[c->ncs - 1 - depths[i]];
    if (f->kind == F_BLOCK || f->kind == F_IF || f->kind == F_ELSE) {
      if (top_in_place(c, arity(f), f->base_slot)) {
        emit_fwd(c, f);
        continue;
      }
    }
    emit_target(c, NONE32); /* stub, patched below */
  }
  for (uint32_t i = 0; i <= n && !c->oom; i++) {
    if (c->code[first + i].u != NONE32) continue;
    c->code[first + i].u = c->ncode;
    emit_br(c, depths[i]);
  }
}

/* ---- Instructions ---------------------------------------------------------------- */

static const uint8_t MIRROR_CMP[8] = {2, 3, 0, 1, 6, 7, 4, 5}; /* lt_s.. ge_u */

static bool commutative(uint8_t op) {
  switch (op) {
  case WASM_OP_I32_ADD:
  case WASM_OP_I32_MUL:
  case WASM_OP_I32_AND:
  case WASM_OP_I32_OR:
  case WASM_OP_I32_XOR:
  case WASM_OP_I32_EQ:
  case WASM_OP_I32_NE:
  case WASM_OP_I64_ADD:
  case WASM_OP_I64_MUL:
  case WASM_OP_I64_AND:
  case WASM_OP_I64_OR:
  case WASM_OP_I64_XOR:
  case WASM_OP_I64_EQ:
  case WASM_OP_I64_NE: return true;
  default: return false;
  }
}

/* Load-op fusion (see WASM_LDOP_LIST): the _LD form of binary op `iop`, or
 * -1; *load gets the plain load whose result it can take as operand b. */
static int ldop_of(int iop, int *load) {
  switch (iop) {
#define LDOP_CASE(n, T)                                                                            \
  case WASM_IOP_##n: *load = WASM_IOP_##T##_LOAD; return WASM_IOP_##n##_LD;
    WASM_LDOP_LIST(LDOP_CASE)
#undef LDOP_CASE
  default: return -1;
  }
}

/* The store that completes the read-modify-write form of _LD op `ld`, or -1. */
static int ldop_store(int ld) {
  switch (ld) {
#define LDOP_CASE(n, T)                                                                            \
  case WASM_IOP_##n##_LD: return WASM_IOP_##T##_STORE;
    WASM_LDOP_LIST(LDOP_CASE)
#undef LDOP_CASE
  default: return -1;
  }
}

/* If operand b is the result of the load just emitted (and a needs no code
 * to be read), replaces the load with one load-op instruction: saves a
 * dispatch and a frame-slot round trip on `acc += x[i]`, `y * x[i]`. Only b:
 * for floats the operand order decides which NaN payload propagates. */
static bool fuse_load_op(comp *c, int iop, uint32_t dst, vent *a, const vent *b) {
  int load;
  int ld = ldop_of(iop, &load);
  if (ld < 0 || b->kind != K_SLOT || (a->kind != K_SLOT && a->kind != K_LOCAL) ||
      c->last_start == NONE32 || !c->last_dst)
    return false;
  const wasm_cell *ins = &c->code[c->last_start];
  if (ins[1].a[0] != b->slot) return false;
  bool wrap = c->last_iop == load + 1; /* NAME_A: (u32)(addr + imm) */
  if (c->last_iop != load && !(wrap && ins[2].a[1] == 0)) return false;
  uint32_t addr = ins[1].a[1], k = ins[2].a[0]; /* offset, or imm for NAME_A */
  uint32_t off = last_off(c);
  unemit_last(c);
  emit_op_at(c, wrap ? ld + 1 : ld, off);
  emit2(c, dst, src(c, a));
  emit2(c, addr, k);
  c->last_dst = true;
  return true;
}

/* The shift-op form of i32 op `iop` applied to the result of shift `sh`
 * (an _I form), or -1. */
static int shop_of(int iop, int sh) {
#define SHOP_CASE(n, op, s)                                                                        \
  if (iop == WASM_IOP_##n && sh == WASM_IOP_I32_##s##_I) return WASM_IOP_##n##_##s;
  WASM_SHOP_LIST(SHOP_CASE)
#undef SHOP_CASE
  return -1;
}

/* If one operand is the result of the shift-by-constant just emitted,
 * replaces the shift with one shift-op instruction. The ops are commutative
 * integer ops, so the shifted operand may be either one. */
static bool fuse_shift_op(comp *c, int iop, uint32_t dst, vent *a, vent *b) {
  if (c->last_start == NONE32 || !c->last_dst) return false;
  const wasm_cell *ins = &c->code[c->last_start];
  int f = shop_of(iop, c->last_iop);
  if (f < 0) return false;
  vent *sh = NULL, *o = NULL;
  if (b->kind == K_SLOT && ins[1].a[0] == b->slot) {
    sh = b;
    o = a;
  } else if (a->kind == K_SLOT && ins[1].a[0] == a->slot) {
    sh = a;
    o = b;
  }
  if (!sh || (o->kind != K_SLOT && o->kind != K_LOCAL)) return false;
  uint32_t x = ins[1].a[1], k = ins[2].a[0];
  unemit_last(c);
  emit_op(c, f);
  emit2(c, dst, src(c, o));
  emit2(c, x, k);
  c->last_dst = true;
  return true;
}

/* After both operands are in place (sa, sb): `(x + y) + z` where x + y is
 * the i32.add just emitted into sa becomes one ADD3; `a & (x ^ -1)` where
 * the xor was just emitted into sb becomes one ANDN. */
static bool fuse_arith3(comp *c, int iop, uint32_t dst, uint32_t sa, uint32_t sb, const vent *b) {
  if (c->last_start == NONE32 || !c->last_dst) return false;
  const wasm_cell *ins = &c->code[c->last_start];
  if (iop == WASM_IOP_I32_ADD && c->last_iop == WASM_IOP_I32_ADD && ins[1].a[0] == sa && sb != sa) {
    uint32_t x = ins[1].a[1], y = ins[2].a[0];
    unemit_last(c);
    emit_op(c, WASM_IOP_I32_ADD3);
    emit2(c, dst, x);
    emit2(c, y, sb);
    return true;
  }
  if (iop == WASM_IOP_I32_AND && c->last_iop == WASM_IOP_I32_XOR_I && b->kind == K_SLOT &&
      ins[1].a[0] == sb && ins[2].a[0] == UINT32_MAX && sa != sb) {
    uint32_t x = ins[1].a[1];
    unemit_last(c);
    emit_op(c, WASM_IOP_I32_ANDN);
    emit2(c, dst, sa);
    emit2(c, x, 0);
    return true;
  }
  return false;
}

/* Numeric op `op` (single-byte table) or FC/FD op described by `oi`. */
static void emit_numeric(comp *c, const opinfo *oi, const opinfo *table, uint8_t op) {
  if (oi->p2 == T_NONE) {
    vent a = pop(c);
    uint32_t sa = src(c, &a);
    emit_op(c, oi->iop);
    emit2(c, a.slot, sa);
    c->last_dst = true;
    push(c, oi->res, K_SLOT);
    return;
  }
  if (oi->p3 != T_NONE) {
    vent x = pop(c), b = pop(c), a = pop(c);
    uint32_t sa = src(c, &a), sb = src(c, &b), sx = src(c, &x);
    emit_op(c, oi->iop);
    emit2(c, a.slot, sa);
    emit2(c, sb, sx);
    c->last_dst = true;
    push(c, oi->res, K_SLOT);
    return;
  }
  vent b = pop(c), a = pop(c);
  uint32_t dst = a.slot; /* the result takes the deeper position */
  if ((oi->iop == WASM_IOP_F32_ADD || oi->iop == WASM_IOP_F64_ADD) && c->last_start != NONE32 &&
      c->last_dst && c->last_iop == oi->iop + (WASM_IOP_F32_MUL - WASM_IOP_F32_ADD)) {
    /* x * y + z as one instruction (still two roundings, as in wasm). */
    const wasm_cell *ins = &c->code[c->last_start];
    uint32_t prod = ins[1].a[0];
    vent *z = NULL;
    if (b.kind == K_SLOT && b.slot == prod) z = &a;
    else if (a.kind == K_SLOT && a.slot == prod) z = &b;
    if (z && z->kind != K_CONST && z->kind != K_ADDI && z->kind != K_ADDL) {
      uint32_t x = ins[1].a[1], y = ins[2].a[0];
      uint32_t sz = z->kind == K_LOCAL ? c->lslot[z->local] : z->slot;
      unemit_last(c);
      emit_op(c, oi->iop == WASM_IOP_F32_ADD ? WASM_IOP_F32_MULADD : WASM_IOP_F64_MULADD);
      emit2(c, dst, x);
      emit2(c, y, sz);
      c->last_dst = true;
      push(c, oi->res, K_SLOT);
      return;
    }
  }
  if (oi->iop_i >= 0 && table == OPS && a.kind == K_CONST && b.kind != K_CONST) {
    uint8_t nop = 0;
    if (commutative(op)) nop = op;
    else if (op >= WASM_OP_I32_LT_S && op <= WASM_OP_I32_GE_U)
      nop = (uint8_t)(WASM_OP_I32_LT_S + MIRROR_CMP[op - WASM_OP_I32_LT_S]);
    else if (op >= WASM_OP_I64_LT_S && op <= WASM_OP_I64_GE_U)
      nop = (uint8_t)(WASM_OP_I64_LT_S + MIRROR_CMP[op - WASM_OP_I64_LT_S]);
    if (nop) {
      vent t = a;
      a = b;
      b = t;
      oi = &OPS[nop];
    }
  }
  if (oi->iop == WASM_IOP_I32_ADD && b.kind == K_LOCAL &&
      (a.kind == K_LOCAL || (a.kind == K_SLOT && a.slot == dst))) {
    /* Defer x + local: a load/store can fold it into its address. */
    vent *e = push(c, WASM_I32, K_ADDL);
    if (e) {
      e->local = a.kind == K_LOCAL ? a.local : NONE32;
      e->val = b.local;
    }
    return;
  }
  /* (An own-slot base must already sit in the result's slot: not after a swap.) */
  if ((oi->iop == WASM_IOP_I32_ADD || oi->iop == WASM_IOP_I32_SUB) && b.kind == K_CONST &&
      a.kind != K_CONST && a.kind != K_ADDL &&
      (a.kind == K_LOCAL || a.local != NONE32 || a.slot == dst) &&
      (a.kind != K_SLOT || a.slot == dst)) {
    /* Defer x + imm: a load/store can fold it into its address. */
    uint32_t imm = (uint32_t)b.val;
    if (oi->iop == WASM_IOP_I32_SUB) imm = 0u - imm;
    uint32_t base_local = a.kind == K_LOCAL ? a.local : a.kind == K_ADDI ? a.local : NONE32;
    if (a.kind == K_ADDI) imm += (uint32_t)a.val;
    if (imm == 0 && a.kind != K_ADDI) { /* x + 0: keep x where it is */
      vent *e = push(c, WASM_I32, a.kind);
      if (e) e->local = a.local;
      return;
    }
    vent *e = push(c, WASM_I32, K_ADDI);
    if (e) {
      e->local = base_local;
      e->val = imm;
    }
    return;
  }
  if (oi->iop_i >= 0 && b.kind == K_CONST) {
    uint32_t sa = src(c, &a);
    emit_op(c, oi->iop_i);
    if (oi->p1 == T_I32) {
      emit2(c, dst, sa);
      emit2(c, (uint32_t)b.val, 0);
    } else {
      emit2(c, dst, sa);
      put_cell(c, b.val);
    }
  } else if (!fuse_load_op(c, oi->iop, dst, &a, &b) && !fuse_shift_op(c, oi->iop, dst, &a, &b)) {
    uint32_t sa = src(c, &a), sb = src(c, &b);
    if (table == OPS && fuse_arith3(c, oi->iop, dst, sa, sb, &b)) {
      c->last_dst = true;
      push(c, oi->res, K_SLOT);
      return;
    }
    emit_op(c, oi->iop);
    emit2(c, dst, sa);
    emit2(c, sb, 0);
  }
  c->last_dst = true;
  pair_adds(c);
  push(c, oi->res, K_SLOT);
}

static void memarg(wasm_reader *r, uint32_t *offset) {
  wasm_read_u32(r); /* alignment: a hint only */
  *offset = wasm_read_u32(r);
}

static void emit_load(comp *c, const opinfo *oi, uint32_t offset) {
  vent a = pop(c);
  if (a.kind == K_ADDI || a.kind == K_ADDL) {
    emit_op(c, oi->iop + (a.kind == K_ADDI ? 1 : 2));
    emit2(c, a.slot, addi_base(c, &a));
    emit2(c, a.kind == K_ADDI ? (uint32_t)a.val : c->lslot[a.val], offset);
    c->last_dst = true;
    push(c, oi->res, K_SLOT);
    return;
  }
  uint32_t sa = src(c, &a);
  emit_op(c, oi->iop);
  emit2(c, a.slot, sa);
  emit2(c, offset, 0);
  c->last_dst = true;
  push(c, oi->res, K_SLOT);
}

/* Called with the load-add `x + load(p + offset)` about to become an
 * add-to-memory: if x is the product of the mul-load just before it (no label
 * between), emits one AXPY instruction for the three. */
static bool fuse_axpy(comp *c, uint32_t p, uint32_t x, uint32_t offset) {
  int add = c->last_iop, axpy;
  if (add == WASM_IOP_F32_ADD_LD) axpy = WASM_IOP_F32_AXPY;
  else if (add == WASM_IOP_F64_ADD_LD) axpy = WASM_IOP_F64_AXPY;
  else return false;
  int mul = add - WASM_IOP_F32_ADD_LD + WASM_IOP_F32_MUL_LD;
  if (c->npc < 4) return false;
  uint32_t ms = c->pcmap[c->npc - 4];
  if (ms + 3 != c->last_start || c->last_label > ms || ms == c->cell2) return false;
  const wasm_cell *mi = &c->code[ms];
  bool wrap = mi->h == c->labels[mul + 1];
  if (mi->h != c->labels[mul] && !wrap) return false;
  if (mi[1].a[0] != x) return false;
  uint32_t a = mi[1].a[1], q = mi[2].a[0], k = mi[2].a[1];
  uint32_t mul_off = c->pcmap[c->npc - 3], add_off = c->pcmap[c->npc - 1];
  c->ncode = ms;
  c->npc -= 4;
  emit_op_at(c, wrap ? axpy + 1 : axpy, mul_off);
  emit2(c, p, a);
  emit2(c, q, k);
  emit2(c, offset, 0);
  /* The second load's trap is reported at the instruction's second cell. */
  if (grow(c, (void **)&c->pcmap, &c->cappc, c->npc + 2, sizeof(uint32_t))) {
    c->pcmap[c->npc++] = ms + 1;
    c->pcmap[c->npc++] = add_off;
  }
  c->cell2 = ms + 1;
  c->last_start = NONE32;
  return true;
}

static void emit_store(comp *c, const opinfo *oi, uint32_t offset) {
  vent v = pop(c), a = pop(c);
  if (a.kind == K_ADDI || a.kind == K_ADDL) {
    uint32_t sv = src(c, &v);
    emit_op(c, oi->iop + (a.kind == K_ADDI ? 1 : 2));
    emit2(c, addi_base(c, &a), sv);
    emit2(c, a.kind == K_ADDI ? (uint32_t)a.val : c->lslot[a.val], offset);
    return;
  }
  if (v.kind == K_SLOT && (a.kind == K_SLOT || a.kind == K_LOCAL) && c->last_start != NONE32 &&
      c->last_dst && ldop_store(c->last_iop) == oi->iop) {
    /* `x[i] = v op x[i]`: the load-op just emitted read the same address. */
    const wasm_cell *ins = &c->code[c->last_start];
    uint32_t sa = a.kind == K_LOCAL ? c->lslot[a.local] : a.slot;
    if (ins[1].a[0] == v.slot && ins[2].a[0] == sa && ins[2].a[1] == offset) {
      uint32_t x = ins[1].a[1], off = last_off(c);
      if (fuse_axpy(c, sa, x, offset)) return;
      unemit_last(c);
      emit_op_at(c, c->last_iop + 2, off); /* NAME_LD -> NAME_RMW (WASM_LDOP_IOPS_) */
      emit2(c, sa, x);
      emit2(c, offset, 0);
      return;
    }
  }
  uint32_t sa = src(c, &a), sv = src(c, &v);
  emit_op(c, oi->iop);
  emit2(c, sa, sv);
  emit2(c, offset, 0);
}

static void emit_call(comp *c, const wasm_functype *t, int iop, uint32_t x, uint32_t y,
                      uint32_t idx_slot, bool indirect) {
  uint32_t first = c->nvs - t->nparams;
  /* Arguments read from one-cell locals move with one MOVN instruction. */
  uint32_t nloc = 0;
  for (uint32_t i = first; i < c->nvs; i++)
    if (c->vs[i].kind == K_LOCAL && width(c->vs[i].type) == 1) nloc++;
  if (nloc >= 2) {
    emit_op(c, WASM_IOP_MOVN);
    emit2(c, nloc, 0);
    for (uint32_t i = first; i < c->nvs; i++) {
      vent *e = &c->vs[i];
      if (e->kind == K_LOCAL && width(e->type) == 1) {
        emit2(c, e->slot, c->lslot[e->local]);
        e->kind = K_SLOT;
      }
    }
  }
  for (uint32_t i = first; i < c->nvs; i++) materialize(c, &c->vs[i]);
  uint32_t base = t->nparams ? c->vs[first].slot : c->cur_slot;
  c->nvs = first;
  c->cur_slot = base;
  emit_op(c, iop);
  emit2(c, base, x);
  if (indirect) emit2(c, y, idx_slot);
  if (iop == WASM_IOP_CALL_DIRECT) {
    /* The callee's code pointer is filled in once every body is compiled. */
    if (grow(c, (void **)&c->dcalls, &c->capdcalls, c->ndcalls + 1, sizeof(uint32_t)))
      c->dcalls[c->ndcalls++] = c->ncode;
    put_cell(c, x);
  }
  for (uint32_t i = 0; i < t->nresults; i++) push(c, t->types[t->nparams + i], K_SLOT);
  /* Host callees use max(params, results) cells from the base. */
  if (base + t->param_slots > c->max_slot) c->max_slot = base + t->param_slots;
}

/* Skips the immediates of `op` (unreachable code); aot_gen.c uses it too. */
void wasmi_skip_imm(wasm_reader *r, uint8_t op) {
  switch (op) {
  case WASM_OP_BLOCK:
  case WASM_OP_LOOP:
  case WASM_OP_IF: wasm_read_sleb(r, 33); break;
  case WASM_OP_BR:
  case WASM_OP_BR_IF:
  case WASM_OP_CALL:
  case WASM_OP_LOCAL_GET:
  case WASM_OP_LOCAL_SET:
  case WASM_OP_LOCAL_TEE:
  case WASM_OP_GLOBAL_GET:
  case WASM_OP_GLOBAL_SET:
  case WASM_OP_TABLE_GET:
  case WASM_OP_TABLE_SET:
  case WASM_OP_REF_FUNC:
  case WASM_OP_MEMORY_SIZE:
  case WASM_OP_MEMORY_GROW: wasm_read_u32(r); break;
  case WASM_OP_REF_NULL: wasm_read_u8(r); break;
  case WASM_OP_BR_TABLE: {
    uint32_t n = wasm_read_u32(r);
    for (uint64_t i = 0; i <= n && !r->err; i++) wasm_read_u32(r);
    break;
  }
  case WASM_OP_CALL_INDIRECT:
    wasm_read_u32(r);
    wasm_read_u32(r);
    break;
  case WASM_OP_SELECT_T: {
    uint32_t n = wasm_read_u32(r);
    for (uint32_t i = 0; i < n && !r->err; i++) wasm_read_u8(r);
    break;
  }
  case WASM_OP_I32_CONST: wasm_read_sleb(r, 32); break;
  case WASM_OP_I64_CONST: wasm_read_sleb(r, 64); break;
  case WASM_OP_F32_CONST:
    for (int i = 0; i < 4; i++) wasm_read_u8(r);
    break;
  case WASM_OP_F64_CONST:
    for (int i = 0; i < 8; i++) wasm_read_u8(r);
    break;
  case WASM_PREFIX_FC: {
    uint32_t sub = wasm_read_u32(r);
    switch (sub) {
    case WASM_FC_MEMORY_INIT:
    case WASM_FC_TABLE_INIT:
    case WASM_FC_MEMORY_COPY:
    case WASM_FC_TABLE_COPY:
      wasm_read_u32(r);
      wasm_read_u32(r);
      break;
    case WASM_FC_DATA_DROP:
    case WASM_FC_MEMORY_FILL:
    case WASM_FC_ELEM_DROP:
    case WASM_FC_TABLE_GROW:
    case WASM_FC_TABLE_SIZE:
    case WASM_FC_TABLE_FILL: wasm_read_u32(r); break;
    default: break;
    }
    break;
  }
  case WASM_PREFIX_FD: {
    uint32_t sub = wasm_read_u32(r);
    if (sub == WASM_FD_V128_CONST || sub == WASM_FD_I8X16_SHUFFLE) {
      for (int i = 0; i < 16; i++) wasm_read_u8(r);
    } else if (sub <= WASM_FD_V128_STORE || sub == WASM_FD_V128_LOAD32_ZERO ||
               sub == WASM_FD_V128_LOAD64_ZERO) {
      wasm_read_u32(r);
      wasm_read_u32(r);
    } else if (sub >= WASM_FD_V128_LOAD8_LANE && sub <= WASM_FD_V128_STORE64_LANE) {
      wasm_read_u32(r);
      wasm_read_u32(r);
      wasm_read_u8(r);
    } else if (sub >= WASM_FD_I8X16_EXTRACT_LANE_S && sub <= WASM_FD_F64X2_REPLACE_LANE) {
      wasm_read_u8(r);
    }
    break;
  }
  default:
    if (op >= WASM_OP_I32_LOAD && op <= WASM_OP_I64_STORE32) {
      wasm_read_u32(r);
      wasm_read_u32(r);
    }
    break;
  }
}

bool wasmi_skip_dead(wasm_reader *r, uint8_t op, uint32_t *depth) {
  if (op == WASM_OP_BLOCK || op == WASM_OP_LOOP || op == WASM_OP_IF) {
    (*depth)++;
    wasmi_skip_imm(r, op);
    return true;
  }
  if (op == WASM_OP_END && *depth) {
    (*depth)--;
    return true;
  }
  if (op == WASM_OP_ELSE && *depth) return true;
  if (op != WASM_OP_END && op != WASM_OP_ELSE) {
    wasmi_skip_imm(r, op);
    return true;
  }
  return false; /* the dead region's own else/end: the caller handles it */
}

/* Marks the rest of the current block unreachable. */
static void set_unreachable(comp *c) { c->cs[c->ncs - 1].unreachable = true; }

static wasm_status fail(comp *c, wasm_error *err, wasm_status st, const char *what) {
  char label[128];
  wasmi_func_label(c->m, c->func, label, sizeof label);
  return wasmi_error_set(err, st, c->func, c->cur_off, "%s: %s at 0x%x: %s",
                         st == WASM_ERR_NOMEM ? "out of memory" : "invalid", label, c->cur_off,
                         what);
}

#if WASM_HAVE_SIMD
static void emit_simd(comp *c, wasm_reader *r, uint32_t sub);
#endif

static wasm_status compile_body(comp *c, const wasm_body *b, wasm_error *err) {
  wasm_reader rd = {c->m->bytes, b->code, b->code_end, NULL, NULL};
  wasm_reader *r = &rd;
  push_frame(c, F_FUNC, -64);
  if (c->oom) return fail(c, err, WASM_ERR_NOMEM, "compiling");
  {
    cfr *f = &c->cs[0];
    f->nresults = c->ft->nresults;
    f->rtypes = c->ft->types + c->ft->nparams;
    f->base_slot = 0;
  }
  uint32_t skip_depth = 0;
  uint32_t *depths = NULL;
  uint32_t capdepths = 0;

  while (r->p < r->end && c->ncs > 0 && !c->oom && !r->err) {
    const uint8_t *at = r->p;
    c->cur_off = (uint32_t)(at - c->m->bytes);
    uint8_t op = wasm_read_u8(r);
    cfr *top = &c->cs[c->ncs - 1];

    if (top->unreachable && wasmi_skip_dead(r, op, &skip_depth)) continue;

    switch (op) {
    case WASM_OP_UNREACHABLE:
      emit_op(c, WASM_IOP_UNREACHABLE);
      set_unreachable(c);
      break;
    case WASM_OP_NOP: break;
    case WASM_OP_BLOCK:
    case WASM_OP_LOOP: {
      int64_t bt = wasm_read_sleb(r, 33);
      flush_all(c);
      cfr *f = push_frame(c, op == WASM_OP_BLOCK ? F_BLOCK : F_LOOP, bt);
      if (!f) break;
      if (op == WASM_OP_LOOP) c->loop_depth++;
      f->label = c->ncode;
      place_label(c);
      break;
    }
    case WASM_OP_IF: {
      int64_t bt = wasm_read_sleb(r, 33);
      cond_t cd = take_cond(c);
      flush_all(c);
      uint32_t cell = emit_cond_jump(c, cd, true, false);
      cfr *f = push_frame(c, F_IF, bt);
      if (!f) break;
      f->else_fix = cell;
      break;
    }
    case WASM_OP_ELSE: {
      cfr *f = top;
      if (!f->unreachable) {
        move_top(c, f->nresults, f->base_slot);
        emit_op(c, WASM_IOP_BR);
        emit_fwd(c, f);
      }
      if (c->oom) break;
      c->code[f->else_fix].u = c->ncode;
      f->else_fix = NONE32;
      place_label(c);
      end_local_cover(c, f);
      f->kind = F_ELSE;
      f->unreachable = false;
      skip_depth = 0;
      reset_stack(c, f, f->nparams, f->ptypes);
      break;
    }
    case WASM_OP_END: {
      cfr *f = top;
      skip_depth = 0;
      if (f->kind == F_FUNC) {
        if (!f->unreachable) emit_return(c);
        c->ncs--;
        break;
      }
      if (!f->unreachable) move_top(c, f->nresults, f->base_slot);
      if (c->oom) break;
      if (f->else_fix != NONE32) c->code[f->else_fix].u = c->ncode;
      patch_chain(c, f->fix, c->ncode);
      place_label(c);
      end_local_cover(c, f);
      cfr fr = *f;
      c->ncs--;
      if (fr.kind == F_LOOP) c->loop_depth--;
      reset_stack(c, &fr, fr.nresults, fr.rtypes);
      break;
    }
    case WASM_OP_BR: {
      uint32_t d = wasm_read_u32(r);
      emit_br(c, d);
      set_unreachable(c);
      break;
    }
    case WASM_OP_BR_IF: emit_br_if(c, wasm_read_u32(r)); break;
    case WASM_OP_BR_TABLE: {
      uint32_t n = wasm_read_u32(r);
      if (r->err) break;
      if ((uint64_t)n + 1 > (size_t)(r->end - r->p)) {
        wasm_reader_fail(r, "br_table too long");
        break;
      }
      if (!grow(c, (void **)&depths, &capdepths, n + 1, sizeof(uint32_t))) break;
      for (uint32_t i = 0; i <= n; i++) depths[i] = wasm_read_u32(r);
      if (r->err) break;
      emit_br_table(c, n, depths);
      set_unreachable(c);
      break;
    }
    case WASM_OP_RETURN:
      emit_return(c);
      set_unreachable(c);
      break;
    case WASM_OP_CALL: {
      uint32_t fi = wasm_read_u32(r);
      emit_call(c, &c->m->types[c->m->func_type[fi]],
                fi >= c->m->nfunc_imports ? WASM_IOP_CALL_DIRECT : WASM_IOP_CALL, fi, 0, 0, false);
      break;
    }
    case WASM_OP_CALL_INDIRECT: {
      uint32_t ti = wasm_read_u32(r), tab = wasm_read_u32(r);
      vent e = pop(c);
      uint32_t is = src(c, &e);
      emit_call(c, &c->m->types[ti], WASM_IOP_CALL_INDIRECT, ti, tab, is, true);
      break;
    }
    case WASM_OP_DROP: pop(c); break;
    case WASM_OP_SELECT:
    case WASM_OP_SELECT_T: {
      if (op == WASM_OP_SELECT_T) {
        uint32_t n = wasm_read_u32(r);
        for (uint32_t i = 0; i < n && !r->err; i++) wasm_read_u8(r);
      }
      bool narrow = width(c->vs[c->nvs - 2].type) == 1;
      cond_t cc = {-1, false, false, false, 0, 0, 0, 0, 0};
      if (narrow) {
        cc = take_cond_ex(c, true);
      } else {
        vent ce = pop(c);
        cc.a = src(c, &ce);
      }
      vent b = pop(c), a = pop(c);
      uint32_t sa = src(c, &a), sb = src(c, &b);
      if (cc.k >= 0) {
        /* select on an i32 compare: dst, a, b, x; y|imm */
        emit_op(c, WASM_IOP_SEL_EQ + 2 * cc.k + (cc.imm ? 1 : 0));
        emit2(c, a.slot, sa);
        emit2(c, sb, cc.a);
        emit2(c, cc.b, 0);
        c->last_dst = true;
        push(c, a.type, K_SLOT);
        break;
      }
      uint32_t sc = cc.a;
      emit_op(c, width(a.type) == 2 ? WASM_IOP_SELECT2 : WASM_IOP_SELECT);
      emit2(c, a.slot, sa);
      emit2(c, sb, sc);
      c->last_dst = true;
      push(c, a.type, K_SLOT);
      break;
    }
    case WASM_OP_LOCAL_GET: {
      uint32_t x = wasm_read_u32(r);
      note_local(c, x, false);
      vent *e = push(c, local_type(c, x), K_LOCAL);
      if (e) e->local = x;
      break;
    }
    case WASM_OP_LOCAL_SET:
    case WASM_OP_LOCAL_TEE: {
      uint32_t x = wasm_read_u32(r);
      note_local(c, x, true);
      vent e = pop(c);
      uint32_t ls = c->lslot[x];
      if (e.kind == K_SLOT && c->last_start != NONE32 && c->last_dst &&
          c->code[c->last_start + 1].a[0] == e.slot && !has_local(c, x)) {
        c->code[c->last_start + 1].a[0] = ls; /* write the result into the local */
        c->last_start = NONE32;
      } else if (!(e.kind == K_LOCAL && e.local == x)) {
        flush_local(c, x);
        move_to(c, &e, ls);
        c->last_dst = false;
      }
      if (op == WASM_OP_LOCAL_TEE) {
        vent *t = push(c, e.type, K_LOCAL);
        if (t) t->local = x;
      }
      break;
    }
    case WASM_OP_GLOBAL_GET: {
      uint32_t g = wasm_read_u32(r);
      uint8_t t = c->m->global_types[g].type;
      vent *e = push(c, t, K_SLOT);
      if (!e) break;
      emit_op(c, width(t) == 2 ? WASM_IOP_GLOBAL_GET2 : WASM_IOP_GLOBAL_GET);
      emit2(c, e->slot, g);
      c->last_dst = true;
      break;
    }
    case WASM_OP_GLOBAL_SET: {
      uint32_t g = wasm_read_u32(r);
      vent e = pop(c);
      uint32_t s = src(c, &e);
      emit_op(c, width(e.type) == 2 ? WASM_IOP_GLOBAL_SET2 : WASM_IOP_GLOBAL_SET);
      emit2(c, g, s);
      break;
    }
    case WASM_OP_TABLE_GET: {
      uint32_t t = wasm_read_u32(r);
      vent e = pop(c);
      materialize(c, &e);
      emit_op(c, WASM_IOP_TABLE_GET);
      emit2(c, e.slot, t);
      push(c, c->m->tables[t].elemtype, K_SLOT);
      break;
    }
    case WASM_OP_TABLE_SET: {
      uint32_t t = wasm_read_u32(r);
      vent v = pop(c), i = pop(c);
      uint32_t si = src(c, &i), sv = src(c, &v);
      emit_op(c, WASM_IOP_TABLE_SET);
      emit2(c, si, sv);
      emit2(c, t, 0);
      break;
    }
    case WASM_OP_MEMORY_SIZE: {
      wasm_read_u32(r);
      vent *e = push(c, WASM_I32, K_SLOT);
      if (!e) break;
      emit_op(c, WASM_IOP_MEMORY_SIZE);
      emit2(c, e->slot, 0);
      break;
    }
    case WASM_OP_MEMORY_GROW: {
      wasm_read_u32(r);
      vent e = pop(c);
      materialize(c, &e);
      emit_op(c, WASM_IOP_MEMORY_GROW);
      emit2(c, e.slot, 0);
      push(c, WASM_I32, K_SLOT);
      break;
    }
    case WASM_OP_I32_CONST: {
      vent *e = push(c, WASM_I32, K_CONST);
      uint32_t v = (uint32_t)wasm_read_sleb(r, 32);
      if (e) e->val = v;
      break;
    }
    case WASM_OP_I64_CONST: {
      vent *e = push(c, WASM_I64, K_CONST);
      uint64_t v = (uint64_t)wasm_read_sleb(r, 64);
      if (e) e->val = v;
      break;
    }
    case WASM_OP_F32_CONST:
    case WASM_OP_F64_CONST: {
      unsigned n = op == WASM_OP_F32_CONST ? 4 : 8;
      uint64_t v = 0;
      for (unsigned i = 0; i < n; i++) v |= (uint64_t)wasm_read_u8(r) << (8 * i);
      vent *e = push(c, op == WASM_OP_F32_CONST ? WASM_F32 : WASM_F64, K_CONST);
      if (e) e->val = v;
      break;
    }
    case WASM_OP_REF_NULL: {
      uint8_t t = wasm_read_u8(r);
      vent *e = push(c, t, K_CONST);
      if (e) e->val = 0;
      break;
    }
    case WASM_OP_REF_IS_NULL: {
      vent a = pop(c);
      uint32_t sa = src(c, &a);
      emit_op(c, WASM_IOP_I64_EQZ);
      emit2(c, a.slot, sa);
      c->last_dst = true;
      push(c, WASM_I32, K_SLOT);
      break;
    }
    case WASM_OP_REF_FUNC: {
      uint32_t fi = wasm_read_u32(r);
      vent *e = push(c, WASM_FUNCREF, K_SLOT);
      if (!e) break;
      emit_op(c, WASM_IOP_REF_FUNC);
      emit2(c, e->slot, fi);
      c->last_dst = true;
      break;
    }
    case WASM_PREFIX_FC: {
      uint32_t sub = wasm_read_u32(r);
      if (sub <= WASM_FC_I64_TRUNC_SAT_F64_U) {
        emit_numeric(c, &OPS_FC[sub], OPS_FC, 0);
        break;
      }
      switch (sub) {
      case WASM_FC_MEMORY_INIT:
      case WASM_FC_MEMORY_COPY:
      case WASM_FC_MEMORY_FILL: {
        uint32_t x = wasm_read_u32(r);
        if (sub != WASM_FC_MEMORY_FILL) wasm_read_u32(r);
        vent n = pop(c), s = pop(c), d = pop(c);
        uint32_t sd = src(c, &d), ss = src(c, &s), sn = src(c, &n);
        emit_op(c, sub == WASM_FC_MEMORY_INIT   ? WASM_IOP_MEMORY_INIT
                   : sub == WASM_FC_MEMORY_COPY ? WASM_IOP_MEMORY_COPY
                                                : WASM_IOP_MEMORY_FILL);
        emit2(c, sd, ss);
        emit2(c, sn, x);
        break;
      }
      case WASM_FC_DATA_DROP:
      case WASM_FC_ELEM_DROP: {
        uint32_t x = wasm_read_u32(r);
        emit_op(c, sub == WASM_FC_DATA_DROP ? WASM_IOP_DATA_DROP : WASM_IOP_ELEM_DROP);
        emit2(c, x, 0);
        break;
      }
      case WASM_FC_TABLE_INIT:
      case WASM_FC_TABLE_COPY: {
        uint32_t x = wasm_read_u32(r), y = wasm_read_u32(r);
        vent n = pop(c), s = pop(c), d = pop(c);
        uint32_t sd = src(c, &d), ss = src(c, &s), sn = src(c, &n);
        emit_op(c, sub == WASM_FC_TABLE_INIT ? WASM_IOP_TABLE_INIT : WASM_IOP_TABLE_COPY);
        emit2(c, sd, ss);
        /* table.init seg table -> (seg, table); table.copy dst src -> (dst, src) */
        emit2(c, sn, x);
        emit2(c, y, 0);
        break;
      }
      case WASM_FC_TABLE_GROW: {
        uint32_t t = wasm_read_u32(r);
        vent n = pop(c), init = pop(c);
        materialize(c, &init);
        uint32_t sn = src(c, &n);
        emit_op(c, WASM_IOP_TABLE_GROW);
        emit2(c, init.slot, sn);
        emit2(c, t, 0);
        push(c, WASM_I32, K_SLOT);
        break;
      }
      case WASM_FC_TABLE_SIZE: {
        uint32_t t = wasm_read_u32(r);
        vent *e = push(c, WASM_I32, K_SLOT);
        if (!e) break;
        emit_op(c, WASM_IOP_TABLE_SIZE);
        emit2(c, e->slot, t);
        break;
      }
      case WASM_FC_TABLE_FILL: {
        uint32_t t = wasm_read_u32(r);
        vent n = pop(c), v = pop(c), i = pop(c);
        uint32_t si = src(c, &i), sv = src(c, &v), sn = src(c, &n);
        emit_op(c, WASM_IOP_TABLE_FILL);
        emit2(c, si, sv);
        emit2(c, sn, t);
        break;
      }
      default: return fail(c, err, WASM_ERR_INVALID, "unknown 0xfc opcode");
      }
      break;
    }
    case WASM_PREFIX_FD: {
#if WASM_HAVE_SIMD
      uint32_t sub = wasm_read_u32(r);
      emit_simd(c, r, sub);
      break;
#else
      free(depths);
      return fail(c, err, WASM_ERR_INVALID, "SIMD not yet supported");
#endif
    }
    default: {
      const opinfo *oi = &OPS[op];
      if (!oi->valid) {
        free(depths);
        return fail(c, err, WASM_ERR_INVALID, "unknown opcode");
      }
      if (oi->kind == OK_NUMERIC) emit_numeric(c, oi, OPS, op);
      else if (oi->kind == OK_LOAD || oi->kind == OK_STORE) {
        uint32_t off;
        memarg(r, &off);
        if (oi->kind == OK_LOAD) emit_load(c, oi, off);
        else emit_store(c, oi, off);
      } else {
        free(depths);
        return fail(c, err, WASM_ERR_INVALID, "unexpected opcode");
      }
      break;
    }
    }
  }
  free(depths);
  if (c->oom) return fail(c, err, WASM_ERR_NOMEM, "compiling");
  if (r->err) return fail(c, err, WASM_ERR_INVALID, r->err);
  if (c->ncs != 0) return fail(c, err, WASM_ERR_INVALID, "function body has no end");
  return WASM_OK;
}

#if WASM_HAVE_SIMD
static void emit_simd(comp *c, wasm_reader *r, uint32_t sub) {
  if (sub == WASM_FD_V128_CONST) {
    uint64_t lo = 0, hi = 0;
    for (int i = 0; i < 8; i++) lo |= (uint64_t)wasm_read_u8(r) << (8 * i);
    for (int i = 0; i < 8; i++) hi |= (uint64_t)wasm_read_u8(r) << (8 * i);
    vent *e = push(c, WASM_V128, K_SLOT);
    if (!e) return;
    emit_op(c, WASM_IOP_CONST2);
    emit2(c, e->slot, 0);
    put_cell(c, lo);
    put_cell(c, hi);
    c->last_dst = true;
    return;
  }
  if (sub == WASM_FD_I8X16_SHUFFLE) {
    uint64_t lo = 0, hi = 0;
    for (int i = 0; i < 8; i++) lo |= (uint64_t)wasm_read_u8(r) << (8 * i);
    for (int i = 0; i < 8; i++) hi |= (uint64_t)wasm_read_u8(r) << (8 * i);
    vent b = pop(c), a = pop(c);
    uint32_t sa = src(c, &a), sb = src(c, &b);
    emit_op(c, WASM_IOP_SHUFFLE);
    emit2(c, a.slot, sa);
    emit2(c, sb, 0);
    put_cell(c, lo);
    put_cell(c, hi);
    c->last_dst = true;
    push(c, WASM_V128, K_SLOT);
    return;
  }
  if (sub > 0xff || !OPS_FD[sub].valid) {
    wasm_reader_fail(r, "unknown SIMD opcode");
    return;
  }
  const opinfo *oi = &OPS_FD[sub];
  uint32_t off = 0;
  switch (oi->kind) {
  case OK_NUMERIC: emit_numeric(c, oi, OPS_FD, 0); return;
  case OK_LOAD:
    memarg(r, &off);
    emit_load(c, oi, off);
    return;
  case OK_STORE:
    memarg(r, &off);
    emit_store(c, oi, off);
    return;
  case OK_EXTRACT_LANE: {
    uint8_t lane = wasm_read_u8(r);
    vent v = pop(c);
    uint32_t sv = src(c, &v);
    emit_op(c, oi->iop);
    emit2(c, v.slot, sv);
    emit2(c, lane, 0);
    c->last_dst = true;
    push(c, oi->res, K_SLOT);
    return;
  }
  case OK_REPLACE_LANE: {
    uint8_t lane = wasm_read_u8(r);
    vent x = pop(c), v = pop(c);
    uint32_t sv = src(c, &v), sx = src(c, &x);
    emit_op(c, oi->iop);
    emit2(c, v.slot, sv);
    emit2(c, sx, lane);
    c->last_dst = true;
    push(c, WASM_V128, K_SLOT);
    return;
  }
  case OK_LOAD_LANE: {
    memarg(r, &off);
    uint8_t lane = wasm_read_u8(r);
    vent v = pop(c), a = pop(c);
    uint32_t sa = src(c, &a), sv = src(c, &v);
    emit_op(c, oi->iop);
    emit2(c, a.slot, sa);
    emit2(c, sv, lane);
    emit2(c, off, 0);
    c->last_dst = true;
    push(c, WASM_V128, K_SLOT);
    return;
  }
  case OK_STORE_LANE: {
    memarg(r, &off);
    uint8_t lane = wasm_read_u8(r);
    vent v = pop(c), a = pop(c);
    uint32_t sa = src(c, &a), sv = src(c, &v);
    emit_op(c, oi->iop);
    emit2(c, sa, sv);
    emit2(c, lane, off);
    return;
  }
  default: wasm_reader_fail(r, "unexpected SIMD opcode");
  }
}
#endif

/* ---- Debug dump (WAGI_DUMP_CODE=1) ------------------------------------------- */

/* Names of the internal opcodes, in enum order, for the dump. */
static const char *const IOP_NAMES[] = {
#define IOP_X(n) #n,
#include "iops.inc"
#undef IOP_X
};
_Static_assert(sizeof IOP_NAMES / sizeof IOP_NAMES[0] == WASM_IOP_COUNT, "iop names");

/* Prints a compiled body to stderr: one instruction per line with its cell
 * index, wasm offset, and operand cells as (lo hi) pairs; branch targets
 * appear as @cell. Meant for finding missing fusions in hot loops. */
static void dump_code(const comp *c, const struct wasm_code *code, const void *const *labels) {
  char label[128];
  wasmi_func_label(c->m, c->func, label, sizeof label);
  fprintf(stderr, "== func %u %s: %u cells, locals %u, frame %u, zeroed [%u, %u)\n", c->func, label,
          code->ncells, code->local_slots, code->frame_slots, code->zero_lo, code->zero_hi);
  for (uint32_t k = 0; k < code->npc; k++) {
    uint32_t at = code->pc_map[2 * k];
    uint32_t end = k + 1 < code->npc ? code->pc_map[2 * k + 2] : code->ncells;
    const char *name = "  (2nd part)"; /* an extra pc entry inside an instruction */
    for (int i = 0; i < WASM_IOP_COUNT; i++)
      if (labels[i] == code->cells[at].h) {
        name = IOP_NAMES[i];
        break;
      }
    fprintf(stderr, "%6u  0x%-6x %-18s", at, code->pc_map[2 * k + 1], name);
    for (uint32_t j = at + 1; j < end; j++) {
      const wasm_cell *cl = &code->cells[j];
      bool tgt = false;
      for (uint32_t t = 0; t < c->ntfix && !tgt; t++) tgt = c->tfix[t] == j;
      if (tgt) fprintf(stderr, " @%u", (uint32_t)(cl->t - code->cells));
      else fprintf(stderr, " (%u %u)", cl->a[0], cl->a[1]);
    }
    fputc('\n', stderr);
  }
}

static bool dump_enabled(void) {
  const char *e = getenv("WAGI_DUMP_CODE");
  return e && e[0] && e[0] != '0';
}

/* Compiles defined function `i` into a freshly allocated wasm_code. */
static wasm_status compile_func(const wasm_module *m, uint32_t i, const void *const *labels,
                                struct wasm_code **out, wasm_error *err) {
  const wasm_body *b = &m->bodies[i];
  comp c;
  memset(&c, 0, sizeof c);
  c.m = m;
  c.labels = labels;
  c.func = m->nfunc_imports + i;
  c.ft = &m->types[m->func_type[c.func]];
  c.body_ltypes = b->local_types;
  c.last_start = NONE32;
  c.cell2 = NONE32;
  c.cur_off = b->offset;
  uint64_t nl = (uint64_t)c.ft->nparams + b->nlocals;
  if (nl > 0x10000000u) return fail(&c, err, WASM_ERR_INVALID, "too many locals");
  c.nlocals = (uint32_t)nl;
  c.lslot = malloc((size_t)(c.nlocals ? c.nlocals : 1) * sizeof(uint32_t));
  c.lstate = calloc(c.nlocals ? c.nlocals : 1, 1);
  c.lgen = malloc((size_t)(c.nlocals ? c.nlocals : 1) * sizeof(uint32_t));
  c.lset = malloc((size_t)(c.nlocals ? c.nlocals : 1) * sizeof(uint32_t));
  if (!c.lslot || !c.lstate || !c.lgen || !c.lset) {
    free(c.lslot);
    free(c.lstate);
    free(c.lgen);
    free(c.lset);
    return fail(&c, err, WASM_ERR_NOMEM, "locals");
  }
  uint32_t s = 0;
  for (uint32_t k = 0; k < c.nlocals; k++) {
    c.lslot[k] = s;
    s += width(local_type(&c, k));
  }
  c.local_slots = s;
  c.cur_slot = c.max_slot = s;

  wasm_status st = compile_body(&c, b, err);
  if (st == WASM_OK && c.npool) {
    /* Pass 2 with the pool at slots [s, s + npool), initialised on entry. */
    c.pool_final = true;
    c.ncode = c.npc = c.ntfix = c.nvs = c.ncs = c.ndcalls = 0;
    c.loop_depth = 0;
    c.last_start = NONE32;
    c.last_label = 0;
    c.cell2 = NONE32;
    memset(c.lstate, 0, c.nlocals);
    c.nlset = 0;
    c.cur_off = b->offset;
    for (uint32_t k = 0; k < c.npool; k++) emit_const(&c, s + k, c.pool[k]);
    c.cur_slot = c.max_slot = s + c.npool;
    st = compile_body(&c, b, err);
  }
  struct wasm_code *code = NULL;
  if (st == WASM_OK) {
    size_t sz = sizeof(struct wasm_code) + (size_t)c.ncode * sizeof(wasm_cell) +
                (size_t)c.npc * sizeof(uint32_t) + (size_t)c.ndcalls * sizeof(uint32_t);
    code = malloc(sz);
    if (!code) {
      st = fail(&c, err, WASM_ERR_NOMEM, "code");
    } else {
      code->func_index = c.func;
      code->param_slots = c.ft->param_slots;
      code->local_slots = c.local_slots;
      code->zero_lo = code->zero_hi = 0;
      for (uint32_t k = c.ft->nparams; k < c.nlocals; k++) {
        if (c.lstate[k] != LS_ZERO) continue;
        uint32_t e = c.lslot[k] + width(local_type(&c, k));
        if (code->zero_lo == code->zero_hi) code->zero_lo = c.lslot[k];
        code->zero_hi = e;
      }
      uint32_t fs = c.max_slot + 2;
      if (fs < c.ft->result_slots) fs = c.ft->result_slots;
      code->frame_slots = fs;
      code->result_slots = c.ft->result_slots;
      code->ncells = c.ncode;
      code->cells = (wasm_cell *)(code + 1);
      memcpy(code->cells, c.code, (size_t)c.ncode * sizeof(wasm_cell));
      code->npc = c.npc / 2;
      code->pc_map = (uint32_t *)(code->cells + c.ncode);
      memcpy(code->pc_map, c.pcmap, (size_t)c.npc * sizeof(uint32_t));
      code->ndcalls = c.ndcalls;
      code->dcalls = code->pc_map + c.npc;
      if (c.ndcalls) memcpy(code->dcalls, c.dcalls, (size_t)c.ndcalls * sizeof(uint32_t));
      for (uint32_t k = 0; k < c.ntfix; k++) {
        wasm_cell *cell = &code->cells[c.tfix[k]];
        uint64_t t = cell->u;
        cell->t = t < c.ncode ? code->cells + t : code->cells;
      }
      if (dump_enabled()) dump_code(&c, code, labels);
    }
  }
  free(c.lslot);
  free(c.lstate);
  free(c.lgen);
  free(c.lset);
  free(c.code);
  free(c.pcmap);
  free(c.tfix);
  free(c.dcalls);
  free(c.vs);
  free(c.cs);
  if (st == WASM_OK) *out = code;
  return st;
}

wasm_status wasmi_compile(wasm_module *m, wasm_error *err) {
  const void *const *labels = wasmi_interp_labels();
  uint32_t n = m->nfuncs - m->nfunc_imports;
  for (uint32_t i = 0; i < n; i++) {
    struct wasm_code *code = NULL;
    wasm_status st = compile_func(m, i, labels, &code, err);
    if (st != WASM_OK) {
      for (uint32_t k = 0; k < i; k++) {
        wasmi_code_free(m->bodies[k].compiled);
        m->bodies[k].compiled = NULL;
      }
      return st;
    }
    m->bodies[i].compiled = code;
  }
  /* Link direct calls: the cell holds the callee's function index. */
  for (uint32_t i = 0; i < n; i++) {
    struct wasm_code *code = m->bodies[i].compiled;
    for (uint32_t k = 0; k < code->ndcalls; k++) {
      wasm_cell *cell = &code->cells[code->dcalls[k]];
      const struct wasm_code *callee = m->bodies[cell->u - m->nfunc_imports].compiled;
      cell->h = callee;
      /* The call's handler is two cells before its code pointer. A callee
       * that zeroes nothing is entered without touching its wasm_code: the
       * call carries its frame size and its first cell directly. */
      if (callee->zero_lo == callee->zero_hi) {
        cell[-2].h = labels[WASM_IOP_CALL_DIRECT_NZ];
        cell[-1].a[1] = callee->frame_slots;
        cell->t = callee->cells;
      }
    }
  }
  return WASM_OK;
}

void wasmi_code_free(struct wasm_code *code) { free(code); }
