/* test_aot_target.c — the CPU level a .wasmc is built for (aot.c): level
 * names, the trailer's target string for each level, and which CPUs may
 * load which .wasmc (a v3 one is refused on a v2 or baseline CPU with a
 * message that says what to do; a baseline one runs everywhere). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "wasm/aot.h"

static void level_names_round_trip(void **state) {
  (void)state;
  for (int i = 0; i < WASMI_CPU_LEVELS; i++)
    assert_int_equal(wasmi_cpu_level_parse(wasmi_cpu_level_name(i)), i);
  assert_int_equal(wasmi_cpu_level_parse("x86-64-v4"), -1);
  assert_int_equal(wasmi_cpu_level_parse("host"), -1); /* an option value, not a level */
  assert_string_equal(wasmi_cpu_level_name(7), "?");
}

static void host_level_is_a_level(void **state) {
  (void)state;
  int h = wasmi_host_cpu_level();
  assert_true(h >= 0 && h < WASMI_CPU_LEVELS);
#if !defined(__x86_64__)
  assert_int_equal(h, 0);
#endif
}

#if defined(__x86_64__)
static void targets_and_hosts(void **state) {
  (void)state;
  char why[300];
  /* target strings as the trailer records them, for each build level */
  static const char *const target[] = {"x86_64-linux", "x86_64-v2-linux", "x86_64-v3-linux"};
  for (int built = 0; built < WASMI_CPU_LEVELS; built++)
    for (int host = 0; host < WASMI_CPU_LEVELS; host++) {
      why[0] = 0;
      int rc = wasmi_aot_target_check(target[built], host, why, sizeof why);
      if (built <= host) {
        assert_int_equal(rc, 0);
      } else {
        assert_int_equal(rc, -1);
        assert_non_null(strstr(why, wasmi_cpu_level_name(built)));
        assert_non_null(strstr(why, "compile the module again"));
      }
    }
  assert_int_equal(wasmi_aot_target_check("aarch64-linux", 2, why, sizeof why), -1);
  assert_non_null(strstr(why, "aarch64-linux"));
  assert_int_equal(wasmi_aot_target_check("x86_64-v4-linux", 2, why, sizeof why), -1);
  assert_int_equal(wasmi_aot_target_check("", 2, why, sizeof why), -1);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(level_names_round_trip),
      cmocka_unit_test(host_level_is_a_level),
#if defined(__x86_64__)
      cmocka_unit_test(targets_and_hosts),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
