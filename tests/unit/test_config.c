/* test_config.c — the modules.toml loader (src/server/config.c): every key
 * of WAGI.md §2 with its default, the wagi-c rules (module references,
 * allowed_hosts, route normalisation, limits) and every error with its
 * FILE:LINE:COLUMN and module context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/config.h"
#include "mutate_text.h"

static srv_config *load_ok(const char *doc) {
  srv_config *c = NULL;
  char err[512];
  srv_config_status st = srv_config_parse(doc, strlen(doc), "m.toml", &c, err, sizeof err);
  if (st != SRV_CONFIG_OK)
    fail_msg("unexpected error (%s) for:\n%s\n  %s", srv_config_status_str(st), doc, err);
  assert_non_null(c);
  return c;
}

/* Expects `st` at LINE:COL with `what` in the message. */
static void check_fail(const char *doc, srv_config_status want_st, unsigned line, unsigned col,
                       const char *what) {
  srv_config *c = (srv_config *)0x1;
  char err[512];
  srv_config_status st = srv_config_parse(doc, strlen(doc), "m.toml", &c, err, sizeof err);
  if (st == SRV_CONFIG_OK) fail_msg("config should be refused (%s):\n%s", what, doc);
  assert_ptr_equal(c, (srv_config *)0x1);
  char prefix[64];
  snprintf(prefix, sizeof prefix, "m.toml:%u:%u: ", line, col);
  if (st != want_st || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what))
    fail_msg("config:\n%s\n  got:  [%s] %s\n  want: [%s] %s...%s", doc, srv_config_status_str(st),
             err, srv_config_status_str(want_st), prefix, what);
}

static void check_invalid(const char *doc, unsigned line, unsigned col, const char *what) {
  check_fail(doc, SRV_CONFIG_ERR_INVALID, line, col, what);
}

/* A one-module document with `extra` lines after route and module. */
static char *module_doc(const char *module, const char *extra) {
  static char buf[2048];
  snprintf(buf, sizeof buf, "[[module]]\nroute = \"/r\"\nmodule = \"%s\"\n%s", module, extra);
  return buf;
}

/* ---- valid configs ----------------------------------------------------------------- */

static void test_full_example(void **state) {
  (void)state;
  const char *doc =
      "# modules.toml\n"
      "[[module]]\n"
      "route = \"/hello/...\"\n"
      "module = \"file:///srv/hello.wasm\"\n"
      "entrypoint = \"hello\"\n"
      "volumes = { \"/data\" = \"/srv/data\", \"/tmp\" = \"scratch\" }\n"
      "allowed_hosts = [\"https://api.example.com\", \"http://LocalHost:8080/\"]\n"
      "http_max_concurrency = 2\n"
      "argv = \"ruby /app.rb ${SCRIPT_NAME} ${ARGS}\"\n"
      "environment = { KEY = \"secret\", ACCOUNT = \"acme\", EMPTY = \"\" }\n"
      "host = \"Example.COM:3000\"\n"
      "bindle_server = \"ignored\"\n"
      "repository = 42\n"
      "some_future_key = { x = 1 }\n";
  srv_config *c = load_ok(doc);
  assert_string_equal(c->filename, "m.toml");
  assert_int_equal(c->n_modules, 1);
  assert_int_equal(srv_config_module_count(c), 1);
  /* WAGI's keys (bindle_server, repository) pass quietly; an unknown one is
   * ignored as in WAGI, but named, so that a misspelt key is noticed. */
  assert_int_equal(c->n_warnings, 1);
  assert_string_equal(c->warnings[0],
                      "m.toml:14:1: warning: module 1 (route \"/hello/...\"): unknown key "
                      "'some_future_key' ignored");
  const srv_module_config *m = &c->modules[0];
  assert_int_equal(m->index, 0);
  assert_int_equal(m->line, 2);
  assert_int_equal(m->col, 1);
  assert_string_equal(m->route, "/hello/...");
  assert_string_equal(m->module_ref, "file:///srv/hello.wasm");
  assert_string_equal(m->module_path, "/srv/hello.wasm");
  assert_string_equal(m->entrypoint, "hello");
  assert_int_equal(m->n_volumes, 2);
  assert_string_equal(m->volumes[0].guest, "/data");
  assert_string_equal(m->volumes[0].host, "/srv/data");
  assert_string_equal(m->volumes[1].guest, "/tmp");
  assert_string_equal(m->volumes[1].host, "scratch"); /* relative: kept as written */
  assert_int_equal(m->n_allowed_hosts, 2);
  assert_false(m->allow_all_hosts);
  assert_string_equal(m->allowed_hosts[0].entry, "https://api.example.com");
  assert_true(m->allowed_hosts[0].https);
  assert_string_equal(m->allowed_hosts[0].host, "api.example.com");
  assert_int_equal(m->allowed_hosts[0].port, 443);
  assert_false(m->allowed_hosts[0].explicit_port);
  assert_false(m->allowed_hosts[1].https);
  assert_string_equal(m->allowed_hosts[1].host, "localhost");
  assert_int_equal(m->allowed_hosts[1].port, 8080);
  assert_true(m->allowed_hosts[1].explicit_port);
  assert_int_equal(m->http_max_concurrency, 2);
  assert_string_equal(m->argv, "ruby /app.rb ${SCRIPT_NAME} ${ARGS}");
  assert_int_equal(m->n_environment, 3);
  assert_string_equal(m->environment[0].name, "KEY");
  assert_string_equal(m->environment[0].value, "secret");
  assert_string_equal(m->environment[1].name, "ACCOUNT");
  assert_string_equal(m->environment[2].name, "EMPTY");
  assert_string_equal(m->environment[2].value, "");
  assert_string_equal(m->host, "example.com:3000");
  assert_null(c->default_host);
  srv_config_free(c);
}

static void test_defaults(void **state) {
  (void)state;
  srv_config *c = load_ok("[[module]]\nroute = \"/\"\nmodule = \"hello.wasm\"\n");
  const srv_module_config *m = &c->modules[0];
  assert_string_equal(m->route, "/");
  assert_string_equal(m->module_ref, "hello.wasm");
  assert_string_equal(m->module_path, "hello.wasm");
  assert_string_equal(m->entrypoint, "_start");
  assert_int_equal(m->n_volumes, 0);
  assert_null(m->volumes);
  assert_int_equal(m->n_allowed_hosts, 0);
  assert_false(m->allow_all_hosts);
  assert_int_equal(m->http_max_concurrency, 0);
  assert_null(m->argv);
  assert_int_equal(m->n_environment, 0);
  assert_null(m->host);
  assert_int_equal(m->limits.time_limit_ms, SRV_DEFAULT_TIME_LIMIT_MS);
  assert_int_equal(m->limits.memory_limit_bytes, SRV_DEFAULT_MEMORY_LIMIT_BYTES);
  assert_int_equal(m->limits.output_limit_bytes, SRV_DEFAULT_OUTPUT_LIMIT_BYTES);
  assert_int_equal(m->limits.max_request_body_bytes, SRV_DEFAULT_MAX_REQUEST_BODY_BYTES);
  assert_int_equal(m->limits.max_concurrent_requests, SRV_DEFAULT_MAX_CONCURRENT_REQUESTS);
  assert_int_equal(m->limits_set, 0);
  assert_int_equal(c->limits_set, 0);
  assert_int_equal(c->n_warnings, 0);
  srv_config_free(c);
  srv_config_free(NULL);
  assert_int_equal(srv_config_module_count(NULL), 0);
}

static void test_several_modules(void **state) {
  (void)state;
  srv_config *c = load_ok(
      "default_host = \"LOCALHOST:3000\"\n"
      "[[module]]\nroute = \"/a\"\nmodule = \"a.wasm\"\n\n"
      "[[module]]\nroute = \"/b/...\"\nmodule = \"b.wat\"\nentrypoint = \"eb\"\n\n"
      "[[module]]\nroute = \"/...\"\nmodule = \"/abs/c.wasm\"\n");
  assert_int_equal(c->n_modules, 3);
  assert_string_equal(c->default_host, "localhost:3000");
  assert_string_equal(c->modules[0].route, "/a");
  assert_string_equal(c->modules[1].route, "/b/...");
  assert_string_equal(c->modules[1].entrypoint, "eb");
  assert_string_equal(c->modules[2].module_path, "/abs/c.wasm");
  assert_int_equal(c->modules[2].index, 2);
  assert_int_equal(c->modules[2].line, 11);
  srv_config_free(c);

  /* a static array of inline tables is the same data in TOML */
  c = load_ok(
      "module = [ { route = \"/x\", module = \"x.wasm\" },\n"
      "           { route = \"/y\", module = \"y.wasm\", environment = { A = \"1\" } } ]\n");
  assert_int_equal(c->n_modules, 2);
  assert_string_equal(c->modules[1].environment[0].value, "1");
  assert_int_equal(c->modules[1].line, 2);
  assert_int_equal(c->modules[1].col, 12);
  srv_config_free(c);

  /* `module = []`: no modules (only /healthz would answer) */
  c = load_ok("module = []\n");
  assert_int_equal(c->n_modules, 0);
  srv_config_free(c);
}

static void test_module_references(void **state) {
  (void)state;
  static const struct {
    const char *ref, *path;
  } cases[] = {
      {"examples/hello.wat", "examples/hello.wat"},
      {"./hello.wasm", "./hello.wasm"},
      {"../up/x.wasm", "../up/x.wasm"},
      {"/abs/x.wasm", "/abs/x.wasm"},
      {"./a:b.wasm", "./a:b.wasm"},
      {"dir/file:with:colons.wasm", "dir/file:with:colons.wasm"},
      {"9lives:x.wasm", "9lives:x.wasm"},
      {"hello.wasmc", "hello.wasmc"},
      {"file:///srv/x.wasm", "/srv/x.wasm"},
      {"FILE:///srv/x.wasm", "/srv/x.wasm"},
      {"file://localhost/srv/x.wasm", "/srv/x.wasm"},
      {"file://LOCALHOST/srv/x.wasm", "/srv/x.wasm"},
      {"file:/srv/x.wasm", "/srv/x.wasm"},
      {"file:x.wasm", "/x.wasm"},
      {"file:///a%20b/%C3%A9.wasm", "/a b/\xC3\xA9.wasm"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    srv_config *c = load_ok(module_doc(cases[i].ref, ""));
    assert_string_equal(c->modules[0].module_ref, cases[i].ref);
    assert_string_equal(c->modules[0].module_path, cases[i].path);
    srv_config_free(c);
  }
}

static void test_route_normalisation(void **state) {
  (void)state;
  srv_config *c = load_ok(
      "[[module]]\nroute = \"infer\"\nmodule = \"m.wasm\"\n"
      "[[module]]\nroute = \"...\"\nmodule = \"m.wasm\"\n");
  assert_string_equal(c->modules[0].route, "/infer");
  assert_string_equal(c->modules[1].route, "/...");
  assert_int_equal(c->n_warnings, 2);
  assert_string_equal(
      c->warnings[0],
      "m.toml:2:9: warning: module 1 (route \"/infer\"): route \"infer\" does not start "
      "with '/'; using \"/infer\"");
  assert_non_null(strstr(c->warnings[1], "m.toml:5:9: warning: module 2"));
  srv_config_free(c);

  /* duplicate routes load (first wins at routing time) with a warning */
  c = load_ok(
      "[[module]]\nroute = \"/a\"\nmodule = \"m.wasm\"\n"
      "[[module]]\nroute = \"/b\"\nmodule = \"m.wasm\"\n"
      "[[module]]\nroute = \"/a\"\nmodule = \"n.wasm\"\n"
      "[[module]]\nroute = \"/a\"\nmodule = \"n.wasm\"\nhost = \"other\"\n");
  assert_int_equal(c->n_modules, 4);
  assert_int_equal(c->n_warnings, 1);
  assert_string_equal(
      c->warnings[0],
      "m.toml:8:9: warning: module 3 (route \"/a\"): route \"/a\" is also defined by module 1 "
      "(line 1); the first definition wins");
  srv_config_free(c);
}

static void test_allowed_hosts(void **state) {
  (void)state;
  srv_config *c = load_ok(module_doc("m.wasm",
                                     "allowed_hosts = [\n"
                                     "  \"https://api.brigade.sh\",\n"
                                     "  \"https://example.com\",\n"
                                     "  \"http://192.168.0.1\",\n"
                                     "  \"HTTPS://UPPER.example.com:8443/\",\n"
                                     "  \"http://[::1]:8080\",\n"
                                     "  \"https://[fe80::1]\",\n"
                                     "]\n"));
  const srv_module_config *m = &c->modules[0];
  assert_int_equal(m->n_allowed_hosts, 6);
  assert_string_equal(m->allowed_hosts[3].host, "upper.example.com");
  assert_int_equal(m->allowed_hosts[3].port, 8443);
  assert_true(m->allowed_hosts[3].https);
  assert_string_equal(m->allowed_hosts[4].host, "::1");
  assert_int_equal(m->allowed_hosts[4].port, 8080);
  assert_string_equal(m->allowed_hosts[5].host, "fe80::1");
  assert_int_equal(m->allowed_hosts[5].port, 443);
  /* WAGI.md §7.3 vectors, with the wagi-c scheme/port rule */
  assert_true(srv_module_allows_host(m, "https", "api.brigade.sh", 443));
  assert_true(srv_module_allows_host(m, "https", "example.com", 443));
  assert_true(srv_module_allows_host(m, "http", "192.168.0.1", 80));
  assert_false(srv_module_allows_host(m, "https", "test.brigade.sh", 443));
  assert_true(srv_module_allows_host(m, "HTTPS", "API.Brigade.SH", 443));
  assert_false(srv_module_allows_host(m, "http", "api.brigade.sh", 80));    /* scheme */
  assert_false(srv_module_allows_host(m, "https", "api.brigade.sh", 8443)); /* port */
  assert_true(srv_module_allows_host(m, "https", "upper.example.com", 8443));
  assert_false(srv_module_allows_host(m, "https", "upper.example.com", 443));
  assert_true(srv_module_allows_host(m, "http", "[::1]", 8080));
  assert_true(srv_module_allows_host(m, "http", "::1", 8080));
  assert_false(srv_module_allows_host(m, "ftp", "example.com", 443));
  assert_false(srv_module_allows_host(m, "https", "", 443));
  assert_false(srv_module_allows_host(NULL, "https", "example.com", 443));
  assert_int_equal(c->n_warnings, 0);
  srv_config_free(c);

  /* insecure:allow-all: flag plus one warning */
  c = load_ok(module_doc(
      "m.wasm",
      "allowed_hosts = [\"insecure:allow-all\", \"https://x.org\", \"insecure:allow-all\"]\n"));
  m = &c->modules[0];
  assert_true(m->allow_all_hosts);
  assert_int_equal(m->n_allowed_hosts, 1);
  assert_int_equal(c->n_warnings, 1);
  assert_non_null(strstr(c->warnings[0],
                         "m.toml:4:18: warning: module 1 (route \"/r\"): allowed_hosts contains "
                         "\"insecure:allow-all\""));
  assert_true(srv_module_allows_host(m, "http", "anything.example", 1234));
  srv_config_free(c);

  /* empty list = absent = deny everything */
  c = load_ok(module_doc("m.wasm", "allowed_hosts = []\n"));
  assert_int_equal(c->modules[0].n_allowed_hosts, 0);
  assert_false(srv_module_allows_host(&c->modules[0], "https", "example.com", 443));
  srv_config_free(c);

  /* the parser on its own */
  srv_allowed_host h;
  char why[256];
  assert_int_equal(srv_allowed_host_parse("http://h_1.example-x.org:1", &h, why, sizeof why), 0);
  assert_string_equal(h.host, "h_1.example-x.org");
  assert_int_equal(h.port, 1);
  srv_allowed_host_clear(&h);
  assert_int_equal(srv_allowed_host_parse("http://h:65535", &h, why, sizeof why), 0);
  assert_int_equal(h.port, 65535);
  srv_allowed_host_clear(&h);
  srv_allowed_host_clear(NULL);
  assert_int_equal(srv_allowed_host_parse("example.com", &h, why, sizeof why),
                   SRV_CONFIG_ERR_INVALID);
  assert_non_null(strstr(why, "no scheme"));
}

static void test_limits(void **state) {
  (void)state;
  srv_config *c = load_ok(
      "[limits]\n"
      "time_limit_ms = 5000\n"
      "memory_limit_bytes = 131072\n"
      "colour = \"blue\"\n"
      "[[module]]\nroute = \"/a\"\nmodule = \"a.wasm\"\n"
      "[[module]]\nroute = \"/b\"\nmodule = \"b.wasm\"\n"
      "time_limit_ms = 100\n"
      "memory_limit_bytes = 4294967296\n"
      "output_limit_bytes = 1\n"
      "max_request_body_bytes = 1048576\n"
      "max_concurrent_requests = 3\n");
  assert_int_equal(c->defaults.time_limit_ms, 5000);
  assert_int_equal(c->defaults.memory_limit_bytes, 131072);
  assert_int_equal(c->defaults.output_limit_bytes, SRV_DEFAULT_OUTPUT_LIMIT_BYTES);
  assert_int_equal(c->limits_set, SRV_LIMIT_TIME | SRV_LIMIT_MEMORY);
  const srv_module_config *a = &c->modules[0], *b = &c->modules[1];
  assert_int_equal(a->limits.time_limit_ms, 5000);
  assert_int_equal(a->limits.memory_limit_bytes, 131072);
  assert_int_equal(a->limits.output_limit_bytes, SRV_DEFAULT_OUTPUT_LIMIT_BYTES);
  assert_int_equal(a->limits.max_request_body_bytes, SRV_DEFAULT_MAX_REQUEST_BODY_BYTES);
  assert_int_equal(a->limits.max_concurrent_requests, 0);
  assert_int_equal(a->limits_set, SRV_LIMIT_TIME | SRV_LIMIT_MEMORY);
  assert_int_equal(b->limits.time_limit_ms, 100);
  assert_int_equal(b->limits.memory_limit_bytes, 4294967296ull);
  assert_int_equal(b->limits.output_limit_bytes, 1);
  assert_int_equal(b->limits.max_request_body_bytes, 1048576);
  assert_int_equal(b->limits.max_concurrent_requests, 3);
  assert_int_equal(b->limits_set, SRV_LIMIT_TIME | SRV_LIMIT_MEMORY | SRV_LIMIT_OUTPUT |
                                      SRV_LIMIT_BODY | SRV_LIMIT_CONCURRENCY);
  /* unknown [limits] key: a warning, not silence (it is wagi-c's own table) */
  assert_int_equal(c->n_warnings, 1);
  assert_string_equal(c->warnings[0],
                      "m.toml:4:1: warning: unknown key 'colour' in [limits] ignored");
  srv_config_free(c);
}

static void test_unknown_keys_warned(void **state) {
  (void)state;
  srv_config *c = load_ok(
      "default_host = \"a.example\"\n"
      "colour = \"blue\"\n"
      "[[module]]\n"
      "route = \"/a\"\n"
      "module = \"/a.wasm\"\n"
      "timeout = 5\n"
      "time_limit_ms = 5\n");
  assert_int_equal(c->n_modules, 1);
  assert_int_equal(c->modules[0].limits.time_limit_ms, 5);
  assert_int_equal(c->n_warnings, 2);
  assert_string_equal(c->warnings[0],
                      "m.toml:2:1: warning: unknown key 'colour' at the top level "
                      "ignored");
  assert_string_equal(
      c->warnings[1],
      "m.toml:6:1: warning: module 1 (route \"/a\"): unknown key 'timeout' ignored");
  srv_config_free(c);
}

static void test_load_file(void **state) {
  (void)state;
  char dir[] = "/tmp/wagi-test-config-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256], err[512];
  snprintf(path, sizeof path, "%s/modules.toml", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("[[module]]\nroute = \"/\"\nmodule = \"file:///x.wasm\"\n", f);
  fclose(f);
  srv_config *c = NULL;
  assert_int_equal(srv_config_load(path, &c, err, sizeof err), SRV_CONFIG_OK);
  assert_string_equal(c->filename, path);
  assert_string_equal(c->modules[0].module_path, "/x.wasm");
  srv_config_free(c);

  /* errors carry the path as given */
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("[[module]]\nroute = \"/\"\nmodule = \"oci:foo:bar\"\n", f);
  fclose(f);
  c = NULL;
  assert_int_equal(srv_config_load(path, &c, err, sizeof err), SRV_CONFIG_ERR_INVALID);
  assert_null(c);
  char want[512];
  snprintf(
      want, sizeof want,
      "%s:3:10: module 1 (route \"/\"): bindle/OCI module references are not supported by wagi-c: "
      "\"oci:foo:bar\"",
      path);
  assert_true(strncmp(err, want, strlen(want)) == 0);

  /* a TOML error keeps its own position */
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("[[module]]\nroute = \"/\"\nmodule \"x\"\n", f);
  fclose(f);
  assert_int_equal(srv_config_load(path, &c, err, sizeof err), SRV_CONFIG_ERR_SYNTAX);
  snprintf(want, sizeof want, "%s:3:8: expected '=' after key, found '\"'", path);
  assert_string_equal(err, want);

  /* too large */
  assert_int_equal(truncate(path, (off_t)SRV_CONFIG_MAX_FILE_SIZE + 1), 0);
  assert_int_equal(srv_config_load(path, &c, err, sizeof err), SRV_CONFIG_ERR_IO);
  assert_non_null(strstr(err, "file too large"));
  unlink(path);

  assert_int_equal(srv_config_load(path, &c, err, sizeof err), SRV_CONFIG_ERR_IO);
  snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
  assert_string_equal(err, want);
  assert_int_equal(srv_config_load(dir, &c, err, sizeof err), SRV_CONFIG_ERR_IO);
  assert_non_null(strstr(err, "is a directory"));
  assert_int_equal(srv_config_load("", &c, err, sizeof err), SRV_CONFIG_ERR_IO);
  assert_int_equal(srv_config_load(NULL, &c, err, sizeof err), SRV_CONFIG_ERR_IO);
  assert_null(c);
  rmdir(dir);

  assert_string_equal(srv_config_status_str(SRV_CONFIG_OK), "ok");
  assert_string_equal(srv_config_status_str(SRV_CONFIG_ERR_SYNTAX),
                      "config file is not valid TOML");
}

/* ---- errors ------------------------------------------------------------------------- */

static void test_structure_errors(void **state) {
  (void)state;
  check_invalid("", 1, 1, "no [[module]] entries");
  check_invalid("[module]\nroute = \"/\"\n", 1, 1,
                "'module' must be an array of tables ([[module]]), not a table");
  check_invalid("module = \"x.wasm\"", 1, 10,
                "'module' must be an array of tables ([[module]]), not a string");
  check_invalid("module = [1]", 1, 11,
                "module 1: each module entry must be a table, not an integer");
  check_invalid("[[module]]\nmodule = \"x.wasm\"\n", 1, 1,
                "module 1: missing required key 'route'");
  check_invalid("[[module]]\nroute = \"/\"\nmodule = \"a\"\n[[module]]\nroute = \"/b\"\n", 4, 1,
                "module 2 (route \"/b\"): missing required key 'module'");
  check_invalid("limits = 5\n[[module]]\nroute = \"/\"\nmodule = \"a\"\n", 1, 10,
                "limits must be a table ([limits]), not an integer");
  check_invalid("default_host = 1\n[[module]]\nroute = \"/\"\nmodule = \"a\"\n", 1, 16,
                "default_host must be a string, not an integer");
  check_fail("[[module]]\nroute = \"/\"\nroute = \"/b\"\n", SRV_CONFIG_ERR_SYNTAX, 3, 1,
             "duplicate key 'route' (first defined at line 2)");
}

static void test_key_errors(void **state) {
  (void)state;
  static const struct {
    const char *doc;
    unsigned line, col;
    const char *what;
  } cases[] = {
      {"[[module]]\nroute = 1\nmodule = \"m\"\n", 2, 9,
       "module 1: route must be a string, not an integer"},
      {"[[module]]\nroute = \"\"\nmodule = \"m\"\n", 2, 9, "module 1: route must not be empty"},
      {"[[module]]\nroute = \"/a\\u0000b\"\nmodule = \"m\"\n", 2, 9,
       "route must not contain NUL characters"},
      {"[[module]]\nroute = [\"/\"]\nmodule = \"m\"\n", 2, 9,
       "route must be a string, not an array"},
      {"[[module]]\nroute = \"/\"\nmodule = 3\n", 3, 10,
       "module 1 (route \"/\"): module must be a string"},
      {"[[module]]\nroute = \"/\"\nmodule = \"\"\n", 3, 10, "module must not be empty"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_invalid(cases[i].doc, cases[i].line, cases[i].col, cases[i].what);

  /* everything after route/module: line 4 in module_doc, value at col `col` */
  static const struct {
    const char *module, *extra;
    unsigned line, col;
    const char *what;
  } mc[] = {
      /* module references */
      {"oci:foo:bar", "", 3, 10,
       "module 1 (route \"/r\"): bindle/OCI module references are not supported by wagi-c: "
       "\"oci:foo:bar\""},
      {"oci://example.com:9000/foo:dev", "", 3, 10,
       "bindle/OCI module references are not supported by wagi-c"},
      {"bindle:example.com/hello/1.0.0", "", 3, 10,
       "bindle/OCI module references are not supported by wagi-c"},
      {"BINDLE:x/1", "", 3, 10, "bindle/OCI module references are not supported by wagi-c"},
      {"https://example.com/x.wasm", "", 3, 10,
       "unsupported module reference scheme 'https:' in \"https://example.com/x.wasm\""},
      {"C:\\\\mods\\\\x.wasm", "", 3, 10, "unsupported module reference scheme 'C:'"},
      {"file://example.com/x.wasm", "", 3, 10,
       "file: URL \"file://example.com/x.wasm\" names host 'example.com'"},
      {"file:///x.wasm?v=1", "", 3, 10, "must not have a query or fragment"},
      {"file:///x.wasm#f", "", 3, 10, "must not have a query or fragment"},
      {"file://", "", 3, 10, "file: URL \"file://\" has no path"},
      {"file:", "", 3, 10, "has no path"},
      {"file:///a%zz.wasm", "", 3, 10, "has an invalid %-escape"},
      {"file:///a%2", "", 3, 10, "has an invalid %-escape"},
      {"file:///a%00.wasm", "", 3, 10, "has an invalid %-escape"},
      /* entrypoint, argv, host */
      {"m", "entrypoint = 1\n", 4, 14, "entrypoint must be a string, not an integer"},
      {"m", "entrypoint = \"\"\n", 4, 14, "entrypoint must not be empty"},
      {"m", "argv = true\n", 4, 8, "argv must be a string, not a boolean"},
      {"m", "host = 1.5\n", 4, 8, "host must be a string, not a float"},
      {"m", "host = \"\"\n", 4, 8, "host must not be empty"},
      /* volumes */
      {"m", "volumes = \"/d\"\n", 4, 11,
       "volumes must be a table of guest path = host directory, not a string"},
      {"m", "volumes = [\"/d\"]\n", 4, 11, "volumes must be a table"},
      {"m", "volumes = { \"/d\" = 1 }\n", 4, 20,
       "volumes[\"/d\"] (the host directory) must be a string, not an integer"},
      {"m", "volumes = { \"/d\" = \"\" }\n", 4, 20,
       "volumes[\"/d\"] (the host directory) must not be empty"},
      {"m", "volumes = { \"\" = \"/x\" }\n", 4, 13, "volumes: the guest path must not be empty"},
      {"m", "[module.volumes]\n\"/d\" = { x = 1 }\n", 5, 8, "must be a string, not a table"},
      /* allowed_hosts */
      {"m", "allowed_hosts = \"https://x\"\n", 4, 17,
       "allowed_hosts must be an array of strings, not a string"},
      {"m", "allowed_hosts = [1]\n", 4, 18, "allowed_hosts entry must be a string, not an integer"},
      {"m", "allowed_hosts = [\"\"]\n", 4, 18, "allowed_hosts entry must not be empty"},
      {"m", "allowed_hosts = [\"https://ok.org\", \"example.com\"]\n", 4, 36,
       "module 1 (route \"/r\"): invalid allowed_hosts entry \"example.com\": no scheme: write "
       "\"https://example.com\""},
      {"m", "allowed_hosts = [\"localhost:8080\"]\n", 4, 18, "no scheme"},
      {"m", "allowed_hosts = [\"ftp://x.org\"]\n", 4, 18, "scheme 'ftp' is not http or https"},
      {"m", "allowed_hosts = [\"https:/x.org\"]\n", 4, 18, "expected \"https://\" before the host"},
      {"m", "allowed_hosts = [\"://x.org\"]\n", 4, 18,
       "not a URL of the form scheme://host[:port]"},
      {"m", "allowed_hosts = [\"https://\"]\n", 4, 18, "no host"},
      {"m", "allowed_hosts = [\"https://:80\"]\n", 4, 18, "no host"},
      {"m", "allowed_hosts = [\"https://x.org:\"]\n", 4, 18, "empty port"},
      {"m", "allowed_hosts = [\"https://x.org:0\"]\n", 4, 18, "port out of range"},
      {"m", "allowed_hosts = [\"https://x.org:65536\"]\n", 4, 18, "port out of range"},
      {"m", "allowed_hosts = [\"https://x.org:8a\"]\n", 4, 18, "invalid port"},
      {"m", "allowed_hosts = [\"https://x.org/api\"]\n", 4, 18, "a path is not allowed"},
      {"m", "allowed_hosts = [\"https://x.org?a=1\"]\n", 4, 18,
       "a query or fragment is not allowed"},
      {"m", "allowed_hosts = [\"https://user@x.org\"]\n", 4, 18, "user information is not allowed"},
      {"m", "allowed_hosts = [\"https://ex ample.org\"]\n", 4, 18,
       "invalid character ' ' in host name"},
      {"m", "allowed_hosts = [\"https://[::1\"]\n", 4, 18, "unterminated IPv6 address"},
      {"m", "allowed_hosts = [\"https://[xyz]\"]\n", 4, 18, "invalid IPv6 address"},
      {"m", "allowed_hosts = [\"https://[::1]x\"]\n", 4, 18,
       "unexpected characters after the IPv6 address"},
      /* http_max_concurrency */
      {"m", "http_max_concurrency = 0\n", 4, 24,
       "http_max_concurrency must be at least 1 (0 would refuse every outbound request)"},
      {"m", "http_max_concurrency = -1\n", 4, 24,
       "http_max_concurrency must be at least 1 (got -1)"},
      {"m", "http_max_concurrency = 4294967296\n", 4, 24,
       "http_max_concurrency must be at most 4294967295"},
      {"m", "http_max_concurrency = \"2\"\n", 4, 24,
       "http_max_concurrency must be an integer, not a string"},
      {"m", "http_max_concurrency = 2.0\n", 4, 24,
       "http_max_concurrency must be an integer, not a float"},
      /* environment */
      {"m", "environment = [\"A=1\"]\n", 4, 15,
       "environment must be a table of NAME = \"value\", not an array"},
      {"m", "environment = { A = 1 }\n", 4, 21, "environment.A must be a string, not an integer"},
      {"m", "environment = { \"A=B\" = \"x\" }\n", 4, 17,
       "environment: variable name \"A=B\" must not contain '='"},
      {"m", "environment = { \"\" = \"x\" }\n", 4, 17,
       "environment: variable names must not be empty"},
      {"m", "environment = { A = \"x\\u0000y\" }\n", 4, 21,
       "environment.A must not contain NUL characters"},
      {"m", "environment.A.B = \"x\"\n", 4, 13, "environment.A must be a string, not a table"},
      /* limits in a module */
      {"m", "time_limit_ms = 0\n", 4, 17,
       "module 1 (route \"/r\"): time_limit_ms must be at least 1 (got 0)"},
      {"m", "time_limit_ms = 86400001\n", 4, 17, "time_limit_ms must be at most 86400000"},
      {"m", "time_limit_ms = \"30s\"\n", 4, 17, "time_limit_ms must be an integer, not a string"},
      {"m", "memory_limit_bytes = 100000\n", 4, 22,
       "memory_limit_bytes must be a multiple of the wasm page size 65536 (e.g. 65536 = 1 pages)"},
      {"m", "memory_limit_bytes = 0\n", 4, 22, "memory_limit_bytes must be at least 65536"},
      {"m", "memory_limit_bytes = 4295032832\n", 4, 22,
       "memory_limit_bytes must be at most 4294967296"},
      {"m", "output_limit_bytes = 0\n", 4, 22, "output_limit_bytes must be at least 1"},
      {"m", "output_limit_bytes = 4294967297\n", 4, 22,
       "output_limit_bytes must be at most 4294967296"},
      {"m", "max_request_body_bytes = -5\n", 4, 26,
       "max_request_body_bytes must be at least 1 (got -5)"},
      {"m", "max_concurrent_requests = 0\n", 4, 27, "max_concurrent_requests must be at least 1"},
      {"m", "max_concurrent_requests = 4294967296\n", 4, 27,
       "max_concurrent_requests must be at most 4294967295"},
  };
  for (size_t i = 0; i < sizeof mc / sizeof mc[0]; i++)
    check_invalid(module_doc(mc[i].module, mc[i].extra), mc[i].line, mc[i].col, mc[i].what);

  /* [limits] errors have no module context */
  check_invalid("[limits]\ntime_limit_ms = 0\n[[module]]\nroute = \"/\"\nmodule = \"a\"\n", 2, 17,
                "time_limit_ms must be at least 1");
  check_invalid("[limits]\nmemory_limit_bytes = 65537\n", 2, 22,
                "memory_limit_bytes must be a multiple");
}

/* Random mutations of valid configs: a config or a well-formed error, never
 * a crash or a leak (run under `make san`). */
static void test_mutations(void **state) {
  (void)state;
  static const char *seeds[] = {
      "[limits]\ntime_limit_ms = 5\nmemory_limit_bytes = 131072\n[[module]]\nroute = \"r\"\n"
      "module = \"file:///a%20b.wasm\"\nvolumes = { \"/d\" = \"/x\" }\n"
      "allowed_hosts = [\"insecure:allow-all\", \"https://A.b:1/\", \"http://[::1]:80\"]\n"
      "environment = { A = \"1\" }\nhost = \"H\"\nargv = \"a b\"\nentrypoint = "
      "\"e\"\nhttp_max_concurrency = 3\n"
      "[[module]]\nroute = \"/r\"\nmodule = \"oci:x\"\n",
      "module = [{route = \"/\", module = \"x.wasm\", max_concurrent_requests = 2, "
      "output_limit_bytes = 10}]\n"
      "default_host = \"h:1\"\n",
      "[[module]]\nroute = \"/hello/...\"\nmodule = \"file:///srv/hello.wasm\"\nentrypoint = "
      "\"hello\"\n"
      "volumes = { \"/data\" = \"/srv/data\" }\nallowed_hosts = [\"https://api.example.com\"]\n"
      "http_max_concurrency = 2\nargv = \"ruby /app.rb ${SCRIPT_NAME} ${ARGS}\"\n",
  };
  static const char interesting[] = "[]{}=\"'.,#\n:/%0123456789_-@";
  uint64_t rs = 0x9E3779B97F4A7C15ull;
  char buf[1024];
  size_t nseeds = sizeof seeds / sizeof seeds[0], loaded = 0;
  for (int it = 0; it < 20000; it++) {
    const char *sd = seeds[(size_t)it % nseeds];
    size_t n = strlen(sd);
    memcpy(buf, sd, n);
    for (int m = 0; m < 1 + it % 3; m++)
      mutate_text(buf, &n, sizeof buf, &rs, interesting, sizeof interesting - 1, false, 6);
    char *doc = malloc(n ? n : 1);
    assert_non_null(doc);
    memcpy(doc, buf, n);
    srv_config *c = NULL;
    char err[512];
    srv_config_status st = srv_config_parse(doc, n, "m.toml", &c, err, sizeof err);
    if (st == SRV_CONFIG_OK) {
      loaded++;
      srv_config_free(c);
    } else if (strncmp(err, "m.toml:", 7) != 0) {
      fail_msg("bad error: %s", err);
    }
    free(doc);
  }
  assert_true(loaded > 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_example),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_several_modules),
      cmocka_unit_test(test_module_references),
      cmocka_unit_test(test_route_normalisation),
      cmocka_unit_test(test_allowed_hosts),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_unknown_keys_warned),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_structure_errors),
      cmocka_unit_test(test_key_errors),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
