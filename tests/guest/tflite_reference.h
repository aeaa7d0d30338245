/* tflite_reference.h — the plain reference arithmetic the wagi_tflite tests
 * check the library against: TFLite's uint8 kernels written the slow,
 * obvious way (nested loops straight from TFLite's definitions, raw uint8
 * filters with their zero points) and the fixed-point primitives restated
 * in 64-bit arithmetic (SaturatingRoundingDoublingHighMul as round-half-up
 * of a*b/2^31, RoundingDivideByPOT as round-half-away-from-zero of x/2^e).
 * Shared by test_tflite_ops.c (kernel by kernel, random tensors) and
 * test_tflite_model.c (the whole MobileNetV2). Nothing here comes from
 * guest/src; only the plain structs of wagi_tflite_ops.h are used. */
#ifndef TFLITE_REFERENCE_H
#define TFLITE_REFERENCE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "wagi_tflite_ops.h"

/* ---- reference fixed point ---- */

static inline int32_t ref_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  /* floor((a*b + 2^30) / 2^31), i.e. a*b/2^31 rounded half up */
  int64_t ab = (int64_t)a * b + ((int64_t)1 << 30);
  int64_t q = ab / ((int64_t)1 << 31);
  if (ab % ((int64_t)1 << 31) != 0 && ab < 0) q -= 1;
  return (int32_t)q;
}

static inline int32_t ref_rdbpot(int32_t x, int e) {
  if (e == 0) return x;
  int64_t half = (int64_t)1 << (e - 1), mag = x < 0 ? -(int64_t)x : x;
  int64_t q = (mag + half) >> e; /* magnitudes rounded half up = away from zero */
  return (int32_t)(x < 0 ? -q : q);
}

static inline int32_t ref_mbqm(int32_t x, int32_t qm, int shift) {
  int64_t shifted = (int64_t)x * ((int64_t)1 << (shift > 0 ? shift : 0));
  return ref_rdbpot(ref_srdhm((int32_t)shifted, qm), shift > 0 ? 0 : -shift);
}

/* real = m * 2^e with m in [0.5, 1) found by halving/doubling, then m*2^31
 * rounded half away from zero (C's round). */
static inline void ref_quantize_multiplier(double real, int32_t *qm, int *shift) {
  if (real == 0) {
    *qm = 0;
    *shift = 0;
    return;
  }
  int e = 0;
  double m = real;
  while (m >= 1.0) m /= 2, e++;
  while (m < 0.5) m *= 2, e--;
  int64_t q = (int64_t)round(m * 2147483648.0);
  if (q == ((int64_t)1 << 31)) q /= 2, e++;
  if (e < -31) e = 0, q = 0;
  *qm = (int32_t)q;
  *shift = e;
}

typedef struct {
  float scale;
  int32_t zp;
} quant;

/* Activation range as TFLite computes it (float division, round). */
static inline void ref_act_range(int act, quant o, int32_t *lo, int32_t *hi) {
  int32_t q0 = o.zp + (int32_t)roundf(0.0f / o.scale), q6 = o.zp + (int32_t)roundf(6.0f / o.scale);
  int32_t qm1 = o.zp + (int32_t)roundf(-1.0f / o.scale), q1 = o.zp + (int32_t)roundf(1.0f / o.scale);
  *lo = 0;
  *hi = 255;
  if (act == 1 || act == 3) *lo = q0 > 0 ? q0 : 0;
  if (act == 3) *hi = q6 < 255 ? q6 : 255;
  if (act == 2) {
    *lo = qm1 > 0 ? qm1 : 0;
    *hi = q1 < 255 ? q1 : 255;
  }
}

static inline uint8_t ref_clamp(int32_t v, int32_t lo, int32_t hi) { return (uint8_t)(v < lo ? lo : v > hi ? hi : v); }

typedef struct {
  wagi_tflite_dims in, out;
  int fh, fw, same, dm, depthwise;
  wagi_tflite_conv_params p;
  int32_t filter_zp;
} conv_case;

static inline void ref_conv(const conv_case *c, const uint8_t *in, const uint8_t *filter, const int32_t *bias,
                     uint8_t *out) {
  const wagi_tflite_conv_params *p = &c->p;
  for (int b = 0; b < c->out.n; b++)
    for (int oy = 0; oy < c->out.h; oy++)
      for (int ox = 0; ox < c->out.w; ox++)
        for (int oc = 0; oc < c->out.c; oc++) {
          int32_t acc = 0;
          for (int fy = 0; fy < c->fh; fy++)
            for (int fx = 0; fx < c->fw; fx++) {
              int iy = oy * p->stride_h - p->pad_h + fy * p->dilation_h;
              int ix = ox * p->stride_w - p->pad_w + fx * p->dilation_w;
              if (iy < 0 || iy >= c->in.h || ix < 0 || ix >= c->in.w) continue;
              if (c->depthwise) {
                int ic = oc / c->dm;
                int32_t x = in[((b * c->in.h + iy) * c->in.w + ix) * c->in.c + ic] + p->input_offset;
                int32_t w = filter[(fy * c->fw + fx) * c->out.c + oc] - c->filter_zp;
                acc += x * w;
              } else {
                for (int ic = 0; ic < c->in.c; ic++) {
                  int32_t x = in[((b * c->in.h + iy) * c->in.w + ix) * c->in.c + ic] + p->input_offset;
                  int32_t w = filter[((oc * c->fh + fy) * c->fw + fx) * c->in.c + ic] - c->filter_zp;
                  acc += x * w;
                }
              }
            }
          if (bias) acc += bias[oc];
          int32_t v = ref_mbqm(acc, p->output_multiplier, p->output_shift) + p->output_offset;
          out[((b * c->out.h + oy) * c->out.w + ox) * c->out.c + oc] = ref_clamp(v, p->act_min, p->act_max);
        }
}

/* AVERAGE_POOL_2D: the mean of the window's inside values, rounded half up. */
static inline void ref_average_pool(const wagi_tflite_pool_params *p, wagi_tflite_dims in, const uint8_t *x,
                             wagi_tflite_dims out, uint8_t *y) {
  for (int b = 0; b < out.n; b++)
    for (int oy = 0; oy < out.h; oy++)
      for (int ox = 0; ox < out.w; ox++)
        for (int ch = 0; ch < out.c; ch++) {
          int32_t sum = 0, count = 0;
          for (int fy = 0; fy < p->filter_h; fy++)
            for (int fx = 0; fx < p->filter_w; fx++) {
              int iy = oy * p->stride_h - p->pad_h + fy, ix = ox * p->stride_w - p->pad_w + fx;
              if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
              sum += x[((b * in.h + iy) * in.w + ix) * in.c + ch];
              count++;
            }
          int32_t avg = (sum + count / 2) / count; /* sums are non-negative */
          y[((b * out.h + oy) * out.w + ox) * out.c + ch] = ref_clamp(avg, p->act_min, p->act_max);
        }
}

/* ADD of uint8 tensors as TFLite's Prepare and kernel do it: both inputs
 * shifted left 20 bits and scaled by their scale over twice the larger one,
 * added, scaled to the output. */
static inline void ref_add(quant a, quant b, quant o, int32_t lo, int32_t hi, size_t n, const uint8_t *x,
                    const uint8_t *y, uint8_t *out) {
  double twice_max = (double)(2 * (a.scale > b.scale ? a.scale : b.scale));
  int32_t m1, m2, mo;
  int s1, s2, so;
  ref_quantize_multiplier(a.scale / twice_max, &m1, &s1);
  ref_quantize_multiplier(b.scale / twice_max, &m2, &s2);
  ref_quantize_multiplier(twice_max / ((double)(1 << 20) * o.scale), &mo, &so);
  for (size_t i = 0; i < n; i++) {
    int32_t sx = ref_rdbpot(ref_srdhm((x[i] - a.zp) * (1 << 20), m1), -s1);
    int32_t sy = ref_rdbpot(ref_srdhm((y[i] - b.zp) * (1 << 20), m2), -s2);
    int32_t r = ref_rdbpot(ref_srdhm(sx + sy, mo), -so) + o.zp;
    out[i] = ref_clamp(r, lo, hi);
  }
}

/* ---- SOFTMAX: gemmlowp's fixed-point exp and reciprocal, restated ---- */

/* x * 2^e saturating (e > 0) or rounding (e < 0) */
static inline int32_t ref_mul_pot(int32_t x, int e) {
  if (e <= 0) return ref_rdbpot(x, -e);
  int64_t v = (int64_t)x * ((int64_t)1 << e);
  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* exp(x) for x in [-1/4, 0): Taylor series around -1/8, all Q0.31 */
static inline int32_t ref_exp_quarter(int32_t a) {
  int32_t x = a + (1 << 28);
  int32_t x2 = ref_srdhm(x, x), x3 = ref_srdhm(x2, x), x4 = ref_srdhm(x2, x2);
  int32_t t = ref_mul_pot(ref_srdhm(ref_mul_pot(x4, -2) + x3, 715827883) + x2, -1);
  return 1895147668 + ref_srdhm(1895147668, x + t);
}

/* exp(a) for a <= 0 in Q5.26, result Q0.31 */
static inline int32_t ref_exp_neg_q5(int32_t a) {
  if (a == 0) return INT32_MAX;
  const int frac = 26;
  int32_t quarter = 1 << (frac - 2);
  int32_t r = (a & (quarter - 1)) - quarter; /* a mod 1/4, minus 1/4: in [-1/4, 0) */
  int32_t result = ref_exp_quarter(ref_mul_pot(r, 5));
  int32_t rest = r - a; /* a non-negative multiple of 1/4 */
  const int32_t exp_neg_pow2[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int bit = 0; bit < 7; bit++) /* exp(-2^(bit-2)) for each set bit */
    if (rest & ((int32_t)1 << (frac - 2 + bit))) result = ref_srdhm(result, exp_neg_pow2[bit]);
  return result;
}

static inline void ref_softmax_row(const uint8_t *in, size_t n, int32_t mult, int shift, int diff_min, uint8_t *out) {
  int max = 0;
  for (size_t i = 0; i < n; i++) max = in[i] > max ? in[i] : max;
  int64_t sum = 0; /* Q12.19 */
  for (size_t i = 0; i < n; i++) {
    int32_t d = in[i] - max;
    if (d >= diff_min) sum += ref_rdbpot(ref_exp_neg_q5(ref_srdhm(d * (1 << shift), mult)), 12);
  }
  /* 1/sum by gemmlowp's Newton-Raphson on the sum's mantissa */
  int lz = 0;
  while (!((uint32_t)sum << lz & 0x80000000u)) lz++;
  int bits_over_unit = 12 - lz;
  int32_t m = (int32_t)(((uint32_t)sum << lz) - 0x80000000u); /* mantissa - 1, Q0.31 */
  int64_t hs = (int64_t)m + INT32_MAX;
  int32_t half_den = (int32_t)((hs + (hs >= 0 ? 1 : -1)) / 2);
  int32_t x = 1515870810 + ref_srdhm(half_den, -1010580540); /* Q2.29: 48/17 - 32/17 * d */
  for (int it = 0; it < 3; it++) x = x + ref_mul_pot(ref_srdhm(x, (1 << 29) - ref_srdhm(half_den, x)), 2);
  int32_t recip = ref_mul_pot(x, 1);
  for (size_t i = 0; i < n; i++) {
    int32_t d = in[i] - max, v = 0;
    if (d >= diff_min) {
      v = ref_rdbpot(ref_srdhm(recip, ref_exp_neg_q5(ref_srdhm(d * (1 << shift), mult))), bits_over_unit + 23);
      v = v > 255 ? 255 : v < 0 ? 0 : v;
    }
    out[i] = (uint8_t)v;
  }
}

/* SOFTMAX parameters as TFLite's Prepare: 5 integer bits for the scaled
 * differences. */
static inline void ref_softmax_params(double beta, float scale, int32_t *mult, int *shift, int *diff_min) {
  ref_quantize_multiplier(beta * scale * (double)(1 << 26), mult, shift);
  *diff_min = -(int)floor(31.0 * (1 << 26) / (double)(1ll << *shift));
}

/* ---- Arm NN's CpuRef arithmetic: how the reference vectors were made ----
 *
 * ../shared/models' reference vectors come from Arm NN 20.08's CpuRef
 * backend, which computes each quantized layer in float: every input and
 * weight dequantized ((q - zero point) * scale, in float), products summed
 * in float32 in its loop order (input channel, filter row, filter column),
 * the bias dequantized and added, and the result quantized as
 * round-half-away(v / scale) + zero point, clamped to 0..255. This is not
 * what wagi_tflite computes (TFLite's integer kernels, which the issue
 * asks for); the model test runs the graph this way too, to show that the
 * graph, the quantization parameters and the resize are read right and that
 * what is left between the library and the references is the arithmetic. */
static inline uint8_t armnn_quantize(float v, float scale, int32_t zp) {
  float r = roundf(v / scale) + (float)zp;
  return (uint8_t)(r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r);
}

typedef struct {
  float in, filter, bias, out; /* scales */
} armnn_scales;

static inline void armnn_conv(const conv_case *c, armnn_scales sc, const uint8_t *in, const uint8_t *filter,
                              const int32_t *bias, uint8_t *out) {
  const wagi_tflite_conv_params *p = &c->p;
  int ncin = c->depthwise ? 1 : c->in.c;
  for (int b = 0; b < c->out.n; b++)
    for (int oy = 0; oy < c->out.h; oy++)
      for (int ox = 0; ox < c->out.w; ox++)
        for (int oc = 0; oc < c->out.c; oc++) {
          float sum = 0.0f;
          for (int ci = 0; ci < ncin; ci++)
            for (int fy = 0; fy < c->fh; fy++)
              for (int fx = 0; fx < c->fw; fx++) {
                int iy = oy * p->stride_h - p->pad_h + fy * p->dilation_h;
                int ix = ox * p->stride_w - p->pad_w + fx * p->dilation_w;
                int ic = c->depthwise ? oc / c->dm : ci;
                int fq = c->depthwise ? filter[(fy * c->fw + fx) * c->out.c + oc]
                                      : filter[((oc * c->fh + fy) * c->fw + fx) * c->in.c + ic];
                float w = (float)(fq - c->filter_zp) * sc.filter, x = 0.0f;
                if (iy >= 0 && iy < c->in.h && ix >= 0 && ix < c->in.w)
                  x = (float)(in[((b * c->in.h + iy) * c->in.w + ix) * c->in.c + ic] + p->input_offset) * sc.in;
                sum += w * x;
              }
          if (bias) sum += (float)bias[oc] * sc.bias;
          uint8_t q = armnn_quantize(sum, sc.out, p->output_offset);
          /* the fused activation is a layer of its own there, on the
           * quantized output: the same clamp */
          out[((b * c->out.h + oy) * c->out.w + ox) * c->out.c + oc] = ref_clamp(q, p->act_min, p->act_max);
        }
}

static inline void armnn_average_pool(const wagi_tflite_pool_params *p, wagi_tflite_dims in, quant qi,
                                      const uint8_t *x, wagi_tflite_dims out, quant qo, uint8_t *y) {
  for (int b = 0; b < out.n; b++)
    for (int oy = 0; oy < out.h; oy++)
      for (int ox = 0; ox < out.w; ox++)
        for (int ch = 0; ch < out.c; ch++) {
          float sum = 0.0f;
          int count = 0;
          for (int fy = 0; fy < p->filter_h; fy++)
            for (int fx = 0; fx < p->filter_w; fx++) {
              int iy = oy * p->stride_h - p->pad_h + fy, ix = ox * p->stride_w - p->pad_w + fx;
              if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
              sum += (float)(x[((b * in.h + iy) * in.w + ix) * in.c + ch] - qi.zp) * qi.scale;
              count++;
            }
          uint8_t q = armnn_quantize(sum / (float)count, qo.scale, qo.zp);
          y[((b * out.h + oy) * out.w + ox) * out.c + ch] = ref_clamp(q, p->act_min, p->act_max);
        }
}

static inline void armnn_add(quant a, quant b, quant o, int32_t lo, int32_t hi, size_t n, const uint8_t *x,
                             const uint8_t *y, uint8_t *out) {
  for (size_t i = 0; i < n; i++) {
    float v = (float)(x[i] - a.zp) * a.scale + (float)(y[i] - b.zp) * b.scale;
    out[i] = ref_clamp(armnn_quantize(v, o.scale, o.zp), lo, hi);
  }
}

static inline void armnn_softmax_row(const uint8_t *in, size_t n, quant qi, float beta, quant qo, uint8_t *out) {
  int max = 0;
  for (size_t i = 0; i < n; i++) max = in[i] > max ? in[i] : max;
  float sum = 0.0f;
  for (size_t i = 0; i < n; i++) sum += expf((float)(in[i] - max) * qi.scale * beta);
  for (size_t i = 0; i < n; i++)
    out[i] = armnn_quantize(expf((float)(in[i] - max) * qi.scale * beta) / sum, qo.scale, qo.zp);
}

#endif
