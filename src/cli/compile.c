/* compile.c — `wagi compile MODULE.wasm [-o MODULE.wasmc] [--cc CC]
 * [--cflags FLAGS]`, and the module loader `wagi run` shares with it: a
 * .wasm (or WAT) runs on the interpreter, a .wasmc natively; --tier picks. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/wat.h"
#include "cli.h"
#include "wasm/wasm.h"

void wagi_cmd_compile_usage(FILE *out) {
  fprintf(out,
          "usage: wagi compile MODULE.wasm [-o MODULE.wasmc] [--cc CC] [--cflags FLAGS]\n"
          "                    [--cpu LEVEL] [--strict-loads]\n"
          "\n"
          "Translates the module to C and compiles it with the system C compiler\n"
          "(CC -O3 -fPIC -shared; gcc by default, clang-16 works too) into a .wasmc file\n"
          "that `wagi run` and the server run natively. The .wasmc records the module's\n"
          "SHA-256, the engine's native-code ABI, the compiler and the target; a stale,\n"
          "foreign, truncated or modified one is refused when loaded.\n"
          "\n"
          "A .wasmc is native code: trust it as you would any executable.\n"
          "\n"
          "options:\n"
          "  -o FILE          output (default: MODULE with .wasmc instead of .wasm/.wat)\n"
          "  --cc CC          the C compiler (default: cc, or $CC)\n"
          "  --cflags FLAGS   extra compiler flags, space-separated (a -march here is\n"
          "                   yours to match with --cpu: the .wasmc records --cpu's level)\n"
          "  --cpu LEVEL      the x86-64 level to build for: host (default: the best this\n"
          "                   machine has), x86-64-v3, x86-64-v2, or x86-64 for any x86-64\n"
          "                   CPU; a .wasmc is refused on a CPU below its level\n"
          "  --strict-loads   make every load happen even when nothing uses its value, so\n"
          "                   that an out-of-bounds one traps as on the interpreter\n"
          "                   (by default the C compiler may drop such a load; slower)\n");
}

static char *default_output(const char *in) {
  size_t n = strlen(in);
  char *out = malloc(n + 8);
  if (!out) return NULL;
  memcpy(out, in, n + 1);
  if (n > 5 && (!strcmp(in + n - 5, ".wasm"))) out[n - 5] = 0;
  else if (n > 4 && !strcmp(in + n - 4, ".wat")) out[n - 4] = 0;
  strcat(out, ".wasmc");
  return out;
}

int wagi_cmd_check_cache_dir(const char *dir, char *err, size_t errlen) {
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT || mkdir(dir, 0700) != 0) {
      snprintf(err, errlen, "%s: cannot create the cache directory: %s", dir, strerror(errno));
      return -1;
    }
    return 0;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s is not a directory", dir);
    return -1;
  }
  /* it holds native code that will be run: nobody else may write there */
  if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    snprintf(err, errlen,
             "%s is writable by others or not owned by this user: refused (native code is "
             "loaded from it; chmod 700 it)",
             dir);
    return -1;
  }
  return 0;
}

int wagi_cmd_load_module(const char *path, wagi_tier tier, wasm_module **out) {
  size_t len = 0;
  uint8_t *bytes = NULL;
  char lerr[2048];
  if (base_load_module_file(path, WASM_MODULE_MAX_BYTES, 0, &bytes, &len, NULL, lerr,
                            sizeof lerr) != BASE_WAT_OK) {
    fprintf(stderr, "wagi: %s\n", lerr);
    return -1;
  }
  wasm_error err = {0};
  wasm_status s;
  wasm_module *m = NULL;
  if (wasm_is_native(bytes, len)) {
    if (tier == WAGI_TIER_INTERP) {
      fprintf(stderr, "wagi: %s is native code (.wasmc); run its .wasm for the interpreter\n",
              path);
      free(bytes);
      return -1;
    }
    s = wasm_module_load_native(bytes, len, &m, &err);
  } else {
    s = wasm_module_compile(bytes, len, &m, &err);
    const char *cache_env = getenv("WAGI_MODULE_CACHE");
    if (s == WASM_OK && tier == WAGI_TIER_AUTO && cache_env && *cache_env) {
      /* auto: native code if the cache has it already, else the interpreter */
      wasm_native_options o = {.cc = getenv("CC")};
      char name[300], cerr[300], p[4200];
      size_t nlen = 0;
      uint8_t *native = NULL;
      wasm_module *nm = NULL;
      wasm_error e2 = {0};
      if (wagi_cmd_check_cache_dir(cache_env, cerr, sizeof cerr) == 0 &&
          wasm_native_cache_name(m, &o, name, sizeof name, cerr, sizeof cerr) == 0 &&
          snprintf(p, sizeof p, "%s/%s", cache_env, name) > 0 && access(p, R_OK) == 0 &&
          base_read_file(p, (size_t)1 << 31, 0, &native, &nlen, lerr, sizeof lerr) ==
              BASE_FILE_OK &&
          wasm_module_load_native(native, nlen, &nm, &e2) == WASM_OK) {
        wasm_module_free(m);
        m = nm;
      }
      free(native);
    }
    if (s == WASM_OK && tier == WAGI_TIER_AOT) {
      /* native code: from $WAGI_MODULE_CACHE when it has it, else compiled
       * now (into the cache, or a temporary file) */
      const char *cache = getenv("WAGI_MODULE_CACHE");
      wasm_native_options o = {.cc = getenv("CC")};
      char out[4200], name[300], cerr[300];
      bool temp = true;
      if (cache && *cache) {
        if (wagi_cmd_check_cache_dir(cache, cerr, sizeof cerr) != 0) {
          fprintf(stderr, "wagi: WAGI_MODULE_CACHE: %s\n", cerr);
          wasm_module_free(m);
          free(bytes);
          return -1;
        }
        if (wasm_native_cache_name(m, &o, name, sizeof name, cerr, sizeof cerr) != 0) {
          fprintf(stderr, "wagi: %s\n", cerr);
          wasm_module_free(m);
          free(bytes);
          return -1;
        }
        snprintf(out, sizeof out, "%s/%s", cache, name);
        temp = false;
      } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(out, sizeof out, "%s/wagi-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(out);
        if (fd < 0) {
          perror("wagi: mkstemp");
          wasm_module_free(m);
          free(bytes);
          return -1;
        }
        close(fd);
      }
      size_t nlen = 0;
      uint8_t *native = NULL;
      if (temp || base_read_file(out, (size_t)1 << 31, 0, &native, &nlen, lerr, sizeof lerr) !=
                      BASE_FILE_OK) {
        s = wasm_module_compile_native(m, &o, out, &err);
        if (s == WASM_OK && base_read_file(out, (size_t)1 << 31, 0, &native, &nlen, lerr,
                                           sizeof lerr) != BASE_FILE_OK) {
          fprintf(stderr, "wagi: %s\n", lerr);
          if (temp) unlink(out);
          wasm_module_free(m);
          free(bytes);
          return -1;
        }
      }
      if (temp) unlink(out);
      wasm_module_free(m);
      m = NULL;
      if (s == WASM_OK) s = wasm_module_load_native(native, nlen, &m, &err);
      free(native);
    }
  }
  free(bytes);
  if (s != WASM_OK) {
    fprintf(stderr, "wagi: %s: %s\n", path, err.msg[0] ? err.msg : wasm_status_str(s));
    return -1;
  }
  *out = m;
  return 0;
}

int wagi_cmd_compile(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *cc = getenv("CC"), *cflags = NULL, *cpu = NULL;
  int strict = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      wagi_cmd_compile_usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--strict-loads")) {
      strict = 1;
      continue;
    }
    const char **dst = !strcmp(a, "-o")         ? &out
                       : !strcmp(a, "--cc")     ? &cc
                       : !strcmp(a, "--cflags") ? &cflags
                       : !strcmp(a, "--cpu")    ? &cpu
                                                : NULL;
    if (dst) {
      if (i + 1 >= argc) {
        fprintf(stderr, "wagi: compile: %s needs a value\n", a);
        return 1;
      }
      *dst = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "wagi: compile: unknown option \"%s\" (try wagi compile --help)\n", a);
      return 1;
    } else if (!in) {
      in = a;
    } else {
      fprintf(stderr, "wagi: compile: one module at a time (got \"%s\" too)\n", a);
      return 1;
    }
  }
  if (!in) {
    fprintf(stderr, "wagi: compile: missing MODULE.wasm (try wagi compile --help)\n");
    return 1;
  }
  wasm_module *m = NULL;
  if (wagi_cmd_load_module(in, WAGI_TIER_INTERP, &m) != 0) return 1;
  char *def = out ? NULL : default_output(in);
  wasm_native_options o = {.cc = cc, .cflags = cflags, .cpu = cpu, .strict_loads = strict};
  wasm_error err = {0};
  wasm_status s = wasm_module_compile_native(m, &o, out ? out : def, &err);
  wasm_module_free(m);
  if (s != WASM_OK) {
    fprintf(stderr, "wagi: compile: %s: %s\n", in, err.msg[0] ? err.msg : wasm_status_str(s));
    free(def);
    return 1;
  }
  printf("%s\n", out ? out : def);
  free(def);
  return 0;
}
