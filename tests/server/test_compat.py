"""WAGI's own integration tests (WAGI.md §9) that need neither bindle nor the
network, against the real server, plus /healthz and 404."""
import hashlib

import pytest

from conftest import WagiServer, module_entry


@pytest.fixture(scope="module")
def srv(modules, tmp_path_factory):
    m = modules
    cfg = "".join([
        module_entry("/", m["html"]),
        module_entry("/env/...", m["env"]),
        module_entry("/test/...", m["env"]),
        module_entry("/blah/...", m["env"]),
        module_entry("/defaultep", m["multi"]),
        module_entry("/ep1", m["multi"], entrypoint="ep1"),
        module_entry("/ep2", m["multi"], entrypoint="ep2"),
        module_entry("/wat", m["hello.wat"]),
        module_entry("/healthz", m["env"]),
    ])
    s = WagiServer(tmp_path_factory.mktemp("compat"), cfg).start()
    yield s
    s.stop_checked()


@pytest.fixture(scope="module")
def root_env_srv(modules, tmp_path_factory):
    s = WagiServer(tmp_path_factory.mktemp("rootenv"), module_entry("/", modules["env"])).start()
    yield s
    s.stop_checked()


def test_can_serve_from_modules_toml(srv):
    r = srv.get("/")
    assert r.status == 200
    assert r.header("Content-Type") == "text/html"
    assert r.body == b"<h1>hello</h1>\n"


def test_modules_toml_unmapped_route_returns_not_found(srv):
    r = srv.get("/does/not/exist")
    assert r.status == 404
    assert r.body == b""


def test_wildcard_routes_match_only_at_slash(srv):
    assert srv.get("/blahahahaha").status == 404
    assert srv.get("/blah").status == 200
    assert srv.get("/blah/").status == 200
    assert srv.get("/blah/a/b").status == 200


def test_can_serve_multiple_static_entrypoints(srv):
    for path, body in [("/defaultep", b"Default entrypoint\n"), ("/ep1", b"Entrypoint 1\n"),
                       ("/ep2", b"Entrypoint 2\n")]:
        r = srv.get(path)
        assert r.status == 200, r
        assert r.header("Content-Type").startswith("text/plain")
        assert r.body == body


def test_can_serve_wat(srv):
    r = srv.get("/wat")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain"
    assert r.body == b"Oh hi world\r\n"


def test_http_settings_are_mapped_to_env_vars(root_env_srv):
    r = root_env_srv.get("/")
    assert r.status == 200, r
    env = r.json()["env"]
    assert env["PATH_INFO"] == ""
    assert env["PATH_TRANSLATED"] == ""
    assert env["X_RAW_PATH_INFO"] == ""
    assert env["X_MATCHED_ROUTE"] == "/"
    assert env["SCRIPT_NAME"] == "/"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REQUEST_METHOD"] == "GET"


def test_http_settings_are_mapped_to_env_vars_wildcard_route(srv):
    r = srv.get("/test/fizz/buzz")
    assert r.status == 200, r
    env = r.json()["env"]
    assert env["PATH_INFO"] == "/fizz/buzz"
    assert env["PATH_TRANSLATED"] == "/fizz/buzz"
    assert env["X_RAW_PATH_INFO"] == "/fizz/buzz"
    assert env["X_MATCHED_ROUTE"] == "/test/..."
    assert env["SCRIPT_NAME"] == "/test"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REQUEST_METHOD"] == "GET"


def test_health_check_builtin_takes_precedence_over_user_routes(srv):
    for method in ("GET", "POST", "DELETE"):
        r = srv.request(method, "/healthz")
        assert r.status == 200
        assert r.body == b"OK"
        assert r.header("Content-Type") is None
    # /healthz/ is not built in: it falls through to the routes (404 here).
    assert srv.get("/healthz/").status == 404


def test_healthz_without_user_route(root_env_srv):
    r = root_env_srv.get("/healthz")
    assert (r.status, r.body) == (200, b"OK")


def test_head_has_no_body(srv):
    r = srv.request("HEAD", "/")
    assert r.status == 200
    assert r.body == b""


# ---- dynamic routes (module map variant) ----------------------------------------

@pytest.fixture(scope="module")
def dyn(modules, tmp_path_factory):
    m = modules["routes"]
    cfg = "".join(module_entry(p, m) for p in
                  ["/", "/exactparent", "/exactparentslash/", "/wildcardparent/..."])
    s = WagiServer(tmp_path_factory.mktemp("dyn"), cfg).start()
    yield s
    s.stop_checked()


@pytest.mark.parametrize("path,matched,script", [
    ("/", "/", "/"),
    ("/exactparent", "/exactparent", "/exactparent"),
    ("/exactparentslash/", "/exactparentslash/", "/exactparentslash/"),
    ("/wildcardparent", "/wildcardparent/...", "/wildcardparent"),
    ("/wildcardparent/fizz/buzz", "/wildcardparent/...", "/wildcardparent"),
    ("/main", "/main", "/main"),
    ("/exactparent/main", "/exactparent/main", "/exactparent/main"),
])
def test_dynamic_routes_main_handler(dyn, path, matched, script):
    r = dyn.get(path)
    assert r.status == 200, r
    j = r.json()
    assert j["handler"] == "main"
    assert j["env"]["X_MATCHED_ROUTE"] == matched
    assert j["env"]["SCRIPT_NAME"] == script


@pytest.mark.parametrize("path", ["/exact", "/exactparent/exact", "/exactparentslash/exact",
                                  "/wildcardparent/exact"])
def test_dynamic_routes_exact_handler(dyn, path):
    r = dyn.get(path)
    assert r.status == 200, r
    j = r.json()
    assert j["handler"] == "exact"
    env = j["env"]
    assert env["X_MATCHED_ROUTE"] == path
    assert env["SCRIPT_NAME"] == path
    assert env["PATH_INFO"] == ""
    assert env["X_RAW_PATH_INFO"] == ""


@pytest.mark.parametrize("parent", ["", "/exactparent", "/exactparentslash", "/wildcardparent"])
def test_dynamic_routes_wildcard_handler(dyn, parent):
    r = dyn.get(parent + "/wildcard/fizz/buzz")
    assert r.status == 200, r
    j = r.json()
    assert j["handler"] == "wildcard"
    env = j["env"]
    assert env["PATH_INFO"] == "/fizz/buzz"
    assert env["X_RAW_PATH_INFO"] == "/fizz/buzz"
    assert env["X_MATCHED_ROUTE"] == parent + "/wildcard/..."
    assert env["SCRIPT_NAME"] == parent + "/wildcard"


def test_dynamic_routes_unmatched(dyn):
    assert dyn.get("/exactparent/other").status == 404
    assert dyn.get("/exactparentslash").status == 404


def test_routes_stderr_goes_to_parent_log(dyn):
    for parent in ("/", "/exactparent", "/wildcardparent/..."):
        d = hashlib.sha256(parent.encode()).hexdigest()
        f = dyn.log_dir / d / "module.stderr"
        assert f.exists(), (parent, sorted(p.name for p in dyn.log_dir.iterdir()))
        assert "routes discovery on stderr" in f.read_text()
