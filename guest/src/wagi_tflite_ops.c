/* wagi_tflite_ops.c — TFLite's uint8 kernels (see wagi_tflite_ops.h). The
 * integer semantics follow TFLite's reference kernels and gemmlowp's
 * fixed-point primitives; the loops are our own, arranged for SIMD128:
 * convolutions gather each output pixel's receptive field into an int16 row
 * (input + input_offset, 0 for padding) and take dot products with the int16
 * filter rows, so a 1x1 convolution is a plain GEMM. */
#include "wagi_tflite_ops.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

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

int32_t wagi_tflite_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / (1ll << 31));
}

int32_t wagi_tflite_rounding_divide_by_pot(int32_t x, int exp) {
  int32_t mask = (int32_t)((1ll << exp) - 1);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exp) + (remainder > threshold ? 1 : 0);
}

int32_t wagi_tflite_mul_by_quantized(int32_t x, int32_t quantized, int shift) {
  int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  /* x * 2^left in unsigned arithmetic: TFLite's multiplication wraps the
   * same way on every target it runs on, and this keeps UBSan quiet. */
  int32_t shifted = (int32_t)((uint32_t)x << left);
  return wagi_tflite_rounding_divide_by_pot(wagi_tflite_srdhm(shifted, quantized), right);
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

void wagi_tflite_filter_to_i16(const uint8_t *filter, size_t n, int32_t filter_offset,
                               int16_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = (int16_t)(filter[i] + filter_offset);
}

static inline uint8_t wtf_requantize(int32_t acc, const wagi_tflite_conv_params *p) {
  int32_t v = wagi_tflite_mul_by_quantized(acc, p->output_multiplier, p->output_shift);
  v += p->output_offset;
  if (v < p->act_min) v = p->act_min;
  if (v > p->act_max) v = p->act_max;
  return (uint8_t)v;
}

/* ---- CONV_2D ---- */

/* Output pixels gathered per pass: the SIMD kernel takes them two at a time
 * against four filter rows, reusing every load. */
#define WTF_CONV_PIXELS 4

static size_t wtf_align16(size_t n) { return (n + 15) & ~(size_t)15; }

size_t wagi_tflite_conv_scratch(int filter_h, int filter_w, int in_c, int out_c) {
  size_t k = (size_t)filter_h * filter_w * in_c;
  return wtf_align16(WTF_CONV_PIXELS * k * sizeof(int16_t)) +
         wtf_align16(WTF_CONV_PIXELS * (size_t)out_c * sizeof(int32_t));
}

/* One output pixel's receptive field as int16: input + input_offset, and 0
 * where the window hangs over the edge (TFLite skips those taps). */
static void wtf_im2col(const wagi_tflite_conv_params *p, wagi_tflite_dims in, const uint8_t *input,
                       int b, int oy, int ox, int fh, int fw, int16_t *col) {
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  int c = in.c;
  int16_t off = (int16_t)p->input_offset;
  for (int fy = 0; fy < fh; fy++) {
    int iy = iy0 + fy * p->dilation_h;
    for (int fx = 0; fx < fw; fx++, col += c) {
      int ix = ix0 + fx * p->dilation_w;
      if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
        memset(col, 0, (size_t)c * sizeof *col);
        continue;
      }
      const uint8_t *src = input + (((size_t)b * in.h + iy) * in.w + ix) * c;
      for (int i = 0; i < c; i++) col[i] = (int16_t)(src[i] + off);
    }
  }
}

/* Accumulators wrap around in uint32 as TFLite's int32 ones do on real
 * hardware (and SIMD128's do): only a hostile model gets there, and C's
 * signed overflow must not be what happens then. */
static int32_t wtf_dot_scalar(const int16_t *a, const int16_t *b, size_t k) {
  uint32_t s = 0;
  for (size_t i = 0; i < k; i++) s += (uint32_t)((int32_t)a[i] * b[i]);
  return (int32_t)s;
}

static void wtf_gemm_scalar(size_t np, size_t k, int out_c, const int16_t *cols,
                            const int16_t *filter, int32_t *acc) {
  for (size_t i = 0; i < np; i++)
    for (int o = 0; o < out_c; o++) acc[i * out_c + o] = wtf_dot_scalar(cols + i * k, filter + (size_t)o * k, k);
}

#ifdef __wasm_simd128__
static inline int32_t wtf_hsum(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
         wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

/* acc[i][o] = cols[i] . filter[o], two pixels x four filter rows per block
 * with i32x4.dot_i16x8_s (exact: int32 sums of int16 products). */
static void wtf_gemm_simd(size_t np, size_t k, int out_c, const int16_t *cols,
                          const int16_t *filter, int32_t *acc) {
  size_t k8 = k & ~(size_t)7;
  size_t i = 0;
  for (; i + 2 <= np; i += 2) {
    const int16_t *c0 = cols + i * k, *c1 = c0 + k;
    int o = 0;
    for (; o + 4 <= out_c; o += 4) {
      const int16_t *f0 = filter + (size_t)o * k, *f1 = f0 + k, *f2 = f1 + k, *f3 = f2 + k;
      v128_t a00 = wasm_i32x4_splat(0), a01 = a00, a02 = a00, a03 = a00;
      v128_t a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      for (size_t j = 0; j < k8; j += 8) {
        v128_t x0 = wasm_v128_load(c0 + j), x1 = wasm_v128_load(c1 + j);
        v128_t w0 = wasm_v128_load(f0 + j), w1 = wasm_v128_load(f1 + j);
        v128_t w2 = wasm_v128_load(f2 + j), w3 = wasm_v128_load(f3 + j);
        a00 = wasm_i32x4_add(a00, wasm_i32x4_dot_i16x8(x0, w0));
        a01 = wasm_i32x4_add(a01, wasm_i32x4_dot_i16x8(x0, w1));
        a02 = wasm_i32x4_add(a02, wasm_i32x4_dot_i16x8(x0, w2));
        a03 = wasm_i32x4_add(a03, wasm_i32x4_dot_i16x8(x0, w3));
        a10 = wasm_i32x4_add(a10, wasm_i32x4_dot_i16x8(x1, w0));
        a11 = wasm_i32x4_add(a11, wasm_i32x4_dot_i16x8(x1, w1));
        a12 = wasm_i32x4_add(a12, wasm_i32x4_dot_i16x8(x1, w2));
        a13 = wasm_i32x4_add(a13, wasm_i32x4_dot_i16x8(x1, w3));
      }
      int32_t *r0 = acc + i * out_c + o, *r1 = r0 + out_c;
      r0[0] = wtf_hsum(a00) + wtf_dot_scalar(c0 + k8, f0 + k8, k - k8);
      r0[1] = wtf_hsum(a01) + wtf_dot_scalar(c0 + k8, f1 + k8, k - k8);
      r0[2] = wtf_hsum(a02) + wtf_dot_scalar(c0 + k8, f2 + k8, k - k8);
      r0[3] = wtf_hsum(a03) + wtf_dot_scalar(c0 + k8, f3 + k8, k - k8);
      r1[0] = wtf_hsum(a10) + wtf_dot_scalar(c1 + k8, f0 + k8, k - k8);
      r1[1] = wtf_hsum(a11) + wtf_dot_scalar(c1 + k8, f1 + k8, k - k8);
      r1[2] = wtf_hsum(a12) + wtf_dot_scalar(c1 + k8, f2 + k8, k - k8);
      r1[3] = wtf_hsum(a13) + wtf_dot_scalar(c1 + k8, f3 + k8, k - k8);
    }
    for (; o < out_c; o++) {
      const int16_t *f = filter + (size_t)o * k;
      v128_t a0 = wasm_i32x4_splat(0), a1 = a0;
      for (size_t j = 0; j < k8; j += 8) {
        v128_t w = wasm_v128_load(f + j);
        a0 = wasm_i32x4_add(a0, wasm_i32x4_dot_i16x8(wasm_v128_load(c0 + j), w));
        a1 = wasm_i32x4_add(a1, wasm_i32x4_dot_i16x8(wasm_v128_load(c1 + j), w));
      }
      acc[i * out_c + o] = wtf_hsum(a0) + wtf_dot_scalar(c0 + k8, f + k8, k - k8);
      acc[(i + 1) * out_c + o] = wtf_hsum(a1) + wtf_dot_scalar(c1 + k8, f + k8, k - k8);
    }
  }
  for (; i < np; i++) {
    const int16_t *c0 = cols + i * k;
    for (int o = 0; o < out_c; o++) {
      const int16_t *f = filter + (size_t)o * k;
      v128_t a0 = wasm_i32x4_splat(0);
      for (size_t j = 0; j < k8; j += 8)
        a0 = wasm_i32x4_add(a0, wasm_i32x4_dot_i16x8(wasm_v128_load(c0 + j), wasm_v128_load(f + j)));
      acc[i * out_c + o] = wtf_hsum(a0) + wtf_dot_scalar(c0 + k8, f + k8, k - k8);
    }
  }
}
#endif

void wagi_tflite_conv2d(const wagi_tflite_conv_params *p, wagi_tflite_dims in, const uint8_t *input,
                        int filter_h, int filter_w, const int16_t *filter, const int32_t *bias,
                        wagi_tflite_dims out, uint8_t *output, void *scratch) {
  size_t k = (size_t)filter_h * filter_w * in.c;
  int16_t *cols = scratch;
  int32_t *acc = (int32_t *)((char *)scratch + wtf_align16(WTF_CONV_PIXELS * k * sizeof(int16_t)));
  size_t pixels = (size_t)out.n * out.h * out.w;
  for (size_t p0 = 0; p0 < pixels; p0 += WTF_CONV_PIXELS) {
    size_t np = pixels - p0 < WTF_CONV_PIXELS ? pixels - p0 : WTF_CONV_PIXELS;
    for (size_t i = 0; i < np; i++) {
      size_t px = p0 + i;
      int ox = (int)(px % out.w), oy = (int)(px / out.w % out.h), b = (int)(px / out.w / out.h);
      wtf_im2col(p, in, input, b, oy, ox, filter_h, filter_w, cols + i * k);
    }
#ifdef __wasm_simd128__
    if (wagi_tflite_simd)
      wtf_gemm_simd(np, k, out.c, cols, filter, acc);
    else
#endif
      wtf_gemm_scalar(np, k, out.c, cols, filter, acc);
    uint8_t *dst = output + p0 * out.c;
    for (size_t i = 0; i < np; i++)
      for (int o = 0; o < out.c; o++) {
        int32_t a = (int32_t)((uint32_t)acc[i * out.c + o] + (uint32_t)(bias ? bias[o] : 0));
        dst[i * out.c + o] = wtf_requantize(a, p);
      }
  }
}

/* ---- DEPTHWISE_CONV_2D ---- */

size_t wagi_tflite_depthwise_scratch(int out_c) { return wtf_align16((size_t)out_c * sizeof(int32_t)); }

/* Channels from c_begin on (those before it done by the SIMD loop), all of
 * them when the depth multiplier is not 1. */
static void wtf_depthwise_pixel_scalar(const wagi_tflite_conv_params *p, wagi_tflite_dims in,
                                       const uint8_t *input, int b, int oy, int ox, int fh, int fw,
                                       const int16_t *filter, int out_c, int c_begin,
                                       int32_t *acc) {
  int dm = p->depth_multiplier;
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  for (int fy = 0; fy < fh; fy++) {
    int iy = iy0 + fy * p->dilation_h;
    if (iy < 0 || iy >= in.h) continue;
    for (int fx = 0; fx < fw; fx++) {
      int ix = ix0 + fx * p->dilation_w;
      if (ix < 0 || ix >= in.w) continue;
      const uint8_t *src = input + (((size_t)b * in.h + iy) * in.w + ix) * in.c;
      const int16_t *f = filter + ((size_t)fy * fw + fx) * out_c;
      if (dm == 1) {
        for (int c = c_begin; c < in.c; c++)
          acc[c] = (int32_t)((uint32_t)acc[c] + (uint32_t)((src[c] + p->input_offset) * f[c]));
      } else {
        for (int c = 0; c < in.c; c++)
          for (int m = 0; m < dm; m++)
            acc[c * dm + m] =
                (int32_t)((uint32_t)acc[c * dm + m] + (uint32_t)((src[c] + p->input_offset) * f[c * dm + m]));
      }
    }
  }
}

#ifdef __wasm_simd128__
/* Depth multiplier 1: eight channels at a time, int16 products widened into
 * two i32x4 accumulators; the remainder goes through the scalar loop. */
static int wtf_depthwise_pixel_simd(const wagi_tflite_conv_params *p, wagi_tflite_dims in,
                                    const uint8_t *input, int b, int oy, int ox, int fh, int fw,
                                    const int16_t *filter, int32_t *acc) {
  int c8 = in.c & ~7;
  int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  v128_t off = wasm_i16x8_splat((int16_t)p->input_offset);
  for (int c = 0; c < c8; c += 8) {
    v128_t lo = wasm_v128_load(acc + c), hi = wasm_v128_load(acc + c + 4);
    for (int fy = 0; fy < fh; fy++) {
      int iy = iy0 + fy * p->dilation_h;
      if (iy < 0 || iy >= in.h) continue;
      for (int fx = 0; fx < fw; fx++) {
        int ix = ix0 + fx * p->dilation_w;
        if (ix < 0 || ix >= in.w) continue;
        const uint8_t *src = input + (((size_t)b * in.h + iy) * in.w + ix) * in.c + c;
        v128_t x = wasm_i16x8_add(wasm_u16x8_load8x8(src), off);
        v128_t w = wasm_v128_load(filter + ((size_t)fy * fw + fx) * in.c + c);
        lo = wasm_i32x4_add(lo, wasm_i32x4_extmul_low_i16x8(x, w));
        hi = wasm_i32x4_add(hi, wasm_i32x4_extmul_high_i16x8(x, w));
      }
    }
    wasm_v128_store(acc + c, lo);
    wasm_v128_store(acc + c + 4, hi);
  }
  return c8;
}
#endif

void wagi_tflite_depthwise_conv2d(const wagi_tflite_conv_params *p, wagi_tflite_dims in,
                                  const uint8_t *input, int filter_h, int filter_w,
                                  const int16_t *filter, const int32_t *bias, wagi_tflite_dims out,
                                  uint8_t *output, void *scratch) {
  int32_t *acc = scratch;
  for (int b = 0; b < out.n; b++)
    for (int oy = 0; oy < out.h; oy++)
      for (int ox = 0; ox < out.w; ox++) {
        for (int o = 0; o < out.c; o++) acc[o] = bias ? bias[o] : 0;
#ifndef __wasm_simd128__
        const int done = 0;
#else
        int done = 0;
        if (wagi_tflite_simd && p->depth_multiplier == 1)
          done = wtf_depthwise_pixel_simd(p, in, input, b, oy, ox, filter_h, filter_w, filter, acc);
#endif
        wtf_depthwise_pixel_scalar(p, in, input, b, oy, ox, filter_h, filter_w, filter, out.c, done,
                                   acc);
        uint8_t *dst = output + (((size_t)b * out.h + oy) * out.w + ox) * out.c;
        for (int o = 0; o < out.c; o++) dst[o] = wtf_requantize(acc[o], p);
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

void wagi_tflite_add(const wagi_tflite_add_params *p, size_t n, const uint8_t *in1,
                     const uint8_t *in2, uint8_t *out) {
  for (size_t i = 0; i < n; i++) {
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
  double max_input_rescaled = 1.0 * ((1 << scaled_diff_integer_bits) - 1) *
                              (double)(1ll << (31 - scaled_diff_integer_bits)) /
                              (double)(1ll << p->input_left_shift);
  p->diff_min = -(int)floor(max_input_rescaled);
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
