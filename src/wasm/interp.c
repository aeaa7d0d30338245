/* interp.c — executes the threaded code built by compile.c.
 *
 * One big function with computed goto (direct threading): each instruction's
 * first cell is the address of its handler label. Hot state (ip, fp, memory
 * base, globals, function table) lives in locals so the C compiler keeps it in
 * registers. wasm->wasm calls never recurse on the C stack: the callee's
 * frame starts at the caller's first argument slot (register window) and the
 * return address goes to a separate per-thread control stack.
 *
 * Memory accesses are unchecked: addresses land in the 8 GiB reservation made
 * by memory.c and a fault there is turned into a trap through the thread's
 * wasm_trap_point (sigsetjmp in wasmi_interp_invoke). Memory instructions
 * record their ip (one store) so such a trap still names the exact
 * instruction; the trapping function is found afterwards as the body whose
 * code holds the trap ip, so calls and returns keep no bookkeeping for it.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "aot.h"
#include "code.h"
#include "wasm_int.h"

#if WASM_HAVE_SIMD
#include "simd_ops.h"
#endif

/* ---- Per-thread stacks -------------------------------------------------- */

/* Same-instance calls store only ret and fp. A call into another instance
 * sets ret to a trampoline that restores `inst` and continues at `ret2`, so
 * plain returns never compare instances. */
typedef struct cframe {
  const wasm_cell *ret;
  uint64_t *fp;
  wasm_instance *inst;   /* caller's instance (cross-instance frames only) */
  const wasm_cell *ret2; /* caller's return point (cross-instance frames only) */
} cframe;

#define STACK_SLOTS_ALLOC ((size_t)1 << 20) /* 8 MiB of value stack */
#define STACK_SLOTS_SLACK ((size_t)1 << 16) /* room for the entry frame above the limit */
#define CFRAMES_ALLOC ((size_t)1 << 17)
/* Each entry into wasm puts one sentinel frame under its own frames (so
 * returns need no "last frame" test); the slack keeps the real-frame budget
 * of a thread at CFRAMES_ALLOC whatever the nesting. */
#define CFRAMES_SLACK (MAX_NEST + 1)

static _Thread_local uint64_t *t_stack, *t_stack_end, *t_top;
static _Thread_local cframe *t_cs, *t_cs_end, *t_csp;
/* Nested entries (host -> wasm -> host ...) recurse on the C stack. */
static _Thread_local uint32_t t_nest;
#define MAX_NEST 512

#define VSTACK_BYTES ((STACK_SLOTS_ALLOC + STACK_SLOTS_SLACK) * sizeof(uint64_t))
#define CSTACK_BYTES ((CFRAMES_ALLOC + CFRAMES_SLACK) * sizeof(cframe))

/* Unmaps a thread's stacks when it exits (servers may use many threads). */
static pthread_key_t stacks_key;
static pthread_once_t stacks_once = PTHREAD_ONCE_INIT;
static void stacks_free(void *v) {
  (void)v;
  if (t_stack) munmap(t_stack, VSTACK_BYTES);
  if (t_cs) munmap(t_cs, CSTACK_BYTES);
  t_stack = t_stack_end = t_top = NULL;
  t_cs = t_cs_end = t_csp = NULL;
}
static void stacks_key_init(void) { (void)pthread_key_create(&stacks_key, stacks_free); }

/* Maps both per-thread stacks once; pages are touched lazily. Returns 0 on
 * failure (address space exhausted). */
static int thread_stacks(void) {
  if (WASM_LIKELY(t_stack != NULL)) return 1;
  pthread_once(&stacks_once, stacks_key_init);
  size_t vbytes = VSTACK_BYTES;
  size_t cbytes = CSTACK_BYTES;
  void *v = mmap(NULL, vbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (v == MAP_FAILED) return 0;
  void *cs = mmap(NULL, cbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                  -1, 0);
  if (cs == MAP_FAILED) {
    munmap(v, vbytes);
    return 0;
  }
  t_stack = v;
  t_stack_end = t_stack + STACK_SLOTS_ALLOC + STACK_SLOTS_SLACK;
  t_top = t_stack;
  t_cs = cs;
  t_cs_end = t_cs + CFRAMES_ALLOC;
  t_csp = t_cs;
  (void)pthread_setspecific(stacks_key, t_stack); /* non-NULL: destructor runs */
  return 1;
}

/* State of one entry into wasm, visible to the trap path. Fields that the
 * trap path reads after siglongjmp are volatile. */
typedef struct ictx {
  wasm_instance *volatile cur_inst; /* instance executing now */
  const wasm_cell *volatile mem_ip; /* last memory instruction (signal traps) */
  uint64_t *stack_limit;
  cframe *cs_base, *cs_limit;
  wasm_trap_point *tp;
  const wasm_cell *trap_ip;
  wasm_instance *host_inst; /* instance whose host call trapped */
} ictx;

/* ---- Value helpers ------------------------------------------------------- */

/* From here to the end of run(): operator macros and handlers, one per line
 * so that the table reads like the opcode list. */
/* clang-format off */
#include "numops.h"

#define TRAP(s) do { st = WASM_TRAP_##s; goto trap; } while (0)
/* Memory access: the address slot holds a zero-extended i32. */
#define EA(slot, off) (mem + (uint64_t)(uint32_t)fp[slot] + (off))
#define EAX(slot, slot2, off) (mem + (uint64_t)(uint32_t)((uint32_t)fp[slot] + (uint32_t)fp[slot2]) + (off))
#define EAI(slot, imm, off) (mem + (uint64_t)(uint32_t)((uint32_t)fp[slot] + (imm)) + (off))

/* ---- Cold helpers for bulk memory and tables ----------------------------- */

static uint64_t mem_size(const wasm_instance *inst) {
  return inst->memory ? atomic_load_explicit(&inst->memory->size, memory_order_acquire) : 0;
}

__attribute__((noinline, cold)) wasm_status
wasmi_op_memory_init(wasm_instance *inst, uint32_t seg, uint32_t d, uint32_t s, uint32_t n) {
  const wasm_data *ds = &inst->module->datas[seg];
  uint64_t len = inst->data_dropped[seg] ? 0 : ds->size;
  if ((uint64_t)s + n > len || (uint64_t)d + n > mem_size(inst)) return WASM_TRAP_MEM_OOB;
  if (n) memcpy(inst->mem_base + d, ds->bytes + s, n);
  return WASM_OK;
}

__attribute__((noinline)) wasm_status
wasmi_op_memory_copy(wasm_instance *inst, uint32_t d, uint32_t s, uint32_t n) {
  uint64_t size = mem_size(inst);
  if ((uint64_t)s + n > size || (uint64_t)d + n > size) return WASM_TRAP_MEM_OOB;
  memmove(inst->mem_base + d, inst->mem_base + s, n);
  return WASM_OK;
}

__attribute__((noinline)) wasm_status
wasmi_op_memory_fill(wasm_instance *inst, uint32_t d, uint32_t v, uint32_t n) {
  if ((uint64_t)d + n > mem_size(inst)) return WASM_TRAP_MEM_OOB;
  memset(inst->mem_base + d, (int)(uint8_t)v, n);
  return WASM_OK;
}

__attribute__((noinline, cold)) wasm_status
wasmi_op_table_init(wasm_instance *inst, uint32_t tab, uint32_t seg, uint32_t d, uint32_t s, uint32_t n) {
  wasm_table *t = inst->tables[tab];
  void **refs = inst->elem_dropped[seg] ? NULL : inst->elem_refs[seg];
  uint64_t len = refs ? inst->module->elems[seg].count : 0;
  if ((uint64_t)s + n > len || (uint64_t)d + n > t->size) return WASM_TRAP_TABLE_OOB;
  if (n) memcpy(t->elems + d, refs + s, (size_t)n * sizeof(void *));
  return WASM_OK;
}

/* table.grow: the old size, or -1 over the maximum (or our entry limit) or
 * when the allocation fails. `elems` may move: readers reload it. Here
 * rather than with the other table code in instance.c, so that the
 * interpreter calls nothing there. */
__attribute__((noinline, cold)) int64_t wasmi_table_grow(wasm_table *t, uint32_t delta,
                                                          void *init) {
  uint32_t old = t->size;
  if (delta == 0) return old;
  uint64_t want = (uint64_t)old + delta;
  uint64_t limit = t->max < WASM_TABLE_MAX_ENTRIES ? t->max : WASM_TABLE_MAX_ENTRIES;
  if (want > limit) return -1;
  if (want > t->capacity) {
    uint64_t cap = (uint64_t)t->capacity * 2;
    if (cap < want) cap = want;
    if (cap > limit) cap = limit;
    void **e = realloc(t->elems, (size_t)cap * sizeof(void *));
    if (!e) return -1;
    t->elems = e;
    t->capacity = (uint32_t)cap;
  }
  for (uint64_t i = old; i < want; i++) t->elems[i] = init;
  t->size = (uint32_t)want;
  return old;
}

__attribute__((noinline, cold)) wasm_status
wasmi_op_table_copy(wasm_instance *inst, uint32_t dt, uint32_t stab, uint32_t d, uint32_t s, uint32_t n) {
  wasm_table *td = inst->tables[dt], *ts = inst->tables[stab];
  if ((uint64_t)s + n > ts->size || (uint64_t)d + n > td->size) return WASM_TRAP_TABLE_OOB;
  if (n) memmove(td->elems + d, ts->elems + s, (size_t)n * sizeof(void *));
  return WASM_OK;
}

__attribute__((noinline, cold)) wasm_status
wasmi_op_table_fill(wasm_instance *inst, uint32_t tab, uint32_t i, void *v, uint32_t n) {
  wasm_table *t = inst->tables[tab];
  if ((uint64_t)i + n > t->size) return WASM_TRAP_TABLE_OOB;
  for (uint32_t k = 0; k < n; k++) t->elems[i + k] = v;
  return WASM_OK;
}

/* ---- The interpreter loop -------------------------------------------------- */

/* Set once by run(NULL, ...); modules may be compiled on several threads. */
static const void *const *_Atomic g_labels;

#define A(k) (((const uint32_t *)(ip + 1))[k])
#define DISPATCH goto *ip->h
#define NEXT(n) do { ip += (n); goto *ip->h; } while (0)
#define GET_I32(s) ((uint32_t)fp[s])
#define GET_I64(s) (fp[s])
#define GET_F32(s) f32_of(fp[s])
#define GET_F64(s) f64_of(fp[s])
#define PUT_I32(s, v) (fp[s] = (uint32_t)(v))
#define PUT_I64(s, v) (fp[s] = (uint64_t)(v))
#define PUT_F32(s, v) (fp[s] = of_f32(v))
#define PUT_F64(s, v) (fp[s] = of_f64(v))
#define IMM_I32 A(2)
#define IMM_I64 ip[2].u
#define CHECK_INTERRUPT() do { \
    if (WASM_UNLIKELY(atomic_load_explicit(&inst->interrupted, memory_order_relaxed))) \
      TRAP(INTERRUPTED); } while (0)

#if WASM_HAVE_SIMD
typedef wasm_v128 V128_T;
static inline wasm_v128 v128_of(const uint64_t *p) { wasm_v128 v; memcpy(&v, p, 16); return v; }
#define GET_V128(s) v128_of(&fp[s])
#define PUT_V128(s, v) do { wasm_v128 v_ = (v); memcpy(&fp[s], &v_, 16); } while (0)
#endif

/* Switches the hot state to another instance (cross-instance calls). */
#define SWITCH_INST(ni) do { \
    inst = (ni); c->cur_inst = inst; \
    mem = inst->mem_base; globals = inst->globals; funcs = inst->funcs; \
    if (inst->memory) { c->tp->mem_lo = inst->memory->base; \
      c->tp->mem_hi = inst->memory->base + inst->memory->reserved; } \
    else { c->tp->mem_lo = NULL; c->tp->mem_hi = NULL; } } while (0)

/* Zeroes the declared locals that may be read before written (often none:
 * compile.c proves most are written first). Usually a handful: the empty asm
 * keeps the compilers from turning the loop into a memset call. */
#define ZERO_LOCALS(gc) do { \
    for (uint32_t i_ = (gc)->zero_lo; i_ < (gc)->zero_hi; i_++) { \
      fp[i_] = 0; __asm__ volatile(""); } } while (0)

/* Enters compiled code gc with frame nfp; `len` is the call instruction
 * size. The callee's instance is switched to by the caller. `zero_` zeroes
 * the callee's locals (left out where compile.c knows there are none). */
#define ENTER_(gc, nfp, len, switch_, zero_) do { \
    const struct wasm_code *gc_ = (gc); \
    if (WASM_UNLIKELY((nfp) + gc_->frame_slots > stack_limit || csp >= cs_limit)) \
      TRAP(STACK_EXHAUSTED); \
    CHECK_INTERRUPT(); \
    csp->ret = ip + (len); csp->fp = fp; \
    switch_; \
    csp++; \
    fp = (nfp); \
    zero_; \
    ip = gc_->cells; DISPATCH; } while (0)
#define ENTER(gc, nfp, len, switch_) ENTER_(gc, nfp, len, switch_, ZERO_LOCALS(gc_))

/* Calls the function value g (wasm or host) with frame nfp. */
#define DO_CALL(g, nfp, len) do { \
    if (WASM_LIKELY((g)->code != NULL)) { \
      ENTER((g)->code, nfp, len, if (WASM_UNLIKELY((g)->inst != inst)) { \
          csp->ret2 = csp->ret; csp->ret = &restore_cell; csp->inst = inst; \
          SWITCH_INST((g)->inst); }); \
    } else { \
      const wasm_functype *ft_ = (g)->type; \
      uint32_t n_ = ft_->param_slots > ft_->result_slots ? ft_->param_slots : ft_->result_slots; \
      if (WASM_UNLIKELY((nfp) + n_ > stack_limit)) TRAP(STACK_EXHAUSTED); \
      t_top = (nfp) + n_; t_csp = csp; \
      st = (g)->host(inst, (g)->host_env, (nfp)); \
      if (WASM_UNLIKELY(st != WASM_OK)) { c->host_inst = inst; goto trap; } \
      CHECK_INTERRUPT(); \
      NEXT(len); \
    } } while (0)

/* Runs `f` (a wasm function) with its frame at fp until it returns. With
 * c == NULL only publishes the handler table. */
static wasm_status run(ictx *c, wasm_func *f, uint64_t *fp) {
  static const void *const labels[] = {
#define IOP_X(n) &&L_##n,
#include "iops.inc"
#undef IOP_X
  };
  _Static_assert(sizeof labels / sizeof labels[0] == WASM_IOP_COUNT, "label table");
  if (!c) { atomic_store_explicit(&g_labels, labels, memory_order_release); return WASM_OK; }

  wasm_instance *inst = f->inst;
  uint8_t *mem = inst->mem_base;
  wasm_global **globals = inst->globals;
  wasm_func **funcs = inst->funcs;
  cframe *csp = c->cs_base;
  cframe *const cs_limit = c->cs_limit;
  uint64_t *const stack_limit = c->stack_limit;
  const wasm_cell *ip = f->code->cells;
  wasm_status st;
  /* The sentinel (slot reserved by wasmi_interp_invoke below cs_base). */
  const wasm_cell exit_cell = { .h = &&L_EXIT_RUN };
  const wasm_cell restore_cell = { .h = &&L_RESTORE_INST };
  csp[-1].ret = &exit_cell; csp[-1].fp = fp;
  ZERO_LOCALS(f->code);
  DISPATCH;

  /* Generated numeric handlers: unary (dst, a) 2 cells; binary (dst, a, b)
   * 3 cells; binary with immediate (dst, a, imm) 3 cells. */
#define H_NUM(name, code_, text, kind, res, p1, p2, p3, lanes) H_##kind(name, res, p1, p2)
#define H_SPECIAL(name, res, p1, p2)
#define H_NUMERIC(name, res, p1, p2) HN_##p2(name, res, p1)
#define HN_NONE(name, res, p1) \
  L_##name: { p1##_T a = GET_##p1(A(1)); res##_T r; OPS_##name(r, a); PUT_##res(A(0), r); NEXT(2); }
#define HN_I32(name, res, p1) HB_##p1(name, res, I32)
#define HN_I64(name, res, p1) HB_##p1(name, res, I64)
#define HN_F32(name, res, p1) HB_F(name, res, F32)
#define HN_F64(name, res, p1) HB_F(name, res, F64)
#define HB_F(name, res, T) \
  L_##name: { T##_T a = GET_##T(A(1)), b = GET_##T(A(2)); res##_T r; OPS_##name(r, a, b); \
    PUT_##res(A(0), r); NEXT(3); }
#define HB_I32(name, res, T) HB_F(name, res, T) \
  L_##name##_I: { T##_T a = GET_##T(A(1)), b = IMM_##T; res##_T r; OPS_##name(r, a, b); \
    PUT_##res(A(0), r); NEXT(3); }
#define HB_I64 HB_I32
  /* Loads: dst, addr, offset; stores: addr, value, offset. The _A forms
   * take (addr slot, imm, offset) and add imm modulo 2^32 first. */
#define H_LOAD(name, res, p1, p2) \
  L_##name: { c->mem_ip = ip; PUT_I64(A(0), LDX_##name(EA(A(1), A(2)))); NEXT(3); } \
  L_##name##_A: { c->mem_ip = ip; PUT_I64(A(0), LDX_##name(EAI(A(1), A(2), A(3)))); NEXT(3); } \
  L_##name##_X: { c->mem_ip = ip; PUT_I64(A(0), LDX_##name(EAX(A(1), A(2), A(3)))); NEXT(3); }
#define H_STORE(name, res, p1, p2) \
  L_##name: { c->mem_ip = ip; STX_##name(EA(A(0), A(2)), fp[A(1)]); NEXT(3); } \
  L_##name##_A: { c->mem_ip = ip; STX_##name(EAI(A(0), A(2), A(3)), fp[A(1)]); NEXT(3); } \
  L_##name##_X: { c->mem_ip = ip; STX_##name(EAX(A(0), A(2), A(3)), fp[A(1)]); NEXT(3); }
#define WASM_OP H_NUM
#define WASM_OP_FC H_NUM
#include "opcodes.def"

#if WASM_HAVE_SIMD
  /* SIMD handlers from simd_ops.h (see its contract). */
#define S_NUM(name, code_, text, kind, res, p1, p2, p3, lanes) S_##kind(name, res, p1, p2, p3)
#define S_SPECIAL(name, res, p1, p2, p3)
#define S_NUMERIC(name, res, p1, p2, p3) SN_##p3(name, res, p1, p2)
#define SN_V128(name, res, p1, p2) \
  L_##name: { PUT_##res(A(0), wasm_simd_##name(GET_##p1(A(1)), GET_##p2(A(2)), GET_V128(A(3)))); NEXT(3); }
#define SN_NONE(name, res, p1, p2) SB_##p2(name, res, p1, p2)
#define SB_NONE(name, res, p1, p2) \
  L_##name: { PUT_##res(A(0), wasm_simd_##name(GET_##p1(A(1)))); NEXT(2); }
#define SB_V128(name, res, p1, p2) \
  L_##name: { PUT_##res(A(0), wasm_simd_##name(GET_##p1(A(1)), GET_##p2(A(2)))); NEXT(3); }
#define SB_I32 SB_V128
#define S_LOAD(name, res, p1, p2, p3) \
  L_##name: { c->mem_ip = ip; PUT_V128(A(0), wasm_simd_##name(EA(A(1), A(2)))); NEXT(3); } \
  L_##name##_A: { c->mem_ip = ip; PUT_V128(A(0), wasm_simd_##name(EAI(A(1), A(2), A(3)))); NEXT(3); } \
  L_##name##_X: { c->mem_ip = ip; PUT_V128(A(0), wasm_simd_##name(EAX(A(1), A(2), A(3)))); NEXT(3); }
#define S_STORE(name, res, p1, p2, p3) \
  L_##name: { c->mem_ip = ip; wasm_simd_##name(EA(A(0), A(2)), GET_V128(A(1))); NEXT(3); } \
  L_##name##_A: { c->mem_ip = ip; wasm_simd_##name(EAI(A(0), A(2), A(3)), GET_V128(A(1))); NEXT(3); } \
  L_##name##_X: { c->mem_ip = ip; wasm_simd_##name(EAX(A(0), A(2), A(3)), GET_V128(A(1))); NEXT(3); }
#define S_EXTRACT_LANE(name, res, p1, p2, p3) \
  L_##name: { PUT_##res(A(0), wasm_simd_##name(GET_V128(A(1)), (int)A(2))); NEXT(3); }
#define S_REPLACE_LANE(name, res, p1, p2, p3) \
  L_##name: { PUT_V128(A(0), wasm_simd_##name(GET_V128(A(1)), GET_##p2(A(2)), (int)A(3))); NEXT(3); }
  /* load lane: dst, addr, v, lane, offset (4 cells) */
#define S_LOAD_LANE(name, res, p1, p2, p3) \
  L_##name: { c->mem_ip = ip; \
    PUT_V128(A(0), wasm_simd_##name(EA(A(1), A(4)), GET_V128(A(2)), (int)A(3))); NEXT(4); }
  /* store lane: addr, v, lane, offset (3 cells) */
#define S_STORE_LANE(name, res, p1, p2, p3) \
  L_##name: { c->mem_ip = ip; wasm_simd_##name(EA(A(0), A(3)), GET_V128(A(1)), (int)A(2)); NEXT(3); }
#define WASM_OP_FD S_NUM
#include "opcodes.def"
  /* shuffle: dst, a, b, pad; lanes in cells 3..4 */
  L_SHUFFLE: {
    PUT_V128(A(0), wasm_simd_I8X16_SHUFFLE(GET_V128(A(1)), GET_V128(A(2)), (const uint8_t *)(ip + 3)));
    NEXT(5);
  }
#else
  L_SHUFFLE: TRAP(UNREACHABLE);
#endif

  /* i32 compare + branch: a, b|imm; target in cell 2. _L variants are loop
   * back-edges and poll the interrupt flag. */
#define H_BRCMP(n, op, T) \
  L_BR_##n: if ((T)fp[A(0)] op (T)fp[A(1)]) { ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BR_##n##_I: if ((T)fp[A(0)] op (T)A(1)) { ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BR_##n##_L: if ((T)fp[A(0)] op (T)fp[A(1)]) { CHECK_INTERRUPT(); ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BR_##n##_I_L: if ((T)fp[A(0)] op (T)A(1)) { CHECK_INTERRUPT(); ip = ip[2].t; DISPATCH; } NEXT(3);
  WASM_BRCMP_LIST(H_BRCMP)

  /* i64: a, b; target in cell 2 — or a; imm64 in cell 2; target in cell 3. */
#define H_BRCMP64(n, op, T) \
  L_BR64_##n: if ((T)fp[A(0)] op (T)fp[A(1)]) { ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BR64_##n##_I: if ((T)fp[A(0)] op (T)ip[2].u) { ip = ip[3].t; DISPATCH; } NEXT(4); \
  L_BR64_##n##_L: if ((T)fp[A(0)] op (T)fp[A(1)]) { CHECK_INTERRUPT(); ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BR64_##n##_I_L: if ((T)fp[A(0)] op (T)ip[2].u) { CHECK_INTERRUPT(); ip = ip[3].t; DISPATCH; } NEXT(4);
  WASM_BRCMP64_LIST(H_BRCMP64)

  /* Counter increment + loop back-edge: x, y, k, n|imm; target in cell 3.
   * fp[x] = fp[y] + k, then n is read (it may be x itself). */
#define H_BRINC(n, op, T) \
  L_BRINC_##n: { uint32_t v_ = (uint32_t)fp[A(1)] + A(2); fp[A(0)] = v_; \
    if ((T)v_ op (T)fp[A(3)]) { CHECK_INTERRUPT(); ip = ip[3].t; DISPATCH; } NEXT(4); } \
  L_BRINC_##n##_I: { uint32_t v_ = (uint32_t)fp[A(1)] + A(2); fp[A(0)] = v_; \
    if ((T)v_ op (T)A(3)) { CHECK_INTERRUPT(); ip = ip[3].t; DISPATCH; } NEXT(4); }
  WASM_BRCMP_LIST(H_BRINC)

  /* Load + compare-branch: dst, addr, offset, b|imm; target in cell 3. A
   * memory trap names the first cell, an interrupt the second (compile.c
   * maps them to the load's and the branch's offsets). */
#define BRLD_INTR() do { \
    if (WASM_UNLIKELY(atomic_load_explicit(&inst->interrupted, memory_order_relaxed))) { \
      ip++; TRAP(INTERRUPTED); } } while (0)
#define H_BRLD(n, op, T) \
  L_BRLD_##n: { c->mem_ip = ip; uint32_t v_ = LD(uint32_t, EA(A(1), A(2))); fp[A(0)] = v_; \
    if ((T)v_ op (T)fp[A(3)]) { ip = ip[3].t; DISPATCH; } NEXT(4); } \
  L_BRLD_##n##_I: { c->mem_ip = ip; uint32_t v_ = LD(uint32_t, EA(A(1), A(2))); fp[A(0)] = v_; \
    if ((T)v_ op (T)A(3)) { ip = ip[3].t; DISPATCH; } NEXT(4); } \
  L_BRLD_##n##_L: { c->mem_ip = ip; uint32_t v_ = LD(uint32_t, EA(A(1), A(2))); fp[A(0)] = v_; \
    if ((T)v_ op (T)fp[A(3)]) { BRLD_INTR(); ip = ip[3].t; DISPATCH; } NEXT(4); } \
  L_BRLD_##n##_I_L: { c->mem_ip = ip; uint32_t v_ = LD(uint32_t, EA(A(1), A(2))); fp[A(0)] = v_; \
    if ((T)v_ op (T)A(3)) { BRLD_INTR(); ip = ip[3].t; DISPATCH; } NEXT(4); }
  WASM_BRCMP_LIST(H_BRLD)

  /* float: a, b; target in cell 2; _N branches when the compare is false. */
#define H_BRF(n, op, T) \
  L_BRF_##n: if (GET_##T(A(0)) op GET_##T(A(1))) { ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BRF_##n##_N: if (!(GET_##T(A(0)) op GET_##T(A(1)))) { ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BRF_##n##_L: if (GET_##T(A(0)) op GET_##T(A(1))) { CHECK_INTERRUPT(); ip = ip[2].t; DISPATCH; } NEXT(3); \
  L_BRF_##n##_N_L: if (!(GET_##T(A(0)) op GET_##T(A(1)))) { CHECK_INTERRUPT(); ip = ip[2].t; DISPATCH; } NEXT(3);
  WASM_BRF_LIST(H_BRF)

  /* select on an i32 compare: dst, a, b, x, y|imm (4 cells). */
#define H_SELCMP(n, op, T) \
  L_SEL_##n: fp[A(0)] = ((T)fp[A(3)] op (T)fp[A(4)]) ? fp[A(1)] : fp[A(2)]; NEXT(4); \
  L_SEL_##n##_I: fp[A(0)] = ((T)fp[A(3)] op (T)A(4)) ? fp[A(1)] : fp[A(2)]; NEXT(4);
  WASM_BRCMP_LIST(H_SELCMP)

  /* Load-op: dst, a, addr, offset — dst = a OP load(addr + offset). _LDA:
   * dst, a, addr, imm — the address is (u32)(addr + imm) (offset 0). _RMW:
   * addr, a, offset — the result goes back to the loaded address. The load
   * is the only thing that can trap, so mem_ip names it (compile.c maps the
   * fused cell to the load's wasm offset). */
#define LDV_I32(p) LD(uint32_t, p)
#define LDV_I64(p) LD(uint64_t, p)
#define LDV_F32(p) fbits32(LD(uint32_t, p))
#define LDV_F64(p) fbits64(LD(uint64_t, p))
#define STV_I32(p, v) ST(uint32_t, p, v)
#define STV_I64(p, v) ST(uint64_t, p, v)
#define STV_F32(p, v) ST(uint32_t, p, bits32(v))
#define STV_F64(p, v) ST(uint64_t, p, bits64(v))
#define H_LDOP(n, T) \
  L_##n##_LD: { c->mem_ip = ip; T##_T a = GET_##T(A(1)), b = LDV_##T(EA(A(2), A(3))); T##_T r; \
    OPS_##n(r, a, b); PUT_##T(A(0), r); NEXT(3); } \
  L_##n##_LDA: { c->mem_ip = ip; T##_T a = GET_##T(A(1)), b = LDV_##T(EAI(A(2), A(3), 0)); T##_T r; \
    OPS_##n(r, a, b); PUT_##T(A(0), r); NEXT(3); } \
  L_##n##_RMW: { c->mem_ip = ip; uint8_t *p_ = EA(A(0), A(2)); \
    T##_T a = GET_##T(A(1)), b = LDV_##T(p_); T##_T r; OPS_##n(r, a, b); STV_##T(p_, r); NEXT(3); }
  WASM_LDOP_LIST(H_LDOP)

  /* y[i] += a * x[i] (axpy, the inner loop of most dense linear algebra):
   * p, a, q, k, offset_p — mem[p + offset_p] = fp[a] * load(x) + mem[p + offset_p]
   * with x = q + k (_A: (u32)(q + k)); two roundings as in the wasm ops. A
   * trap in the second load names the instruction's second cell, which the
   * pc map gives that load's wasm offset. */
#define H_AXPY(T, EAQ) { c->mem_ip = ip; T##_T m = GET_##T(A(1)) * LDV_##T(EAQ); \
    __asm__ volatile("" ::: "memory");   /* the first load stays before ip + 1 */ \
    c->mem_ip = ip + 1; uint8_t *p_ = EA(A(0), A(4)); STV_##T(p_, m + LDV_##T(p_)); NEXT(4); }
  L_F32_AXPY: H_AXPY(F32, EA(A(2), A(3)))
  L_F32_AXPY_A: H_AXPY(F32, EAI(A(2), A(3), 0))
  L_F64_AXPY: H_AXPY(F64, EA(A(2), A(3)))
  L_F64_AXPY_A: H_AXPY(F64, EAI(A(2), A(3), 0))

  /* Shift-op: dst, a, x, k — dst = a OP shift(x, k). */
#define SHV_ROTL(x, k) rotl32(x, k)
#define SHV_SHR_U(x, k) ((x) >> ((k) & 31))
#define SHV_SHL(x, k) ((x) << ((k) & 31))
#define H_SHOP(n, op, sh) \
  L_##n##_##sh: PUT_I32(A(0), GET_I32(A(1)) op SHV_##sh(GET_I32(A(2)), A(3))); NEXT(3);
  WASM_SHOP_LIST(H_SHOP)

  L_UNREACHABLE: TRAP(UNREACHABLE);
  L_MOV: fp[A(0)] = fp[A(1)]; NEXT(2);                     /* dst, src */
  L_MOV2: fp[A(0)] = fp[A(1)]; fp[A(0) + 1] = fp[A(1) + 1]; NEXT(2);
  /* dst, x, y, z: x + y + z (sums of several terms: hashes, checksums). */
  L_I32_ADD3: PUT_I32(A(0), GET_I32(A(1)) + GET_I32(A(2)) + GET_I32(A(3))); NEXT(3);
  /* dst, a, x: a & ~x (`x ^ -1` feeding an and). */
  L_I32_ANDN: PUT_I32(A(0), GET_I32(A(1)) & ~GET_I32(A(2))); NEXT(3);
  /* Two i32 adds in a row (address and counter updates come in pairs):
   * d2, a2, b2, d1, a1, b1 — fp[d1] = fp[a1] + b1 first, then fp[d2] =
   * fp[a2] + b2; _I: b2 is an immediate, _IX: b1 is, _II: both are. The
   * second result comes first so that local.set can retarget it. */
#define H_ADDP(B1, B2) { uint32_t v_ = GET_I32(A(4)) + (B1); PUT_I32(A(3), v_); \
    PUT_I32(A(0), GET_I32(A(1)) + (B2)); NEXT(4); }
  L_I32_ADDP: H_ADDP(GET_I32(A(5)), GET_I32(A(2)))
  L_I32_ADDP_I: H_ADDP(GET_I32(A(5)), A(2))
  L_I32_ADDP_IX: H_ADDP(A(5), GET_I32(A(2)))
  L_I32_ADDP_II: H_ADDP(A(5), A(2))
  /* Two one-cell moves in order (copies of loop-carried locals come in runs). */
  L_MOVP: fp[A(0)] = fp[A(1)]; fp[A(2)] = fp[A(3)]; NEXT(3);
  /* dst, x, y, z: dst = x * y + z with the product rounded first (the
   * pair of wasm instructions; ISO C mode keeps the compiler from fusing). */
  L_F32_MULADD: { float p = GET_F32(A(1)) * GET_F32(A(2)); PUT_F32(A(0), p + GET_F32(A(3))); NEXT(3); }
  L_F64_MULADD: { double p = GET_F64(A(1)) * GET_F64(A(2)); PUT_F64(A(0), p + GET_F64(A(3))); NEXT(3); }
  L_MOVN: {                                                /* n; n cells (dst, src) */
    uint32_t n = A(0);
    const wasm_cell *p = ip + 2;
    for (uint32_t i = 0; i < n; i++) fp[p[i].a[0]] = fp[p[i].a[1]];
    NEXT(2 + n);
  }
  L_CONST: fp[A(0)] = ip[2].u; NEXT(3);                    /* dst; imm64 */
  L_CONST2: fp[A(0)] = ip[2].u; fp[A(0) + 1] = ip[3].u; NEXT(4);
  L_BR: ip = ip[1].t; DISPATCH;                            /* target */
  L_BR_L: CHECK_INTERRUPT(); ip = ip[1].t; DISPATCH;
  L_BR_IF: if ((uint32_t)fp[A(0)]) { ip = ip[2].t; DISPATCH; } NEXT(3);   /* cond; target */
  L_BR_IF_L: if ((uint32_t)fp[A(0)]) { CHECK_INTERRUPT(); ip = ip[2].t; DISPATCH; } NEXT(3);
  L_BR_IFNOT: if (!(uint32_t)fp[A(0)]) { ip = ip[2].t; DISPATCH; } NEXT(3);
  L_BR_IFNOT_L: if (!(uint32_t)fp[A(0)]) { CHECK_INTERRUPT(); ip = ip[2].t; DISPATCH; } NEXT(3);
  L_BR_TABLE: {                                            /* idx, n; n+1 targets */
    uint32_t i = (uint32_t)fp[A(0)], n = A(1);
    ip = ip[2 + (i < n ? i : n)].t;
    DISPATCH;
  }
  L_RETURN1:                                               /* src */
    fp[0] = fp[A(0)];
    /* fall through */
  L_RETURN:
    --csp;
    ip = csp->ret; fp = csp->fp;
    DISPATCH;
  L_RESTORE_INST:                   /* return from a cross-instance call */
    ip = csp->ret2;                 /* csp still names the popped frame */
    SWITCH_INST(csp->inst);
    DISPATCH;
  L_EXIT_RUN:                       /* returned through the sentinel */
    return WASM_OK;
  L_CALL_DIRECT:                                           /* base, func; code */
    ENTER((const struct wasm_code *)ip[2].h, fp + A(0), 3, (void)0);
  L_CALL_DIRECT_NZ: {                                      /* base, frame slots; cells */
    uint64_t *nfp = fp + A(0);
    if (WASM_UNLIKELY(nfp + A(1) > stack_limit || csp >= cs_limit)) TRAP(STACK_EXHAUSTED);
    CHECK_INTERRUPT();
    csp->ret = ip + 3; csp->fp = fp; csp++;
    fp = nfp;
    ip = ip[2].t; DISPATCH;
  }
  L_CALL: {                                                /* base, funcidx */
    wasm_func *g = funcs[A(1)];
    uint64_t *nfp = fp + A(0);
    DO_CALL(g, nfp, 2);
  }
  L_CALL_INDIRECT: {                                       /* base, type, table, idx */
    wasm_table *t = inst->tables[A(2)];
    uint32_t i = (uint32_t)fp[A(3)];
    if (WASM_UNLIKELY(i >= t->size)) TRAP(UNDEFINED_ELEM);
    wasm_func *g = t->elems[i];
    if (WASM_UNLIKELY(!g)) TRAP(UNINIT_ELEM);
    const wasm_functype *want = inst->types[A(1)];
    if (WASM_UNLIKELY(g->type != want && !wasm_functype_equal(g->type, want))) TRAP(INDIRECT_TYPE);
    uint64_t *nfp = fp + A(0);
    DO_CALL(g, nfp, 3);
  }
  L_SELECT:                                                /* dst, a, b, cond */
    fp[A(0)] = (uint32_t)fp[A(3)] ? fp[A(1)] : fp[A(2)]; NEXT(3);
  L_SELECT2: {
    uint32_t s = (uint32_t)fp[A(3)] ? A(1) : A(2);
    fp[A(0)] = fp[s]; fp[A(0) + 1] = fp[s + 1]; NEXT(3);
  }
  L_GLOBAL_GET: fp[A(0)] = globals[A(1)]->val[0]; NEXT(2);   /* dst, g */
  L_GLOBAL_GET2: { wasm_global *g = globals[A(1)];
    fp[A(0)] = g->val[0]; fp[A(0) + 1] = g->val[1]; NEXT(2); }
  L_GLOBAL_SET: globals[A(0)]->val[0] = fp[A(1)]; NEXT(2);   /* g, src */
  L_GLOBAL_SET2: { wasm_global *g = globals[A(0)];
    g->val[0] = fp[A(1)]; g->val[1] = fp[A(1) + 1]; NEXT(2); }
  L_MEMORY_SIZE: PUT_I32(A(0), mem_size(inst) / WASM_PAGE_SIZE); NEXT(2);   /* dst */
  L_MEMORY_GROW: {                                         /* dst(=delta) */
    int64_t r = wasm_memory_grow(inst->memory, (uint32_t)fp[A(0)]);
    PUT_I32(A(0), (uint32_t)r);
    NEXT(2);
  }
  L_MEMORY_INIT:                                           /* d, s, n, seg */
    st = wasmi_op_memory_init(inst, A(3), (uint32_t)fp[A(0)], (uint32_t)fp[A(1)], (uint32_t)fp[A(2)]);
    if (st) goto trap;
    NEXT(3);
  L_DATA_DROP: inst->data_dropped[A(0)] = 1; NEXT(2);
  L_MEMORY_COPY:                                           /* d, s, n */
    st = wasmi_op_memory_copy(inst, (uint32_t)fp[A(0)], (uint32_t)fp[A(1)], (uint32_t)fp[A(2)]);
    if (st) goto trap;
    NEXT(3);
  L_MEMORY_FILL:                                           /* d, val, n */
    st = wasmi_op_memory_fill(inst, (uint32_t)fp[A(0)], (uint32_t)fp[A(1)], (uint32_t)fp[A(2)]);
    if (st) goto trap;
    NEXT(3);
  L_TABLE_GET: {                                           /* dst(=idx), table */
    wasm_table *t = inst->tables[A(1)];
    uint32_t i = (uint32_t)fp[A(0)];
    if (WASM_UNLIKELY(i >= t->size)) TRAP(TABLE_OOB);
    fp[A(0)] = (uint64_t)(uintptr_t)t->elems[i];
    NEXT(2);
  }
  L_TABLE_SET: {                                           /* idx, val, table */
    wasm_table *t = inst->tables[A(2)];
    uint32_t i = (uint32_t)fp[A(0)];
    if (WASM_UNLIKELY(i >= t->size)) TRAP(TABLE_OOB);
    t->elems[i] = (void *)(uintptr_t)fp[A(1)];
    NEXT(3);
  }
  L_TABLE_INIT:                                            /* d, s, n, seg, table */
    st = wasmi_op_table_init(inst, A(4), A(3), (uint32_t)fp[A(0)], (uint32_t)fp[A(1)], (uint32_t)fp[A(2)]);
    if (st) goto trap;
    NEXT(4);
  L_ELEM_DROP: inst->elem_dropped[A(0)] = 1; NEXT(2);
  L_TABLE_COPY:                                            /* d, s, n, dst table, src table */
    st = wasmi_op_table_copy(inst, A(3), A(4), (uint32_t)fp[A(0)], (uint32_t)fp[A(1)], (uint32_t)fp[A(2)]);
    if (st) goto trap;
    NEXT(4);
  L_TABLE_GROW: {                                          /* dst(=init), n, table */
    int64_t r = wasmi_table_grow(inst->tables[A(2)], (uint32_t)fp[A(1)], (void *)(uintptr_t)fp[A(0)]);
    PUT_I32(A(0), (uint32_t)r);
    NEXT(3);
  }
  L_TABLE_SIZE: PUT_I32(A(0), inst->tables[A(1)]->size); NEXT(2);   /* dst, table */
  L_TABLE_FILL:                                            /* i, val, n, table */
    st = wasmi_op_table_fill(inst, A(3), (uint32_t)fp[A(0)], (void *)(uintptr_t)fp[A(1)], (uint32_t)fp[A(2)]);
    if (st) goto trap;
    NEXT(3);
  L_REF_FUNC: fp[A(0)] = (uint64_t)(uintptr_t)funcs[A(1)]; NEXT(2);   /* dst, func */

trap:
  c->trap_ip = ip;
  return st;
}
/* clang-format on */

const void *const *wasmi_interp_labels(void) {
  const void *const *l = atomic_load_explicit(&g_labels, memory_order_acquire);
  if (!l) {
    run(NULL, NULL, NULL);
    l = atomic_load_explicit(&g_labels, memory_order_acquire);
  }
  return l;
}

/* ---- Entry from the embedder ----------------------------------------------- */

/* Byte offset of the wasm instruction that produced cell `ip` of `code`. */
static uint32_t pc_offset(const struct wasm_code *code, const wasm_cell *ip) {
  if (!code || !ip || !code->npc) return UINT32_MAX;
  uint32_t idx = (uint32_t)(ip - code->cells);
  if (idx >= code->ncells) return UINT32_MAX;
  uint32_t lo = 0, hi = code->npc; /* last entry with cell <= idx */
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (code->pc_map[2 * mid] <= idx) lo = mid;
    else hi = mid;
  }
  return code->pc_map[2 * lo] <= idx ? code->pc_map[2 * lo + 1] : UINT32_MAX;
}

static void fill_trap(wasm_error *err, wasm_status st, wasm_instance *inst,
                      const struct wasm_code *code, const wasm_cell *ip, wasm_instance *host_inst) {
  if (!err) return;
  uint32_t idx = code ? code->func_index : UINT32_MAX;
  uint32_t off = code ? pc_offset(code, ip) : UINT32_MAX;
  char label[128] = "";
  if (code && inst) wasmi_func_label(inst->module, idx, label, sizeof label);
  const char *detail = "";
  if (host_inst && host_inst->trap_msg[0]) detail = host_inst->trap_msg;
  if (host_inst) err->exit_code = host_inst->exit_code;
  char where[64] = "";
  if (off != UINT32_MAX) snprintf(where, sizeof where, " at 0x%x", off);
  if (code && inst)
    wasmi_error_set(err, st, idx, off, "trap: %s%s%s in %s%s", wasm_status_str(st),
                    detail[0] ? ": " : "", detail, label, where);
  else
    wasmi_error_set(err, st, idx, off, "trap: %s%s%s", wasm_status_str(st), detail[0] ? ": " : "",
                    detail);
  if (host_inst) err->exit_code = host_inst->exit_code;
}

wasm_status wasmi_interp_invoke(wasm_func *f, wasm_slot *slots, wasm_error *err) {
  const wasm_functype *ft = f->type;
  if (!f->code) {
    if (!f->host)
      return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "function has no body");
    wasm_status st = f->host(NULL, f->host_env, slots);
    if (st != WASM_OK) fill_trap(err, st, NULL, NULL, NULL, NULL);
    return st;
  }
  if (f->inst->aot_ctx) return wasmi_aot_invoke(f, slots, err);
  wasmi_trap_thread_init();
  if (!thread_stacks())
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX,
                           "cannot map the wasm stack");
  wasm_instance *inst = f->inst;
  const struct wasm_code *code = f->code;

  uint64_t *saved_top = t_top;
  cframe *saved_csp = t_csp;
  uint64_t *fp = t_top;
  size_t want = inst->opts.stack_slots ? inst->opts.stack_slots : STACK_SLOTS_ALLOC;
  uint64_t *limit =
      (size_t)(t_stack + STACK_SLOTS_ALLOC - fp) < want ? t_stack + STACK_SLOTS_ALLOC : fp + want;
  size_t depth = inst->opts.max_call_depth ? inst->opts.max_call_depth : 10000;
  /* t_csp holds this entry's sentinel; real frames start above it. */
  cframe *cs_base = t_csp + 1, *cs_end = t_cs_end + t_nest + 1;
  cframe *cs_limit = (size_t)(cs_end - cs_base) < depth ? cs_end : cs_base + depth;
  if (fp + code->frame_slots > limit || t_nest >= MAX_NEST || cs_base >= cs_limit)
    return fill_trap(err, WASM_TRAP_STACK_EXHAUSTED, inst, code, NULL, NULL),
           WASM_TRAP_STACK_EXHAUSTED;
  if (atomic_load_explicit(&inst->interrupted, memory_order_relaxed)) {
    fill_trap(err, WASM_TRAP_INTERRUPTED, inst, code, NULL, NULL);
    return WASM_TRAP_INTERRUPTED;
  }
  memcpy(fp, slots, (size_t)ft->param_slots * sizeof(uint64_t));

  wasm_trap_point tp;
  wasmi_trap_point_init(&tp, inst);
  ictx c;
  c.cur_inst = inst;
  c.mem_ip = NULL;
  c.stack_limit = limit;
  c.cs_base = cs_base;
  c.cs_limit = cs_limit;
  c.tp = &tp;
  c.trap_ip = NULL;
  c.host_inst = NULL;
  t_top = fp + code->frame_slots;

  wasm_status st;
  wasmi_tls_trap_point = &tp;
  t_nest++;
  /* No signal mask save (a syscall): memory.c installs its handler with
   * SA_NODEFER and an empty sa_mask, so leaving it by siglongjmp leaves
   * nothing blocked. */
  int sig = sigsetjmp(tp.jb, 0);
  if (sig == 0) {
    st = run(&c, f, fp);
  } else {
    st = (wasm_status)sig;
    c.trap_ip = c.mem_ip;
  }
  wasmi_tls_trap_point = tp.prev;
  t_nest--;
  t_top = saved_top;
  t_csp = saved_csp;

  if (WASM_LIKELY(st == WASM_OK)) {
    memcpy(slots, fp, (size_t)ft->result_slots * sizeof(uint64_t));
    return WASM_OK;
  }
  /* The trapping function is the body whose code holds the trap ip. */
  wasm_instance *ti = c.cur_inst;
  const wasm_cell *tip = c.trap_ip;
  const struct wasm_code *tc = NULL;
  const wasm_module *tm = ti->module;
  for (uint32_t i = 0; tip && i < tm->nfuncs - tm->nfunc_imports; i++) {
    const struct wasm_code *k = tm->bodies[i].compiled;
    if (k && tip >= k->cells && tip < k->cells + k->ncells) {
      tc = k;
      break;
    }
  }
  fill_trap(err, st, ti, tc, tip, c.host_inst);
  return st;
}
