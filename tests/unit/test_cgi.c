/* test_cgi.c — argv (§5.2), CGI environment (§5.3), SERVER_NAME/PORT
 * (§5.4) and --env / --env-file parsing (§1), with WAGI's test_headers,
 * test_parse_host_header_uri and env parsing vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/cgi.h"

#define H(n, v)                                                                                    \
  { n, sizeof n - 1, v, sizeof v - 1 }

/* Value of NAME in env vector `e`, or NULL. */
static const char *get(char **e, const char *name) {
  size_t n = strlen(name);
  for (; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

static size_t count(char **e, const char *name) {
  size_t n = strlen(name), c = 0;
  for (; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') c++;
  return c;
}

/* srv_cgi_pack must give exactly srv_cgi_argv + srv_cgi_env, both into a
 * buffer large enough and (via the heap) into one far too small. */
static void check_pack(const srv_request *req, const srv_route_match *m, const srv_env_list *user,
                       const char *tpl) {
  size_t ac = 0, ec = 0;
  char **a = srv_cgi_argv(req, tpl, &ac);
  char **e = srv_cgi_env(req, m, user, &ec);
  assert_non_null(a);
  assert_non_null(e);
  static char big[1 << 16];
  char tiny[8];
  for (int k = 0; k < 2; k++) {
    srv_cgi_packed p;
    assert_int_equal(
        srv_cgi_pack(req, tpl, m, user, k ? tiny : big, k ? sizeof tiny : sizeof big, &p), 0);
    if (k) assert_non_null(p.heap);
    else assert_null(p.heap);
    if (!k) assert_ptr_equal(p.argv, big);
    assert_int_equal(p.argc, ac);
    assert_int_equal(p.envc, ec);
    const char *q = p.argv;
    for (size_t i = 0; i < ac; i++, q += strlen(q) + 1) assert_string_equal(q, a[i]);
    assert_int_equal((size_t)(q - p.argv), p.argv_bytes);
    q = p.env;
    for (size_t i = 0; i < ec; i++, q += strlen(q) + 1) assert_string_equal(q, e[i]);
    assert_int_equal((size_t)(q - p.env), p.env_bytes);
    srv_cgi_packed_free(&p);
    assert_null(p.heap);
  }
  srv_strv_free(a);
  srv_strv_free(e);
}

/* Looks `path` up on a one-route table and builds the env. */
static char **env_for(const char *route, srv_request *req, const srv_env_list *user,
                      srv_route_table **tout) {
  srv_route_table *t = srv_route_table_new();
  char err[256];
  assert_int_equal(srv_route_table_add(t, route, NULL, NULL, NULL, NULL, err, sizeof err), 0);
  srv_route_match m;
  assert_int_equal(srv_route_lookup(t, req->path, req->path_len, NULL, &m), SRV_ROUTE_FOUND);
  size_t n = 0;
  char **e = srv_cgi_env(req, &m, user, &n);
  assert_non_null(e);
  assert_null(e[n]);
  check_pack(req, &m, user, NULL);
  check_pack(req, &m, user, "${SCRIPT_NAME} -x ${ARGS}");
  *tout = t;
  return e;
}

static void set_target(srv_request *req, const char *target) {
  srv_target t;
  srv_target_split(target, strlen(target), &t);
  req->path = t.path;
  req->path_len = t.path_len;
  req->query = t.query;
  req->query_len = t.query_len;
  req->authority = t.authority;
  req->authority_len = t.authority_len;
}

static void test_headers(void **state) {
  (void)state;
  srv_header hs[] = {
      H("X-Test-Header", "hello"),
      H("Authorization", "supersecret"),
      H("Connection", "sensitive"),
  };
  srv_request req = {0};
  req.method = "POST";
  set_target(&req, "https://example.com:3000/path/test%3brun?foo=bar");
  req.protocol = "HTTP/1.1";
  req.headers = hs;
  req.n_headers = 3;
  req.client_ip = "192.168.0.1";
  req.body_len = 1234;
  req.tls = true;
  srv_route_table *t;
  char **e = env_for("/path/...", &req, NULL, &t);
  assert_string_equal(get(e, "PATH_INFO"), "/test;run");
  assert_string_equal(get(e, "PATH_TRANSLATED"), "/test;run");
  assert_string_equal(get(e, "X_RAW_PATH_INFO"), "/test%3brun");
  assert_string_equal(get(e, "SERVER_NAME"), "example.com");
  assert_string_equal(get(e, "SERVER_PORT"), "3000");
  assert_string_equal(get(e, "SERVER_PROTOCOL"), "HTTP/1.1");
  assert_string_equal(get(e, "X_FULL_URL"), "https://example.com:3000/path/test%3brun?foo=bar");
  assert_string_equal(get(e, "CONTENT_LENGTH"), "1234");
  assert_string_equal(get(e, "HTTP_X_TEST_HEADER"), "hello");
  assert_null(get(e, "HTTP_AUTHORIZATION"));
  assert_null(get(e, "HTTP_CONNECTION"));
  assert_string_equal(get(e, "AUTH_TYPE"), "");
  assert_string_equal(get(e, "CONTENT_TYPE"), "");
  assert_string_equal(get(e, "GATEWAY_INTERFACE"), "CGI/1.1");
  assert_string_equal(get(e, "QUERY_STRING"), "foo=bar");
  assert_string_equal(get(e, "REMOTE_ADDR"), "192.168.0.1");
  assert_string_equal(get(e, "REMOTE_HOST"), "192.168.0.1");
  assert_string_equal(get(e, "REMOTE_USER"), "");
  assert_string_equal(get(e, "REQUEST_METHOD"), "POST");
  assert_string_equal(get(e, "SCRIPT_NAME"), "/path");
  assert_string_equal(get(e, "SERVER_SOFTWARE"), "WAGI/1");
  assert_string_equal(get(e, "X_MATCHED_ROUTE"), "/path/...");
  srv_strv_free(e);
  srv_route_table_free(t);
}

static void host_vec(const char *dflt, const char *host, const char *target, const char *want_name,
                     const char *want_port) {
  srv_header hs[1] = {{"Host", 4, host, host ? strlen(host) : 0}};
  srv_request req = {0};
  set_target(&req, target);
  req.headers = hs;
  req.n_headers = host ? 1 : 0;
  req.default_host = dflt;
  char name[64], port[16];
  srv_cgi_server_name_port(&req, name, sizeof name, port, sizeof port);
  assert_string_equal(name, want_name);
  assert_string_equal(port, want_port);
}

static void test_parse_host_header_uri(void **state) {
  (void)state;
  host_vec("example.com:1234", "wagi.net:31337", "/", "wagi.net", "31337");
  host_vec("example.com:1234", "wagi.net", "/", "wagi.net", "1234");
  host_vec("example.com:1234", NULL, "/", "example.com", "1234");
  host_vec("", NULL, "http://localhost:8080/foo", "localhost", "8080");
  host_vec(NULL, NULL, "/", "localhost", "80");
  host_vec("localhost:3000", "example.com", "/", "example.com", "3000");
  host_vec("localhost:3000", ":9", "/", "localhost", "9");
  /* wagi-c fix: bracketed IPv6 literals. */
  host_vec("localhost:3000", "[::1]:8080", "/", "[::1]", "8080");
  host_vec("localhost:3000", "[::1]", "/", "[::1]", "3000");
  host_vec("[::1]:99", NULL, "/", "[::1]", "99");
  host_vec("", NULL, "http://[fe80::1]:81/x", "[fe80::1]", "81");
  /* A Host that is not valid text is ignored. */
  host_vec("example.com:1234", "bad\x80host", "/", "example.com", "1234");
}

static void test_target_split(void **state) {
  (void)state;
  srv_target t;
  srv_target_split("/a/b?x=1&y", 10, &t);
  assert_null(t.authority);
  assert_int_equal(t.path_len, 4);
  assert_memory_equal(t.path, "/a/b", 4);
  assert_int_equal(t.query_len, 5);
  assert_memory_equal(t.query, "x=1&y", 5);
  srv_target_split("/a?", 3, &t);
  assert_non_null(t.query);
  assert_int_equal(t.query_len, 0);
  srv_target_split("/a", 2, &t);
  assert_null(t.query);
  srv_target_split("http://h:1", 10, &t);
  assert_int_equal(t.authority_len, 3);
  assert_memory_equal(t.authority, "h:1", 3);
  assert_int_equal(t.path_len, 1);
  assert_memory_equal(t.path, "/", 1);
  srv_target_split("http://u:p@h/x?q", 16, &t);
  assert_int_equal(t.authority_len, 1);
  assert_memory_equal(t.authority, "h", 1);
  srv_target_split("*", 1, &t);
  assert_null(t.authority);
  assert_int_equal(t.path_len, 1);
}

static void test_path_info_decoding(void **state) {
  (void)state;
  struct {
    const char *path, *want;
  } v[] = {
      {"/p/a%2Fb", "/a/b"},
      {"/p/a+b", "/a+b"},
      {"/p/%C3%A9", "/\xC3\xA9"},
      {"/p/%C3%28", "/\xEF\xBF\xBD("},
      {"/p/%FF", "/\xEF\xBF\xBD"},
      {"/p/%E2%82", "/\xEF\xBF\xBD"}, /* one maximal subpart -> one U+FFFD */
      {"/p/%ED%A0%80", "/\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
      {"/p/100%", "/100%"},
      {"/p/%zz%4", "/%zz%4"},
      {"/p/%41%42", "/AB"},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    srv_request req = {0};
    set_target(&req, v[i].path);
    srv_route_table *t;
    char **e = env_for("/p/...", &req, NULL, &t);
    assert_string_equal(get(e, "PATH_INFO"), v[i].want);
    assert_string_equal(get(e, "X_RAW_PATH_INFO"), v[i].path + 2);
    srv_strv_free(e);
    srv_route_table_free(t);
  }
}

/* A decoded NUL cannot be in an environment string: the server answers 400
 * for such paths (srv_cgi_path_info_has_nul), and PATH_INFO keeps "%00"
 * encoded should the env be built anyway, so the block always holds exactly
 * envc strings. Only the PATH_INFO part counts. */
static void test_path_info_nul(void **state) {
  (void)state;
  struct {
    const char *path;
    bool nul;
    const char *want;
  } v[] = {
      {"/p/x%00y", true, "/x%00y"}, {"/p/%00", true, "/%00"},      {"/p/a%41%00", true, "/aA%00"},
      {"/p/%2500", false, "/%00"}, /* an encoded '%' followed by "00" */
      {"/p/%0", false, "/%0"},      {"/p/%", false, "/%"},         {"/p/%0a", false, "/\n"},
      {"/p/%x00", false, "/%x00"},  {"/p/ok?q=%00", false, "/ok"},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    srv_request req = {0};
    set_target(&req, v[i].path);
    srv_route_table *t = srv_route_table_new();
    char err[256];
    assert_int_equal(srv_route_table_add(t, "/p/...", NULL, NULL, NULL, NULL, err, sizeof err), 0);
    srv_route_match m;
    assert_int_equal(srv_route_lookup(t, req.path, req.path_len, NULL, &m), SRV_ROUTE_FOUND);
    assert_int_equal(srv_cgi_path_info_has_nul(&m), v[i].nul);
    size_t n = 0;
    char **e = srv_cgi_env(&req, &m, NULL, &n);
    assert_non_null(e);
    assert_int_equal(n, 19);
    assert_string_equal(get(e, "PATH_INFO"), v[i].want);
    check_pack(&req, &m, NULL, NULL);
    srv_strv_free(e);
    srv_route_table_free(t);
  }
  /* Exact routes have no PATH_INFO; no match at all is no NUL either. */
  srv_route_match none = {0};
  assert_false(srv_cgi_path_info_has_nul(&none));
  assert_false(srv_cgi_path_info_has_nul(NULL));
}

/* Repeated names: one variable, values in order joined with ", " (Cookie:
 * "; "), whatever the spelling of the name; one bad value spoils all. A
 * name with '_' is dropped, so "X_Under" cannot pose as "X-Under", and a
 * user variable of that name is not shadowed by it. */
static void test_repeated_and_underscore_headers(void **state) {
  (void)state;
  srv_header hs[] = {
      H("X-Dup", "1"),           H("Cookie", "a=1"),       H("x-dup", "2"),  H("X_Under", "evil"),
      H("X-Under", "good"),      H("cookie", "b=2"),       H("X-DUP", "3"),  H("X-Bad", "ok"),
      H("X-Bad", "caf\xC3\xA9"), H("Only_Under", "x"),     H("X-Empty", ""), H("X-Empty", ""),
      H("Content-Type", "a/b"),  H("Content-Type", "c/d"),
  };
  srv_env_list user = {0};
  assert_int_equal(srv_env_list_set(&user, "HTTP_ONLY_UNDER", 15, "user", 4), 0);
  srv_request req = {0};
  req.method = "GET";
  set_target(&req, "/x");
  req.headers = hs;
  req.n_headers = sizeof hs / sizeof *hs;
  srv_route_table *t;
  char **e = env_for("/x", &req, &user, &t);
  assert_string_equal(get(e, "HTTP_X_DUP"), "1, 2, 3");
  assert_int_equal(count(e, "HTTP_X_DUP"), 1);
  assert_string_equal(get(e, "HTTP_COOKIE"), "a=1; b=2");
  assert_string_equal(get(e, "HTTP_X_UNDER"), "good");
  assert_int_equal(count(e, "HTTP_X_UNDER"), 1);
  assert_string_equal(get(e, "HTTP_X_BAD"), "CORRUPT VALUE");
  assert_string_equal(get(e, "HTTP_X_EMPTY"), ", ");
  assert_string_equal(get(e, "HTTP_ONLY_UNDER"), "user");
  assert_string_equal(get(e, "HTTP_CONTENT_TYPE"), "a/b, c/d");
  srv_strv_free(e);
  srv_route_table_free(t);

  /* Only the underscore spelling: no variable at all. */
  srv_header h2[] = {H("X_Under", "evil")};
  req.headers = h2;
  req.n_headers = 1;
  e = env_for("/x", &req, NULL, &t);
  assert_null(get(e, "HTTP_X_UNDER"));
  srv_strv_free(e);
  srv_route_table_free(t);
  srv_env_list_free(&user);
}

static void test_http_vars(void **state) {
  (void)state;
  srv_header hs[] = {
      H("Content-Type", "text/plain"),
      H("x-dup", "one"),
      H("Accept-Encoding", "gzip"),
      H("X-Dup", "two"),
      H("X-Bin", "caf\xC3\xA9"),
      H("X-Tab", "a\tb c"),
      H("Cookie", "a=b"),
      H("Host", "example.org:8080"),
      H("Content-Length", "5"),
      H("bad=name", "x"),
      H("AUTHORIZATION", "x"),
  };
  srv_request req = {0};
  req.method = "PUT";
  set_target(&req, "/x?");
  req.headers = hs;
  req.n_headers = sizeof hs / sizeof *hs;
  req.client_ip = "::1";
  req.body_len = 5;
  req.default_host = "localhost:3000";
  srv_route_table *t;
  char **e = env_for("/x", &req, NULL, &t);
  assert_string_equal(get(e, "CONTENT_TYPE"), "text/plain");
  assert_string_equal(get(e, "HTTP_CONTENT_TYPE"), "text/plain");
  assert_string_equal(get(e, "HTTP_X_DUP"), "one, two"); /* RFC 3875 4.1.18 */
  assert_int_equal(count(e, "HTTP_X_DUP"), 1);
  assert_string_equal(get(e, "HTTP_ACCEPT_ENCODING"), "gzip");
  assert_string_equal(get(e, "HTTP_X_BIN"), "CORRUPT VALUE");
  assert_string_equal(get(e, "HTTP_X_TAB"), "a\tb c");
  assert_string_equal(get(e, "HTTP_COOKIE"), "a=b");
  assert_string_equal(get(e, "HTTP_HOST"), "example.org:8080");
  assert_string_equal(get(e, "HTTP_CONTENT_LENGTH"), "5");
  assert_null(get(e, "HTTP_AUTHORIZATION"));
  assert_null(get(e, "HTTP_BAD=NAME"));
  assert_string_equal(get(e, "QUERY_STRING"), "");
  assert_string_equal(get(e, "X_FULL_URL"), "http://example.org:8080/x?");
  assert_string_equal(get(e, "REMOTE_ADDR"), "::1");
  assert_string_equal(get(e, "SCRIPT_NAME"), "/x");
  assert_string_equal(get(e, "PATH_INFO"), "");
  srv_strv_free(e);
  srv_route_table_free(t);

  /* Many headers: the dedup table grows past its stack size. */
  enum { N = 700 };
  srv_header *many = calloc(N, sizeof *many);
  char(*names)[16] = calloc(N, 16);
  for (int i = 0; i < N; i++) {
    snprintf(names[i], 16, "x-h%d", i % 350);
    many[i].name = names[i];
    many[i].name_len = strlen(names[i]);
    many[i].value = i < 350 ? "old" : "new";
    many[i].value_len = 3;
  }
  srv_request r2 = {0};
  set_target(&r2, "/x");
  r2.headers = many;
  r2.n_headers = N;
  e = env_for("/x", &r2, NULL, &t);
  assert_int_equal(count(e, "HTTP_X_H7"), 1);
  assert_string_equal(get(e, "HTTP_X_H349"), "old, new");
  size_t n = 0;
  while (e[n]) n++;
  assert_int_equal(n, 19 + 350);
  srv_strv_free(e);
  srv_route_table_free(t);
  free(many);
  free(names);
}

static void test_env_precedence(void **state) {
  (void)state;
  char err[256];
  srv_env_list module = {0}, file = {0}, cli = {0}, merged = {0};
  assert_int_equal(srv_env_list_set(&module, "A", 1, "module", 6), 0);
  assert_int_equal(srv_env_list_set(&module, "B", 1, "module", 6), 0);
  assert_int_equal(srv_env_list_set(&module, "C", 1, "module", 6), 0);
  assert_int_equal(srv_env_list_set(&module, "SERVER_NAME", 11, "module", 6), 0);
  const char *ftext = "B=file\nC=file\n";
  assert_int_equal(srv_env_parse_text(ftext, strlen(ftext), "f.env", &file, err, sizeof err), 0);
  assert_int_equal(srv_env_parse_assignment("C=cli", &cli, err, sizeof err), 0);
  assert_int_equal(srv_env_parse_assignment("REQUEST_METHOD=cli", &cli, err, sizeof err), 0);
  assert_int_equal(srv_env_parse_assignment("HTTP_X_Y=cli", &cli, err, sizeof err), 0);
  assert_int_equal(srv_env_parse_assignment("HTTP_OTHER=cli", &cli, err, sizeof err), 0);
  assert_int_equal(srv_env_merge(&module, &file, &cli, &merged), 0);
  assert_int_equal(merged.n, 7);

  srv_header hs[] = {H("X-Y", "header")};
  srv_request req = {0};
  req.method = "GET";
  set_target(&req, "/");
  req.headers = hs;
  req.n_headers = 1;
  srv_route_table *t;
  char **e = env_for("/", &req, &merged, &t);
  assert_string_equal(get(e, "A"), "module");
  assert_string_equal(get(e, "B"), "file");
  assert_string_equal(get(e, "C"), "cli");
  assert_string_equal(get(e, "REQUEST_METHOD"), "GET");
  assert_int_equal(count(e, "REQUEST_METHOD"), 1);
  assert_string_equal(get(e, "SERVER_NAME"), "localhost");
  assert_int_equal(count(e, "SERVER_NAME"), 1);
  assert_string_equal(get(e, "HTTP_X_Y"), "header");
  assert_int_equal(count(e, "HTTP_X_Y"), 1);
  assert_string_equal(get(e, "HTTP_OTHER"), "cli");
  srv_strv_free(e);
  srv_route_table_free(t);
  srv_env_list_free(&module);
  srv_env_list_free(&file);
  srv_env_list_free(&cli);
  srv_env_list_free(&merged);
}

static void test_env_assignment(void **state) {
  (void)state;
  char err[256];
  srv_env_list l = {0};
  assert_int_equal(srv_env_parse_assignment("FOO=bar", &l, err, sizeof err), 0);
  assert_string_equal(l.items[0].value, "bar");
  assert_int_equal(srv_env_parse_assignment("FOO=", &l, err, sizeof err), 0);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.items[0].value, "");
  struct {
    const char *arg, *want;
  } v[] = {
      {"Q=\"quoted\"", "quoted"},
      {"Q='single'", "single"},
      {"Q=\"unmatched", "\"unmatched"},
      {"Q=unmatched'", "unmatched'"},
      {"Q=\"mixed'", "\"mixed'"},
      {"Q=\"", "\""},
      {"Q=\"\"", ""},
      {"Q=a=b=c", "a=b=c"},
      {"Q= spaced ", " spaced "},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    assert_int_equal(srv_env_parse_assignment(v[i].arg, &l, err, sizeof err), 0);
    assert_string_equal(l.items[1].value, v[i].want);
  }
  assert_int_equal(srv_env_parse_assignment("FOO", &l, err, sizeof err), -1);
  assert_non_null(strstr(err, "FOO"));
  assert_int_equal(srv_env_parse_assignment("=bar", &l, err, sizeof err), -1);
  assert_non_null(strstr(err, "empty"));
  srv_env_list_free(&l);
}

static void test_env_file(void **state) {
  (void)state;
  char err[256];
  char path[] = "/tmp/wagi-test-envXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "FIRST=1\nSECOND=2\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  srv_env_list file = {0}, cli = {0}, merged = {0};
  assert_int_equal(srv_env_parse_file(path, &file, err, sizeof err), 0);
  unlink(path);
  assert_int_equal(srv_env_parse_assignment("SECOND=two", &cli, err, sizeof err), 0);
  assert_int_equal(srv_env_parse_assignment("THIRD=3", &cli, err, sizeof err), 0);
  assert_int_equal(srv_env_merge(NULL, &file, &cli, &merged), 0);
  assert_int_equal(merged.n, 3);
  assert_string_equal(merged.items[0].name, "FIRST");
  assert_string_equal(merged.items[0].value, "1");
  assert_string_equal(merged.items[1].value, "two");
  assert_string_equal(merged.items[2].value, "3");
  srv_env_list_free(&file);
  srv_env_list_free(&cli);
  srv_env_list_free(&merged);

  assert_int_equal(srv_env_parse_file("/nonexistent/x.env", &file, err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent/x.env"));

  const char *rich =
      "# comment\n"
      "\n"
      "export EXP=yes\n"
      "  SP = spaced value  \n"
      "DQ=\"a\\nb \\\"q\\\" $x\"\n"
      "SQ='lit\\n # not comment'\n"
      "UNQ=val # comment\n"
      "HASH=a#b\n"
      "ML=\"line1\nline2\"\n"
      "CRLF=x\r\n"
      "EMPTY=\n";
  srv_env_list l = {0};
  assert_int_equal(srv_env_parse_text(rich, strlen(rich), "rich", &l, err, sizeof err), 0);
  struct {
    const char *k, *v;
  } want[] = {
      {"EXP", "yes"},          {"SP", "spaced value"},
      {"DQ", "a\nb \"q\" $x"}, {"SQ", "lit\\n # not comment"},
      {"UNQ", "val"},          {"HASH", "a#b"},
      {"ML", "line1\nline2"},  {"CRLF", "x"},
      {"EMPTY", ""},
  };
  assert_int_equal(l.n, sizeof want / sizeof *want);
  for (size_t i = 0; i < l.n; i++) {
    assert_string_equal(l.items[i].name, want[i].k);
    assert_string_equal(l.items[i].value, want[i].v);
  }
  srv_env_list_free(&l);

  struct {
    const char *text, *msg;
  } bad[] = {
      {"OK=1\nNOEQUALS\n", "bad:2: expected NAME=VALUE"},
      {"=v\n", "bad:1: the variable name is empty"},
      {"A B=v\n", "bad:1: invalid variable name"},
      {"A=\"open\n", "unterminated double quote"},
      {"A='x' trailing\n", "bad:1: unexpected text"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(
        srv_env_parse_text(bad[i].text, strlen(bad[i].text), "bad", &l, err, sizeof err), -1);
    if (!strstr(err, bad[i].msg)) fail_msg("'%s' gave '%s'", bad[i].text, err);
    srv_env_list_free(&l);
  }
}

static char **argv_of(const char *target, const char *tpl, size_t *argc) {
  static srv_request req;
  memset(&req, 0, sizeof req);
  set_target(&req, target);
  char **a = srv_cgi_argv(&req, tpl, argc);
  assert_non_null(a);
  assert_null(a[*argc]);
  check_pack(&req, NULL, NULL, tpl);
  return a;
}

static void test_argv(void **state) {
  (void)state;
  size_t n;
  char **a = argv_of("/foo/bar", NULL, &n);
  assert_int_equal(n, 1);
  assert_string_equal(a[0], "/foo/bar");
  srv_strv_free(a);
  a = argv_of("/foo?", NULL, &n);
  assert_int_equal(n, 2);
  assert_string_equal(a[1], "");
  srv_strv_free(a);
  a = argv_of("/foo?a=1&&b+c%20d&", NULL, &n);
  assert_int_equal(n, 5);
  assert_string_equal(a[1], "a=1");
  assert_string_equal(a[2], "");
  assert_string_equal(a[3], "b+c%20d");
  assert_string_equal(a[4], "");
  srv_strv_free(a);
  a = argv_of("/?p1=v1&p2=v2", "ruby /env.rb ${SCRIPT_NAME} ${ARGS}", &n);
  assert_int_equal(n, 5);
  assert_string_equal(a[0], "ruby");
  assert_string_equal(a[1], "/env.rb");
  assert_string_equal(a[2], "/");
  assert_string_equal(a[3], "p1=v1");
  assert_string_equal(a[4], "p2=v2");
  srv_strv_free(a);
  a = argv_of("/x", "  python3   ${SCRIPT_NAME}${ARGS}  -v ", &n);
  assert_int_equal(n, 3);
  assert_string_equal(a[1], "/x");
  assert_string_equal(a[2], "-v");
  srv_strv_free(a);
  a = argv_of("/s?a+b&c%26d", "${SCRIPT_NAME} ${SCRIPT_NAME} x${ARGS}y ${UNKNOWN}", &n);
  assert_int_equal(n, 5);
  assert_string_equal(a[0], "/s");
  assert_string_equal(a[1], "/s");
  assert_string_equal(a[2], "xa+b");
  assert_string_equal(a[3], "c%26dy");
  assert_string_equal(a[4], "${UNKNOWN}");
  srv_strv_free(a);
  a = argv_of("/s", "", &n);
  assert_int_equal(n, 0);
  srv_strv_free(a);
}

/* Header values are checked eight bytes at a time: every bad byte at every
 * position of a word (and of the tail) must still make CORRUPT VALUE, and
 * TAB / space / '~' anywhere must not. */
static void test_header_value_bytes(void **state) {
  (void)state;
  static const unsigned char bad[] = {0x00, 0x01, 0x08, 0x0a, 0x1f, 0x7f, 0x80, 0xa0, 0xfe, 0xff};
  static const unsigned char good[] = {'\t', ' ', '~', 'A', '!'};
  char v[32];
  srv_header hs[1] = {{"X-V", 3, v, 0}};
  srv_request req = {0};
  req.method = "GET";
  set_target(&req, "/");
  req.headers = hs;
  req.n_headers = 1;
  for (size_t len = 1; len <= 27; len += 13) {
    for (size_t pos = 0; pos < len; pos++) {
      for (int kind = 0; kind < 2; kind++) {
        size_t nb = kind ? sizeof good : sizeof bad;
        for (size_t b = 0; b < nb; b++) {
          memset(v, 'a', sizeof v);
          v[pos] = (char)(kind ? good[b] : bad[b]);
          hs[0].value_len = len;
          srv_route_table *t;
          char **e = env_for("/", &req, NULL, &t);
          const char *got = get(e, "HTTP_X_V");
          assert_non_null(got);
          if (kind) {
            assert_int_equal(strlen(got), len);
            assert_memory_equal(got, v, len);
          } else {
            assert_string_equal(got, "CORRUPT VALUE");
          }
          srv_strv_free(e);
          srv_route_table_free(t);
        }
      }
    }
  }
}

/* More headers than the scan keeps on the stack, names with '_' (dropped:
 * "X_A" would pose as "x-a"), a user HTTP_ variable shadowed by a header
 * far down the list, and names that are no tokens. */
static void test_pack_many_headers(void **state) {
  (void)state;
  enum { N = 150 };
  srv_header *hs = calloc(N, sizeof *hs);
  char(*names)[16] = calloc(N, 16);
  for (int i = 0; i < N; i++) {
    snprintf(names[i], 16, i % 3 == 0 ? "x-h%d" : i % 3 == 1 ? "X_H%d" : "x h%d", i % 40);
    hs[i].name = names[i];
    hs[i].name_len = strlen(names[i]);
    hs[i].value = i >= N - 40 ? "late" : "early";
    hs[i].value_len = strlen(hs[i].value);
  }
  hs[N - 1] = (srv_header)H("X-Shadow", "header");
  srv_env_list user = {0};
  assert_int_equal(srv_env_list_set(&user, "HTTP_X_SHADOW", 13, "user", 4), 0);
  assert_int_equal(srv_env_list_set(&user, "HTTP_X_KEPT", 11, "user", 4), 0);
  srv_request req = {0};
  req.method = "GET";
  set_target(&req, "/m?q");
  req.headers = hs;
  req.n_headers = N;
  srv_route_table *t;
  char **e = env_for("/m", &req, &user, &t);
  assert_int_equal(count(e, "HTTP_X_H5"), 1);
  /* x-h5 at i = 45; X_H5 at i = 85 dropped, "x h5" at 5 and 125 no tokens */
  assert_string_equal(get(e, "HTTP_X_H5"), "early");
  /* x-h12 at i = 12 and X_H12 at 52 (dropped), x-h12 at 132 */
  assert_string_equal(get(e, "HTTP_X_H12"), "early, late");
  assert_string_equal(get(e, "HTTP_X_SHADOW"), "header");
  assert_int_equal(count(e, "HTTP_X_SHADOW"), 1);
  assert_string_equal(get(e, "HTTP_X_KEPT"), "user");
  for (char **p = e; *p; p++) /* "x h" names skipped: no blank before '=' */
    assert_true(strcspn(*p, " ") > strcspn(*p, "="));
  srv_strv_free(e);
  srv_route_table_free(t);
  srv_env_list_free(&user);
  free(hs);
  free(names);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_parse_host_header_uri),
      cmocka_unit_test(test_target_split),
      cmocka_unit_test(test_path_info_decoding),
      cmocka_unit_test(test_path_info_nul),
      cmocka_unit_test(test_http_vars),
      cmocka_unit_test(test_repeated_and_underscore_headers),
      cmocka_unit_test(test_env_precedence),
      cmocka_unit_test(test_env_assignment),
      cmocka_unit_test(test_env_file),
      cmocka_unit_test(test_argv),
      cmocka_unit_test(test_header_value_bytes),
      cmocka_unit_test(test_pack_many_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
