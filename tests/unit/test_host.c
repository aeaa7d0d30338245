/* test_host.c — host function imports: signature checking at link time,
 * argument/result passing, user data and env pointers, trap propagation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wasm/wasm.h"
#include "unit_util.h"
#include "host_wasm.h"

enum { F_ADD3, F_FAIL, F_USER, F_CALL_ADD3, F_CALL_FAIL, F_CALL_USER };

static int add3_calls;

/* add3(i32 a, i64 b, f64 c) -> f64: a + b + c; env points at a multiplier. */
static wasm_status host_add3(wasm_instance *caller, void *env, wasm_slot *args) {
  (void)caller;
  add3_calls++;
  int32_t a = (int32_t)(uint32_t)args[0];
  int64_t b = (int64_t)args[1];
  double c;
  memcpy(&c, &args[2], 8);
  double r = ((double)a + (double)b + c) * *(const double *)env;
  memcpy(&args[0], &r, 8);
  return WASM_OK;
}

/* fail(code): 0 -> ok, 1 -> host trap with a message, 2 -> exit(42). */
static wasm_status host_fail(wasm_instance *caller, void *env, wasm_slot *args) {
  (void)env;
  int32_t code = (int32_t)(uint32_t)args[0];
  if (code == 1) {
    wasm_instance_set_trap_detail(caller, 0, "host says no");
    return WASM_TRAP_HOST;
  }
  if (code == 2) {
    wasm_instance_set_trap_detail(caller, 42, "exit requested");
    return WASM_TRAP_EXIT;
  }
  return WASM_OK;
}

static wasm_status host_user(wasm_instance *caller, void *env, wasm_slot *args) {
  (void)env;
  const int32_t *ud = wasm_instance_user_data(caller);
  args[0] = (uint32_t)*ud;
  return WASM_OK;
}

static double multiplier = 2.0;

static wasm_linker *make_linker(const char *add3_sig, int with_user) {
  wasm_linker *l = wasm_linker_new();
  assert_non_null(l);
  assert_int_equal(wasm_linker_define_func(l, "env", "add3", add3_sig, host_add3, &multiplier),
                   WASM_OK);
  assert_int_equal(wasm_linker_define_func(l, "env", "fail", "i->", host_fail, NULL), WASM_OK);
  if (with_user)
    assert_int_equal(wasm_linker_define_func(l, "env", "user", "->i", host_user, NULL), WASM_OK);
  return l;
}

static void host_call_and_user_data(void **state) {
  (void)state;
  wasm_module *m = compile_or_fail(host_wasm, host_wasm_len);
  wasm_linker *l = make_linker("iIF->F", 1);
  int32_t ud = 1233;
  wasm_instance_opts o = {.user_data = &ud};
  wasm_instance *inst = instantiate_or_fail(m, l, &o);
  assert_ptr_equal(wasm_instance_user_data(inst), &ud);

  wasm_value args[3] = {v_i32(-5), v_i64(10000000000ll), v_f64(0.25)}, r;
  wasm_error err;
  add3_calls = 0;
  assert_int_equal(wasm_instance_call(inst, "call_add3", args, 3, &r, 1, &err), WASM_OK);
  assert_int_equal(r.type, WASM_F64);
  assert_true(f64_of(&r) == (-5.0 + 1e10 + 0.25) * 2.0);
  assert_int_equal(add3_calls, 1);

  assert_int_equal(wasm_instance_call(inst, "call_user", NULL, 0, &r, 1, &err), WASM_OK);
  assert_int_equal(r.of.i32, 1234);

  wasm_value z = v_i32(0);
  assert_int_equal(wasm_instance_call(inst, "call_fail", &z, 1, NULL, 0, &err), WASM_OK);

  /* The host import can be called directly too, with caller == NULL not
   * needed here: call through the exported wrapper only. Arity checks: */
  assert_int_equal(wasm_instance_call(inst, "call_add3", args, 2, &r, 1, &err), WASM_ERR_ARG);
  wasm_value wrong[3] = {v_i64(1), v_i64(2), v_f64(3)};
  assert_int_equal(wasm_instance_call(inst, "call_add3", wrong, 3, &r, 1, &err), WASM_ERR_ARG);
  assert_int_equal(wasm_instance_call(inst, "nope", NULL, 0, NULL, 0, &err), WASM_ERR_NOT_FOUND);

  wasm_instance_free(inst);
  wasm_linker_free(l);
  wasm_module_free(m);
}

static void host_trap_propagates(void **state) {
  (void)state;
  wasm_module *m = compile_or_fail(host_wasm, host_wasm_len);
  wasm_linker *l = make_linker("iIF->F", 1);
  int32_t ud = 0;
  wasm_instance_opts o = {.user_data = &ud};
  wasm_instance *inst = instantiate_or_fail(m, l, &o);
  wasm_error err;
  memset(&err, 0, sizeof err);

  wasm_value one = v_i32(1);
  assert_int_equal(wasm_instance_call(inst, "call_fail", &one, 1, NULL, 0, &err), WASM_TRAP_HOST);
  assert_int_equal(err.status, WASM_TRAP_HOST);
  assert_non_null(strstr(err.msg, "host says no"));

  memset(&err, 0, sizeof err);
  wasm_value two = v_i32(2);
  assert_int_equal(wasm_instance_call(inst, "call_fail", &two, 1, NULL, 0, &err), WASM_TRAP_EXIT);
  assert_int_equal(err.exit_code, 42);

  /* After a host trap the instance still works. */
  wasm_value zero = v_i32(0);
  assert_int_equal(wasm_instance_call(inst, "call_fail", &zero, 1, NULL, 0, &err), WASM_OK);

  wasm_instance_free(inst);
  wasm_linker_free(l);
  wasm_module_free(m);
}

static void link_errors(void **state) {
  (void)state;
  wasm_module *m = compile_or_fail(host_wasm, host_wasm_len);
  struct {
    const char *sig;
    int with_user;
    const char *name;
  } cases[] = {
      {"iIF->f", 1, "add3"}, /* wrong result type */
      {"iIF->", 1, "add3"},  /* missing result */
      {"iIf->F", 1, "add3"}, /* wrong param type */
      {"iI->F", 1, "add3"},  /* missing param */
      {"iIF->F", 0, "user"}, /* import not defined */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    wasm_linker *l = make_linker(cases[i].sig, cases[i].with_user);
    wasm_instance *inst = NULL;
    wasm_error err;
    memset(&err, 0, sizeof err);
    wasm_status s = wasm_instantiate(m, l, NULL, &inst, &err);
    if (s != WASM_ERR_LINK)
      fail_msg("case %zu: expected link error, got %s", i, wasm_status_str(s));
    assert_null(inst);
    if (!strstr(err.msg, cases[i].name))
      fail_msg("case %zu: message \"%s\" lacks the import name", i, err.msg);
    wasm_linker_free(l);
  }
  /* No linker at all for a module with imports. */
  wasm_instance *inst = NULL;
  wasm_error err;
  assert_int_equal(wasm_instantiate(m, NULL, NULL, &inst, &err), WASM_ERR_LINK);
  assert_null(inst);
  wasm_module_free(m);
}

static void bad_signature_text(void **state) {
  (void)state;
  wasm_linker *l = wasm_linker_new();
  assert_non_null(l);
  assert_int_not_equal(wasm_linker_define_func(l, "env", "x", "ix", host_fail, NULL), WASM_OK);
  assert_int_not_equal(wasm_linker_define_func(l, "env", "x", "i->q", host_fail, NULL), WASM_OK);
  assert_int_equal(wasm_linker_define_func(l, "env", "x", "->", host_fail, NULL), WASM_OK);
  wasm_linker_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(host_call_and_user_data),
      cmocka_unit_test(host_trap_propagates),
      cmocka_unit_test(link_errors),
      cmocka_unit_test(bad_signature_text),
  };
  return cmocka_run_group_tests_name("host functions", tests, NULL, NULL);
}
