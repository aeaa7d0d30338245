/* code.h — the internal threaded code shared by compile.c and interp.c.
 *
 * A function body is translated once into an array of 8-byte cells. Each
 * instruction starts with a cell holding the address of its handler inside
 * the interpreter loop (direct threading, computed goto); its operands follow
 * as 32-bit frame-slot indices packed two per cell, 64-bit immediates or
 * branch-target pointers. Every wasm operand-stack position has a fixed frame
 * slot, so instructions name slots directly (register-machine style):
 *   frame = [params | locals | operand stack], results written at slot 0.
 */
#ifndef WAGI_WASM_CODE_H
#define WAGI_WASM_CODE_H

#include <stdint.h>

#include "wasm_int.h"

#if defined(__has_include)
#if __has_include("simd_ops.h")
#define WASM_HAVE_SIMD 1
#endif
#endif
#ifndef WASM_HAVE_SIMD
#define WASM_HAVE_SIMD 0
#endif

typedef union wasm_cell {
  const void *h;            /* handler address */
  const union wasm_cell *t; /* branch target */
  uint64_t u;
  uint32_t a[2];
} wasm_cell;

/* Internal opcodes. Numeric ops come from opcodes.def: every NUMERIC op gets
 * a handler of the same name (operands: dst, a[, b[, c]]); i32/i64 binary ops
 * also get NAME_I with an immediate second operand. Loads, stores and lane
 * ops keep their names; loads and stores also get NAME_A whose address is
 * (u32)(slot + imm) (folds an i32.add of a constant into the access) and
 * NAME_X whose address is (u32)(slot + slot). The helper macros below expand to IOP_X(name) which
 * the includer defines before including opcodes.def. */
#define WASM_IOP_NUM_OP(name, code, text, kind, res, p1, p2, p3, lanes)                            \
  WASM_IOPK_##kind(name, p1, p2)
#define WASM_IOPK_SPECIAL(name, p1, p2)
#define WASM_IOPK_NUMERIC(name, p1, p2) WASM_IOPN_##p2(name, p1)
#define WASM_IOPK_LOAD(name, p1, p2) IOP_X(name) IOP_X(name##_A) IOP_X(name##_X)
#define WASM_IOPK_STORE(name, p1, p2) IOP_X(name) IOP_X(name##_A) IOP_X(name##_X)
#define WASM_IOPK_EXTRACT_LANE(name, p1, p2) IOP_X(name)
#define WASM_IOPK_REPLACE_LANE(name, p1, p2) IOP_X(name)
#define WASM_IOPK_LOAD_LANE(name, p1, p2) IOP_X(name)
#define WASM_IOPK_STORE_LANE(name, p1, p2) IOP_X(name)
#define WASM_IOPN_NONE(name, p1) IOP_X(name)
#define WASM_IOPN_I32(name, p1) WASM_IOPB_##p1(name)
#define WASM_IOPN_I64(name, p1) WASM_IOPB_##p1(name)
#define WASM_IOPN_F32(name, p1) IOP_X(name)
#define WASM_IOPN_F64(name, p1) IOP_X(name)
#define WASM_IOPN_V128(name, p1) IOP_X(name)
#define WASM_IOPB_I32(name) IOP_X(name) IOP_X(name##_I)
#define WASM_IOPB_I64(name) IOP_X(name) IOP_X(name##_I)
#define WASM_IOPB_V128(name) IOP_X(name)

/* The X-macro lists below are kept as written: clang-format cannot wrap
 * them without breaking their rows. */
/* clang-format off */
/* i32 compare-and-branch fusions: name, C operator, operand type. */
#define WASM_BRCMP_LIST(X)                                                   \
  X(EQ, ==, uint32_t) X(NE, !=, uint32_t) X(LT_S, <, int32_t)               \
  X(LT_U, <, uint32_t) X(GT_S, >, int32_t) X(GT_U, >, uint32_t)             \
  X(LE_S, <=, int32_t) X(LE_U, <=, uint32_t) X(GE_S, >=, int32_t)           \
  X(GE_U, >=, uint32_t)

/* The same for i64 (BR64_*): the immediate takes a whole cell. */
#define WASM_BRCMP64_LIST(X)                                                 \
  X(EQ, ==, uint64_t) X(NE, !=, uint64_t) X(LT_S, <, int64_t)               \
  X(LT_U, <, uint64_t) X(GT_S, >, int64_t) X(GT_U, >, uint64_t)             \
  X(LE_S, <=, int64_t) X(LE_U, <=, uint64_t) X(GE_S, >=, int64_t)           \
  X(GE_U, >=, uint64_t)

/* Float compare-and-branch: NaN makes "not a < b" differ from "a >= b",
 * so each compare also has a negated form (_N). */
#define WASM_BRF_LIST(X)                                                      \
  X(F32_EQ, ==, F32) X(F32_NE, !=, F32) X(F32_LT, <, F32) X(F32_GT, >, F32)   \
  X(F32_LE, <=, F32) X(F32_GE, >=, F32) X(F64_EQ, ==, F64) X(F64_NE, !=, F64) \
  X(F64_LT, <, F64) X(F64_GT, >, F64) X(F64_LE, <=, F64) X(F64_GE, >=, F64)
#define WASM_BRF_IOPS_(n, op, T) IOP_X(BRF_##n) IOP_X(BRF_##n##_N) IOP_X(BRF_##n##_L) IOP_X(BRF_##n##_N_L)

#define WASM_BRCMP_IOPS(X, n) X(BR_##n) X(BR_##n##_I) X(BR_##n##_L) X(BR_##n##_I_L)
#define WASM_BRCMP_IOPS_(n, op, T) WASM_BRCMP_IOPS(IOP_X, n)
#define WASM_SELCMP_IOPS_(n, op, T) IOP_X(SEL_##n) IOP_X(SEL_##n##_I)
#define WASM_BRCMP64_IOPS_(n, op, T) IOP_X(BR64_##n) IOP_X(BR64_##n##_I) IOP_X(BR64_##n##_L) IOP_X(BR64_##n##_I_L)

/* Binary ops fused with the load that produces their second operand
 * (load-op), and the read-modify-write form where the result is stored back
 * to the same address (`x[i] op= v`): name, operand type. */
#define WASM_LDOP_LIST(X)                                                     \
  X(I32_ADD, I32) X(I32_SUB, I32) X(I32_MUL, I32) X(I32_AND, I32)            \
  X(I32_OR, I32) X(I32_XOR, I32) X(I64_ADD, I64) X(I64_SUB, I64)             \
  X(I64_MUL, I64) X(I64_AND, I64) X(I64_OR, I64) X(I64_XOR, I64)             \
  X(F32_ADD, F32) X(F32_SUB, F32) X(F32_MUL, F32) X(F64_ADD, F64)            \
  X(F64_SUB, F64) X(F64_MUL, F64)
/* compile.c relies on this order: NAME_LDA = NAME_LD + 1, NAME_RMW = NAME_LD + 2. */
#define WASM_LDOP_IOPS_(n, T) IOP_X(n##_LD) IOP_X(n##_LDA) IOP_X(n##_RMW)

/* Commutative i32 ops with an operand that is a shift/rotate by a constant,
 * fused (hash and checksum code: sha256's `a ^ rotl(x, k)` chains):
 * dst, a, x, k — dst = a OP shift(x, k); name, op, shift. */
#define WASM_SHOP_LIST(X)                                                     \
  X(I32_XOR, ^, ROTL) X(I32_XOR, ^, SHR_U) X(I32_XOR, ^, SHL)                \
  X(I32_ADD, +, ROTL) X(I32_ADD, +, SHR_U) X(I32_ADD, +, SHL)                \
  X(I32_OR, |, ROTL) X(I32_OR, |, SHR_U) X(I32_OR, |, SHL)                   \
  X(I32_AND, &, SHR_U)
#define WASM_SHOP_IOPS_(n, op, sh) IOP_X(n##_##sh)

/* Loop back-edge on an i32 counter just incremented by a constant
 * (`i += k; if (i cmp n) continue`): x, y, k, n|imm; target. */
#define WASM_BRINC_IOPS_(n, op, T) IOP_X(BRINC_##n) IOP_X(BRINC_##n##_I)

/* i32.load feeding an i32 compare-and-branch (same four forms as BR_*):
 * dst, addr, offset, b|imm; target. */
#define WASM_BRLD_IOPS_(n, op, T) IOP_X(BRLD_##n) IOP_X(BRLD_##n##_I) IOP_X(BRLD_##n##_L) IOP_X(BRLD_##n##_I_L)

/* Hand-written handlers (operand layout in interp.c next to each). */
#define WASM_IOP_SPECIALS(X)                                                  \
  X(UNREACHABLE) X(MOV) X(MOV2) X(MOVN) X(CONST) X(CONST2)                           \
  X(BR) X(BR_L) X(BR_IF) X(BR_IF_L) X(BR_IFNOT) X(BR_IFNOT_L) X(BR_TABLE)      \
  X(RETURN) X(RETURN1) X(CALL) X(CALL_DIRECT) X(CALL_INDIRECT) X(SELECT) X(SELECT2)                    \
  X(GLOBAL_GET) X(GLOBAL_GET2) X(GLOBAL_SET) X(GLOBAL_SET2)                  \
  X(MEMORY_SIZE) X(MEMORY_GROW) X(MEMORY_INIT) X(DATA_DROP) X(MEMORY_COPY)   \
  X(MEMORY_FILL) X(TABLE_GET) X(TABLE_SET) X(TABLE_INIT) X(ELEM_DROP)        \
  X(TABLE_COPY) X(TABLE_GROW) X(TABLE_SIZE) X(TABLE_FILL) X(REF_FUNC)        \
  X(SHUFFLE) X(F32_MULADD) X(F64_MULADD) X(MOVP)                             \
  X(F32_AXPY) X(F32_AXPY_A) X(F64_AXPY) X(F64_AXPY_A) X(I32_ADD3) X(I32_ANDN) \
  X(I32_ADDP) X(I32_ADDP_I) X(I32_ADDP_IX) X(I32_ADDP_II) X(CALL_DIRECT_NZ)
/* clang-format on */

enum wasm_iop {
#define IOP_X(n) WASM_IOP_##n,
#include "iops.inc"
#undef IOP_X
  WASM_IOP_COUNT
};

/* A compiled function body. Allocated as one block (cells follow). */
struct wasm_code {
  uint32_t func_index;
  uint32_t param_slots; /* cells of parameters */
  uint32_t local_slots; /* params + declared locals */
  uint32_t frame_slots; /* locals + deepest operand stack (+ call room) */
  uint32_t result_slots;
  uint32_t ncells;
  uint32_t npc;     /* entries in pc_map */
  uint32_t *pc_map; /* pairs (cell index, wasm byte offset), sorted */
  uint32_t ndcalls;
  uint32_t *dcalls; /* cells of CALL_DIRECT code pointers (callee index until linked) */
  wasm_cell *cells;
  /* Slots [zero_lo, zero_hi) are zeroed on entry: the declared locals that
   * may be read before the body writes them (see compile.c). */
  uint32_t zero_lo, zero_hi;
};

/* Handler addresses indexed by enum wasm_iop (the interpreter exports them). */
const void *const *wasmi_interp_labels(void);

#endif
