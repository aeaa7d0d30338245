/* numops.h — the semantics of WebAssembly's numeric and memory-access
 * operators as C macros and inline functions, shared by the interpreter
 * (interp.c) and the code the AOT translator generates (aot.c embeds this
 * file in every generated module), so that the two tiers cannot drift.
 *
 * Plain C11 plus GNU statement expressions; no engine headers. The includer
 * defines TRAP(s) (s: a wasm_status suffix such as DIV_ZERO) before using
 * a trapping operator: the interpreter jumps to its trap path, generated
 * code calls the runtime's trap function. OPS_X(r, a[, b]) computes r from
 * the operands; LDX_X(p) / STX_X(p, v) load and store at host address p. */
#ifndef WASM_NUMOPS_H
#define WASM_NUMOPS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef WASM_UNLIKELY
#define WASM_LIKELY(x) __builtin_expect(!!(x), 1)
#define WASM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#endif

/* clang-format off */
typedef uint32_t I32_T;
typedef uint64_t I64_T;
typedef float F32_T;
typedef double F64_T;

static inline float f32_of(uint64_t v) { uint32_t u = (uint32_t)v; float f; memcpy(&f, &u, 4); return f; }
static inline double f64_of(uint64_t v) { double d; memcpy(&d, &v, 8); return d; }
static inline uint64_t of_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline uint64_t of_f64(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static inline uint32_t bits32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline uint64_t bits64(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static inline float fbits32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline double fbits64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

static inline float f32_min(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a == b) return fbits32(bits32(a) | bits32(b));
  return a < b ? a : b;
}
static inline float f32_max(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a == b) return fbits32(bits32(a) & bits32(b));
  return a > b ? a : b;
}
static inline double f64_min(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == b) return fbits64(bits64(a) | bits64(b));
  return a < b ? a : b;
}
static inline double f64_max(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == b) return fbits64(bits64(a) & bits64(b));
  return a > b ? a : b;
}

/* Saturating truncations (non-trapping conversions). */
static inline uint32_t sat_i32_s(double x) {
  if (x != x) return 0;
  if (x <= -2147483649.0) return (uint32_t)INT32_MIN;
  if (x >= 2147483648.0) return (uint32_t)INT32_MAX;
  return (uint32_t)(int32_t)x;
}
static inline uint32_t sat_i32_u(double x) {
  if (x != x || x <= -1.0) return 0;
  if (x >= 4294967296.0) return UINT32_MAX;
  return (uint32_t)x;
}
static inline uint64_t sat_i64_s(double x) {
  if (x != x) return 0;
  if (x < -9223372036854775808.0) return (uint64_t)INT64_MIN;
  if (x >= 9223372036854775808.0) return (uint64_t)INT64_MAX;
  return (uint64_t)(int64_t)x;
}
static inline uint64_t sat_i64_u(double x) {
  if (x != x || x <= -1.0) return 0;
  if (x >= 18446744073709551616.0) return UINT64_MAX;
  return (uint64_t)x;
}
static inline uint64_t sat_i64_s_f32(float x) {
  if (x != x) return 0;
  if (x < -9223372036854775808.0f) return (uint64_t)INT64_MIN;
  if (x >= 9223372036854775808.0f) return (uint64_t)INT64_MAX;
  return (uint64_t)(int64_t)x;
}
static inline uint64_t sat_i64_u_f32(float x) {
  if (x != x || x <= -1.0f) return 0;
  if (x >= 18446744073709551616.0f) return UINT64_MAX;
  return (uint64_t)x;
}

static inline uint32_t rotl32(uint32_t x, uint32_t n) { n &= 31; return (x << n) | (x >> ((32 - n) & 31)); }
static inline uint32_t rotr32(uint32_t x, uint32_t n) { n &= 31; return (x >> n) | (x << ((32 - n) & 31)); }
static inline uint64_t rotl64(uint64_t x, uint64_t n) { n &= 63; return (x << n) | (x >> ((64 - n) & 63)); }
static inline uint64_t rotr64(uint64_t x, uint64_t n) { n &= 63; return (x >> n) | (x << ((64 - n) & 63)); }

/* Unaligned little-endian memory access (x86/arm64 hosts are little-endian). */
#define LD(T, p) ({ T v_; memcpy(&v_, (p), sizeof(T)); v_; })
#define ST(T, p, v) do { T v_ = (T)(v); memcpy((p), &v_, sizeof(T)); } while (0)

/* ---- Semantics of the numeric ops (r = result, a, b operands) ------------ */


#define OPS_I32_EQZ(r, a) r = (a == 0)
#define OPS_I32_EQ(r, a, b) r = (a == b)
#define OPS_I32_NE(r, a, b) r = (a != b)
#define OPS_I32_LT_S(r, a, b) r = ((int32_t)a < (int32_t)b)
#define OPS_I32_LT_U(r, a, b) r = (a < b)
#define OPS_I32_GT_S(r, a, b) r = ((int32_t)a > (int32_t)b)
#define OPS_I32_GT_U(r, a, b) r = (a > b)
#define OPS_I32_LE_S(r, a, b) r = ((int32_t)a <= (int32_t)b)
#define OPS_I32_LE_U(r, a, b) r = (a <= b)
#define OPS_I32_GE_S(r, a, b) r = ((int32_t)a >= (int32_t)b)
#define OPS_I32_GE_U(r, a, b) r = (a >= b)
#define OPS_I64_EQZ(r, a) r = (a == 0)
#define OPS_I64_EQ(r, a, b) r = (a == b)
#define OPS_I64_NE(r, a, b) r = (a != b)
#define OPS_I64_LT_S(r, a, b) r = ((int64_t)a < (int64_t)b)
#define OPS_I64_LT_U(r, a, b) r = (a < b)
#define OPS_I64_GT_S(r, a, b) r = ((int64_t)a > (int64_t)b)
#define OPS_I64_GT_U(r, a, b) r = (a > b)
#define OPS_I64_LE_S(r, a, b) r = ((int64_t)a <= (int64_t)b)
#define OPS_I64_LE_U(r, a, b) r = (a <= b)
#define OPS_I64_GE_S(r, a, b) r = ((int64_t)a >= (int64_t)b)
#define OPS_I64_GE_U(r, a, b) r = (a >= b)
#define OPS_F32_EQ(r, a, b) r = (a == b)
#define OPS_F32_NE(r, a, b) r = (a != b)
#define OPS_F32_LT(r, a, b) r = (a < b)
#define OPS_F32_GT(r, a, b) r = (a > b)
#define OPS_F32_LE(r, a, b) r = (a <= b)
#define OPS_F32_GE(r, a, b) r = (a >= b)
#define OPS_F64_EQ(r, a, b) r = (a == b)
#define OPS_F64_NE(r, a, b) r = (a != b)
#define OPS_F64_LT(r, a, b) r = (a < b)
#define OPS_F64_GT(r, a, b) r = (a > b)
#define OPS_F64_LE(r, a, b) r = (a <= b)
#define OPS_F64_GE(r, a, b) r = (a >= b)
#define OPS_I32_CLZ(r, a) r = a ? (uint32_t)__builtin_clz(a) : 32
#define OPS_I32_CTZ(r, a) r = a ? (uint32_t)__builtin_ctz(a) : 32
#define OPS_I32_POPCNT(r, a) r = (uint32_t)__builtin_popcount(a)
#define OPS_I32_ADD(r, a, b) r = a + b
#define OPS_I32_SUB(r, a, b) r = a - b
#define OPS_I32_MUL(r, a, b) r = a * b
#define OPS_I32_DIV_S(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); \
    if (WASM_UNLIKELY(a == 0x80000000u && b == 0xffffffffu)) TRAP(INT_OVERFLOW); \
    r = (uint32_t)((int32_t)a / (int32_t)b); } while (0)
#define OPS_I32_DIV_U(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); r = a / b; } while (0)
#define OPS_I32_REM_S(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); \
    r = WASM_UNLIKELY(b == 0xffffffffu) ? 0 : (uint32_t)((int32_t)a % (int32_t)b); } while (0)
#define OPS_I32_REM_U(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); r = a % b; } while (0)
#define OPS_I32_AND(r, a, b) r = a & b
#define OPS_I32_OR(r, a, b) r = a | b
#define OPS_I32_XOR(r, a, b) r = a ^ b
#define OPS_I32_SHL(r, a, b) r = a << (b & 31)
#define OPS_I32_SHR_S(r, a, b) r = (uint32_t)((int32_t)a >> (b & 31))
#define OPS_I32_SHR_U(r, a, b) r = a >> (b & 31)
#define OPS_I32_ROTL(r, a, b) r = rotl32(a, b)
#define OPS_I32_ROTR(r, a, b) r = rotr32(a, b)
#define OPS_I64_CLZ(r, a) r = a ? (uint64_t)__builtin_clzll(a) : 64
#define OPS_I64_CTZ(r, a) r = a ? (uint64_t)__builtin_ctzll(a) : 64
#define OPS_I64_POPCNT(r, a) r = (uint64_t)__builtin_popcountll(a)
#define OPS_I64_ADD(r, a, b) r = a + b
#define OPS_I64_SUB(r, a, b) r = a - b
#define OPS_I64_MUL(r, a, b) r = a * b
#define OPS_I64_DIV_S(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); \
    if (WASM_UNLIKELY(a == 0x8000000000000000ull && b == ~0ull)) TRAP(INT_OVERFLOW); \
    r = (uint64_t)((int64_t)a / (int64_t)b); } while (0)
#define OPS_I64_DIV_U(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); r = a / b; } while (0)
#define OPS_I64_REM_S(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); \
    r = WASM_UNLIKELY(b == ~0ull) ? 0 : (uint64_t)((int64_t)a % (int64_t)b); } while (0)
#define OPS_I64_REM_U(r, a, b) do { if (WASM_UNLIKELY(b == 0)) TRAP(DIV_ZERO); r = a % b; } while (0)
#define OPS_I64_AND(r, a, b) r = a & b
#define OPS_I64_OR(r, a, b) r = a | b
#define OPS_I64_XOR(r, a, b) r = a ^ b
#define OPS_I64_SHL(r, a, b) r = a << (b & 63)
#define OPS_I64_SHR_S(r, a, b) r = (uint64_t)((int64_t)a >> (b & 63))
#define OPS_I64_SHR_U(r, a, b) r = a >> (b & 63)
#define OPS_I64_ROTL(r, a, b) r = rotl64(a, b)
#define OPS_I64_ROTR(r, a, b) r = rotr64(a, b)
#define OPS_F32_ABS(r, a) r = fbits32(bits32(a) & 0x7fffffffu)
#define OPS_F32_NEG(r, a) r = fbits32(bits32(a) ^ 0x80000000u)
#define OPS_F32_CEIL(r, a) r = (a != a) ? a + a : ceilf(a)   /* quiet sNaN */
#define OPS_F32_FLOOR(r, a) r = (a != a) ? a + a : floorf(a)   /* quiet sNaN */
#define OPS_F32_TRUNC(r, a) r = (a != a) ? a + a : truncf(a)   /* quiet sNaN */
#define OPS_F32_NEAREST(r, a) r = (a != a) ? a + a : rintf(a)   /* quiet sNaN */
#define OPS_F32_SQRT(r, a) r = sqrtf(a)
#define OPS_F32_ADD(r, a, b) r = a + b
#define OPS_F32_SUB(r, a, b) r = a - b
#define OPS_F32_MUL(r, a, b) r = a * b
#define OPS_F32_DIV(r, a, b) r = a / b
#define OPS_F32_MIN(r, a, b) r = f32_min(a, b)
#define OPS_F32_MAX(r, a, b) r = f32_max(a, b)
#define OPS_F32_COPYSIGN(r, a, b) r = fbits32((bits32(a) & 0x7fffffffu) | (bits32(b) & 0x80000000u))
#define OPS_F64_ABS(r, a) r = fbits64(bits64(a) & 0x7fffffffffffffffull)
#define OPS_F64_NEG(r, a) r = fbits64(bits64(a) ^ 0x8000000000000000ull)
#define OPS_F64_CEIL(r, a) r = (a != a) ? a + a : ceil(a)
#define OPS_F64_FLOOR(r, a) r = (a != a) ? a + a : floor(a)
#define OPS_F64_TRUNC(r, a) r = (a != a) ? a + a : trunc(a)
#define OPS_F64_NEAREST(r, a) r = (a != a) ? a + a : rint(a)
#define OPS_F64_SQRT(r, a) r = sqrt(a)
#define OPS_F64_ADD(r, a, b) r = a + b
#define OPS_F64_SUB(r, a, b) r = a - b
#define OPS_F64_MUL(r, a, b) r = a * b
#define OPS_F64_DIV(r, a, b) r = a / b
#define OPS_F64_MIN(r, a, b) r = f64_min(a, b)
#define OPS_F64_MAX(r, a, b) r = f64_max(a, b)
#define OPS_F64_COPYSIGN(r, a, b) r = fbits64((bits64(a) & 0x7fffffffffffffffull) | (bits64(b) & 0x8000000000000000ull))
#define OPS_I32_WRAP_I64(r, a) r = (uint32_t)a
#define TRUNC_CHK(a, lo_ok, hi_ok) do { if (WASM_UNLIKELY(a != a)) TRAP(INVALID_CONVERSION); \
    if (WASM_UNLIKELY(!(lo_ok) || !(hi_ok))) TRAP(INT_OVERFLOW); } while (0)
#define OPS_I32_TRUNC_F32_S(r, a) do { TRUNC_CHK(a, a >= -2147483648.0f, a < 2147483648.0f); r = (uint32_t)(int32_t)a; } while (0)
#define OPS_I32_TRUNC_F32_U(r, a) do { TRUNC_CHK(a, a > -1.0f, a < 4294967296.0f); r = (uint32_t)a; } while (0)
#define OPS_I32_TRUNC_F64_S(r, a) do { TRUNC_CHK(a, a > -2147483649.0, a < 2147483648.0); r = (uint32_t)(int32_t)a; } while (0)
#define OPS_I32_TRUNC_F64_U(r, a) do { TRUNC_CHK(a, a > -1.0, a < 4294967296.0); r = (uint32_t)a; } while (0)
#define OPS_I64_TRUNC_F32_S(r, a) do { TRUNC_CHK(a, a >= -9223372036854775808.0f, a < 9223372036854775808.0f); r = (uint64_t)(int64_t)a; } while (0)
#define OPS_I64_TRUNC_F32_U(r, a) do { TRUNC_CHK(a, a > -1.0f, a < 18446744073709551616.0f); r = (uint64_t)a; } while (0)
#define OPS_I64_TRUNC_F64_S(r, a) do { TRUNC_CHK(a, a >= -9223372036854775808.0, a < 9223372036854775808.0); r = (uint64_t)(int64_t)a; } while (0)
#define OPS_I64_TRUNC_F64_U(r, a) do { TRUNC_CHK(a, a > -1.0, a < 18446744073709551616.0); r = (uint64_t)a; } while (0)
#define OPS_I64_EXTEND_I32_S(r, a) r = (uint64_t)(int64_t)(int32_t)a
#define OPS_I64_EXTEND_I32_U(r, a) r = (uint64_t)a
#define OPS_F32_CONVERT_I32_S(r, a) r = (float)(int32_t)a
#define OPS_F32_CONVERT_I32_U(r, a) r = (float)a
#define OPS_F32_CONVERT_I64_S(r, a) r = (float)(int64_t)a
#define OPS_F32_CONVERT_I64_U(r, a) r = (float)a
#define OPS_F32_DEMOTE_F64(r, a) r = (float)a
#define OPS_F64_CONVERT_I32_S(r, a) r = (double)(int32_t)a
#define OPS_F64_CONVERT_I32_U(r, a) r = (double)a
#define OPS_F64_CONVERT_I64_S(r, a) r = (double)(int64_t)a
#define OPS_F64_CONVERT_I64_U(r, a) r = (double)a
#define OPS_F64_PROMOTE_F32(r, a) r = (double)a
#define OPS_I32_REINTERPRET_F32(r, a) r = bits32(a)
#define OPS_I64_REINTERPRET_F64(r, a) r = bits64(a)
#define OPS_F32_REINTERPRET_I32(r, a) r = fbits32(a)
#define OPS_F64_REINTERPRET_I64(r, a) r = fbits64(a)
#define OPS_I32_EXTEND8_S(r, a) r = (uint32_t)(int32_t)(int8_t)a
#define OPS_I32_EXTEND16_S(r, a) r = (uint32_t)(int32_t)(int16_t)a
#define OPS_I64_EXTEND8_S(r, a) r = (uint64_t)(int64_t)(int8_t)a
#define OPS_I64_EXTEND16_S(r, a) r = (uint64_t)(int64_t)(int16_t)a
#define OPS_I64_EXTEND32_S(r, a) r = (uint64_t)(int64_t)(int32_t)a
#define OPS_I32_TRUNC_SAT_F32_S(r, a) r = sat_i32_s((double)a)
#define OPS_I32_TRUNC_SAT_F32_U(r, a) r = sat_i32_u((double)a)
#define OPS_I32_TRUNC_SAT_F64_S(r, a) r = sat_i32_s(a)
#define OPS_I32_TRUNC_SAT_F64_U(r, a) r = sat_i32_u(a)
#define OPS_I64_TRUNC_SAT_F32_S(r, a) r = sat_i64_s_f32(a)
#define OPS_I64_TRUNC_SAT_F32_U(r, a) r = sat_i64_u_f32(a)
#define OPS_I64_TRUNC_SAT_F64_S(r, a) r = sat_i64_s(a)
#define OPS_I64_TRUNC_SAT_F64_U(r, a) r = sat_i64_u(a)

#define LDX_I32_LOAD(p) LD(uint32_t, p)
#define LDX_I64_LOAD(p) LD(uint64_t, p)
#define LDX_F32_LOAD(p) LD(uint32_t, p)
#define LDX_F64_LOAD(p) LD(uint64_t, p)
#define LDX_I32_LOAD8_S(p) (uint32_t)(int32_t)LD(int8_t, p)
#define LDX_I32_LOAD8_U(p) (uint32_t)LD(uint8_t, p)
#define LDX_I32_LOAD16_S(p) (uint32_t)(int32_t)LD(int16_t, p)
#define LDX_I32_LOAD16_U(p) (uint32_t)LD(uint16_t, p)
#define LDX_I64_LOAD8_S(p) (uint64_t)(int64_t)LD(int8_t, p)
#define LDX_I64_LOAD8_U(p) (uint64_t)LD(uint8_t, p)
#define LDX_I64_LOAD16_S(p) (uint64_t)(int64_t)LD(int16_t, p)
#define LDX_I64_LOAD16_U(p) (uint64_t)LD(uint16_t, p)
#define LDX_I64_LOAD32_S(p) (uint64_t)(int64_t)LD(int32_t, p)
#define LDX_I64_LOAD32_U(p) (uint64_t)LD(uint32_t, p)
#define STX_I32_STORE(p, v) ST(uint32_t, p, v)
#define STX_I64_STORE(p, v) ST(uint64_t, p, v)
#define STX_F32_STORE(p, v) ST(uint32_t, p, v)
#define STX_F64_STORE(p, v) ST(uint64_t, p, v)
#define STX_I32_STORE8(p, v) ST(uint8_t, p, v)
#define STX_I32_STORE16(p, v) ST(uint16_t, p, v)
#define STX_I64_STORE8(p, v) ST(uint8_t, p, v)
#define STX_I64_STORE16(p, v) ST(uint16_t, p, v)
#define STX_I64_STORE32(p, v) ST(uint32_t, p, v)
/* clang-format on */

#endif
