/* tflite_run.c — wagi_tflite as a command, built both for wasm32-wasi (run
 * through `wagi run`, the model read from a preopened directory) and
 * natively, so that tests/guest/run_tflite.py can check that the sandbox
 * computes the very bytes the native build does.
 *
 *   tflite_run classify MODEL IMAGE [--scalar] [--repeat N] [--logits]
 *       decode IMAGE (stb_image), resize to the input, run; prints the
 *       output bytes as one line of decimal numbers, then "top1 INDEX"
 *       (--scalar: without SIMD128; --repeat: run N times, print the time
 *       of each run on stderr; --logits: the graph's output moved to the
 *       last operator's input, for MobileNetV2 the logits, which every
 *       layer's rounding reaches)
 *   tflite_run simd-check MODEL IMAGE
 *       the model, then random CONV_2D, DEPTHWISE_CONV_2D and ADD cases, each
 *       with SIMD128 and with the scalar code; prints "simd-check ok" when
 *       every byte agrees (on a build without SIMD both are scalar)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNG
#define STBI_NO_THREAD_LOCALS
#include <stb/stb_image.h>

#include "wagi_io.h"
#include "wagi_tflite.h"
#include "wagi_tflite_ops.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint32_t rd32(const uint8_t *d, size_t p) {
  return (uint32_t)d[p] | (uint32_t)d[p + 1] << 8 | (uint32_t)d[p + 2] << 16 | (uint32_t)d[p + 3] << 24;
}

/* Field idx of the table at t, dereferenced (the file is trusted here: the
 * library has checked it by then, as load() loads it first). */
static size_t ref_field(const uint8_t *d, size_t t, int idx) {
  size_t vt = t - (int32_t)rd32(d, t);
  size_t f = t + (d[vt + 4 + 2 * idx] | d[vt + 5 + 2 * idx] << 8);
  return f + rd32(d, f);
}

/* subgraph 0's output := the last operator's first input */
static void output_to_logits(uint8_t *d) {
  size_t root = rd32(d, 0), subgraphs = ref_field(d, root, 2);
  size_t sg = subgraphs + 4 + rd32(d, subgraphs + 4);
  size_t ops = ref_field(d, sg, 3);
  size_t lastp = ops + 4 + 4 * (size_t)(rd32(d, ops) - 1), last = lastp + rd32(d, lastp);
  uint32_t logits = rd32(d, ref_field(d, last, 1) + 4);
  size_t outs = ref_field(d, sg, 2) + 4;
  for (int i = 0; i < 4; i++) d[outs + i] = (uint8_t)(logits >> (8 * i));
}

static int want_logits;

static wagi_tflite_model *load(const char *path) {
  size_t n;
  uint8_t *d;
  char why[160];
  if (wagi_io_read_file(path, SIZE_MAX, &d, &n, why, sizeof why)) {
    fprintf(stderr, "tflite_run: cannot read %s: %s\n", path, why);
    exit(1);
  }
  if (want_logits) {
    wagi_tflite_model *check;
    char e[WAGI_TFLITE_ERRLEN];
    if (wagi_tflite_load(d, n, &check, e, sizeof e) != WAGI_TFLITE_OK) {
      fprintf(stderr, "tflite_run: %s: %s\n", path, e);
      exit(1);
    }
    wagi_tflite_free(check);
    output_to_logits(d);
  }
  char err[WAGI_TFLITE_ERRLEN];
  wagi_tflite_model *m;
  double t0 = now_ms();
  if (wagi_tflite_load(d, n, &m, err, sizeof err) != WAGI_TFLITE_OK) {
    fprintf(stderr, "tflite_run: %s: %s\n", path, err);
    exit(1);
  }
  fprintf(stderr, "load %.1f ms\n", now_ms() - t0);
  free(d);
  return m;
}

static uint8_t *input_for(const wagi_tflite_model *m, const char *image) {
  wagi_tflite_tensor_info in;
  wagi_tflite_input_info(m, &in);
  int w, h, ch;
  uint8_t *rgb = stbi_load(image, &w, &h, &ch, 3);
  if (!rgb) {
    fprintf(stderr, "tflite_run: %s: %s\n", image, stbi_failure_reason());
    exit(1);
  }
  uint8_t *x = malloc(in.bytes);
  double t0 = now_ms();
  if (!x || in.ndims != 4 || in.dims[3] != 3 ||
      wagi_tflite_resize(rgb, w, h, 3, x, in.dims[2], in.dims[1]) != WAGI_TFLITE_OK) {
    fprintf(stderr, "tflite_run: cannot resize %s to the model's input\n", image);
    exit(1);
  }
  fprintf(stderr, "resize %dx%d %.1f ms\n", w, h, now_ms() - t0);
  stbi_image_free(rgb);
  return x;
}

static void run(wagi_tflite_model *m, const uint8_t *x, uint8_t *y) {
  wagi_tflite_tensor_info in, out;
  wagi_tflite_input_info(m, &in);
  wagi_tflite_output_info(m, &out);
  int rc = wagi_tflite_invoke(m, x, in.bytes, y, out.bytes);
  if (rc != WAGI_TFLITE_OK) {
    fprintf(stderr, "tflite_run: invoke: %s\n", wagi_tflite_strerror(rc));
    exit(1);
  }
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 32);
}
static int rng_range(int lo, int hi) { return lo + (int)(rng() % (uint32_t)(hi - lo + 1)); }

/* One random conv or depthwise case with SIMD and without; 0 if equal. */
static int simd_case(int depthwise) {
  wagi_tflite_conv_params p = {0};
  wagi_tflite_dims in = {1, rng_range(1, 9), rng_range(1, 9), rng_range(1, 40)}, out;
  int fh = rng_range(1, 3), fw = rng_range(1, 3), same = (int)(rng() & 1);
  p.stride_w = rng_range(1, 2);
  p.stride_h = rng_range(1, 2);
  p.dilation_w = p.dilation_h = 1;
  p.depth_multiplier = depthwise && rng() % 3 == 0 ? 2 : 1;
  out.n = 1;
  out.h = wagi_tflite_out_size(same, in.h, fh, p.stride_h, 1, &p.pad_h);
  out.w = wagi_tflite_out_size(same, in.w, fw, p.stride_w, 1, &p.pad_w);
  out.c = depthwise ? in.c * p.depth_multiplier : rng_range(1, 37);
  if (out.h < 1 || out.w < 1) return 0;
  p.input_offset = -rng_range(0, 255);
  p.output_offset = rng_range(0, 255);
  wagi_tflite_quantize_multiplier(1.0 / (rng_range(8, 2000) * 64.0), &p.output_multiplier, &p.output_shift);
  p.act_min = 0;
  p.act_max = 255;
  size_t nin = (size_t)in.h * in.w * in.c, nout = (size_t)out.h * out.w * out.c;
  size_t nf = depthwise ? (size_t)fh * fw * out.c : (size_t)out.c * fh * fw * in.c;
  uint8_t *x = malloc(nin), *a = malloc(nout), *b = malloc(nout), *f8 = malloc(nf);
  size_t nf16 = depthwise ? wagi_tflite_depthwise_filter_size(fh, fw, out.c)
                          : wagi_tflite_conv_filter_size(fh, fw, in.c, out.c);
  int16_t *f = malloc(nf16 * sizeof *f);
  int32_t *bias = malloc((size_t)out.c * sizeof *bias);
  size_t sn = depthwise ? wagi_tflite_depthwise_scratch(out.c) : wagi_tflite_conv_scratch(fh, fw, in.c, out.c);
  void *scratch = aligned_alloc(16, (sn + 15) & ~(size_t)15);
  if (!x || !a || !b || !f8 || !f || !bias || !scratch) exit(1);
  for (size_t i = 0; i < nin; i++) x[i] = (uint8_t)rng();
  for (size_t i = 0; i < nf; i++) f8[i] = (uint8_t)rng();
  for (int i = 0; i < out.c; i++) bias[i] = (int32_t)(rng() % 20001) - 10000;
  int32_t filter_offset = -rng_range(0, 255);
  if (depthwise) wagi_tflite_depthwise_filter_prepare(f8, fh, fw, out.c, filter_offset, f);
  else wagi_tflite_conv_filter_prepare(f8, out.c, fh, fw, in.c, filter_offset, f);
  if (!depthwise) {
    /* the prepared layout, element by element: block of 8 channels, pair of
     * k, lane (channels 0,2,4,6 then 1,3,5,7), k of the pair; zeros where a
     * channel or the pair's second k is missing */
    size_t k = (size_t)fh * fw * in.c, pairs = (k + 1) / 2, at = 0;
    for (int o0 = 0; o0 < out.c; o0 += 8)
      for (size_t j = 0; j < pairs; j++)
        for (int l = 0; l < 8; l++)
          for (size_t kk = 2 * j; kk < 2 * j + 2; kk++, at++) {
            int o = o0 + (l < 4 ? 2 * l : 2 * (l - 4) + 1);
            int16_t want = (int16_t)(o < out.c && kk < k ? f8[(size_t)o * k + kk] + filter_offset : 0);
            if (f[at] != want) {
              fprintf(stderr, "simd-check: conv filter %dx%dx%d -> %d prepared wrong at %zu: %d, want %d\n", fh,
                      fw, in.c, out.c, at, f[at], want);
              exit(1);
            }
          }
  }
  for (int pass = 0; pass < 2; pass++) {
    wagi_tflite_simd = pass == 0;
    uint8_t *y = pass == 0 ? a : b;
    if (depthwise) wagi_tflite_depthwise_conv2d(&p, in, x, fh, fw, f, bias, out, y, scratch);
    else wagi_tflite_conv2d(&p, in, x, fh, fw, f, bias, out, y, scratch);
  }
  wagi_tflite_simd = 1;
  int differ = memcmp(a, b, nout) != 0;
  if (differ)
    fprintf(stderr, "simd-check: %s in %dx%dx%d filter %dx%d out c %d differs\n", depthwise ? "depthwise" : "conv",
            in.h, in.w, in.c, fh, fw, out.c);
  free(x);
  free(a);
  free(b);
  free(f8);
  free(f);
  free(bias);
  free(scratch);
  return differ;
}

/* One random ADD case with SIMD and without; 0 if equal. */
static int simd_add_case(void) {
  float s1 = (float)rng_range(1, 1000) / 4096, s2 = (float)rng_range(1, 1000) / 4096;
  float so = (float)rng_range(1, 1000) / 2048;
  wagi_tflite_add_params p;
  wagi_tflite_add_prepare(s1, rng_range(0, 255), s2, rng_range(0, 255), so, rng_range(0, 255), rng_range(0, 40),
                          rng_range(200, 255), &p);
  size_t n = (size_t)rng_range(1, 100);
  uint8_t x[100], y[100], a[100], b[100];
  for (size_t i = 0; i < n; i++) x[i] = (uint8_t)rng(), y[i] = (uint8_t)rng();
  wagi_tflite_simd = 1;
  wagi_tflite_add(&p, n, x, y, a);
  wagi_tflite_simd = 0;
  wagi_tflite_add(&p, n, x, y, b);
  wagi_tflite_simd = 1;
  if (memcmp(a, b, n) != 0) {
    fprintf(stderr, "simd-check: add with scales %g %g -> %g differs\n", (double)s1, (double)s2, (double)so);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: tflite_run classify|simd-check MODEL IMAGE [--scalar] [--repeat N]\n");
    return 2;
  }
  int repeat = 1;
  for (int i = 4; i < argc; i++) {
    if (!strcmp(argv[i], "--scalar")) wagi_tflite_simd = 0;
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--logits")) want_logits = 1;
  }
  wagi_tflite_model *m = load(argv[2]);
  double t0 = now_ms();
  uint8_t *x = input_for(m, argv[3]);
  fprintf(stderr, "decode+resize %.1f ms\n", now_ms() - t0);
  wagi_tflite_tensor_info out;
  wagi_tflite_output_info(m, &out);
  uint8_t *y = malloc(out.bytes), *z = malloc(out.bytes);
  if (!y || !z) return 1;
  int status = 0;
  if (!strcmp(argv[1], "classify")) {
    for (int r = 0; r < (repeat > 0 ? repeat : 1); r++) {
      double t0 = now_ms();
      run(m, x, y);
      fprintf(stderr, "invoke %.1f ms\n", now_ms() - t0);
    }
    size_t best = 0;
    for (size_t i = 0; i < out.bytes; i++) {
      printf("%s%d", i ? " " : "", y[i]);
      if (y[i] > y[best]) best = i;
    }
    printf("\ntop1 %zu\n", best);
  } else if (!strcmp(argv[1], "simd-check")) {
    int bad = 0;
    wagi_tflite_simd = 1;
    run(m, x, y);
    wagi_tflite_simd = 0;
    run(m, x, z);
    wagi_tflite_simd = 1;
    if (memcmp(y, z, out.bytes) != 0) {
      fprintf(stderr, "simd-check: the model's output differs with and without SIMD\n");
      bad = 1;
    }
    for (int t = 0; t < 300; t++) bad |= simd_case(t & 1);
    for (int t = 0; t < 300; t++) bad |= simd_add_case();
    printf(bad ? "simd-check FAILED\n" : "simd-check ok\n");
    status = bad;
  } else {
    fprintf(stderr, "tflite_run: unknown command %s\n", argv[1]);
    status = 2;
  }
  /* freed, so that a leak checker (make san) sees none */
  wagi_tflite_free(m);
  free(x);
  free(y);
  free(z);
  return status;
}
