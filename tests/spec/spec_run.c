/* spec_run.c — executes the commands of one wast2json script.
 *
 * Each script gets a fresh "spectest" host module and linker, as in the
 * reference interpreter. Every instance created lives until the end of the
 * script (in creation order, freed in reverse) because later instances may
 * hold its functions; modules whose instantiation failed are kept as well,
 * since a trapping instantiation can leave their functions in a shared
 * table. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "spec.h"

typedef struct {
  wasm_module *mod;
  wasm_instance *inst; /* NULL when instantiation failed */
} loaded;

typedef struct {
  char *name;          /* "$M" as written by wast2json */
  wasm_instance *inst; /* NULL when that module failed */
} named;

typedef struct script script;

typedef struct {
  script *s;
  const char *name, *sig;
} printer;

struct script {
  const spec_opts *o;
  spec_counts *c;
  const char *dir;
  wasm_linker *linker;
  wasm_memory *mem;
  wasm_table *table;
  wasm_global *globals[4];
  printer printers[7];
  loaded *live;
  size_t nlive, caplive;
  named *names;
  size_t nnames, capnames;
  wasm_instance *current; /* instance of the last module command */
  uint32_t line;
  const char *cmd; /* command type, for messages */
};

/* Watchdog state (see watched_call), shared with a signal handler. */
static wasm_instance *volatile watch_inst; /* instance of the running call */
static volatile unsigned long watch_seq;   /* bumped per call */
static volatile sig_atomic_t watch_fired;
static int watch_limit;

/* ---- Reporting --------------------------------------------------------- */

static void vdetail(script *s, const char *kind, const char *fmt, va_list ap) {
  FILE *f = s->o->out;
  fprintf(f, "  line %" PRIu32 ": %s%s", s->line, kind, s->cmd);
  if (fmt) {
    fputs(": ", f);
    vfprintf(f, fmt, ap);
  }
  fputc('\n', f);
}

static void pass(script *s) { s->c->passed++; }

static void fail(script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(script *s, const char *fmt, ...) {
  s->c->failed++;
  if (!s->o->verbose && s->c->reported >= (uint32_t)s->o->max_reports) return;
  s->c->reported++;
  va_list ap;
  va_start(ap, fmt);
  vdetail(s, "", fmt, ap);
  va_end(ap);
}

static void skip(script *s, const char *reason) {
  s->c->skipped++;
  if (s->o->list_skips)
    fprintf(s->o->out, "  line %" PRIu32 ": skip %s: %s\n", s->line, s->cmd, reason);
}

/* Verbose-only remark on a passing command (e.g. a different error
 * category than the script names). */
static void note(script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(script *s, const char *fmt, ...) {
  if (!s->o->verbose) return;
  va_list ap;
  va_start(ap, fmt);
  vdetail(s, "note: ", fmt, ap);
  va_end(ap);
}

/* wasm_status_str that never gives NULL to printf, whatever the engine. */
static const char *status_str(wasm_status st) {
  const char *s = wasm_status_str(st);
  return s ? s : "(no status text)";
}

/* "status (engine message)" for an engine failure; `err` must have been
 * zeroed before the call so a stale message is never shown. */
static const char *errtext(wasm_status st, const wasm_error *err, char *buf, size_t n) {
  const char *s = status_str(st);
  if (st == WASM_TRAP_INTERRUPTED && watch_limit) {
    snprintf(buf, n, "no result after %d s: interrupted (hang?)", watch_limit);
    return buf;
  }
  if (err->msg[0]) snprintf(buf, n, "%s (%s)", s, err->msg);
  else snprintf(buf, n, "%s", s);
  return buf;
}

/* Copies `name` into buf with control and non-ASCII bytes escaped. */
static const char *printable(const char *name, char *buf, size_t n) {
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && k + 5 < n; p++) {
    if (*p >= 0x20 && *p < 0x7f) buf[k++] = (char)*p;
    else k += (size_t)snprintf(buf + k, n - k, "\\%02x", *p);
  }
  buf[k < n ? k : n - 1] = 0;
  return buf;
}

/* ---- Bookkeeping ------------------------------------------------------- */

static int keep(script *s, wasm_module *m, wasm_instance *inst) {
  if (s->nlive == s->caplive) {
    size_t cap = s->caplive ? 2 * s->caplive : 32;
    loaded *p = realloc(s->live, cap * sizeof *p);
    if (!p) return -1;
    s->live = p;
    s->caplive = cap;
  }
  s->live[s->nlive++] = (loaded){m, inst};
  return 0;
}

/* Makes `inst` the current module and binds `name` (may be NULL) to it. */
static void set_current(script *s, const char *name, wasm_instance *inst) {
  s->current = inst;
  if (!name) return;
  for (size_t i = 0; i < s->nnames; i++)
    if (!strcmp(s->names[i].name, name)) {
      s->names[i].inst = inst;
      return;
    }
  if (s->nnames == s->capnames) {
    size_t cap = s->capnames ? 2 * s->capnames : 8;
    named *p = realloc(s->names, cap * sizeof *p);
    if (!p) return;
    s->names = p;
    s->capnames = cap;
  }
  char *copy = strdup(name);
  if (!copy) return;
  s->names[s->nnames++] = (named){copy, inst};
}

/* The instance called `name` ("$M"), or the last module when name is NULL.
 * Reports a failure and returns NULL when there is none. */
static wasm_instance *lookup(script *s, const char *name) {
  if (name) {
    for (size_t i = 0; i < s->nnames; i++)
      if (!strcmp(s->names[i].name, name)) {
        if (!s->names[i].inst) fail(s, "module %s failed to instantiate earlier", name);
        return s->names[i].inst;
      }
    fail(s, "unknown module %s", name);
    return NULL;
  }
  if (!s->current) fail(s, "no module instance (the last module command failed or none ran)");
  return s->current;
}

static const char *opt_string(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- spectest host module ---------------------------------------------- */

static wasm_status host_print(wasm_instance *caller, void *env, wasm_slot *args) {
  (void)caller;
  const printer *p = env;
  if (!p->s->o->verbose) return WASM_OK;
  FILE *f = p->s->o->out;
  fprintf(f, "  line %" PRIu32 ": spectest.%s(", p->s->line, p->name);
  for (const char *c = p->sig; *c && *c != '-'; c++, args++) {
    if (c != p->sig) fputs(", ", f);
    if (*c == 'i') fprintf(f, "%" PRId32, (int32_t)(uint32_t)*args);
    else if (*c == 'I') fprintf(f, "%" PRId64, (int64_t)*args);
    else if (*c == 'f') {
      uint32_t b = (uint32_t)*args;
      float x;
      memcpy(&x, &b, sizeof x);
      fprintf(f, "%.9g", (double)x);
    } else {
      double x;
      memcpy(&x, args, sizeof x);
      fprintf(f, "%.17g", x);
    }
  }
  fputs(")\n", f);
  return WASM_OK;
}

/* Defines the spectest module exactly as the spec's reference interpreter
 * does. Returns 0, or -1 with a reason. */
static int define_spectest(script *s, char *why, size_t n) {
  static const char *const prints[7][2] = {
      {"print", "->"},           {"print_i32", "i->"}, {"print_i64", "I->"},
      {"print_f32", "f->"},      {"print_f64", "F->"}, {"print_i32_f32", "if->"},
      {"print_f64_f64", "FF->"},
  };
  wasm_status st;
  for (int i = 0; i < 7; i++) {
    s->printers[i] = (printer){s, prints[i][0], prints[i][1]};
    st = wasm_linker_define_func(s->linker, "spectest", prints[i][0], prints[i][1], host_print,
                                 &s->printers[i]);
    if (st) {
      snprintf(why, n, "spectest.%s: %s", prints[i][0], status_str(st));
      return -1;
    }
  }
  float f32 = 666.6f;
  double f64 = 666.6;
  wasm_value g[4] = {
      {.type = WASM_I32}, {.type = WASM_I64}, {.type = WASM_F32}, {.type = WASM_F64}};
  g[0].of.i32 = 666;
  g[1].of.i64 = 666;
  memcpy(&g[2].of.f32_bits, &f32, sizeof f32);
  memcpy(&g[3].of.f64_bits, &f64, sizeof f64);
  static const char *const gnames[4] = {"global_i32", "global_i64", "global_f32", "global_f64"};
  for (int i = 0; i < 4; i++) {
    if ((st = wasm_global_new(g[i], 0, &s->globals[i])) ||
        (st = wasm_linker_define(
             s->linker, "spectest", gnames[i],
             (wasm_extern){.kind = WASM_EXTERN_GLOBAL, .of.global = s->globals[i]}))) {
      snprintf(why, n, "spectest.%s: %s", gnames[i], status_str(st));
      return -1;
    }
  }
  if ((st = wasm_table_new(WASM_FUNCREF, 10, 20, NULL, &s->table)) ||
      (st = wasm_linker_define(s->linker, "spectest", "table",
                               (wasm_extern){.kind = WASM_EXTERN_TABLE, .of.table = s->table}))) {
    snprintf(why, n, "spectest.table: %s", status_str(st));
    return -1;
  }
  if ((st = wasm_memory_new(1, 2, &s->mem)) ||
      (st = wasm_linker_define(s->linker, "spectest", "memory",
                               (wasm_extern){.kind = WASM_EXTERN_MEMORY, .of.memory = s->mem}))) {
    snprintf(why, n, "spectest.memory: %s", status_str(st));
    return -1;
  }
  return 0;
}

/* ---- Modules ----------------------------------------------------------- */

/* Reads a whole file. Returns a malloc'd buffer (caller frees) or NULL with
 * a reason. */
static uint8_t *read_all(const char *path, size_t *len, char *why, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, n, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  uint8_t *buf = NULL;
  if (fstat(fileno(f), &st) || st.st_size < 0 || (uint64_t)st.st_size > ((uint64_t)1 << 30)) {
    snprintf(why, n, "cannot size %s", path);
  } else if (!(buf = malloc((size_t)st.st_size + 1))) {
    snprintf(why, n, "out of memory reading %s", path);
  } else if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
    snprintf(why, n, "cannot read %s", path);
    free(buf);
    buf = NULL;
  } else {
    buf[st.st_size] = 0;
    *len = (size_t)st.st_size;
  }
  fclose(f);
  return buf;
}

/* The AOT tier: replaces *m by the same module compiled to native code,
 * from the cache when a run made it already, under the engine's cache name
 * (digest, native-code ABI, compiler), so that a cache left by an older
 * build is not used. */
static wasm_status to_native(script *s, const uint8_t *bytes, size_t len, wasm_module **m,
                             wasm_error *err) {
  char name[300], path[4200];
  (void)bytes, (void)len;
  if (wasm_native_cache_name(*m, NULL, name, sizeof name, err->msg, sizeof err->msg) != 0)
    return WASM_ERR_ARG;
  snprintf(path, sizeof path, "%s/%s", s->o->aot_cache, name);
  char why[300];
  size_t nlen = 0;
  uint8_t *native = access(path, R_OK) == 0 ? read_all(path, &nlen, why, sizeof why) : NULL;
  if (!native) {
    wasm_status st = wasm_module_compile_native(*m, NULL, path, err);
    if (st) return st;
    native = read_all(path, &nlen, why, sizeof why);
    if (!native)
      return (wasm_status)(err->msg[0] = 0, snprintf(err->msg, sizeof err->msg, "%s", why),
                           WASM_ERR_NOMEM);
  }
  wasm_module *nm = NULL;
  wasm_status st = wasm_module_load_native(native, nlen, &nm, err);
  free(native);
  if (st) return st;
  wasm_module_free(*m);
  *m = nm;
  return WASM_OK;
}

/* Compiles the command's "filename". Returns the engine status, or -1 when
 * the file itself is missing (reason in why). */
static int compile_file(script *s, const cJSON *cmd, wasm_module **m, wasm_error *err, char *why,
                        size_t n) {
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(cmd, "filename");
  if (!cJSON_IsString(fn)) {
    snprintf(why, n, "command without filename");
    return -1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", s->dir, fn->valuestring);
  size_t len = 0;
  uint8_t *bytes = read_all(path, &len, why, n);
  if (!bytes) return -1;
  memset(err, 0, sizeof *err);
  wasm_status st = wasm_module_compile(bytes, len, m, err);
  if (st == WASM_OK && s->o->aot) st = to_native(s, bytes, len, m, err);
  free(bytes);
  return (int)st;
}

static void cmd_module(script *s, const cJSON *cmd) {
  const char *nm = opt_string(cmd, "name");
  char why[600], e[600];
  wasm_error err;
  wasm_module *m = NULL;
  int st = compile_file(s, cmd, &m, &err, why, sizeof why);
  if (st) {
    set_current(s, nm, NULL);
    if (st < 0) fail(s, "%s", why);
    else fail(s, "compile failed: %s", errtext((wasm_status)st, &err, e, sizeof e));
    return;
  }
  wasm_instance *inst = NULL;
  memset(&err, 0, sizeof err);
  wasm_status ist = wasm_instantiate(m, s->linker, NULL, &inst, &err);
  if (ist) inst = NULL;
  if (keep(s, m, inst)) {
    if (inst) wasm_instance_free(inst);
    wasm_module_free(m);
    inst = NULL;
    ist = WASM_ERR_NOMEM;
  }
  set_current(s, nm, inst);
  if (ist) fail(s, "instantiate failed: %s", errtext(ist, &err, e, sizeof e));
  else pass(s);
}

static void cmd_register(script *s, const cJSON *cmd) {
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(cmd, "as");
  if (!cJSON_IsString(as)) {
    fail(s, "register without \"as\"");
    return;
  }
  wasm_instance *inst = lookup(s, opt_string(cmd, "name"));
  if (!inst) return;
  wasm_status st = wasm_linker_define_instance(s->linker, as->valuestring, inst);
  if (st) fail(s, "wasm_linker_define_instance(\"%s\"): %s", as->valuestring, status_str(st));
  else pass(s);
}

/* ---- Watchdog ---------------------------------------------------------- */

/* A call that runs longer than o->call_timeout seconds is stopped with
 * wasm_instance_interrupt (async-signal-safe) from a once-a-second SIGALRM,
 * so one hanging command fails alone instead of costing the whole file at
 * the parent's timeout. One periodic timer, no syscalls per call. */

static void on_alarm(int sig) {
  (void)sig;
  static unsigned long seen;
  static int ticks;
  wasm_instance *inst = watch_inst;
  if (!inst || watch_seq != seen) {
    seen = watch_seq;
    ticks = 0;
    return;
  }
  if (++ticks >= watch_limit && !watch_fired) {
    watch_fired = 1;
    wasm_instance_interrupt(inst);
  }
}

static void watchdog_start(int seconds) {
  if (seconds <= 0) return;
  watch_limit = seconds;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{1, 0}, {1, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void watchdog_stop(void) {
  struct itimerval it = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
  signal(SIGALRM, SIG_DFL);
  watch_inst = NULL;
}

/* Calls f under the watchdog. Returns the call's status. */
static wasm_status watched_call(wasm_instance *inst, wasm_func *f, const wasm_value *args,
                                uint32_t nargs, wasm_value *res, uint32_t nres, wasm_error *err,
                                int *interrupted) {
  watch_seq++;
  watch_inst = inst;
  wasm_status st = wasm_func_call(f, args, nargs, res, nres, err);
  watch_inst = NULL;
  *interrupted = 0;
  if (watch_fired) {
    /* Re-arm the instance even if the interrupt landed after the call. */
    wasm_instance_clear_interrupt(inst);
    watch_fired = 0;
    *interrupted = st == WASM_TRAP_INTERRUPTED;
  }
  return st;
}

/* ---- Actions ----------------------------------------------------------- */

typedef struct {
  wasm_status st; /* engine status of the call or get */
  wasm_error err;
  wasm_value *res; /* results (malloc'd) */
  uint32_t nres;
  int interrupted; /* stopped by the watchdog */
  const char *field;
  const cJSON *args; /* NULL for "get" */
  char what[256];    /* "field(i32:1, i32:2)", made when first needed */
} act;

/* Describes the action for messages. Built lazily: formatting every
 * argument of ~50k passing calls would cost more than running them. */
static const char *what(act *a) {
  if (a->what[0]) return a->what;
  char pname[128];
  printable(a->field ? a->field : "?", pname, sizeof pname);
  if (!a->args) {
    snprintf(a->what, sizeof a->what, "get %s", pname);
    return a->what;
  }
  size_t pos = (size_t)snprintf(a->what, sizeof a->what, "%s(", pname);
  int i = 0;
  const cJSON *arg;
  cJSON_ArrayForEach(arg, a->args) {
    spec_val v;
    char buf[200], why[200];
    if (spec_val_parse(arg, &v, why, sizeof why)) snprintf(buf, sizeof buf, "?");
    else spec_val_format(&v.v, v.shape, buf, sizeof buf);
    if (pos < sizeof a->what)
      pos += (size_t)snprintf(a->what + pos, sizeof a->what - pos, "%s%s", i++ ? ", " : "", buf);
  }
  if (pos < sizeof a->what) snprintf(a->what + pos, sizeof a->what - pos, ")");
  return a->what;
}

/* Performs the command's "action". Returns 0 when the engine was asked (the
 * outcome is in a->st / a->res), -1 after reporting a failure or skip that
 * prevents asking it. */
static int run_action(script *s, const cJSON *cmd, act *a) {
  memset(a, 0, sizeof *a);
  const cJSON *ac = cJSON_GetObjectItemCaseSensitive(cmd, "action");
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(ac, "type");
  const cJSON *field = cJSON_GetObjectItemCaseSensitive(ac, "field");
  if (!cJSON_IsString(ty) || !cJSON_IsString(field)) {
    fail(s, "malformed action");
    return -1;
  }
  a->field = field->valuestring;
  wasm_instance *inst = lookup(s, opt_string(ac, "module"));
  if (!inst) return -1;

  if (!strcmp(ty->valuestring, "get")) {
    wasm_extern ext;
    wasm_status st = wasm_instance_export(inst, field->valuestring, &ext);
    if (st || ext.kind != WASM_EXTERN_GLOBAL) {
      fail(s, "%s: no exported global (%s)", what(a), st ? status_str(st) : "not a global");
      return -1;
    }
    if (!(a->res = calloc(1, sizeof *a->res))) {
      fail(s, "out of memory");
      return -1;
    }
    a->nres = 1;
    wasm_global_get(ext.of.global, &a->res[0]);
    a->st = WASM_OK;
    return 0;
  }
  if (strcmp(ty->valuestring, "invoke")) {
    fail(s, "unknown action type \"%s\"", ty->valuestring);
    return -1;
  }

  const cJSON *args = cJSON_GetObjectItemCaseSensitive(ac, "args");
  static const cJSON no_args = {.type = cJSON_Array};
  a->args = cJSON_IsArray(args) ? args : &no_args;
  int nargs = cJSON_IsArray(args) ? cJSON_GetArraySize(args) : 0;
  wasm_value *av = calloc((size_t)nargs + 1, sizeof *av);
  if (!av) {
    fail(s, "out of memory");
    return -1;
  }
  int i = 0;
  const cJSON *arg;
  char why[200];
  cJSON_ArrayForEach(arg, args) {
    spec_val v;
    int bad = spec_val_parse(arg, &v, why, sizeof why);
    if (bad || !v.has_value || v.nonnull) {
      fail(s, "%s: argument %d: %s", what(a), i,
           bad            ? why
           : !v.has_value ? "no value"
                          : "non-null funcref argument unsupported");
      free(av);
      return -1;
    }
    av[i++] = v.v;
  }

  wasm_func *f = wasm_instance_export_func(inst, field->valuestring);
  if (!f) {
    fail(s, "%s: no exported function", what(a));
    free(av);
    return -1;
  }
  if (wasm_func_param_count(f) != (uint32_t)nargs) {
    fail(s, "%s: function takes %" PRIu32 " arguments (%s), script passes %d", what(a),
         wasm_func_param_count(f), wasm_func_signature(f) ? wasm_func_signature(f) : "?", nargs);
    free(av);
    return -1;
  }
  a->nres = wasm_func_result_count(f);
  if (!(a->res = calloc((size_t)a->nres + 1, sizeof *a->res))) {
    fail(s, "out of memory");
    free(av);
    return -1;
  }
  for (uint32_t r = 0; r < a->nres; r++) a->res[r].type = wasm_func_result_type(f, r);
  if (s->o->verbose > 1) fprintf(s->o->out, "  line %" PRIu32 ": call %s\n", s->line, what(a));
  a->st = watched_call(inst, f, av, (uint32_t)nargs, a->res, a->nres, &a->err, &a->interrupted);
  free(av);
  return 0;
}

static void format_results(const act *a, char *buf, size_t n) {
  size_t pos = 0;
  buf[0] = 0;
  for (uint32_t r = 0; r < a->nres && pos < n; r++) {
    char v[300];
    spec_val_format(&a->res[r], SPEC_SHAPE_NONE, v, sizeof v);
    pos += (size_t)snprintf(buf + pos, n - pos, "%s%s", r ? ", " : "", v);
  }
  if (!a->nres) snprintf(buf, n, "no results");
}

/* Trap wordings other engines and older suites use for the same trap. */
static const struct {
  wasm_status st;
  const char *text;
} aliases[] = {
    {WASM_TRAP_UNREACHABLE, "unreachable"},
    {WASM_TRAP_MEM_OOB, "out of bounds memory access"},
    {WASM_TRAP_MEM_OOB, "memory access out of bounds"},
    {WASM_TRAP_DIV_ZERO, "integer divide by zero"},
    {WASM_TRAP_INT_OVERFLOW, "integer overflow"},
    {WASM_TRAP_INVALID_CONVERSION, "invalid conversion to integer"},
    {WASM_TRAP_TABLE_OOB, "out of bounds table access"},
    {WASM_TRAP_UNDEFINED_ELEM, "undefined element"},
    {WASM_TRAP_UNINIT_ELEM, "uninitialized element"},
    {WASM_TRAP_UNINIT_ELEM, "uninitialized"},
    {WASM_TRAP_INDIRECT_TYPE, "indirect call type mismatch"},
    {WASM_TRAP_INDIRECT_TYPE, "indirect call signature mismatch"},
    {WASM_TRAP_STACK_EXHAUSTED, "call stack exhausted"},
    {WASM_TRAP_STACK_EXHAUSTED, "stack overflow"},
};

static int starts_with(const char *s, const char *prefix) {
  return prefix && *prefix && !strncmp(s, prefix, strlen(prefix));
}

/* 1 when trap `st` is what the script's text names: the text starts with
 * wasm_status_str(st); 2 when only a known alias matches; 0 otherwise. */
static int trap_matches(const char *text, wasm_status st) {
  if (!wasm_status_is_trap(st)) return 0;
  if (starts_with(text, wasm_status_str(st))) return 1;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (aliases[i].st == st && starts_with(text, aliases[i].text)) return 2;
  return 0;
}

static const char *cmd_text(const cJSON *cmd) {
  const char *t = opt_string(cmd, "text");
  return t ? t : "";
}

static void cmd_assert_return(script *s, const cJSON *cmd) {
  act a;
  if (run_action(s, cmd, &a)) return;
  char e[700], got[1200];
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(cmd, "expected");
  int nexp = cJSON_IsArray(exp) ? cJSON_GetArraySize(exp) : 0;
  if (a.st) {
    fail(s, "%s: expected results, got %s", what(&a), errtext(a.st, &a.err, e, sizeof e));
  } else if ((uint32_t)nexp != a.nres) {
    format_results(&a, got, sizeof got);
    fail(s, "%s: expected %d results, got %" PRIu32 " (%s)", what(&a), nexp, a.nres, got);
  } else {
    int r = 0, ok = 1;
    const cJSON *ej;
    cJSON_ArrayForEach(ej, exp) {
      spec_val ev;
      char why[200];
      if (spec_val_parse(ej, &ev, why, sizeof why)) {
        fail(s, "%s: expected value %d: %s", what(&a), r, why);
        ok = 0;
        break;
      }
      if (!spec_val_match(&ev, &a.res[r])) {
        spec_exp_format(&ev, e, sizeof e);
        spec_val_format(&a.res[r], ev.v.type == WASM_V128 ? ev.shape : SPEC_SHAPE_NONE, got,
                        sizeof got);
        if (a.nres > 1) fail(s, "%s: result %d: expected %s, got %s", what(&a), r, e, got);
        else fail(s, "%s: expected %s, got %s", what(&a), e, got);
        ok = 0;
        break;
      }
      r++;
    }
    if (ok) pass(s);
  }
  free(a.res);
}

/* assert_trap / assert_exhaustion on an action. */
static void cmd_assert_trap(script *s, const cJSON *cmd) {
  act a;
  if (run_action(s, cmd, &a)) return;
  const char *text = cmd_text(cmd);
  char e[700], got[1200];
  if (a.st == WASM_OK) {
    format_results(&a, got, sizeof got);
    fail(s, "%s: expected trap \"%s\", got %s", what(&a), text, got);
  } else {
    int m = trap_matches(text, a.st);
    if (!m)
      fail(s, "%s: expected trap \"%s\", got %s", what(&a), text,
           errtext(a.st, &a.err, e, sizeof e));
    else {
      if (m == 2)
        note(s, "%s: trap \"%s\" matched through an alias of \"%s\"", what(&a), text,
             status_str(a.st));
      pass(s);
    }
  }
  free(a.res);
}

static void cmd_action(script *s, const cJSON *cmd) {
  act a;
  if (run_action(s, cmd, &a)) return;
  char e[700];
  if (a.st) fail(s, "%s: %s", what(&a), errtext(a.st, &a.err, e, sizeof e));
  else pass(s);
  free(a.res);
}

static int is_text_module(const cJSON *cmd) {
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cmd, "module_type");
  return cJSON_IsString(mt) && !strcmp(mt->valuestring, "text");
}

/* assert_invalid / assert_malformed: the module must not compile. */
static void cmd_assert_bad_module(script *s, const cJSON *cmd, wasm_status want) {
  if (is_text_module(cmd)) {
    skip(s, "text format");
    return;
  }
  char why[600], e[600];
  wasm_error err;
  wasm_module *m = NULL;
  int st = compile_file(s, cmd, &m, &err, why, sizeof why);
  const char *text = cmd_text(cmd);
  if (st < 0) {
    fail(s, "%s", why);
  } else if (st == WASM_OK) {
    wasm_module_free(m);
    fail(s, "expected \"%s\", but the module compiled", text);
  } else if (st != WASM_ERR_MALFORMED && st != WASM_ERR_INVALID) {
    fail(s, "expected \"%s\", got %s", text, errtext((wasm_status)st, &err, e, sizeof e));
  } else {
    if (st != (int)want)
      note(s, "expected %s \"%s\", got %s", status_str(want), text,
           errtext((wasm_status)st, &err, e, sizeof e));
    pass(s);
  }
}

/* assert_unlinkable / assert_uninstantiable / assert_trap on a module: the
 * module compiles but instantiation fails with a link error (want_link) or
 * with a trap matching the text. */
static void cmd_assert_instantiate_fails(script *s, const cJSON *cmd, int want_link) {
  char why[600], e[600];
  wasm_error err;
  wasm_module *m = NULL;
  int st = compile_file(s, cmd, &m, &err, why, sizeof why);
  const char *text = cmd_text(cmd);
  if (st < 0) {
    fail(s, "%s", why);
    return;
  }
  if (st) {
    fail(s, "expected \"%s\" at instantiation, but compile failed: %s", text,
         errtext((wasm_status)st, &err, e, sizeof e));
    return;
  }
  wasm_instance *inst = NULL;
  memset(&err, 0, sizeof err);
  wasm_status ist = wasm_instantiate(m, s->linker, NULL, &inst, &err);
  if (ist) inst = NULL;
  if (keep(s, m, inst)) {
    if (inst) wasm_instance_free(inst);
    wasm_module_free(m);
  }
  if (ist == WASM_OK) {
    fail(s, "expected \"%s\", but instantiation succeeded", text);
  } else if (want_link) {
    if (ist != WASM_ERR_LINK)
      fail(s, "expected link error \"%s\", got %s", text, errtext(ist, &err, e, sizeof e));
    else pass(s);
  } else {
    int mt = trap_matches(text, ist);
    if (!mt)
      fail(s, "expected trap \"%s\" at instantiation, got %s", text,
           errtext(ist, &err, e, sizeof e));
    else {
      if (mt == 2) note(s, "trap \"%s\" matched through an alias of \"%s\"", text, status_str(ist));
      pass(s);
    }
  }
}

/* ---- Script ------------------------------------------------------------ */

static void run_command(script *s, const cJSON *cmd) {
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(cmd, "type");
  const cJSON *line = cJSON_GetObjectItemCaseSensitive(cmd, "line");
  s->line = cJSON_IsNumber(line) && line->valuedouble >= 0 ? (uint32_t)line->valuedouble : 0;
  s->c->line = s->line;
  s->cmd = cJSON_IsString(ty) ? ty->valuestring : "?";
  if (s->o->verbose > 1) {
    fprintf(s->o->out, "  line %" PRIu32 ": %s\n", s->line, s->cmd);
    fflush(s->o->out);
  }
  const char *t = s->cmd;
  if (!strcmp(t, "module")) cmd_module(s, cmd);
  else if (!strcmp(t, "register")) cmd_register(s, cmd);
  else if (!strcmp(t, "action")) cmd_action(s, cmd);
  else if (!strcmp(t, "assert_return")) cmd_assert_return(s, cmd);
  else if (!strcmp(t, "assert_trap") || !strcmp(t, "assert_exhaustion")) {
    if (cJSON_GetObjectItemCaseSensitive(cmd, "action")) cmd_assert_trap(s, cmd);
    else cmd_assert_instantiate_fails(s, cmd, 0);
  } else if (!strcmp(t, "assert_invalid")) cmd_assert_bad_module(s, cmd, WASM_ERR_INVALID);
  else if (!strcmp(t, "assert_malformed")) cmd_assert_bad_module(s, cmd, WASM_ERR_MALFORMED);
  else if (!strcmp(t, "assert_unlinkable")) cmd_assert_instantiate_fails(s, cmd, 1);
  else if (!strcmp(t, "assert_uninstantiable")) cmd_assert_instantiate_fails(s, cmd, 0);
  else fail(s, "unknown command type");
}

static void script_free(script *s) {
  for (size_t i = s->nlive; i-- > 0;) {
    if (s->live[i].inst) wasm_instance_free(s->live[i].inst);
    wasm_module_free(s->live[i].mod);
  }
  free(s->live);
  for (size_t i = 0; i < s->nnames; i++) free(s->names[i].name);
  free(s->names);
  if (s->linker) wasm_linker_free(s->linker);
  for (int i = 0; i < 4; i++)
    if (s->globals[i]) wasm_global_free(s->globals[i]);
  if (s->table) wasm_table_free(s->table);
  if (s->mem) wasm_memory_free(s->mem);
}

/* wasm.h exposes a name containing U+0000 with that character written as the
 * bytes C0 80 (modified UTF-8). cJSON would cut a decoded "\u0000" short, so
 * rewrite each such escape in the raw JSON text in place (the text only
 * shrinks). An escaped backslash before "u0000" is left alone. Returns the new
 * length. */
static size_t encode_nul_escapes(char *text, size_t len) {
  size_t r = 0, w = 0;
  while (r < len) {
    if (text[r] == '\\' && r + 1 < len) {
      if (r + 5 < len && !memcmp(text + r + 1, "u0000", 5)) {
        text[w++] = (char)0xC0;
        text[w++] = (char)0x80;
        r += 6;
        continue;
      }
      text[w++] = text[r++]; /* keep any other escape pair intact */
      text[w++] = text[r++];
      continue;
    }
    text[w++] = text[r++];
  }
  text[w] = 0;
  return w;
}

int spec_run_script(const char *json_path, const char *dir, const spec_opts *o, spec_counts *c) {
  script s = {.o = o, .c = c, .dir = dir, .cmd = "script"};
  char why[600];
  size_t len = 0;
  char *text = (char *)read_all(json_path, &len, why, sizeof why);
  if (!text) {
    c->total = 1;
    fail(&s, "%s", why);
    return -1;
  }
  len = encode_nul_escapes(text, len);
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(root, "commands");
  if (!cJSON_IsArray(cmds)) {
    c->total = 1;
    fail(&s, "%s: not a wast2json script", json_path);
    cJSON_Delete(root);
    return -1;
  }
  c->total = (uint32_t)cJSON_GetArraySize(cmds);
  if (!(s.linker = wasm_linker_new()) || define_spectest(&s, why, sizeof why)) {
    if (!s.linker) snprintf(why, sizeof why, "wasm_linker_new failed");
    fail(&s, "cannot set up the spectest module: %s", why);
    script_free(&s);
    cJSON_Delete(root);
    return 0;
  }
  const cJSON *cmd;
  watchdog_start(o->call_timeout);
  cJSON_ArrayForEach(cmd, cmds) run_command(&s, cmd);
  watchdog_stop();
  script_free(&s);
  cJSON_Delete(root);
  c->done = 1;
  return 0;
}
