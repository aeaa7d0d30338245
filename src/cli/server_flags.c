/* server_flags.c — `wagi -c modules.toml [OPTIONS]`: the server's flags
 * (docs/server.md §Command line), their help text, and the command that runs the server
 * (src/server/server.h) with them. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "server/server.h"

void wagi_cmd_server_usage(FILE *out) {
  fprintf(out,
          "usage: wagi -c MODULES.toml [OPTIONS]     serve WAGI modules over HTTP\n"
          "\n"
          "server options:\n"
          "  -c, --config FILE          module map (modules.toml); required\n"
          "  -l, --listen IP:PORT       numeric address to listen on [127.0.0.1:3000];\n"
          "                             IPv6 as [::1]:3000; port 0 picks a free port\n"
          "      --hostname HOST[:PORT] default host for SERVER_NAME/SERVER_PORT\n"
          "                             [localhost:3000]; --default-host is the same\n"
          "  -e, --env NAME=VALUE...    guest environment variable (repeatable)\n"
          "      --env-file FILE...     dotenv file of NAME=VALUE lines (repeatable;\n"
          "                             --env wins over it)\n"
          "      --log-dir DIR          module stderr logs [$WAGI_LOG_DIR, else a new\n"
          "                             temporary directory]\n"
          "      --tls-cert FILE        PEM certificate chain [$WAGI_TLS_CERT]\n"
          "      --tls-key FILE         PEM private key [$WAGI_TLS_KEY]; with --tls-cert\n"
          "                             the server speaks HTTPS only\n"
          "      --access-log FILE      one line per request [stderr]; \"off\" disables\n"
          "  limits (defaults for every module; the [limits] table and each [[module]]\n"
          "  of modules.toml override them with the key named in brackets):\n"
          "      --timeout SECONDS      wall-clock limit per request [30]; over it: 504\n"
          "      --time-limit-ms MS     the same in milliseconds [time_limit_ms]\n"
          "      --max-memory SIZE      linear memory per instance [256MiB]; a module\n"
          "                             that cannot grow usually ends in a 500\n"
          "                             [memory_limit_bytes]\n"
          "      --max-output SIZE      module stdout per request [16MiB]; over it: 500\n"
          "                             [output_limit_bytes]\n"
          "      --max-stderr SIZE      module stderr per request that reaches its\n"
          "                             module.stderr [1MiB]; the rest is dropped and a\n"
          "                             line \"[wagi: stderr cut at N bytes]\" written\n"
          "                             [stderr_limit_bytes]\n"
          "      --max-body SIZE        request body [16MiB]; over it: 413\n"
          "                             [max_request_body_bytes]\n"
          "      --max-concurrency N    instances of one module running at once\n"
          "                             [4 x CPUs; max_concurrent_requests]; more\n"
          "                             requests queue (up to 64 x N, each waiting at\n"
          "                             most the time limit or 10 s, whichever is\n"
          "                             shorter); beyond that: 503\n"
          "  threads and connections:\n"
          "      --workers N            module requests running at once on the CPUs\n"
          "                             [one per CPU]; a request that waits (outbound\n"
          "                             HTTP, a sleep) or computes for more than 5 ms\n"
          "                             while others wait gets a thread of its own, so\n"
          "                             it cannot hold up the others\n"
          "      --http-threads N       HTTP event-loop threads [one per CPU]\n"
          "      --max-connections N    open connections at once [1024]\n"
          "      --max-connections-per-ip N\n"
          "                             open connections from one client address [128];\n"
          "                             more are closed at once; 0: no limit (behind a\n"
          "                             reverse proxy every client has its address)\n"
          "      --header-timeout SECONDS\n"
          "                             a connection silent this long while sending\n"
          "                             its request line and headers is closed [10];\n"
          "                             idle keep-alive connections and stalled\n"
          "                             request bodies get 60 s\n"
          "  SIZE is bytes, or a number with K, M, G (KiB, MiB, GiB); the long\n"
          "  spellings --memory-limit-bytes, --output-limit-bytes, --stderr-limit-bytes,\n"
          "  --max-request-body-bytes, --max-concurrent-requests are accepted too.\n"
          "  native code (docs/server.md, \"Native code\"):\n"
          "      --module-cache DIR     where .wasm modules' native code is kept\n"
          "                             [$WAGI_MODULE_CACHE; none: .wasm modules run\n"
          "                             on the interpreter, or with --tier aot are\n"
          "                             compiled into a temporary directory removed\n"
          "                             once they are loaded]; created 0700, refused if\n"
          "                             another user owns it or others may write it.\n"
          "                             With --tier auto a module not in it is served\n"
          "                             by the interpreter while one background thread\n"
          "                             compiles it with $CC (else cc); then new\n"
          "                             requests run natively\n"
          "      --tier auto|interp|aot auto [default]: native code where there is some\n"
          "                             (a .wasmc module, the module cache); interp:\n"
          "                             the interpreter only, nothing compiled, and a\n"
          "                             .wasmc module stops the server at startup; aot:\n"
          "                             native code only: every .wasm module is compiled\n"
          "                             (into the module cache, else a temporary\n"
          "                             directory) before the server listens, and one\n"
          "                             that cannot be compiled stops it\n"
          "  --cache FILE is accepted and unused; -b/--bindle and bindle:/oci: module\n"
          "  references are not supported.\n"
          "\n"
          "The server prints \"Ready: serving on http://IP:PORT\" once it listens, and\n"
          "on SIGINT/SIGTERM stops accepting, finishes requests in flight (at most\n"
          "10 s) and exits 0. SIGHUP reopens the log files it opened (--access-log\n"
          "FILE, every module.stderr) at their paths, for logrotate; its own log is\n"
          "stderr. /healthz always answers 200 \"OK\". The full reference: docs/server.md\n"
          "(flags, modules.toml, routing, limits, logs) and docs/modules.md (argv,\n"
          "environment, output rules, outbound HTTP) in the wagi-c sources.\n");
}

static const char *const server_flags[] = {
    "-c",
    "--config",
    "-l",
    "--listen",
    "--hostname",
    "--default-host",
    "-e",
    "--env",
    "--env-file",
    "--log-dir",
    "--tls-cert",
    "--tls-key",
    "--access-log",
    "--timeout",
    "--max-memory",
    "--max-output",
    "--max-stderr",
    "--stderr-limit-bytes",
    "--max-body",
    "--max-concurrency",
    "--cache",
    "--module-cache",
    "--tier",
    "--time-limit-ms",
    "--memory-limit-bytes",
    "--output-limit-bytes",
    "--max-request-body-bytes",
    "--max-concurrent-requests",
    "--max-connections",
    "--max-connections-per-ip",
    "--header-timeout",
    "--workers",
    "--http-threads",
    "-b",
    "--bindle",
    "--bindle-path",
    "--bindle-url",
    "--bindle-http-user",
    "--bindle-http-password",
    "-k",
    "--bindle-insecure",
    NULL,
};

int wagi_cmd_is_server_arg(const char *arg) {
  for (size_t i = 0; server_flags[i]; i++) {
    size_t n = strlen(server_flags[i]);
    if (strncmp(arg, server_flags[i], n) == 0 && (arg[n] == 0 || arg[n] == '=')) return 1;
  }
  return 0;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("wagi: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* "30", "0.5", "250ms" -> milliseconds (1 .. 24 h). */
static int parse_seconds(const char *s, uint32_t *ms) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s) return -1;
  if (strcmp(end, "ms") == 0) v /= 1000.0;
  else if (strcmp(end, "s") != 0 && *end) return -1;
  if (!(v > 0) || v > 86400.0) return -1;
  double m = v * 1000.0;
  *ms = m < 1.0 ? 1u : (uint32_t)m;
  return 0;
}

/* A whole decimal number in [lo, hi]. Returns 0 or -1. */
static int parse_count(const char *s, unsigned long lo, unsigned long hi, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || end == s || v < lo || v > hi) return -1;
  *out = (uint32_t)v;
  return 0;
}

/* Parses the command line into *o (zeroed by the caller). Returns 0, or -1
 * after printing. */
static int parse_args(int argc, char **argv, srv_options *o) {
  bool bindle = false;
  bool per_ip_set = false; /* --max-connections-per-ip given (0 = no limit) */
  char err[512];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    char flag[64];
    const char *eq = (a[0] == '-' && a[1] == '-') ? strchr(a, '=') : NULL;
    if (eq && (size_t)(eq - a) < sizeof flag) {
      memcpy(flag, a, (size_t)(eq - a));
      flag[eq - a] = 0;
      val = eq + 1;
      a = flag;
    }
#define IS(x) (strcmp(a, x) == 0)
#define NEED()                                                                                     \
  do {                                                                                             \
    if (!val) {                                                                                    \
      if (i + 1 >= argc) {                                                                         \
        fail("%s needs a value (see wagi --help)", a);                                             \
        return -1;                                                                                 \
      }                                                                                            \
      val = argv[++i];                                                                             \
    }                                                                                              \
  } while (0)
    if (IS("-h") || IS("--help")) {
      wagi_cmd_server_usage(stdout);
      exit(0);
    } else if (IS("-c") || IS("--config")) {
      NEED();
      if (o->config) {
        fail("--config given twice");
        return -1;
      }
      o->config = val;
    } else if (IS("-b") || IS("--bindle") || IS("--bindle-path") || IS("--bindle-url") ||
               IS("--bindle-http-user") || IS("--bindle-http-password") || IS("-k") ||
               IS("--bindle-insecure")) {
      bindle = true;
      if (!IS("-k") && !IS("--bindle-insecure")) NEED();
    } else if (IS("-l") || IS("--listen")) {
      NEED();
      o->listen = val;
    } else if (IS("--hostname") || IS("--default-host")) {
      NEED();
      o->hostname = val;
    } else if (IS("-e") || IS("--env")) {
      NEED();
      /* One flag may take several values: every following argument that is
       * not a flag is another NAME=VALUE. */
      for (;;) {
        if (srv_env_parse_assignment(val, &o->env, err, sizeof err) != 0) {
          fail("%s", err);
          return -1;
        }
        if (i + 1 < argc && argv[i + 1][0] != '-') val = argv[++i];
        else break;
      }
    } else if (IS("--env-file")) {
      NEED();
      for (;;) {
        if (srv_env_parse_file(val, &o->env_file, err, sizeof err) != 0) {
          fail("--env-file: %s", err);
          return -1;
        }
        if (i + 1 < argc && argv[i + 1][0] != '-') val = argv[++i];
        else break;
      }
    } else if (IS("--log-dir")) {
      NEED();
      o->log_dir = val;
    } else if (IS("--tls-cert")) {
      NEED();
      o->tls_cert = val;
    } else if (IS("--tls-key")) {
      NEED();
      o->tls_key = val;
    } else if (IS("--access-log")) {
      NEED();
      o->access_log = val;
    } else if (IS("--cache")) {
      NEED(); /* wasmtime's cache configuration file: nothing to do */
    } else if (IS("--module-cache")) {
      NEED();
      o->module_cache = val;
    } else if (IS("--tier")) {
      NEED();
      if (strcmp(val, "auto") == 0) o->tier = SRV_TIER_AUTO;
      else if (strcmp(val, "interp") == 0) o->tier = SRV_TIER_INTERP;
      else if (strcmp(val, "aot") == 0) o->tier = SRV_TIER_AOT;
      else {
        fail("--tier %s: expected auto, interp or aot", val);
        return -1;
      }
    } else if (IS("--time-limit-ms")) {
      NEED();
      char *end;
      errno = 0;
      unsigned long v = strtoul(val, &end, 10);
      if (errno || *end || end == val || v == 0 || v > 86400000ul) {
        fail("--time-limit-ms %s: expected milliseconds from 1 to 86400000", val);
        return -1;
      }
      o->limits.timeout_ms = (uint32_t)v;
    } else if (IS("--timeout")) {
      NEED();
      if (parse_seconds(val, &o->limits.timeout_ms) != 0) {
        fail("--timeout %s: expected seconds (e.g. 30, 0.5, 250ms), at most 86400", val);
        return -1;
      }
    } else if (IS("--max-memory") || IS("--memory-limit-bytes")) {
      NEED();
      if (wagi_cmd_parse_memory(a, val, false, &o->limits.max_memory_pages, err, sizeof err) != 0) {
        fail("%s", err);
        return -1;
      }
    } else if (IS("--max-output") || IS("--output-limit-bytes")) {
      NEED();
      if (wagi_cmd_parse_size(val, &o->limits.max_output) != 0 || o->limits.max_output == 0) {
        fail("--max-output %s: expected a size in bytes (e.g. 16M)", val);
        return -1;
      }
    } else if (IS("--max-stderr") || IS("--stderr-limit-bytes")) {
      NEED();
      if (wagi_cmd_parse_size(val, &o->limits.max_stderr) != 0 || o->limits.max_stderr == 0 ||
          o->limits.max_stderr > (4ull << 30)) {
        fail("--max-stderr %s: expected a size from 1 byte to 4GiB (e.g. 1M)", val);
        return -1;
      }
    } else if (IS("--max-body") || IS("--max-request-body-bytes")) {
      NEED();
      if (wagi_cmd_parse_size(val, &o->limits.max_body) != 0 || o->limits.max_body == 0) {
        fail("--max-body %s: expected a size in bytes (e.g. 64M)", val);
        return -1;
      }
    } else if (IS("--max-connections")) {
      NEED();
      if (parse_count(val, 1, 65536, &o->max_connections) != 0) {
        fail("--max-connections %s: expected a number from 1 to 65536", val);
        return -1;
      }
    } else if (IS("--max-connections-per-ip")) {
      NEED();
      if (parse_count(val, 0, 65536, &o->per_ip_limit) != 0) {
        fail("--max-connections-per-ip %s: expected a number from 0 (no limit) to 65536", val);
        return -1;
      }
      per_ip_set = true;
    } else if (IS("--header-timeout")) {
      NEED();
      if (parse_seconds(val, &o->header_timeout_ms) != 0 || o->header_timeout_ms > 3600000u) {
        fail("--header-timeout %s: expected seconds (e.g. 10, 2.5), at most 3600", val);
        return -1;
      }
    } else if (IS("--workers") || IS("--http-threads")) {
      NEED();
      if (parse_count(val, 1, 64, IS("--workers") ? &o->workers : &o->http_threads) != 0) {
        fail("%s %s: expected a number from 1 to 64", a, val);
        return -1;
      }
    } else if (IS("--max-concurrency") || IS("--max-concurrent-requests")) {
      NEED();
      if (parse_count(val, 1, 100000, &o->limits.max_concurrency) != 0) {
        fail("--max-concurrency %s: expected a number from 1 to 100000", val);
        return -1;
      }
    } else {
      fail("unknown argument '%s' (see wagi --help)", argv[i]);
      return -1;
    }
#undef IS
#undef NEED
  }
  if (bindle) {
    fail("bindle is not supported by wagi-c (use -c/--config with a modules.toml)");
    return -1;
  }
  if (!o->config) {
    fail("no module map: give -c/--config FILE (see wagi --help)");
    return -1;
  }
  if (!o->max_connections) o->max_connections = SRV_CONNECTION_LIMIT;
  if (!per_ip_set) o->per_ip_limit = SRV_PER_IP_LIMIT;
  if (o->per_ip_limit > o->max_connections) o->per_ip_limit = 0; /* cannot bind */
  if (!o->header_timeout_ms) o->header_timeout_ms = SRV_HEADER_TIMEOUT_MS;
  if (!o->listen) o->listen = "127.0.0.1:3000";
  if (!o->hostname) o->hostname = "localhost:3000";
  if (!o->log_dir) o->log_dir = getenv("WAGI_LOG_DIR");
  if (!o->module_cache) o->module_cache = getenv("WAGI_MODULE_CACHE");
  if (o->module_cache && !*o->module_cache) o->module_cache = NULL;
  if (!o->tls_cert) o->tls_cert = getenv("WAGI_TLS_CERT");
  if (!o->tls_key) o->tls_key = getenv("WAGI_TLS_KEY");
  if (o->log_dir && !*o->log_dir) o->log_dir = NULL;
  if (o->tls_cert && !*o->tls_cert) o->tls_cert = NULL;
  if (o->tls_key && !*o->tls_key) o->tls_key = NULL;
  if (!o->tls_cert != !o->tls_key) {
    fail("--tls-cert and --tls-key must be given together");
    return -1;
  }
  return 0;
}

int wagi_cmd_server(int argc, char **argv) {
  srv_options o;
  memset(&o, 0, sizeof o);
  int rc = 1;
  if (parse_args(argc, argv, &o) == 0) {
    /* Big enough for any startup message: several of them quote a file
     * name, a route and wat2wasm's output. */
    static char err[16384];
    if (srv_start(&o, err, sizeof err) == SRV_OK) {
      srv_drain(srv_serve());
      rc = 0;
    } else {
      fail("%s", err);
    }
  }
  srv_env_list_free(&o.env);
  srv_env_list_free(&o.env_file);
  return rc;
}
