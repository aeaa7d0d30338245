/* bench_engine.c — times one benchmark module on wagi-c's engine.
 *
 *   bench-engine FILE.wasm [REPS] [INSTANCES]
 *
 * Reports compile time (wasm_module_compile, or the load of a .wasmc, once),
 * the cost of instantiate + free (the average over INSTANCES, default 1000,
 * fresh instances; the best of INST_ROUNDS such rounds, so that a busy
 * machine disturbs it less), and the best of REPS (default 3) calls of the
 * export `run` on one instance:
 *   checksum=N best_s=T compile_ms=C inst_us=I
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm/wasm.h"

#define INST_ROUNDS 5

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int die(const char *what, const wasm_error *err, wasm_status s) {
  fprintf(stderr, "bench-engine: %s: %s\n", what,
          err && err->msg[0] ? err->msg : wasm_status_str(s));
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench-engine FILE.wasm [REPS] [INSTANCES]\n");
    return 1;
  }
  int reps = argc > 2 ? atoi(argv[2]) : 3;
  int ninst = argc > 3 ? atoi(argv[3]) : 1000;
  if (reps < 1) reps = 1;
  if (ninst < 1) ninst = 1;

  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (len < 0 || len > (1L << 30)) {
    fprintf(stderr, "bench-engine: %s: bad size\n", argv[1]);
    fclose(f);
    return 1;
  }
  unsigned char *bytes = malloc((size_t)len + 1);
  if (!bytes || fread(bytes, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "bench-engine: cannot read %s\n", argv[1]);
    fclose(f);
    return 1;
  }
  fclose(f);

  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_module *m = NULL;
  double t0 = now_s();
  /* a .wasmc (wagi compile) runs on the AOT tier; "compile" is then its load */
  wasm_status s = wasm_is_native(bytes, (size_t)len)
                      ? wasm_module_load_native(bytes, (size_t)len, &m, &err)
                      : wasm_module_compile(bytes, (size_t)len, &m, &err);
  double compile_s = now_s() - t0;
  free(bytes);
  if (s != WASM_OK) return die("compile", &err, s);

  /* Instantiation as the server does it: fresh instance per request. */
  double inst_s = 1e30;
  for (int round = 0; round < INST_ROUNDS; round++) {
    t0 = now_s();
    for (int i = 0; i < ninst; i++) {
      wasm_instance *inst = NULL;
      s = wasm_instantiate(m, NULL, NULL, &inst, &err);
      if (s != WASM_OK) return die("instantiate", &err, s);
      wasm_instance_free(inst);
    }
    double t = (now_s() - t0) / ninst;
    if (t < inst_s) inst_s = t;
  }

  wasm_instance *inst = NULL;
  s = wasm_instantiate(m, NULL, NULL, &inst, &err);
  if (s != WASM_OK) return die("instantiate", &err, s);
  wasm_func *run = wasm_instance_export_func(inst, "run");
  if (!run) {
    fprintf(stderr, "bench-engine: no export \"run\"\n");
    return 1;
  }
  double best = 1e30;
  wasm_value res;
  memset(&res, 0, sizeof res);
  for (int i = 0; i < reps; i++) {
    t0 = now_s();
    s = wasm_func_call(run, NULL, 0, &res, 1, &err);
    double t = now_s() - t0;
    if (s != WASM_OK) return die("run", &err, s);
    if (t < best) best = t;
  }
  printf("checksum=%d best_s=%.6f compile_ms=%.3f inst_us=%.2f\n", res.of.i32, best,
         compile_s * 1e3, inst_s * 1e6);
  wasm_instance_free(inst);
  wasm_module_free(m);
  return 0;
}
