/* wagi_tflite_ops.h — the uint8 kernels behind wagi_tflite.h, exposed so
 * that tests can check them one by one against plain reference code.
 *
 * Arithmetic is TFLite's reference uint8 arithmetic: int32 accumulation of
 * (input + input_offset) * (filter + filter_offset) where the offsets are the
 * negated zero points, int32 bias, then requantization by a fixed-point
 * multiplier (SaturatingRoundingDoublingHighMul followed by
 * RoundingDivideByPOT), the output zero point, and a clamp to the activation
 * range (which is how fused ReLU/ReLU6 are done). Tensors are NHWC uint8.
 *
 * Filters are passed already offset, as int16 (filter byte + filter_offset)
 * in the layout the SIMD128 dot products want: that is the form the model
 * keeps them in. wagi_tflite_*_filter_prepare make it.
 *
 * With -msimd128 (wasm) the conv and depthwise kernels use SIMD128; the
 * scalar code stays and gives the same bytes; wagi_tflite_simd (default 1)
 * switches between them so that tests can compare the two.
 */
#ifndef WAGI_TFLITE_OPS_H
#define WAGI_TFLITE_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

extern int wagi_tflite_simd;

/* ---- fixed-point helpers (TFLite / gemmlowp semantics) ---- */

/* real multiplier -> (quantized_multiplier, shift): real ~= qm * 2^(shift - 31),
 * qm in [2^30, 2^31), as TFLite's QuantizeMultiplier (frexp, round half away
 * from zero, a shift below -31 gives 0). */
void wagi_tflite_quantize_multiplier(double real, int32_t *quantized, int *shift);
int32_t wagi_tflite_srdhm(int32_t a, int32_t b);               /* SaturatingRoundingDoublingHighMul */
int32_t wagi_tflite_rounding_divide_by_pot(int32_t x, int exp); /* RoundingDivideByPOT */
/* MultiplyByQuantizedMultiplier: shift > 0 shifts left before the multiply,
 * shift < 0 divides after it. */
int32_t wagi_tflite_mul_by_quantized(int32_t x, int32_t quantized, int shift);

/* Activation range of a uint8 output with this scale and zero point for a
 * fused activation (TFLite's ActivationFunctionType: 0 NONE, 1 RELU,
 * 2 RELU_N1_TO_1, 3 RELU6); -1 for an activation it does not know. */
int wagi_tflite_activation_range(int activation, float scale, int32_t zero_point, int32_t *act_min,
                                 int32_t *act_max);

/* Output size and leading padding for one spatial dimension (TFLite's
 * ComputeOutSize / ComputePaddingWithOffset); same_padding 1 for SAME,
 * 0 for VALID. Returns the output size (<= 0 when nothing fits). */
int wagi_tflite_out_size(int same_padding, int in, int filter, int stride, int dilation, int *pad);

/* ---- kernels ---- */

typedef struct {
  int n, h, w, c;
} wagi_tflite_dims;

typedef struct {
  int stride_w, stride_h, dilation_w, dilation_h;
  int pad_w, pad_h;     /* leading (left/top) padding */
  int depth_multiplier; /* DEPTHWISE_CONV_2D only */
  int32_t input_offset; /* -input zero point */
  int32_t output_offset;
  int32_t output_multiplier;
  int output_shift;
  int32_t act_min, act_max;
} wagi_tflite_conv_params;

/* Filters as the kernels take them: int16 weights (byte + filter_offset)
 * laid out for SIMD128 (blocks of 8 output channels, even and odd channels
 * apart; see wagi_tflite_ops.c), zero-padded. `filter` is TFLite's
 * [out_c][fh][fw][in_c] (CONV_2D) or [1][fh][fw][out_c] (DEPTHWISE_CONV_2D);
 * `out` holds the *_filter_size int16. */
size_t wagi_tflite_conv_filter_size(int filter_h, int filter_w, int in_c, int out_c);
void wagi_tflite_conv_filter_prepare(const uint8_t *filter, int out_c, int filter_h, int filter_w, int in_c,
                                     int32_t filter_offset, int16_t *out);
size_t wagi_tflite_depthwise_filter_size(int filter_h, int filter_w, int out_c);
void wagi_tflite_depthwise_filter_prepare(const uint8_t *filter, int filter_h, int filter_w, int out_c,
                                          int32_t filter_offset, int16_t *out);

/* Bytes of scratch the conv kernel wants for this filter/input (int16 im2col
 * rows and int32 accumulators), aligned to 16. */
size_t wagi_tflite_conv_scratch(int filter_h, int filter_w, int in_c, int out_c);

/* CONV_2D. filter: as wagi_tflite_conv_filter_prepare makes it; bias:
 * [out.c] or NULL; scratch: wagi_tflite_conv_scratch bytes, 16-aligned. */
void wagi_tflite_conv2d(const wagi_tflite_conv_params *p, wagi_tflite_dims in, const uint8_t *input,
                        int filter_h, int filter_w, const int16_t *filter, const int32_t *bias,
                        wagi_tflite_dims out, uint8_t *output, void *scratch);

/* Bytes of scratch for DEPTHWISE_CONV_2D (int32 accumulators). */
size_t wagi_tflite_depthwise_scratch(int out_c);

/* DEPTHWISE_CONV_2D. filter: as wagi_tflite_depthwise_filter_prepare makes
 * it; out.c = in.c * depth_multiplier; bias [out.c] or NULL. */
void wagi_tflite_depthwise_conv2d(const wagi_tflite_conv_params *p, wagi_tflite_dims in,
                                  const uint8_t *input, int filter_h, int filter_w,
                                  const int16_t *filter, const int32_t *bias, wagi_tflite_dims out,
                                  uint8_t *output, void *scratch);

typedef struct {
  int stride_w, stride_h, filter_w, filter_h, pad_w, pad_h;
  int32_t act_min, act_max;
} wagi_tflite_pool_params;

/* AVERAGE_POOL_2D (input and output share scale and zero point). Returns 0,
 * or -1 if some output window holds no input at all. */
int wagi_tflite_average_pool(const wagi_tflite_pool_params *p, wagi_tflite_dims in,
                             const uint8_t *input, wagi_tflite_dims out, uint8_t *output);

typedef struct {
  int32_t input1_offset, input2_offset, output_offset;
  int left_shift;
  int32_t input1_multiplier, input2_multiplier, output_multiplier;
  int input1_shift, input2_shift, output_shift; /* <= 0 */
  int32_t act_min, act_max;
} wagi_tflite_add_params;

/* Parameters for ADD from the three tensors' quantization (TFLite's
 * Prepare for uint8: left shift 20, multipliers relative to twice the larger
 * input scale). */
void wagi_tflite_add_prepare(float in1_scale, int32_t in1_zp, float in2_scale, int32_t in2_zp,
                             float out_scale, int32_t out_zp, int32_t act_min, int32_t act_max,
                             wagi_tflite_add_params *p);
void wagi_tflite_add(const wagi_tflite_add_params *p, size_t n, const uint8_t *in1,
                     const uint8_t *in2, uint8_t *out);

typedef struct {
  int32_t input_multiplier;
  int input_left_shift;
  int diff_min;
} wagi_tflite_softmax_params;

/* Parameters for SOFTMAX from beta and the input scale (5 integer bits for
 * the scaled differences, as TFLite). The output is scale 1/256, zero point 0. */
void wagi_tflite_softmax_prepare(double beta, float input_scale, wagi_tflite_softmax_params *p);
/* rows x depth, softmax along depth. */
void wagi_tflite_softmax(const wagi_tflite_softmax_params *p, size_t rows, size_t depth,
                         const uint8_t *input, uint8_t *output);

#ifdef __cplusplus
}
#endif

#endif
