/* validate.c — the WebAssembly 2.0 validation rules over a decoded module.
 *
 * Function bodies are decoded here (decode.c only delimits them), so this
 * file also reports the body-level malformations: illegal opcodes, bad
 * immediates, a missing or misplaced `end`. The spec decodes a whole module
 * before validating it, so a malformation anywhere wins over a type error
 * anywhere: after the first validation error we keep decoding (and typing,
 * with later errors ignored) to the end of the last body.
 *
 * Typing follows the spec's appendix algorithm: an operand stack of value
 * types with 0 as Unknown, and control frames with start/end types, height
 * and an unreachable flag. Both stacks are explicit growable arrays, so
 * nesting depth costs no C stack; every body is checked in one linear pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

/* ---- Opcode tables (from opcodes.def) ---------------------------------- */

enum {
  K_ILLEGAL = 0,
  K_SPECIAL,
  K_NUMERIC,
  K_LOAD,
  K_STORE,
  K_EXTRACT_LANE,
  K_REPLACE_LANE,
  K_LOAD_LANE,
  K_STORE_LANE
};

#define VT_NONE 0
#define VT_I32 WASM_I32
#define VT_I64 WASM_I64
#define VT_F32 WASM_F32
#define VT_F64 WASM_F64
#define VT_V128 WASM_V128
#define VT_UNKNOWN 0 /* on the operand stack: a value of any type */

typedef struct {
  uint8_t kind, res, p1, p2, p3, lanes;
  const char *text;
} opinfo;

#define OPINFO(code, text, kind, res, p1, p2, p3, lanes)                                           \
  [code] = {K_##kind, VT_##res, VT_##p1, VT_##p2, VT_##p3, lanes, text},

static const opinfo k_ops[256] = {
#define WASM_OP(name, code, text, kind, res, p1, p2, p3, lanes)                                    \
  OPINFO(code, text, kind, res, p1, p2, p3, lanes)
#include "opcodes.def"
};
#define FC_COUNT 32
static const opinfo k_ops_fc[FC_COUNT] = {
#define WASM_OP_FC(name, code, text, kind, res, p1, p2, p3, lanes)                                 \
  OPINFO(code, text, kind, res, p1, p2, p3, lanes)
#include "opcodes.def"
};
#define FD_COUNT 256
static const opinfo k_ops_fd[FD_COUNT] = {
#define WASM_OP_FD(name, code, text, kind, res, p1, p2, p3, lanes)                                 \
  OPINFO(code, text, kind, res, p1, p2, p3, lanes)
#include "opcodes.def"
};

/* log2 of the natural alignment (access width in bytes) of memory ops. */
static const uint8_t k_align[256] = {
    [WASM_OP_I32_LOAD] = 2,     [WASM_OP_I64_LOAD] = 3,     [WASM_OP_F32_LOAD] = 2,
    [WASM_OP_F64_LOAD] = 3,     [WASM_OP_I32_LOAD8_S] = 0,  [WASM_OP_I32_LOAD8_U] = 0,
    [WASM_OP_I32_LOAD16_S] = 1, [WASM_OP_I32_LOAD16_U] = 1, [WASM_OP_I64_LOAD8_S] = 0,
    [WASM_OP_I64_LOAD8_U] = 0,  [WASM_OP_I64_LOAD16_S] = 1, [WASM_OP_I64_LOAD16_U] = 1,
    [WASM_OP_I64_LOAD32_S] = 2, [WASM_OP_I64_LOAD32_U] = 2, [WASM_OP_I32_STORE] = 2,
    [WASM_OP_I64_STORE] = 3,    [WASM_OP_F32_STORE] = 2,    [WASM_OP_F64_STORE] = 3,
    [WASM_OP_I32_STORE8] = 0,   [WASM_OP_I32_STORE16] = 1,  [WASM_OP_I64_STORE8] = 0,
    [WASM_OP_I64_STORE16] = 1,  [WASM_OP_I64_STORE32] = 2,
};
static const uint8_t k_align_fd[FD_COUNT] = {
    [WASM_FD_V128_LOAD] = 4,         [WASM_FD_V128_STORE] = 4,
    [WASM_FD_V128_LOAD8X8_S] = 3,    [WASM_FD_V128_LOAD8X8_U] = 3,
    [WASM_FD_V128_LOAD16X4_S] = 3,   [WASM_FD_V128_LOAD16X4_U] = 3,
    [WASM_FD_V128_LOAD32X2_S] = 3,   [WASM_FD_V128_LOAD32X2_U] = 3,
    [WASM_FD_V128_LOAD8_SPLAT] = 0,  [WASM_FD_V128_LOAD16_SPLAT] = 1,
    [WASM_FD_V128_LOAD32_SPLAT] = 2, [WASM_FD_V128_LOAD64_SPLAT] = 3,
    [WASM_FD_V128_LOAD32_ZERO] = 2,  [WASM_FD_V128_LOAD64_ZERO] = 3,
    [WASM_FD_V128_LOAD8_LANE] = 0,   [WASM_FD_V128_LOAD16_LANE] = 1,
    [WASM_FD_V128_LOAD32_LANE] = 2,  [WASM_FD_V128_LOAD64_LANE] = 3,
    [WASM_FD_V128_STORE8_LANE] = 0,  [WASM_FD_V128_STORE16_LANE] = 1,
    [WASM_FD_V128_STORE32_LANE] = 2, [WASM_FD_V128_STORE64_LANE] = 3,
};

static bool is_valtype(uint8_t t) {
  switch (t) {
  case WASM_I32:
  case WASM_I64:
  case WASM_F32:
  case WASM_F64:
  case WASM_V128:
  case WASM_FUNCREF:
  case WASM_EXTERNREF: return true;
  default: return false;
  }
}

static bool is_reftype(uint8_t t) { return t == WASM_FUNCREF || t == WASM_EXTERNREF; }

/* One-element type sequences for `block (result t)`, as stable pointers. */
static const uint8_t k_single[] = {WASM_I32,  WASM_I64,     WASM_F32,      WASM_F64,
                                   WASM_V128, WASM_FUNCREF, WASM_EXTERNREF};

static const uint8_t *single_type(uint8_t t) {
  for (size_t i = 0; i < sizeof k_single; i++)
    if (k_single[i] == t) return &k_single[i];
  return NULL;
}

/* Type name for messages; "unknown" for the validation algorithm's bottom type. */
static const char *tname(uint8_t t) {
  return single_type(t) ? wasm_valtype_str((wasm_valtype)t) : "unknown";
}

/* ---- Validator state ---------------------------------------------------- */

/* Implementation limits, far above what compilers emit; they bound the
 * memory a hostile body can make us allocate. */
#define MAX_OPERANDS (1u << 24)
#define MAX_FRAMES (1u << 20)

enum { F_FUNC, F_BLOCK, F_LOOP, F_IF, F_ELSE };

typedef struct {
  const uint8_t *params, *results;
  uint32_t nparams, nresults;
  uint32_t height; /* operand stack height at entry (after params popped) */
  uint32_t stamp;  /* last br_table that checked this label */
  uint8_t kind;
  bool unreachable;
} frame;

typedef struct {
  const wasm_module *m;
  wasm_error *err;
  wasm_status fatal; /* non-OK: stop everything (malformed, nomem, limit) */
  bool invalid;      /* a validation error is recorded in *err */

  /* The body being checked. */
  wasm_reader r;
  const uint8_t *at; /* start of the current instruction */
  uint32_t func;
  const wasm_functype *type;
  const wasm_body *body;

  uint8_t *vals;
  uint32_t nvals, capvals;
  frame *ctrls;
  uint32_t nctrls, capctrls;
  uint32_t stamp;
} vstate;

/* Stands in for an unknown type index (already reported) so that the body
 * is still checked. `types` points at real (empty) storage: code computes
 * types + nparams, and offsetting a null pointer is undefined even by 0. */
static uint8_t k_no_types[1];
static const wasm_functype k_empty_type = {0, 0, k_no_types, 0, 0, 0, "->"};

/* ---- Errors ------------------------------------------------------------- */

/* Text of the instruction at `at` (for messages only). */
static const char *op_text(const vstate *v, const uint8_t *at) {
  if (!at || at >= v->r.end) return "end of body";
  uint8_t b = *at;
  if (b != WASM_PREFIX_FC && b != WASM_PREFIX_FD)
    return k_ops[b].text ? k_ops[b].text : "illegal opcode";
  wasm_reader r = {v->r.start, at + 1, v->r.end, NULL, NULL};
  uint32_t sub = wasm_read_u32(&r);
  const char *t = NULL;
  if (r.err) return "illegal opcode";
  if (b == WASM_PREFIX_FC && sub < FC_COUNT) t = k_ops_fc[sub].text;
  if (b == WASM_PREFIX_FD && sub < FD_COUNT) t = k_ops_fd[sub].text;
  return t ? t : "illegal opcode";
}

/* The message prefix, as decode.c writes it ("invalid: function 3 at ..."). */
static const char *status_word(wasm_status st) {
  return st == WASM_ERR_INVALID ? "invalid" : st == WASM_ERR_MALFORMED ? "malformed" : "error";
}

static void body_verror(vstate *v, wasm_status st, const char *fmt, va_list ap) {
  char msg[300], buf[96];
  vsnprintf(msg, sizeof msg, fmt, ap);
  const char *label = wasmi_func_label(v->m, v->func, buf, sizeof buf);
  uint32_t off = wasm_reader_offset(&v->r, v->at ? v->at : v->r.p);
  wasmi_error_set(v->err, st, v->func, off, "%s: %s at 0x%x: %s in %s", status_word(st), label, off,
                  msg, op_text(v, v->at));
}

/* Records the first validation error of the module; later ones are noise. */
__attribute__((format(printf, 2, 3))) static void invalid(vstate *v, const char *fmt, ...) {
  if (v->invalid || v->fatal) return;
  v->invalid = true;
  va_list ap;
  va_start(ap, fmt);
  body_verror(v, WASM_ERR_INVALID, fmt, ap);
  va_end(ap);
}

/* A fatal body error: stops decoding (the reader is moved to its end so the
 * instruction loop exits at its next test). */
__attribute__((format(printf, 3, 4))) static void fatal(vstate *v, wasm_status st, const char *fmt,
                                                        ...) {
  if (v->fatal) return;
  v->fatal = st;
  va_list ap;
  va_start(ap, fmt);
  body_verror(v, st, fmt, ap);
  va_end(ap);
  v->r.p = v->r.end;
}

/* Module-level validation error about `what` (e.g. "global"), index `idx`
 * (UINT32_MAX: none) at byte `offset` (UINT32_MAX: unknown). */
__attribute__((format(printf, 5, 6))) static void
mod_invalid(vstate *v, const char *what, uint32_t idx, uint32_t offset, const char *fmt, ...) {
  if (v->invalid || v->fatal) return;
  v->invalid = true;
  char msg[300], where[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (idx != UINT32_MAX) snprintf(where, sizeof where, "%s %u", what, idx);
  else snprintf(where, sizeof where, "%s", what);
  if (offset != UINT32_MAX)
    wasmi_error_set(v->err, WASM_ERR_INVALID, UINT32_MAX, offset, "invalid: %s at 0x%x: %s", where,
                    offset, msg);
  else wasmi_error_set(v->err, WASM_ERR_INVALID, UINT32_MAX, offset, "invalid: %s: %s", where, msg);
}

/* ---- Operand and control stacks ---------------------------------------- */

static bool grow_vals(vstate *v, uint32_t extra) {
  uint64_t need = (uint64_t)v->nvals + extra;
  if (need > MAX_OPERANDS) {
    fatal(v, WASM_ERR_INVALID, "operand stack deeper than %u values (implementation limit)",
          MAX_OPERANDS);
    return false;
  }
  uint64_t cap = v->capvals ? v->capvals : 64;
  while (cap < need) cap *= 2;
  if (cap > MAX_OPERANDS) cap = MAX_OPERANDS;
  uint8_t *nv = realloc(v->vals, cap);
  if (!nv) {
    fatal(v, WASM_ERR_NOMEM, "out of memory");
    return false;
  }
  v->vals = nv;
  v->capvals = (uint32_t)cap;
  return true;
}

static inline void push_val(vstate *v, uint8_t t) {
  if (WASM_UNLIKELY(v->nvals >= v->capvals) && !grow_vals(v, 1)) return;
  v->vals[v->nvals++] = t;
}

static void push_vals(vstate *v, const uint8_t *ts, uint32_t n) {
  if (n == 0) return;
  if (WASM_UNLIKELY((uint64_t)v->nvals + n > v->capvals) && !grow_vals(v, n)) return;
  memcpy(v->vals + v->nvals, ts, n);
  v->nvals += n;
}

static inline frame *top(vstate *v) { return &v->ctrls[v->nctrls - 1]; }

static void underflow(vstate *v, uint8_t expect) {
  if (expect == VT_UNKNOWN) invalid(v, "type mismatch: expected a value but the stack is empty");
  else invalid(v, "type mismatch: expected %s but the stack is empty", tname(expect));
}

/* Pops any value; VT_UNKNOWN in unreachable code. */
static inline uint8_t pop_any(vstate *v) {
  frame *f = top(v);
  if (WASM_UNLIKELY(v->nvals == f->height)) {
    if (!f->unreachable) underflow(v, VT_UNKNOWN);
    return VT_UNKNOWN;
  }
  return v->vals[--v->nvals];
}

/* Pops a value that must have type `expect` (VT_UNKNOWN: any). */
static inline uint8_t pop_expect(vstate *v, uint8_t expect) {
  frame *f = top(v);
  if (WASM_UNLIKELY(v->nvals == f->height)) {
    if (!f->unreachable) underflow(v, expect);
    return expect;
  }
  uint8_t actual = v->vals[--v->nvals];
  if (WASM_UNLIKELY(actual != expect) && actual != VT_UNKNOWN && expect != VT_UNKNOWN)
    invalid(v, "type mismatch: expected %s but got %s", tname(expect), tname(actual));
  return actual == VT_UNKNOWN ? expect : actual;
}

static void pop_vals(vstate *v, const uint8_t *ts, uint32_t n) {
  while (n > 0) pop_expect(v, ts[--n]);
}

static void set_unreachable(vstate *v) {
  frame *f = top(v);
  v->nvals = f->height;
  f->unreachable = true;
}

static void push_frame(vstate *v, uint8_t kind, const uint8_t *params, uint32_t np,
                       const uint8_t *results, uint32_t nr) {
  if (WASM_UNLIKELY(v->nctrls >= v->capctrls)) {
    if (v->nctrls >= MAX_FRAMES) {
      fatal(v, WASM_ERR_INVALID, "blocks nested deeper than %u (implementation limit)", MAX_FRAMES);
      return;
    }
    uint32_t cap = v->capctrls ? v->capctrls * 2 : 16;
    if (cap > MAX_FRAMES) cap = MAX_FRAMES;
    frame *nf = realloc(v->ctrls, (size_t)cap * sizeof *nf);
    if (!nf) {
      fatal(v, WASM_ERR_NOMEM, "out of memory");
      return;
    }
    v->ctrls = nf;
    v->capctrls = cap;
  }
  frame *f = &v->ctrls[v->nctrls++];
  f->params = params;
  f->nparams = np;
  f->results = results;
  f->nresults = nr;
  f->height = v->nvals;
  f->stamp = 0;
  f->kind = kind;
  f->unreachable = false;
  push_vals(v, params, np);
}

/* End-of-block check shared by `else` and `end`: the results are on the
 * stack and nothing else. Leaves the stack at the frame's height. */
static void check_frame_end(vstate *v, frame *f) {
  pop_vals(v, f->results, f->nresults);
  if (v->nvals != f->height)
    invalid(v, "type mismatch: %u value%s left on the stack at the end of the block",
            v->nvals - f->height, v->nvals - f->height == 1 ? "" : "s");
  v->nvals = f->height;
}

static inline void label_types(const frame *f, const uint8_t **ts, uint32_t *n) {
  if (f->kind == F_LOOP) {
    *ts = f->params;
    *n = f->nparams;
  } else {
    *ts = f->results;
    *n = f->nresults;
  }
}

/* Checks that the top of the stack matches `ts` without popping it (what the
 * spec's br_table does with pop_vals followed by push_vals). */
static void peek_vals(vstate *v, const uint8_t *ts, uint32_t n) {
  frame *f = top(v);
  uint32_t avail = v->nvals - f->height;
  for (uint32_t j = 0; j < n; j++) {
    uint8_t expect = ts[n - 1 - j];
    if (j >= avail) {
      if (!f->unreachable) underflow(v, expect);
      return;
    }
    uint8_t actual = v->vals[v->nvals - 1 - j];
    if (actual != expect && actual != VT_UNKNOWN)
      invalid(v, "type mismatch: expected %s but got %s", tname(expect), tname(actual));
  }
}

/* ---- Immediates --------------------------------------------------------- */

/* Reads a block type; returns false on a fatal error. Unknown type indices
 * are reported and treated as [] -> []. */
static bool read_blocktype(vstate *v, const uint8_t **params, uint32_t *np, const uint8_t **results,
                           uint32_t *nr) {
  wasm_reader *r = &v->r;
  *params = *results = NULL;
  *np = *nr = 0;
  if (r->p >= r->end) {
    fatal(v, WASM_ERR_MALFORMED, "unexpected end");
    return false;
  }
  uint8_t b = *r->p;
  if (b == WASM_NONE_TYPE) {
    r->p++;
    return true;
  }
  if (is_valtype(b)) {
    r->p++;
    *results = single_type(b);
    *nr = 1;
    return true;
  }
  int64_t x = wasm_read_sleb(r, 33);
  if (r->err) return false;
  if (x < 0) {
    fatal(v, WASM_ERR_MALFORMED, "malformed block type");
    return false;
  }
  if ((uint64_t)x >= v->m->ntypes) {
    invalid(v, "unknown type %llu", (unsigned long long)x);
    return true;
  }
  const wasm_functype *t = &v->m->types[x];
  *params = t->types;
  *np = t->nparams;
  *results = t->types + t->nparams;
  *nr = t->nresults;
  return true;
}

static void need_memory(vstate *v) {
  if (v->m->nmems == 0) invalid(v, "unknown memory 0");
}

/* memarg: alignment exponent then offset, both u32. */
static void read_memarg(vstate *v, uint32_t natural) {
  uint32_t align = wasm_read_u32(&v->r);
  (void)wasm_read_u32(&v->r);
  if (v->r.err) return;
  need_memory(v);
  if (align > natural)
    invalid(v, "alignment must not be larger than natural (2^%u > %u bytes)", align, 1u << natural);
}

/* The reserved memory index byte of memory.size/grow/fill/copy/init. */
static void read_zero_byte(vstate *v) {
  uint8_t b = wasm_read_u8(&v->r);
  if (!v->r.err && b != 0) fatal(v, WASM_ERR_MALFORMED, "zero byte expected");
}

static void read_lane(vstate *v, uint32_t lanes) {
  uint8_t lane = wasm_read_u8(&v->r);
  if (!v->r.err && lane >= lanes) invalid(v, "invalid lane index %u (%u lanes)", lane, lanes);
}

static void skip_bytes(vstate *v, uint32_t n) {
  if ((size_t)(v->r.end - v->r.p) < n) {
    wasm_reader_fail(&v->r, "unexpected end");
    return;
  }
  v->r.p += n;
}

/* ---- Index helpers ------------------------------------------------------ */

static uint8_t local_type(vstate *v, uint32_t idx) {
  if (idx < v->type->nparams) return v->type->types[idx];
  uint32_t i = idx - v->type->nparams;
  if (i < v->body->nlocals) return v->body->local_types[i];
  invalid(v, "unknown local %u", idx);
  return VT_UNKNOWN;
}

static const wasm_tabletype *table_at(vstate *v, uint32_t idx) {
  if (idx < v->m->ntables) return &v->m->tables[idx];
  invalid(v, "unknown table %u", idx);
  return NULL;
}

static const wasm_functype *type_at(vstate *v, uint32_t idx) {
  if (idx < v->m->ntypes) return &v->m->types[idx];
  invalid(v, "unknown type %u", idx);
  return NULL;
}

static void call_type(vstate *v, const wasm_functype *t) {
  pop_vals(v, t->types, t->nparams);
  push_vals(v, t->types + t->nparams, t->nresults);
}

/* ---- Instructions ------------------------------------------------------- */

/* Instructions described entirely by the opcode table. */
static void check_table_op(vstate *v, const opinfo *oi, uint32_t natural) {
  switch (oi->kind) {
  case K_NUMERIC:
    if (oi->p3) pop_expect(v, oi->p3);
    if (oi->p2) pop_expect(v, oi->p2);
    if (oi->p1) pop_expect(v, oi->p1);
    if (oi->res) push_val(v, oi->res);
    break;
  case K_LOAD:
    read_memarg(v, natural);
    pop_expect(v, oi->p1);
    push_val(v, oi->res);
    break;
  case K_STORE:
    read_memarg(v, natural);
    pop_expect(v, oi->p2);
    pop_expect(v, oi->p1);
    break;
  case K_EXTRACT_LANE:
    read_lane(v, oi->lanes);
    pop_expect(v, oi->p1);
    push_val(v, oi->res);
    break;
  case K_REPLACE_LANE:
    read_lane(v, oi->lanes);
    pop_expect(v, oi->p2);
    pop_expect(v, oi->p1);
    push_val(v, oi->res);
    break;
  case K_LOAD_LANE:
    read_memarg(v, natural);
    read_lane(v, oi->lanes);
    pop_expect(v, oi->p2);
    pop_expect(v, oi->p1);
    push_val(v, oi->res);
    break;
  case K_STORE_LANE:
    read_memarg(v, natural);
    read_lane(v, oi->lanes);
    pop_expect(v, oi->p2);
    pop_expect(v, oi->p1);
    break;
  default: fatal(v, WASM_ERR_MALFORMED, "illegal opcode"); break;
  }
}

static void check_select(vstate *v, bool typed) {
  uint8_t t = VT_UNKNOWN;
  if (typed) {
    uint32_t n = wasm_read_u32(&v->r);
    if (v->r.err) return;
    if (n > (size_t)(v->r.end - v->r.p)) {
      fatal(v, WASM_ERR_MALFORMED, "unexpected end");
      return;
    }
    for (uint32_t i = 0; i < n; i++) {
      uint8_t b = *v->r.p++;
      if (!is_valtype(b)) {
        fatal(v, WASM_ERR_MALFORMED, "malformed value type 0x%02x", b);
        return;
      }
      if (i == 0) t = b;
    }
    if (n != 1) {
      invalid(v, "invalid result arity %u for select", n);
      t = VT_UNKNOWN;
    }
  }
  pop_expect(v, WASM_I32);
  if (typed) {
    pop_expect(v, t);
    pop_expect(v, t);
    push_val(v, t);
    return;
  }
  uint8_t t1 = pop_any(v);
  uint8_t t2 = pop_any(v);
  if (is_reftype(t1) || is_reftype(t2)) {
    invalid(v, "type mismatch: select without a type needs numeric or vector operands, got %s",
            tname(is_reftype(t1) ? t1 : t2));
  } else if (t1 != t2 && t1 != VT_UNKNOWN && t2 != VT_UNKNOWN) {
    invalid(v, "type mismatch: select operands %s and %s differ", tname(t2), tname(t1));
  }
  push_val(v, t1 == VT_UNKNOWN ? t2 : t1);
}

static void check_br_table(vstate *v) {
  wasm_reader *r = &v->r;
  uint32_t n = wasm_read_u32(r);
  if (r->err) return;
  if (n > (size_t)(r->end - r->p)) {
    fatal(v, WASM_ERR_MALFORMED, "unexpected end");
    return;
  }
  const uint8_t *targets = r->p;
  for (uint32_t i = 0; i < n && !r->err; i++) (void)wasm_read_u32(r);
  uint32_t dflt = wasm_read_u32(r);
  if (r->err) return;
  const uint8_t *after = r->p;

  pop_expect(v, WASM_I32);
  if (dflt >= v->nctrls) {
    invalid(v, "unknown label %u", dflt);
    set_unreachable(v);
    return;
  }
  const uint8_t *dts;
  uint32_t arity;
  label_types(&v->ctrls[v->nctrls - 1 - dflt], &dts, &arity);

  /* Re-read the targets (already known to decode). Each distinct label is
   * checked once per br_table: the cost stays linear in the body size. */
  uint32_t stamp = ++v->stamp;
  if (stamp == 0) {
    for (uint32_t i = 0; i < v->nctrls; i++) v->ctrls[i].stamp = 0;
    stamp = v->stamp = 1;
  }
  wasm_reader tr = {r->start, targets, after, NULL, NULL};
  for (uint32_t i = 0; i < n; i++) {
    uint32_t d = wasm_read_u32(&tr);
    if (d >= v->nctrls) {
      invalid(v, "unknown label %u", d);
      continue;
    }
    frame *f = &v->ctrls[v->nctrls - 1 - d];
    if (f->stamp == stamp) continue;
    f->stamp = stamp;
    const uint8_t *ts;
    uint32_t k;
    label_types(f, &ts, &k);
    if (k != arity) {
      invalid(v, "type mismatch: br_table targets have %u and %u values", k, arity);
      continue;
    }
    peek_vals(v, ts, k);
  }
  pop_vals(v, dts, arity);
  set_unreachable(v);
}

/* memory.init and data.drop name a data segment. Binaries need the data
 * count section for them (the spec's decoder rejects the module otherwise),
 * but an index past every segment is reported as the validation error it
 * also is: tools such as wast2json omit the section when there is no data. */
static void check_data_index(vstate *v, uint32_t x) {
  const wasm_module *m = v->m;
  uint32_t count = m->has_datacount ? m->datacount : m->ndatas;
  if (x >= count) invalid(v, "unknown data segment %u", x);
  else if (!m->has_datacount) fatal(v, WASM_ERR_MALFORMED, "data count section required");
}

static void check_fc(vstate *v) {
  const wasm_module *m = v->m;
  wasm_reader *r = &v->r;
  uint32_t sub = wasm_read_u32(r);
  if (r->err) return;
  if (sub >= FC_COUNT || k_ops_fc[sub].kind == K_ILLEGAL) {
    fatal(v, WASM_ERR_MALFORMED, "illegal opcode 0xfc %u", sub);
    return;
  }
  if (k_ops_fc[sub].kind != K_SPECIAL) {
    check_table_op(v, &k_ops_fc[sub], 0);
    return;
  }
  switch (sub) {
  case WASM_FC_MEMORY_INIT: {
    uint32_t x = wasm_read_u32(r);
    read_zero_byte(v);
    if (r->err || v->fatal) return;
    need_memory(v);
    check_data_index(v, x);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    break;
  }
  case WASM_FC_DATA_DROP: {
    uint32_t x = wasm_read_u32(r);
    if (r->err) return;
    check_data_index(v, x);
    break;
  }
  case WASM_FC_MEMORY_COPY:
    read_zero_byte(v);
    read_zero_byte(v);
    need_memory(v);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    break;
  case WASM_FC_MEMORY_FILL:
    read_zero_byte(v);
    need_memory(v);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    break;
  case WASM_FC_TABLE_INIT: {
    uint32_t e = wasm_read_u32(r);
    uint32_t t = wasm_read_u32(r);
    if (r->err) return;
    const wasm_tabletype *tt = table_at(v, t);
    if (e >= m->nelems) invalid(v, "unknown elem segment %u", e);
    else if (tt && m->elems[e].elemtype != tt->elemtype)
      invalid(v, "type mismatch: elem segment %u has %s, table %u has %s", e,
              tname(m->elems[e].elemtype), t, tname(tt->elemtype));
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    break;
  }
  case WASM_FC_ELEM_DROP: {
    uint32_t e = wasm_read_u32(r);
    if (r->err) return;
    if (e >= m->nelems) invalid(v, "unknown elem segment %u", e);
    break;
  }
  case WASM_FC_TABLE_COPY: {
    uint32_t dst = wasm_read_u32(r);
    uint32_t src = wasm_read_u32(r);
    if (r->err) return;
    const wasm_tabletype *td = table_at(v, dst);
    const wasm_tabletype *ts = table_at(v, src);
    if (td && ts && td->elemtype != ts->elemtype)
      invalid(v, "type mismatch: table %u has %s, table %u has %s", dst, tname(td->elemtype), src,
              tname(ts->elemtype));
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    pop_expect(v, WASM_I32);
    break;
  }
  case WASM_FC_TABLE_GROW:
  case WASM_FC_TABLE_SIZE:
  case WASM_FC_TABLE_FILL: {
    uint32_t x = wasm_read_u32(r);
    if (r->err) return;
    const wasm_tabletype *tt = table_at(v, x);
    uint8_t et = tt ? tt->elemtype : VT_UNKNOWN;
    if (sub == WASM_FC_TABLE_GROW) {
      pop_expect(v, WASM_I32);
      pop_expect(v, et);
      push_val(v, WASM_I32);
    } else if (sub == WASM_FC_TABLE_SIZE) {
      push_val(v, WASM_I32);
    } else {
      pop_expect(v, WASM_I32);
      pop_expect(v, et);
      pop_expect(v, WASM_I32);
    }
    break;
  }
  default: fatal(v, WASM_ERR_MALFORMED, "illegal opcode 0xfc %u", sub); break;
  }
}

static void check_fd(vstate *v) {
  wasm_reader *r = &v->r;
  uint32_t sub = wasm_read_u32(r);
  if (r->err) return;
  if (sub >= FD_COUNT || k_ops_fd[sub].kind == K_ILLEGAL) {
    fatal(v, WASM_ERR_MALFORMED, "illegal opcode 0xfd %u", sub);
    return;
  }
  const opinfo *oi = &k_ops_fd[sub];
  if (oi->kind != K_SPECIAL) {
    check_table_op(v, oi, k_align_fd[sub]);
    return;
  }
  if (sub == WASM_FD_V128_CONST) {
    skip_bytes(v, 16);
    push_val(v, WASM_V128);
  } else if (sub == WASM_FD_I8X16_SHUFFLE) {
    if ((size_t)(r->end - r->p) < 16) {
      wasm_reader_fail(r, "unexpected end");
      return;
    }
    for (int i = 0; i < 16; i++)
      if (r->p[i] >= 32) {
        invalid(v, "invalid lane index %u (32 lanes)", r->p[i]);
        break;
      }
    r->p += 16;
    pop_expect(v, WASM_V128);
    pop_expect(v, WASM_V128);
    push_val(v, WASM_V128);
  } else {
    fatal(v, WASM_ERR_MALFORMED, "illegal opcode 0xfd %u", sub);
  }
}

/* Decodes and type-checks one function body. Returns early only on a fatal
 * error (v->fatal set). */
static void check_body(vstate *v, uint32_t func) {
  const wasm_module *m = v->m;
  const wasm_body *b = &m->bodies[func - m->nfunc_imports];
  uint32_t ti = m->func_type[func];
  const wasm_functype *ft = ti < m->ntypes ? &m->types[ti] : &k_empty_type;
  wasm_reader *r = &v->r;

  v->func = func;
  v->type = ft;
  v->body = b;
  v->r = (wasm_reader){m->bytes, b->code, b->code_end, NULL, NULL};
  v->at = b->code;
  v->nvals = 0;
  v->nctrls = 0;
  push_frame(v, F_FUNC, NULL, 0, ft->types + ft->nparams, ft->nresults);

  for (;;) {
    if (WASM_UNLIKELY(r->p >= r->end)) {
      if (v->fatal) return;
      if (r->err) {
        fatal(v, WASM_ERR_MALFORMED, "%s", r->err);
        return;
      }
      v->at = r->p;
      fatal(v, WASM_ERR_MALFORMED, "END opcode expected: the body ends inside a block");
      return;
    }
    v->at = r->p;
    uint8_t op = *r->p++;
    switch (op) {
    case WASM_OP_UNREACHABLE: set_unreachable(v); break;
    case WASM_OP_NOP: break;
    case WASM_OP_BLOCK:
    case WASM_OP_LOOP:
    case WASM_OP_IF: {
      const uint8_t *ps, *rs;
      uint32_t np, nr;
      if (!read_blocktype(v, &ps, &np, &rs, &nr)) break;
      if (op == WASM_OP_IF) pop_expect(v, WASM_I32);
      pop_vals(v, ps, np);
      push_frame(v,
                 op == WASM_OP_BLOCK  ? F_BLOCK
                 : op == WASM_OP_LOOP ? F_LOOP
                                      : F_IF,
                 ps, np, rs, nr);
      break;
    }
    case WASM_OP_ELSE: {
      frame *f = top(v);
      if (f->kind != F_IF) {
        fatal(v, WASM_ERR_MALFORMED, "END opcode expected: else without if");
        break;
      }
      check_frame_end(v, f);
      f->kind = F_ELSE;
      f->unreachable = false;
      push_vals(v, f->params, f->nparams);
      break;
    }
    case WASM_OP_END: {
      frame *f = top(v);
      check_frame_end(v, f);
      if (f->kind == F_IF && (f->nparams != f->nresults ||
                              (f->nparams && memcmp(f->params, f->results, f->nparams) != 0)))
        invalid(v, "type mismatch: if without else must have matching param and result types");
      const uint8_t *rs = f->results;
      uint32_t nr = f->nresults;
      v->nctrls--;
      if (v->nctrls == 0) {
        if (r->p != r->end) {
          v->at = r->p;
          fatal(v, WASM_ERR_MALFORMED, "section size mismatch: code after the final end");
        }
        return;
      }
      push_vals(v, rs, nr);
      break;
    }
    case WASM_OP_BR: {
      uint32_t d = wasm_read_u32(r);
      if (d >= v->nctrls) {
        invalid(v, "unknown label %u", d);
      } else {
        const uint8_t *ts;
        uint32_t n;
        label_types(&v->ctrls[v->nctrls - 1 - d], &ts, &n);
        pop_vals(v, ts, n);
      }
      set_unreachable(v);
      break;
    }
    case WASM_OP_BR_IF: {
      uint32_t d = wasm_read_u32(r);
      pop_expect(v, WASM_I32);
      if (d >= v->nctrls) {
        invalid(v, "unknown label %u", d);
      } else {
        const uint8_t *ts;
        uint32_t n;
        label_types(&v->ctrls[v->nctrls - 1 - d], &ts, &n);
        pop_vals(v, ts, n);
        push_vals(v, ts, n);
      }
      break;
    }
    case WASM_OP_BR_TABLE: check_br_table(v); break;
    case WASM_OP_RETURN:
      pop_vals(v, ft->types + ft->nparams, ft->nresults);
      set_unreachable(v);
      break;
    case WASM_OP_CALL: {
      uint32_t f = wasm_read_u32(r);
      if (r->err) break;
      if (f >= m->nfuncs) {
        invalid(v, "unknown function %u", f);
        break;
      }
      const wasm_functype *t = type_at(v, m->func_type[f]);
      if (t) call_type(v, t);
      break;
    }
    case WASM_OP_CALL_INDIRECT: {
      uint32_t x = wasm_read_u32(r);
      uint32_t tab = wasm_read_u32(r);
      if (r->err) break;
      const wasm_tabletype *tt = table_at(v, tab);
      if (tt && tt->elemtype != WASM_FUNCREF)
        invalid(v, "type mismatch: call_indirect through table %u of %s", tab, tname(tt->elemtype));
      const wasm_functype *t = type_at(v, x);
      pop_expect(v, WASM_I32);
      if (t) call_type(v, t);
      break;
    }
    case WASM_OP_DROP: pop_any(v); break;
    case WASM_OP_SELECT: check_select(v, false); break;
    case WASM_OP_SELECT_T: check_select(v, true); break;
    case WASM_OP_LOCAL_GET: {
      uint32_t x = wasm_read_u32(r);
      push_val(v, local_type(v, x));
      break;
    }
    case WASM_OP_LOCAL_SET: {
      uint32_t x = wasm_read_u32(r);
      pop_expect(v, local_type(v, x));
      break;
    }
    case WASM_OP_LOCAL_TEE: {
      uint32_t x = wasm_read_u32(r);
      uint8_t t = local_type(v, x);
      pop_expect(v, t);
      push_val(v, t);
      break;
    }
    case WASM_OP_GLOBAL_GET: {
      uint32_t x = wasm_read_u32(r);
      if (x >= m->nglobals) {
        invalid(v, "unknown global %u", x);
        push_val(v, VT_UNKNOWN);
      } else {
        push_val(v, m->global_types[x].type);
      }
      break;
    }
    case WASM_OP_GLOBAL_SET: {
      uint32_t x = wasm_read_u32(r);
      if (x >= m->nglobals) {
        invalid(v, "unknown global %u", x);
        pop_any(v);
      } else {
        if (!m->global_types[x].mut) invalid(v, "global is immutable: global %u", x);
        pop_expect(v, m->global_types[x].type);
      }
      break;
    }
    case WASM_OP_TABLE_GET: {
      uint32_t x = wasm_read_u32(r);
      const wasm_tabletype *tt = table_at(v, x);
      pop_expect(v, WASM_I32);
      push_val(v, tt ? tt->elemtype : VT_UNKNOWN);
      break;
    }
    case WASM_OP_TABLE_SET: {
      uint32_t x = wasm_read_u32(r);
      const wasm_tabletype *tt = table_at(v, x);
      pop_expect(v, tt ? tt->elemtype : VT_UNKNOWN);
      pop_expect(v, WASM_I32);
      break;
    }
    case WASM_OP_MEMORY_SIZE:
      read_zero_byte(v);
      need_memory(v);
      push_val(v, WASM_I32);
      break;
    case WASM_OP_MEMORY_GROW:
      read_zero_byte(v);
      need_memory(v);
      pop_expect(v, WASM_I32);
      push_val(v, WASM_I32);
      break;
    case WASM_OP_I32_CONST:
      (void)wasm_read_sleb(r, 32);
      push_val(v, WASM_I32);
      break;
    case WASM_OP_I64_CONST:
      (void)wasm_read_sleb(r, 64);
      push_val(v, WASM_I64);
      break;
    case WASM_OP_F32_CONST:
      skip_bytes(v, 4);
      push_val(v, WASM_F32);
      break;
    case WASM_OP_F64_CONST:
      skip_bytes(v, 8);
      push_val(v, WASM_F64);
      break;
    case WASM_OP_REF_NULL: {
      uint8_t t = wasm_read_u8(r);
      if (r->err) break;
      if (!is_reftype(t)) {
        fatal(v, WASM_ERR_MALFORMED, "malformed reference type 0x%02x", t);
        break;
      }
      push_val(v, t);
      break;
    }
    case WASM_OP_REF_IS_NULL: {
      uint8_t t = pop_any(v);
      if (t != VT_UNKNOWN && !is_reftype(t))
        invalid(v, "type mismatch: expected a reference but got %s", tname(t));
      push_val(v, WASM_I32);
      break;
    }
    case WASM_OP_REF_FUNC: {
      uint32_t x = wasm_read_u32(r);
      if (r->err) break;
      if (x >= m->nfuncs) invalid(v, "unknown function %u", x);
      else if (!m->func_declared || !m->func_declared[x])
        invalid(v, "undeclared function reference %u", x);
      push_val(v, WASM_FUNCREF);
      break;
    }
    case WASM_PREFIX_FC: check_fc(v); break;
    case WASM_PREFIX_FD: check_fd(v); break;
    default:
      if (WASM_UNLIKELY(k_ops[op].kind == K_ILLEGAL || k_ops[op].kind == K_SPECIAL)) {
        fatal(v, WASM_ERR_MALFORMED, "illegal opcode 0x%02x", op);
        break;
      }
      check_table_op(v, &k_ops[op], k_align[op]);
      break;
    }
  }
}

/* ---- Module-level rules -------------------------------------------------- */

static void check_limits(vstate *v, const char *what, uint32_t idx, const wasm_limits *l,
                         bool memory) {
  if (memory && (l->min > WASM_MAX_PAGES || (l->has_max && l->max > WASM_MAX_PAGES)))
    mod_invalid(v, what, idx, UINT32_MAX, "memory size must be at most 65536 pages (4GiB)");
  if (l->has_max && l->min > l->max)
    mod_invalid(v, what, idx, UINT32_MAX, "size minimum must not be greater than maximum (%u > %u)",
                l->min, l->max);
}

/* A constant expression of type `expect`. global.get may name only imported
 * immutable globals (the 2.0 rule, as the reference interpreter applies it to
 * every constant expression). */
static void check_const(vstate *v, const char *what, uint32_t idx, const wasm_const_expr *e,
                        uint8_t expect) {
  const wasm_module *m = v->m;
  uint8_t t = e->type;
  switch (e->kind) {
  case WASM_CONST_VALUE:
  case WASM_CONST_REF_NULL: break;
  case WASM_CONST_GLOBAL_GET:
    if (e->index >= m->nglobal_imports || e->index >= m->nglobals) {
      mod_invalid(v, what, idx, e->offset, "unknown global %u", e->index);
      return;
    }
    if (m->global_types[e->index].mut) {
      mod_invalid(v, what, idx, e->offset, "constant expression required: global %u is mutable",
                  e->index);
      return;
    }
    t = m->global_types[e->index].type;
    break;
  case WASM_CONST_REF_FUNC:
    if (e->index >= m->nfuncs) {
      mod_invalid(v, what, idx, e->offset, "unknown function %u", e->index);
      return;
    }
    t = WASM_FUNCREF;
    break;
  default: mod_invalid(v, what, idx, e->offset, "constant expression required"); return;
  }
  if (t != expect)
    mod_invalid(v, what, idx, e->offset, "type mismatch: expected %s but got %s", tname(expect),
                tname(t));
}

static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static void check_exports(vstate *v) {
  const wasm_module *m = v->m;
  for (uint32_t i = 0; i < m->nexports; i++) {
    const wasm_export *e = &m->exports[i];
    switch (e->kind) {
    case WASM_EXTERN_FUNC:
      if (e->index >= m->nfuncs)
        mod_invalid(v, "export", i, UINT32_MAX, "unknown function %u", e->index);
      break;
    case WASM_EXTERN_TABLE:
      if (e->index >= m->ntables)
        mod_invalid(v, "export", i, UINT32_MAX, "unknown table %u", e->index);
      break;
    case WASM_EXTERN_MEMORY:
      if (e->index >= m->nmems)
        mod_invalid(v, "export", i, UINT32_MAX, "unknown memory %u", e->index);
      break;
    case WASM_EXTERN_GLOBAL:
      if (e->index >= m->nglobals)
        mod_invalid(v, "export", i, UINT32_MAX, "unknown global %u", e->index);
      break;
    default: mod_invalid(v, "export", i, UINT32_MAX, "unknown export kind %u", e->kind); break;
    }
  }
  if (m->nexports < 2) return;

  /* Names must be unique: an open-addressing set of export indices. */
  uint32_t cap = 4;
  while (cap < 2u * m->nexports && cap < (1u << 31)) cap *= 2;
  uint32_t *slots = malloc((size_t)cap * sizeof *slots);
  if (!slots) {
    if (!v->fatal) {
      v->fatal = WASM_ERR_NOMEM;
      wasmi_error_set(v->err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX, "error: out of memory");
    }
    return;
  }
  memset(slots, 0xff, (size_t)cap * sizeof *slots);
  for (uint32_t i = 0; i < m->nexports; i++) {
    const char *name = m->exports[i].name ? m->exports[i].name : "";
    uint32_t h = hash_name(name) & (cap - 1);
    for (;;) {
      uint32_t j = slots[h];
      if (j == UINT32_MAX) {
        slots[h] = i;
        break;
      }
      const char *other = m->exports[j].name ? m->exports[j].name : "";
      if (strcmp(other, name) == 0) {
        mod_invalid(v, "export", i, UINT32_MAX, "duplicate export name \"%s\"", name);
        break;
      }
      h = (h + 1) & (cap - 1);
    }
  }
  free(slots);
}

static void check_module(vstate *v) {
  const wasm_module *m = v->m;

  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == WASM_EXTERN_FUNC && m->imports[i].desc.func_type >= m->ntypes)
      mod_invalid(v, "import", i, UINT32_MAX, "unknown type %u", m->imports[i].desc.func_type);
  for (uint32_t f = 0; f < m->nfuncs; f++)
    if (m->func_type[f] >= m->ntypes)
      mod_invalid(v, "function", f, UINT32_MAX, "unknown type %u", m->func_type[f]);

  for (uint32_t i = 0; i < m->ntables; i++) {
    check_limits(v, "table", i, &m->tables[i].limits, false);
    if (!is_reftype(m->tables[i].elemtype))
      mod_invalid(v, "table", i, UINT32_MAX, "type mismatch: table of %s",
                  tname(m->tables[i].elemtype));
  }
  for (uint32_t i = 0; i < m->nmems; i++) check_limits(v, "memory", i, &m->mems[i].limits, true);
  if (m->nmems > 1) mod_invalid(v, "memory", 1, UINT32_MAX, "multiple memories");

  for (uint32_t g = m->nglobal_imports; g < m->nglobals; g++)
    check_const(v, "global", g, &m->global_inits[g], m->global_types[g].type);

  for (uint32_t i = 0; i < m->nelems; i++) {
    const wasm_elem *e = &m->elems[i];
    if (!is_reftype(e->elemtype))
      mod_invalid(v, "elem segment", i, UINT32_MAX, "type mismatch: elements of %s",
                  tname(e->elemtype));
    if (e->mode == WASM_SEG_ACTIVE) {
      if (e->table >= m->ntables) {
        mod_invalid(v, "elem segment", i, e->offset.offset, "unknown table %u", e->table);
      } else if (m->tables[e->table].elemtype != e->elemtype) {
        mod_invalid(v, "elem segment", i, e->offset.offset,
                    "type mismatch: %s segment for table %u of %s", tname(e->elemtype), e->table,
                    tname(m->tables[e->table].elemtype));
      }
      check_const(v, "elem segment", i, &e->offset, WASM_I32);
    }
    for (uint32_t k = 0; k < e->count; k++)
      check_const(v, "elem segment", i, &e->items[k], e->elemtype);
  }

  for (uint32_t i = 0; i < m->ndatas; i++) {
    const wasm_data *d = &m->datas[i];
    if (d->mode != WASM_SEG_ACTIVE) continue;
    if (d->memory >= m->nmems)
      mod_invalid(v, "data segment", i, d->offset.offset, "unknown memory %u", d->memory);
    check_const(v, "data segment", i, &d->offset, WASM_I32);
  }

  if (m->has_start) {
    if (m->start >= m->nfuncs) {
      mod_invalid(v, "start function", UINT32_MAX, UINT32_MAX, "unknown function %u", m->start);
    } else if (m->func_type[m->start] < m->ntypes) {
      const wasm_functype *t = &m->types[m->func_type[m->start]];
      if (t->nparams != 0 || t->nresults != 0)
        mod_invalid(v, "start function", UINT32_MAX, UINT32_MAX,
                    "start function must have type [] -> [], not %s", t->sig ? t->sig : "another");
    }
  }

  check_exports(v);
}

/* ---- Entry -------------------------------------------------------------- */

wasm_status wasmi_validate(const wasm_module *m, wasm_error *err) {
  wasm_error local;
  vstate v;
  memset(&v, 0, sizeof v);
  v.m = m;
  v.err = err ? err : &local;

  if (m->has_datacount && m->datacount != m->ndatas)
    return wasmi_error_set(
        v.err, WASM_ERR_MALFORMED, UINT32_MAX, UINT32_MAX,
        "malformed: data count and data section have inconsistent lengths (%u, %u)", m->datacount,
        m->ndatas);

  check_module(&v);
  /* Bodies are checked even after a module-level error: a malformed body
   * must still be reported as malformed. */
  for (uint32_t f = m->nfunc_imports; f < m->nfuncs && !v.fatal; f++) check_body(&v, f);

  free(v.vals);
  free(v.ctrls);
  if (v.fatal) return v.fatal;
  return v.invalid ? WASM_ERR_INVALID : WASM_OK;
}
