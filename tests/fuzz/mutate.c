/* mutate.c — robustness test: feeds broken modules to the engine.
 *
 * Inputs are the .wasm files wast2json makes from the official test suite
 * (valid, invalid and malformed modules alike). For a sample of them it tries
 * every truncation point, then a fixed number of seeded random mutations.
 * Each input goes to wasm_module_compile and, when that succeeds, to
 * wasm_instantiate with spectest-like imports; exported functions are then
 * called with zero arguments under a watchdog that interrupts runaway loops.
 *
 * A case passes when nothing crashes and every failure carries a non-empty
 * message and a status of the right family. Crashes are the real target: run
 * it in the ASan build (`make san`). The run is deterministic for a given
 * seed; `--case K` replays one case.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasm/wasm.h"

/* ---- options ---------------------------------------------------------- */

static struct {
  const char *suite, *corpus;
  long mutations, sample, only_case; /* sample 0: every module */
  uint64_t seed;
  size_t max_size;      /* skip bigger modules */
  size_t max_trunc;     /* all truncation points up to this size, else sampled */
  int calls;            /* call exports after instantiation */
  double call_budget_s; /* total time allowed for export calls */
  int verbose;
} opt = {
    .mutations = 100000,
    .sample = 0,
    .only_case = -1,
    .seed = 0x5eed,
    .max_size = 64 * 1024,
    .max_trunc = 4096,
    .calls = 1,
    .call_budget_s = 30.0,
};

static char exe_dir[PATH_MAX];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: small, deterministic across platforms. */
static uint64_t rng_state;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}
static uint32_t rng_below(uint32_t n) { return n ? (uint32_t)(rng() % n) : 0; }

/* ---- corpus ---------------------------------------------------------- */

typedef struct {
  char *name;
  uint8_t *bytes;
  size_t len;
} input;

static input *corpus;
static size_t ncorpus, capcorpus;

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (size_t)st.st_size > opt.max_size) {
    fclose(f);
    return NULL;
  }
  size_t n = (size_t)st.st_size;
  uint8_t *b = malloc(n ? n : 1);
  if (b && fread(b, 1, n, f) != n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = n;
  return b;
}

static int cmp_input(const void *a, const void *b) {
  return strcmp(((const input *)a)->name, ((const input *)b)->name);
}

/* Adds every *.wasm in dir/ and dir/<sub>/. */
static void scan(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
    size_t nl = strlen(e->d_name);
    if (nl > 5 && !strcmp(e->d_name + nl - 5, ".wasm")) {
      size_t len;
      uint8_t *b = slurp(path, &len);
      if (!b) continue;
      if (ncorpus == capcorpus) {
        capcorpus = capcorpus ? capcorpus * 2 : 1024;
        input *nc = realloc(corpus, capcorpus * sizeof *corpus);
        if (!nc) {
          perror("realloc");
          exit(1);
        }
        corpus = nc;
      }
      corpus[ncorpus++] = (input){strdup(e->d_name), b, len};
    } else if (depth > 0 && is_dir(path)) {
      scan(path, depth - 1);
    }
  }
  closedir(d);
}

static const char *find_suite(void) {
  static char buf[PATH_MAX + 64];
  if (opt.suite) return is_dir(opt.suite) ? opt.suite : NULL;
  const char *env = getenv("WASM_TESTSUITE");
  if (env && *env) {
    opt.suite = env;
    return is_dir(env) ? env : NULL;
  }
  snprintf(buf, sizeof buf, "%s/../../shared/wasm-testsuite", exe_dir);
  if (is_dir(buf)) return buf;
  if (is_dir("../shared/wasm-testsuite")) return "../shared/wasm-testsuite";
  opt.suite = "../shared/wasm-testsuite";
  return NULL;
}

/* Converts the suite's .wast files with wast2json into out/<name>/. */
static int convert_suite(const char *suite, const char *out) {
  if (system("command -v wast2json >/dev/null 2>&1") != 0) {
    fprintf(stderr, "fuzz: wast2json not found: run scripts/setup.sh\n");
    return -1;
  }
  DIR *d = opendir(suite);
  if (!d) return -1;
  mkdir(out, 0777);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    size_t nl = strlen(e->d_name);
    if (nl < 6 || strcmp(e->d_name + nl - 5, ".wast")) continue;
    char name[256];
    if (snprintf(name, sizeof name, "%.*s", (int)(nl - 5), e->d_name) >= (int)sizeof name) continue;
    char sub[PATH_MAX + 256], cmd[4 * PATH_MAX];
    if (snprintf(sub, sizeof sub, "%s/%s", out, name) >= (int)sizeof sub) continue;
    mkdir(sub, 0777);
    if (snprintf(cmd, sizeof cmd, "wast2json --enable-all '%s/%s' -o '%s/%s.json' >/dev/null 2>&1",
                 suite, e->d_name, sub, name) >= (int)sizeof cmd)
      continue;
    if (system(cmd) == 0) n++;
  }
  closedir(d);
  return n;
}

/* ---- spectest imports ------------------------------------------------ */

static wasm_status host_nop(wasm_instance *caller, void *env, wasm_slot *args) {
  (void)caller;
  (void)env;
  (void)args;
  return WASM_OK;
}

static wasm_linker *spectest_linker(void) {
  wasm_linker *l = wasm_linker_new();
  if (!l) return NULL;
  static const struct {
    const char *name, *sig;
  } fns[] = {
      {"print", "->"},           {"print_i32", "i->"}, {"print_i64", "I->"},
      {"print_f32", "f->"},      {"print_f64", "F->"}, {"print_i32_f32", "if->"},
      {"print_f64_f64", "FF->"},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    wasm_linker_define_func(l, "spectest", fns[i].name, fns[i].sig, host_nop, NULL);
  float f32 = 666.6f;
  double f64 = 666.6;
  wasm_value gv[4] = {
      {.type = WASM_I32}, {.type = WASM_I64}, {.type = WASM_F32}, {.type = WASM_F64}};
  gv[0].of.i32 = 666;
  gv[1].of.i64 = 666;
  memcpy(&gv[2].of.f32_bits, &f32, 4);
  memcpy(&gv[3].of.f64_bits, &f64, 8);
  static const char *gnames[4] = {"global_i32", "global_i64", "global_f32", "global_f64"};
  for (int i = 0; i < 4; i++) {
    wasm_global *g = NULL;
    if (wasm_global_new(gv[i], 0, &g) == WASM_OK) {
      wasm_extern ext = {.kind = WASM_EXTERN_GLOBAL, .of.global = g};
      wasm_linker_define(l, "spectest", gnames[i], ext);
      wasm_global_free(g); /* the linker keeps its own reference */
    }
  }
  wasm_table *t = NULL;
  if (wasm_table_new(WASM_FUNCREF, 10, 20, NULL, &t) == WASM_OK) {
    wasm_extern ext = {.kind = WASM_EXTERN_TABLE, .of.table = t};
    wasm_linker_define(l, "spectest", "table", ext);
    wasm_table_free(t);
  }
  wasm_memory *mem = NULL;
  if (wasm_memory_new(1, 2, &mem) == WASM_OK) {
    wasm_extern ext = {.kind = WASM_EXTERN_MEMORY, .of.memory = mem};
    wasm_linker_define(l, "spectest", "memory", ext);
    wasm_memory_free(mem);
  }
  return l;
}

/* ---- watchdog: interrupts a call that runs too long ---------------------- */

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static wasm_instance *wd_inst;
static double wd_deadline;
static atomic_int wd_stop;
static long wd_fired;

static void *watchdog(void *arg) {
  (void)arg;
  while (!atomic_load(&wd_stop)) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&wd_lock);
    if (wd_inst && now_s() > wd_deadline) {
      wasm_instance_interrupt(wd_inst);
      wd_inst = NULL;
      wd_fired++;
    }
    pthread_mutex_unlock(&wd_lock);
  }
  return NULL;
}

/* ---- crash report ---------------------------------------------------- */

static char current[512];
static struct sigaction prev_action[NSIG];

/* Names the case being run, then hands the signal to whoever had it before
 * (ASan's reporter in the sanitizer build, else the default action).
 * Returning from a hardware fault re-executes the faulting instruction under
 * the restored handler; other signals are raised again. */
static void on_fatal(int sig, siginfo_t *info, void *uctx) {
  (void)uctx;
  static const char head[] = "\nfuzz: CRASH while running ";
  ssize_t r = write(2, head, sizeof head - 1);
  r = write(2, current, strlen(current));
  r = write(2, "\n", 1);
  (void)r;
  sigaction(sig, &prev_action[sig], NULL);
  if (info->si_code <= 0) raise(sig);
}

static void catch_fatal(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, &prev_action[sig]);
}

/* ---- one case -------------------------------------------------------- */

static long passed, failed, n_compiled, n_instantiated, n_calls, n_traps;
static double call_time;

static void report(const char *what, const char *detail) {
  failed++;
  if (failed <= 20) fprintf(stderr, "fuzz: FAIL %s: %s\n", current, what);
  if (failed <= 20 && detail) fprintf(stderr, "      %s\n", detail);
}

/* True if the (already compiled) module has a start section: instantiating
 * it could run forever before we hold the instance to interrupt it. */
static int has_start_section(const uint8_t *b, size_t n) {
  size_t p = 8;
  while (p < n) {
    uint8_t id = b[p++];
    uint64_t size = 0;
    for (unsigned shift = 0; p < n && shift < 35; shift += 7) {
      uint8_t c = b[p++];
      size |= (uint64_t)(c & 0x7f) << shift;
      if (!(c & 0x80)) break;
    }
    if (id == 8) return 1;
    if (size > n - p) return 0;
    p += (size_t)size;
  }
  return 0;
}

static int status_ok_for_compile(wasm_status s) {
  return s == WASM_ERR_MALFORMED || s == WASM_ERR_INVALID || s == WASM_ERR_NOMEM;
}

static void call_exports(wasm_instance *inst, const wasm_module *m) {
  uint32_t n = wasm_module_export_count(m);
  for (uint32_t i = 0, called = 0; i < n && called < 8; i++) {
    if (call_time > opt.call_budget_s) return;
    wasm_export_desc d;
    wasm_module_export(m, i, &d);
    if (d.kind != WASM_EXTERN_FUNC) continue;
    wasm_func *f = wasm_instance_export_func(inst, d.name);
    if (!f) {
      report("exported function not found by name", d.name);
      continue;
    }
    uint32_t np = wasm_func_param_count(f), nr = wasm_func_result_count(f);
    if (np > 64 || nr > 64) continue;
    wasm_value args[64], res[64];
    memset(args, 0, sizeof args);
    for (uint32_t k = 0; k < np; k++) args[k].type = wasm_func_param_type(f, k);
    wasm_error err;
    memset(&err, 0, sizeof err);
    wasm_instance_clear_interrupt(inst);
    double t0 = now_s();
    pthread_mutex_lock(&wd_lock);
    wd_inst = inst;
    wd_deadline = t0 + 0.02;
    pthread_mutex_unlock(&wd_lock);
    wasm_status s = wasm_func_call(f, args, np, res, nr, &err);
    pthread_mutex_lock(&wd_lock);
    wd_inst = NULL;
    pthread_mutex_unlock(&wd_lock);
    call_time += now_s() - t0;
    called++;
    n_calls++;
    if (s != WASM_OK) {
      n_traps++;
      if (!wasm_status_is_trap(s)) report("call failed with a non-trap status", wasm_status_str(s));
      else if (!err.msg[0]) report("trap without a message", wasm_status_str(s));
    }
  }
}

static void run_case(const uint8_t *b, size_t n) {
  long before = failed;
  wasm_module *m = NULL;
  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_status s = wasm_module_compile(b, n, &m, &err);
  if (s != WASM_OK) {
    if (m) report("compile failed but wrote *out", NULL);
    if (!status_ok_for_compile(s)) report("unexpected compile status", wasm_status_str(s));
    else if (!err.msg[0]) report("compile error without a message", wasm_status_str(s));
  } else if (!m) {
    report("compile returned OK without a module", NULL);
  } else {
    n_compiled++;
    if (!has_start_section(b, n)) {
      wasm_instance *inst = NULL;
      wasm_instance_opts o = {.max_memory_pages = 64};
      memset(&err, 0, sizeof err);
      /* A fresh spectest world per instance: an instance writes its own
       * functions into the imported table, and those must not outlive it. */
      wasm_linker *linker = spectest_linker();
      if (!linker) {
        report("cannot create the spectest linker", NULL);
        wasm_module_free(m);
        return;
      }
      s = wasm_instantiate(m, linker, &o, &inst, &err);
      if (s == WASM_OK) {
        n_instantiated++;
        if (opt.calls) call_exports(inst, m);
        wasm_instance_free(inst);
      } else {
        if (inst) report("instantiate failed but wrote *out", NULL);
        if (!err.msg[0]) report("instantiate error without a message", wasm_status_str(s));
        if (s == WASM_ERR_MALFORMED || s == WASM_ERR_INVALID)
          report("instantiate reported a compile-time status", wasm_status_str(s));
      }
      wasm_linker_free(linker);
    }
    wasm_module_free(m);
  }
  if (failed == before) passed++;
}

/* Applies 1-4 random edits; returns the new length (buf has room for +8). */
static size_t mutate(uint8_t *buf, size_t n) {
  static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x40, 0x41, 0x0b,
                                        0x10, 0x11, 0x20, 0x6f, 0x70, 0x7b, 0xfc, 0xfd};
  int edits = 1 + (int)rng_below(4);
  for (int e = 0; e < edits && n > 0; e++) {
    /* Mostly past the header: a broken magic number teaches little. */
    size_t pos = n > 9 && rng_below(16) ? 8 + rng_below((uint32_t)(n - 8)) : rng_below((uint32_t)n);
    switch (rng_below(6)) {
    case 0: buf[pos] = (uint8_t)rng(); break;
    case 1: buf[pos] ^= (uint8_t)(1u << rng_below(8)); break;
    case 2: buf[pos] = interesting[rng_below(sizeof interesting)]; break;
    case 3: /* insert */
      memmove(buf + pos + 1, buf + pos, n - pos);
      buf[pos] = (uint8_t)rng();
      n++;
      break;
    case 4: /* delete */
      memmove(buf + pos, buf + pos + 1, n - pos - 1);
      n--;
      break;
    case 5: buf[pos] = (uint8_t)(buf[pos] + 1 - (int)rng_below(3)); break;
    }
  }
  return n;
}

static void usage(void) {
  fprintf(
      stderr,
      "usage: fuzz-mutate [--suite DIR] [--corpus DIR] [--mutations N (100000)] [--sample N (0 = "
      "all)]\n"
      "                   [--seed N] [--no-calls] [--case K] [-v]\n"
      "  --corpus DIR   .wasm files (DIR/*.wasm, DIR/*/*.wasm); default: the spec\n"
      "                 runner's build/spec, else a wast2json conversion of the suite\n"
      "  --suite DIR    the .wast suite (default $WASM_TESTSUITE or ../shared/wasm-testsuite)\n");
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--suite") && v) opt.suite = v, i++;
    else if (!strcmp(a, "--corpus") && v) opt.corpus = v, i++;
    else if (!strcmp(a, "--mutations") && v) opt.mutations = atol(v), i++;
    else if (!strcmp(a, "--sample") && v) opt.sample = atol(v), i++;
    else if (!strcmp(a, "--seed") && v) opt.seed = strtoull(v, NULL, 0), i++;
    else if (!strcmp(a, "--case") && v) opt.only_case = atol(v), i++;
    else if (!strcmp(a, "--no-calls")) opt.calls = 0;
    else if (!strcmp(a, "-v")) opt.verbose = 1;
    else {
      usage();
      return 2;
    }
  }
  /* exe_dir: build/ (or build-san/), where the corpus caches live. */
  ssize_t k = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
  if (k > 0) {
    exe_dir[k] = 0;
    char *slash = strrchr(exe_dir, '/');
    if (slash) *slash = 0;
  } else {
    strcpy(exe_dir, ".");
  }

  char dir[PATH_MAX + 64];
  if (opt.corpus) {
    scan(opt.corpus, 1);
  } else {
    snprintf(dir, sizeof dir, "%s/spec", exe_dir);
    scan(dir, 1);
    if (ncorpus == 0) {
      const char *suite = find_suite();
      if (!suite) {
        printf(
            "robustness test skipped: wasm test suite not found at %s "
            "(set WASM_TESTSUITE=...)\n",
            opt.suite);
        printf("fuzz: 0 passed, 0 failed\n");
        return 0;
      }
      snprintf(dir, sizeof dir, "%s/fuzz-corpus", exe_dir);
      scan(dir, 1);
      if (ncorpus == 0) {
        printf("fuzz: converting %s with wast2json into %s\n", suite, dir);
        if (convert_suite(suite, dir) < 0) {
          printf("fuzz: 0 passed, 1 failed\n");
          return 1;
        }
        scan(dir, 1);
      }
    }
  }
  if (ncorpus == 0) {
    printf("fuzz: no .wasm inputs found\nfuzz: 0 passed, 1 failed\n");
    return 1;
  }
  qsort(corpus, ncorpus, sizeof *corpus, cmp_input);

  /* Deterministic sample: shuffle with the seed, keep the first `sample`. */
  rng_state = opt.seed ? opt.seed : 1;
  for (size_t i = ncorpus; i > 1; i--) {
    size_t j = rng_below((uint32_t)i);
    input t = corpus[i - 1];
    corpus[i - 1] = corpus[j];
    corpus[j] = t;
  }
  size_t nsample = opt.sample > 0 && (size_t)opt.sample < ncorpus ? (size_t)opt.sample : ncorpus;

  /* Before the engine installs its guard-page handler, which chains to
   * these for faults outside linear memory. */
  catch_fatal(SIGSEGV);
  catch_fatal(SIGBUS);
  catch_fatal(SIGABRT);
  catch_fatal(SIGFPE);
  catch_fatal(SIGILL);

  wasm_linker *l = spectest_linker(); /* checks it can be built at all */
  if (!l) {
    printf("fuzz: cannot create a linker\nfuzz: 0 passed, 1 failed\n");
    return 1;
  }
  wasm_linker_free(l);
  pthread_t wd;
  pthread_create(&wd, NULL, watchdog, NULL);

  double t0 = now_s();
  long case_no = 0;
  size_t maxlen = 0;
  for (size_t i = 0; i < nsample; i++)
    if (corpus[i].len > maxlen) maxlen = corpus[i].len;
  uint8_t *buf = malloc(maxlen + 16);
  if (!buf) {
    perror("malloc");
    return 1;
  }

  /* 1. Every truncation point (sampled points for big modules). */
  long trunc_cases = 0;
  for (size_t i = 0; i < nsample; i++) {
    const input *in = &corpus[i];
    size_t step = in->len > opt.max_trunc ? in->len / opt.max_trunc + 1 : 1;
    for (size_t cut = 0; cut < in->len; cut += step, case_no++) {
      if (opt.only_case >= 0 && case_no != opt.only_case) continue;
      snprintf(current, sizeof current, "case %ld: %s truncated to %zu of %zu bytes", case_no,
               in->name, cut, in->len);
      /* A fresh exact-size copy, so reading past the end is caught by ASan. */
      uint8_t *copy = malloc(cut ? cut : 1);
      if (!copy) continue;
      memcpy(copy, in->bytes, cut);
      run_case(copy, cut);
      free(copy);
      trunc_cases++;
    }
  }
  double t1 = now_s();

  /* 2. Random mutations with a fixed seed, of the sampled modules that
   * compile: mutating an already broken module mostly re-tests the first
   * error it had. */
  size_t *valid = malloc(nsample * sizeof *valid), nvalid = 0;
  if (!valid) {
    perror("malloc");
    return 1;
  }
  for (size_t i = 0; i < nsample; i++) {
    wasm_module *m = NULL;
    wasm_error err;
    if (wasm_module_compile(corpus[i].bytes, corpus[i].len, &m, &err) == WASM_OK) {
      valid[nvalid++] = i;
      wasm_module_free(m);
    }
  }
  if (nvalid == 0)
    for (size_t i = 0; i < nsample; i++) valid[nvalid++] = i;
  rng_state = opt.seed * 0x9E3779B97F4A7C15ull + 1;
  long mut_cases = 0;
  for (long j = 0; j < opt.mutations; j++, case_no++) {
    const input *in = &corpus[valid[rng_below((uint32_t)nvalid)]];
    memcpy(buf, in->bytes, in->len);
    size_t n = mutate(buf, in->len);
    if (opt.only_case >= 0 && case_no != opt.only_case) continue;
    snprintf(current, sizeof current, "case %ld: mutation %ld of %s (seed %" PRIu64 ")", case_no, j,
             in->name, opt.seed);
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) continue;
    memcpy(copy, buf, n);
    run_case(copy, n);
    free(copy);
    mut_cases++;
  }
  double t2 = now_s();

  atomic_store(&wd_stop, 1);
  pthread_join(wd, NULL);
  free(valid);
  free(buf);
  for (size_t i = 0; i < ncorpus; i++) {
    free(corpus[i].name);
    free(corpus[i].bytes);
  }
  free(corpus);

  printf(
      "fuzz: %zu modules in corpus, %zu sampled (%zu valid); %ld truncations (%.1f s), "
      "%ld mutations (%.1f s)\n",
      ncorpus, nsample, nvalid, trunc_cases, t1 - t0, mut_cases, t2 - t1);
  printf(
      "fuzz: %ld compiled, %ld instantiated, %ld export calls (%ld trapped, "
      "%ld interrupted by the watchdog)\n",
      n_compiled, n_instantiated, n_calls, n_traps, wd_fired);
  printf("fuzz: %ld passed, %ld failed\n", passed, failed);
  return failed ? 1 : 0;
}
