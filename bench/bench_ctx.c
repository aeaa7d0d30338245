/* bench_ctx.c — per-request cost of the guest's world: CGI argv and
 * environment (cgi.h) plus the WASI context (wasi.h), as srv_exec builds it.
 *
 *   bench-ctx [ITERATIONS] [THREADS...]     (defaults: 200000, then 1 and 2)
 *
 * One request = GET /hello/world/x?name=wagi&x=1&y=two with 10 headers,
 * 3 module variables, an empty body as stdin, stdout captured with the
 * server's 16 MiB cap, stderr a log file; then 100 bytes written to stdout
 * through the real fd_write import (a tiny module instantiated once per
 * thread whose get_ctx returns the request's ctx), and the ctx freed.
 * Instantiation is not part of it (bench-engine measures that).
 *
 * Rows: "exec.c path" is what srv_exec does today (two cgi vectors, then
 * wasi_ctx_new copies them); "+1 volume" adds a preopen given by host path
 * (an open() and close() per request); "packed" is the cheap way:
 * srv_cgi_pack into a stack buffer, wasi_config.argv_packed / env_packed
 * and WASI_TRUSTED_STDIO_FDS; "packed +1 volume fd" adds the volume as a
 * host_fd opened once. Each prints the mean us per request per thread
 * (wall clock / iterations, every thread doing ITERATIONS; in parentheses
 * thread CPU time), best of 3 runs, and a breakdown for one thread.
 *
 * -DBENCH_CTX_OLD_API builds it against a tree without the packed API (to
 * measure the old code): the packed rows are then left out. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/cgi.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

/* (module
 *   (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
 *   (memory 1)
 *   (data (i32.const 16) "\40\00\00\00\64\00\00\00")   ;; one iovec: 100 bytes at 64
 *   (func (export "w") (result i32)
 *     (call $w (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))) */
static const uint8_t W100_WASM[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0d, 0x02, 0x60, 0x04, 0x7f, 0x7f, 0x7f,
    0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7f, 0x02, 0x23, 0x01, 0x16, 0x77, 0x61, 0x73, 0x69, 0x5f,
    0x73, 0x6e, 0x61, 0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76, 0x69, 0x65, 0x77,
    0x31, 0x08, 0x66, 0x64, 0x5f, 0x77, 0x72, 0x69, 0x74, 0x65, 0x00, 0x00, 0x03, 0x02, 0x01, 0x01,
    0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x05, 0x01, 0x01, 0x77, 0x00, 0x01, 0x0a, 0x0e, 0x01, 0x0c,
    0x00, 0x41, 0x01, 0x41, 0x10, 0x41, 0x01, 0x41, 0x08, 0x10, 0x00, 0x0b, 0x0b, 0x0e, 0x01, 0x00,
    0x41, 0x10, 0x0b, 0x08, 0x40, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00,
};

static wasm_module *module;
static wasm_linker *linker;
static int logfd = -1;
static char voldir[64];
static int volfd = -1;
static srv_env_list user_env;
static srv_route route;

static __thread wasi_ctx *current;
static wasi_ctx *get_current(wasm_instance *caller, void *arg) {
  (void)caller;
  (void)arg;
  return current;
}

static const srv_header HEADERS[] = {
#define H(n, v)                                                                                    \
  { n, sizeof n - 1, v, sizeof v - 1 }
    H("Host", "localhost:3000"),
    H("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
    H("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    H("Accept-Language", "en-US,en;q=0.5"),
    H("Accept-Encoding", "gzip, deflate, br"),
    H("Connection", "keep-alive"),
    H("Cookie", "session=0123456789abcdef0123456789abcdef; theme=dark"),
    H("X-Request-Id", "4bf92f3577b34da6a3ce929d0e0e4736"),
    H("Cache-Control", "no-cache"),
    H("Referer", "http://localhost:3000/hello"),
#undef H
};

static void make_request(srv_request *req, srv_route_match *m) {
  static const char path[] = "/hello/world/x";
  static const char query[] = "name=wagi&x=1&y=two";
  memset(req, 0, sizeof *req);
  req->method = "GET";
  req->path = path;
  req->path_len = sizeof path - 1;
  req->query = query;
  req->query_len = sizeof query - 1;
  req->protocol = "HTTP/1.1";
  req->headers = HEADERS;
  req->n_headers = sizeof HEADERS / sizeof *HEADERS;
  req->client_ip = "127.0.0.1";
  m->route = &route;
  m->raw_path_info = path + 6;
  m->raw_path_info_len = sizeof path - 1 - 6;
}

typedef enum { MODE_EXEC, MODE_EXEC_VOLUME, MODE_PACKED, MODE_PACKED_VOLUME } mode;
static const char *const MODE_NAMES[] = {"exec.c path", "exec.c path +1 volume", "packed",
                                         "packed +1 volume fd"};

/* Nanoseconds per phase, summed over the iterations of one thread. */
enum { P_CGI, P_CTX, P_WRITE, P_FREE, P_N };
static const char *const PHASE_NAMES[] = {"argv+env", "ctx_new", "write 100 B", "ctx_free"};

typedef struct {
  mode md;
  long iters;
  int breakdown;
  double wall_s, cpu_s;
  uint64_t phase_ns[P_N];
  int failed;
} job;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int one_request(const job *j, wasm_func *w, const srv_request *req, const srv_route_match *m,
                       uint64_t *ph) {
  uint64_t t0 = j->breakdown ? now_ns() : 0, t1 = 0;
  wasi_ctx *ctx = NULL;
  wasi_config cfg = {0};
  cfg.stdin_kind = WASI_STDIO_BUFFER;
  cfg.stdin_buf = (const uint8_t *)"";
  cfg.stdout_kind = WASI_STDIO_BUFFER;
  cfg.stdout_cap = (size_t)16 << 20;
  cfg.stderr_kind = WASI_STDIO_FD;
  cfg.stderr_fd = logfd;
  cfg.flags = WASI_SKIP_BAD_PREOPENS;
  char eb[256];
#ifndef BENCH_CTX_OLD_API
  if (j->md >= MODE_PACKED) {
    char buf[SRV_CGI_PACK_STACK];
    srv_cgi_packed pk;
    if (srv_cgi_pack(req, NULL, m, &user_env, buf, sizeof buf, &pk)) return -1;
    if (j->breakdown) t1 = now_ns();
    cfg.argv_packed = pk.argv;
    cfg.argv_packed_len = pk.argv_bytes;
    cfg.argc = pk.argc;
    cfg.env_packed = pk.env;
    cfg.env_packed_len = pk.env_bytes;
    cfg.envc = pk.envc;
    cfg.flags |= WASI_TRUSTED_STDIO_FDS;
    wasi_preopen vol = {.host_fd = volfd, .guest_path = "/data"};
    if (j->md == MODE_PACKED_VOLUME) {
      cfg.preopens = &vol;
      cfg.npreopens = 1;
    }
    wasi_status s = wasi_ctx_new(&cfg, &ctx, eb, sizeof eb);
    srv_cgi_packed_free(&pk);
    if (s != WASI_OK) return -1;
  } else
#endif
  {
    size_t argc, envc;
    char **argv = srv_cgi_argv(req, NULL, &argc);
    char **env = srv_cgi_env(req, m, &user_env, &envc);
    if (!argv || !env) return -1;
    if (j->breakdown) t1 = now_ns();
    cfg.argv = (const char *const *)argv;
    cfg.argc = argc;
    cfg.env = (const char *const *)env;
    cfg.envc = envc;
    wasi_preopen vol = {.host_path = voldir, .guest_path = "/data"};
    if (j->md == MODE_EXEC_VOLUME) {
      cfg.preopens = &vol;
      cfg.npreopens = 1;
    }
    wasi_status s = wasi_ctx_new(&cfg, &ctx, eb, sizeof eb);
    srv_strv_free(argv);
    srv_strv_free(env);
    if (s != WASI_OK) return -1;
  }
  uint64_t t2 = j->breakdown ? now_ns() : 0;
  current = ctx;
  wasm_value r;
  wasm_error err;
  if (wasm_func_call(w, NULL, 0, &r, 1, &err) != WASM_OK || r.of.i32 != 0) return -1;
  size_t len;
  wasi_ctx_stdout(ctx, &len);
  if (len != 100) return -1;
  uint64_t t3 = j->breakdown ? now_ns() : 0;
  wasi_ctx_free(ctx);
  current = NULL;
  if (j->breakdown) {
    uint64_t t4 = now_ns();
    ph[P_CGI] += t1 - t0;
    ph[P_CTX] += t2 - t1;
    ph[P_WRITE] += t3 - t2;
    ph[P_FREE] += t4 - t3;
  }
  return 0;
}

static void *run_job(void *arg) {
  job *j = arg;
  wasm_instance *inst;
  wasm_error err;
  if (wasm_instantiate(module, linker, NULL, &inst, &err) != WASM_OK) {
    j->failed = 1;
    return NULL;
  }
  wasm_func *w = wasm_instance_export_func(inst, "w");
  srv_request req;
  srv_route_match m;
  make_request(&req, &m);
  for (long i = 0; i < j->iters / 20; i++) /* warm the allocator and caches */
    if (one_request(j, w, &req, &m, j->phase_ns)) j->failed = 1;
  memset(j->phase_ns, 0, sizeof j->phase_ns);
  struct timespec c0, c1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  uint64_t t0 = now_ns();
  for (long i = 0; i < j->iters && !j->failed; i++)
    if (one_request(j, w, &req, &m, j->phase_ns)) j->failed = 1;
  j->wall_s = (double)(now_ns() - t0) * 1e-9;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  j->cpu_s = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
  wasm_instance_free(inst);
  return NULL;
}

/* Mean us per request per thread with `nthreads` threads each doing
 * iters, wall clock (*cpu: thread CPU time, which other load on the
 * machine disturbs less); the best of 3 runs. */
static double run(mode md, long iters, int nthreads, double *cpu) {
  double best = 1e300, best_cpu = 1e300;
  for (int rep = 0; rep < 3; rep++) {
    job jobs[64];
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++) {
      memset(&jobs[t], 0, sizeof jobs[t]);
      jobs[t].md = md;
      jobs[t].iters = iters;
      pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    double sum = 0, sum_cpu = 0;
    for (int t = 0; t < nthreads; t++) {
      pthread_join(th[t], NULL);
      if (jobs[t].failed) {
        fprintf(stderr, "bench-ctx: %s: a request failed\n", MODE_NAMES[md]);
        exit(1);
      }
      sum += jobs[t].wall_s;
      sum_cpu += jobs[t].cpu_s;
    }
    double us = sum / nthreads / (double)iters * 1e6,
           cus = sum_cpu / nthreads / (double)iters * 1e6;
    if (us < best) best = us;
    if (cus < best_cpu) best_cpu = cus;
  }
  *cpu = best_cpu;
  return best;
}

static void breakdown(mode md, long iters) {
  job j = {.md = md, .iters = iters, .breakdown = 1};
  run_job(&j);
  if (j.failed) exit(1);
  printf("    breakdown (1 thread, clock reads included):");
  for (int p = 0; p < P_N; p++)
    printf(" %s %.3f", PHASE_NAMES[p], (double)j.phase_ns[p] / (double)iters * 1e-3);
  printf(" us\n");
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 200000;
  if (iters < 100) iters = 100;
  int threads[16] = {1, 2}, nthr = 2;
  if (argc > 2) {
    nthr = 0;
    for (int i = 2; i < argc && nthr < 16; i++) {
      int t = atoi(argv[i]);
      if (t >= 1 && t <= 64) threads[nthr++] = t;
    }
  }

  wasm_error err;
  if (wasm_module_compile(W100_WASM, sizeof W100_WASM, &module, &err) != WASM_OK ||
      !(linker = wasm_linker_new()) || wasi_define(linker, get_current, NULL) != WASM_OK) {
    fprintf(stderr, "bench-ctx: cannot set up the module\n");
    return 1;
  }
  snprintf(voldir, sizeof voldir, "/tmp/bench-ctx-%d", (int)getpid());
  char logpath[96];
  snprintf(logpath, sizeof logpath, "%s.log", voldir);
  if (mkdir(voldir, 0700) != 0 ||
      (logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0) {
    perror("bench-ctx: temp dir/log");
    return 1;
  }
#ifndef BENCH_CTX_OLD_API
  if ((volfd = open(voldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    perror("bench-ctx: volume");
    return 1;
  }
  const int last_mode = MODE_PACKED_VOLUME;
#else
  const int last_mode = MODE_EXEC_VOLUME;
#endif
  srv_env_list_set(&user_env, "GREETING", 8, "hello", 5);
  srv_env_list_set(&user_env, "DB_URL", 6, "postgres://db.internal:5432/app", 31);
  srv_env_list_set(&user_env, "FEATURE_FLAGS", 13, "a,b,c", 5);
  route.kind = SRV_ROUTE_PREFIX;
  route.text = "/hello/...";
  route.text_len = 10;
  route.base = "/hello";
  route.base_len = 6;
  route.script_name = "/hello";
  route.entrypoint = "_start";

  printf(
      "bench-ctx: %ld requests per thread; mean us per request per thread, wall (thread cpu), best "
      "of 3\n",
      iters);
  for (int md = 0; md <= last_mode; md++) {
    printf("  %-22s", MODE_NAMES[md]);
    for (int t = 0; t < nthr; t++) {
      double cpu, wall = run((mode)md, iters, threads[t], &cpu);
      printf("  %d thr %.3f (cpu %.3f)", threads[t], wall, cpu);
    }
    printf("\n");
    breakdown((mode)md, iters);
  }
  close(logfd);
  if (volfd >= 0) close(volfd);
  unlink(logpath);
  rmdir(voldir);
  srv_env_list_free(&user_env);
  wasm_linker_free(linker);
  wasm_module_free(module);
  return 0;
}
