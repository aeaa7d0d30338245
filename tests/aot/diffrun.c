/* diffrun — runs a module the way binaryen's fuzz harness does, printing
 * everything observable, so that a run can be compared with another tier
 * (tests/aot/test_differential.py: the interpreter on a .wasm against its
 * .wasmc) or another engine (tests/diff/: V8 through tests/diff/v8run.js,
 * which prints the same lines):
 *   - the "fuzzing-support" log-i32/i64/f32/f64/v128 imports print their
 *     argument ("log f64:1.5");
 *   - call-export / call-export-catch call the i-th exported function
 *     (zero arguments) and print its outcome ("call-export 3: ok");
 *     call-ref / call-ref-catch do the same for a funcref ("call-ref: ok");
 *     table-get / table-set read and write the exported table "table";
 *     globals imported from "__fuzz_import" are zero or null (binaryen's
 *     reference-types modules);
 *   - every exported function is called in export order with zero
 *     arguments (after "hangLimitInitializer" when the module has one):
 *     "call NAME", then what it logs, then "result V..." or
 *     "trap KIND in function N at 0xOFFSET" (the trap's kind is the
 *     engine's status text; the place is the innermost trapping instruction,
 *     as a function index and a byte offset in the module, the numbers V8
 *     prints as wasm-function[N]:0xOFFSET);
 *   - at the end, every exported global but v128 ones ("global NAME: i32:5").
 * NaNs print as "nan" whatever their bits (WebAssembly lets an engine pick
 * NaN payloads); v128 values print as their 16 bytes in memory order.
 * Output stops after MAX_LINES lines ("output limit reached").
 * Usage: diffrun MODULE.wasm|MODULE.wasmc */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "wasm/wasm.h"

/* Output is capped (the same in v8run.js): a module that logs in a loop
 * for ever must not fill the comparing process's memory. */
#define MAX_LINES 20000
static unsigned g_lines;

/* One output line; every line counts towards the cap. */
static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  if (++g_lines >= MAX_LINES) {
    printf("output limit reached\n");
    fflush(stdout);
    _exit(0);
  }
}

static void fmt_f32(char *b, size_t n, uint32_t bits) {
  float f;
  memcpy(&f, &bits, 4);
  if (isnan(f)) snprintf(b, n, "nan");
  else snprintf(b, n, "%.9g", (double)f);
}

static void fmt_f64(char *b, size_t n, uint64_t bits) {
  double d;
  memcpy(&d, &bits, 8);
  if (isnan(d)) snprintf(b, n, "nan");
  else snprintf(b, n, "%.17g", d);
}

static void fmt_v128(char *b, const uint8_t *v) {
  for (int i = 0; i < 16; i++) sprintf(b + 2 * i, "%02x", v[i]);
}

/* " i32:1", " f64:nan", ... appended to buf */
static void fmt_value(char *buf, size_t n, const wasm_value *v) {
  size_t len = strlen(buf);
  char num[64];
  switch (v->type) {
  case WASM_I32: snprintf(buf + len, n - len, " i32:%d", v->of.i32); break;
  case WASM_I64: snprintf(buf + len, n - len, " i64:%lld", (long long)v->of.i64); break;
  case WASM_F32:
    fmt_f32(num, sizeof num, v->of.f32_bits);
    snprintf(buf + len, n - len, " f32:%s", num);
    break;
  case WASM_F64:
    fmt_f64(num, sizeof num, v->of.f64_bits);
    snprintf(buf + len, n - len, " f64:%s", num);
    break;
  case WASM_V128:
    fmt_v128(num, v->of.v128);
    snprintf(buf + len, n - len, " v128:%s", num);
    break;
  default: snprintf(buf + len, n - len, " ref:%s", v->of.ref ? "non-null" : "null"); break;
  }
}

static wasm_status log_i32(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  out("log i32:%d", (int32_t)(uint32_t)a[0]);
  return WASM_OK;
}
static wasm_status log_i64(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  out("log i64:%lld", (long long)a[0]);
  return WASM_OK;
}
static wasm_status log_f32(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  char num[64];
  fmt_f32(num, sizeof num, (uint32_t)a[0]);
  out("log f32:%s", num);
  return WASM_OK;
}
static wasm_status log_f64(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  char num[64];
  fmt_f64(num, sizeof num, a[0]);
  out("log f64:%s", num);
  return WASM_OK;
}
static wasm_status log_v128(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  uint8_t b[16];
  char hex[40];
  memcpy(b, a, 16);
  fmt_v128(hex, b);
  out("log v128:%s", hex);
  return WASM_OK;
}

/* call-export(i, flags) / call-export-catch(i): call the i-th exported
 * function with zero arguments, as binaryen's JS harness does; the catch
 * variant answers 1 when it trapped (or i is out of range), else 0. A trap
 * that call-export passes on keeps the place where it happened (`inner`),
 * as a JavaScript exception keeps its stack: the caller's trap names the
 * callee's instruction. */
typedef struct {
  wasm_instance *inst;
  const wasm_module *m;
  int has_inner;
  wasm_error inner;
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

/* Calls f with zero arguments; a trap keeps its place for the caller. */
static wasm_status call_with_zeros(harness *h, wasm_func *f) {
  if (!f) return WASM_TRAP_HOST;
  uint32_t np = wasm_func_param_count(f), nr = wasm_func_result_count(f);
  wasm_value args[64], res[64];
  if (np > 64 || nr > 64) return WASM_TRAP_HOST;
  memset(args, 0, sizeof args);
  for (uint32_t k = 0; k < np; k++) args[k].type = wasm_func_param_type(f, k);
  wasm_error e;
  wasm_status s = wasm_func_call(f, args, np, res, nr, &e);
  /* a trap with no place (f is an import, e.g. call-ref called through a
   * funcref) leaves it to the wasm caller, as V8's stack does */
  if (s && !h->has_inner && e.func != UINT32_MAX) {
    h->has_inner = 1;
    h->inner = e;
  }
  return s;
}

static wasm_status call_nth(harness *h, uint32_t n) { return call_with_zeros(h, nth_export(h, n)); }

static wasm_status call_export(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  wasm_status s = call_nth(env, (uint32_t)a[0]);
  out("call-export %u: %s", (uint32_t)a[0], s ? wasm_status_str(s) : "ok");
  return s;
}

static wasm_status call_export_catch(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  harness *h = env;
  wasm_status s = call_nth(h, (uint32_t)a[0]);
  h->has_inner = 0; /* caught: no trap passes on */
  out("call-export-catch %u: %s", (uint32_t)a[0], s ? wasm_status_str(s) : "ok");
  a[0] = s != WASM_OK;
  return WASM_OK;
}

/* call-ref(ref, flags) / call-ref-catch(ref): as call-export, for a
 * funcref (null: a host error). */
static wasm_status call_ref(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  wasm_status s = call_with_zeros(env, (wasm_func *)(uintptr_t)a[0]);
  out("call-ref: %s", s ? wasm_status_str(s) : "ok");
  return s;
}

static wasm_status call_ref_catch(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  harness *h = env;
  wasm_status s = call_with_zeros(h, (wasm_func *)(uintptr_t)a[0]);
  h->has_inner = 0;
  out("call-ref-catch: %s", s ? wasm_status_str(s) : "ok");
  a[0] = s != WASM_OK;
  return WASM_OK;
}

/* table-get(i) / table-set(i, ref) on the exported table "table"; no such
 * table or an index out of range is a host error (JavaScript's
 * Table.get/set throw a RangeError there). */
static wasm_table *export_table(harness *h) {
  wasm_extern e;
  if (!h->inst || wasm_instance_export(h->inst, "table", &e) || e.kind != WASM_EXTERN_TABLE)
    return NULL;
  return e.of.table;
}

static wasm_status table_get(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  wasm_table *t = export_table(env);
  void *ref = NULL;
  if (!t || wasm_table_get(t, (uint32_t)a[0], &ref)) return WASM_TRAP_HOST;
  a[0] = (uintptr_t)ref;
  return WASM_OK;
}

static wasm_status table_set(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c;
  wasm_table *t = export_table(env);
  if (!t || wasm_table_set(t, (uint32_t)a[0], (void *)(uintptr_t)a[1])) return WASM_TRAP_HOST;
  return WASM_OK;
}

/* sleep(ms, id): binaryen's harness answers id (no real sleep). */
static wasm_status sleep_(wasm_instance *c, void *env, wasm_slot *a) {
  (void)c, (void)env;
  a[0] = (uint32_t)a[1];
  return WASM_OK;
}

static void print_trap(const char *what, wasm_status s, const wasm_error *e) {
  char where[64] = "";
  if (wasm_status_is_trap(s) && e->func != UINT32_MAX && e->offset != UINT32_MAX)
    snprintf(where, sizeof where, " in function %u at 0x%x", e->func, e->offset);
  out("%s %s%s", what, wasm_status_str(s), where);
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
  harness h = {NULL, m, 0, {0}};
  wasm_linker_define_func(l, "fuzzing-support", "call-export", "ii->", call_export, &h);
  wasm_linker_define_func(l, "fuzzing-support", "sleep", "ii->i", sleep_, NULL);
  wasm_linker_define_func(l, "fuzzing-support", "call-export-catch", "i->i", call_export_catch, &h);
  wasm_linker_define_func(l, "fuzzing-support", "call-ref", "ri->", call_ref, &h);
  wasm_linker_define_func(l, "fuzzing-support", "call-ref-catch", "r->i", call_ref_catch, &h);
  wasm_linker_define_func(l, "fuzzing-support", "table-get", "i->r", table_get, &h);
  wasm_linker_define_func(l, "fuzzing-support", "table-set", "ir->", table_set, &h);
  for (uint32_t i = 0; i < wasm_module_import_count(m); i++) {
    wasm_import_desc d;
    wasm_module_import(m, i, &d);
    if (d.kind != WASM_EXTERN_GLOBAL || strcmp(d.module, "__fuzz_import")) continue;
    const char *t = d.type;
    int mut = !strncmp(t, "mut ", 4);
    if (mut) t += 4;
    wasm_value zero;
    memset(&zero, 0, sizeof zero);
    zero.type = !strcmp(t, "i32")       ? WASM_I32
                : !strcmp(t, "i64")     ? WASM_I64
                : !strcmp(t, "f32")     ? WASM_F32
                : !strcmp(t, "f64")     ? WASM_F64
                : !strcmp(t, "v128")    ? WASM_V128
                : !strcmp(t, "funcref") ? WASM_FUNCREF
                                        : WASM_EXTERNREF;
    wasm_global *g = NULL;
    if (wasm_global_new(zero, mut, &g) == WASM_OK) {
      wasm_extern e = {.kind = WASM_EXTERN_GLOBAL, .of.global = g};
      wasm_linker_define(l, d.module, d.name, e);
      wasm_global_free(g); /* the linker keeps its own reference */
    }
  }
  wasm_instance *inst = NULL;
  s = wasm_instantiate(m, l, NULL, &inst, &err);
  h.inst = inst;
  if (s) {
    print_trap("instantiate:", s, h.has_inner ? &h.inner : &err);
    fprintf(stderr, "diffrun: %s\n", err.msg);
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
    out("call %s", d.name);
    fflush(stdout);
    h.has_inner = 0;
    s = wasm_func_call(f, args, np, res, nr, &err);
    if (s) {
      print_trap("trap", s, h.has_inner ? &h.inner : &err);
      continue;
    }
    char line[64 * 48] = "result";
    for (uint32_t k = 0; k < nr; k++) fmt_value(line, sizeof line, &res[k]);
    out("%s", line);
  }
  /* the state the calls leave: every exported global but v128 ones, which
   * JavaScript cannot read */
  for (uint32_t i = 0; i < wasm_module_export_count(m); i++) {
    wasm_export_desc d;
    wasm_extern e;
    wasm_module_export(m, i, &d);
    if (d.kind != WASM_EXTERN_GLOBAL || wasm_instance_export(inst, d.name, &e)) continue;
    wasm_value v;
    wasm_global_get(e.of.global, &v);
    if (v.type == WASM_V128) continue;
    char line[128] = "";
    fmt_value(line, sizeof line, &v);
    out("global %s:%s", d.name, line);
  }
  wasm_instance_free(inst);
  wasm_linker_free(l);
  wasm_module_free(m);
  return 0;
}
