/* tflite_fuzz.c — libFuzzer target for wagi_tflite's model reader
 * (guest/src/wagi_tflite*.c), built with
 * clang-16 -fsanitize=fuzzer,address,undefined (`make fuzz-tflite`).
 *
 * Every input goes to wagi_tflite_load. A failure must come with a message
 * and leave the output pointer alone; a success must describe sane input and
 * output tensors, and small models (seeds from make_tflite_seeds.py and
 * their mutants) are also run, so that the kernels meet whatever shapes and
 * parameters the reader lets through. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_tflite.h"

/* Bigger models are only loaded: running them would slow the search down. */
#define RUN_ARENA_LIMIT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[WAGI_TFLITE_ERRLEN];
  wagi_tflite_model *m = NULL;
  int rc = wagi_tflite_load(data, size, &m, err, sizeof err);
  if (rc != WAGI_TFLITE_OK) {
    if (m != NULL || err[0] == 0 || strlen(err) >= sizeof err) abort();
    return 0;
  }
  wagi_tflite_tensor_info in, out;
  wagi_tflite_input_info(m, &in);
  wagi_tflite_output_info(m, &out);
  if (in.bytes == 0 || out.bytes == 0 || in.ndims < 0 || in.ndims > 4) abort();
  if (wagi_tflite_arena_bytes(m) <= RUN_ARENA_LIMIT) {
    uint8_t *x = malloc(in.bytes), *y = malloc(out.bytes);
    if (x && y) {
      for (size_t i = 0; i < in.bytes; i++) x[i] = (uint8_t)(i * 151 + 7);
      int ir = wagi_tflite_invoke(m, x, in.bytes, y, out.bytes);
      /* the only run-time failure is an average pool over nothing */
      if (ir != WAGI_TFLITE_OK && ir != WAGI_TFLITE_ERR_MODEL) abort();
    }
    free(x);
    free(y);
  }
  wagi_tflite_free(m);
  return 0;
}
