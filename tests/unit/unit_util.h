/* unit_util.h — small helpers shared by the engine unit tests (header-only,
 * static functions: each test is its own binary). Include after cmocka.h. */
#ifndef WAGI_UNIT_UTIL_H
#define WAGI_UNIT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wasm/wasm.h"

/* Compiles embedded bytes; fails the test with the engine's message. */
static inline wasm_module *compile_or_fail(const unsigned char *b, size_t n) {
  wasm_module *m = NULL;
  wasm_error err = {0};
  wasm_status s = wasm_module_compile(b, n, &m, &err);
  if (s != WASM_OK) fail_msg("compile failed: %s (%s)", err.msg, wasm_status_str(s));
  assert_non_null(m);
  return m;
}

static inline wasm_instance *instantiate_or_fail(const wasm_module *m, const wasm_linker *l,
                                                 const wasm_instance_opts *o) {
  wasm_instance *inst = NULL;
  wasm_error err = {0};
  wasm_status s = wasm_instantiate(m, l, o, &inst, &err);
  if (s != WASM_OK) fail_msg("instantiate failed: %s (%s)", err.msg, wasm_status_str(s));
  assert_non_null(inst);
  return inst;
}

/* Byte offset of the unique occurrence of pat in b plus `skip` (the
 * instruction inside the pattern), or fails the test. */
static inline uint32_t offset_of(const unsigned char *b, size_t n, const unsigned char *pat,
                                 size_t plen, size_t skip) {
  long found = -1;
  for (size_t i = 0; i + plen <= n; i++) {
    if (memcmp(b + i, pat, plen) == 0) {
      if (found >= 0) fail_msg("pattern not unique in module");
      found = (long)i;
    }
  }
  if (found < 0) fail_msg("pattern not found in module");
  return (uint32_t)found + (uint32_t)skip;
}

static inline wasm_value v_i32(int32_t x) {
  wasm_value v;
  memset(&v, 0, sizeof v);
  v.type = WASM_I32;
  v.of.i32 = x;
  return v;
}

static inline wasm_value v_i64(int64_t x) {
  wasm_value v;
  memset(&v, 0, sizeof v);
  v.type = WASM_I64;
  v.of.i64 = x;
  return v;
}

static inline wasm_value v_f64(double d) {
  wasm_value v;
  memset(&v, 0, sizeof v);
  v.type = WASM_F64;
  memcpy(&v.of.f64_bits, &d, 8);
  return v;
}

static inline double f64_of(const wasm_value *v) {
  double d;
  memcpy(&d, &v->of.f64_bits, 8);
  return d;
}

#endif
