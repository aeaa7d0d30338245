/* spec_value.c — wast2json values: parsing, matching, printing.
 *
 * wast2json writes every number as the decimal string of its unsigned bit
 * pattern (floats included), so values are handled as bits throughout and
 * NaN payloads survive. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

void *spec_extern_ref(uint64_t n) { return (void *)(uintptr_t)(n + 1); }

/* Parses a decimal bit pattern that must fit in `bits` bits. A leading '-'
 * is accepted (two's complement) although wast2json does not emit it. */
static int parse_bits(const char *s, unsigned bits, uint64_t *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  uint64_t u;
  if (s[0] == '-') {
    int64_t x = strtoll(s, &end, 10);
    if (bits < 64 && x < -((int64_t)1 << (bits - 1))) return -1;
    u = (uint64_t)x;
    if (bits < 64) u &= ((uint64_t)1 << bits) - 1;
  } else {
    u = strtoull(s, &end, 10);
    if (bits < 64 && u >> bits) return -1;
  }
  if (errno || *end) return -1;
  *out = u;
  return 0;
}

static int nan_kind(const char *s) {
  if (!strcmp(s, "nan:canonical")) return SPEC_NAN_CANONICAL;
  if (!strcmp(s, "nan:arithmetic")) return SPEC_NAN_ARITHMETIC;
  return SPEC_NAN_NONE;
}

static const struct {
  const char *name;
  spec_shape shape;
  unsigned lanes, bits;
} shapes[] = {
    {"i8", SPEC_SHAPE_I8, 16, 8},   {"i16", SPEC_SHAPE_I16, 8, 16}, {"i32", SPEC_SHAPE_I32, 4, 32},
    {"i64", SPEC_SHAPE_I64, 2, 64}, {"f32", SPEC_SHAPE_F32, 4, 32}, {"f64", SPEC_SHAPE_F64, 2, 64},
};

static unsigned shape_lanes(spec_shape s) {
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (shapes[i].shape == s) return shapes[i].lanes;
  return 4;
}

/* Lanes are little-endian in a v128, whatever the host. */
static void put_lane(uint8_t *v, unsigned bytes, unsigned i, uint64_t x) {
  for (unsigned b = 0; b < bytes; b++) v[i * bytes + b] = (uint8_t)(x >> (8 * b));
}

static uint64_t get_lane(const uint8_t *v, unsigned bytes, unsigned i) {
  uint64_t x = 0;
  for (unsigned b = 0; b < bytes; b++) x |= (uint64_t)v[i * bytes + b] << (8 * b);
  return x;
}

static int parse_v128(const cJSON *j, const cJSON *val, spec_val *out, char *why, size_t n) {
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(j, "lane_type");
  if (!cJSON_IsString(lt)) {
    snprintf(why, n, "v128 value without lane_type");
    return -1;
  }
  size_t k = 0;
  while (k < sizeof shapes / sizeof shapes[0] && strcmp(shapes[k].name, lt->valuestring)) k++;
  if (k == sizeof shapes / sizeof shapes[0]) {
    snprintf(why, n, "unknown lane_type \"%s\"", lt->valuestring);
    return -1;
  }
  out->shape = shapes[k].shape;
  if (!cJSON_IsArray(val) || (unsigned)cJSON_GetArraySize(val) != shapes[k].lanes) {
    snprintf(why, n, "v128 %s value needs %u lanes", shapes[k].name, shapes[k].lanes);
    return -1;
  }
  int is_float = shapes[k].shape == SPEC_SHAPE_F32 || shapes[k].shape == SPEC_SHAPE_F64;
  unsigned i = 0;
  const cJSON *lane;
  cJSON_ArrayForEach(lane, val) {
    uint64_t x = 0;
    if (!cJSON_IsString(lane)) {
      snprintf(why, n, "v128 lane %u is not a string", i);
      return -1;
    }
    int nk = nan_kind(lane->valuestring);
    if (nk && is_float) {
      out->nan[i] = (uint8_t)nk;
    } else if (parse_bits(lane->valuestring, shapes[k].bits, &x)) {
      snprintf(why, n, "bad %s lane \"%s\"", shapes[k].name, lane->valuestring);
      return -1;
    }
    put_lane(out->v.of.v128, shapes[k].bits / 8, i, x);
    i++;
  }
  return 0;
}

int spec_val_parse(const cJSON *j, spec_val *out, char *why, size_t n) {
  memset(out, 0, sizeof *out);
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(j, "type");
  const cJSON *val = cJSON_GetObjectItemCaseSensitive(j, "value");
  if (!cJSON_IsString(ty)) {
    snprintf(why, n, "value without a type");
    return -1;
  }
  const char *t = ty->valuestring;
  if (!strcmp(t, "i32")) out->v.type = WASM_I32;
  else if (!strcmp(t, "i64")) out->v.type = WASM_I64;
  else if (!strcmp(t, "f32")) out->v.type = WASM_F32;
  else if (!strcmp(t, "f64")) out->v.type = WASM_F64;
  else if (!strcmp(t, "v128")) out->v.type = WASM_V128;
  else if (!strcmp(t, "funcref")) out->v.type = WASM_FUNCREF;
  else if (!strcmp(t, "externref")) out->v.type = WASM_EXTERNREF;
  else {
    snprintf(why, n, "unsupported value type \"%s\"", t);
    return -1;
  }
  if (!val) return 0; /* type only: any value of that type */
  out->has_value = 1;
  if (out->v.type == WASM_V128) return parse_v128(j, val, out, why, n);
  if (!cJSON_IsString(val)) {
    snprintf(why, n, "%s value is not a string", t);
    return -1;
  }
  const char *s = val->valuestring;
  uint64_t x;
  switch (out->v.type) {
  case WASM_FUNCREF:
  case WASM_EXTERNREF:
    if (!strcmp(s, "null")) return 0;
    if (parse_bits(s, 64, &x)) break;
    if (out->v.type == WASM_FUNCREF) out->nonnull = 1;
    else out->v.of.ref = spec_extern_ref(x);
    return 0;
  case WASM_F32:
  case WASM_F64:
    if ((out->nan[0] = (uint8_t)nan_kind(s))) return 0;
    /* fall through */
  default:
    if (parse_bits(s, out->v.type == WASM_I32 || out->v.type == WASM_F32 ? 32 : 64, &x)) break;
    if (out->v.type == WASM_I32) out->v.of.i32 = (int32_t)(uint32_t)x;
    else if (out->v.type == WASM_F32) out->v.of.f32_bits = (uint32_t)x;
    else if (out->v.type == WASM_F64) out->v.of.f64_bits = x;
    else out->v.of.i64 = (int64_t)x;
    return 0;
  }
  snprintf(why, n, "bad %s value \"%s\"", t, s);
  return -1;
}

/* Canonical NaN: only the top mantissa bit set (either sign). Arithmetic
 * NaN: top mantissa bit set, any payload. */
static int match_f32(int nan, uint32_t want, uint32_t got) {
  if (nan == SPEC_NAN_CANONICAL) return (got & 0x7fffffffu) == 0x7fc00000u;
  if (nan == SPEC_NAN_ARITHMETIC) return (got & 0x7fc00000u) == 0x7fc00000u;
  return want == got;
}

static int match_f64(int nan, uint64_t want, uint64_t got) {
  const uint64_t q = 0x7ff8000000000000ull;
  if (nan == SPEC_NAN_CANONICAL) return (got & 0x7fffffffffffffffull) == q;
  if (nan == SPEC_NAN_ARITHMETIC) return (got & q) == q;
  return want == got;
}

int spec_val_match(const spec_val *exp, const wasm_value *got) {
  if (exp->v.type != got->type) return 0;
  if (!exp->has_value) return 1;
  switch (exp->v.type) {
  case WASM_I32: return exp->v.of.i32 == got->of.i32;
  case WASM_I64: return exp->v.of.i64 == got->of.i64;
  case WASM_F32: return match_f32(exp->nan[0], exp->v.of.f32_bits, got->of.f32_bits);
  case WASM_F64: return match_f64(exp->nan[0], exp->v.of.f64_bits, got->of.f64_bits);
  case WASM_FUNCREF: return exp->nonnull ? got->of.ref != NULL : got->of.ref == exp->v.of.ref;
  case WASM_EXTERNREF: return got->of.ref == exp->v.of.ref;
  case WASM_V128:
    if (exp->shape == SPEC_SHAPE_F32) {
      for (unsigned i = 0; i < 4; i++)
        if (!match_f32(exp->nan[i], (uint32_t)get_lane(exp->v.of.v128, 4, i),
                       (uint32_t)get_lane(got->of.v128, 4, i)))
          return 0;
      return 1;
    }
    if (exp->shape == SPEC_SHAPE_F64) {
      for (unsigned i = 0; i < 2; i++)
        if (!match_f64(exp->nan[i], get_lane(exp->v.of.v128, 8, i), get_lane(got->of.v128, 8, i)))
          return 0;
      return 1;
    }
    return !memcmp(exp->v.of.v128, got->of.v128, 16);
  }
  return 0;
}

/* Appends printf output to buf at *pos, never past n (output is cut). */
static void append(char *buf, size_t n, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t n, size_t *pos, const char *fmt, ...) {
  if (*pos >= n) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + *pos, n - *pos, fmt, ap);
  va_end(ap);
  if (k > 0) *pos = *pos + (size_t)k < n ? *pos + (size_t)k : n;
}

static void fmt_f32(char *buf, size_t n, size_t *pos, uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  append(buf, n, pos, "%.9g (0x%08" PRIx32 ")", (double)f, bits);
}

static void fmt_f64(char *buf, size_t n, size_t *pos, uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  append(buf, n, pos, "%.17g (0x%016" PRIx64 ")", d, bits);
}

static const char *shape_name(spec_shape s) {
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (shapes[i].shape == s) return shapes[i].name;
  return "i32";
}

static const char *nan_name(int k) {
  return k == SPEC_NAN_CANONICAL ? "nan:canonical" : "nan:arithmetic";
}

/* Prints a v128 in lane view `shape`; nan[] (may be NULL) marks lanes that
 * are expected NaN patterns rather than values. */
static void fmt_v128(char *buf, size_t n, size_t *pos, const uint8_t *v, spec_shape shape,
                     const uint8_t *nan) {
  unsigned lanes = shape_lanes(shape);
  unsigned bytes = 16 / lanes;
  append(buf, n, pos, "v128:%sx%u[", shape_name(shape), lanes);
  for (unsigned i = 0; i < lanes; i++) {
    uint64_t x = get_lane(v, bytes, i);
    if (i) append(buf, n, pos, " ");
    if (nan && lanes <= 4 && nan[i]) append(buf, n, pos, "%s", nan_name(nan[i]));
    else if (shape == SPEC_SHAPE_F32) fmt_f32(buf, n, pos, (uint32_t)x);
    else if (shape == SPEC_SHAPE_F64) fmt_f64(buf, n, pos, x);
    else if (shape == SPEC_SHAPE_NONE) append(buf, n, pos, "0x%08" PRIx64, x);
    else append(buf, n, pos, "%" PRIu64, x);
  }
  append(buf, n, pos, "]");
}

static void fmt_value(char *buf, size_t n, size_t *pos, const wasm_value *v, spec_shape shape,
                      const uint8_t *nan) {
  switch (v->type) {
  case WASM_I32:
    append(buf, n, pos, "i32:%" PRIu32, (uint32_t)v->of.i32);
    if (v->of.i32 < 0) append(buf, n, pos, " (%" PRId32 ")", v->of.i32);
    break;
  case WASM_I64:
    append(buf, n, pos, "i64:%" PRIu64, (uint64_t)v->of.i64);
    if (v->of.i64 < 0) append(buf, n, pos, " (%" PRId64 ")", v->of.i64);
    break;
  case WASM_F32:
    append(buf, n, pos, "f32:");
    if (nan && nan[0]) append(buf, n, pos, "%s", nan_name(nan[0]));
    else fmt_f32(buf, n, pos, v->of.f32_bits);
    break;
  case WASM_F64:
    append(buf, n, pos, "f64:");
    if (nan && nan[0]) append(buf, n, pos, "%s", nan_name(nan[0]));
    else fmt_f64(buf, n, pos, v->of.f64_bits);
    break;
  case WASM_V128: fmt_v128(buf, n, pos, v->of.v128, shape, nan); break;
  case WASM_FUNCREF:
    if (v->of.ref) append(buf, n, pos, "funcref:%p", v->of.ref);
    else append(buf, n, pos, "funcref:null");
    break;
  case WASM_EXTERNREF:
    if (v->of.ref) append(buf, n, pos, "externref:%" PRIu64, (uint64_t)(uintptr_t)v->of.ref - 1);
    else append(buf, n, pos, "externref:null");
    break;
  default: append(buf, n, pos, "<type 0x%x>", (unsigned)v->type); break;
  }
}

void spec_val_format(const wasm_value *v, spec_shape shape, char *buf, size_t n) {
  size_t pos = 0;
  if (n) buf[0] = 0;
  fmt_value(buf, n, &pos, v, shape, NULL);
}

void spec_exp_format(const spec_val *e, char *buf, size_t n) {
  size_t pos = 0;
  if (n) buf[0] = 0;
  if (!e->has_value) {
    const char *t = wasm_valtype_str(e->v.type);
    append(buf, n, &pos, "%s:any", t ? t : "?");
  } else if (e->nonnull) append(buf, n, &pos, "funcref:non-null");
  else fmt_value(buf, n, &pos, &e->v, e->shape, e->nan);
}
