/* wagi_tflite.h — a small TensorFlow Lite interpreter for uint8-quantized
 * image models (MobileNetV2 and the like) in C modules (wasm32-wasi), also
 * buildable natively.
 *
 * The reader follows the TFLite flatbuffer schema by hand (no generated
 * code): every offset, vtable, vector, string, buffer and tensor size is
 * checked against the file, so a truncated or hostile model is an error with
 * a message saying what is wrong, never a read outside the file. Supported:
 * one subgraph of CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, RESHAPE
 * and SOFTMAX on uint8 tensors with per-tensor scale and zero point and int32
 * biases, computed bit-exactly as TFLite's reference uint8 kernels do
 * (wagi_tflite_ops.h). Anything else is an error naming the operator or type.
 *
 * Loading converts the weights into the form the kernels use and plans one
 * arena for every intermediate tensor, so wagi_tflite_invoke allocates
 * nothing. The model does not keep a pointer to the file's bytes.
 *
 *   char err[WAGI_TFLITE_ERRLEN];
 *   wagi_tflite_model *m;
 *   if (wagi_tflite_load(bytes, n, &m, err, sizeof err) != WAGI_TFLITE_OK) { puts(err); ... }
 *   uint8_t in[224 * 224 * 3], out[1001];
 *   wagi_tflite_resize(rgb, w, h, 3, in, 224, 224);
 *   wagi_tflite_invoke(m, in, sizeof in, out, sizeof out);
 *   wagi_tflite_free(m);
 */
#ifndef WAGI_TFLITE_H
#define WAGI_TFLITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_TFLITE_OK = 0,
  WAGI_TFLITE_ERR_ARG = 1,         /* NULL where a value is required, a wrong buffer size */
  WAGI_TFLITE_ERR_FORMAT = 2,      /* not a TFLite flatbuffer, or one that points outside itself */
  WAGI_TFLITE_ERR_UNSUPPORTED = 3, /* an operator, tensor type or option this library lacks */
  WAGI_TFLITE_ERR_MODEL = 4,       /* well-formed but inconsistent: shapes, quantization, graph */
  WAGI_TFLITE_ERR_NOMEM = 5,       /* malloc failed, or a size beyond the library's limits */
};

/* Room for any message wagi_tflite_load writes. */
#define WAGI_TFLITE_ERRLEN 256

/* Static text for a WAGI_TFLITE_* code; never freed. */
const char *wagi_tflite_strerror(int code);

typedef struct wagi_tflite_model wagi_tflite_model;

/* Parses and prepares a model from the file's bytes (which the caller keeps
 * owning and may free afterwards). On success *out is the model; otherwise
 * *out is untouched and, if err is not NULL, err (errcap bytes) holds a
 * NUL-terminated message naming what is wrong. */
int wagi_tflite_load(const uint8_t *data, size_t len, wagi_tflite_model **out, char *err,
                     size_t errcap);

void wagi_tflite_free(wagi_tflite_model *m);

/* The graph's (single) input or output tensor. */
typedef struct {
  int ndims;
  int dims[4];
  float scale;
  int32_t zero_point;
  size_t bytes; /* product of dims: one uint8 per element */
} wagi_tflite_tensor_info;

void wagi_tflite_input_info(const wagi_tflite_model *m, wagi_tflite_tensor_info *info);
void wagi_tflite_output_info(const wagi_tflite_model *m, wagi_tflite_tensor_info *info);

/* Bytes of the tensor arena planned at load (intermediate tensors share it
 * by lifetime) and what it would take with one buffer per tensor. */
size_t wagi_tflite_arena_bytes(const wagi_tflite_model *m);
size_t wagi_tflite_unplanned_bytes(const wagi_tflite_model *m);

/* Runs the model: in_len must be the input's bytes and out_cap at least the
 * output's. Not reentrant on one model (the arena is the model's). */
int wagi_tflite_invoke(wagi_tflite_model *m, const uint8_t *input, size_t in_len, uint8_t *output,
                       size_t out_cap);

/* Resizes an interleaved 8-bit image (channels 1..4, rows packed) with a
 * triangle filter widened by the downscale factor (antialiased bilinear):
 * the same fixed-point arithmetic as Pillow's Image.resize(BILINEAR),
 * horizontal pass first, so the bytes match what the reference outputs were
 * computed from. WAGI_TFLITE_ERR_ARG for empty or absurd sizes,
 * WAGI_TFLITE_ERR_NOMEM when the temporary buffers cannot be had. */
int wagi_tflite_resize(const uint8_t *src, int src_w, int src_h, int channels, uint8_t *dst,
                       int dst_w, int dst_h);

#ifdef __cplusplus
}
#endif

#endif
