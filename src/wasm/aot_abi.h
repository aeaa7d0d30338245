/* aot_abi.h — the contract between the engine and the C that the AOT
 * translator (aot_gen.c) writes for a module. wagi embeds this file,
 * numops.h and simd_ops.h and puts them beside every generated file when it
 * compiles one, so generated code needs nothing else installed but libc,
 * libm and (for SIMD) SIMDe's headers.
 *
 * The generated file defines, for a module with N defined functions:
 *   - one C function per wasm function (parameters and locals as C
 *     variables; the wasm operand stack as C variables too),
 *   - one entry per defined function with the uniform signature
 *     wagi_aot_entry: arguments in slots[0..param_slots), results written
 *     back to slots[0..result_slots) (the interpreter's slot layout: i32
 *     zero-extended, f32/f64 as their bits, v128 in two slots, references as
 *     pointers),
 *   - the descriptor `const wagi_aot_module wagi_aot_module_v<ABI>` (the
 *     only exported symbol).
 * The engine calls entries only through wasmi_aot_invoke (aot.c), which
 * sets the trap point (sigsetjmp), the native stack floor, the call depth
 * budget and memory fault bounds first, as for the interpreter. Everything
 * that is not straight-line arithmetic goes through `rt`, a table of engine
 * functions (no symbol of the wagi binary is linked: the shared object is
 * self-contained). Any change here bumps WAGI_AOT_ABI. */
#ifndef WAGI_AOT_ABI_H
#define WAGI_AOT_ABI_H

#include <stdatomic.h>
#include <stdint.h>

#define WAGI_AOT_ABI 2

typedef uint64_t wagi_aot_slot;
typedef struct wagi_aot_ctx wagi_aot_ctx;

/* Engine services. Functions returning int return 0 or a wasm_status trap
 * code, which generated code passes to trap(). Table elements and
 * references are `void *` (NULL: null). */
typedef struct wagi_aot_rt {
  /* Ends the current entry with trap `status` (a wasm_status value) at
   * function index `func`, wasm byte offset `offset` (UINT32_MAX: unknown). */
  __attribute__((noreturn)) void (*trap)(wagi_aot_ctx *c, int status, uint32_t func,
                                         uint32_t offset);
  /* Calls function index `func` of this instance (an import: host or
   * another instance's wasm function) with the slot convention above.
   * Traps propagate (it does not return then). */
  void (*call)(wagi_aot_ctx *c, uint32_t func, wagi_aot_slot *slots);
  /* call_indirect through table `table` at index `elem`, expecting type
   * index `type`; traps (undefined element, null, signature mismatch,
   * and the callee's own traps) name `func`/`offset`, the caller. */
  void (*call_indirect)(wagi_aot_ctx *c, uint32_t table, uint32_t type, uint32_t elem,
                        wagi_aot_slot *slots, uint32_t func, uint32_t offset);
  uint32_t (*memory_size)(wagi_aot_ctx *c);                   /* pages */
  uint32_t (*memory_grow)(wagi_aot_ctx *c, uint32_t delta);   /* old pages or 0xffffffff */
  int (*memory_init)(wagi_aot_ctx *c, uint32_t seg, uint32_t d, uint32_t s, uint32_t n);
  void (*data_drop)(wagi_aot_ctx *c, uint32_t seg);
  int (*memory_copy)(wagi_aot_ctx *c, uint32_t d, uint32_t s, uint32_t n);
  int (*memory_fill)(wagi_aot_ctx *c, uint32_t d, uint32_t v, uint32_t n);
  int (*table_init)(wagi_aot_ctx *c, uint32_t tab, uint32_t seg, uint32_t d, uint32_t s,
                    uint32_t n);
  void (*elem_drop)(wagi_aot_ctx *c, uint32_t seg);
  int (*table_copy)(wagi_aot_ctx *c, uint32_t dst_tab, uint32_t src_tab, uint32_t d, uint32_t s,
                    uint32_t n);
  uint32_t (*table_grow)(wagi_aot_ctx *c, uint32_t tab, void *init, uint32_t n); /* old or -1 */
  uint32_t (*table_size)(wagi_aot_ctx *c, uint32_t tab);
  int (*table_fill)(wagi_aot_ctx *c, uint32_t tab, uint32_t i, void *v, uint32_t n);
  int (*table_get)(wagi_aot_ctx *c, uint32_t tab, uint32_t i, void **out);
  int (*table_set)(wagi_aot_ctx *c, uint32_t tab, uint32_t i, void *v);
  void *(*ref_func)(wagi_aot_ctx *c, uint32_t func);
  /* The slow path of a function's entry check (ENTER in generated code):
   * traps when `depth` is 0, the instance is interrupted or `frame` is below
   * the native stack floor, and returns otherwise. */
  void (*enter_check)(wagi_aot_ctx *c, uint32_t depth, uint32_t func, const void *frame);
} wagi_aot_rt;

/* Per instance, set up by the engine. Generated code reads mem, globals
 * and limit directly and writes depth; the rest is the engine's.
 *
 * The call depth budget travels in a register: every generated function
 * takes it as its first argument after c and passes one less to its
 * callees. Only calls through rt (imports, call_indirect) store it in
 * `depth`, where the entry of the callee picks it up.
 *
 * `limit` serves two checks with one load: a function whose frame is below
 * it takes the slow path (rt->enter_check), and the engine sets it to
 * UINTPTR_MAX to interrupt the instance, which every function entry and
 * loop back-edge then sees. */
struct wagi_aot_ctx {
  uint8_t *mem;                 /* memory 0's base (never moves); NULL: none */
  wagi_aot_slot *const *globals; /* [nglobals]: each global's cell (v128: 2 slots) */
  _Atomic uintptr_t limit;      /* the native stack floor, or UINTPTR_MAX: interrupted */
  const wagi_aot_rt *rt;
  uint32_t depth;               /* the budget handed to an entry called through rt */
  uint32_t nest_;               /* the engine's */
  void *inst;                   /* the engine's instance: opaque here */
  _Atomic uintptr_t floor_;     /* the engine's: the stack floor limit goes back to */
};

typedef void (*wagi_aot_entry)(wagi_aot_ctx *c, wagi_aot_slot *slots);

typedef struct {
  uint32_t abi;      /* WAGI_AOT_ABI of the translator that wrote it */
  uint32_t nfuncs;   /* defined functions (imports excluded) */
  const wagi_aot_entry *entries; /* [nfuncs], in function index order */
  uint8_t sha256[32];            /* of the wasm binary it was made from */
} wagi_aot_module;

/* The descriptor's symbol name. */
#define WAGI_AOT_SYMBOL_(v) wagi_aot_module_v##v
#define WAGI_AOT_SYMBOL_X_(v) WAGI_AOT_SYMBOL_(v)
#define WAGI_AOT_SYMBOL WAGI_AOT_SYMBOL_X_(WAGI_AOT_ABI)

/* The trap status values generated code uses (wasm.h's wasm_status; the
 * engine asserts at build time that they match). */
#define WAGI_AOT_TRAP_UNREACHABLE 7
#define WAGI_AOT_TRAP_MEM_OOB 8
#define WAGI_AOT_TRAP_DIV_ZERO 9
#define WAGI_AOT_TRAP_INT_OVERFLOW 10
#define WAGI_AOT_TRAP_INVALID_CONVERSION 11
#define WAGI_AOT_TRAP_TABLE_OOB 12
#define WAGI_AOT_TRAP_STACK_EXHAUSTED 16
#define WAGI_AOT_TRAP_INTERRUPTED 17

#endif
