/* run.c — `wagi run`: run a WASI command module like `wasmtime run`.
 *
 *   wagi run [--dir HOST[::GUEST]]... [--env NAME=VALUE]...
 *            [--max-memory SIZE] MODULE.wasm [ARGS...]
 *
 * The module gets the process's stdin/stdout/stderr, argv = the module's
 * file name (basename, as wasmtime gives) followed by ARGS, an environment
 * made only of the --env pairs (nothing inherited: the host's environment
 * may hold secrets) and one preopened directory per --dir.
 *
 * Outbound HTTP (wasi_experimental_http, for a module that imports it) is
 * denied by default as in the server; each --allow-host adds one entry of
 * modules.toml's allowed_hosts syntax, matched the same way.
 *
 * Exit status: the module's proc_exit code (0..125 pass through; others
 * are reported and give 1), 0 when _start returns, 1 for any error before
 * the module ran (usage, unreadable or invalid module, link error naming
 * the missing import, bad preopen), 134 for a trap (what wasmtime and a
 * SIGABRT'd native program give, so `abort()` in a guest looks the same as
 * in a native build).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/wat.h"
#include "wasm/wasm.h"
#include "wasi/wasi.h"
#include "http/http.h"
#include "server/server.h"
#include "cli.h"

enum { RUN_OK = 0, RUN_ERR = 1, RUN_TRAP = 134 };

static void run_usage(FILE *out) {
  fprintf(out,
          "usage: wagi run [OPTIONS] MODULE.wasm|MODULE.wasmc [ARGS...]\n"
          "\n"
          "Run a WASI command module (its _start export) with this process's\n"
          "stdin/stdout/stderr. argv[0] is the module's file name, then ARGS.\n"
          "\n"
          "options:\n"
          "  --dir HOST[::GUEST]   preopen directory HOST, seen by the module as\n"
          "                        GUEST (default: HOST as written); repeatable\n"
          "  --env NAME=VALUE      set an environment variable (none is inherited);\n"
          "                        repeatable\n"
          "  --allow-host URL      let the module send HTTP requests to URL's scheme,\n"
          "                        host and port (as allowed_hosts in modules.toml:\n"
          "                        https://api.example.com, http://localhost:8080,\n"
          "                        insecure:allow-all); repeatable; none: all denied\n"
          "  --max-memory SIZE     cap linear memory at SIZE (bytes, or a number with\n"
          "                        K, M, G; 64K to 4G, as the server's flag)\n"
          "  --tier interp|aot|auto  interp: the interpreter; aot: compile the module\n"
          "                        to native code first (as wagi compile does) unless\n"
          "                        $WAGI_MODULE_CACHE has it; auto (default): a .wasmc\n"
          "                        runs natively, a .wasm natively if $WAGI_MODULE_CACHE\n"
          "                        has its code, else on the interpreter\n"
          "  --                    end of options\n"
          "\n"
          "exit status: the module's exit code (proc_exit, 0..125) or 0 when\n"
          "_start returns; 1 on an error before the module ran; 134 on a trap\n"
          "\n"
          "environment: WAGI_MODULE_CACHE=DIR keeps native code by module digest,\n"
          "engine ABI and compiler (a private directory: created 0700, refused when\n"
          "others can write to it); CC names the C compiler (default cc)\n");
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s && s[1] ? s + 1 : path;
}

/* Option value: "--opt VALUE" or "--opt=VALUE". Returns NULL if `arg` is not
 * this option; sets *missing when the value is absent. */
static const char *opt_value(const char *opt, int argc, char **argv, int *i, int *missing) {
  size_t n = strlen(opt);
  const char *a = argv[*i];
  if (strncmp(a, opt, n) != 0) return NULL;
  if (a[n] == '=') return a + n + 1;
  if (a[n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *missing = 1;
    return NULL;
  }
  return argv[++*i];
}

/* What the host functions find in the instance's user data. */
typedef struct {
  wasi_ctx *wasi;
  http_ctx *http;
} run_guest;

static wasi_ctx *guest_wasi(wasm_instance *caller, void *arg) {
  (void)arg;
  run_guest *g = caller ? wasm_instance_user_data(caller) : NULL;
  return g ? g->wasi : NULL;
}

static http_ctx *guest_http(wasm_instance *caller, void *arg) {
  (void)arg;
  run_guest *g = caller ? wasm_instance_user_data(caller) : NULL;
  return g ? g->http : NULL;
}

/* Denied outbound requests are almost always a missing --allow-host. */
static void http_denied(void *arg, const char *module_name, const char *url) {
  (void)arg;
  (void)module_name;
  size_t ul = strcspn(url, "?#");
  fprintf(stderr, "wagi: outbound request to %.*s%s denied: not allowed by any --allow-host\n",
          (int)(ul > 200 ? 200 : ul), url,
          ul > 200  ? "..."
          : url[ul] ? "?..."
                    : "");
}

static void http_debug_line(const char *line) { fprintf(stderr, "wagi: http: %s\n", line); }

/* Whether the module imports wasi_experimental_http (only then is libcurl
 * set up). */
static bool imports_http(const wasm_module *m) {
  for (uint32_t i = 0, n = wasm_module_import_count(m); i < n; i++) {
    wasm_import_desc d;
    wasm_module_import(m, i, &d);
    if (strcmp(d.module, "wasi_experimental_http") == 0) return true;
  }
  return false;
}

/* Prints a trap; the engine's message may already start with "trap: ". */
static void print_trap(const wasm_error *err, wasm_status s) {
  const char *m = err->msg[0] ? err->msg : wasm_status_str(s);
  if (!strncmp(m, "trap: ", 6)) m += 6;
  fprintf(stderr, "wagi: trap: %s\n", m);
}

int wagi_cmd_run(int argc, char **argv) {
  int rc = RUN_ERR;
  wasi_preopen *pre = calloc((size_t)argc + 1, sizeof *pre);
  const char **env = calloc((size_t)argc + 1, sizeof *env);
  char **dirs_owned = calloc((size_t)argc + 1, sizeof *dirs_owned);
  const char **gargv = NULL;
  size_t npre = 0, nenv = 0, nowned = 0;
  uint32_t max_pages = 0;
  wagi_tier tier = WAGI_TIER_AUTO;
  uint8_t *bytes = NULL;
  wasm_module *mod = NULL;
  wasm_linker *linker = NULL;
  wasi_ctx *ctx = NULL;
  wasm_instance *inst = NULL;
  srv_allow_list *allow = NULL;
  http_ctx *hctx = NULL;
  bool http_inited = false;
  run_guest guest = {0};
  if (!pre || !env || !dirs_owned) {
    fprintf(stderr, "wagi: out of memory\n");
    goto out;
  }

  int i = 0;
  for (; i < argc; i++) {
    const char *a = argv[i], *v;
    int missing = 0;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      run_usage(stdout);
      rc = RUN_OK;
      goto out;
    }
    if ((v = opt_value("--dir", argc, argv, &i, &missing))) {
      const char *sep = strstr(v, "::");
      if (!*v || (sep && (sep == v || !sep[2]))) {
        fprintf(stderr, "wagi: run: bad --dir \"%s\" (expected HOST or HOST::GUEST)\n", v);
        goto out;
      }
      if (sep) {
        char *host = strndup(v, (size_t)(sep - v));
        if (!host) {
          fprintf(stderr, "wagi: out of memory\n");
          goto out;
        }
        dirs_owned[nowned++] = host;
        pre[npre].host_path = host;
        pre[npre].guest_path = sep + 2;
      } else {
        pre[npre].host_path = v;
        pre[npre].guest_path = v;
      }
      npre++;
    } else if ((v = opt_value("--env", argc, argv, &i, &missing))) {
      const char *eq = strchr(v, '=');
      if (!eq || eq == v) {
        fprintf(stderr, "wagi: run: bad --env \"%s\" (expected NAME=VALUE)\n", v);
        goto out;
      }
      env[nenv++] = v;
    } else if ((v = opt_value("--allow-host", argc, argv, &i, &missing))) {
      char herr[512];
      if (!allow && !(allow = srv_allow_list_new())) {
        fprintf(stderr, "wagi: out of memory\n");
        goto out;
      }
      if (srv_allow_list_add(allow, v, herr, sizeof herr) != SRV_OK) {
        fprintf(stderr, "wagi: run: bad --allow-host \"%s\": %s\n", v, herr);
        goto out;
      }
      if (!strcmp(v, "insecure:allow-all"))
        fprintf(stderr,
                "wagi: warning: --allow-host insecure:allow-all: the module may send "
                "HTTP requests to ANY host, including internal services\n");
    } else if ((v = opt_value("--tier", argc, argv, &i, &missing))) {
      if (!strcmp(v, "interp")) tier = WAGI_TIER_INTERP;
      else if (!strcmp(v, "aot")) tier = WAGI_TIER_AOT;
      else if (!strcmp(v, "auto")) tier = WAGI_TIER_AUTO;
      else {
        fprintf(stderr, "wagi: run: --tier must be interp, aot or auto, not \"%s\"\n", v);
        goto out;
      }
    } else if ((v = opt_value("--max-memory", argc, argv, &i, &missing))) {
      char merr[256];
      if (wagi_cmd_parse_memory("--max-memory", v, true, &max_pages, merr, sizeof merr) != 0) {
        fprintf(stderr, "wagi: run: %s\n", merr);
        goto out;
      }
    } else if (missing) {
      fprintf(stderr, "wagi: run: %s needs a value\n", a);
      goto out;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "wagi: run: unknown option \"%s\" (try wagi run --help)\n", a);
      goto out;
    } else {
      break;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "wagi: run: missing MODULE.wasm (try wagi run --help)\n");
    goto out;
  }
  const char *path = argv[i];
  int gargc = argc - i;
  gargv = calloc((size_t)gargc, sizeof *gargv);
  if (!gargv) {
    fprintf(stderr, "wagi: out of memory\n");
    goto out;
  }
  gargv[0] = base_name(path);
  for (int k = 1; k < gargc; k++) gargv[k] = argv[i + k];

  if (wagi_cmd_load_module(path, tier, &mod) != 0) goto out;
  wasm_status s;
  wasm_error err;

  linker = wasm_linker_new();
  if (!linker || (s = wasi_define(linker, guest_wasi, NULL)) != WASM_OK) {
    fprintf(stderr, "wagi: cannot set up WASI: %s\n",
            linker ? wasm_status_str(s) : "out of memory");
    goto out;
  }
  if (imports_http(mod)) {
    char herr[512];
    if (http_global_init_from_env(http_debug_line, herr, sizeof herr) != HTTP_OK) {
      fprintf(stderr, "wagi: cannot set up outbound HTTP: %s\n", herr);
      goto out;
    }
    http_inited = true;
    http_config hc = {0};
    hc.allow = allow ? srv_allow_list_allows : NULL;
    hc.allow_arg = allow;
    hc.denied = http_denied;
    hc.module_name = gargv[0];
    if ((s = http_define(linker, guest_http, NULL)) != WASM_OK ||
        http_ctx_new(&hc, &hctx) != HTTP_OK) {
      fprintf(stderr, "wagi: cannot set up outbound HTTP: %s\n",
              s != WASM_OK ? wasm_status_str(s) : "out of memory");
      goto out;
    }
  }

  wasi_config cfg = {0};
  cfg.argv = gargv;
  cfg.argc = (size_t)gargc;
  cfg.env = env;
  cfg.envc = nenv;
  cfg.stdin_kind = cfg.stdout_kind = cfg.stderr_kind = WASI_STDIO_FD;
  cfg.stdin_fd = 0;
  cfg.stdout_fd = 1;
  cfg.stderr_fd = 2;
  cfg.preopens = pre;
  cfg.npreopens = npre;
  char eb[512] = "";
  if (wasi_ctx_new(&cfg, &ctx, eb, sizeof eb) != WASI_OK) {
    fprintf(stderr, "wagi: %s\n", eb[0] ? eb : "cannot create the WASI context");
    goto out;
  }

  guest.wasi = ctx;
  guest.http = hctx;
  wasm_instance_opts opts = {.max_memory_pages = max_pages, .user_data = &guest};
  memset(&err, 0, sizeof err);
  s = wasm_instantiate(mod, linker, &opts, &inst, &err);
  if (s == WASM_TRAP_EXIT) {
    /* proc_exit from a start function. */
    rc = err.exit_code;
    goto exit_code;
  }
  if (s != WASM_OK) {
    if (wasm_status_is_trap(s)) {
      print_trap(&err, s);
      rc = RUN_TRAP;
    } else {
      fprintf(stderr, "wagi: %s: %s\n", path, err.msg[0] ? err.msg : wasm_status_str(s));
    }
    goto out;
  }
  if (!wasm_instance_export_func(inst, "_start")) {
    fprintf(stderr, "wagi: %s: no exported function \"_start\" (not a WASI command module)\n",
            path);
    goto out;
  }
  int code = 0;
  memset(&err, 0, sizeof err);
  s = wasi_run_start(inst, &code, &err);
  if (s != WASM_OK) {
    if (wasm_status_is_trap(s)) {
      print_trap(&err, s);
      rc = RUN_TRAP;
    } else {
      fprintf(stderr, "wagi: %s: %s\n", path, err.msg[0] ? err.msg : wasm_status_str(s));
    }
    goto out;
  }
  rc = code;
exit_code:
  /* As wasmtime: only 0..125 pass through, so that a guest cannot pose as a
   * trap (134) or a signal death (128+n). */
  if (rc < 0 || rc > 125) {
    fprintf(stderr, "wagi: exit code %d is outside 0..125; exiting with 1\n", rc);
    rc = RUN_ERR;
  }
out:
  if (inst) wasm_instance_free(inst);
  http_ctx_free(hctx);
  if (http_inited) http_global_cleanup();
  srv_allow_list_free(allow);
  wasi_ctx_free(ctx);
  if (linker) wasm_linker_free(linker);
  if (mod) wasm_module_free(mod);
  free(bytes);
  for (size_t k = 0; k < nowned; k++) free(dirs_owned[k]);
  free(dirs_owned);
  free(pre);
  free(env);
  free(gargv);
  fflush(stdout);
  return rc;
}
