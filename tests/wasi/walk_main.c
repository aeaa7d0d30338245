/* walk_main.c — `wagi run` with src/wasi's sandbox forced onto its
 * component-by-component walk, the resolver used where openat2 is missing
 * (Linux < 5.6), so that the WASI and escape tests cover both resolvers.
 * run_tests.py links it with the objects of the regular build:
 *
 *   wagi-walk run [OPTIONS] MODULE.wasm [ARGS...]
 */
#include <stdio.h>
#include <string.h>

extern int wasi_sb_force_walk;           /* src/wasi/wasi_int.h (tests) */
int wagi_cmd_run(int argc, char **argv); /* src/cli/run.c */

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "run") != 0) {
    fprintf(stderr, "usage: wagi-walk run [OPTIONS] MODULE.wasm [ARGS...]\n");
    return 1;
  }
  wasi_sb_force_walk = 1;
  return wagi_cmd_run(argc - 2, argv + 2);
}
