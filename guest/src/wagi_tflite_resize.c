/* wagi_tflite_resize.c — image resize with a triangle filter stretched by
 * the downscale factor (antialiased bilinear), in the fixed-point form
 * Pillow's Image.resize(BILINEAR) uses: per output column (row) the weights
 * of the source pixels within `support` of its centre, normalised in double,
 * rounded to 22 fractional bits; horizontal pass into uint8, then vertical.
 * The model's reference outputs were computed on images resized that way. */
#include "wagi_tflite.h"

#include <math.h>
#include <stdlib.h>

#include "wagi_simd128.h"

/* Loops clang must leave scalar: vectorised, their strided bytes become
 * i8x16.shuffle, which the AOT tier runs as a byte loop on plain SSE2
 * (three times slower than the scalar loop). */
#if defined(__clang__)
#define WTF_SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define WTF_SCALAR_LOOP
#endif

#define WTF_PRECISION_BITS (32 - 8 - 2)

typedef struct {
  int ksize;
  int *bounds;  /* per output: first source index, count */
  int32_t *kk;  /* per output: ksize weights */
} wtf_coeffs;

static double wtf_triangle(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

static int wtf_coeffs_make(int in_size, int out_size, wtf_coeffs *c) {
  double scale = (double)in_size / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  int ksize = (int)ceil(support) * 2 + 1;
  c->ksize = ksize;
  c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
  c->kk = malloc((size_t)out_size * ksize * sizeof *c->kk);
  double *k = malloc((size_t)ksize * sizeof *k);
  if (!c->bounds || !c->kk || !k) {
    free(c->bounds);
    free(c->kk);
    free(k);
    return -1;
  }
  for (int xx = 0; xx < out_size; xx++) {
    double center = (xx + 0.5) * scale;
    double ww = 0.0, ss = 1.0 / filterscale;
    int xmin = (int)(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; x++) {
      double w = wtf_triangle((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    int32_t *kq = c->kk + (size_t)xx * ksize;
    for (int x = 0; x < ksize; x++) {
      double w = x < xmax && ww != 0.0 ? k[x] / ww : 0.0;
      kq[x] = (int32_t)(w < 0 ? -0.5 + w * (1 << WTF_PRECISION_BITS)
                              : 0.5 + w * (1 << WTF_PRECISION_BITS));
    }
    c->bounds[xx * 2] = xmin;
    c->bounds[xx * 2 + 1] = xmax;
  }
  free(k);
  return 0;
}

/* Sums are int32 as Pillow's: weights are non-negative and add up to about
 * 2^22, so 255 times them (plus the rounding half) stays below 2^31. */
static uint8_t wtf_clip8(int32_t v) {
  v >>= WTF_PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* One output row of the horizontal pass. */
static void wtf_resize_row(const uint8_t *row, int channels, const wtf_coeffs *ch, int dst_w, uint8_t *out) {
  const int32_t half = 1 << (WTF_PRECISION_BITS - 1);
  for (int xx = 0; xx < dst_w; xx++) {
    int xmin = ch->bounds[xx * 2], xmax = ch->bounds[xx * 2 + 1];
    const int32_t *k = ch->kk + (size_t)xx * ch->ksize;
    const uint8_t *p = row + (size_t)xmin * channels;
    for (int c = 0; c < channels; c++) {
      int32_t ss = half;
      WTF_SCALAR_LOOP
      for (int x = 0; x < xmax; x++) ss += p[x * channels + c] * k[x];
      out[xx * channels + c] = wtf_clip8(ss);
    }
  }
}

/* out[i] = clip8(acc[i]) for n values (saturating narrowing is the clamp). */
static void wtf_clip_row(const int32_t *acc, uint8_t *out, size_t n) {
  size_t i = 0;
#ifdef WAGI_SIMD128
  for (; i + 16 <= n; i += 16) {
    v128_t a = wasm_i32x4_shr(wasm_v128_load(acc + i), WTF_PRECISION_BITS);
    v128_t b = wasm_i32x4_shr(wasm_v128_load(acc + i + 4), WTF_PRECISION_BITS);
    v128_t c = wasm_i32x4_shr(wasm_v128_load(acc + i + 8), WTF_PRECISION_BITS);
    v128_t d = wasm_i32x4_shr(wasm_v128_load(acc + i + 12), WTF_PRECISION_BITS);
    wasm_v128_store(out + i, wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(a, b), wasm_i16x8_narrow_i32x4(c, d)));
  }
#endif
  WTF_SCALAR_LOOP
  for (; i < n; i++) out[i] = wtf_clip8(acc[i]);
}

/* acc[i] += src[i] * k for n values: the vertical pass, one source row at a time. */
static void wtf_madd_row(int32_t *acc, const uint8_t *src, int32_t k, size_t n) {
  size_t i = 0;
#ifdef WAGI_SIMD128
  v128_t kv = wasm_i32x4_splat(k);
  for (; i + 16 <= n; i += 16) {
    v128_t b = wasm_v128_load(src + i);
    v128_t lo = wasm_u16x8_extend_low_u8x16(b), hi = wasm_u16x8_extend_high_u8x16(b);
    wasm_v128_store(acc + i, wasm_i32x4_add(wasm_v128_load(acc + i), wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(lo), kv)));
    wasm_v128_store(acc + i + 4,
                    wasm_i32x4_add(wasm_v128_load(acc + i + 4), wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(lo), kv)));
    wasm_v128_store(acc + i + 8,
                    wasm_i32x4_add(wasm_v128_load(acc + i + 8), wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(hi), kv)));
    wasm_v128_store(acc + i + 12,
                    wasm_i32x4_add(wasm_v128_load(acc + i + 12), wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(hi), kv)));
  }
#endif
  WTF_SCALAR_LOOP
  for (; i < n; i++) acc[i] += src[i] * k;
}

int wagi_tflite_resize(const uint8_t *src, int src_w, int src_h, int channels, uint8_t *dst,
                       int dst_w, int dst_h) {
  const int max_side = 1 << 16;
  if (!src || !dst || channels < 1 || channels > 4 || src_w < 1 || src_h < 1 || dst_w < 1 ||
      dst_h < 1 || src_w > max_side || src_h > max_side || dst_w > max_side || dst_h > max_side)
    return WAGI_TFLITE_ERR_ARG;
  wtf_coeffs ch = {0}, cv = {0};
  uint8_t *tmp = NULL;
  int32_t *acc = NULL;
  int rc = WAGI_TFLITE_ERR_NOMEM;
  if (wtf_coeffs_make(src_w, dst_w, &ch) != 0 || wtf_coeffs_make(src_h, dst_h, &cv) != 0) goto done;
  /* Only the source rows the vertical pass reads go through the horizontal one. */
  int ybox_first = cv.bounds[0];
  int ybox_last = cv.bounds[dst_h * 2 - 2] + cv.bounds[dst_h * 2 - 1];
  int rows = ybox_last - ybox_first;
  const uint8_t *vsrc = src;
  int vsrc_first = 0;
  if (dst_w != src_w) {
    tmp = malloc((size_t)rows * dst_w * channels);
    if (!tmp) goto done;
    for (int y = 0; y < rows; y++)
      wtf_resize_row(src + (size_t)(y + ybox_first) * src_w * channels, channels, &ch, dst_w,
                     tmp + (size_t)y * dst_w * channels);
    vsrc = tmp;
    vsrc_first = ybox_first;
  }
  if (dst_h != src_h) {
    size_t stride = (size_t)dst_w * channels;
    acc = malloc(stride * sizeof *acc);
    if (!acc) goto done;
    for (int yy = 0; yy < dst_h; yy++) {
      int ymin = cv.bounds[yy * 2] - vsrc_first, ymax = cv.bounds[yy * 2 + 1];
      const int32_t *k = cv.kk + (size_t)yy * cv.ksize;
      uint8_t *out = dst + (size_t)yy * stride;
      for (size_t x = 0; x < stride; x++) acc[x] = 1 << (WTF_PRECISION_BITS - 1);
      for (int y = 0; y < ymax; y++) wtf_madd_row(acc, vsrc + (size_t)(y + ymin) * stride, k[y], stride);
      wtf_clip_row(acc, out, stride);
    }
  } else {
    /* same height: the horizontal pass (or the source) is the answer */
    size_t n = (size_t)dst_w * channels * dst_h;
    for (size_t i = 0; i < n; i++) dst[i] = vsrc[i];
  }
  rc = WAGI_TFLITE_OK;
done:
  free(acc);
  free(tmp);
  free(ch.bounds);
  free(ch.kk);
  free(cv.bounds);
  free(cv.kk);
  return rc;
}
