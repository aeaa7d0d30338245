/* spectest.c — runs the official WebAssembly core test suite (.wast files)
 * against the engine.
 *
 *   build/spectest [--suite DIR] [--timeout S] [--call-timeout S] [-j N]
 *                  [-v|-vv] [--list-skips] [--no-fork] [NAME|PATTERN...]
 *
 * Each .wast is converted once by wabt's wast2json into <exe dir>/spec/<name>/
 * and run in its own child process, so an engine crash or hang costs one
 * file, not the run. Output: one line per file, failure details under it,
 * then "files: X passed, Y failed" and "N passed, N failed, N skipped".
 * Exit status: 0 when nothing failed, 1 otherwise, 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spec.h"

#define MAX_REPORTS 5   /* failures detailed per file without -v */
#define CALL_TIMEOUT 10 /* seconds a single call may run */

typedef struct {
  const char *suite;     /* directory of the .wast files */
  char outdir[PATH_MAX]; /* <exe dir>/spec */
  char wast2json[PATH_MAX];
  int timeout; /* seconds per file */
  int jobs;    /* files run at once */
  int fork;    /* 0: run in-process (debugging) */
  spec_opts run;
} config;

/* One .wast file and, while it runs, its child process. */
typedef struct {
  char *name; /* "br.wast" */
  pid_t pid;
  int fd;    /* read end of the child's detail pipe; -1 at EOF */
  char *buf; /* details received */
  size_t len, cap;
  double start, elapsed;
  int running, finished;
  int wstatus; /* from waitpid */
  int timed_out;
  int start_errno; /* why pipe/fork failed (pid < 0) */
} job;

/* snprintf for paths: -1 instead of a silently cut path. Going through
 * vsnprintf also keeps gcc's -Wformat-truncation quiet about PATH_MAX sums. */
static int fmt_path(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fmt_path(char *out, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(out, n, fmt, ap);
  va_end(ap);
  return k < 0 || (size_t)k >= n ? -1 : 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
  fputs(
      "usage: spectest [options] [NAME|PATTERN...]\n"
      "  Runs the WebAssembly spec test suite; NAME selects files (\"br\", \"br.wast\",\n"
      "  or a shell pattern such as \"simd_*\").\n"
      "  --suite DIR     directory of .wast files (default: $WASM_TESTSUITE, then\n"
      "                  ../../shared/wasm-testsuite from the executable)\n"
      "  --timeout S     kill a file's run after S seconds (default 120)\n"
      "  --call-timeout S  interrupt a single call after S seconds (default 10;\n"
      "                  0 = never)\n"
      "  -j N            run N files at once (default: number of CPUs)\n"
      "  -v, -vv         all failures and notes; -vv also traces each command\n"
      "  --list-skips    print every skipped command with its reason\n"
      "  --no-fork       run files in this process (for gdb/valgrind)\n"
      "  --tier interp|aot  the tier modules run on (default interp); aot compiles\n"
      "                  each module to native code, cached by digest in\n"
      "                  --aot-cache DIR (default: spec/aot-cache beside the runner)\n",
      f);
}

/* ---- Locating things --------------------------------------------------- */

static int is_dir(const char *p) {
  struct stat st;
  return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* Directory of the running executable, without a trailing slash. */
static void exe_dir(const char *argv0, char *out, size_t n) {
  char buf[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (k > 0) buf[k] = 0;
  else if (!realpath(argv0, buf)) snprintf(buf, sizeof buf, "%s", argv0);
  char *slash = strrchr(buf, '/');
  if (slash) *slash = 0;
  else snprintf(buf, sizeof buf, ".");
  snprintf(out, n, "%s", buf);
}

/* Full path of `prog` on $PATH into out; 0 when found. */
static int find_in_path(const char *prog, char *out, size_t n) {
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    size_t k = strcspn(path, ":");
    snprintf(out, n, "%.*s/%s", (int)k, k ? path : ".", prog);
    if (!access(out, X_OK)) return 0;
    path += k + (path[k] == ':');
  }
  return -1;
}

static int mkdir_p(const char *dir) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
      *p = '/';
    }
  return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when file `name` ("br.wast") is chosen by a command-line selector. */
static int selected(const char *name, char **sel, int nsel) {
  if (!nsel) return 1;
  size_t base = strlen(name) - 5;
  for (int i = 0; i < nsel; i++) {
    if (!strcmp(sel[i], name) || (strlen(sel[i]) == base && !strncmp(sel[i], name, base))) return 1;
    if (!fnmatch(sel[i], name, 0)) return 1;
    char pat[PATH_MAX];
    snprintf(pat, sizeof pat, "%s.wast", sel[i]);
    if (!fnmatch(pat, name, 0)) return 1;
  }
  return 0;
}

/* The sorted .wast names of the suite matching the selectors. Returns the
 * count (-1 on error); *out is malloc'd, as is each name. */
static int list_files(const char *suite, char **sel, int nsel, char ***out) {
  DIR *d = opendir(suite);
  if (!d) return -1;
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t k = strlen(e->d_name);
    if (k <= 5 || strcmp(e->d_name + k - 5, ".wast") || !selected(e->d_name, sel, nsel)) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      char **p = realloc(names, (size_t)cap * sizeof *p);
      if (!p) break;
      names = p;
    }
    if (!(names[n] = strdup(e->d_name))) break;
    n++;
  }
  closedir(d);
  if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
  *out = names;
  return n;
}

/* ---- Conversion -------------------------------------------------------- */

static int newer(const struct stat *a, const struct stat *b) {
  if (a->st_mtim.tv_sec != b->st_mtim.tv_sec) return a->st_mtim.tv_sec > b->st_mtim.tv_sec;
  return a->st_mtim.tv_nsec > b->st_mtim.tv_nsec;
}

/* Runs wast2json (with or without --enable-all), output to `log`. Returns
 * its exit status, or -1 if it could not run. */
static int run_wast2json(const config *cfg, const char *wast, const char *json, const char *log,
                         int all) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    if (all) execl(cfg->wast2json, "wast2json", "--enable-all", wast, "-o", json, (char *)NULL);
    else execl(cfg->wast2json, "wast2json", wast, "-o", json, (char *)NULL);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Removes a wast2json output directory (files only, no subdirectories). */
static void rm_outdir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[PATH_MAX];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
        !fmt_path(p, sizeof p, "%s/%s", dir, e->d_name))
      unlink(p);
  closedir(d);
  rmdir(dir);
}

/* Puts the new output directory `tmp` in place of `dir` with renames, so a
 * concurrent run (another engineer's `make test`) never reads a half-written
 * script. If that run installed a fresh one meanwhile, theirs is kept. */
static void install(const char *tmp, const char *dir, const char *json, const struct stat *ws,
                    const char *old) {
  if (!rename(tmp, dir)) return;
  struct stat js;
  if ((!stat(json, &js) && newer(&js, ws)) || rename(dir, old)) {
    rm_outdir(tmp);
    return;
  }
  if (rename(tmp, dir)) rm_outdir(tmp);
  rm_outdir(old);
}

/* Makes sure <outdir>/<base>/<base>.json is up to date. Writes its path and
 * directory; returns 0, or -1 with a reason in why. */
static int convert(const config *cfg, const char *name, char *json, char *dir, char *why,
                   size_t n) {
  char base[NAME_MAX + 1], wast[PATH_MAX], tmp[PATH_MAX], tjson[PATH_MAX], tlog[PATH_MAX];
  char old[PATH_MAX];
  snprintf(base, sizeof base, "%.*s", (int)(strlen(name) - 5), name);
  int pid = (int)getpid();
  if (fmt_path(wast, sizeof wast, "%s/%s", cfg->suite, name) ||
      fmt_path(dir, PATH_MAX, "%s/%s", cfg->outdir, base) ||
      fmt_path(json, PATH_MAX, "%s/%s.json", dir, base) ||
      fmt_path(tmp, sizeof tmp, "%s/.%s.new.%d", cfg->outdir, base, pid) ||
      fmt_path(old, sizeof old, "%s/.%s.old.%d", cfg->outdir, base, pid) ||
      fmt_path(tjson, sizeof tjson, "%s/%s.json", tmp, base) ||
      fmt_path(tlog, sizeof tlog, "%s/wast2json.log", tmp)) {
    snprintf(why, n, "path too long for %s", name);
    return -1;
  }
  struct stat ws, js;
  if (stat(wast, &ws)) {
    snprintf(why, n, "cannot stat %s: %s", wast, strerror(errno));
    return -1;
  }
  if (!stat(json, &js) && newer(&js, &ws)) return 0;
  rm_outdir(tmp);
  if (mkdir_p(tmp)) {
    snprintf(why, n, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
  }
  /* wabt 1.0.32 rejects nothing with --enable-all that it accepts without,
   * but retrying with its defaults costs nothing if a newer one does. */
  int ok = run_wast2json(cfg, wast, tjson, tlog, 1) == 0 ||
           run_wast2json(cfg, wast, tjson, tlog, 0) == 0;
  if (!ok) unlink(tjson); /* installed for its log; next run converts again */
  install(tmp, dir, json, &ws, old);
  if (ok) return 0;
  fmt_path(why, n, "wast2json could not convert %s (see %s/wast2json.log)", wast, dir);
  return -1;
}

/* ---- Running one file -------------------------------------------------- */

/* Converts and runs one file, writing details to cfg->run.out. */
static void run_file(const config *cfg, const char *name, spec_counts *c) {
  char json[PATH_MAX], dir[PATH_MAX], why[PATH_MAX + 200];
  if (convert(cfg, name, json, dir, why, sizeof why)) {
    c->total = 1;
    c->failed = 1;
    c->reported = 1;
    fprintf(cfg->run.out, "  %s\n", why);
    return;
  }
  spec_run_script(json, dir, &cfg->run, c);
}

static void start_job(config *cfg, job *j, spec_counts *c) {
  int p[2];
  j->start = now();
  j->running = 1;
  if (pipe2(p, O_CLOEXEC)) {
    j->start_errno = errno;
    j->fd = -1;
    j->pid = -1;
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    /* Own process group: the timeout then also ends a wast2json run. */
    setpgid(0, 0);
    close(p[0]);
    FILE *out = fdopen(p[1], "w");
    if (!out) _exit(3);
    /* Line buffering keeps the details written before a crash. */
    setvbuf(out, NULL, _IOLBF, 0);
    cfg->run.out = out;
    run_file(cfg, j->name, c);
    fflush(out);
    _exit(0);
  }
  if (pid < 0) j->start_errno = errno;
  close(p[1]);
  if (pid > 0) {
    setpgid(pid, pid); /* also here: the timeout may come before the child runs */
    /* Non-blocking: a child that stops writing mid-buffer must not block
     * the parent, which has timeouts to enforce. */
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  }
  j->pid = pid;
  j->fd = pid < 0 ? -1 : p[0];
  if (pid < 0) close(p[0]);
}

/* Appends what the child wrote; closes the pipe at EOF. */
static void drain(job *j) {
  for (;;) {
    if (j->cap - j->len < 4096) {
      size_t cap = j->cap ? 2 * j->cap : 8192;
      char *b = realloc(j->buf, cap);
      if (!b) break;
      j->buf = b;
      j->cap = cap;
    }
    ssize_t k = read(j->fd, j->buf + j->len, j->cap - j->len - 1);
    if (k > 0) {
      j->len += (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;
  }
  close(j->fd);
  j->fd = -1;
}

/* ---- Reporting --------------------------------------------------------- */

typedef struct {
  uint64_t passed, failed, skipped;
  unsigned files_passed, files_failed;
} totals;

static void report(const config *cfg, job *j, const spec_counts *c, totals *t) {
  uint32_t passed = c->passed, failed = c->failed, skipped = c->skipped;
  uint32_t ran = passed + failed + skipped;
  uint32_t not_run = c->total > ran ? c->total - ran : 0;
  int normal = j->pid > 0 && !j->timed_out && WIFEXITED(j->wstatus) && WEXITSTATUS(j->wstatus) == 0;
  if (!normal && !not_run) not_run = 1; /* the command that was running */
  failed += not_run;
  char timing[32] = "";
  if (cfg->run.verbose) snprintf(timing, sizeof timing, " [%.2f s]", j->elapsed);

  if (j->pid < 0) {
    printf("CRASH %s: could not start a process: %s\n", j->name, strerror(j->start_errno));
  } else if (j->timed_out) {
    printf("TIMEOUT %s: killed after %d s at line %" PRIu32 ": %" PRIu32 " failed, %" PRIu32
           " passed, %" PRIu32 " skipped\n",
           j->name, cfg->timeout, c->line, failed, passed, skipped);
  } else if (WIFSIGNALED(j->wstatus)) {
    printf("CRASH %s: signal %d at line %" PRIu32 ": %" PRIu32 " failed, %" PRIu32
           " passed, %" PRIu32 " skipped (%s)%s\n",
           j->name, WTERMSIG(j->wstatus), c->line, failed, passed, skipped,
           strsignal(WTERMSIG(j->wstatus)), timing);
  } else if (!normal) {
    printf("CRASH %s: exit status %d at line %" PRIu32 ": %" PRIu32 " failed, %" PRIu32
           " passed, %" PRIu32 " skipped%s\n",
           j->name, WEXITSTATUS(j->wstatus), c->line, failed, passed, skipped, timing);
  } else if (failed) {
    printf("FAIL %s: %" PRIu32 " failed, %" PRIu32 " passed, %" PRIu32 " skipped%s\n", j->name,
           failed, passed, skipped, timing);
  } else if (skipped) {
    printf("PASS %s (%" PRIu32 " passed, %" PRIu32 " skipped)%s\n", j->name, passed, skipped,
           timing);
  } else {
    printf("PASS %s (%" PRIu32 " passed)%s\n", j->name, passed, timing);
  }
  if (j->len) fwrite(j->buf, 1, j->len, stdout);
  if (j->len && j->buf[j->len - 1] != '\n') putchar('\n');
  if (!cfg->run.verbose && c->failed > c->reported)
    printf("  ... %" PRIu32 " more failures (-v shows all)\n", c->failed - c->reported);
  if (not_run && c->total)
    printf("  %" PRIu32 " of %" PRIu32 " commands did not run: counted as failed\n", not_run,
           c->total);
  fflush(stdout);

  t->passed += passed;
  t->failed += failed;
  t->skipped += skipped;
  if (failed) t->files_failed++;
  else t->files_passed++;
}

/* Runs the files with up to cfg->jobs children at once, printing results in
 * file order as they complete. */
static void run_all(config *cfg, job *jobs, int n, spec_counts *counts, totals *t) {
  int next_start = 0, next_print = 0, running = 0;
  struct pollfd *pfd = calloc((size_t)cfg->jobs, sizeof *pfd);
  int *pidx = calloc((size_t)cfg->jobs, sizeof *pidx);
  if (!pfd || !pidx) {
    fprintf(stderr, "spectest: out of memory\n");
    exit(1);
  }
  while (next_print < n) {
    while (running < cfg->jobs && next_start < n) {
      start_job(cfg, &jobs[next_start], &counts[next_start]);
      if (jobs[next_start].pid < 0) {
        jobs[next_start].running = 0;
        jobs[next_start].finished = 1;
      } else {
        running++;
      }
      next_start++;
    }
    int np = 0, wait_ms = 1000;
    double tnow = now();
    for (int i = next_print; i < next_start; i++) {
      job *j = &jobs[i];
      if (!j->running) continue;
      double left = j->start + cfg->timeout - tnow;
      if (left <= 0 && !j->timed_out) {
        j->timed_out = 1;
        kill(-j->pid, SIGKILL); /* its process group: the child and a wast2json */
        kill(j->pid, SIGKILL);
      }
      if (j->fd >= 0) {
        pfd[np] = (struct pollfd){.fd = j->fd, .events = POLLIN};
        pidx[np++] = i;
        int ms = left > 0 ? (int)(left * 1000) + 1 : 0;
        if (ms < wait_ms) wait_ms = ms;
      } else if (wait_ms > 1) {
        wait_ms = 1; /* pipe closed: the child is exiting */
      }
    }
    if (np) {
      int r = poll(pfd, (nfds_t)np, wait_ms);
      if (r > 0)
        for (int k = 0; k < np; k++)
          if (pfd[k].revents) drain(&jobs[pidx[k]]);
    } else if (running) {
      usleep((useconds_t)wait_ms * 1000);
    }
    for (int i = next_print; i < next_start; i++) {
      job *j = &jobs[i];
      if (!j->running || j->fd >= 0) continue;
      if (waitpid(j->pid, &j->wstatus, WNOHANG) == j->pid) {
        j->running = 0;
        j->finished = 1;
        j->elapsed = now() - j->start;
        running--;
      }
    }
    while (next_print < n && jobs[next_print].finished) {
      report(cfg, &jobs[next_print], &counts[next_print], t);
      free(jobs[next_print].buf);
      jobs[next_print].buf = NULL;
      next_print++;
    }
  }
  free(pfd);
  free(pidx);
}

/* --no-fork: the same, in this process, one file after another. */
static void run_inline(config *cfg, job *jobs, int n, spec_counts *counts, totals *t) {
  for (int i = 0; i < n; i++) {
    job *j = &jobs[i];
    FILE *out = open_memstream(&j->buf, &j->len);
    if (!out) {
      fprintf(stderr, "spectest: out of memory\n");
      exit(1);
    }
    cfg->run.out = out;
    j->start = now();
    run_file(cfg, j->name, &counts[i]);
    fclose(out);
    j->elapsed = now() - j->start;
    j->pid = 1;
    j->wstatus = 0;
    report(cfg, j, &counts[i], t);
    free(j->buf);
    j->buf = NULL;
  }
}

int main(int argc, char **argv) {
  config cfg = {
      .timeout = 120, .fork = 1, .run = {.max_reports = MAX_REPORTS, .call_timeout = CALL_TIMEOUT}};
  /* Selectors are compacted into argv itself (sel[k] never passes argv[i]). */
  char **sel = argv + 1;
  int nsel = 0;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  cfg.jobs = ncpu > 0 ? (ncpu > 8 ? 8 : (int)ncpu) : 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    if (!strcmp(a, "--suite") || !strcmp(a, "--timeout") || !strcmp(a, "--call-timeout") ||
        !strcmp(a, "-j") || !strcmp(a, "--jobs") || !strcmp(a, "--tier") ||
        !strcmp(a, "--aot-cache")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "spectest: %s needs a value\n", a);
        return 2;
      }
      val = argv[++i];
    } else if (!strncmp(a, "--suite=", 8)) {
      val = a + 8;
      a = "--suite";
    } else if (!strncmp(a, "--timeout=", 10)) {
      val = a + 10;
      a = "--timeout";
    } else if (!strncmp(a, "-j", 2) && a[2]) {
      val = a + 2;
      a = "-j";
    }
    if (!strcmp(a, "--suite")) cfg.suite = val;
    else if (!strcmp(a, "--tier")) {
      if (strcmp(val, "interp") && strcmp(val, "aot")) {
        fprintf(stderr, "spectest: --tier is interp or aot, not \"%s\"\n", val);
        return 2;
      }
      cfg.run.aot = !strcmp(val, "aot");
    } else if (!strcmp(a, "--aot-cache")) cfg.run.aot_cache = val;
    else if (!strcmp(a, "--timeout")) {
      char *end;
      long s = strtol(val, &end, 10);
      if (*end || s <= 0 || s > 86400) {
        fprintf(stderr, "spectest: bad --timeout \"%s\"\n", val);
        return 2;
      }
      cfg.timeout = (int)s;
    } else if (!strcmp(a, "--call-timeout")) {
      char *end;
      long s = strtol(val, &end, 10);
      if (*end || s < 0 || s > 86400) {
        fprintf(stderr, "spectest: bad --call-timeout \"%s\"\n", val);
        return 2;
      }
      cfg.run.call_timeout = (int)s;
    } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
      char *end;
      long s = strtol(val, &end, 10);
      if (*end || s <= 0 || s > 64) {
        fprintf(stderr, "spectest: bad -j \"%s\"\n", val);
        return 2;
      }
      cfg.jobs = (int)s;
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) cfg.run.verbose++;
    else if (!strcmp(a, "-vv")) cfg.run.verbose += 2;
    else if (!strcmp(a, "--list-skips")) cfg.run.list_skips = 1;
    else if (!strcmp(a, "--no-fork")) cfg.fork = 0;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (a[0] == '-') {
      fprintf(stderr, "spectest: unknown option %s\n", a);
      usage(stderr);
      return 2;
    } else {
      sel[nsel++] = argv[i];
    }
  }

  char exedir[PATH_MAX], deflt[PATH_MAX + 64];
  exe_dir(argv[0], exedir, sizeof exedir);
  snprintf(deflt, sizeof deflt, "%s/../../shared/wasm-testsuite", exedir);
  if (!cfg.suite && getenv("WASM_TESTSUITE") && *getenv("WASM_TESTSUITE"))
    cfg.suite = getenv("WASM_TESTSUITE");
  if (!cfg.suite)
    cfg.suite =
        is_dir(deflt) || !is_dir("../shared/wasm-testsuite") ? deflt : "../shared/wasm-testsuite";
  if (!is_dir(cfg.suite)) {
    printf("spec tests skipped: wasm test suite not found at %s (set WASM_TESTSUITE=...)\n",
           cfg.suite);
    printf("0 passed, 0 failed, 0 skipped\n");
    return 0;
  }
  char suite_real[PATH_MAX];
  if (realpath(cfg.suite, suite_real)) cfg.suite = suite_real;
  if (find_in_path("wast2json", cfg.wast2json, sizeof cfg.wast2json)) {
    printf("wast2json not found: run scripts/setup.sh\n");
    return 1;
  }
  if (fmt_path(cfg.outdir, sizeof cfg.outdir, "%s/spec", exedir) || mkdir_p(cfg.outdir)) {
    printf("spectest: cannot create %s: %s\n", cfg.outdir, strerror(errno));
    return 1;
  }

  char aot_cache[PATH_MAX + 64];
  if (cfg.run.aot && !cfg.run.aot_cache) {
    snprintf(aot_cache, sizeof aot_cache, "%s/aot-cache", cfg.outdir);
    cfg.run.aot_cache = aot_cache;
  }
  if (cfg.run.aot && mkdir_p(cfg.run.aot_cache)) {
    printf("spectest: cannot create %s: %s\n", cfg.run.aot_cache, strerror(errno));
    return 1;
  }

  char **names = NULL;
  int n = list_files(cfg.suite, sel, nsel, &names);
  if (n < 0) {
    printf("spectest: cannot read %s: %s\n", cfg.suite, strerror(errno));
    return 1;
  }
  for (int i = 0; i < nsel; i++) {
    char *one[1] = {sel[i]};
    int hit = 0;
    for (int k = 0; k < n && !hit; k++) hit = selected(names[k], one, 1);
    if (!hit) {
      printf("spectest: no .wast file in %s matches \"%s\"\n", cfg.suite, sel[i]);
      return 2;
    }
  }
  if (n == 0) {
    printf("spec tests skipped: no .wast files in %s\n", cfg.suite);
    printf("0 passed, 0 failed, 0 skipped\n");
    return 0;
  }

  /* Counts live in shared memory so they outlive a crashed child. */
  spec_counts *counts = mmap(NULL, (size_t)n * sizeof *counts, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  job *jobs = calloc((size_t)n, sizeof *jobs);
  if (counts == MAP_FAILED || !jobs) {
    printf("spectest: out of memory\n");
    return 1;
  }
  for (int i = 0; i < n; i++) {
    jobs[i].name = names[i];
    jobs[i].fd = -1;
  }
  totals t = {0};
  double t0 = now();
  if (cfg.fork) run_all(&cfg, jobs, n, counts, &t);
  else run_inline(&cfg, jobs, n, counts, &t);

  printf("time: %.1f s\n", now() - t0);
  printf("files: %u passed, %u failed\n", t.files_passed, t.files_failed);
  printf("%s: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " skipped\n",
         cfg.run.aot ? "aot" : "interp", t.passed, t.failed, t.skipped);
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  free(jobs);
  munmap(counts, (size_t)n * sizeof *counts);
  return t.failed ? 1 : 0;
}
