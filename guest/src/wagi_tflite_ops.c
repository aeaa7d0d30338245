/* wagi_tflite_ops.c — TFLite's uint8 kernels (see wagi_tflite_ops.h). The
 * integer semantics follow TFLite's reference kernels and gemmlowp's
 * fixed-point primitives; the loops are our own, arranged for SIMD128:
 * CONV_2D gathers each output pixel's receptive field into an int16 row
 * (input + input_offset, 0 for padding) and multiplies those rows with the
 * int16 filter, so a 1x1 convolution is a plain GEMM; DEPTHWISE_CONV_2D
 * goes eight channels at a time. Every SIMD path has a scalar twin giving
 * the same bytes (tests/guest/tflite_run.c simd-check compares them).
 *
 * The SIMD128 code is wasm_simd128.h's, or natively SIMDe's implementation
 * of it (wagi_simd128.h), so the same kernels also run natively, under the
 * sanitizers in the tests and as bench/tf's native row.
 *
 * Measured (MobileNetV2, AOT tier): the GEMM takes about two thirds of the
 * time, depthwise most of the rest; bench/README.md has the numbers, next
 * to the same kernels natively. */
#include "wagi_tflite_ops.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "wagi_simd128.h"

int wagi_tflite_simd = 1;

/* ---- fixed point ---- */

void wagi_tflite_quantize_multiplier(double real, int32_t *quantized, int *shift) {
  if (real == 0.0 || !isfinite(real)) {
    *quantized = 0;
    *shift = 0;
    return;
  }
  int exp;
  double q = frexp(real, &exp);
  int64_t fixed = (int64_t)round(q * (double)(1ll << 31));
  if (fixed == (1ll << 31)) {
    fixed /= 2;
    exp++;
  }
  if (exp < -31) {
    exp = 0;
    fixed = 0;
  }
  if (exp > 30) { /* as TFLite: the largest representable multiplier */
    exp = 30;
    fixed = (1ll << 31) - 1;
  }
  *quantized = (int32_t)fixed;
  *shift = exp;
}

/* static inline copies for the kernels' loops; the exported functions are
 * the same code */
static inline int32_t wtf_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / (1ll << 31));
}

static inline int32_t wtf_rdbpot(int32_t x, int exp) {
  int32_t mask = (int32_t)((1ll << exp) - 1);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exp) + (remainder > threshold ? 1 : 0);
}

static inline int32_t wtf_mbqm(int32_t x, int32_t quantized, int shift) {
  int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  /* x * 2^left in unsigned arithmetic: TFLite's multiplication wraps the
   * same way on every target it runs on, and this keeps UBSan quiet. */
  int32_t shifted = (int32_t)((uint32_t)x << left);
  return wtf_rdbpot(wtf_srdhm(shifted, quantized), right);
}

int32_t wagi_tflite_srdhm(int32_t a, int32_t b) { return wtf_srdhm(a, b); }
int32_t wagi_tflite_rounding_divide_by_pot(int32_t x, int exp) { return wtf_rdbpot(x, exp); }
int32_t wagi_tflite_mul_by_quantized(int32_t x, int32_t quantized, int shift) {
  return wtf_mbqm(x, quantized, shift);
}

static int32_t wtf_round_to_int(float q) {
  q = roundf(q);
  if (!(q > -1e9f)) return -1000000000; /* also NaN */
  if (q > 1e9f) return 1000000000;
  return (int32_t)q;
}

int wagi_tflite_activation_range(int activation, float scale, int32_t zero_point, int32_t *act_min,
                                 int32_t *act_max) {
  int32_t lo = 0, hi = 255;
/* As TFLite: zero_point + round(x / scale), in float; a quotient beyond
 * int32 (a tiny scale) is clamped first, where TFLite's cast is undefined. */
#define WTF_QUANTIZE(x) (zero_point + wtf_round_to_int((x) / scale))
  switch (activation) {
  case 0: break;
  case 1: lo = WTF_QUANTIZE(0.0f) > lo ? WTF_QUANTIZE(0.0f) : lo; break;
  case 2:
    lo = WTF_QUANTIZE(-1.0f) > lo ? WTF_QUANTIZE(-1.0f) : lo;
    hi = WTF_QUANTIZE(1.0f) < hi ? WTF_QUANTIZE(1.0f) : hi;
    break;
  case 3:
    lo = WTF_QUANTIZE(0.0f) > lo ? WTF_QUANTIZE(0.0f) : lo;
    hi = WTF_QUANTIZE(6.0f) < hi ? WTF_QUANTIZE(6.0f) : hi;
    break;
  default: return -1;
  }
#undef WTF_QUANTIZE
  *act_min = lo;
  *act_max = hi;
  return 0;
}

int wagi_tflite_out_size(int same_padding, int in, int filter, int stride, int dilation, int *pad) {
  int64_t effective = (int64_t)(filter - 1) * dilation + 1;
  int64_t out = same_padding ? ((int64_t)in + stride - 1) / stride
                             : ((int64_t)in + stride - effective) / stride;
  int64_t total = (out - 1) * stride + effective - in;
  if (total < 0) total = 0;
  *pad = (int)(total / 2);
  return out > 0 && out <= INT_MAX ? (int)out : 0;
}

static inline uint8_t wtf_requantize(int32_t acc, const wagi_tflite_conv_params *p) {
  int32_t v = wtf_mbqm(acc, p->output_multiplier, p->output_shift);
  v += p->output_offset;
  if (v < p->act_min) v = p->act_min;
  if (v > p->act_max) v = p->act_max;
  return (uint8_t)v;
}

/* ---- SIMD128 requantization ----
 *
 * Written for how SIMD128 runs on x86 with only SSE2 (the AOT tier's
 * baseline): no lane shuffles (they become byte loops there) and no 64-bit
 * arithmetic right shift. Eight accumulators come as two vectors, the even
 * channels [0,2,4,6] and the odd ones [1,3,5,7]; that order is what lets
 * the 64-bit products be put back together into [0,1,2,3] and [4,5,6,7]
 * with shifts and masks alone. */

#ifdef WAGI_SIMD128
/* Optimisation barriers (volatile, so not hoisted out of loops either).
 * Without them clang hoists loop-invariant splats and widenings out of the
 * loop, and its wasm back end then no longer sees a uniform shift (it emits
 * four scalar shifts) or a widening multiply (it emits i64x2.mul, three
 * multiplies and shifts on SSE2, instead of one i64x2.extmul). */
static inline v128_t wtf_opaque(v128_t v) {
#if defined(__wasm_simd128__)
  __asm__ volatile("" : "+r"(v));
#elif defined(__x86_64__) || defined(__i386__) /* SIMDe natively: an SSE register */
  __asm__ volatile("" : "+x"(v));
#elif defined(__aarch64__)
  __asm__ volatile("" : "+w"(v));
#endif
  return v;
}
static inline int wtf_opaque_int(int v) {
  __asm__ volatile("" : "+r"(v));
  return v;
}

/* A layer's requantization constants, splatted once. Only for multipliers
 * below 1 (output_shift <= 0, every layer of real models); the others go
 * through the scalar code. */
typedef struct {
  v128_t mult, mult2, half, out_offset, act_min, act_max;
  int right;
} wtf_rq;

static wtf_rq wtf_rq_make(const wagi_tflite_conv_params *p) {
  wtf_rq q;
  q.right = -p->output_shift;
  q.mult = wasm_i32x4_splat(p->output_multiplier);
  q.mult2 = wasm_i32x4_splat((int32_t)((uint32_t)p->output_multiplier * 2));
  q.half = wasm_i32x4_splat(q.right > 0 ? (int32_t)(1u << (q.right - 1)) : 0);
  q.out_offset = wasm_i32x4_splat(p->output_offset);
  q.act_min = wasm_i16x8_splat((int16_t)p->act_min);
  q.act_max = wasm_i16x8_splat((int16_t)p->act_max);
  return q;
}

/* SaturatingRoundingDoublingHighMul of each lane of v by m (0 <= m < 2^31)
 * as 64-bit lanes whose high halves hold (result + m), with SSE2's unsigned
 * 32x32->64 multiply only. TFLite rounds v*m/2^31 half up, i.e. it is
 * floor((v*m + 2^30) / 2^31); with u = v + 2^31 (v with its top bit
 * flipped, an unsigned number) that is floor((u*m + 2^30) / 2^31) - m,
 * which is the high half of u*(2m) + 2^31 (below 2^64) minus m. The
 * multiplier is never INT32_MIN, so TFLite's one saturating case cannot
 * occur. m2 is 2m. */
static inline void wtf_srdhm_halves(v128_t v, v128_t m2, v128_t *lo, v128_t *hi) {
  m2 = wtf_opaque(m2);
  v128_t u = wasm_v128_xor(v, wasm_i32x4_splat(INT32_MIN));
  v128_t nudge = wasm_i64x2_splat((int64_t)1 << 31);
  *lo = wasm_i64x2_add(wasm_u64x2_extmul_low_u32x4(u, m2), nudge);
  *hi = wasm_i64x2_add(wasm_u64x2_extmul_high_u32x4(u, m2), nudge);
}

/* RoundingDivideByPOT by q->right (0..31) and the output offset.
 * (x + 2^(right-1) - (x < 0)) >> right rounds halves away from zero as
 * TFLite does; x is a SRDHM result, below the accumulator in magnitude, so
 * the addition cannot overflow for a real model (only an accumulator within
 * 2^(right-1) of INT32_MAX could). */
static inline v128_t wtf_rdbpot_offset(v128_t x, const wtf_rq *q) {
  if (q->right > 0)
    x = wasm_i32x4_shr(wasm_i32x4_add(wasm_i32x4_add(x, q->half), wasm_i32x4_lt(x, wasm_i32x4_splat(0))),
                       (uint32_t)wtf_opaque_int(q->right));
  return wasm_i32x4_add(x, q->out_offset);
}

/* Eight requantized bytes, in channel order, in the low half of the result,
 * from the even-channel and odd-channel accumulators. The activation clamp
 * comes after the saturating narrowing to int16, which keeps the order of
 * values and both bounds (0..255). */
static inline v128_t wtf_requantize8(v128_t even, v128_t odd, const wtf_rq *q) {
  v128_t el, eh, ol, oh;
  wtf_srdhm_halves(even, q->mult2, &el, &eh); /* el: [_, c0, _, c2], eh: [_, c4, _, c6] */
  wtf_srdhm_halves(odd, q->mult2, &ol, &oh);  /* ol: [_, c1, _, c3], oh: [_, c5, _, c7] */
  v128_t high = wasm_i64x2_splat((int64_t)0xffffffff00000000ull);
  v128_t c0123 = wasm_i32x4_sub(wasm_v128_or(wasm_u64x2_shr(el, 32), wasm_v128_and(ol, high)), q->mult);
  v128_t c4567 = wasm_i32x4_sub(wasm_v128_or(wasm_u64x2_shr(eh, 32), wasm_v128_and(oh, high)), q->mult);
  v128_t w = wasm_i16x8_narrow_i32x4(wtf_rdbpot_offset(c0123, q), wtf_rdbpot_offset(c4567, q));
  w = wasm_i16x8_min(wasm_i16x8_max(w, q->act_min), q->act_max);
  return wasm_u8x16_narrow_i16x8(w, w);
}

/* The low n (< 8) bytes of v to dst. */
static inline void wtf_store_bytes(uint8_t *dst, v128_t v, int n) {
  uint8_t tmp[16];
  wasm_v128_store(tmp, v);
  memcpy(dst, tmp, (size_t)n);
}
#endif

/* ---- CONV_2D ----
 *
 * Filter layout (one for the scalar and the SIMD code): output channels in
 * blocks of 8, input positions (fh*fw*in_c of them, "k") in pairs; for each
 * block and pair 16 int16: the pair's weights for channels 0,2,4,6 of the
 * block, then for 1,3,5,7. The SIMD kernel splats an input pair to all four
 * lanes, and i32x4.dot_i16x8_s with those 8 weights adds both products into
 * each of the four channels' lanes: no horizontal sums. Missing channels
 * and the odd k's partner are zero. */

#define WTF_CONV_PIXELS 4 /* im2col rows per pass; the SIMD kernel takes them two at a time */

static size_t wtf_align16(size_t n) { return (n + 15) & ~(size_t)15; }

static size_t wtf_conv_pairs(int filter_h, int filter_w, int in_c) {
  return ((size_t)filter_h * filter_w * in_c + 1) / 2;
}

size_t wagi_tflite_conv_filter_size(int filter_h, int filter_w, int in_c, int out_c) {
  return (size_t)((out_c + 7) / 8) * wtf_conv_pairs(filter_h, filter_w, in_c) * 16;
}

#ifdef WAGI_SIMD128
/* Four pairs of a full block: eight channels' rows of 8 weights, widened,
 * are two 4x4 transposes of 32-bit pairs (channels 0,2,4,6 and 1,3,5,7). */
static int16_t *wtf_conv_filter_quad(const uint8_t *const row[8], size_t kk, v128_t off, int16_t *out) {
  v128_t r[8];
  for (int l = 0; l < 8; l++) r[l] = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(wasm_v128_load64_zero(row[l] + kk)), off);
  for (int half = 0; half < 2; half++) {
    /* rows of this half, in lane order: channels half, half+2, half+4, half+6 */
    v128_t a = r[half], b = r[half + 2], c = r[half + 4], d = r[half + 6];
    v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
    v128_t p[4] = {wasm_i64x2_shuffle(t0, t2, 0, 2), wasm_i64x2_shuffle(t0, t2, 1, 3),
                   wasm_i64x2_shuffle(t1, t3, 0, 2), wasm_i64x2_shuffle(t1, t3, 1, 3)};
    for (int j = 0; j < 4; j++) wasm_v128_store(out + 16 * j + 8 * half, p[j]);
  }
  return out + 64;
}
#endif

/* Runs once per model load for every convolution's weights (3.4 M of them
 * in MobileNetV2, most of the load's time): full blocks take a path
 * without per-element tests, four pairs at a time with SIMD128. */
void wagi_tflite_conv_filter_prepare(const uint8_t *filter, int out_c, int filter_h, int filter_w, int in_c,
                                     int32_t filter_offset, int16_t *out) {
  size_t k = (size_t)filter_h * filter_w * in_c, pairs = wtf_conv_pairs(filter_h, filter_w, in_c);
  static const int lane_channel[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  /* written in order: block, pair, lane (channel 0,2,4,6 then 1,3,5,7), k of the pair */
  for (int o0 = 0; o0 < out_c; o0 += 8) {
    if (o0 + 8 > out_c) { /* the last, partial block */
      for (size_t j = 0; j < pairs; j++)
        for (int l = 0; l < 8; l++) {
          int o = o0 + lane_channel[l];
          for (size_t kk = 2 * j; kk < 2 * j + 2; kk++)
            *out++ = (int16_t)(o < out_c && kk < k ? filter[(size_t)o * k + kk] + filter_offset : 0);
        }
      break;
    }
    const uint8_t *row[8];
    for (int c = 0; c < 8; c++) row[c] = filter + (size_t)(o0 + c) * k;
    size_t kk = 0;
#ifdef WAGI_SIMD128
    v128_t off = wasm_i16x8_splat((int16_t)filter_offset);
    for (; kk + 8 <= k; kk += 8) out = wtf_conv_filter_quad(row, kk, off, out);
#endif
    for (; kk + 2 <= k; kk += 2)
      for (int l = 0; l < 8; l++) {
        const uint8_t *r = row[lane_channel[l]];
        *out++ = (int16_t)(r[kk] + filter_offset);
        *out++ = (int16_t)(r[kk + 1] + filter_offset);
      }
    if (kk < k) /* odd k: the last pair's second weight is 0 */
      for (int l = 0; l < 8; l++) {
        *out++ = (int16_t)(row[lane_channel[l]][kk] + filter_offset);
        *out++ = 0;
      }
  }
}

size_t wagi_tflite_conv_scratch(int filter_h, int filter_w, int in_c, int out_c) {
  size_t row = 2 * wtf_conv_pairs(filter_h, filter_w, in_c);
  return wtf_align16(WTF_CONV_PIXELS * row * sizeof(int16_t)) + wtf_align16(((size_t)out_c + 8) * sizeof(int32_t));
}

/* One output pixel's receptive field as int16: input + input_offset, and 0
 * where the window hangs over the edge (TFLite skips those taps) and in the
 * row's last element when k is odd. */
static void wtf_im2col(const wagi_tflite_conv_params *p, wagi_tflite_dims in, const uint8_t *input,
                       int b, int oy, int ox, int fh, int fw, size_t row, int16_t *col) {
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  int c = in.c;
  int16_t off = (int16_t)p->input_offset;
  int16_t *end = col + row;
  for (int fy = 0; fy < fh; fy++) {
    int iy = iy0 + fy * p->dilation_h;
    for (int fx = 0; fx < fw; fx++, col += c) {
      int ix = ix0 + fx * p->dilation_w;
      if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
        memset(col, 0, (size_t)c * sizeof *col);
        continue;
      }
      const uint8_t *src = input + (((size_t)b * in.h + iy) * in.w + ix) * c;
      int i = 0;
#ifdef WAGI_SIMD128
      v128_t voff = wasm_i16x8_splat(off);
      for (; i + 8 <= c; i += 8)
        wasm_v128_store(col + i, wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(wasm_v128_load64_zero(src + i)), voff));
#endif
      for (; i < c; i++) col[i] = (int16_t)(src[i] + off);
    }
  }
  while (col < end) *col++ = 0;
}

/* Accumulators wrap around in uint32 as TFLite's int32 ones do on real
 * hardware (and SIMD128's do): only a hostile model gets there, and C's
 * signed overflow must not be what happens then. */
static void wtf_gemm_scalar(const wagi_tflite_conv_params *p, size_t np, size_t pairs, int out_c,
                            const int16_t *cols, const int16_t *filter, const int32_t *bias, uint8_t *dst) {
  for (size_t i = 0; i < np; i++) {
    const int16_t *col = cols + i * 2 * pairs;
    for (int o0 = 0; o0 < out_c; o0 += 8) {
      const int16_t *f = filter + (size_t)(o0 / 8) * pairs * 16;
      uint32_t acc[8] = {0}; /* the block's lanes: channels 0,2,4,6 then 1,3,5,7 */
      for (size_t j = 0; j < pairs; j++, f += 16) {
        int32_t x0 = col[2 * j], x1 = col[2 * j + 1];
        for (int l = 0; l < 8; l++) acc[l] += (uint32_t)(x0 * f[2 * l] + x1 * f[2 * l + 1]);
      }
      for (int l = 0; l < 8; l++) {
        int o = o0 + (l < 4 ? 2 * l : 2 * (l - 4) + 1);
        if (o < out_c) dst[i * out_c + o] = wtf_requantize((int32_t)(acc[l] + (uint32_t)(bias ? bias[o] : 0)), p);
      }
    }
  }
}

#ifdef WAGI_SIMD128
static inline v128_t wtf_splat_pair(const int16_t *x) {
  int32_t v;
  memcpy(&v, x, sizeof v);
  return wasm_i32x4_splat(v);
}

/* np pixels (rows of `cols`), two at a time, by blocks of eight output
 * channels: 4 accumulators, and per input pair two splats, two weight loads
 * and four i32x4.dot_i16x8_s. (Four pixels at a time need 8 accumulators,
 * which the AOT tier's translation spills to the stack: 20% slower.)
 * bias_eo: the bias in the even/odd order, 8 per block. */
static void wtf_gemm_simd(const wagi_tflite_conv_params *p, size_t np, size_t pairs, int out_c,
                          const int16_t *cols, const int16_t *filter, const int32_t *bias_eo, uint8_t *dst) {
  size_t row = 2 * pairs;
  wtf_rq q = wtf_rq_make(p);
  for (int o = 0; o < out_c; o += 8) {
    v128_t be = wasm_v128_load(bias_eo + o), bo = wasm_v128_load(bias_eo + o + 4);
    int n = out_c - o < 8 ? out_c - o : 8;
    for (size_t i = 0; i < np; i += 2) {
      const int16_t *c0 = cols + i * row, *c1 = i + 1 < np ? c0 + row : c0;
      const int16_t *f = filter + (size_t)(o / 8) * pairs * 16;
      v128_t e0 = be, e1 = be, o0 = bo, o1 = bo;
      size_t j = 0;
      for (; j + 2 <= pairs; j += 2, f += 32) { /* two pairs per turn: half the loop overhead */
        v128_t we = wasm_v128_load(f), wo = wasm_v128_load(f + 8);
        v128_t x0 = wtf_splat_pair(c0 + 2 * j), x1 = wtf_splat_pair(c1 + 2 * j);
        e0 = wasm_i32x4_add(e0, wasm_i32x4_dot_i16x8(x0, we));
        o0 = wasm_i32x4_add(o0, wasm_i32x4_dot_i16x8(x0, wo));
        e1 = wasm_i32x4_add(e1, wasm_i32x4_dot_i16x8(x1, we));
        o1 = wasm_i32x4_add(o1, wasm_i32x4_dot_i16x8(x1, wo));
        we = wasm_v128_load(f + 16);
        wo = wasm_v128_load(f + 24);
        x0 = wtf_splat_pair(c0 + 2 * j + 2);
        x1 = wtf_splat_pair(c1 + 2 * j + 2);
        e0 = wasm_i32x4_add(e0, wasm_i32x4_dot_i16x8(x0, we));
        o0 = wasm_i32x4_add(o0, wasm_i32x4_dot_i16x8(x0, wo));
        e1 = wasm_i32x4_add(e1, wasm_i32x4_dot_i16x8(x1, we));
        o1 = wasm_i32x4_add(o1, wasm_i32x4_dot_i16x8(x1, wo));
      }
      if (j < pairs) {
        v128_t we = wasm_v128_load(f), wo = wasm_v128_load(f + 8);
        v128_t x0 = wtf_splat_pair(c0 + 2 * j), x1 = wtf_splat_pair(c1 + 2 * j);
        e0 = wasm_i32x4_add(e0, wasm_i32x4_dot_i16x8(x0, we));
        o0 = wasm_i32x4_add(o0, wasm_i32x4_dot_i16x8(x0, wo));
        e1 = wasm_i32x4_add(e1, wasm_i32x4_dot_i16x8(x1, we));
        o1 = wasm_i32x4_add(o1, wasm_i32x4_dot_i16x8(x1, wo));
      }
      v128_t r0 = wtf_requantize8(e0, o0, &q), r1 = wtf_requantize8(e1, o1, &q);
      if (n == 8) {
        wasm_v128_store64_lane(dst + i * out_c + o, r0, 0);
        if (i + 1 < np) wasm_v128_store64_lane(dst + (i + 1) * out_c + o, r1, 0);
      } else {
        wtf_store_bytes(dst + i * out_c + o, r0, n);
        if (i + 1 < np) wtf_store_bytes(dst + (i + 1) * out_c + o, r1, n);
      }
    }
  }
}
#endif

void wagi_tflite_conv2d(const wagi_tflite_conv_params *p, wagi_tflite_dims in, const uint8_t *input,
                        int filter_h, int filter_w, const int16_t *filter, const int32_t *bias,
                        wagi_tflite_dims out, uint8_t *output, void *scratch) {
  size_t pairs = wtf_conv_pairs(filter_h, filter_w, in.c), row = 2 * pairs;
  int16_t *cols = scratch;
#ifdef WAGI_SIMD128
  int32_t *bias_eo = (int32_t *)((char *)scratch + wtf_align16(WTF_CONV_PIXELS * row * sizeof(int16_t)));
  int simd = wagi_tflite_simd && p->output_shift <= 0;
  if (simd) /* the bias in the accumulators' even/odd order */
    for (int o = 0; o < ((out.c + 7) & ~7); o++) {
      int ch = (o & ~7) + (o & 4 ? 1 : 0) + (o & 3) * 2; /* lane o: channel */
      bias_eo[o] = bias && ch < out.c ? bias[ch] : 0;
    }
#endif
  size_t pixels = (size_t)out.n * out.h * out.w;
  for (size_t p0 = 0; p0 < pixels; p0 += WTF_CONV_PIXELS) {
    size_t np = pixels - p0 < WTF_CONV_PIXELS ? pixels - p0 : WTF_CONV_PIXELS;
    for (size_t i = 0; i < np; i++) {
      size_t px = p0 + i;
      int ox = (int)(px % out.w), oy = (int)(px / out.w % out.h), b = (int)(px / out.w / out.h);
      wtf_im2col(p, in, input, b, oy, ox, filter_h, filter_w, row, cols + i * row);
    }
    uint8_t *dst = output + p0 * out.c;
#ifdef WAGI_SIMD128
    if (simd) {
      wtf_gemm_simd(p, np, pairs, out.c, cols, filter, bias_eo, dst);
      continue;
    }
#endif
    wtf_gemm_scalar(p, np, pairs, out.c, cols, filter, bias, dst);
  }
}

/* ---- DEPTHWISE_CONV_2D ----
 *
 * Filter layout: per tap (fh*fw of them) the output channels in blocks of
 * 8, each block twice as 8 int16: once with the odd channels' weights
 * zeroed, once with the even ones'. i32x4.dot_i16x8_s of eight inputs with
 * the first gives the even channels' products [0,2,4,6], with the second
 * the odd ones' [1,3,5,7]: the order wtf_requantize8 wants. */

size_t wagi_tflite_depthwise_filter_size(int filter_h, int filter_w, int out_c) {
  return (size_t)filter_h * filter_w * (size_t)((out_c + 7) / 8) * 16;
}

static inline size_t wtf_dw_index(int out_c, size_t tap, int o) {
  return (tap * (size_t)((out_c + 7) / 8) + (size_t)(o / 8)) * 16 + (size_t)(o & 1) * 8 + (size_t)(o & 7);
}

void wagi_tflite_depthwise_filter_prepare(const uint8_t *filter, int filter_h, int filter_w, int out_c,
                                          int32_t filter_offset, int16_t *out) {
  /* written in order: tap, block, even half (odd lanes 0), odd half */
  for (size_t t = 0; t < (size_t)filter_h * filter_w; t++)
    for (int o0 = 0; o0 < out_c; o0 += 8)
      for (int half = 0; half < 2; half++)
        for (int l = 0; l < 8; l++) {
          int o = o0 + l;
          *out++ = (int16_t)((l & 1) == half && o < out_c ? filter[t * out_c + o] + filter_offset : 0);
        }
}

/* the scalar accumulators, then the SIMD code's bias in even/odd order */
size_t wagi_tflite_depthwise_scratch(int out_c) { return 2 * wtf_align16(((size_t)out_c + 8) * sizeof(int32_t)); }

/* Channels from c_begin on (those before it done by the SIMD loop), all of
 * them when the depth multiplier is not 1; then their requantized bytes. */
static void wtf_depthwise_pixel_scalar(const wagi_tflite_conv_params *p, wagi_tflite_dims in,
                                       const uint8_t *input, int b, int oy, int ox, int fh, int fw,
                                       const int16_t *filter, const int32_t *bias, int out_c, int c_begin,
                                       int32_t *acc, uint8_t *dst) {
  int dm = p->depth_multiplier;
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  int o_begin = c_begin * dm;
  for (int o = o_begin; o < out_c; o++) acc[o] = bias ? bias[o] : 0;
  for (int fy = 0; fy < fh; fy++) {
    int iy = iy0 + fy * p->dilation_h;
    if (iy < 0 || iy >= in.h) continue;
    for (int fx = 0; fx < fw; fx++) {
      int ix = ix0 + fx * p->dilation_w;
      if (ix < 0 || ix >= in.w) continue;
      const uint8_t *src = input + (((size_t)b * in.h + iy) * in.w + ix) * in.c;
      const int16_t *f = filter + wtf_dw_index(out_c, (size_t)fy * fw + fx, 0);
      for (int c = c_begin; c < in.c; c++)
        for (int m = 0; m < dm; m++) {
          int o = c * dm + m; /* block o/8, the odd half for odd o, lane o%8 */
          int32_t w = f[(size_t)(o >> 3) * 16 + (size_t)(o & 1) * 8 + (size_t)(o & 7)];
          acc[o] = (int32_t)((uint32_t)acc[o] + (uint32_t)((src[c] + p->input_offset) * w));
        }
    }
  }
  for (int o = o_begin; o < out_c; o++) dst[o] = wtf_requantize(acc[o], p);
}

#ifdef WAGI_SIMD128
/* Taps of one output pixel that fall inside the input: the input offset
 * (bytes from the image's start) and the filter offset (int16) of each. */
#define WTF_DW_MAX_TAPS 64

/* Depth multiplier 1: eight channels at a time over a flat list of the
 * pixel's taps, requantized and stored as eight bytes. Returns the channels
 * done (a multiple of 8; 0 when the filter has too many taps for the list);
 * the rest go through the scalar loop. */
static int wtf_depthwise_pixel_simd(const wagi_tflite_conv_params *p, wagi_tflite_dims in,
                                    const uint8_t *input, int b, int oy, int ox, int fh, int fw,
                                    const int16_t *filter, const int32_t *bias_eo, const wtf_rq *q,
                                    uint8_t *dst) {
  if (fh * fw > WTF_DW_MAX_TAPS) return 0;
  int c8 = in.c & ~7;
  size_t blocks = (size_t)((in.c + 7) / 8);
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  size_t src_off[WTF_DW_MAX_TAPS], filt_off[WTF_DW_MAX_TAPS];
  int ntaps = 0;
  for (int fy = 0; fy < fh; fy++) {
    int iy = iy0 + fy * p->dilation_h;
    if (iy < 0 || iy >= in.h) continue;
    for (int fx = 0; fx < fw; fx++) {
      int ix = ix0 + fx * p->dilation_w;
      if (ix < 0 || ix >= in.w) continue;
      src_off[ntaps] = (((size_t)b * in.h + iy) * in.w + ix) * in.c;
      filt_off[ntaps] = ((size_t)fy * fw + fx) * blocks * 16;
      ntaps++;
    }
  }
  v128_t off = wasm_i16x8_splat((int16_t)p->input_offset);
  for (int c = 0; c < c8; c += 8) {
    v128_t even = wasm_v128_load(bias_eo + c), odd = wasm_v128_load(bias_eo + c + 4);
    const uint8_t *src = input + c;
    const int16_t *f = filter + (size_t)(c / 8) * 16;
    for (int t = 0; t < ntaps; t++) {
      v128_t x = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(wasm_v128_load64_zero(src + src_off[t])), off);
      even = wasm_i32x4_add(even, wasm_i32x4_dot_i16x8(x, wasm_v128_load(f + filt_off[t])));
      odd = wasm_i32x4_add(odd, wasm_i32x4_dot_i16x8(x, wasm_v128_load(f + filt_off[t] + 8)));
    }
    wasm_v128_store64_lane(dst + c, wtf_requantize8(even, odd, q), 0);
  }
  return c8;
}

/* Is every tap of output pixel (oy, ox) inside the input? */
static int wtf_dw_inside(const wagi_tflite_conv_params *p, wagi_tflite_dims in, int oy, int ox, int fh, int fw) {
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  return iy0 >= 0 && iy0 + (fh - 1) * p->dilation_h < in.h && ix0 >= 0 && ix0 + (fw - 1) * p->dilation_w < in.w;
}

/* Two horizontally adjacent output pixels whose taps are all inside the
 * input: each weight load serves both. Returns the channels done. */
static int wtf_depthwise_pair_simd(const wagi_tflite_conv_params *p, wagi_tflite_dims in, const uint8_t *input,
                                   int b, int oy, int ox, int fh, int fw, const int16_t *filter,
                                   const int32_t *bias_eo, const wtf_rq *q, uint8_t *dst0, uint8_t *dst1) {
  if (fh * fw > WTF_DW_MAX_TAPS) return 0;
  int c8 = in.c & ~7;
  size_t blocks = (size_t)((in.c + 7) / 8);
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  size_t src_off[WTF_DW_MAX_TAPS], filt_off[WTF_DW_MAX_TAPS];
  int ntaps = 0;
  for (int fy = 0; fy < fh; fy++)
    for (int fx = 0; fx < fw; fx++, ntaps++) {
      src_off[ntaps] = (((size_t)b * in.h + iy0 + fy * p->dilation_h) * in.w + ix0 + fx * p->dilation_w) * in.c;
      filt_off[ntaps] = ((size_t)fy * fw + fx) * blocks * 16;
    }
  size_t next = (size_t)p->stride_w * in.c; /* the second pixel's input, relative to the first's */
  v128_t off = wasm_i16x8_splat((int16_t)p->input_offset);
  for (int c = 0; c < c8; c += 8) {
    v128_t even0 = wasm_v128_load(bias_eo + c), odd0 = wasm_v128_load(bias_eo + c + 4);
    v128_t even1 = even0, odd1 = odd0;
    const uint8_t *src = input + c;
    const int16_t *f = filter + (size_t)(c / 8) * 16;
    for (int t = 0; t < ntaps; t++) {
      const uint8_t *s = src + src_off[t];
      v128_t x0 = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(wasm_v128_load64_zero(s)), off);
      v128_t x1 = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(wasm_v128_load64_zero(s + next)), off);
      v128_t we = wasm_v128_load(f + filt_off[t]), wo = wasm_v128_load(f + filt_off[t] + 8);
      even0 = wasm_i32x4_add(even0, wasm_i32x4_dot_i16x8(x0, we));
      odd0 = wasm_i32x4_add(odd0, wasm_i32x4_dot_i16x8(x0, wo));
      even1 = wasm_i32x4_add(even1, wasm_i32x4_dot_i16x8(x1, we));
      odd1 = wasm_i32x4_add(odd1, wasm_i32x4_dot_i16x8(x1, wo));
    }
    wasm_v128_store64_lane(dst0 + c, wtf_requantize8(even0, odd0, q), 0);
    wasm_v128_store64_lane(dst1 + c, wtf_requantize8(even1, odd1, q), 0);
  }
  return c8;
}
#endif

void wagi_tflite_depthwise_conv2d(const wagi_tflite_conv_params *p, wagi_tflite_dims in,
                                  const uint8_t *input, int filter_h, int filter_w,
                                  const int16_t *filter, const int32_t *bias, wagi_tflite_dims out,
                                  uint8_t *output, void *scratch) {
  int32_t *acc = scratch;
#ifdef WAGI_SIMD128
  int simd = wagi_tflite_simd && p->depth_multiplier == 1 && in.c >= 8 && p->output_shift <= 0;
  int32_t *bias_eo = acc + ((out.c + 7) & ~7); /* after the scalar accumulators */
  wtf_rq q = wtf_rq_make(p);
  if (simd)
    for (int o = 0; o < (out.c & ~7); o++) {
      int ch = (o & ~7) + (o & 4 ? 1 : 0) + (o & 3) * 2;
      bias_eo[o] = bias ? bias[ch] : 0;
    }
#endif
  for (int b = 0; b < out.n; b++)
    for (int oy = 0; oy < out.h; oy++)
      for (int ox = 0; ox < out.w; ox++) {
        uint8_t *dst = output + (((size_t)b * out.h + oy) * out.w + ox) * out.c;
        int done = 0;
#ifdef WAGI_SIMD128
        if (simd && ox + 1 < out.w && wtf_dw_inside(p, in, oy, ox, filter_h, filter_w) &&
            wtf_dw_inside(p, in, oy, ox + 1, filter_h, filter_w)) {
          done = wtf_depthwise_pair_simd(p, in, input, b, oy, ox, filter_h, filter_w, filter, bias_eo, &q, dst,
                                         dst + out.c);
          if (done > 0) {
            if (done < in.c) /* the channels after the last 8, of both pixels */
              for (int k = 0; k < 2; k++)
                wtf_depthwise_pixel_scalar(p, in, input, b, oy, ox + k, filter_h, filter_w, filter, bias, out.c,
                                           done, acc, dst + k * out.c);
            ox++;
            continue;
          }
        }
        if (simd)
          done = wtf_depthwise_pixel_simd(p, in, input, b, oy, ox, filter_h, filter_w, filter, bias_eo, &q, dst);
#endif
        if (done < in.c)
          wtf_depthwise_pixel_scalar(p, in, input, b, oy, ox, filter_h, filter_w, filter, bias, out.c, done, acc,
                                     dst);
      }
}

/* ---- AVERAGE_POOL_2D ---- */

int wagi_tflite_average_pool(const wagi_tflite_pool_params *p, wagi_tflite_dims in,
                             const uint8_t *input, wagi_tflite_dims out, uint8_t *output) {
  for (int b = 0; b < out.n; b++)
    for (int oy = 0; oy < out.h; oy++)
      for (int ox = 0; ox < out.w; ox++) {
        int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
        int fy0 = iy0 < 0 ? -iy0 : 0, fx0 = ix0 < 0 ? -ix0 : 0;
        int fy1 = in.h - iy0 < p->filter_h ? in.h - iy0 : p->filter_h;
        int fx1 = in.w - ix0 < p->filter_w ? in.w - ix0 : p->filter_w;
        int64_t count = (int64_t)(fy1 - fy0) * (fx1 - fx0);
        if (fy1 <= fy0 || fx1 <= fx0) return -1;
        uint8_t *dst = output + (((size_t)b * out.h + oy) * out.w + ox) * out.c;
        for (int c = 0; c < out.c; c++) {
          int64_t acc = 0; /* a window of 2^24 bytes or more would overflow int32 */
          for (int fy = fy0; fy < fy1; fy++)
            for (int fx = fx0; fx < fx1; fx++)
              acc += input[(((size_t)b * in.h + iy0 + fy) * in.w + ix0 + fx) * in.c + c];
          acc = (acc + count / 2) / count;
          if (acc < p->act_min) acc = p->act_min;
          if (acc > p->act_max) acc = p->act_max;
          dst[c] = (uint8_t)acc;
        }
      }
  return 0;
}

/* ---- ADD ---- */

void wagi_tflite_add_prepare(float in1_scale, int32_t in1_zp, float in2_scale, int32_t in2_zp,
                             float out_scale, int32_t out_zp, int32_t act_min, int32_t act_max,
                             wagi_tflite_add_params *p) {
  p->input1_offset = -in1_zp;
  p->input2_offset = -in2_zp;
  p->output_offset = out_zp;
  p->left_shift = 20;
  /* The float/double mix is TFLite's: the max and the doubling in float. */
  float twice_max_f = 2 * (in1_scale > in2_scale ? in1_scale : in2_scale);
  double twice_max = twice_max_f;
  double real1 = in1_scale / twice_max, real2 = in2_scale / twice_max;
  double real_out = twice_max / (double)((float)(1 << p->left_shift) * out_scale);
  wagi_tflite_quantize_multiplier(real1, &p->input1_multiplier, &p->input1_shift);
  wagi_tflite_quantize_multiplier(real2, &p->input2_multiplier, &p->input2_shift);
  wagi_tflite_quantize_multiplier(real_out, &p->output_multiplier, &p->output_shift);
  p->act_min = act_min;
  p->act_max = act_max;
}

#ifdef WAGI_SIMD128
/* MultiplyByQuantizedMultiplierSmallerThanOneExp on four lanes (m2 = 2 *
 * multiplier, right = -shift >= 0): wtf_srdhm_halves, the two halves put
 * together, RoundingDivideByPOT. The lanes come out in the order
 * [0, 2, 1, 3]; doing this twice gives the original order back. */
static inline v128_t wtf_mbqm_permuted(v128_t x, v128_t m, v128_t m2, v128_t half, int right) {
  v128_t lo, hi;
  wtf_srdhm_halves(x, m2, &lo, &hi);
  v128_t high = wasm_i64x2_splat((int64_t)0xffffffff00000000ull);
  v128_t r = wasm_i32x4_sub(wasm_v128_or(wasm_u64x2_shr(lo, 32), wasm_v128_and(hi, high)), wtf_opaque(m));
  if (right > 0)
    r = wasm_i32x4_shr(wasm_i32x4_add(wasm_i32x4_add(r, half), wasm_i32x4_lt(r, wasm_i32x4_splat(0))),
                       (uint32_t)wtf_opaque_int(right));
  return r;
}

/* Eight elements per step; the inputs' scaled values stay below 2^29 in
 * magnitude, so the rounding shift's addition cannot overflow. */
static size_t wtf_add_simd(const wagi_tflite_add_params *p, size_t n, const uint8_t *in1, const uint8_t *in2,
                           uint8_t *out) {
  if (p->left_shift > 20 || p->input1_shift > 0 || p->input2_shift > 0 || p->output_shift > 0) return 0;
  int r1 = -p->input1_shift, r2 = -p->input2_shift, ro = -p->output_shift;
  v128_t m1 = wasm_i32x4_splat(p->input1_multiplier), m2 = wasm_i32x4_splat(p->input2_multiplier);
  v128_t mo = wasm_i32x4_splat(p->output_multiplier);
  v128_t m1x2 = wasm_i32x4_splat((int32_t)((uint32_t)p->input1_multiplier * 2));
  v128_t m2x2 = wasm_i32x4_splat((int32_t)((uint32_t)p->input2_multiplier * 2));
  v128_t mox2 = wasm_i32x4_splat((int32_t)((uint32_t)p->output_multiplier * 2));
  v128_t h1 = wasm_i32x4_splat(r1 > 0 ? (int32_t)(1u << (r1 - 1)) : 0);
  v128_t h2 = wasm_i32x4_splat(r2 > 0 ? (int32_t)(1u << (r2 - 1)) : 0);
  v128_t ho = wasm_i32x4_splat(ro > 0 ? (int32_t)(1u << (ro - 1)) : 0);
  v128_t off1 = wasm_i32x4_splat(p->input1_offset), off2 = wasm_i32x4_splat(p->input2_offset);
  v128_t offo = wasm_i32x4_splat(p->output_offset);
  v128_t lo = wasm_i32x4_splat(p->act_min), hi = wasm_i32x4_splat(p->act_max);
  v128_t low16 = wasm_i32x4_splat(0xffff);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    /* eight bytes as u16 lanes; viewed as i32 lanes, the low halves are the
     * even elements and the high halves the odd ones (no lane shuffles:
     * they are byte loops on the AOT tier's SSE2) */
    v128_t a = wasm_u16x8_extend_low_u8x16(wasm_v128_load64_zero(in1 + i));
    v128_t b = wasm_u16x8_extend_low_u8x16(wasm_v128_load64_zero(in2 + i));
    v128_t ae = wasm_v128_and(a, low16), ao = wasm_u32x4_shr(a, 16);
    v128_t be = wasm_v128_and(b, low16), bo = wasm_u32x4_shr(b, 16);
    int left = wtf_opaque_int(p->left_shift);
    ae = wasm_i32x4_shl(wasm_i32x4_add(ae, off1), (uint32_t)left);
    ao = wasm_i32x4_shl(wasm_i32x4_add(ao, off1), (uint32_t)left);
    be = wasm_i32x4_shl(wasm_i32x4_add(be, off2), (uint32_t)left);
    bo = wasm_i32x4_shl(wasm_i32x4_add(bo, off2), (uint32_t)left);
    v128_t se = wasm_i32x4_add(wtf_mbqm_permuted(ae, m1, m1x2, h1, r1), wtf_mbqm_permuted(be, m2, m2x2, h2, r2));
    v128_t so = wasm_i32x4_add(wtf_mbqm_permuted(ao, m1, m1x2, h1, r1), wtf_mbqm_permuted(bo, m2, m2x2, h2, r2));
    v128_t re = wasm_i32x4_add(wtf_mbqm_permuted(se, mo, mox2, ho, ro), offo);
    v128_t ro_ = wasm_i32x4_add(wtf_mbqm_permuted(so, mo, mox2, ho, ro), offo);
    re = wasm_i32x4_min(wasm_i32x4_max(re, lo), hi);
    ro_ = wasm_i32x4_min(wasm_i32x4_max(ro_, lo), hi);
    v128_t w = wasm_v128_or(re, wasm_i32x4_shl(ro_, 16)); /* u16 lanes in element order */
    wasm_v128_store64_lane(out + i, wasm_u8x16_narrow_i16x8(w, w), 0);
  }
  return i;
}
#endif

void wagi_tflite_add(const wagi_tflite_add_params *p, size_t n, const uint8_t *in1,
                     const uint8_t *in2, uint8_t *out) {
  size_t i = 0;
#ifdef WAGI_SIMD128
  if (wagi_tflite_simd) i = wtf_add_simd(p, n, in1, in2, out);
#endif
  for (; i < n; i++) {
    int32_t a = (in1[i] + p->input1_offset) * (1 << p->left_shift);
    int32_t b = (in2[i] + p->input2_offset) * (1 << p->left_shift);
    a = wagi_tflite_rounding_divide_by_pot(wagi_tflite_srdhm(a, p->input1_multiplier), -p->input1_shift);
    b = wagi_tflite_rounding_divide_by_pot(wagi_tflite_srdhm(b, p->input2_multiplier), -p->input2_shift);
    int32_t sum = a + b;
    int32_t r = wagi_tflite_rounding_divide_by_pot(wagi_tflite_srdhm(sum, p->output_multiplier),
                                                   -p->output_shift) +
                p->output_offset;
    if (r < p->act_min) r = p->act_min;
    if (r > p->act_max) r = p->act_max;
    out[i] = (uint8_t)r;
  }
}

/* ---- SOFTMAX (gemmlowp fixed point) ---- */

/* x * 2^exponent with saturation (exponent > 0) or rounding (< 0). */
static int32_t wtf_sat_mul_pot(int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return wagi_tflite_rounding_divide_by_pot(x, -exponent);
  int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), 0 integer bits in and out. */
static int32_t wtf_exp_quarter(int32_t a) {
  const int32_t constant_term = 1895147668; /* exp(-1/8) */
  const int32_t one_third = 715827883;
  int32_t x = a + (1 << 28); /* a + 1/8 */
  int32_t x2 = wagi_tflite_srdhm(x, x);
  int32_t x3 = wagi_tflite_srdhm(x2, x);
  int32_t x4 = wagi_tflite_srdhm(x2, x2);
  int32_t x4_over_4 = wtf_sat_mul_pot(x4, -2);
  int32_t poly = wtf_sat_mul_pot(wagi_tflite_srdhm(x4_over_4 + x3, one_third) + x2, -1);
  return constant_term + wagi_tflite_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0 given with `integer_bits` integer bits; result with 0. */
static int32_t wtf_exp_negative(int32_t a, int integer_bits) {
  int fractional_bits = 31 - integer_bits;
  int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  int32_t mask = one_quarter - 1;
  int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
  int32_t result = wtf_exp_quarter(wtf_sat_mul_pot(a_mod_quarter_minus_one_quarter, integer_bits));
  int32_t remainder = a_mod_quarter_minus_one_quarter - a;
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535,   720401,     242};
  for (int e = -2; e <= 4; e++) {
    if (integer_bits > e && (remainder & ((int32_t)1 << (fractional_bits + e))))
      result = wagi_tflite_srdhm(result, multipliers[e + 2]);
  }
  if (integer_bits > 5) {
    int32_t clamp = -((int32_t)1 << (36 - integer_bits)); /* -32 */
    if (a < clamp) result = 0;
  }
  if (a == 0) result = INT32_MAX;
  return result;
}

/* 1 / (1 + x) for x in [0, 1), 0 integer bits in and out (Newton-Raphson). */
static int32_t wtf_one_over_one_plus_x(int32_t a) {
  int64_t sum = (int64_t)a + INT32_MAX;
  int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t c48_17 = 1515870810, cneg32_17 = -1010580540; /* 2 integer bits */
  int32_t x = c48_17 + wagi_tflite_srdhm(half_denominator, cneg32_17);
  const int32_t one_f2 = 1 << 29; /* 1.0 with 2 integer bits */
  for (int i = 0; i < 3; i++) {
    int32_t hdx = wagi_tflite_srdhm(half_denominator, x);
    int32_t one_minus = one_f2 - hdx;
    x = x + wtf_sat_mul_pot(wagi_tflite_srdhm(x, one_minus), 2);
  }
  /* ExactMulByPot<-1> then Rescale<0>: from 1 integer bit to 0 */
  return wtf_sat_mul_pot(x, 1);
}

static int wtf_clz32(uint32_t x) {
  int n = 0;
  if (x == 0) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    n++;
  }
  return n;
}

void wagi_tflite_softmax_prepare(double beta, float input_scale, wagi_tflite_softmax_params *p) {
  const int scaled_diff_integer_bits = 5;
  double real = beta * input_scale * (double)(1 << (31 - scaled_diff_integer_bits));
  if (real > (double)((1ll << 31) - 1)) real = (double)((1ll << 31) - 1);
  wagi_tflite_quantize_multiplier(real, &p->input_multiplier, &p->input_left_shift);
  /* ldexp: a tiny beta x scale gives a negative shift (which the model
   * loader then refuses), and 1 << negative is undefined */
  double max_input_rescaled = ldexp(((1 << scaled_diff_integer_bits) - 1) * (double)(1ll << (31 - scaled_diff_integer_bits)),
                                    -p->input_left_shift);
  p->diff_min = max_input_rescaled < 2e9 ? -(int)floor(max_input_rescaled) : -2000000000;
}

void wagi_tflite_softmax(const wagi_tflite_softmax_params *p, size_t rows, size_t depth,
                         const uint8_t *input, uint8_t *output) {
  const int scaled_diff_integer_bits = 5, accumulation_integer_bits = 12;
  for (size_t r = 0; r < rows; r++) {
    const uint8_t *in = input + r * depth;
    uint8_t *out = output + r * depth;
    uint8_t max_in_row = 0;
    for (size_t c = 0; c < depth; c++)
      if (in[c] > max_in_row) max_in_row = in[c];
    int64_t sum_of_exps = 0; /* 12 integer bits; int64: rows over 4096 wide could overflow */
    for (size_t c = 0; c < depth; c++) {
      int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        int32_t rescaled = wagi_tflite_srdhm(diff * (1 << p->input_left_shift), p->input_multiplier);
        int32_t e = wtf_exp_negative(rescaled, scaled_diff_integer_bits);
        sum_of_exps += wtf_sat_mul_pot(e, -accumulation_integer_bits);
      }
    }
    if (sum_of_exps > INT32_MAX) sum_of_exps = INT32_MAX;
    /* GetReciprocal */
    int headroom_plus_one = wtf_clz32((uint32_t)sum_of_exps);
    int num_bits_over_unit = accumulation_integer_bits - headroom_plus_one;
    int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
    int32_t shifted_scale = wtf_one_over_one_plus_x(shifted_sum_minus_one);
    for (size_t c = 0; c < depth; c++) {
      int32_t diff = (int32_t)in[c] - max_in_row;
      int32_t v = 0;
      if (diff >= p->diff_min) {
        int32_t rescaled = wagi_tflite_srdhm(diff * (1 << p->input_left_shift), p->input_multiplier);
        int32_t e = wtf_exp_negative(rescaled, scaled_diff_integer_bits);
        /* A sum of exps of 512 or more makes the shift 32 or more, where
         * TFLite's shift is undefined; every value then rounds to 0 (each
         * probability is below 1/512). */
        int shift = num_bits_over_unit + 31 - 8;
        v = shift > 31 ? 0 : wagi_tflite_rounding_divide_by_pot(wagi_tflite_srdhm(shifted_scale, e), shift);
        if (v > 255) v = 255;
        if (v < 0) v = 0;
      }
      out[c] = (uint8_t)v;
    }
  }
}
