/* fuzz_wasm_exec.c — libFuzzer target that runs modules: every input that
 * compiles is instantiated and each exported function is called with zero
 * arguments of its parameter types, under a time budget.
 *
 * Imports are satisfied as far as possible: WASI (an empty world: no
 * preopens, stdout captured up to 4 KiB), wasi_experimental_http (a ctx that
 * denies everything), the spec suite's `spectest` module, and for any other
 * function import a stub returning zeros; memory, table and global imports
 * get host objects of the requested type (small ones only).
 *
 * Budget: a watchdog thread interrupts the running call after CALL_BUDGET_MS
 * (wasm_instance_interrupt); memory is capped at MAX_PAGES; the call depth
 * and value stack are smaller than the defaults. Traps, interruptions and
 * exits are fine; a crash, a sanitizer report, a status outside the call
 * API's or a trap without a message is a finding.
 *
 * The start function runs under the same budget: wasm_instance_opts.on_start
 * hands the instance to the watchdog while it runs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "http/http.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

#define MAX_INPUT (64 * 1024)
#define MAX_PAGES 256u /* 16 MiB */
#define CALL_BUDGET_MS 20u
#define MAX_CALLS 32u

/* ---- the watchdog --------------------------------------------------------- */

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static wasm_instance *wd_inst; /* under wd_lock: the instance to watch */
static uint64_t wd_deadline_ns;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *watchdog(void *arg) {
  (void)arg;
  for (;;) {
    usleep(1000);
    pthread_mutex_lock(&wd_lock);
    if (wd_inst && now_ns() > wd_deadline_ns) wasm_instance_interrupt(wd_inst);
    pthread_mutex_unlock(&wd_lock);
  }
  return NULL;
}

static void watch(wasm_instance *inst) {
  pthread_mutex_lock(&wd_lock);
  wd_inst = inst;
  wd_deadline_ns = now_ns() + CALL_BUDGET_MS * 1000000ull;
  pthread_mutex_unlock(&wd_lock);
}

/* ---- imports --------------------------------------------------------------- */

/* Results of a signature "params->results" in slots (v128 takes two). */
static unsigned result_slots(const char *sig) {
  const char *r = strstr(sig, "->");
  unsigned n = 0;
  if (r)
    for (r += 2; *r; r++) n += *r == 'v' ? 2 : 1;
  return n;
}

static wasm_status stub(wasm_instance *caller, void *env, wasm_slot *args) {
  (void)caller;
  unsigned n = result_slots(env);
  for (unsigned i = 0; i < n; i++) args[i] = 0;
  return WASM_OK;
}

static wasm_status spectest_print(wasm_instance *caller, void *env, wasm_slot *args) {
  (void)caller;
  (void)env;
  (void)args;
  return WASM_OK;
}

static wasi_ctx *the_wasi;
static wasi_ctx *get_wasi(wasm_instance *caller, void *arg) {
  (void)caller;
  (void)arg;
  return the_wasi;
}
static http_ctx *no_http(wasm_instance *caller, void *arg) {
  (void)caller;
  (void)arg;
  return NULL;
}

static int valtype_of(const char *t, wasm_valtype *out) {
  static const struct {
    const char *name;
    wasm_valtype t;
  } names[] = {{"i32", WASM_I32},
               {"i64", WASM_I64},
               {"f32", WASM_F32},
               {"f64", WASM_F64},
               {"v128", WASM_V128},
               {"funcref", WASM_FUNCREF},
               {"externref", WASM_EXTERNREF}};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strncmp(t, names[i].name, strlen(names[i].name))) {
      *out = names[i].t;
      return 1;
    }
  return 0;
}

typedef struct {
  wasm_memory *mems[8];
  wasm_table *tables[8];
  wasm_global *globals[32];
  unsigned nmem, ntab, nglob;
} host_objects;

static void host_objects_free(host_objects *h) {
  for (unsigned i = 0; i < h->nmem; i++) wasm_memory_free(h->mems[i]);
  for (unsigned i = 0; i < h->ntab; i++) wasm_table_free(h->tables[i]);
  for (unsigned i = 0; i < h->nglob; i++) wasm_global_free(h->globals[i]);
}

/* Stubs and host objects for the module's imports, then the real hosts on
 * top (a later definition replaces an earlier one). */
static wasm_linker *make_linker(const wasm_module *m, host_objects *h) {
  wasm_linker *l = wasm_linker_new();
  if (!l) return NULL;
  uint32_t n = wasm_module_import_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wasm_import_desc d;
    wasm_module_import(m, i, &d);
    wasm_extern ext = {.kind = d.kind};
    if (d.kind == WASM_EXTERN_FUNC) {
      wasm_linker_define_func(l, d.module, d.name, d.type, stub, (void *)d.type);
      continue;
    }
    if (d.kind == WASM_EXTERN_MEMORY) {
      if (h->nmem == 8 || d.limits.min > MAX_PAGES) continue;
      if (wasm_memory_new(d.limits.min, d.limits.has_max ? d.limits.max : UINT32_MAX,
                          &h->mems[h->nmem]) != WASM_OK)
        continue;
      ext.of.memory = h->mems[h->nmem++];
    } else if (d.kind == WASM_EXTERN_TABLE) {
      wasm_valtype t;
      if (h->ntab == 8 || d.limits.min > 10000 || !valtype_of(d.type, &t)) continue;
      if (wasm_table_new(t, d.limits.min, d.limits.has_max ? d.limits.max : UINT32_MAX, NULL,
                         &h->tables[h->ntab]) != WASM_OK)
        continue;
      ext.of.table = h->tables[h->ntab++];
    } else {
      int mut = !strncmp(d.type, "mut ", 4);
      wasm_value v;
      memset(&v, 0, sizeof v);
      if (h->nglob == 32 || !valtype_of(d.type + (mut ? 4 : 0), &v.type)) continue;
      if (wasm_global_new(v, mut, &h->globals[h->nglob]) != WASM_OK) continue;
      ext.of.global = h->globals[h->nglob++];
    }
    wasm_linker_define(l, d.module, d.name, ext);
  }
  static const char *const prints[][2] = {{"print", "->"},          {"print_i32", "i->"},
                                          {"print_i64", "I->"},     {"print_f32", "f->"},
                                          {"print_f64", "F->"},     {"print_i32_f32", "if->"},
                                          {"print_f64_f64", "FF->"}};
  for (size_t i = 0; i < sizeof prints / sizeof *prints; i++)
    wasm_linker_define_func(l, "spectest", prints[i][0], prints[i][1], spectest_print, NULL);
  wasi_define(l, get_wasi, NULL);
  http_define(l, no_http, NULL);
  return l;
}

/* ---- running ----------------------------------------------------------------- */

/* wasm_instance_opts.on_start: the start function is watched like a call. */
static void watch_start(wasm_instance *inst, void *arg) {
  (void)arg;
  watch(inst);
}

static void check_outcome(wasm_status st, const wasm_error *err, const char *what) {
  if (st == WASM_OK) return;
  FUZZ_CHECK(wasm_status_is_trap(st) || st == WASM_ERR_NOMEM || st == WASM_ERR_LINK, "%s: %s", what,
             wasm_status_str(st));
  FUZZ_CHECK(st == WASM_TRAP_EXIT || fuzz_msg_ok(err->msg, sizeof err->msg),
             "%s: %s without a message", what, wasm_status_str(st));
}

static void call_exports(wasm_instance *inst, const wasm_module *m) {
  uint32_t n = wasm_module_export_count(m), calls = 0;
  for (uint32_t i = 0; i < n && calls < MAX_CALLS; i++) {
    wasm_export_desc d;
    wasm_module_export(m, i, &d);
    if (d.kind != WASM_EXTERN_FUNC) continue;
    wasm_func *f = wasm_instance_export_func(inst, d.name);
    FUZZ_CHECK(f != NULL, "export %s not found", d.name);
    uint32_t np = wasm_func_param_count(f), nr = wasm_func_result_count(f);
    if (np > 64 || nr > 64) continue;
    wasm_value args[64], results[64];
    memset(args, 0, sizeof args);
    for (uint32_t k = 0; k < np; k++) args[k].type = wasm_func_param_type(f, k);
    wasm_error err;
    memset(&err, 0, sizeof err);
    calls++;
    wasm_instance_clear_interrupt(inst);
    watch(inst);
    wasm_status st = wasm_func_call(f, args, np, results, nr, &err);
    watch(NULL);
    check_outcome(st, &err, d.name);
    if (st == WASM_OK)
      for (uint32_t k = 0; k < nr; k++)
        FUZZ_CHECK(results[k].type == wasm_func_result_type(f, k), "result %u type", k);
    if (st == WASM_TRAP_EXIT) break; /* proc_exit: the instance is done */
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  pthread_t t;
  if (pthread_create(&t, NULL, watchdog, NULL) != 0) abort();
  pthread_detach(t);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT) return 0;
  wasm_module *m = NULL;
  wasm_error err;
  if (wasm_module_compile(data, size, &m, &err) != WASM_OK) return 0;
  wasi_config cfg = {0};
  static const char *const argv[] = {"fuzz.wasm", "a=1"};
  static const char *const env[] = {"REQUEST_METHOD=GET", "PATH_INFO=/"};
  cfg.argv = argv;
  cfg.argc = 2;
  cfg.env = env;
  cfg.envc = 2;
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  cfg.stdout_cap = 4096;
  cfg.stderr_kind = WASI_STDIO_BUFFER;
  cfg.stderr_cap = 4096;
  char eb[256];
  if (wasi_ctx_new(&cfg, &the_wasi, eb, sizeof eb) != WASI_OK) abort();

  host_objects h = {0};
  wasm_linker *l = make_linker(m, &h);
  if (!l) abort();
  wasm_instance_opts o = {.max_memory_pages = MAX_PAGES,
                          .max_call_depth = 1000,
                          .stack_slots = 1u << 16,
                          .on_start = watch_start};
  wasm_instance *inst = NULL;
  memset(&err, 0, sizeof err);
  wasm_status st = wasm_instantiate(m, l, &o, &inst, &err);
  check_outcome(st, &err, "instantiation");
  if (st == WASM_OK) {
    call_exports(inst, m);
    wasm_instance_free(inst);
  }
  wasm_linker_free(l);
  host_objects_free(&h);
  wasi_ctx_free(the_wasi);
  the_wasi = NULL;
  wasm_module_free(m);
  return 0;
}
