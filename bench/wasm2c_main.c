/* wasm2c_main.c — driver for one benchmark kernel translated by wabt's wasm2c
 * and compiled with gcc -O2 (the peer of the AOT tier). bench/run.sh builds
 * it once per kernel with
 *
 *   -DW2C_NAME=fib -DW2C_HEADER='"fib.h"'   (from `wasm2c -n fib fib.wasm`)
 *
 *   KERNEL.wasm2c [REPS] [INSTANCES]
 *
 * Prints "checksum=N best_s=T inst_us=I" like the other drivers: best of REPS
 * calls of the export `run` on one instance, and the cost of instantiate +
 * free: the average over INSTANCES (default 1000) fresh instances, best of
 * INST_ROUNDS rounds, as bench-engine measures it. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wasm-rt-impl.h"
#include W2C_HEADER

#define INST_ROUNDS 5

#define W2C_CAT2(a, b) a##b
#define W2C_CAT(a, b) W2C_CAT2(a, b)
#define W2C_INSTANCE_T W2C_CAT(W2C_CAT(Z_, W2C_NAME), _instance_t)
#define W2C_INIT_MODULE W2C_CAT(W2C_CAT(Z_, W2C_NAME), _init_module)
#define W2C_INSTANTIATE W2C_CAT(W2C_CAT(Z_, W2C_NAME), _instantiate)
#define W2C_FREE W2C_CAT(W2C_CAT(Z_, W2C_NAME), _free)
#define W2C_RUN W2C_CAT(W2C_CAT(Z_, W2C_NAME), Z_run)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 3;
  int ninst = argc > 2 ? atoi(argv[2]) : 1000;
  if (reps < 1) reps = 1;
  if (ninst < 1) ninst = 1;

  wasm_rt_init();
  W2C_INIT_MODULE();

  /* wasm-rt-impl.c reserves 8 GiB of address space per memory and unmaps
   * only the used part on free, so the instance count must stay well below
   * ~16k (128 TiB of address space). */
  if (ninst > 4000 / INST_ROUNDS) ninst = 4000 / INST_ROUNDS;
  static W2C_INSTANCE_T inst;
  double inst_s = 1e30;
  for (int round = 0; round < INST_ROUNDS; round++) {
    double t0 = now_s();
    for (int i = 0; i < ninst; i++) {
      W2C_INSTANTIATE(&inst);
      W2C_FREE(&inst);
    }
    double t = (now_s() - t0) / ninst;
    if (t < inst_s) inst_s = t;
  }

  W2C_INSTANTIATE(&inst);
  double best = 1e30;
  u32 sum = 0;
  wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) {
    fprintf(stderr, "wasm2c driver: trap %d\n", (int)trap);
    return 1;
  }
  for (int i = 0; i < reps; i++) {
    double t = now_s();
    sum = W2C_RUN(&inst);
    t = now_s() - t;
    if (t < best) best = t;
  }
  printf("checksum=%d best_s=%.6f inst_us=%.2f\n", (int)sum, best, inst_s * 1e6);
  W2C_FREE(&inst);
  wasm_rt_free();
  return 0;
}
