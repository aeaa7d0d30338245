/* infer_bench.c — the tf example's work without HTTP or Cosmos DB, for
 * bench/tf/run.sh: the same steps as examples/tf (read the model file, load
 * it with wagi_tflite, decode the image with stb_image, resize, invoke),
 * each timed, RUNS times; prints the best time of each step.
 *
 *   infer_bench MODEL IMAGE [RUNS]
 *
 * Built for wasm32-wasi with SIMD128 (run by `wagi run`, on the
 * interpreter or as a .wasmc) and natively with gcc -O2 (the library's
 * scalar code: its SIMD kernels are written for wasm_simd128.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_THREAD_LOCALS
#include <stb/stb_image.h>

#include "wagi_io.h"
#include "wagi_tflite.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(const char *what, const char *why) {
  fprintf(stderr, "infer_bench: %s: %s\n", what, why);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 3) fail("usage", "infer_bench MODEL IMAGE [RUNS]");
  int runs = argc > 3 ? atoi(argv[3]) : 5;
  if (runs < 1) runs = 1;
  enum { READ, LOAD, DECODE, RESIZE, INVOKE, NSTEPS };
  static const char *names[NSTEPS] = {"model_read", "model_load", "decode", "resize", "invoke"};
  double best[NSTEPS];
  for (int i = 0; i < NSTEPS; i++) best[i] = 1e300;
  size_t top1 = 0;
  int top_q = 0;
  for (int r = 0; r < runs; r++) {
    double t[NSTEPS + 1];
    t[0] = now_ms();
    size_t mlen, ilen;
    uint8_t *mbytes, *img;
    char why[160];
    if (wagi_io_read_file(argv[1], SIZE_MAX, &mbytes, &mlen, why, sizeof why)) fail(argv[1], why);
    t[1] = now_ms();
    char err[WAGI_TFLITE_ERRLEN];
    wagi_tflite_model *m;
    if (wagi_tflite_load(mbytes, mlen, &m, err, sizeof err)) fail(argv[1], err);
    free(mbytes);
    t[2] = now_ms();
    if (wagi_io_read_file(argv[2], SIZE_MAX, &img, &ilen, why, sizeof why)) fail(argv[2], why);
    double t_img = now_ms(); /* the image file's read is not a step of the module */
    int w, h, ch;
    uint8_t *rgb = stbi_load_from_memory(img, (int)ilen, &w, &h, &ch, 3);
    if (!rgb) fail(argv[2], stbi_failure_reason());
    free(img);
    t[3] = now_ms() - (t_img - t[2]);
    wagi_tflite_tensor_info in, out;
    wagi_tflite_input_info(m, &in);
    wagi_tflite_output_info(m, &out);
    uint8_t *x = malloc(in.bytes), *y = malloc(out.bytes);
    if (!x || !y) fail("memory", "out of memory");
    if (wagi_tflite_resize(rgb, w, h, 3, x, in.dims[2], in.dims[1])) fail(argv[2], "resize failed");
    stbi_image_free(rgb);
    t[4] = now_ms() - (t_img - t[2]);
    if (wagi_tflite_invoke(m, x, in.bytes, y, out.bytes)) fail(argv[1], "invoke failed");
    t[5] = now_ms() - (t_img - t[2]);
    for (int i = 0; i < NSTEPS; i++)
      if (t[i + 1] - t[i] < best[i]) best[i] = t[i + 1] - t[i];
    top1 = 0;
    for (size_t i = 1; i < out.bytes; i++)
      if (y[i] > y[top1]) top1 = i;
    top_q = y[top1];
    free(x);
    free(y);
    wagi_tflite_free(m);
  }
  for (int i = 0; i < NSTEPS; i++) printf("%s_ms %.3f\n", names[i], best[i]);
  printf("top1 %zu %d\n", top1, top_q);
  return 0;
}
