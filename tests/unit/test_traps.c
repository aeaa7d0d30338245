/* test_traps.c — trap reporting (status, function index, byte offset),
 * interruption from another thread, and the memory cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "wasm/wasm.h"
#include "unit_util.h"
#include "traps_wasm.h"
#include "memcap_wasm.h"
#include "memcap3_wasm.h"
#include "startloop_wasm.h"

enum { F_DIV, F_UNREACH, F_OOB, F_RECURSE, F_SPIN, F_OKFN };

typedef struct {
  wasm_module *m;
  wasm_instance *inst;
} fixture;

static int setup_traps(void **state) {
  static fixture fx;
  fx.m = compile_or_fail(traps_wasm, traps_wasm_len);
  fx.inst = instantiate_or_fail(fx.m, NULL, NULL);
  *state = &fx;
  return 0;
}

/* The same module as native code (the AOT tier): compiled with the system C
 * compiler into a temporary .wasmc and loaded back. Without a working C
 * compiler the group's tests are skipped, and say so. */
static int setup_native_traps(void **state) {
  static fixture fx;
  memset(&fx, 0, sizeof fx);
  *state = &fx;
  wasm_module *m = compile_or_fail(traps_wasm, traps_wasm_len);
  char path[] = "/tmp/wagi-unit-traps-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  wasm_error err = {0};
  wasm_status s = wasm_module_compile_native(m, NULL, path, &err);
  wasm_module_free(m);
  if (s != WASM_OK) {
    unlink(path);
    print_message("native traps: skipped, no native code (%s)\n", err.msg);
    return 0;
  }
  size_t len = 0;
  uint8_t *bytes = NULL;
  char ferr[300];
  if (base_read_file(path, (size_t)1 << 30, BASE_FILE_REGULAR_ONLY, &bytes, &len, ferr,
                     sizeof ferr) != BASE_FILE_OK)
    fail_msg("%s", ferr);
  unlink(path);
  s = wasm_module_load_native(bytes, len, &fx.m, &err);
  free(bytes);
  if (s != WASM_OK) fail_msg("load native failed: %s", err.msg);
  assert_true(wasm_module_is_native(fx.m));
  fx.inst = instantiate_or_fail(fx.m, NULL, NULL);
  return 0;
}

static void skip_without_native(fixture *fx) {
  if (!fx->inst) skip();
}

static int teardown_traps(void **state) {
  fixture *fx = *state;
  if (fx->inst) wasm_instance_free(fx->inst);
  if (fx->m) wasm_module_free(fx->m);
  return 0;
}

/* Calls `name`, expects trap `want` in function `func` at byte `offset`
 * (UINT32_MAX: only check it lies inside [lo, hi)). */
static wasm_error expect_trap(wasm_instance *inst, const char *name, const wasm_value *args,
                              uint32_t nargs, wasm_status want, uint32_t func) {
  wasm_value res[1];
  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_status s = wasm_instance_call(inst, name, args, nargs, res, 1, &err);
  if (s != want)
    fail_msg("%s: expected %s, got %s (%s)", name, wasm_status_str(want), wasm_status_str(s),
             err.msg);
  assert_int_equal(err.status, want);
  assert_true(wasm_status_is_trap(s));
  assert_true(err.msg[0] != 0);
  assert_int_equal(err.func, func);
  return err;
}

static void trap_div_zero(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  wasm_value args[2] = {v_i32(7), v_i32(0)};
  wasm_error err = expect_trap(fx->inst, "div", args, 2, WASM_TRAP_DIV_ZERO, F_DIV);
  static const unsigned char pat[] = {0x20, 0x00, 0x20, 0x01, 0x6d, 0x0b};
  assert_int_equal(err.offset, offset_of(traps_wasm, traps_wasm_len, pat, sizeof pat, 4));
  assert_non_null(strstr(err.msg, "integer divide by zero"));
  /* INT_MIN / -1 is the other division trap */
  wasm_value args2[2] = {v_i32(INT32_MIN), v_i32(-1)};
  expect_trap(fx->inst, "div", args2, 2, WASM_TRAP_INT_OVERFLOW, F_DIV);
}

static void trap_unreachable(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  wasm_error err = expect_trap(fx->inst, "unreach", NULL, 0, WASM_TRAP_UNREACHABLE, F_UNREACH);
  static const unsigned char pat[] = {0x41, 0xb4, 0x24, 0x1a, 0x00, 0x0b};
  assert_int_equal(err.offset, offset_of(traps_wasm, traps_wasm_len, pat, sizeof pat, 4));
  assert_non_null(strstr(err.msg, "unreachable"));
}

/* Address 65536 - 0x77 + 0x77 = one past the page: caught by the guard page,
 * not by a bounds check, so this exercises the signal path. */
static void trap_oob_guard_page(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  static const unsigned char pat[] = {0x20, 0x00, 0x28, 0x02, 0x77, 0x0b};
  uint32_t at = offset_of(traps_wasm, traps_wasm_len, pat, sizeof pat, 2);
  const int32_t addrs[] = {65536 - 0x77 - 3, 65536, -1, 0x7fffffff};
  for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
    wasm_value a = v_i32(addrs[i]);
    wasm_error err = expect_trap(fx->inst, "oob", &a, 1, WASM_TRAP_MEM_OOB, F_OOB);
    assert_int_equal(err.offset, at);
    assert_non_null(strstr(err.msg, "out of bounds memory access"));
  }
  /* The last in-bounds word still works after the faults. */
  wasm_value a = v_i32(65536 - 0x77 - 4), r;
  wasm_error err;
  assert_int_equal(wasm_instance_call(fx->inst, "oob", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 0);
}

static void trap_stack_exhausted(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  wasm_value a = v_i32(0);
  wasm_error err = expect_trap(fx->inst, "recurse", &a, 1, WASM_TRAP_STACK_EXHAUSTED, F_RECURSE);
  /* Reported somewhere inside $recurse's body (entry or the call). */
  static const unsigned char pat[] = {0x20, 0x00, 0x41, 0xd5, 0x00, 0x6a, 0x10, 0x03, 0x0b};
  uint32_t lo = offset_of(traps_wasm, traps_wasm_len, pat, sizeof pat, 0);
  if (err.offset != UINT32_MAX) {
    assert_in_range(err.offset, lo - 2, lo + sizeof pat);
  }
  assert_non_null(strstr(err.msg, "call stack exhausted"));
  /* The instance is usable after unwinding. */
  wasm_value r;
  assert_int_equal(wasm_instance_call(fx->inst, "ok", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 1);
}

/* A trap in one call leaves no state behind for the next. */
static void trap_then_normal_call(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  wasm_value a = v_i32(41), r;
  wasm_error err;
  expect_trap(fx->inst, "unreach", NULL, 0, WASM_TRAP_UNREACHABLE, F_UNREACH);
  assert_int_equal(wasm_instance_call(fx->inst, "ok", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 42);
}

static void *interrupter(void *arg) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  wasm_instance_interrupt(arg);
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void interrupt_from_thread(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  alarm(20); /* a broken interrupt must fail the run, not hang it */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, interrupter, fx->inst), 0);
  double t0 = now_s();
  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_status s = wasm_instance_call(fx->inst, "spin", NULL, 0, NULL, 0, &err);
  double dt = now_s() - t0;
  pthread_join(t, NULL);
  assert_int_equal(s, WASM_TRAP_INTERRUPTED);
  assert_true(err.msg[0] != 0);
  assert_int_equal(err.func, F_SPIN);
  assert_true(dt >= 0.04 && dt < 5.0);
  /* Still interrupted until cleared... */
  s = wasm_instance_call(fx->inst, "spin", NULL, 0, NULL, 0, &err);
  assert_int_equal(s, WASM_TRAP_INTERRUPTED);
  /* ...then normal calls work again. */
  wasm_instance_clear_interrupt(fx->inst);
  wasm_value a = v_i32(1), r;
  assert_int_equal(wasm_instance_call(fx->inst, "ok", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 2);
  alarm(0);
}

/* Every kind of endless loop stops when interrupted from another thread:
 * on native code some poll and the others are reached by a signal. */
static void interrupt_every_loop_kind(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  static const char *const names[] = {"spin", "spin_floor", "spin_fill", "spin_nested"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    wasm_instance_clear_interrupt(fx->inst);
    alarm(20);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, interrupter, fx->inst), 0);
    wasm_error err;
    memset(&err, 0, sizeof err);
    wasm_status s = wasm_instance_call(fx->inst, names[i], NULL, 0, NULL, 0, &err);
    pthread_join(t, NULL);
    alarm(0);
    if (s != WASM_TRAP_INTERRUPTED) fail_msg("%s: %s", names[i], wasm_status_str(s));
  }
  wasm_instance_clear_interrupt(fx->inst);
}

/* The same from a signal handler (the server's time limit may use one). */
static wasm_instance *volatile alarm_target;

static void on_alarm(int sig) {
  (void)sig;
  wasm_instance_interrupt(alarm_target);
}

static void interrupt_from_signal_handler(void **state) {
  fixture *fx = *state;
  skip_without_native(fx);
  wasm_instance_clear_interrupt(fx->inst);
  alarm_target = fx->inst;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
  struct itimerval it = {.it_value = {0, 50 * 1000}};
  assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
  double t0 = now_s();
  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_status s = wasm_instance_call(fx->inst, "spin", NULL, 0, NULL, 0, &err);
  double dt = now_s() - t0;
  sigaction(SIGALRM, &old, NULL);
  assert_int_equal(s, WASM_TRAP_INTERRUPTED);
  assert_true(dt >= 0.04 && dt < 5.0);
  wasm_instance_clear_interrupt(fx->inst);
  wasm_value a = v_i32(2), r;
  assert_int_equal(wasm_instance_call(fx->inst, "ok", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 3);
}

static void memory_cap(void **state) {
  (void)state;
  wasm_module *m = compile_or_fail(memcap_wasm, memcap_wasm_len);
  wasm_instance_opts o = {.max_memory_pages = 2};
  wasm_instance *inst = instantiate_or_fail(m, NULL, &o);
  wasm_value a = v_i32(1), r;
  wasm_error err;
  assert_int_equal(wasm_instance_call(inst, "grow", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 1);
  assert_int_equal(wasm_instance_call(inst, "grow", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, -1);
  a = v_i32(100000);
  assert_int_equal(wasm_instance_call(inst, "grow", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, -1);
  assert_int_equal(wasm_instance_call(inst, "size", NULL, 0, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 2);
  assert_int_equal(wasm_memory_size(wasm_instance_memory(inst)), 2 * 65536);
  /* The grown page is usable, the one after it is not. */
  wasm_value pk[2] = {v_i32(2 * 65536 - 4), v_i32(0x5eed)};
  assert_int_equal(wasm_instance_call(inst, "poke", pk, 2, NULL, 0, &err), WASM_OK);
  assert_int_equal(wasm_instance_call(inst, "peek", pk, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 0x5eed);
  a = v_i32(2 * 65536);
  assert_int_equal(wasm_instance_call(inst, "peek", &a, 1, &r, 1, &err), WASM_TRAP_MEM_OOB);
  wasm_instance_free(inst);

  /* grow(0) at the cap succeeds and returns the size */
  inst = instantiate_or_fail(m, NULL, &o);
  a = v_i32(0);
  assert_int_equal(wasm_instance_call(inst, "grow", &a, 1, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 1);
  wasm_instance_free(inst);
  wasm_module_free(m);

  /* A module needing more than the cap up front does not instantiate. */
  m = compile_or_fail(memcap3_wasm, memcap3_wasm_len);
  inst = NULL;
  memset(&err, 0, sizeof err);
  wasm_status s = wasm_instantiate(m, NULL, &o, &inst, &err);
  assert_int_not_equal(s, WASM_OK);
  assert_null(inst);
  assert_true(err.msg[0] != 0);
  wasm_module_free(m);
}

/* on_start: called with the instance before the start function and with
 * NULL after it; an interrupt in between stops an endless start function
 * (the embedder's time limit), and wasm_instantiate fails with it. */
typedef struct {
  int calls;
  wasm_instance *seen;
  int interrupt;
} start_log;

static void on_start(wasm_instance *inst, void *arg) {
  start_log *l = arg;
  l->calls++;
  if (l->calls == 1) {
    assert_non_null(inst);
    l->seen = inst;
    if (l->interrupt) wasm_instance_interrupt(inst);
  } else {
    assert_null(inst);
  }
}

static void interrupt_start_function(void **state) {
  (void)state;
  wasm_module *m = compile_or_fail(startloop_wasm, startloop_wasm_len);
  start_log l = {0, NULL, 1};
  wasm_instance_opts o = {.on_start = on_start, .on_start_arg = &l};
  wasm_instance *inst = NULL;
  wasm_error err;
  memset(&err, 0, sizeof err);
  alarm(20); /* a start function that is not stopped must fail the run, not hang it */
  assert_int_equal(wasm_instantiate(m, NULL, &o, &inst, &err), WASM_TRAP_INTERRUPTED);
  alarm(0);
  assert_null(inst);
  assert_int_equal(l.calls, 2);
  assert_non_null(l.seen);
  assert_true(err.msg[0] != 0);
  wasm_module_free(m);

  /* Not called for a module without a start function. */
  m = compile_or_fail(memcap_wasm, memcap_wasm_len);
  start_log none = {0, NULL, 0};
  o.on_start_arg = &none;
  inst = instantiate_or_fail(m, NULL, &o);
  assert_int_equal(none.calls, 0);
  wasm_instance_free(inst);
  wasm_module_free(m);
}

int main(void) {
  const struct CMUnitTest trap_tests[] = {
      cmocka_unit_test(trap_div_zero),
      cmocka_unit_test(trap_unreachable),
      cmocka_unit_test(trap_oob_guard_page),
      cmocka_unit_test(trap_stack_exhausted),
      cmocka_unit_test(trap_then_normal_call),
      cmocka_unit_test(interrupt_from_thread),
      cmocka_unit_test(interrupt_from_signal_handler),
      cmocka_unit_test(interrupt_every_loop_kind),
  };
  const struct CMUnitTest cap_tests[] = {cmocka_unit_test(memory_cap)};
  const struct CMUnitTest start_tests[] = {cmocka_unit_test(interrupt_start_function)};
  int failed = cmocka_run_group_tests_name("traps", trap_tests, setup_traps, teardown_traps);
  /* the same tests, the module as native code */
  failed += cmocka_run_group_tests_name("traps on native code", trap_tests, setup_native_traps,
                                        teardown_traps);
  failed += cmocka_run_group_tests_name("memory cap", cap_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("start function", start_tests, NULL, NULL);
  return failed;
}
