/* bench_instance.c — per-request cost of a WAGI module on the engine.
 *
 *   bench-instance [FILE.wasm] [ITERATIONS] [THREADS...]
 *
 * Does what the server does for each request (src/server/exec.c): a fresh
 * wasi_ctx (stdout captured, argv and a small CGI-like environment), a
 * fresh instance of the module compiled once, a call of `_start`, then
 * wasm_instance_free and wasi_ctx_free. The linker is built once with
 * wasi_define, as srv_module_link does. For each thread count (default: 1
 * then 2) every thread runs ITERATIONS (default 20000) requests after 500
 * warm-up ones; the mean time of each step is printed in microseconds:
 *
 *   threads=1 inst_us=1.20 run_us=3.40 free_us=0.90 ctx_us=0.40 total_us=5.90
 *
 * inst_us + free_us is the engine's per-request overhead (the target of
 * memory.c's reservation pool). BENCH_EVICT_KIB=N makes each thread write N
 * KiB of its own between requests (not timed), as the server's HTTP work
 * and other requests do, so that the instance's memory is no longer
 * cache-hot when it is freed. The default module is
 * build/bench-server/hello.wasm, built as bench/server/run.sh does:
 *   clang-16 --target=wasm32-wasi -O2 bench/server/hello.c \
 *     -o build/bench-server/hello.wasm -Wl,--strip-all
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm/wasm.h"
#include "wasi/wasi.h"

#define WARMUP 500

static size_t evict_bytes;

typedef struct {
  const wasm_module *m;
  const wasm_linker *l;
  long iters;
  uint64_t inst_ns, run_ns, free_ns, ctx_ns;
  int failed;
  char why[300];
} worker;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One request; adds its step times to w when `count`. Returns 0 or -1. */
static int one_request(worker *w, bool count) {
  static const char *const argv[] = {"/hello"};
  static const char *const env[] = {"REQUEST_METHOD=GET",
                                    "PATH_INFO=",
                                    "QUERY_STRING=",
                                    "SCRIPT_NAME=/hello",
                                    "SERVER_PROTOCOL=HTTP/1.1",
                                    "HTTP_HOST=127.0.0.1:3401",
                                    "X_MATCHED_ROUTE=/hello"};
  wasi_config cfg = {0};
  cfg.argv = argv;
  cfg.argc = 1;
  cfg.env = env;
  cfg.envc = sizeof env / sizeof env[0];
  cfg.stdin_kind = WASI_STDIO_BUFFER;
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  cfg.stdout_cap = 1 << 20;
  cfg.stderr_kind = WASI_STDIO_NULL;
  uint64_t t0 = now_ns();
  wasi_ctx *ctx = NULL;
  char eb[256];
  if (wasi_ctx_new(&cfg, &ctx, eb, sizeof eb) != WASI_OK) {
    snprintf(w->why, sizeof w->why, "wasi_ctx_new: %.200s", eb);
    return -1;
  }
  uint64_t t1 = now_ns();
  wasm_instance_opts o = {0};
  o.max_memory_pages = 1024; /* the server's default 64 MiB */
  o.user_data = ctx;
  wasm_instance *inst = NULL;
  wasm_error err;
  err.msg[0] = 0;
  wasm_status s = wasm_instantiate(w->m, w->l, &o, &inst, &err);
  uint64_t t2 = now_ns();
  if (s != WASM_OK) {
    snprintf(w->why, sizeof w->why, "instantiate: %.200s",
             err.msg[0] ? err.msg : wasm_status_str(s));
    wasi_ctx_free(ctx);
    return -1;
  }
  int code = 0;
  s = wasi_run(inst, "_start", &code, &err);
  uint64_t t3 = now_ns();
  wasm_instance_free(inst);
  uint64_t t4 = now_ns();
  size_t outlen = 0;
  wasi_ctx_stdout(ctx, &outlen);
  wasi_ctx_free(ctx);
  uint64_t t5 = now_ns();
  if (s != WASM_OK || code != 0 || outlen == 0) {
    snprintf(w->why, sizeof w->why, "_start: %.200s, exit code %d, %zu bytes of output",
             err.msg[0] ? err.msg : wasm_status_str(s), code, outlen);
    return -1;
  }
  if (count) {
    w->ctx_ns += (t1 - t0) + (t5 - t4);
    w->inst_ns += t2 - t1;
    w->run_ns += t3 - t2;
    w->free_ns += t4 - t3;
  }
  return 0;
}

static void *work(void *arg) {
  worker *w = arg;
  uint8_t *junk = evict_bytes ? malloc(evict_bytes) : NULL;
  for (long i = 0; i < WARMUP + w->iters; i++) {
    if (one_request(w, i >= WARMUP) != 0) {
      w->failed = 1;
      break;
    }
    if (junk) memset(junk, (int)i, evict_bytes);
  }
  free(junk);
  return NULL;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= (1L << 30) &&
      fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
      fread(buf, 1, (size_t)n, f) == (size_t)n) {
    fclose(f);
    *len = (size_t)n;
    return buf;
  }
  free(buf);
  fclose(f);
  return NULL;
}

/* Runs `nthreads` workers at once and prints the mean of each step. */
static int run(const wasm_module *m, const wasm_linker *l, long iters, int nthreads) {
  worker *w = calloc((size_t)nthreads, sizeof *w);
  pthread_t *t = calloc((size_t)nthreads, sizeof *t);
  if (!w || !t) {
    fprintf(stderr, "bench-instance: out of memory\n");
    return 1;
  }
  int rc = 0, started = 0;
  for (int i = 0; i < nthreads; i++) {
    w[i] = (worker){.m = m, .l = l, .iters = iters};
    if (pthread_create(&t[i], NULL, work, &w[i]) != 0) break;
    started++;
  }
  for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
  uint64_t inst = 0, runt = 0, fr = 0, ctx = 0;
  for (int i = 0; i < started; i++) {
    if (w[i].failed) {
      fprintf(stderr, "bench-instance: thread %d: %s\n", i, w[i].why);
      rc = 1;
    }
    inst += w[i].inst_ns;
    runt += w[i].run_ns;
    fr += w[i].free_ns;
    ctx += w[i].ctx_ns;
  }
  if (started < nthreads) {
    fprintf(stderr, "bench-instance: cannot start %d threads\n", nthreads);
    rc = 1;
  }
  double n = (double)iters * (started ? started : 1) * 1000.0;
  if (!rc)
    printf("threads=%d inst_us=%.2f run_us=%.2f free_us=%.2f ctx_us=%.2f total_us=%.2f\n", nthreads,
           inst / n, runt / n, fr / n, ctx / n, (inst + runt + fr + ctx) / n);
  free(w);
  free(t);
  return rc;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "build/bench-server/hello.wasm";
  long iters = argc > 2 ? atol(argv[2]) : 20000;
  if (iters < 1) iters = 1;
  const char *ev = getenv("BENCH_EVICT_KIB");
  if (ev) evict_bytes = (size_t)strtoul(ev, NULL, 10) << 10;
  size_t len = 0;
  uint8_t *bytes = read_file(path, &len);
  if (!bytes) {
    fprintf(stderr,
            "bench-instance: cannot read %s (build it: see the comment at the top of "
            "bench/bench_instance.c)\n",
            path);
    return 1;
  }
  wasm_module *m = NULL;
  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_status s = wasm_module_compile(bytes, len, &m, &err);
  free(bytes);
  if (s != WASM_OK) {
    fprintf(stderr, "bench-instance: %s: %s\n", path, err.msg[0] ? err.msg : wasm_status_str(s));
    return 1;
  }
  wasm_linker *l = wasm_linker_new();
  if (!l || (s = wasi_define(l, NULL, NULL)) != WASM_OK) {
    fprintf(stderr, "bench-instance: cannot define WASI: %s\n",
            l ? wasm_status_str(s) : "out of memory");
    return 1;
  }
  int rc = 0;
  if (argc > 3) {
    for (int i = 3; i < argc && !rc; i++) {
      int n = atoi(argv[i]);
      rc = run(m, l, iters, n < 1 ? 1 : n);
    }
  } else {
    rc = run(m, l, iters, 1);
    if (!rc) rc = run(m, l, iters, 2);
  }
  wasm_linker_free(l);
  wasm_module_free(m);
  return rc;
}
