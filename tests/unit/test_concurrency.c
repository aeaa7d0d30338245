/* test_concurrency.c — one compiled module, many instances on 8 threads:
 * each thread instantiates, calls and frees 1000 times; every instance must
 * start from fresh state and compute its own distinct result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "wasm/wasm.h"
#include "unit_util.h"
#include "mix_wasm.h"

enum { THREADS = 8, ROUNDS = 1000 };

typedef struct {
  const wasm_module *m;
  int id;
  int bad; /* first failure, as a count */
  char why[600];
} worker;

static void *work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < ROUNDS && !w->bad; i++) {
    wasm_instance *inst = NULL;
    wasm_error err;
    memset(&err, 0, sizeof err);
    wasm_status s = wasm_instantiate(w->m, NULL, NULL, &inst, &err);
    if (s != WASM_OK) {
      w->bad = 1;
      snprintf(w->why, sizeof w->why, "instantiate: %s", err.msg);
      break;
    }
    int32_t x = w->id * 100000 + i;
    wasm_value a = v_i32(x), r;
    s = wasm_instance_call(inst, "mix", &a, 1, &r, 1, &err);
    if (s != WASM_OK || r.of.i32 != x * 3 + 101) {
      w->bad = 1;
      snprintf(w->why, sizeof w->why, "thread %d round %d: status %s result %d, want %d", w->id, i,
               wasm_status_str(s), r.of.i32, x * 3 + 101);
    }
    wasm_instance_free(inst);
  }
  return NULL;
}

static void many_instances_on_threads(void **state) {
  (void)state;
  wasm_module *m = compile_or_fail(mix_wasm, mix_wasm_len);
  pthread_t t[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.m = m, .id = i};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < THREADS; i++)
    if (w[i].bad) fail_msg("%s", w[i].why);
  wasm_module_free(m);
}

/* Compiling the same bytes concurrently is also safe (no hidden globals). */
static void *compile_work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < 200 && !w->bad; i++) {
    wasm_module *m = NULL;
    wasm_error err;
    if (wasm_module_compile(mix_wasm, mix_wasm_len, &m, &err) != WASM_OK) {
      w->bad = 1;
      snprintf(w->why, sizeof w->why, "compile: %s", err.msg);
      break;
    }
    wasm_module_free(m);
  }
  return NULL;
}

static void concurrent_compiles(void **state) {
  (void)state;
  pthread_t t[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.id = i};
    assert_int_equal(pthread_create(&t[i], NULL, compile_work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < THREADS; i++)
    if (w[i].bad) fail_msg("%s", w[i].why);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(many_instances_on_threads),
      cmocka_unit_test(concurrent_compiles),
  };
  return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
