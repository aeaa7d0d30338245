"""What a module sees of its request (WAGI.md §5.2-5.4): every CGI variable
for exact, prefix and `_routes` routes, HTTP_* naming, argv rules, stdin,
and the user-variable precedence (--env, --env-file, `environment`)."""
import pytest

from conftest import WagiServer, module_entry, run_wagi

CONSTANT = {
    "AUTH_TYPE": "",
    "GATEWAY_INTERFACE": "CGI/1.1",
    "REMOTE_USER": "",
    "SERVER_SOFTWARE": "WAGI/1",
    "SERVER_PROTOCOL": "HTTP/1.1",
}
CGI_NAMES = {"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO",
             "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_USER",
             "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
             "SERVER_SOFTWARE", "X_FULL_URL", "X_MATCHED_ROUTE", "X_RAW_PATH_INFO"}


@pytest.fixture(scope="module")
def srv(modules, tmp_path_factory):
    m = modules
    cfg = "".join([
        module_entry("/exact", m["env"]),
        module_entry("/exact/", m["env"]),
        module_entry("/prefix/...", m["env"]),
        module_entry("/other", m["env"], entrypoint="other"),
        module_entry("/argv/...", m["env"], argv="ruby /env.rb ${SCRIPT_NAME} ${ARGS}"),
        module_entry("/dyn/...", m["routes"]),
        module_entry("noslash", m["env"]),
        module_entry("/...", m["env"]),
    ])
    s = WagiServer(tmp_path_factory.mktemp("cgi"), cfg).start()
    yield s
    s.stop_checked()


def status_line(resp):
    return resp.split(b"\r\n", 1)[0]


def body_json(resp):
    return __import__("json").loads(resp.split(b"\r\n\r\n", 1)[1])


def env_of(srv, path, method="GET", **kw):
    r = srv.request(method, path, **kw)
    assert r.status == 200, r
    return r.json()


def test_exact_route_variables(srv):
    j = env_of(srv, "/exact?a=1&b=2")
    env = j["env"]
    for k, v in CONSTANT.items():
        assert env[k] == v, k
    assert set(CGI_NAMES) <= set(env)
    assert env["CONTENT_LENGTH"] == "0"
    assert env["CONTENT_TYPE"] == ""
    assert env["PATH_INFO"] == ""
    assert env["PATH_TRANSLATED"] == ""
    assert env["QUERY_STRING"] == "a=1&b=2"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_HOST"] == "127.0.0.1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/exact"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(srv.port)
    assert env["X_FULL_URL"] == f"http://127.0.0.1:{srv.port}/exact?a=1&b=2"
    assert env["X_MATCHED_ROUTE"] == "/exact"
    assert env["X_RAW_PATH_INFO"] == ""
    assert env["HTTP_HOST"] == f"127.0.0.1:{srv.port}"
    assert j["argv"] == ["/exact", "a=1", "b=2"]
    assert j["handler"] == "main"


def test_exact_trailing_slash_is_distinct(srv):
    assert env_of(srv, "/exact/")["env"]["SCRIPT_NAME"] == "/exact/"
    assert env_of(srv, "/exact/")["env"]["X_MATCHED_ROUTE"] == "/exact/"
    # /exact/x matches neither exact route: it falls to the catch-all /...
    assert env_of(srv, "/exact/x")["env"]["X_MATCHED_ROUTE"] == "/..."


def test_prefix_route_variables(srv):
    env = env_of(srv, "/prefix/a%3Bb/c%2Fd+e%20f?x=%41")["env"]
    assert env["SCRIPT_NAME"] == "/prefix"
    assert env["X_MATCHED_ROUTE"] == "/prefix/..."
    assert env["X_RAW_PATH_INFO"] == "/a%3Bb/c%2Fd+e%20f"
    assert env["PATH_INFO"] == "/a;b/c/d+e f"
    assert env["PATH_TRANSLATED"] == "/a;b/c/d+e f"
    assert env["QUERY_STRING"] == "x=%41"
    assert env["X_FULL_URL"] == f"http://127.0.0.1:{srv.port}/prefix/a%3Bb/c%2Fd+e%20f?x=%41"
    for path, rpi in [("/prefix", ""), ("/prefix/", "/"), ("/prefix/x/y", "/x/y")]:
        e = env_of(srv, path)["env"]
        assert e["X_RAW_PATH_INFO"] == rpi
        assert e["PATH_INFO"] == rpi
        assert e["SCRIPT_NAME"] == "/prefix"


def test_path_info_invalid_utf8_is_replaced(srv):
    env = env_of(srv, "/prefix/%C3%A9%FF")["env"]
    assert env["PATH_INFO"] == "/\u00e9\ufffd"
    assert env["X_RAW_PATH_INFO"] == "/%C3%A9%FF"


def test_catch_all_route(srv):
    env = env_of(srv, "/some/where")["env"]
    assert env["SCRIPT_NAME"] == "/"
    assert env["X_MATCHED_ROUTE"] == "/..."
    assert env["X_RAW_PATH_INFO"] == "/some/where"
    assert env_of(srv, "/prefixed")["env"]["X_MATCHED_ROUTE"] == "/..."


def test_route_without_leading_slash_is_normalised(srv):
    env = env_of(srv, "/noslash")["env"]
    assert env["X_MATCHED_ROUTE"] == "/noslash"
    assert env["SCRIPT_NAME"] == "/noslash"
    assert srv.wait_log("noslash"), srv.logs()   # the startup warning names the route


def test_named_entrypoint(srv):
    assert env_of(srv, "/other")["handler"] == "other"


def test_dynamic_route_variables(srv):
    j = env_of(srv, "/dyn/wildcard/x%20y")
    assert j["handler"] == "wildcard"
    env = j["env"]
    assert env["X_MATCHED_ROUTE"] == "/dyn/wildcard/..."
    assert env["SCRIPT_NAME"] == "/dyn/wildcard"
    assert env["X_RAW_PATH_INFO"] == "/x%20y"
    assert env["PATH_INFO"] == "/x y"
    j = env_of(srv, "/dyn/exact")
    assert j["handler"] == "exact"
    assert j["env"]["SCRIPT_NAME"] == "/dyn/exact"
    assert j["env"]["X_RAW_PATH_INFO"] == ""
    j = env_of(srv, "/dyn/else")
    assert j["handler"] == "main"
    assert j["env"]["X_MATCHED_ROUTE"] == "/dyn/..."


def test_http_headers(srv):
    j = env_of(srv, "/exact", method="POST", body=b"hello body",
               headers={"Content-Type": "text/x-test; charset=utf-8", "X-Test-Header": "hello",
                        "Authorization": "Bearer secret", "Cookie": "a=b; c=d",
                        "Accept-Language": "en"})
    env = j["env"]
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_LENGTH"] == "10"
    assert env["CONTENT_TYPE"] == "text/x-test; charset=utf-8"
    assert env["HTTP_CONTENT_TYPE"] == "text/x-test; charset=utf-8"
    assert env["HTTP_CONTENT_LENGTH"] == "10"
    assert env["HTTP_X_TEST_HEADER"] == "hello"
    assert env["HTTP_COOKIE"] == "a=b; c=d"
    assert env["HTTP_ACCEPT_LANGUAGE"] == "en"
    assert "HTTP_AUTHORIZATION" not in env
    assert "HTTP_CONNECTION" not in env
    assert j["stdin"] == "hello body"


def test_corrupt_header_value(srv):
    raw = (b"GET /exact HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bin: caf\xc3\xa9\r\n"
           b"Connection: close\r\n\r\n")
    resp = srv.raw(raw)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    assert b'"HTTP_X_BIN": "CORRUPT VALUE"' in resp


def test_repeated_request_header_values_joined(srv):
    """RFC 3875 4.1.18: one variable with the same meaning: ", " (RFC 9110
    5.3), "; " for Cookie (RFC 6265 5.4)."""
    raw = (b"GET /exact HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nCookie: a=1\r\nx-dup: 2\r\n"
           b"Cookie: b=2\r\nConnection: close\r\n\r\n")
    resp = srv.raw(raw)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    env = body_json(resp)["env"]
    assert env["HTTP_X_DUP"] == "1, 2"
    assert env["HTTP_COOKIE"] == "a=1; b=2"


def test_underscore_header_names_dropped(srv):
    """X_Under would become HTTP_X_UNDER, the variable of X-Under that a
    proxy in front may set: such headers are dropped, as Apache and nginx
    do for CGI."""
    def env_raw(hdrs):
        resp = srv.raw(b"GET /exact HTTP/1.1\r\nHost: h\r\n" + hdrs +
                       b"Connection: close\r\n\r\n")
        assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
        return body_json(resp)["env"]
    assert "HTTP_X_UNDER" not in env_raw(b"X_Under: evil\r\n")
    assert env_raw(b"X-Under: good\r\n")["HTTP_X_UNDER"] == "good"
    assert env_raw(b"X_Under: evil\r\nX-Under: good\r\n")["HTTP_X_UNDER"] == "good"
    assert env_raw(b"X-Under: good\r\nX_Under: evil\r\n")["HTTP_X_UNDER"] == "good"


def test_http10_without_host_uses_hostname(srv):
    resp = srv.raw(b"GET /exact HTTP/1.0\r\n\r\n")
    assert resp.startswith(b"HTTP/1.") and b" 200 " in resp.split(b"\r\n")[0], resp[:200]
    assert b'"SERVER_NAME": "localhost"' in resp
    assert b'"SERVER_PORT": "3000"' in resp
    assert b'"SERVER_PROTOCOL": "HTTP/1.0"' in resp


def test_host_header_sets_server_name(srv):
    env = env_of(srv, "/exact", headers={"Host": "example.com"})["env"]
    assert env["SERVER_NAME"] == "example.com"
    assert env["SERVER_PORT"] == "3000"         # from the default --hostname
    env = env_of(srv, "/exact", headers={"Host": "wagi.net:31337"})["env"]
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("wagi.net", "31337")
    assert env["X_FULL_URL"] == "http://wagi.net:31337/exact"
    env = env_of(srv, "/exact", headers={"Host": "[::1]:8080"})["env"]
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("[::1]", "8080")


def test_argv_default(srv):
    assert env_of(srv, "/exact")["argv"] == ["/exact"]
    assert env_of(srv, "/exact?")["argv"] == ["/exact", ""]
    assert env_of(srv, "/exact?a+b&&c%20d&")["argv"] == ["/exact", "a+b", "", "c%20d", ""]
    assert env_of(srv, "/prefix/x/y?q")["argv"] == ["/prefix/x/y", "q"]


def test_argv_template(srv):
    assert env_of(srv, "/argv/?p1=v1&p2=v2")["argv"] == ["ruby", "/env.rb", "/argv/", "p1=v1",
                                                          "p2=v2"]
    assert env_of(srv, "/argv/x?a+b")["argv"] == ["ruby", "/env.rb", "/argv/x", "a+b"]
    assert env_of(srv, "/argv")["argv"] == ["ruby", "/env.rb", "/argv"]


def test_argv_script_name_is_the_request_path(srv):
    """${SCRIPT_NAME} in an argv template (and argv[0] without one) is the
    raw request path, as deislabs/wagi and Spin's WAGI executor substitute
    it, while the SCRIPT_NAME variable is the route's base (CGI): a script
    run by an interpreter sees the whole path, PATH_INFO the part after the
    route (docs/modules.md, "argv")."""
    j = env_of(srv, "/argv/a/b%20c?x=1&y")
    assert j["argv"] == ["ruby", "/env.rb", "/argv/a/b%20c", "x=1", "y"]
    assert j["env"]["SCRIPT_NAME"] == "/argv"
    assert j["env"]["PATH_INFO"] == "/a/b c"
    j = env_of(srv, "/prefix/x/y?q")
    assert j["argv"][0] == "/prefix/x/y"
    assert j["env"]["SCRIPT_NAME"] == "/prefix"


def test_no_host_environment_leaks(srv):
    env = env_of(srv, "/exact")["env"]
    for k in ("PATH", "HOME", "USER", "PWD"):
        assert k not in env


# ---- user variables -------------------------------------------------------------

def test_env_precedence(modules, server_factory, tmp_path):
    envfile = tmp_path / "vars.env"
    envfile.write_text("# comment\nA=file\nB=file\nC=file\nexport QUOTED=\"two words\"\n"
                       "REQUEST_METHOD=file\n")
    cfg = module_entry("/", modules["env"], environment={
        "A": "mod", "B": "mod", "D": "mod", "SERVER_NAME": "mod", "HTTP_X_Y": "mod"})
    s = server_factory(cfg, ["--env", "A=cli", "-e", "Q1=\"dq\"", "-e", "Q2='sq'",
                             "-e", "HTTP_X_Y=cli", "-e", "EMPTY=", "--env-file", str(envfile)])
    env = s.get("/", headers={"X-Y": "header"}).json()["env"]
    assert env["A"] == "cli"           # --env > --env-file > environment
    assert env["B"] == "file"          # --env-file > environment
    assert env["C"] == "file"
    assert env["D"] == "mod"
    assert env["QUOTED"] == "two words"
    assert env["Q1"] == "dq"
    assert env["Q2"] == "sq"
    assert env["EMPTY"] == ""
    assert env["REQUEST_METHOD"] == "GET"    # CGI variables win
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["HTTP_X_Y"] == "header"       # HTTP_* beats --env
    env = s.get("/").json()["env"]
    assert env["HTTP_X_Y"] == "cli"          # no header: the user variable shows


def test_env_file_later_wins_and_env_beats_file(modules, server_factory, tmp_path):
    f1 = tmp_path / "one.env"
    f1.write_text("FIRST=1\nSECOND=2\n")
    s = server_factory(module_entry("/", modules["env"]),
                       ["--env-file", str(f1), "-e", "SECOND=two", "-e", "THIRD=3"])
    env = s.get("/").json()["env"]
    assert (env["FIRST"], env["SECOND"], env["THIRD"]) == ("1", "two", "3")


def test_hostname_flag(modules, server_factory):
    s = server_factory(module_entry("/", modules["env"]), ["--hostname", "example.com:1234"])
    resp = s.raw(b"GET / HTTP/1.0\r\n\r\n")
    assert b'"SERVER_NAME": "example.com"' in resp
    assert b'"SERVER_PORT": "1234"' in resp
    env = s.get("/", headers={"Host": "wagi.net"}).json()["env"]
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("wagi.net", "1234")


@pytest.mark.parametrize("bad", ["FOO", "=bar"])
def test_bad_env_flag_refused(modules, tmp_path, bad):
    cfg = tmp_path / "modules.toml"
    cfg.write_text(module_entry("/", modules["env"]))
    p = run_wagi(["--config", cfg, "--listen", "127.0.0.1:1", "-e", bad])
    assert p.returncode != 0
    assert bad in p.stderr or "env" in p.stderr.lower()


def test_missing_env_file_refused(modules, tmp_path):
    cfg = tmp_path / "modules.toml"
    cfg.write_text(module_entry("/", modules["env"]))
    p = run_wagi(["--config", cfg, "--listen", "127.0.0.1:1", "--env-file", tmp_path / "nope.env"])
    assert p.returncode != 0
    assert "nope.env" in p.stderr


def test_absolute_form_target(srv):
    """WAGI's test_headers vector over the wire: absolute-form target."""
    raw = (b"POST http://example.com:3000/prefix/test%3brun?foo=bar HTTP/1.1\r\n"
           b"Host: example.com:3000\r\nX-Test-Header: hello\r\nAuthorization: x\r\n"
           b"Content-Length: 4\r\nConnection: close\r\n\r\nbody")
    resp = srv.raw(raw)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:300]
    j = __import__("json").loads(resp.split(b"\r\n\r\n", 1)[1])
    env = j["env"]
    assert env["PATH_INFO"] == "/test;run"
    assert env["SERVER_NAME"] == "example.com"
    assert env["SERVER_PORT"] == "3000"
    assert env["X_FULL_URL"] == "http://example.com:3000/prefix/test%3brun?foo=bar"
    assert env["CONTENT_LENGTH"] == "4"
    assert env["HTTP_X_TEST_HEADER"] == "hello"
    assert "HTTP_AUTHORIZATION" not in env
    assert j["stdin"] == "body"


def test_chunked_body_content_length(srv):
    raw = (b"POST /exact HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    resp = srv.raw(raw)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:300]
    j = __import__("json").loads(resp.split(b"\r\n\r\n", 1)[1])
    assert j["env"]["CONTENT_LENGTH"] == "11"
    assert j["stdin"] == "hello world"


def test_env_flag_takes_several_values(modules, server_factory):
    s = server_factory(module_entry("/", modules["env"]), ["-e", "A=1", "B=2", "--env", "C=3"])
    env = s.get("/").json()["env"]
    assert (env["A"], env["B"], env["C"]) == ("1", "2", "3")


def test_default_host_alias(modules, server_factory):
    s = server_factory(module_entry("/", modules["env"]), ["--default-host", "alias.example:99"])
    resp = s.raw(b"GET / HTTP/1.0\r\n\r\n")
    assert b'"SERVER_NAME": "alias.example"' in resp
    assert b'"SERVER_PORT": "99"' in resp


def test_legacy_host_key(modules, server_factory):
    cfg = (module_entry("/", modules["env"], host="Example.com:3000", entrypoint="other") +
           module_entry("/", modules["env"]))
    s = server_factory(cfg)
    assert s.get("/", headers={"Host": "example.com:3000"}).json()["handler"] == "other"
    assert s.get("/", headers={"Host": "EXAMPLE.COM:3000"}).json()["handler"] == "other"
    assert s.get("/", headers={"Host": "example.com"}).json()["handler"] == "main"
    assert s.get("/").json()["handler"] == "main"


def test_raw_path_matching_no_normalisation(srv):
    env = env_of(srv, "/prefix/../exact")["env"]
    assert env["X_MATCHED_ROUTE"] == "/prefix/..."
    assert env["X_RAW_PATH_INFO"] == "/../exact"
    assert env_of(srv, "/EXACT")["env"]["X_MATCHED_ROUTE"] == "/..."      # case-sensitive
    assert env_of(srv, "/%65xact")["env"]["X_MATCHED_ROUTE"] == "/..."    # not decoded
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):                   # method ignored
        assert env_of(srv, "/exact", method=method)["env"]["REQUEST_METHOD"] == method


def test_tls_serves_https_and_sets_scheme(modules, server_factory, tmp_path):
    import http.client
    import shutil
    import ssl
    import subprocess
    if not shutil.which("openssl"):
        pytest.skip("openssl command not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-subj", "/CN=localhost", "-days", "1"],
                   check=True, capture_output=True)
    s = server_factory(module_entry("/", modules["env"]),
                       ["--tls-cert", str(cert), "--tls-key", str(key)])
    assert f"Ready: serving on http://127.0.0.1:{s.port}" in "".join(s.out)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=20)
    try:
        conn.request("GET", "/?q=1")
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 200
    env = __import__("json").loads(body)["env"]
    assert env["X_FULL_URL"] == f"https://127.0.0.1:{s.port}/?q=1"


# ---- NUL bytes: nothing a client sends may put a NUL into argv or env -------------

@pytest.mark.parametrize("path", ["/prefix/x%00y", "/prefix/%00", "/dyn/wildcard/a%00",
                                  "/some/where%00"])
def test_encoded_nul_in_path_info_is_400(srv, path):
    r = srv.get(path)
    assert r.status == 400, r
    assert r.header("Content-Type") == "text/plain"
    assert b"%00" in r.body and b"NUL" in r.body
    # a body is read and dropped, the connection stays usable
    r = srv.request("POST", path + "?q", body=b"x" * 5000)
    assert r.status == 400, r
    assert "500" not in "".join(l for l in srv.logs().splitlines(True) if path in l)
    assert env_of(srv, "/prefix/ok")["env"]["PATH_INFO"] == "/ok"


def test_encoded_nul_keeps_connection_alive(srv):
    raw = (b"GET /prefix/x%00y HTTP/1.1\r\nHost: h\r\n\r\n"
           b"GET /prefix/after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    resp = srv.raw(raw)
    assert resp.startswith(b"HTTP/1.1 400"), resp[:200]
    assert b"HTTP/1.1 200" in resp
    assert b'"PATH_INFO": "/after"' in resp


def test_encoded_percent_then_00_is_text(srv):
    # %2500 is the text "%00", not a NUL: served, PATH_INFO shows it decoded
    env = env_of(srv, "/prefix/a%2500b")["env"]
    assert env["PATH_INFO"] == "/a%00b"
    assert env["X_RAW_PATH_INFO"] == "/a%2500b"


def test_encoded_nul_in_query_is_text(srv):
    # the query is never decoded: %00 in it reaches argv and QUERY_STRING as text
    j = env_of(srv, "/exact?a%00b&%00")
    assert j["argv"] == ["/exact", "a%00b", "%00"]
    assert j["env"]["QUERY_STRING"] == "a%00b&%00"
    j = env_of(srv, "/argv/x?p%00=1&q")
    assert j["argv"] == ["ruby", "/env.rb", "/argv/x", "p%00=1", "q"]
    j = env_of(srv, "/prefix/x?%00")
    assert j["argv"] == ["/prefix/x", "%00"]
    assert j["env"]["PATH_INFO"] == "/x"


# ---- Raw spaces and control characters in the request target -------------------

@pytest.mark.parametrize("target", [b"/argv/a b?x y&z", b"/prefix/a b", b"/exact?a b",
                                    b"/prefix/a\tb", b"/prefix/a\x01b", b"/prefix/a\x7fb",
                                    b"/healthz?a b", b"/no where"])
def test_raw_space_in_target_is_400(srv, target):
    """HTTP forbids whitespace in the request target, but libmicrohttpd takes
    everything up to the last space of the request line as the target: a raw
    space would reach PATH_INFO and QUERY_STRING, and an argv template would
    split it into extra words. Any route (a module's, /healthz, none) gets
    400 with a plain-text reason; the connection stays usable."""
    resp = srv.raw(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n"
                   b"GET /prefix/after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert status_line(resp) == b"HTTP/1.1 400 Bad Request", resp[:300]
    head, rest = resp.split(b"\r\n\r\n", 1)
    assert b"Content-Type: text/plain" in head
    assert rest.startswith(b"Bad Request: the request target holds a space")
    assert b"HTTP/1.1 200" in rest
    assert b'"PATH_INFO": "/after"' in rest


def test_raw_space_with_a_body_is_400(srv):
    resp = srv.raw(b"POST /argv/a b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                   b"Connection: close\r\n\r\nhello")
    assert status_line(resp) == b"HTTP/1.1 400 Bad Request", resp[:300]
    # an encoded space is fine: %20 reaches PATH_INFO decoded, argv as is
    j = env_of(srv, "/argv/a%20b?x%20y")
    assert j["argv"] == ["ruby", "/env.rb", "/argv/a%20b", "x%20y"]
    assert j["env"]["PATH_INFO"] == "/a b"


def test_literal_nul_bytes_never_reach_the_module(srv):
    """libmicrohttpd cuts the request target and a header value at a literal
    NUL byte and refuses a header name holding one (400); in no case does
    the module get a NUL, or the client a 500."""
    resp = srv.raw(b"GET /prefix/x\x00y HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert status_line(resp).split(b" ")[1] in (b"200", b"400"), resp[:200]
    if b" 200 " in status_line(resp):
        assert body_json(resp)["env"]["X_RAW_PATH_INFO"] == "/x"
    resp = srv.raw(b"GET /exact HTTP/1.1\r\nHost: h\r\nX-N: a\x00b\r\nConnection: close\r\n\r\n")
    assert status_line(resp).split(b" ")[1] in (b"200", b"400"), resp[:200]
    if b" 200 " in status_line(resp):
        assert body_json(resp)["env"]["HTTP_X_N"] in ("a", "CORRUPT VALUE")
    resp = srv.raw(b"GET /exact HTTP/1.1\r\nHost: h\r\nX-\x00N: a\r\nConnection: close\r\n\r\n")
    assert status_line(resp).split(b" ")[1] in (b"200", b"400"), resp[:200]
    if b" 200 " in status_line(resp):
        assert not any("\0" in k for k in body_json(resp)["env"])
    assert "cannot create the WASI context" not in srv.logs()
