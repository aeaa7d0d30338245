/* diffrun — runs a module the way binaryen's fuzz harness does, printing
 * everything observable, so that tests/aot/test_differential.py can compare
 * the interpreter (a .wasm) with native code (its .wasmc):
 *   - the "fuzzing-support" log-i32/i64/f32/f64/v128 imports print their
 *     argument;
 *   - every exported function is called in export order with zero
 *     arguments (after "hangLimitInitializer", as binaryen's harness does),
 *     and its results or its trap kind are printed (an out-of-bounds
 *     access's whole message: the function and offset too).
 * NaNs print as "nan" whatever their bits (WebAssembly lets an engine pick
 * NaN payloads). Usage: diffrun MODULE.wasm|MODULE.wasmc */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "wasm/wasm.h"

/* Output is capped (the same on both tiers): a module that logs in a loop
 * for ever must not fill the comparing process's memory. */
#define MAX_LINES 20000
static unsigned g_lines;
static void line_done(void) {
  if (++g_lines >= MAX_LINES) {
    printf("output limit reached\n");
    fflush(stdout);
    _exit(0);
  }
}

static void print_f32(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  if (isnan(f)) printf("nan");
  else printf("%.9g", (double)f);
}

static void print_f64(uint64_t b) {
  double d;
  memcpy(&d, &b, 8);
  if (isnan(d)) printf("nan");
  else printf("%.17g", d);
}

static void print_value(const wasm_value *v) {
  switch (v->type) {
  case WASM_I32: printf("i32:%d", v->of.i32); break;
  case WASM_I64: printf("i64:%lld", (long long)v->of.i64); break;
  case WASM_F32:
    printf("f32:");
    print_f32(v->of.f32_bits);
    break;
  case WASM_F64:
    printf("f64:");
    print_f64(v->of.f64_bits);
    break;
  case WASM_V128:
    printf("v128:");
    for (int i = 0; i < 16; i++) printf("%02x", v->of.v128[i]);
    break;
  default: printf("ref:%s", v->of.ref ? "non-null" : "null"); break;
  }
}

static wasm_status log_i32(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  printf("log i32:%d\n", (int32_t)(uint32_t)a[0]);
  line_done();
  return WASM_OK;
}
static wasm_status log_i64(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  printf("log i64:%lld\n", (long long)a[0]);
  line_done();
  return WASM_OK;
}
static wasm_status log_f32(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  printf("log f32:");
  print_f32((uint32_t)a[0]);
  printf("\n");
  line_done();
  return WASM_OK;
}
static wasm_status log_f64(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  printf("log f64:");
  print_f64(a[0]);
  printf("\n");
  line_done();
  return WASM_OK;
}
static wasm_status log_v128(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  uint8_t b[16];
  memcpy(b, a, 16);
  printf("log v128:");
  for (int i = 0; i < 16; i++) printf("%02x", b[i]);
  printf("\n");
  line_done();
  return WASM_OK;
}

/* call-export(i, flags) / call-export-catch(i): call the i-th exported
 * function with zero arguments, as binaryen's JS harness does; the catch
 * variant answers 1 when it trapped (or i is out of range), else 0. */
typedef struct {
  wasm_instance *inst;
  const wasm_module *m;
} harness;

static wasm_func *nth_export(harness *h, uint32_t n) {
  uint32_t k = 0;
  for (uint32_t i = 0; h->inst && i < wasm_module_export_count(h->m); i++) {
    wasm_export_desc d;
    wasm_module_export(h->m, i, &d);
    if (d.kind != WASM_EXTERN_FUNC) continue;
    if (k++ == n) return wasm_instance_export_func(h->inst, d.name);
  }
  return NULL;
}

static wasm_status call_nth(harness *h, uint32_t n) {
  wasm_func *f = nth_export(h, n);
  if (!f) return WASM_TRAP_HOST;
  uint32_t np = wasm_func_param_count(f), nr = wasm_func_result_count(f);
  wasm_value args[64], res[64];
  if (np > 64 || nr > 64) return WASM_TRAP_HOST;
  memset(args, 0, sizeof args);
  for (uint32_t k = 0; k < np; k++) args[k].type = wasm_func_param_type(f, k);
  wasm_error e;
  return wasm_func_call(f, args, np, res, nr, &e);
}

static wasm_status call_export(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  wasm_status s = call_nth(env, (uint32_t)a[0]);
  printf("call-export %u: %s\n", (uint32_t)a[0], s ? wasm_status_str(s) : "ok");
  line_done();
  return s;
}

/* sleep(ms, id): binaryen's harness answers id (no real sleep). */
static wasm_status sleep_(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  a[0] = (uint32_t)a[1];
  return WASM_OK;
}

static wasm_status call_export_catch(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  wasm_status s = call_nth(env, (uint32_t)a[0]);
  printf("call-export-catch %u: %s\n", (uint32_t)a[0], s ? wasm_status_str(s) : "ok");
  line_done();
  a[0] = s != WASM_OK;
  return WASM_OK;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: diffrun MODULE.wasm|MODULE.wasmc\n");
    return 2;
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  char ferr[512];
  if (base_read_file(argv[1], (size_t)1 << 30, 0, &bytes, &len, ferr, sizeof ferr) !=
      BASE_FILE_OK) {
    fprintf(stderr, "diffrun: %s\n", ferr);
    return 2;
  }
  wasm_error err = {0};
  wasm_module *m = NULL;
  wasm_status s = wasm_is_native(bytes, len) ? wasm_module_load_native(bytes, len, &m, &err)
                                             : wasm_module_compile(bytes, len, &m, &err);
  free(bytes);
  if (s) {
    fprintf(stderr, "diffrun: %s\n", err.msg);
    return 2;
  }
  wasm_linker *l = wasm_linker_new();
  wasm_linker_define_func(l, "fuzzing-support", "log-i32", "i->", log_i32, NULL);
  wasm_linker_define_func(l, "fuzzing-support", "log-i64", "I->", log_i64, NULL);
  wasm_linker_define_func(l, "fuzzing-support", "log-f32", "f->", log_f32, NULL);
  wasm_linker_define_func(l, "fuzzing-support", "log-f64", "F->", log_f64, NULL);
  wasm_linker_define_func(l, "fuzzing-support", "log-v128", "v->", log_v128, NULL);
  harness h = {NULL, m};
  wasm_linker_define_func(l, "fuzzing-support", "call-export", "ii->", call_export, &h);
  wasm_linker_define_func(l, "fuzzing-support", "sleep", "ii->i", sleep_, NULL);
  wasm_linker_define_func(l, "fuzzing-support", "call-export-catch", "i->i", call_export_catch, &h);
  wasm_instance *inst = NULL;
  s = wasm_instantiate(m, l, NULL, &inst, &err);
  h.inst = inst;
  if (s) {
    printf("instantiate: %s: %s\n", wasm_status_str(s), err.msg);
    wasm_linker_free(l);
    wasm_module_free(m);
    return 0;
  }
  wasm_func *hang = wasm_instance_export_func(inst, "hangLimitInitializer");
  for (uint32_t i = 0; i < wasm_module_export_count(m); i++) {
    wasm_export_desc d;
    wasm_module_export(m, i, &d);
    if (d.kind != WASM_EXTERN_FUNC || !strcmp(d.name, "hangLimitInitializer")) continue;
    wasm_func *f = wasm_instance_export_func(inst, d.name);
    if (hang) (void)wasm_func_call(hang, NULL, 0, NULL, 0, &err);
    uint32_t np = wasm_func_param_count(f), nr = wasm_func_result_count(f);
    wasm_value args[64], res[64];
    if (np > 64 || nr > 64) continue;
    memset(args, 0, sizeof args);
    for (uint32_t k = 0; k < np; k++) args[k].type = wasm_func_param_type(f, k);
    printf("call %s:", d.name);
    fflush(stdout);
    s = wasm_func_call(f, args, np, res, nr, &err);
    if (s) {
      printf(" trap %s\n", s == WASM_TRAP_MEM_OOB ? err.msg : wasm_status_str(s));
      continue;
    }
    for (uint32_t k = 0; k < nr; k++) {
      printf(" ");
      print_value(&res[k]);
    }
    printf("\n");
  }
  wasm_instance_free(inst);
  wasm_linker_free(l);
  wasm_module_free(m);
  return 0;
}
