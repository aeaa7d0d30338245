/* spec.h — internals of the WebAssembly spec test runner (build/spectest).
 *
 * spectest.c   command line, suite discovery, wast2json, one child per file
 * spec_run.c   executes the commands of one wast2json script (JSON)
 * spec_value.c parses, compares and prints wast2json values
 *
 * The runner uses only the public engine API (wasm.h).
 */
#ifndef WAGI_SPEC_H
#define WAGI_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "wasm/wasm.h"

/* Progress of one file. It lives in memory shared with the parent, so the
 * parent still knows how far a child got when the child dies of a signal or
 * is killed by the timeout; that is why it is not sent through the pipe. */
typedef struct {
  volatile uint32_t total; /* commands in the script; 0 until parsed */
  volatile uint32_t passed, failed, skipped;
  volatile uint32_t reported; /* failures written in detail */
  volatile uint32_t line;     /* .wast line of the command being run */
  volatile int done;          /* the script ran to its end */
} spec_counts;

typedef struct {
  int verbose;      /* 1: every failure and notes; 2: also trace commands */
  int list_skips;   /* write every skipped command with its reason */
  int max_reports;  /* failures written in detail per file unless verbose */
  int call_timeout; /* seconds before a call is interrupted; 0: never */
  FILE *out;        /* detail lines ("  line N: ...") */
  /* AOT tier: modules are compiled to native code (cached by digest in
   * aot_cache) and run natively. */
  int aot;
  const char *aot_cache;
} spec_opts;

/* Runs every command of the wast2json script `json_path`, whose .wasm files
 * are in `dir`, updating *c as it goes and writing details to o->out.
 * Returns 0 when the script was read (whatever the results), -1 when it
 * could not be read or parsed (one failure is counted). */
int spec_run_script(const char *json_path, const char *dir, const spec_opts *o, spec_counts *c);

/* ---- Values (spec_value.c) --------------------------------------------- */

enum { SPEC_NAN_NONE = 0, SPEC_NAN_CANONICAL, SPEC_NAN_ARITHMETIC };

/* v128 lane shapes as written by wast2json's "lane_type". */
typedef enum {
  SPEC_SHAPE_NONE = 0,
  SPEC_SHAPE_I8,
  SPEC_SHAPE_I16,
  SPEC_SHAPE_I32,
  SPEC_SHAPE_I64,
  SPEC_SHAPE_F32,
  SPEC_SHAPE_F64
} spec_shape;

/* A value from the script: an argument or an expected result. */
typedef struct {
  wasm_value v;
  spec_shape shape;  /* v128 only */
  uint8_t nan[4];    /* SPEC_NAN_* per float lane; nan[0] for scalars */
  uint8_t has_value; /* 0: only the type is given (assert_trap) */
  uint8_t nonnull;   /* funcref expected to be any non-null reference */
} spec_val;

/* Parses one {"type":..., "value":...} object. Returns 0, or -1 with a
 * reason in why. */
int spec_val_parse(const cJSON *j, spec_val *out, char *why, size_t n);

/* 1 when `got` satisfies `exp` (bit-exact, or a NaN of the expected kind). */
int spec_val_match(const spec_val *exp, const wasm_value *got);

/* "i32:42", "f32:1.5 (0x3fc00000)", "v128:i32x4[1 2 3 4]"... The shape
 * picks the lane view of a v128 (SPEC_SHAPE_NONE: i32 lanes in hex). */
void spec_val_format(const wasm_value *v, spec_shape shape, char *buf, size_t n);
void spec_exp_format(const spec_val *e, char *buf, size_t n);

/* Host reference value N of the scripts (ref.extern N) as a pointer: N + 1,
 * so that 0 stays distinct from null. */
void *spec_extern_ref(uint64_t n);

#endif
