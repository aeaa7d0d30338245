/* test_tflite_ops.c — the uint8 kernels of guest/wagi_tflite_ops.h against
 * the plain reference code of tflite_reference.h, on random tensors, random
 * quantization and odd shapes (seeded, so a failure repeats), built natively
 * (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "tflite_reference.h"
#include "wagi_tflite.h"
#include "wagi_tflite_ops.h"

/* ---- deterministic random numbers (xorshift64*) ---- */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 2654435761u + 1; }
static uint32_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}
static int rng_range(int lo, int hi) { return lo + (int)(rng() % (uint32_t)(hi - lo + 1)); }
static double rng_unit(void) { return (rng() + 0.5) / 4294967296.0; }
static void rng_bytes(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rng();
}

static void fixed_point_primitives(void **state) {
  (void)state;
  rng_seed(1);
  const int32_t edges[] = {0, 1, -1, 2, -2, INT32_MAX, INT32_MIN, INT32_MIN + 1, 1 << 30, -(1 << 30),
                           (1 << 30) + 1, 12345, -12345, 0x7ffffffe};
  size_t ne = sizeof edges / sizeof *edges;
  for (size_t i = 0; i < ne; i++)
    for (size_t j = 0; j < ne; j++) assert_int_equal(wagi_tflite_srdhm(edges[i], edges[j]), ref_srdhm(edges[i], edges[j]));
  for (int k = 0; k < 200000; k++) {
    int32_t a = (int32_t)rng(), b = (int32_t)rng();
    if (k & 1) a >>= rng() % 31;
    assert_int_equal(wagi_tflite_srdhm(a, b), ref_srdhm(a, b));
    int e = rng_range(0, 31);
    assert_int_equal(wagi_tflite_rounding_divide_by_pot(a, e), ref_rdbpot(a, e));
  }
  /* ties: x = (2k+1) * 2^(e-1) rounds away from zero */
  assert_int_equal(wagi_tflite_rounding_divide_by_pot(3, 1), 2);
  assert_int_equal(wagi_tflite_rounding_divide_by_pot(-3, 1), -2);
  assert_int_equal(wagi_tflite_rounding_divide_by_pot(-5, 2), -1);
  for (int k = 0; k < 100000; k++) {
    double real = ldexp(rng_unit(), rng_range(-40, 20));
    int32_t q1, q2;
    int s1, s2;
    wagi_tflite_quantize_multiplier(real, &q1, &s1);
    ref_quantize_multiplier(real, &q2, &s2);
    if (s2 > 30) s2 = 30, q2 = INT32_MAX;
    assert_int_equal(q1, q2);
    assert_int_equal(s1, s2);
    int32_t x = (int32_t)rng() >> rng_range(8, 31);
    if (s1 <= 0 || (int64_t)x * ((int64_t)1 << s1) == (int32_t)((int64_t)x * ((int64_t)1 << s1)))
      assert_int_equal(wagi_tflite_mul_by_quantized(x, q1, s1), ref_mbqm(x, q1, s1));
  }
}

/* ---- random quantization ---- */

static quant rand_quant(float lo, float hi) {
  quant q;
  q.scale = (float)(lo * pow(hi / lo, rng_unit()));
  q.zp = rng_range(0, 255);
  return q;
}

/* ---- CONV_2D and DEPTHWISE_CONV_2D ---- */

static int make_conv_case(conv_case *c, int depthwise) {
  memset(c, 0, sizeof *c);
  c->depthwise = depthwise;
  c->in.n = rng_range(1, 2);
  c->in.h = rng_range(1, 11);
  c->in.w = rng_range(1, 11);
  c->in.c = rng_range(1, depthwise ? 21 : 19);
  c->fh = rng_range(1, 4);
  c->fw = rng_range(1, 4);
  c->same = (int)(rng() & 1);
  c->dm = depthwise ? rng_range(1, 3) : 1;
  if (depthwise && rng() % 2) c->dm = 1; /* the SIMD path's case, more often */
  wagi_tflite_conv_params *p = &c->p;
  p->stride_w = rng_range(1, 3);
  p->stride_h = rng_range(1, 3);
  p->dilation_w = rng() % 4 == 0 ? 2 : 1;
  p->dilation_h = rng() % 4 == 0 ? 2 : 1;
  p->depth_multiplier = c->dm;
  c->out.n = c->in.n;
  c->out.h = wagi_tflite_out_size(c->same, c->in.h, c->fh, p->stride_h, p->dilation_h, &p->pad_h);
  c->out.w = wagi_tflite_out_size(c->same, c->in.w, c->fw, p->stride_w, p->dilation_w, &p->pad_w);
  c->out.c = depthwise ? c->in.c * c->dm : rng_range(1, 13);
  if (c->out.h < 1 || c->out.w < 1) return 0;
  /* TFLite's padding rule, restated */
  for (int dim = 0; dim < 2; dim++) {
    int in = dim ? c->in.w : c->in.h, f = dim ? c->fw : c->fh, s = dim ? p->stride_w : p->stride_h;
    int d = dim ? p->dilation_w : p->dilation_h, out = dim ? c->out.w : c->out.h;
    int eff = (f - 1) * d + 1;
    int want_out = c->same ? (in + s - 1) / s : (in - eff) / s + 1;
    int total = (want_out - 1) * s + eff - in;
    assert_int_equal(out, want_out);
    assert_int_equal(dim ? p->pad_w : p->pad_h, total > 0 ? total / 2 : 0);
  }
  quant qi = rand_quant(0.002f, 0.5f), qf = rand_quant(0.0005f, 0.1f);
  /* Zero points far from the data's mean give huge accumulators that clamp
   * every output: keep them central most of the time. */
  if (rng() % 4) {
    qi.zp = rng_range(100, 156);
    qf.zp = rng_range(100, 156);
  }
  int k = depthwise ? c->fh * c->fw : c->fh * c->fw * c->in.c;
  /* an output scale that keeps outputs mostly inside 0..255 yet not all saturated */
  quant qo = rand_quant(qi.scale * qf.scale * sqrtf((float)k) * 20, qi.scale * qf.scale * sqrtf((float)k) * 400);
  int act = (int)(rng() % 4);
  p->input_offset = -qi.zp;
  p->output_offset = qo.zp;
  c->filter_zp = qf.zp;
  wagi_tflite_quantize_multiplier((double)qi.scale * qf.scale / qo.scale, &p->output_multiplier, &p->output_shift);
  ref_act_range(act, qo, &p->act_min, &p->act_max);
  int32_t lo, hi;
  assert_int_equal(wagi_tflite_activation_range(act, qo.scale, qo.zp, &lo, &hi), 0);
  assert_int_equal(lo, p->act_min);
  assert_int_equal(hi, p->act_max);
  return 1;
}

static void run_conv_cases(int depthwise, uint64_t seed, int cases) {
  rng_seed(seed);
  int done = 0;
  size_t inside = 0, total = 0;
  while (done < cases) {
    conv_case c;
    if (!make_conv_case(&c, depthwise)) continue;
    size_t nin = (size_t)c.in.n * c.in.h * c.in.w * c.in.c;
    size_t nout = (size_t)c.out.n * c.out.h * c.out.w * c.out.c;
    size_t nf = depthwise ? (size_t)c.fh * c.fw * c.out.c : (size_t)c.out.c * c.fh * c.fw * c.in.c;
    uint8_t *in = malloc(nin), *filter = malloc(nf), *want = malloc(nout), *got = malloc(nout);
    size_t nf16 = depthwise ? wagi_tflite_depthwise_filter_size(c.fh, c.fw, c.out.c)
                            : wagi_tflite_conv_filter_size(c.fh, c.fw, c.in.c, c.out.c);
    int16_t *f16 = malloc(nf16 * sizeof *f16);
    int32_t *bias = malloc((size_t)c.out.c * sizeof *bias);
    size_t scratch_n = depthwise ? wagi_tflite_depthwise_scratch(c.out.c)
                                 : wagi_tflite_conv_scratch(c.fh, c.fw, c.in.c, c.out.c);
    void *scratch = aligned_alloc(16, (scratch_n + 15) & ~(size_t)15);
    assert_non_null(in);
    assert_non_null(scratch);
    rng_bytes(in, nin);
    rng_bytes(filter, nf);
    int k = depthwise ? c.fh * c.fw : c.fh * c.fw * c.in.c;
    int32_t bias_span = (int32_t)(8000 * sqrt((double)k));
    for (int o = 0; o < c.out.c; o++) bias[o] = (int32_t)(rng() % (2 * (uint32_t)bias_span + 1)) - bias_span;
    int use_bias = rng() % 4 != 0;
    if (depthwise) wagi_tflite_depthwise_filter_prepare(filter, c.fh, c.fw, c.out.c, -c.filter_zp, f16);
    else wagi_tflite_conv_filter_prepare(filter, c.out.c, c.fh, c.fw, c.in.c, -c.filter_zp, f16);
    ref_conv(&c, in, filter, use_bias ? bias : NULL, want);
    memset(got, 0xAA, nout);
    if (depthwise)
      wagi_tflite_depthwise_conv2d(&c.p, c.in, in, c.fh, c.fw, f16, use_bias ? bias : NULL, c.out, got, scratch);
    else
      wagi_tflite_conv2d(&c.p, c.in, in, c.fh, c.fw, f16, use_bias ? bias : NULL, c.out, got, scratch);
    if (memcmp(want, got, nout) != 0) {
      size_t i = 0;
      while (want[i] == got[i]) i++;
      fail_msg("%s case %d: in %dx%dx%dx%d filter %dx%d out c %d stride %d,%d dil %d,%d %s: element %zu is %d, want %d",
               depthwise ? "depthwise" : "conv", done, c.in.n, c.in.h, c.in.w, c.in.c, c.fh, c.fw, c.out.c,
               c.p.stride_h, c.p.stride_w, c.p.dilation_h, c.p.dilation_w, c.same ? "SAME" : "VALID", i,
               got[i], want[i]);
    }
    /* the test is only worth something if outputs are not all clamped */
    for (size_t i = 0; i < nout; i++) inside += want[i] > c.p.act_min && want[i] < c.p.act_max;
    total += nout;
    free(in);
    free(filter);
    free(want);
    free(got);
    free(f16);
    free(bias);
    free(scratch);
    done++;
  }
  if (inside < total / 5) fail_msg("only %zu of %zu outputs were not clamped", inside, total);
}

static void conv2d_random(void **state) {
  (void)state;
  run_conv_cases(0, 2, 600);
}

static void depthwise_random(void **state) {
  (void)state;
  run_conv_cases(1, 3, 600);
}

/* 1x1 convolution with many channels: the GEMM shape of MobileNetV2. */
static void conv2d_pointwise_wide(void **state) {
  (void)state;
  rng_seed(4);
  for (int t = 0; t < 20; t++) {
    conv_case c;
    do {
      make_conv_case(&c, 0);
      c.fh = c.fw = 1;
      c.p.stride_w = c.p.stride_h = 1;
      c.p.dilation_w = c.p.dilation_h = 1;
      c.p.pad_w = c.p.pad_h = 0;
      c.in.c = rng_range(8, 200);
      c.out.c = rng_range(1, 70);
      c.out.h = c.in.h;
      c.out.w = c.in.w;
      c.out.n = c.in.n;
    } while (0);
    size_t nin = (size_t)c.in.n * c.in.h * c.in.w * c.in.c, nout = (size_t)c.out.n * c.out.h * c.out.w * c.out.c;
    size_t nf = (size_t)c.out.c * c.in.c;
    uint8_t *in = malloc(nin), *filter = malloc(nf), *want = malloc(nout), *got = malloc(nout);
    int16_t *f16 = malloc(wagi_tflite_conv_filter_size(1, 1, c.in.c, c.out.c) * sizeof *f16);
    int32_t *bias = malloc((size_t)c.out.c * sizeof *bias);
    void *scratch = aligned_alloc(16, (wagi_tflite_conv_scratch(1, 1, c.in.c, c.out.c) + 15) & ~(size_t)15);
    rng_bytes(in, nin);
    rng_bytes(filter, nf);
    for (int o = 0; o < c.out.c; o++) bias[o] = (int32_t)(rng() % 2000001) - 1000000;
    /* a multiplier fitted to the channel count */
    double real = 1.0 / (sqrt((double)c.in.c) * 128 * 16);
    wagi_tflite_quantize_multiplier(real, &c.p.output_multiplier, &c.p.output_shift);
    wagi_tflite_conv_filter_prepare(filter, c.out.c, 1, 1, c.in.c, -c.filter_zp, f16);
    ref_conv(&c, in, filter, bias, want);
    wagi_tflite_conv2d(&c.p, c.in, in, 1, 1, f16, bias, c.out, got, scratch);
    assert_memory_equal(want, got, nout);
    free(in);
    free(filter);
    free(want);
    free(got);
    free(f16);
    free(bias);
    free(scratch);
  }
}

/* ---- AVERAGE_POOL_2D ---- */

static void average_pool_random(void **state) {
  (void)state;
  rng_seed(5);
  for (int t = 0; t < 500; t++) {
    wagi_tflite_pool_params p;
    wagi_tflite_dims in = {rng_range(1, 2), rng_range(1, 12), rng_range(1, 12), rng_range(1, 17)}, out;
    int same = (int)(rng() & 1);
    p.filter_h = rng_range(1, 7);
    p.filter_w = rng_range(1, 7);
    p.stride_h = rng_range(1, 3);
    p.stride_w = rng_range(1, 3);
    out.n = in.n;
    out.c = in.c;
    out.h = wagi_tflite_out_size(same, in.h, p.filter_h, p.stride_h, 1, &p.pad_h);
    out.w = wagi_tflite_out_size(same, in.w, p.filter_w, p.stride_w, 1, &p.pad_w);
    if (out.h < 1 || out.w < 1) continue;
    quant q = rand_quant(0.01f, 0.2f);
    ref_act_range((int)(rng() % 4), q, &p.act_min, &p.act_max);
    size_t nin = (size_t)in.n * in.h * in.w * in.c, nout = (size_t)out.n * out.h * out.w * out.c;
    uint8_t *x = malloc(nin), *want = malloc(nout), *got = malloc(nout);
    rng_bytes(x, nin);
    ref_average_pool(&p, in, x, out, want);
    assert_int_equal(wagi_tflite_average_pool(&p, in, x, out, got), 0);
    assert_memory_equal(want, got, nout);
    free(x);
    free(want);
    free(got);
  }
}

/* ---- ADD ---- */

static void add_random(void **state) {
  (void)state;
  rng_seed(6);
  for (int t = 0; t < 2000; t++) {
    quant a = rand_quant(0.005f, 0.5f), b = rand_quant(0.005f, 0.5f), o = rand_quant(0.01f, 1.0f);
    if (t % 7 == 0) b = a; /* equal scales: both multipliers 1/2 */
    int32_t lo, hi;
    ref_act_range((int)(rng() % 4), o, &lo, &hi);
    wagi_tflite_add_params p;
    wagi_tflite_add_prepare(a.scale, a.zp, b.scale, b.zp, o.scale, o.zp, lo, hi, &p);
    /* TFLite's multipliers, restated */
    double twice_max = (double)(2 * (a.scale > b.scale ? a.scale : b.scale));
    int32_t m1, m2, mo;
    int s1, s2, so;
    ref_quantize_multiplier(a.scale / twice_max, &m1, &s1);
    ref_quantize_multiplier(b.scale / twice_max, &m2, &s2);
    ref_quantize_multiplier(twice_max / ((double)(1 << 20) * o.scale), &mo, &so);
    assert_int_equal(p.input1_multiplier, m1);
    assert_int_equal(p.input1_shift, s1);
    assert_int_equal(p.input2_multiplier, m2);
    assert_int_equal(p.input2_shift, s2);
    assert_int_equal(p.output_multiplier, mo);
    assert_int_equal(p.output_shift, so);
    size_t n = (size_t)rng_range(1, 300);
    uint8_t x[300], y[300], want[300], got[300];
    rng_bytes(x, n);
    rng_bytes(y, n);
    ref_add(a, b, o, lo, hi, n, x, y, want);
    wagi_tflite_add(&p, n, x, y, got);
    assert_memory_equal(want, got, n);
  }
}

/* ---- SOFTMAX ---- */

static void softmax_random(void **state) {
  (void)state;
  rng_seed(7);
  for (int t = 0; t < 400; t++) {
    float scale = (float)(0.01 * pow(30.0, rng_unit()));
    double beta = t % 3 ? 1.0 : 0.5 + rng_unit();
    wagi_tflite_softmax_params p;
    wagi_tflite_softmax_prepare(beta, scale, &p);
    int32_t m;
    int s;
    ref_quantize_multiplier(beta * scale * (double)(1 << 26), &m, &s);
    assert_int_equal(p.input_multiplier, m);
    assert_int_equal(p.input_left_shift, s);
    assert_int_equal(p.diff_min, -(int)floor(31.0 * (1 << 26) / (double)(1ll << s)));
    size_t rows = (size_t)rng_range(1, 3), depth = (size_t)rng_range(1, 1100);
    uint8_t *in = malloc(rows * depth), *want = malloc(rows * depth), *got = malloc(rows * depth);
    rng_bytes(in, rows * depth);
    if (t % 4 == 0) /* a peaked row like a classifier's logits */
      for (size_t i = 0; i < rows * depth; i++) in[i] = (uint8_t)(in[i] / 4 + (i % 97 == 0 ? 150 : 0));
    for (size_t r = 0; r < rows; r++) ref_softmax_row(in + r * depth, depth, m, s, p.diff_min, want + r * depth);
    wagi_tflite_softmax(&p, rows, depth, in, got);
    assert_memory_equal(want, got, rows * depth);
    /* and it is a softmax: within a few 1/256 of the float one */
    for (size_t r = 0; r < rows; r++) {
      double mx = 0, sum = 0;
      for (size_t i = 0; i < depth; i++) mx = in[r * depth + i] > mx ? in[r * depth + i] : mx;
      for (size_t i = 0; i < depth; i++) sum += exp(beta * scale * (in[r * depth + i] - mx));
      for (size_t i = 0; i < depth; i++) {
        double pf = exp(beta * scale * (in[r * depth + i] - mx)) / sum * 256;
        assert_true(fabs(pf - got[r * depth + i]) <= 2.0);
      }
    }
    free(in);
    free(want);
    free(got);
  }
}

/* ---- preprocessing: the resize ---- */

/* Pillow 9.4 (Debian 12's python3-pil), Image.resize(size, BILINEAR) of the
 * 11x7 RGB image below: the filter the reference outputs were made with. */
static const struct {
  int w, h;
  const char *bytes;
} PILLOW[] = {
    {4, 3, "51,68,10,144,80,25,129,94,41,81,106,56,75,167,27,164,176,80,129,147,134,105,145,159,99,94,44,179,"
           "104,134,96,78,172,129,78,116"},
    {11, 3, "9,62,3,46,67,9,83,72,15,120,77,21,157,82,27,194,87,33,231,92,39,12,97,45,49,102,51,86,107,57,123,"
            "112,63,33,161,3,70,166,24,107,171,45,144,176,66,181,181,87,218,186,108,180,131,129,36,136,150,73,141,"
            "156,110,146,177,147,151,138,57,88,3,94,93,39,131,98,75,168,103,111,205,108,147,242,113,183,23,64,219,"
            "60,69,164,97,74,90,134,79,126,171,84,107"},
    {5, 7, "30,21,3,102,31,3,175,42,3,66,53,3,84,63,3,41,74,9,113,84,22,186,95,38,77,106,54,95,116,67,52,127,14,"
           "124,137,42,197,148,73,88,159,105,106,169,132,63,180,20,135,190,61,208,201,108,99,212,155,117,222,196,"
           "74,233,26,146,243,80,157,182,143,56,9,206,128,19,163,85,30,31,157,40,99,168,51,178,67,62,161,139,72,"
           "69,96,83,37,168,93,119,179,104,203,78,115,105,150,125,133"},
};

static void resize_matches_pillow(void **state) {
  (void)state;
  uint8_t src[7][11][3];
  for (int y = 0; y < 7; y++)
    for (int x = 0; x < 11; x++) {
      src[y][x][0] = (uint8_t)((x * 37 + y * 11) % 256);
      src[y][x][1] = (uint8_t)((x * 5 + y * 53 + 17) % 256);
      src[y][x][2] = (uint8_t)((x * y * 7 + 3) % 256);
    }
  for (size_t k = 0; k < sizeof PILLOW / sizeof *PILLOW; k++) {
    uint8_t want[11 * 7 * 3], got[11 * 7 * 3];
    size_t n = 0;
    for (const char *p = PILLOW[k].bytes; *p; n++) {
      want[n] = (uint8_t)strtol(p, (char **)&p, 10);
      if (*p == ',') p++;
    }
    assert_int_equal(n, (size_t)PILLOW[k].w * PILLOW[k].h * 3);
    assert_int_equal(wagi_tflite_resize(&src[0][0][0], 11, 7, 3, got, PILLOW[k].w, PILLOW[k].h), WAGI_TFLITE_OK);
    assert_memory_equal(want, got, n);
  }
}

static void resize_properties(void **state) {
  (void)state;
  rng_seed(8);
  static uint8_t src[37 * 23 * 4], dst[64 * 64 * 4];
  rng_bytes(src, sizeof src);
  /* same size: the same bytes */
  assert_int_equal(wagi_tflite_resize(src, 37, 23, 4, dst, 37, 23), WAGI_TFLITE_OK);
  assert_memory_equal(src, dst, 37 * 23 * 4);
  /* a constant image stays constant at any size */
  memset(src, 77, sizeof src);
  for (int t = 0; t < 20; t++) {
    int dw = rng_range(1, 64), dh = rng_range(1, 64), ch = rng_range(1, 4);
    assert_int_equal(wagi_tflite_resize(src, 37, 23, ch, dst, dw, dh), WAGI_TFLITE_OK);
    for (int i = 0; i < dw * dh * ch; i++) assert_int_equal(dst[i], 77);
  }
  assert_int_equal(wagi_tflite_resize(src, 0, 23, 3, dst, 4, 4), WAGI_TFLITE_ERR_ARG);
  assert_int_equal(wagi_tflite_resize(src, 37, 23, 5, dst, 4, 4), WAGI_TFLITE_ERR_ARG);
  assert_int_equal(wagi_tflite_resize(NULL, 37, 23, 3, dst, 4, 4), WAGI_TFLITE_ERR_ARG);
  assert_int_equal(wagi_tflite_resize(src, 37, 23, 3, dst, 0, 4), WAGI_TFLITE_ERR_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fixed_point_primitives), cmocka_unit_test(conv2d_random),
      cmocka_unit_test(conv2d_pointwise_wide),  cmocka_unit_test(depthwise_random),
      cmocka_unit_test(average_pool_random),    cmocka_unit_test(add_random),
      cmocka_unit_test(softmax_random),         cmocka_unit_test(resize_matches_pillow),
      cmocka_unit_test(resize_properties),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
