"""Outbound HTTP outside the server (`wagi run --allow-host`, the same entries
and matching as allowed_hosts), and the server's default-level log line for
a denied request (issue 15)."""
import os
import subprocess
import urllib.parse

from conftest import WAGI


def run(client_wasm, query, *flags, env=None):
    """`wagi run [flags] client.wasm` with QUERY_STRING=query; returns
    (exit status, {key: value} of the module's output lines, stderr)."""
    e = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        e[k] = "http://127.0.0.1:9"
    e.pop("WAGI_HTTP_DEBUG", None)
    e.update(env or {})
    p = subprocess.run([str(WAGI), "run", *flags, "--env", "QUERY_STRING=" + query,
                        str(client_wasm)], capture_output=True, timeout=60, env=e,
                       stdin=subprocess.DEVNULL)
    out = p.stdout.split(b"--body--")[0].decode("utf-8", "replace")
    kv = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return p.returncode, kv, p.stderr.decode("utf-8", "replace")


def q(**kw):
    return urllib.parse.urlencode(kw)


def test_run_denies_by_default(client_wasm, upstream):
    rc, kv, err = run(client_wasm, q(url=upstream.url("/x?token=secret")))
    assert rc == 0, err
    assert kv["rc"] == "7", kv                      # destination_not_allowed
    assert upstream.last() is None
    assert "outbound request to " + upstream.url("/x") + "?... denied" in err, err
    assert "--allow-host" in err and "secret" not in err, err


def test_run_allow_host_connects(client_wasm, upstream):
    rc, kv, err = run(client_wasm, q(url=upstream.url("/echo"), method="POST"),
                      "--allow-host", upstream.base)
    assert rc == 0, err
    assert kv["rc"] == "0" and kv["status"] == "200", (kv, err)
    assert upstream.last().path == "/echo"
    assert "denied" not in err


def test_run_allow_host_matches_scheme_host_and_port(client_wasm, upstream_factory):
    a, b = upstream_factory(), upstream_factory()
    flags = ["--allow-host", a.base, f"--allow-host=http://localhost:{b.port}"]
    assert run(client_wasm, q(url=a.url("/")), *flags)[1]["rc"] == "0"
    assert run(client_wasm, q(url=f"http://127.0.0.1:{b.port}/"), *flags)[1]["rc"] == "7"
    assert run(client_wasm, q(url=f"https://127.0.0.1:{a.port}/"), *flags)[1]["rc"] == "7"
    assert b.last() is None
    assert run(client_wasm, q(url=b.url("/")), "--allow-host", "insecure:allow-all")[1]["rc"] == "0"


def test_run_bad_allow_host_is_a_usage_error(client_wasm):
    for bad, why in [("api.example.com", "no scheme"), ("ftp://h", "not http or https"),
                     ("https://h/path", "a path is not allowed")]:
        rc, _, err = run(client_wasm, "", "--allow-host", bad)
        assert rc == 1, err
        assert f'bad --allow-host "{bad}"' in err and why in err, err


def test_server_logs_denied_request_at_default_level(wagi, upstream):
    """Without WAGI_HTTP_DEBUG: the route, the URL (no query) and the reason."""
    w = wagi(allowed_hosts=["https://api.example.com"], env={"WAGI_HTTP_DEBUG": ""})
    r = w.call(url=upstream.url("/x?key=hunter2"))
    assert r["rc"] == "7"
    assert w.wait_log("outbound request to " + upstream.url("/x") + "?... denied"), w.log()
    line = [x for x in w.log().splitlines() if "outbound request to" in x][0]
    assert "/c:" in line and "not in allowed_hosts" in line and "hunter2" not in line, line
    assert w.healthy()


def test_server_logs_denied_redirect_hop(wagi, upstream_factory):
    a, b = upstream_factory(), upstream_factory()
    w = wagi(allowed_hosts=[a.base], env={"WAGI_HTTP_DEBUG": ""})
    r = w.call(url=a.url("/redirect?to=" + b.url("/secret")))
    assert r["rc"] == "7"
    assert w.wait_log("outbound request to " + b.url("/secret") + " denied"), w.log()
    assert w.healthy()
