/* wagi_tflite.c — TFLite flatbuffer reader, graph checks, arena planning and
 * the interpreter loop (see wagi_tflite.h).
 *
 * Flatbuffers in brief: the file starts with a uint32 offset to the root
 * table; a table starts with an int32 whose subtraction from the table's
 * position gives its vtable (uint16 vtable size, uint16 table size, one
 * uint16 offset per field, 0 = absent); reference fields hold a uint32
 * offset relative to the field itself; vectors and strings are a uint32
 * count followed by the elements. All little-endian. Every read below goes
 * through wtf_* helpers that check the position against the file size first.
 *
 * Field numbers are those of tensorflow/lite/schema/schema.fbs (v3). */
#include "wagi_tflite.h"
#include "wagi_tflite_ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits that keep every size computation far from overflow on wasm32. */
#define WTF_MAX_TENSOR_BYTES ((uint64_t)1 << 28)
#define WTF_MAX_ARENA_BYTES ((uint64_t)1 << 30)
#define WTF_MAX_STRIDE 4096
/* Graph size limits (MobileNetV2: 174 tensors, 66 operators) that keep a
 * hostile file from making planning slow. */
#define WTF_MAX_TENSORS 100000
#define WTF_MAX_OPS 10000
#define WTF_NAME_MAX 48

enum { WTF_UINT8 = 3, WTF_INT32 = 2 };
enum { OP_ADD = 0, OP_AVERAGE_POOL_2D = 1, OP_CONV_2D = 3, OP_DEPTHWISE_CONV_2D = 4,
       OP_RESHAPE = 22, OP_SOFTMAX = 25, OP_CUSTOM = 32 };
/* BuiltinOptions union tags */
enum { OPT_CONV = 1, OPT_DEPTHWISE = 2, OPT_POOL = 5, OPT_SOFTMAX = 9, OPT_ADD = 11, OPT_RESHAPE = 17 };

const char *wagi_tflite_strerror(int code) {
  switch (code) {
  case WAGI_TFLITE_OK: return "ok";
  case WAGI_TFLITE_ERR_ARG: return "bad argument";
  case WAGI_TFLITE_ERR_FORMAT: return "malformed TFLite file";
  case WAGI_TFLITE_ERR_UNSUPPORTED: return "unsupported TFLite feature";
  case WAGI_TFLITE_ERR_MODEL: return "inconsistent TFLite model";
  case WAGI_TFLITE_ERR_NOMEM: return "out of memory or beyond size limits";
  default: return "unknown error";
  }
}

static const char *const wtf_op_names[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC",
    "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS",
    "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
    "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
    "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM",
    "LESS", "NEG", "PADV2"};

static const char *const wtf_type_names[] = {
    "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64",
    "INT8", "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16", "INT4"};

static const char *const wtf_act_names[] = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH",
                                            "SIGN_BIT"};

/* ---- the model ---- */

typedef struct {
  int ndims;
  int dims[4];
  int type;
  float scale;
  int32_t zero_point;
  int quantized;             /* one scale and one zero point */
  size_t elems, bytes;
  const uint8_t *data;       /* constant contents (points into the file: load only) */
  int producer;              /* op index that writes it; -1 graph input; -2 none */
  int last_use;              /* last op index reading it (nops for the graph output) */
  size_t offset;             /* in the arena, for activations */
  char name[WTF_NAME_MAX];
} wtf_tensor;

typedef struct {
  int code;
  int in0, in1, out;
  wagi_tflite_dims din, dout;
  int fh, fw;
  int16_t *filter;
  int32_t *bias;
  wagi_tflite_conv_params conv;
  wagi_tflite_pool_params pool;
  wagi_tflite_add_params add;
  wagi_tflite_softmax_params softmax;
  size_t elems, rows, depth;
} wtf_op;

struct wagi_tflite_model {
  int ntensors, nops;
  wtf_tensor *tensors;
  wtf_op *ops;
  int input, output;
  uint8_t *arena;
  size_t arena_bytes, unplanned_bytes;
  void *scratch;
  size_t scratch_bytes;
};

/* ---- checked flatbuffer access ---- */

typedef struct {
  const uint8_t *d;
  size_t n;
  char *err;
  size_t errcap;
  char ctx[96]; /* what is being read, for messages */
} wtf_reader;

typedef struct {
  size_t pos, vt, size;
  unsigned nfields;
} wtf_table;

typedef struct {
  size_t pos; /* first element */
  uint32_t len;
} wtf_vec;

static int wtf_fail(wtf_reader *r, int code, const char *fmt, ...) {
  if (r->err && r->errcap) {
    int k = r->ctx[0] ? snprintf(r->err, r->errcap, "%s: ", r->ctx) : 0;
    if (k < 0) k = 0;
    if ((size_t)k < r->errcap) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(r->err + k, r->errcap - k, fmt, ap);
      va_end(ap);
    }
  }
  return code;
}

static uint16_t wtf_u16(const wtf_reader *r, size_t pos) {
  return (uint16_t)(r->d[pos] | r->d[pos + 1] << 8);
}
static uint32_t wtf_u32(const wtf_reader *r, size_t pos) {
  return (uint32_t)r->d[pos] | (uint32_t)r->d[pos + 1] << 8 | (uint32_t)r->d[pos + 2] << 16 |
         (uint32_t)r->d[pos + 3] << 24;
}
static uint64_t wtf_u64(const wtf_reader *r, size_t pos) {
  return wtf_u32(r, pos) | (uint64_t)wtf_u32(r, pos + 4) << 32;
}
static float wtf_f32(const wtf_reader *r, size_t pos) {
  uint32_t u = wtf_u32(r, pos);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Is [pos, pos + len) inside the file? */
static int wtf_in_file(const wtf_reader *r, uint64_t pos, uint64_t len) {
  return pos <= r->n && len <= r->n - pos;
}

static int wtf_table_at(wtf_reader *r, uint64_t pos, const char *what, wtf_table *t) {
  if (!wtf_in_file(r, pos, 4))
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "%s table at offset %llu is outside the file (%zu bytes)",
                    what, (unsigned long long)pos, r->n);
  int64_t vt = (int64_t)pos - (int32_t)wtf_u32(r, (size_t)pos);
  if (vt < 0 || !wtf_in_file(r, (uint64_t)vt, 4))
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "%s table at offset %llu: its vtable (offset %lld) is outside the file",
                    what, (unsigned long long)pos, (long long)vt);
  uint16_t vsize = wtf_u16(r, (size_t)vt), tsize = wtf_u16(r, (size_t)vt + 2);
  if (vsize < 4 || (vsize & 1) || !wtf_in_file(r, (uint64_t)vt, vsize))
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "%s table at offset %llu: bad vtable size %u",
                    what, (unsigned long long)pos, vsize);
  if (tsize < 4 || !wtf_in_file(r, pos, tsize))
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "%s table at offset %llu: size %u runs past the end of the file",
                    what, (unsigned long long)pos, tsize);
  t->pos = (size_t)pos;
  t->vt = (size_t)vt;
  t->size = tsize;
  t->nfields = (vsize - 4) / 2u;
  return 0;
}

/* Position of field `idx` of `width` bytes, 0 when absent. */
static int wtf_field(wtf_reader *r, const wtf_table *t, unsigned idx, size_t width, const char *what,
                     size_t *pos) {
  *pos = 0;
  if (idx >= t->nfields) return 0;
  uint16_t off = wtf_u16(r, t->vt + 4 + 2 * idx);
  if (off == 0) return 0;
  if (off < 4 || off + width > t->size)
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "field %s at table offset %u is outside its table (%zu bytes)",
                    what, off, t->size);
  *pos = t->pos + off;
  return 0;
}

static int wtf_get_int(wtf_reader *r, const wtf_table *t, unsigned idx, size_t width, int is_signed,
                       int64_t def, const char *what, int64_t *out) {
  size_t pos;
  int rc = wtf_field(r, t, idx, width, what, &pos);
  if (rc) return rc;
  if (!pos) {
    *out = def;
    return 0;
  }
  uint64_t u = width == 1 ? r->d[pos] : width == 2 ? wtf_u16(r, pos) : width == 4 ? wtf_u32(r, pos) : wtf_u64(r, pos);
  if (is_signed && width < 8 && (u >> (width * 8 - 1)) & 1) u |= ~(uint64_t)0 << (width * 8);
  *out = (int64_t)u;
  return 0;
}

/* Target of a reference field, 0 when absent; 4 bytes there are in the file. */
static int wtf_get_ref(wtf_reader *r, const wtf_table *t, unsigned idx, const char *what, size_t *out) {
  size_t pos;
  int rc = wtf_field(r, t, idx, 4, what, &pos);
  if (rc) return rc;
  *out = 0;
  if (!pos) return 0;
  uint64_t target = (uint64_t)pos + wtf_u32(r, pos);
  if (!wtf_in_file(r, target, 4))
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "%s points to offset %llu, outside the file (%zu bytes)",
                    what, (unsigned long long)target, r->n);
  *out = (size_t)target;
  return 0;
}

static int wtf_get_vec(wtf_reader *r, const wtf_table *t, unsigned idx, size_t elem, const char *what,
                       wtf_vec *v) {
  size_t target;
  int rc = wtf_get_ref(r, t, idx, what, &target);
  v->pos = 0;
  v->len = 0;
  if (rc || !target) return rc;
  uint32_t len = wtf_u32(r, target);
  if (!wtf_in_file(r, (uint64_t)target + 4, (uint64_t)len * elem))
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "%s: %u elements of %zu bytes at offset %zu run past the end of the file (%zu bytes)",
                    what, len, elem, target + 4, r->n);
  v->pos = target + 4;
  v->len = len;
  return 0;
}

static int wtf_vec_table(wtf_reader *r, const wtf_vec *v, uint32_t i, const char *what, wtf_table *t) {
  size_t pos = v->pos + (size_t)i * 4;
  return wtf_table_at(r, (uint64_t)pos + wtf_u32(r, pos), what, t);
}

static int32_t wtf_vec_i32(const wtf_reader *r, const wtf_vec *v, uint32_t i) {
  return (int32_t)wtf_u32(r, v->pos + (size_t)i * 4);
}

/* A string field copied for messages: printable ASCII, at most cap-1 chars. */
static int wtf_get_name(wtf_reader *r, const wtf_table *t, unsigned idx, const char *what, char *out,
                        size_t cap) {
  wtf_vec v;
  int rc = wtf_get_vec(r, t, idx, 1, what, &v);
  out[0] = 0;
  if (rc) return rc;
  size_t k = 0;
  for (uint32_t i = 0; i < v.len && k + 1 < cap; i++) {
    uint8_t c = r->d[v.pos + i];
    out[k++] = c >= 32 && c < 127 ? (char)c : '?';
  }
  out[k] = 0;
  return 0;
}

/* ---- parsing the model ---- */

typedef struct {
  int32_t code;
  char custom[32];
} wtf_opcode;

static const char *wtf_opname(const wtf_opcode *oc, char *buf, size_t cap) {
  if (oc->code == OP_CUSTOM) snprintf(buf, cap, "custom operator '%s'", oc->custom);
  else if (oc->code >= 0 && oc->code < (int32_t)(sizeof wtf_op_names / sizeof *wtf_op_names))
    snprintf(buf, cap, "%s", wtf_op_names[oc->code]);
  else snprintf(buf, cap, "builtin operator %d", (int)oc->code);
  return buf;
}

static const char *wtf_typename(int type, char *buf, size_t cap) {
  if (type >= 0 && type < (int)(sizeof wtf_type_names / sizeof *wtf_type_names)) return wtf_type_names[type];
  snprintf(buf, cap, "type %d", type);
  return buf;
}

/* Bytes per element of a TFLite type; 0 for those without a fixed size. */
static size_t wtf_type_size(int type) {
  static const uint8_t sizes[] = {4, 2, 4, 1, 8, 0, 1, 2, 8, 1, 8, 16, 8, 0, 0, 4, 2, 0};
  return type >= 0 && type < (int)sizeof sizes ? sizes[type] : 0;
}

static int wtf_parse_tensor(wtf_reader *r, const wtf_table *tt, const wtf_vec *buffers, uint32_t idx,
                            wtf_tensor *t) {
  int64_t v;
  int rc;
  wtf_vec shape;
  if ((rc = wtf_get_name(r, tt, 3, "name", t->name, sizeof t->name))) return rc;
  snprintf(r->ctx, sizeof r->ctx, "tensor %u '%s'", idx, t->name);
  if ((rc = wtf_get_vec(r, tt, 0, 4, "shape", &shape))) return rc;
  if (shape.len > 4)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%u dimensions (at most 4 are supported)", shape.len);
  t->ndims = (int)shape.len;
  uint64_t elems = 1;
  for (uint32_t i = 0; i < shape.len; i++) {
    int32_t d = wtf_vec_i32(r, &shape, i);
    if (d < 1) return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "dimension %u is %d", i, (int)d);
    elems *= (uint64_t)d;
    if (elems > WTF_MAX_TENSOR_BYTES)
      return wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "more than %llu elements",
                      (unsigned long long)WTF_MAX_TENSOR_BYTES);
    t->dims[i] = d;
  }
  if ((rc = wtf_get_int(r, tt, 1, 1, 1, 0, "type", &v))) return rc;
  t->type = (int)v;
  t->elems = (size_t)elems;
  size_t esize = wtf_type_size(t->type);
  t->bytes = t->elems * (esize ? esize : 1);
  if ((rc = wtf_get_int(r, tt, 2, 4, 0, 0, "buffer", &v))) return rc;
  if ((uint64_t)v >= buffers->len)
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "buffer index %lld, but the model has %u buffers",
                    (long long)v, buffers->len);
  wtf_table bt;
  if ((rc = wtf_vec_table(r, buffers, (uint32_t)v, "buffer", &bt))) return rc;
  wtf_vec data;
  if ((rc = wtf_get_vec(r, &bt, 0, 1, "buffer data", &data))) return rc;
  int64_t boff, bsize;
  if ((rc = wtf_get_int(r, &bt, 1, 8, 0, 0, "buffer offset", &boff))) return rc;
  if ((rc = wtf_get_int(r, &bt, 2, 8, 0, 0, "buffer size", &bsize))) return rc;
  t->data = NULL;
  size_t dlen = 0;
  if (data.len) {
    t->data = r->d + data.pos;
    dlen = data.len;
  } else if ((uint64_t)boff > 1) { /* data stored after the flatbuffer (large models) */
    if (!wtf_in_file(r, (uint64_t)boff, (uint64_t)bsize))
      return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "buffer data at offset %llu, %llu bytes, is outside the file",
                      (unsigned long long)boff, (unsigned long long)bsize);
    t->data = r->d + boff;
    dlen = (size_t)bsize;
  }
  if (t->data && esize && dlen != t->bytes)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "constant data is %zu bytes, the shape needs %zu", dlen, t->bytes);
  size_t qpos;
  if ((rc = wtf_get_ref(r, tt, 4, "quantization", &qpos))) return rc;
  t->quantized = 0;
  if (qpos) {
    wtf_table qt;
    wtf_vec scale, zp;
    if ((rc = wtf_table_at(r, qpos, "quantization", &qt))) return rc;
    if ((rc = wtf_get_vec(r, &qt, 2, 4, "quantization scale", &scale))) return rc;
    if ((rc = wtf_get_vec(r, &qt, 3, 8, "quantization zero_point", &zp))) return rc;
    if (scale.len > 1 || zp.len > 1)
      return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED,
                      "per-channel quantization (%u scales) is not supported", scale.len);
    if (scale.len == 1) {
      t->quantized = 1;
      t->scale = wtf_f32(r, scale.pos);
      int64_t z = zp.len ? (int64_t)wtf_u64(r, zp.pos) : 0;
      if (z < INT32_MIN || z > INT32_MAX) return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "zero point %lld", (long long)z);
      t->zero_point = (int32_t)z;
    }
  }
  return 0;
}

/* Context for messages about operator i. */
static void wtf_op_ctx(wtf_reader *r, int i, const char *name) {
  snprintf(r->ctx, sizeof r->ctx, "operator %d (%s)", i, name);
}

/* Operand checks. `role` names it in messages ("input", "filter", ...). */
static int wtf_check_tensor(wtf_reader *r, const wagi_tflite_model *m, int idx, const char *role,
                            int type, int ndims, int constant) {
  char tb[24], wb[24];
  if (idx < 0 || idx >= m->ntensors)
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "%s tensor index %d, but there are %d tensors", role, idx, m->ntensors);
  const wtf_tensor *t = &m->tensors[idx];
  if (t->type != type)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%s tensor %d '%s' is %s; only %s is supported here", role,
                    idx, t->name, wtf_typename(t->type, tb, sizeof tb), wtf_typename(type, wb, sizeof wb));
  if (ndims && t->ndims != ndims)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "%s tensor %d '%s' has %d dimensions, expected %d", role, idx,
                    t->name, t->ndims, ndims);
  if (constant && !t->data)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%s tensor %d '%s' is not constant", role, idx, t->name);
  if (!constant && t->data)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%s tensor %d '%s' is a constant (not supported here)",
                    role, idx, t->name);
  if (type == WTF_UINT8) {
    if (!t->quantized)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "%s tensor %d '%s' has no quantization parameters", role, idx,
                      t->name);
    if (!(t->scale > 0) || !isfinite(t->scale) || t->zero_point < 0 || t->zero_point > 255)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "%s tensor %d '%s' has scale %g and zero point %d", role, idx,
                      t->name, (double)t->scale, (int)t->zero_point);
  }
  return 0;
}

static wagi_tflite_dims wtf_dims4(const wtf_tensor *t) {
  wagi_tflite_dims d = {t->dims[0], t->dims[1], t->dims[2], t->dims[3]};
  return d;
}

static int wtf_options(wtf_reader *r, const wtf_table *ot, int tag, int want, const char *what,
                       size_t *pos) {
  int rc = wtf_get_ref(r, ot, 4, "builtin_options", pos);
  if (rc) return rc;
  if (!*pos || tag != want)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "no %s (options type %d)", what, tag);
  return 0;
}

static int wtf_activation(wtf_reader *r, int64_t act, const wtf_tensor *out, int32_t *lo, int32_t *hi) {
  if (wagi_tflite_activation_range((int)act, out->scale, out->zero_point, lo, hi) != 0) {
    if (act >= 0 && act < (int64_t)(sizeof wtf_act_names / sizeof *wtf_act_names))
      return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "fused activation %s is not supported", wtf_act_names[act]);
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "fused activation %lld is not supported", (long long)act);
  }
  if (*lo > *hi) return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "empty activation range [%d, %d]", (int)*lo, (int)*hi);
  return 0;
}

/* CONV_2D and DEPTHWISE_CONV_2D. */
static int wtf_prepare_conv(wtf_reader *r, wagi_tflite_model *m, wtf_op *op, const wtf_table *ot, int tag,
                            int depthwise) {
  int rc;
  if ((rc = wtf_check_tensor(r, m, op->in0, "input", WTF_UINT8, 4, 0))) return rc;
  if ((rc = wtf_check_tensor(r, m, op->in1, "filter", WTF_UINT8, 4, 1))) return rc;
  if ((rc = wtf_check_tensor(r, m, op->out, "output", WTF_UINT8, 4, 0))) return rc;
  const wtf_tensor *in = &m->tensors[op->in0], *f = &m->tensors[op->in1], *out = &m->tensors[op->out];
  size_t opos;
  if ((rc = wtf_options(r, ot, tag, depthwise ? OPT_DEPTHWISE : OPT_CONV,
                        depthwise ? "DepthwiseConv2DOptions" : "Conv2DOptions", &opos)))
    return rc;
  wtf_table o;
  if ((rc = wtf_table_at(r, opos, "options", &o))) return rc;
  /* Conv2DOptions: padding, stride_w, stride_h, fused_activation_function,
   * dilation_w_factor, dilation_h_factor; the depthwise one has
   * depth_multiplier after stride_h. */
  int64_t padding, sw, sh, dm = 0, act, dw, dh;
  int k = depthwise ? 1 : 0;
  if ((rc = wtf_get_int(r, &o, 0, 1, 1, 0, "padding", &padding)) ||
      (rc = wtf_get_int(r, &o, 1, 4, 1, 0, "stride_w", &sw)) ||
      (rc = wtf_get_int(r, &o, 2, 4, 1, 0, "stride_h", &sh)) ||
      (depthwise && (rc = wtf_get_int(r, &o, 3, 4, 1, 0, "depth_multiplier", &dm))) ||
      (rc = wtf_get_int(r, &o, 3 + k, 1, 1, 0, "fused_activation_function", &act)) ||
      (rc = wtf_get_int(r, &o, 4 + k, 4, 1, 1, "dilation_w_factor", &dw)) ||
      (rc = wtf_get_int(r, &o, 5 + k, 4, 1, 1, "dilation_h_factor", &dh)))
    return rc;
  if (padding != 0 && padding != 1)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "padding %lld (only SAME and VALID)", (long long)padding);
  if (sw < 1 || sh < 1 || sw > WTF_MAX_STRIDE || sh > WTF_MAX_STRIDE || dw < 1 || dh < 1 ||
      dw > WTF_MAX_STRIDE || dh > WTF_MAX_STRIDE)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "strides %lldx%lld, dilation %lldx%lld (each must be 1..%d)",
                    (long long)sw, (long long)sh, (long long)dw, (long long)dh, WTF_MAX_STRIDE);
  int oc = depthwise ? f->dims[3] : f->dims[0];
  op->fh = f->dims[1];
  op->fw = f->dims[2];
  if (depthwise) {
    if (f->dims[0] != 1)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "filter's first dimension is %d, expected 1", f->dims[0]);
    if (oc % in->dims[3] != 0)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "%d output channels are not a multiple of %d input channels",
                      oc, in->dims[3]);
    if (dm != 0 && dm != oc / in->dims[3])
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "depth_multiplier %lld, but the filter gives %d", (long long)dm,
                      oc / in->dims[3]);
    dm = oc / in->dims[3];
  } else if (f->dims[3] != in->dims[3]) {
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "filter has %d input channels, the input %d", f->dims[3], in->dims[3]);
  }
  if ((int64_t)(op->fh - 1) * dh >= (1 << 20) || (int64_t)(op->fw - 1) * dw >= (1 << 20))
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "dilated filter too large");
  int ph, pw;
  int oh = wagi_tflite_out_size(padding == 0, in->dims[1], op->fh, (int)sh, (int)dh, &ph);
  int ow = wagi_tflite_out_size(padding == 0, in->dims[2], op->fw, (int)sw, (int)dw, &pw);
  if (out->dims[0] != in->dims[0] || out->dims[1] != oh || out->dims[2] != ow || out->dims[3] != oc)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "output shape [%d,%d,%d,%d], expected [%d,%d,%d,%d]", out->dims[0],
                    out->dims[1], out->dims[2], out->dims[3], in->dims[0], oh, ow, oc);
  wagi_tflite_conv_params *p = &op->conv;
  p->stride_w = (int)sw;
  p->stride_h = (int)sh;
  p->dilation_w = (int)dw;
  p->dilation_h = (int)dh;
  p->pad_w = pw;
  p->pad_h = ph;
  p->depth_multiplier = (int)dm;
  p->input_offset = -in->zero_point;
  p->output_offset = out->zero_point;
  double real = (double)in->scale * (double)f->scale / (double)out->scale;
  wagi_tflite_quantize_multiplier(real, &p->output_multiplier, &p->output_shift);
  if ((rc = wtf_activation(r, act, out, &p->act_min, &p->act_max))) return rc;
  op->din = wtf_dims4(in);
  op->dout = wtf_dims4(out);
  size_t fsize = depthwise ? wagi_tflite_depthwise_filter_size(op->fh, op->fw, oc)
                           : wagi_tflite_conv_filter_size(op->fh, op->fw, in->dims[3], oc);
  op->filter = aligned_alloc(16, (fsize * sizeof *op->filter + 15) & ~(size_t)15);
  if (!op->filter) return wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "no memory for the filter");
  if (depthwise) wagi_tflite_depthwise_filter_prepare(f->data, op->fh, op->fw, oc, -f->zero_point, op->filter);
  else wagi_tflite_conv_filter_prepare(f->data, oc, op->fh, op->fw, in->dims[3], -f->zero_point, op->filter);
  size_t need = depthwise ? wagi_tflite_depthwise_scratch(oc) : wagi_tflite_conv_scratch(op->fh, op->fw, in->dims[3], oc);
  if (need > m->scratch_bytes) m->scratch_bytes = need;
  return 0;
}

static int wtf_prepare_bias(wtf_reader *r, wagi_tflite_model *m, wtf_op *op, int bias_idx, int channels) {
  if (bias_idx == -1) return 0;
  int rc = wtf_check_tensor(r, m, bias_idx, "bias", WTF_INT32, 1, 1);
  if (rc) return rc;
  const wtf_tensor *b = &m->tensors[bias_idx];
  if (b->dims[0] != channels)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "bias has %d values for %d output channels", b->dims[0], channels);
  op->bias = aligned_alloc(16, ((size_t)channels * sizeof *op->bias + 15) & ~(size_t)15);
  if (!op->bias) return wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "no memory for the bias");
  for (int i = 0; i < channels; i++) {
    const uint8_t *s = b->data + (size_t)i * 4;
    op->bias[i] = (int32_t)((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
  }
  return 0;
}

static int wtf_same_quant(wtf_reader *r, const wtf_tensor *a, const wtf_tensor *b, const char *what) {
  if (a->scale != b->scale || a->zero_point != b->zero_point)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%s with different input and output quantization", what);
  return 0;
}

static int wtf_prepare_op(wtf_reader *r, wagi_tflite_model *m, int i, const wtf_table *ot, const wtf_opcode *oc) {
  wtf_op *op = &m->ops[i];
  char nb[64];
  wtf_op_ctx(r, i, wtf_opname(oc, nb, sizeof nb));
  int rc;
  wtf_vec ins, outs;
  if ((rc = wtf_get_vec(r, ot, 1, 4, "inputs", &ins)) || (rc = wtf_get_vec(r, ot, 2, 4, "outputs", &outs)))
    return rc;
  int64_t tag;
  if ((rc = wtf_get_int(r, ot, 3, 1, 0, 0, "builtin_options_type", &tag))) return rc;
  op->code = oc->code;
  op->in0 = op->in1 = op->out = -1;
  int min_in, max_in;
  switch (oc->code) {
  case OP_CONV_2D:
  case OP_DEPTHWISE_CONV_2D: min_in = 2, max_in = 3; break;
  case OP_ADD: min_in = max_in = 2; break;
  case OP_RESHAPE: min_in = 1, max_in = 2; break;
  case OP_AVERAGE_POOL_2D:
  case OP_SOFTMAX: min_in = max_in = 1; break;
  default:
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%s is not supported (only CONV_2D, DEPTHWISE_CONV_2D, ADD, "
                    "AVERAGE_POOL_2D, RESHAPE and SOFTMAX are)", nb);
  }
  if (ins.len < (uint32_t)min_in || ins.len > (uint32_t)max_in || outs.len != 1)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "%u inputs and %u outputs", ins.len, outs.len);
  op->in0 = wtf_vec_i32(r, &ins, 0);
  if (ins.len > 1) op->in1 = wtf_vec_i32(r, &ins, 1);
  op->out = wtf_vec_i32(r, &outs, 0);
  switch (oc->code) {
  case OP_CONV_2D:
  case OP_DEPTHWISE_CONV_2D: {
    int dw = oc->code == OP_DEPTHWISE_CONV_2D;
    if ((rc = wtf_prepare_conv(r, m, op, ot, (int)tag, dw))) return rc;
    return wtf_prepare_bias(r, m, op, ins.len > 2 ? wtf_vec_i32(r, &ins, 2) : -1, op->dout.c);
  }
  case OP_ADD: {
    if ((rc = wtf_check_tensor(r, m, op->in0, "input 1", WTF_UINT8, 0, 0)) ||
        (rc = wtf_check_tensor(r, m, op->in1, "input 2", WTF_UINT8, 0, 0)) ||
        (rc = wtf_check_tensor(r, m, op->out, "output", WTF_UINT8, 0, 0)))
      return rc;
    const wtf_tensor *a = &m->tensors[op->in0], *b = &m->tensors[op->in1], *o = &m->tensors[op->out];
    if (a->ndims != b->ndims || a->ndims != o->ndims || memcmp(a->dims, b->dims, sizeof a->dims[0] * a->ndims) ||
        memcmp(a->dims, o->dims, sizeof a->dims[0] * a->ndims))
      return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "inputs and output of different shapes (no broadcasting)");
    size_t opos;
    if ((rc = wtf_options(r, ot, (int)tag, OPT_ADD, "AddOptions", &opos))) return rc;
    wtf_table o2;
    int64_t act;
    if ((rc = wtf_table_at(r, opos, "options", &o2)) ||
        (rc = wtf_get_int(r, &o2, 0, 1, 1, 0, "fused_activation_function", &act)))
      return rc;
    int32_t lo, hi;
    if ((rc = wtf_activation(r, act, o, &lo, &hi))) return rc;
    wagi_tflite_add_prepare(a->scale, a->zero_point, b->scale, b->zero_point, o->scale, o->zero_point, lo, hi,
                            &op->add);
    if (op->add.input1_shift > 0 || op->add.input2_shift > 0 || op->add.output_shift > 0)
      return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "output scale too small for ADD's fixed point");
    op->elems = a->elems;
    return 0;
  }
  case OP_AVERAGE_POOL_2D: {
    if ((rc = wtf_check_tensor(r, m, op->in0, "input", WTF_UINT8, 4, 0)) ||
        (rc = wtf_check_tensor(r, m, op->out, "output", WTF_UINT8, 4, 0)))
      return rc;
    const wtf_tensor *in = &m->tensors[op->in0], *out = &m->tensors[op->out];
    if ((rc = wtf_same_quant(r, in, out, "AVERAGE_POOL_2D"))) return rc;
    size_t opos;
    if ((rc = wtf_options(r, ot, (int)tag, OPT_POOL, "Pool2DOptions", &opos))) return rc;
    wtf_table o;
    int64_t padding, sw, sh, fw, fh, act;
    if ((rc = wtf_table_at(r, opos, "options", &o)) ||
        (rc = wtf_get_int(r, &o, 0, 1, 1, 0, "padding", &padding)) ||
        (rc = wtf_get_int(r, &o, 1, 4, 1, 0, "stride_w", &sw)) ||
        (rc = wtf_get_int(r, &o, 2, 4, 1, 0, "stride_h", &sh)) ||
        (rc = wtf_get_int(r, &o, 3, 4, 1, 0, "filter_width", &fw)) ||
        (rc = wtf_get_int(r, &o, 4, 4, 1, 0, "filter_height", &fh)) ||
        (rc = wtf_get_int(r, &o, 5, 1, 1, 0, "fused_activation_function", &act)))
      return rc;
    if (padding != 0 && padding != 1)
      return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "padding %lld (only SAME and VALID)", (long long)padding);
    if (sw < 1 || sh < 1 || fw < 1 || fh < 1 || sw > WTF_MAX_STRIDE || sh > WTF_MAX_STRIDE ||
        fw > WTF_MAX_STRIDE || fh > WTF_MAX_STRIDE)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "strides %lldx%lld, filter %lldx%lld (each must be 1..%d)",
                      (long long)sw, (long long)sh, (long long)fw, (long long)fh, WTF_MAX_STRIDE);
    wagi_tflite_pool_params *p = &op->pool;
    p->stride_w = (int)sw;
    p->stride_h = (int)sh;
    p->filter_w = (int)fw;
    p->filter_h = (int)fh;
    int oh = wagi_tflite_out_size(padding == 0, in->dims[1], p->filter_h, p->stride_h, 1, &p->pad_h);
    int ow = wagi_tflite_out_size(padding == 0, in->dims[2], p->filter_w, p->stride_w, 1, &p->pad_w);
    if (out->dims[0] != in->dims[0] || out->dims[1] != oh || out->dims[2] != ow || out->dims[3] != in->dims[3])
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "output shape [%d,%d,%d,%d], expected [%d,%d,%d,%d]",
                      out->dims[0], out->dims[1], out->dims[2], out->dims[3], in->dims[0], oh, ow, in->dims[3]);
    if ((rc = wtf_activation(r, act, out, &p->act_min, &p->act_max))) return rc;
    op->din = wtf_dims4(in);
    op->dout = wtf_dims4(out);
    return 0;
  }
  case OP_RESHAPE: {
    /* The optional second input is the new shape (a constant int32 tensor);
     * the output tensor's shape already says it. */
    if ((rc = wtf_check_tensor(r, m, op->in0, "input", WTF_UINT8, 0, 0)) ||
        (rc = wtf_check_tensor(r, m, op->out, "output", WTF_UINT8, 0, 0)))
      return rc;
    const wtf_tensor *in = &m->tensors[op->in0], *out = &m->tensors[op->out];
    if (in->elems != out->elems)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "%zu elements in, %zu out", in->elems, out->elems);
    if ((rc = wtf_same_quant(r, in, out, "RESHAPE"))) return rc;
    op->in1 = -1;
    op->elems = in->elems;
    return 0;
  }
  case OP_SOFTMAX: {
    if ((rc = wtf_check_tensor(r, m, op->in0, "input", WTF_UINT8, 0, 0)) ||
        (rc = wtf_check_tensor(r, m, op->out, "output", WTF_UINT8, 0, 0)))
      return rc;
    const wtf_tensor *in = &m->tensors[op->in0], *out = &m->tensors[op->out];
    if (in->ndims < 1 || in->ndims != out->ndims || memcmp(in->dims, out->dims, sizeof in->dims[0] * in->ndims))
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "input and output shapes differ");
    if (out->scale != 1.0f / 256 || out->zero_point != 0)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "output scale %g and zero point %d (must be 1/256 and 0)",
                      (double)out->scale, (int)out->zero_point);
    size_t opos;
    if ((rc = wtf_options(r, ot, (int)tag, OPT_SOFTMAX, "SoftmaxOptions", &opos))) return rc;
    wtf_table o;
    size_t bpos;
    if ((rc = wtf_table_at(r, opos, "options", &o)) || (rc = wtf_field(r, &o, 0, 4, "beta", &bpos))) return rc;
    float beta = bpos ? wtf_f32(r, bpos) : 0.0f;
    if (!(beta > 0) || !isfinite(beta)) return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "beta %g", (double)beta);
    wagi_tflite_softmax_prepare(beta, in->scale, &op->softmax);
    if (op->softmax.input_left_shift < 0 || op->softmax.input_left_shift > 30 || op->softmax.input_multiplier == 0)
      return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "beta x input scale %g is out of the fixed-point range",
                      (double)beta * in->scale);
    op->depth = (size_t)in->dims[in->ndims - 1];
    op->rows = in->elems / op->depth;
    return 0;
  }
  }
  return WAGI_TFLITE_ERR_UNSUPPORTED;
}

/* Marks who writes and who reads each activation tensor, in graph order. */
static int wtf_check_graph(wtf_reader *r, wagi_tflite_model *m) {
  for (int t = 0; t < m->ntensors; t++) {
    m->tensors[t].producer = -2;
    m->tensors[t].last_use = -1;
  }
  m->tensors[m->input].producer = -1;
  for (int i = 0; i < m->nops; i++) {
    wtf_op *op = &m->ops[i];
    snprintf(r->ctx, sizeof r->ctx, "operator %d (%s)",
             i, op->code >= 0 && op->code < (int)(sizeof wtf_op_names / sizeof *wtf_op_names) ? wtf_op_names[op->code] : "?");
    int data_ins[2] = {op->in0, op->code == OP_ADD ? op->in1 : -1};
    for (int k = 0; k < 2; k++) {
      if (data_ins[k] < 0) continue;
      wtf_tensor *t = &m->tensors[data_ins[k]];
      if (t->producer == -2)
        return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "reads tensor %d '%s' before anything writes it", data_ins[k],
                        t->name);
      t->last_use = i;
    }
    wtf_tensor *o = &m->tensors[op->out];
    if (o->producer != -2)
      return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "writes tensor %d '%s', which is already written", op->out,
                      o->name);
    o->producer = i;
  }
  r->ctx[0] = 0;
  wtf_tensor *out = &m->tensors[m->output];
  if (out->producer < 0)
    return wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "the output tensor %d '%s' is not written by any operator", m->output,
                    out->name);
  out->last_use = m->nops;
  return 0;
}

static int wtf_by_offset(const void *a, const void *b) {
  size_t x = (*(const wtf_tensor *const *)a)->offset, y = (*(const wtf_tensor *const *)b)->offset;
  return x < y ? -1 : x > y;
}

/* Greedy arena plan (as TFLite's): largest tensors first, each at the
 * lowest 16-aligned offset where it overlaps no placed tensor alive at the
 * same time. Lifetimes are [producer, last_use] in op indices. */
static int wtf_plan(wtf_reader *r, wagi_tflite_model *m) {
  int n = 0;
  int *order = malloc((size_t)m->ntensors * sizeof *order);
  int *placed = malloc((size_t)m->ntensors * sizeof *placed);
  const wtf_tensor **live = malloc((size_t)m->ntensors * sizeof *live);
  if (!order || !placed || !live) {
    free(order);
    free(placed);
    free(live);
    return wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "no memory for the arena plan");
  }
  uint64_t total = 0, unplanned = 0;
  for (int t = 0; t < m->ntensors; t++)
    if (m->tensors[t].producer != -2) {
      order[n++] = t;
      unplanned += (m->tensors[t].bytes + 15) & ~(size_t)15;
      if (m->tensors[t].last_use < m->tensors[t].producer) m->tensors[t].last_use = m->tensors[t].producer;
    }
  /* insertion sort by size, descending (stable on index) */
  for (int i = 1; i < n; i++) {
    int v = order[i], j = i;
    while (j > 0 && m->tensors[order[j - 1]].bytes < m->tensors[v].bytes) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = v;
  }
  int nplaced = 0;
  for (int i = 0; i < n; i++) {
    wtf_tensor *t = &m->tensors[order[i]];
    size_t size = (t->bytes + 15) & ~(size_t)15;
    /* placed tensors alive at the same time, by offset; the first gap
     * between them that fits is the place */
    int nlive = 0;
    for (int k = 0; k < nplaced; k++) {
      const wtf_tensor *u = &m->tensors[placed[k]];
      if (!(u->last_use < t->producer || t->last_use < u->producer)) live[nlive++] = u;
    }
    qsort(live, (size_t)nlive, sizeof *live, wtf_by_offset);
    uint64_t offset = 0;
    for (int k = 0; k < nlive; k++) {
      uint64_t end = live[k]->offset + ((live[k]->bytes + 15) & ~(size_t)15);
      if (offset + size <= live[k]->offset) break;
      if (end > offset) offset = end;
    }
    t->offset = (size_t)offset;
    if (offset + size > total) total = offset + size;
    placed[nplaced++] = order[i];
  }
  free(live);
  free(order);
  free(placed);
  if (total > WTF_MAX_ARENA_BYTES) return wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "arena of %llu bytes", (unsigned long long)total);
  m->arena_bytes = (size_t)total;
  m->unplanned_bytes = (size_t)unplanned;
  return 0;
}

void wagi_tflite_free(wagi_tflite_model *m) {
  if (!m) return;
  for (int i = 0; i < m->nops; i++) {
    free(m->ops[i].filter);
    free(m->ops[i].bias);
  }
  free(m->ops);
  free(m->tensors);
  free(m->arena);
  free(m->scratch);
  free(m);
}

static void *wtf_alloc16(size_t n) { return aligned_alloc(16, (n + 15) & ~(size_t)15); }

static int wtf_load(wtf_reader *r, wagi_tflite_model *m) {
  int rc;
  if (r->n < 8) return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "file of %zu bytes is too short for a TFLite model", r->n);
  if (memcmp(r->d + 4, "TFL3", 4) != 0)
    return wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "not a TFLite model (no TFL3 identifier at offset 4)");
  wtf_table mt;
  snprintf(r->ctx, sizeof r->ctx, "model");
  if ((rc = wtf_table_at(r, wtf_u32(r, 0), "root", &mt))) return rc;
  int64_t version;
  if ((rc = wtf_get_int(r, &mt, 0, 4, 0, 0, "version", &version))) return rc;
  if (version != 3)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "schema version %lld (only 3 is supported)", (long long)version);
  wtf_vec opcodes, subgraphs, buffers;
  if ((rc = wtf_get_vec(r, &mt, 1, 4, "operator_codes", &opcodes)) ||
      (rc = wtf_get_vec(r, &mt, 2, 4, "subgraphs", &subgraphs)) ||
      (rc = wtf_get_vec(r, &mt, 4, 4, "buffers", &buffers)))
    return rc;
  if (subgraphs.len != 1)
    return wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%u subgraphs (exactly one is supported)", subgraphs.len);
  wtf_opcode *codes = calloc(opcodes.len ? opcodes.len : 1, sizeof *codes);
  if (!codes) return wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "no memory for %u operator codes", opcodes.len);
  for (uint32_t i = 0; i < opcodes.len; i++) {
    wtf_table ct;
    int64_t dep, code;
    snprintf(r->ctx, sizeof r->ctx, "operator code %u", i);
    if ((rc = wtf_vec_table(r, &opcodes, i, "operator code", &ct)) ||
        (rc = wtf_get_int(r, &ct, 0, 1, 1, 0, "deprecated_builtin_code", &dep)) ||
        (rc = wtf_get_int(r, &ct, 3, 4, 1, 0, "builtin_code", &code)) ||
        (rc = wtf_get_name(r, &ct, 1, "custom_code", codes[i].custom, sizeof codes[i].custom))) {
      free(codes);
      return rc;
    }
    /* Old files only have the byte; new ones both (TFLite takes the larger). */
    codes[i].code = (int32_t)(dep > code ? dep : code);
  }
  wtf_table sg;
  wtf_vec tensors, inputs, outputs, operators;
  snprintf(r->ctx, sizeof r->ctx, "subgraph 0");
  if ((rc = wtf_vec_table(r, &subgraphs, 0, "subgraph", &sg)) ||
      (rc = wtf_get_vec(r, &sg, 0, 4, "tensors", &tensors)) || (rc = wtf_get_vec(r, &sg, 1, 4, "inputs", &inputs)) ||
      (rc = wtf_get_vec(r, &sg, 2, 4, "outputs", &outputs)) ||
      (rc = wtf_get_vec(r, &sg, 3, 4, "operators", &operators)))
    goto out;
  if (inputs.len != 1 || outputs.len != 1) {
    rc = wtf_fail(r, WAGI_TFLITE_ERR_UNSUPPORTED, "%u inputs and %u outputs (one of each is supported)", inputs.len,
                  outputs.len);
    goto out;
  }
  if (operators.len == 0) {
    rc = wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "no operators");
    goto out;
  }
  if (operators.len > WTF_MAX_OPS || tensors.len > WTF_MAX_TENSORS) {
    rc = wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "%u operators and %u tensors (limits: %d and %d)", operators.len,
                  tensors.len, WTF_MAX_OPS, WTF_MAX_TENSORS);
    goto out;
  }
  m->ntensors = (int)tensors.len; /* < 2^30: each is a 4-byte offset inside the file */
  m->tensors = calloc(tensors.len ? tensors.len : 1, sizeof *m->tensors);
  m->nops = 0;
  m->ops = calloc(operators.len, sizeof *m->ops);
  if (!m->tensors || !m->ops) {
    rc = wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "no memory for %u tensors and %u operators", tensors.len, operators.len);
    goto out;
  }
  for (uint32_t i = 0; i < tensors.len; i++) {
    wtf_table tt;
    snprintf(r->ctx, sizeof r->ctx, "tensor %u", i);
    if ((rc = wtf_vec_table(r, &tensors, i, "tensor", &tt))) goto out;
    if ((rc = wtf_parse_tensor(r, &tt, &buffers, i, &m->tensors[i]))) goto out;
  }
  snprintf(r->ctx, sizeof r->ctx, "subgraph 0");
  m->input = wtf_vec_i32(r, &inputs, 0);
  m->output = wtf_vec_i32(r, &outputs, 0);
  if ((rc = wtf_check_tensor(r, m, m->input, "graph input", WTF_UINT8, 0, 0)) ||
      (rc = wtf_check_tensor(r, m, m->output, "graph output", WTF_UINT8, 0, 0)))
    goto out;
  if (m->input == m->output) {
    rc = wtf_fail(r, WAGI_TFLITE_ERR_MODEL, "the input is the output");
    goto out;
  }
  for (uint32_t i = 0; i < operators.len; i++) {
    wtf_table ot;
    int64_t idx;
    snprintf(r->ctx, sizeof r->ctx, "operator %u", i);
    if ((rc = wtf_vec_table(r, &operators, i, "operator", &ot)) ||
        (rc = wtf_get_int(r, &ot, 0, 4, 0, 0, "opcode_index", &idx)))
      goto out;
    if ((uint64_t)idx >= opcodes.len) {
      rc = wtf_fail(r, WAGI_TFLITE_ERR_FORMAT, "opcode index %lld, but there are %u operator codes", (long long)idx,
                    opcodes.len);
      goto out;
    }
    m->nops = (int)i + 1; /* so that wagi_tflite_free releases this op's buffers */
    if ((rc = wtf_prepare_op(r, m, (int)i, &ot, &codes[idx]))) goto out;
  }
  if ((rc = wtf_check_graph(r, m)) || (rc = wtf_plan(r, m))) goto out;
  r->ctx[0] = 0;
  m->arena = wtf_alloc16(m->arena_bytes);
  m->scratch = wtf_alloc16(m->scratch_bytes ? m->scratch_bytes : 16);
  if (!m->arena || !m->scratch) rc = wtf_fail(r, WAGI_TFLITE_ERR_NOMEM, "no memory for an arena of %zu bytes", m->arena_bytes);
  for (int t = 0; t < m->ntensors; t++) m->tensors[t].data = NULL; /* the file may go away */
out:
  free(codes);
  return rc;
}

int wagi_tflite_load(const uint8_t *data, size_t len, wagi_tflite_model **out, char *err, size_t errcap) {
  if (err && errcap) err[0] = 0;
  if (!data || !out) {
    if (err && errcap) snprintf(err, errcap, "no model data");
    return WAGI_TFLITE_ERR_ARG;
  }
  wtf_reader r = {data, len, err, errcap, {0}};
  wagi_tflite_model *m = calloc(1, sizeof *m);
  if (!m) {
    if (err && errcap) snprintf(err, errcap, "no memory");
    return WAGI_TFLITE_ERR_NOMEM;
  }
  int rc = wtf_load(&r, m);
  if (rc) {
    wagi_tflite_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

static void wtf_info(const wtf_tensor *t, wagi_tflite_tensor_info *info) {
  info->ndims = t->ndims;
  for (int i = 0; i < 4; i++) info->dims[i] = i < t->ndims ? t->dims[i] : 0;
  info->scale = t->scale;
  info->zero_point = t->zero_point;
  info->bytes = t->bytes;
}

void wagi_tflite_input_info(const wagi_tflite_model *m, wagi_tflite_tensor_info *info) {
  wtf_info(&m->tensors[m->input], info);
}

void wagi_tflite_output_info(const wagi_tflite_model *m, wagi_tflite_tensor_info *info) {
  wtf_info(&m->tensors[m->output], info);
}

size_t wagi_tflite_arena_bytes(const wagi_tflite_model *m) { return m->arena_bytes; }
size_t wagi_tflite_unplanned_bytes(const wagi_tflite_model *m) { return m->unplanned_bytes; }

int wagi_tflite_invoke(wagi_tflite_model *m, const uint8_t *input, size_t in_len, uint8_t *output,
                       size_t out_cap) {
  if (!m || !input || !output) return WAGI_TFLITE_ERR_ARG;
  const wtf_tensor *tin = &m->tensors[m->input], *tout = &m->tensors[m->output];
  if (in_len != tin->bytes || out_cap < tout->bytes) return WAGI_TFLITE_ERR_ARG;
  memcpy(m->arena + tin->offset, input, in_len);
  for (int i = 0; i < m->nops; i++) {
    const wtf_op *op = &m->ops[i];
    const uint8_t *a = m->arena + m->tensors[op->in0].offset;
    uint8_t *o = m->arena + m->tensors[op->out].offset;
    switch (op->code) {
    case OP_CONV_2D:
      wagi_tflite_conv2d(&op->conv, op->din, a, op->fh, op->fw, op->filter, op->bias, op->dout, o, m->scratch);
      break;
    case OP_DEPTHWISE_CONV_2D:
      wagi_tflite_depthwise_conv2d(&op->conv, op->din, a, op->fh, op->fw, op->filter, op->bias, op->dout, o,
                                   m->scratch);
      break;
    case OP_ADD:
      wagi_tflite_add(&op->add, op->elems, a, m->arena + m->tensors[op->in1].offset, o);
      break;
    case OP_AVERAGE_POOL_2D:
      if (wagi_tflite_average_pool(&op->pool, op->din, a, op->dout, o) != 0) return WAGI_TFLITE_ERR_MODEL;
      break;
    case OP_RESHAPE: memmove(o, a, op->elems); break;
    case OP_SOFTMAX: wagi_tflite_softmax(&op->softmax, op->rows, op->depth, a, o); break;
    default: return WAGI_TFLITE_ERR_UNSUPPORTED;
    }
  }
  memcpy(output, m->arena + tout->offset, tout->bytes);
  return 0;
}
