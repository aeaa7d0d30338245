/* main.c — the `wagi` command line: validate, inspect and invoke modules.
 *
 * Uses only the public engine API (wasm.h). The section walk in `inspect` is
 * done here on the raw bytes because the API deliberately exposes modules,
 * not their binary layout; it runs only after the engine accepted the module,
 * so it can trust the structure but still checks every bound.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/wat.h"
#include "wasm/wasm.h"
#include "cli.h"

#define WAGI_VERSION "0.1.0"

/* Exit codes: 0 success, 1 error (usage, file, compile, link), 2 trap. */
enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_TRAP = 2 };

static const char *prog = "wagi";

/* The letters of a function signature as `inspect` prints it (wasm.h's
 * wasm_func_signature): parameters, "->", results. */
#define SIG_LETTERS                                                                                \
  "signatures are PARAMS->RESULTS, one letter per value: i i32, I i64, f f32,\n"                   \
  "F f64, v v128, r funcref, e externref (\"iIii->i\": i32, i64, i32, i32 in,\n"                   \
  "one i32 out; \"->\": none in, none out)\n"

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  validate MODULE.wasm            decode and validate; prints \"ok\" or the error\n"
          "                                  (MODULE may be WAT text, here and below)\n"
          "  inspect MODULE.wasm             imports, exports (with signatures such as\n"
          "                                  iIii->i), sections, limits\n"
          "  invoke MODULE.wasm FUNC [ARG...]\n"
          "                                  instantiate an import-free module and call the\n"
          "                                  export FUNC; ARGs are parsed by its signature\n"
          "                                  (integers in decimal or 0x hex, floats as\n"
          "                                  decimal, inf, nan); prints the results\n"
          "  run [--dir HOST[::GUEST]] [--env NAME=VALUE] [--max-memory SIZE]\n"
          "      [--allow-host URL]... MODULE.wasm [ARG...]\n"
          "                                  run a WASI command module (see run --help);\n"
          "                                  exits with its exit code, 134 on a trap\n"
          "  eventgrid -c TOPIC.toml [--listen IP:PORT]\n"
          "                                  a local, durable Event Grid topic (see\n"
          "                                  eventgrid --help)\n"
          "  --help                          this text; COMMAND --help: one command's usage\n"
          "  --version                       version\n"
          "\n" SIG_LETTERS
          "\n"
          "exit status: 0 success, 1 error (usage, file, invalid module, link),\n"
          "2 trap in invoke (run: the module's exit code, 134 on a trap)\n",
          prog);
}

static void validate_usage(FILE *out) {
  fprintf(out,
          "usage: %s validate MODULE.wasm\n"
          "\n"
          "Decodes and validates a module (WebAssembly 2.0 binary, or WAT text that\n"
          "wat2wasm converts) and prints \"ok\", or\n"
          "the first error with where it is (function, byte offset). Exit status 0\n"
          "when valid, 1 otherwise (also for a missing or unreadable file).\n",
          prog);
}

static void inspect_usage(FILE *out) {
  fprintf(out,
          "usage: %s inspect MODULE.wasm\n"
          "\n"
          "Prints the module's sections (offset, size; custom sections by name),\n"
          "imports and exports with their types, the function count, and the\n"
          "limits of its tables (elements) and memories (64 KiB pages, MIN..MAX).\n"
          "\n" SIG_LETTERS,
          prog);
}

static void invoke_usage(FILE *out) {
  fprintf(out,
          "usage: %s invoke MODULE.wasm FUNC [ARG...]\n"
          "\n"
          "Instantiates a module without imports, calls its exported function FUNC\n"
          "with one ARG per parameter, and prints the results on one line.\n"
          "ARGs are parsed by the parameter types (see `wagi inspect`): integers in\n"
          "decimal (signed or unsigned) or 0x hex, floats as decimal, inf or nan.\n"
          "Exit status: 0 success, 1 error (usage, file, invalid module, imports,\n"
          "bad argument), 2 trap (its message is printed).\n"
          "\n" SIG_LETTERS,
          prog);
}

/* `wagi COMMAND ... --help`: any argument -h/--help asks for the usage
 * (no module, function name or value can be spelt so). */
static int wants_help(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

static const char *err_text(const wasm_error *err, wasm_status s) {
  return err->msg[0] ? err->msg : wasm_status_str(s);
}

/* Loads (binary, or WAT text through wat2wasm, as the server does) and
 * compiles a module; prints the error and returns NULL on failure. On
 * success *bytes_out keeps the binary for callers that walk it, and
 * *was_wat says whether it came from WAT text. */
static wasm_module *load_module(const char *path, uint8_t **bytes_out, size_t *len_out,
                                bool *was_wat) {
  size_t len = 0;
  uint8_t *bytes = NULL;
  char lerr[2048];
  if (base_load_module_file(path, WASM_MODULE_MAX_BYTES, 0, &bytes, &len, was_wat, lerr,
                            sizeof lerr) != BASE_WAT_OK) {
    fprintf(stderr, "%s: %s\n", prog, lerr);
    return NULL;
  }
  wasm_module *m = NULL;
  wasm_error err = {0};
  bool native = wasm_is_native(bytes, len);
  if (native && bytes_out) {
    fprintf(stderr, "%s: %s is native code (.wasmc): give its .wasm\n", prog, path);
    free(bytes);
    return NULL;
  }
  wasm_status s = native ? wasm_module_load_native(bytes, len, &m, &err)
                         : wasm_module_compile(bytes, len, &m, &err);
  if (s != WASM_OK) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, err_text(&err, s));
    free(bytes);
    return NULL;
  }
  if (bytes_out) {
    *bytes_out = bytes;
    *len_out = len;
  } else {
    free(bytes);
  }
  return m;
}

/* ---- validate ------------------------------------------------------------ */

static int cmd_validate(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    validate_usage(stdout);
    return EXIT_OK;
  }
  if (argc != 1) {
    fprintf(stderr, "%s: usage: %s validate MODULE.wasm\n", prog, prog);
    return EXIT_ERR;
  }
  wasm_module *m = load_module(argv[0], NULL, NULL, NULL);
  if (!m) return EXIT_ERR;
  wasm_module_free(m);
  puts("ok");
  return EXIT_OK;
}

/* ---- inspect ------------------------------------------------------------- */

static const char *section_name(uint8_t id) {
  static const char *names[] = {"custom", "type",   "import",   "function", "table",
                                "memory", "global", "export",   "start",    "element",
                                "code",   "data",   "datacount"};
  return id < sizeof names / sizeof names[0] ? names[id] : "unknown";
}

static const char *kind_name(wasm_extern_kind k) {
  switch (k) {
  case WASM_EXTERN_FUNC: return "func";
  case WASM_EXTERN_TABLE: return "table";
  case WASM_EXTERN_MEMORY: return "memory";
  case WASM_EXTERN_GLOBAL: return "global";
  }
  return "?";
}

/* Appends "min..max" (or "min.." without a maximum) to buf. */
static void limits_text(const wasm_limits *l, char *buf, size_t n) {
  size_t len = strlen(buf);
  if (l->has_max) snprintf(buf + len, n - len, "%" PRIu32 "..%" PRIu32, l->min, l->max);
  else snprintf(buf + len, n - len, "%" PRIu32 "..", l->min);
}

/* The defined (not imported) tables (id 4) or memories (id 5): "  a, b"
 * on the section's line and "\n  defined: a" per entry appended to list. */
static void print_defined(const wasm_module *m, uint8_t id, char *list, size_t listlen) {
  uint32_t n = id == 4 ? wasm_module_table_count(m) : wasm_module_memory_count(m), first = 0;
  for (uint32_t i = 0; i < wasm_module_import_count(m); i++) {
    wasm_import_desc d;
    wasm_module_import(m, i, &d);
    if (d.kind == (id == 4 ? WASM_EXTERN_TABLE : WASM_EXTERN_MEMORY)) first++;
  }
  for (uint32_t i = first; i < n; i++) {
    char text[96] = "";
    wasm_limits l;
    if (id == 4) {
      wasm_valtype t;
      wasm_module_table_type(m, i, &t, &l);
      strcpy(text, t == WASM_FUNCREF ? "funcref " : t == WASM_EXTERNREF ? "externref " : "? ");
    } else {
      wasm_module_memory_limits(m, i, &l);
      strcpy(text, "pages ");
    }
    limits_text(&l, text, sizeof text);
    printf("%s%s", i > first ? ", " : "  ", text);
    size_t used = strlen(list);
    snprintf(list + used, listlen - used, "\n  defined: %s", text);
  }
}

static void print_printable(const uint8_t *s, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) putchar(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
}

static int cmd_inspect(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    inspect_usage(stdout);
    return EXIT_OK;
  }
  if (argc != 1) {
    fprintf(stderr, "%s: usage: %s inspect MODULE.wasm\n", prog, prog);
    return EXIT_ERR;
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  bool wat = false;
  wasm_module *m = load_module(argv[0], &bytes, &len, &wat);
  if (!m) return EXIT_ERR;

  if (wat) printf("module: %s (WAT text, %zu bytes of wasm from wat2wasm)\n", argv[0], len);
  else printf("module: %s (%zu bytes)\n", argv[0], len);

  uint64_t nfunc_imported = 0;
  char tables[2048] = "", memories[2048] = ""; /* limits, for the summary */
  printf("sections:\n");
  for (uint32_t i = 0; i < wasm_module_section_count(m); i++) {
    wasm_section_desc s;
    wasm_module_section(m, i, &s);
    printf("  %-9s at 0x%06" PRIx32 "  %8" PRIu32 " bytes", section_name(s.id), s.offset, s.size);
    if (s.id == 0) {
      printf("  \"");
      print_printable(s.name, s.name_len);
      printf("\"");
    } else if (s.id == 4 || s.id == 5) {
      print_defined(m, s.id, s.id == 4 ? tables : memories, sizeof tables);
    }
    printf("\n");
  }

  uint32_t nimports = wasm_module_import_count(m);
  printf("imports: %" PRIu32 "\n", nimports);
  for (uint32_t i = 0; i < nimports; i++) {
    wasm_import_desc d;
    wasm_module_import(m, i, &d);
    if (d.kind == WASM_EXTERN_FUNC) nfunc_imported++;
    if (d.kind == WASM_EXTERN_TABLE || d.kind == WASM_EXTERN_MEMORY) {
      char *list = d.kind == WASM_EXTERN_TABLE ? tables : memories;
      size_t used = strlen(list);
      snprintf(list + used, sizeof tables - used, "\n  imported %s.%s: %s", d.module, d.name,
               d.type ? d.type : "");
    }
    printf("  %-6s %s.%s  %s\n", kind_name(d.kind), d.module, d.name, d.type ? d.type : "");
  }
  uint32_t nexports = wasm_module_export_count(m);
  printf("exports: %" PRIu32 "\n", nexports);
  for (uint32_t i = 0; i < nexports; i++) {
    wasm_export_desc d;
    wasm_module_export(m, i, &d);
    printf("  %-6s %-24s index %-5" PRIu32 " %s", kind_name(d.kind), d.name, d.index,
           d.type ? d.type : "");
    if (d.kind == WASM_EXTERN_FUNC) {
      const char *fname = wasm_module_func_name(m, d.index);
      if (fname) printf("  ($%s)", fname);
    }
    printf("\n");
  }
  uint64_t nfunc_defined = wasm_module_func_count(m) - nfunc_imported;
  printf("functions: %" PRIu64 " (%" PRIu64 " imported, %" PRIu64 " defined)\n",
         nfunc_imported + nfunc_defined, nfunc_imported, nfunc_defined);
  printf("tables:%s\n", tables[0] ? tables : " none");
  printf("memories:%s\n", memories[0] ? memories : " none");
  if (nfunc_imported + nfunc_defined)
    printf(
        "signatures: PARAMS->RESULTS; i i32, I i64, f f32, F f64, v v128, r funcref, "
        "e externref\n");

  wasm_module_free(m);
  free(bytes);
  return EXIT_OK;
}

/* ---- invoke -------------------------------------------------------------- */

/* Parses one argument as `type`. Integers accept signed decimal, unsigned
 * decimal up to the type's width, and 0x hex (bit patterns). */
static int parse_arg(const char *s, wasm_valtype type, wasm_value *out) {
  char *end = NULL;
  errno = 0;
  out->type = type;
  switch (type) {
  case WASM_I32:
  case WASM_I64: {
    int64_t v;
    if (s[0] == '-') {
      long long x = strtoll(s, &end, 0);
      v = (int64_t)x;
      if (type == WASM_I32 && (x < INT32_MIN)) errno = ERANGE;
    } else {
      unsigned long long x = strtoull(s, &end, 0);
      v = (int64_t)x;
      if (type == WASM_I32 && x > UINT32_MAX) errno = ERANGE;
    }
    if (end == s || *end || errno) return 0;
    if (type == WASM_I32) out->of.i32 = (int32_t)(uint32_t)v;
    else out->of.i64 = v;
    return 1;
  }
  case WASM_F32: {
    float f = strtof(s, &end);
    if (end == s || *end) return 0;
    memcpy(&out->of.f32_bits, &f, 4);
    return 1;
  }
  case WASM_F64: {
    double d = strtod(s, &end);
    if (end == s || *end) return 0;
    memcpy(&out->of.f64_bits, &d, 8);
    return 1;
  }
  default: return 0;
  }
}

static void print_value(const wasm_value *v) {
  switch (v->type) {
  case WASM_I32: printf("%" PRId32, v->of.i32); break;
  case WASM_I64: printf("%" PRId64, v->of.i64); break;
  case WASM_F32: {
    float f;
    memcpy(&f, &v->of.f32_bits, 4);
    if (isnan(f)) printf("nan:0x%08" PRIx32, v->of.f32_bits);
    else printf("%.9g", (double)f);
    break;
  }
  case WASM_F64: {
    double d;
    memcpy(&d, &v->of.f64_bits, 8);
    if (isnan(d)) printf("nan:0x%016" PRIx64, v->of.f64_bits);
    else printf("%.17g", d);
    break;
  }
  case WASM_V128:
    printf("v128:0x");
    for (int i = 15; i >= 0; i--) printf("%02x", v->of.v128[i]);
    break;
  case WASM_FUNCREF:
  case WASM_EXTERNREF:
    if (v->of.ref) printf("%s:%p", wasm_valtype_str(v->type), v->of.ref);
    else printf("%s:null", wasm_valtype_str(v->type));
    break;
  default: printf("?"); break;
  }
}

static int cmd_invoke(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    invoke_usage(stdout);
    return EXIT_OK;
  }
  if (argc < 2) {
    fprintf(stderr, "%s: usage: %s invoke MODULE.wasm FUNC [ARG...]\n", prog, prog);
    return EXIT_ERR;
  }
  const char *path = argv[0], *fname = argv[1];
  wasm_module *m = load_module(path, NULL, NULL, NULL);
  if (!m) return EXIT_ERR;

  int rc = EXIT_ERR;
  wasm_instance *inst = NULL;
  wasm_value *args = NULL, *results = NULL;
  wasm_error err = {0};

  uint32_t nimports = wasm_module_import_count(m);
  if (nimports > 0) {
    wasm_import_desc d;
    wasm_module_import(m, 0, &d);
    fprintf(stderr,
            "%s: %s: the module has %" PRIu32
            " import(s) (first: %s %s.%s); "
            "invoke runs import-free modules only\n",
            prog, path, nimports, kind_name(d.kind), d.module, d.name);
    goto out;
  }
  wasm_status s = wasm_instantiate(m, NULL, NULL, &inst, &err);
  if (s != WASM_OK) {
    fprintf(stderr, "%s: %s: %s: %s\n", prog, path,
            wasm_status_is_trap(s) ? "trap during instantiation" : "instantiation failed",
            err_text(&err, s));
    rc = wasm_status_is_trap(s) ? EXIT_TRAP : EXIT_ERR;
    goto out;
  }
  wasm_func *f = wasm_instance_export_func(inst, fname);
  if (!f) {
    fprintf(stderr, "%s: %s: no exported function \"%s\"\n", prog, path, fname);
    goto out;
  }
  uint32_t np = wasm_func_param_count(f), nr = wasm_func_result_count(f);
  if ((uint32_t)(argc - 2) != np) {
    fprintf(stderr, "%s: %s has signature %s: expected %" PRIu32 " argument(s), got %d\n", prog,
            fname, wasm_func_signature(f), np, argc - 2);
    goto out;
  }
  args = calloc(np ? np : 1, sizeof *args);
  results = calloc(nr ? nr : 1, sizeof *results);
  if (!args || !results) {
    fprintf(stderr, "%s: out of memory\n", prog);
    goto out;
  }
  for (uint32_t i = 0; i < np; i++) {
    wasm_valtype t = wasm_func_param_type(f, i);
    if (!parse_arg(argv[2 + i], t, &args[i])) {
      fprintf(stderr, "%s: argument %" PRIu32 " \"%s\" is not a valid %s\n", prog, i + 1,
              argv[2 + i], wasm_valtype_str(t));
      goto out;
    }
  }
  s = wasm_func_call(f, args, np, results, nr, &err);
  if (s != WASM_OK) {
    if (wasm_status_is_trap(s)) {
      /* The engine's message already reads "trap: ..." with function and
       * offset; fall back to the status text alone. */
      if (err.msg[0]) fprintf(stderr, "%s: %s\n", prog, err.msg);
      else fprintf(stderr, "%s: trap: %s\n", prog, wasm_status_str(s));
      rc = EXIT_TRAP;
    } else {
      fprintf(stderr, "%s: call failed: %s\n", prog, err_text(&err, s));
    }
    goto out;
  }
  for (uint32_t i = 0; i < nr; i++) {
    if (i) putchar(' ');
    print_value(&results[i]);
  }
  putchar('\n');
  rc = EXIT_OK;
out:
  free(args);
  free(results);
  if (inst) wasm_instance_free(inst);
  wasm_module_free(m);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_ERR;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    fputc('\n', stdout);
    wagi_cmd_server_usage(stdout);
    return EXIT_OK;
  }
  if (wagi_cmd_is_server_arg(cmd)) return wagi_cmd_server(argc, argv);
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
    printf("wagi %s (WebAssembly 2.0 interpreter)\n", WAGI_VERSION);
    return EXIT_OK;
  }
  if (!strcmp(cmd, "validate")) return cmd_validate(argc - 2, argv + 2);
  if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 2, argv + 2);
  if (!strcmp(cmd, "invoke")) return cmd_invoke(argc - 2, argv + 2);
  if (!strcmp(cmd, "run")) return wagi_cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "eventgrid")) return wagi_cmd_eventgrid(argc - 2, argv + 2);
  if (!strcmp(cmd, "compile")) return wagi_cmd_compile(argc - 2, argv + 2);
  fprintf(stderr, "%s: unknown command \"%s\" (try %s --help)\n", prog, cmd, prog);
  return EXIT_ERR;
}
