/* test_route.c — routing (WAGI.md §4): pattern matching, X_RAW_PATH_INFO,
 * SCRIPT_NAME, `_routes` parsing and joining, table order, /healthz, legacy
 * host matching. Vectors from WAGI's dispatcher and dynamic_route tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/route.h"

/* Builds a table with one configured route (no _routes). */
static srv_route_table *one(const char *route) {
  srv_route_table *t = srv_route_table_new();
  assert_non_null(t);
  char err[256];
  assert_int_equal(srv_route_table_add(t, route, NULL, NULL, (void *)1, NULL, err, sizeof err), 0);
  return t;
}

static bool matches(const char *route, const char *path) {
  srv_route_table *t = one(route);
  srv_route_match m;
  srv_route_result r = srv_route_lookup(t, path, strlen(path), NULL, &m);
  srv_route_table_free(t);
  return r == SRV_ROUTE_FOUND;
}

/* X_RAW_PATH_INFO of `path` on `route`; "" when it does not match. */
static char *rel(const char *route, const char *path) {
  static char buf[256];
  srv_route_table *t = one(route);
  srv_route_match m;
  buf[0] = 0;
  if (srv_route_lookup(t, path, strlen(path), NULL, &m) == SRV_ROUTE_FOUND) {
    memcpy(buf, m.raw_path_info, m.raw_path_info_len);
    buf[m.raw_path_info_len] = 0;
  }
  srv_route_table_free(t);
  return buf;
}

static void test_exact_match(void **state) {
  (void)state;
  assert_true(matches("/foo", "/foo"));
  assert_false(matches("/foo", "/foo/"));
  assert_false(matches("/foo/", "/foo"));
  assert_true(matches("/foo/", "/foo/"));
  assert_false(matches("/foo", "/foo/bar"));
  assert_false(matches("/foo", "/Foo"));   /* case-sensitive */
  assert_false(matches("/a b", "/a%20b")); /* raw, not decoded */
  assert_true(matches("/", "/"));
  assert_false(matches("/", "/x"));
}

static void test_prefix_match(void **state) {
  (void)state;
  assert_true(matches("/foo/...", "/foo"));
  assert_true(matches("/foo/...", "/foo/"));
  assert_true(matches("/foo/...", "/foo/a/b"));
  assert_false(matches("/foo/...", "/foobar"));
  assert_false(matches("/blah/...", "/blahahahaha")); /* wildcard only at slash */
  assert_false(matches("/foo/...", "/fo"));
  assert_true(matches("/...", "/"));
  assert_true(matches("/...", "/anything/at/all"));
  assert_true(matches("/foo/.../...", "/foo/.../x")); /* only the last /... counts */
  assert_false(matches("/foo/.../...", "/foo/x"));
}

static void test_relative_path(void **state) {
  (void)state;
  assert_string_equal(rel("/static/...", "/static/images/icon.png"), "/images/icon.png");
  assert_string_equal(rel("/static/images/icon.png", "/static/images/icon.png"), "");
  assert_string_equal(rel("/...", "/"), "/");
  assert_string_equal(rel("/", "/"), "");
  assert_string_equal(rel("/static/...", "/nope"), "");
  assert_string_equal(rel("/foo/...", "/foo"), "");
  assert_string_equal(rel("/foo/...", "/foo/"), "/");
  assert_string_equal(rel("/foo/...", "/foo/a%3Bb"), "/a%3Bb");
  assert_string_equal(rel("/test/...", "/test/fizz/buzz"), "/fizz/buzz");
}

static void test_script_name(void **state) {
  (void)state;
  struct {
    const char *route, *script, *matched;
  } v[] = {
      {"/", "/", "/"},
      {"/foo/", "/foo/", "/foo/"},
      {"/foo", "/foo", "/foo"},
      {"/...", "/", "/..."},
      {"/test/...", "/test", "/test/..."},
      {"infer", "/infer", "/infer"}, /* normalised (config warns) */
      {"api/...", "/api", "/api/..."},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    srv_route_table *t = one(v[i].route);
    const srv_route *r = srv_route_table_at(t, 0);
    assert_string_equal(r->script_name, v[i].script);
    assert_string_equal(r->text, v[i].matched);
    assert_string_equal(r->entrypoint, "_start");
    srv_route_table_free(t);
  }
  assert_true(matches("infer", "/infer"));
  assert_false(matches("infer", "infer"));
}

static void test_dynamic_parse(void **state) {
  (void)state;
  srv_dyn_routes d = {0};
  char err[256];
  assert_int_equal(srv_routes_parse_dynamic("", 0, &d, err, sizeof err), -1);
  assert_non_null(strstr(err, "empty"));
  assert_int_equal(srv_routes_parse_dynamic("\n\n", 2, &d, err, sizeof err), -1);
  const char *one_col = "/foo\n";
  assert_int_equal(srv_routes_parse_dynamic(one_col, strlen(one_col), &d, err, sizeof err), -1);
  assert_non_null(strstr(err, "line 1"));
  const char *three = "/a a\n/foo bar baz\n";
  assert_int_equal(srv_routes_parse_dynamic(three, strlen(three), &d, err, sizeof err), -1);
  assert_non_null(strstr(err, "line 2"));
  assert_non_null(strstr(err, "found 3"));
  const char *wsonly = "/a a\n   \n";
  assert_int_equal(srv_routes_parse_dynamic(wsonly, strlen(wsonly), &d, err, sizeof err), -1);
  const char *bad_utf8 = "/a\xff b\n";
  assert_int_equal(srv_routes_parse_dynamic(bad_utf8, strlen(bad_utf8), &d, err, sizeof err), -1);
  assert_non_null(strstr(err, "UTF-8"));
  assert_null(d.items);

  /* Two columns, with and without trailing LF; CRLF; tabs; blank lines. */
  const char *ok[] = {"/foo bar", "/foo bar\n", "/foo   bar\r\n", "\n\t/foo\tbar \n\n"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(srv_routes_parse_dynamic(ok[i], strlen(ok[i]), &d, err, sizeof err), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].subroute, "/foo");
    assert_string_equal(d.items[0].entrypoint, "bar");
    srv_dyn_routes_free(&d);
  }
  const char *multi = "/exact on_exact\n/wildcard/... on_wildcard\n/main _start\n";
  assert_int_equal(srv_routes_parse_dynamic(multi, strlen(multi), &d, err, sizeof err), 0);
  assert_int_equal(d.n, 3);
  assert_string_equal(d.items[1].subroute, "/wildcard/...");
  assert_string_equal(d.items[1].entrypoint, "on_wildcard");
  srv_dyn_routes_free(&d);
}

/* A NUL byte is valid UTF-8 but would silently cut the route or the
 * entrypoint name (C strings): the output is refused, naming the line. */
static void test_dynamic_parse_nul(void **state) {
  (void)state;
  srv_dyn_routes d = {0};
  char err[256];
  static const char sub[] = "/ok a\n/x\0y b\n";
  assert_int_equal(srv_routes_parse_dynamic(sub, sizeof sub - 1, &d, err, sizeof err), -1);
  assert_non_null(strstr(err, "line 2"));
  assert_non_null(strstr(err, "NUL"));
  static const char ep[] = "/x on\0y\n";
  assert_int_equal(srv_routes_parse_dynamic(ep, sizeof ep - 1, &d, err, sizeof err), -1);
  assert_non_null(strstr(err, "line 1"));
  assert_null(d.items);
}

static void test_join(void **state) {
  (void)state;
  struct {
    const char *parent, *sub, *want;
  } v[] = {
      {"/", "/exact", "/exact"},
      {"/exactparent", "/wildcard/...", "/exactparent/wildcard/..."},
      {"/exactparentslash/", "/exact", "/exactparentslash/exact"},
      {"/wildcardparent/...", "/exact", "/wildcardparent/exact"},
      {"/...", "/exact", "/exact"},
      {"/...", "exact", "/exact"},
      {"/a//", "//b", "/a///b"}, /* only ONE slash removed on each side */
      {"/api/...", "/...", "/api/..."},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    char *j = srv_route_join(v[i].parent, v[i].sub);
    assert_string_equal(j, v[i].want);
    free(j);
  }
}

/* The dynamic_routes_set_path_env_vars_correctly_module_map scenario. */
static void test_dynamic_table(void **state) {
  (void)state;
  const char *out = "/exact on_exact\n/wildcard/... on_wildcard\n/main _start\n";
  srv_dyn_routes d = {0};
  char err[256];
  assert_int_equal(srv_routes_parse_dynamic(out, strlen(out), &d, err, sizeof err), 0);
  srv_route_table *t = srv_route_table_new();
  const char *parents[] = {"/", "/exactparent", "/exactparentslash/", "/wildcardparent/..."};
  for (int i = 0; i < 4; i++)
    assert_int_equal(srv_route_table_add(t, parents[i], NULL, NULL, (void *)(intptr_t)(i + 1), &d,
                                         err, sizeof err),
                     0);
  srv_dyn_routes_free(&d);
  assert_int_equal(srv_route_table_len(t), 16);
  /* Reverse print order, then the parent. */
  assert_string_equal(srv_route_table_at(t, 0)->text, "/main");
  assert_string_equal(srv_route_table_at(t, 1)->text, "/wildcard/...");
  assert_string_equal(srv_route_table_at(t, 2)->text, "/exact");
  assert_string_equal(srv_route_table_at(t, 3)->text, "/");
  assert_true(srv_route_table_at(t, 2)->dynamic);
  assert_false(srv_route_table_at(t, 3)->dynamic);
  assert_string_equal(srv_route_table_at(t, 2)->parent_text, "/");

  struct {
    const char *path, *ep, *matched, *script, *rpi;
  } v[] = {
      {"/", "_start", "/", "/", ""},
      {"/exactparent", "_start", "/exactparent", "/exactparent", ""},
      {"/wildcardparent", "_start", "/wildcardparent/...", "/wildcardparent", ""},
      {"/wildcardparent/fizz/buzz", "_start", "/wildcardparent/...", "/wildcardparent",
       "/fizz/buzz"},
      {"/exact", "on_exact", "/exact", "/exact", ""},
      {"/exactparent/exact", "on_exact", "/exactparent/exact", "/exactparent/exact", ""},
      {"/exactparentslash/exact", "on_exact", "/exactparentslash/exact", "/exactparentslash/exact",
       ""},
      {"/wildcardparent/exact", "on_exact", "/wildcardparent/exact", "/wildcardparent/exact", ""},
      {"/wildcard/fizz/buzz", "on_wildcard", "/wildcard/...", "/wildcard", "/fizz/buzz"},
      {"/exactparent/wildcard/fizz/buzz", "on_wildcard", "/exactparent/wildcard/...",
       "/exactparent/wildcard", "/fizz/buzz"},
      {"/exactparentslash/wildcard/fizz/buzz", "on_wildcard", "/exactparentslash/wildcard/...",
       "/exactparentslash/wildcard", "/fizz/buzz"},
      {"/wildcardparent/wildcard/fizz/buzz", "on_wildcard", "/wildcardparent/wildcard/...",
       "/wildcardparent/wildcard", "/fizz/buzz"},
      {"/main", "_start", "/main", "/main", ""},
      {"/exactparent/main", "_start", "/exactparent/main", "/exactparent/main", ""},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    srv_route_match m;
    assert_int_equal(srv_route_lookup(t, v[i].path, strlen(v[i].path), NULL, &m), SRV_ROUTE_FOUND);
    assert_string_equal(m.route->entrypoint, v[i].ep);
    assert_string_equal(m.route->text, v[i].matched);
    assert_string_equal(m.route->script_name, v[i].script);
    assert_int_equal(m.raw_path_info_len, strlen(v[i].rpi));
    assert_memory_equal(m.raw_path_info, v[i].rpi, m.raw_path_info_len);
  }
  srv_route_match m;
  assert_int_equal(srv_route_lookup(t, "/does/not/exist", 15, NULL, &m), SRV_ROUTE_NONE);
  assert_null(m.route);
  srv_route_table_free(t);
}

static void test_first_match_and_healthz(void **state) {
  (void)state;
  srv_route_table *t = srv_route_table_new();
  char err[256];
  assert_int_equal(srv_route_table_add(t, "/healthz", "hz", NULL, (void *)1, NULL, err, sizeof err),
                   0);
  assert_int_equal(srv_route_table_add(t, "/a", "first", NULL, (void *)2, NULL, err, sizeof err),
                   0);
  assert_int_equal(srv_route_table_add(t, "/a", "second", NULL, (void *)3, NULL, err, sizeof err),
                   0);
  assert_int_equal(srv_route_table_add(t, "/...", "all", NULL, (void *)4, NULL, err, sizeof err),
                   0);
  assert_int_equal(srv_route_table_add(t, "/b", "shadowed", NULL, (void *)5, NULL, err, sizeof err),
                   0);
  srv_route_match m;
  assert_int_equal(srv_route_lookup(t, "/healthz", 8, NULL, &m), SRV_ROUTE_HEALTHZ);
  assert_null(m.route);
  assert_int_equal(srv_route_lookup(t, "/healthz/", 9, NULL, &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "all");
  assert_int_equal(srv_route_lookup(t, "/a", 2, NULL, &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "first");
  assert_ptr_equal(m.route->handler, (void *)2);
  assert_int_equal(srv_route_lookup(t, "/b", 2, NULL, &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "all");
  /* An empty table still answers /healthz. */
  srv_route_table *e = srv_route_table_new();
  assert_int_equal(srv_route_lookup(e, "/healthz", 8, NULL, &m), SRV_ROUTE_HEALTHZ);
  assert_int_equal(srv_route_lookup(e, "/", 1, NULL, &m), SRV_ROUTE_NONE);
  srv_route_table_free(e);
  /* Last printed matching _routes line wins inside one module. */
  const char *out = "/x/... one\n/x/y two\n/x/... three\n";
  srv_dyn_routes d = {0};
  assert_int_equal(srv_routes_parse_dynamic(out, strlen(out), &d, err, sizeof err), 0);
  srv_route_table *t2 = srv_route_table_new();
  assert_int_equal(srv_route_table_add(t2, "/p/...", "parent", NULL, NULL, &d, err, sizeof err), 0);
  srv_dyn_routes_free(&d);
  assert_int_equal(srv_route_lookup(t2, "/p/x/y", 6, NULL, &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "three");
  assert_int_equal(srv_route_lookup(t2, "/p/z", 4, NULL, &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "parent");
  srv_route_table_free(t2);
  assert_int_equal(srv_route_table_add(t, "", NULL, NULL, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "empty"));
  srv_route_table_free(t);
}

static void test_host(void **state) {
  (void)state;
  srv_route_table *t = srv_route_table_new();
  char err[256];
  assert_int_equal(
      srv_route_table_add(t, "/", "a", "Example.COM:3000", NULL, NULL, err, sizeof err), 0);
  assert_int_equal(srv_route_table_add(t, "/", "b", NULL, NULL, NULL, err, sizeof err), 0);
  srv_route_match m;
  assert_int_equal(srv_route_lookup(t, "/", 1, "example.com:3000", &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "a");
  assert_string_equal(m.route->host, "example.com:3000");
  assert_int_equal(srv_route_lookup(t, "/", 1, "EXAMPLE.com:3000", &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "a");
  assert_int_equal(srv_route_lookup(t, "/", 1, "example.com", &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "b");
  assert_int_equal(srv_route_lookup(t, "/", 1, NULL, &m), SRV_ROUTE_FOUND);
  assert_string_equal(m.route->entrypoint, "b");
  srv_route_table_free(t);
  srv_route_table *t2 = srv_route_table_new();
  assert_int_equal(srv_route_table_add(t2, "/", "a", "h:1", NULL, NULL, err, sizeof err), 0);
  assert_int_equal(srv_route_lookup(t2, "/", 1, "other:1", &m), SRV_ROUTE_NONE);
  srv_route_table_free(t2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_match),
      cmocka_unit_test(test_prefix_match),
      cmocka_unit_test(test_relative_path),
      cmocka_unit_test(test_script_name),
      cmocka_unit_test(test_dynamic_parse),
      cmocka_unit_test(test_dynamic_parse_nul),
      cmocka_unit_test(test_join),
      cmocka_unit_test(test_dynamic_table),
      cmocka_unit_test(test_first_match_and_healthz),
      cmocka_unit_test(test_host),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
