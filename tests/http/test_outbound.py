"""Outbound HTTP from modules through the real server (WAGI.md §7, wagi-c's
stricter allow-list). Every test ends by checking /healthz."""
import concurrent.futures
import subprocess
import threading
import time

import pytest

from conftest import Wagi, module_entry, pattern


def ok(w):
    assert w.healthy(), w.log()


# ---- basics and methods ------------------------------------------------------------

def test_get_status_headers_body(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(url=upstream.url("/headers/3?long=100"), get="X-LONG")
    assert r.status == 200, r.raw
    assert r["rc"] == "0" and r["status"] == "200" and r["handle"] == "0"
    assert r["hget"] == "0:" + "a" * 100
    assert ("x-h-0", "v0") in r.hdrs and ("x-h-2", "v2") in r.hdrs
    assert r["body_rc"] == "0" and r.body == b"many headers"
    assert r["after_close"] == "1"           # closed handle: invalid_handle
    rec = upstream.last()
    assert rec.method == "GET" and rec.path == "/headers/3?long=100"
    assert rec.header("Expect") is None and rec.header("Content-Type") is None
    assert rec.body == b""
    ok(w)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND", "OPTIONS"])
def test_methods_and_bodies(wagi, upstream, method):
    w = wagi(allowed_hosts=[upstream.base])
    body = b"payload \x00\xff for " + method.encode()
    r = w.call(url=upstream.url("/echo"), method=method, body=body)
    assert r["rc"] == "0", r
    assert r["status"] == "200"
    rec = upstream.last()
    assert rec.method == method
    assert rec.body == body
    assert r.body == body
    assert r.header("x-method") == [method]
    # Nothing behind the module's back.
    assert rec.header("Expect") is None
    assert rec.header("Content-Type") is None
    ok(w)


def test_module_headers_sent_verbatim(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    hs = [("h", "Content-Type:application/json"), ("h", "X-Empty:"), ("h", "X-Spaces:  a b "),
          ("h", "Authorization:Bearer t0k")]
    r = w.call(url=upstream.url("/echo"), method="POST", params=hs, body=b"{}")
    assert r["rc"] == "0", r
    rec = upstream.last()
    assert rec.header("Content-Type") == "application/json"
    assert rec.header("X-Empty") == ""
    assert rec.header("X-Spaces").strip() == "a b"
    assert rec.header("Authorization") == "Bearer t0k"
    ok(w)


def test_many_request_and_response_headers(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    hs = [("h", f"X-Req-{i}:value-{i}") for i in range(90)]  # http.server takes <= 100
    r = w.call(url=upstream.url("/headers/300"), params=hs)
    assert r["rc"] == "0", r
    assert r["status"] == "200"
    rec = upstream.last()
    for i in range(90):
        assert rec.header(f"X-Req-{i}") == f"value-{i}"
    names = [k for k, _ in r.hdrs]
    for i in range(300):
        assert f"x-h-{i}" in names
    ok(w)


def test_header_get_retries_up_to_64k(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(url=upstream.url("/headers/1?long=40000"), get="x-long")
    assert r["hget"] == "0:" + "a" * 40000     # 4 KiB, 8, 16, 32, 64: fits at 64 KiB
    r = w.call(url=upstream.url("/headers/1?long=70000"), get="x-long")
    assert r["hget"].startswith("101:")         # over 64 KiB: the library gives up
    assert r["hall_rc"] == "4"                  # headers_get_all's 64 KiB buffer too
    r = w.call(url=upstream.url("/headers/1"), get="x-missing")
    assert r["hget"] == "5:"
    ok(w)


@pytest.mark.parametrize("code", [200, 201, 202, 204, 206, 300, 301, 302, 304, 400, 401, 404,
                                  418, 429, 500, 502, 503])
def test_status_classes(wagi, upstream, code):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(url=upstream.url(f"/status/{code}"))
    assert r["rc"] == "0", r
    assert r["status"] == str(code)
    assert r.body == (b"" if code in (204, 304) else f"status {code}".encode())
    ok(w)


def test_head_has_no_body(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(url=upstream.url("/big/1000"), method="HEAD")
    assert r["rc"] == "0" and r["status"] == "200"
    assert r.body == b""
    assert r.header("content-length") == ["1000"]
    ok(w)


# ---- large, binary, chunked ----------------------------------------------------------

def test_large_binary_upload_and_download(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base], max_request_body_bytes=16 << 20,
             output_limit_bytes=32 << 20, memory_limit_bytes=512 << 20)
    body = pattern(10 << 20)[::-1]
    r = w.call(url=upstream.url("/echo"), method="PUT", body=body)
    assert r["rc"] == "0", r
    rec = upstream.last()
    assert rec.body == body
    assert rec.header("Expect") is None           # curl adds it above 1 MiB by default
    assert r["body_len"] == str(len(body))
    assert r.body == body
    ok(w)


def test_chunked_large_download(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base], output_limit_bytes=32 << 20,
             memory_limit_bytes=512 << 20)
    n = 12 * (1 << 20) + 12345
    r = w.call(url=upstream.url(f"/chunked/{n}"))
    assert r["rc"] == "0", r
    assert r.header("transfer-encoding") == ["chunked"]
    assert r["body_len"] == str(n)
    assert r.body == pattern(n)
    ok(w)


def test_body_read_in_small_chunks(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(url=upstream.url("/big/100000"), chunk="777")
    assert r["body_rc"] == "0" and r.body == pattern(100000)
    ok(w)


def test_response_body_cap(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base], env={"WAGI_HTTP_MAX_BODY_BYTES": str(1 << 20)})
    r = w.call(url=upstream.url(f"/big/{1 << 20}"))
    assert r["rc"] == "0"
    r = w.call(url=upstream.url(f"/big/{(1 << 20) + 1}"))
    assert r["rc"] == "11"
    r = w.call(url=upstream.url(f"/chunked/{2 << 20}"))
    assert r["rc"] == "11"
    assert w.wait_log("larger than 1048576 bytes"), w.log()
    ok(w)


# ---- the allow-list ----------------------------------------------------------------------

def test_denied_by_default(wagi, upstream):
    w = wagi()                                  # no allowed_hosts
    r = w.call(url=upstream.url("/"))
    assert r["rc"] == "7"
    assert upstream.last() is None
    ok(w)


def test_empty_list_denies(wagi, upstream):
    w = wagi(allowed_hosts=[])
    assert w.call(url=upstream.url("/"))["rc"] == "7"
    ok(w)


def test_allowed_vs_denied_by_scheme_host_port(wagi, upstream_factory):
    a = upstream_factory()
    b = upstream_factory()
    w = wagi(allowed_hosts=[a.base])
    assert w.call(url=a.url("/x"))["rc"] == "0"
    assert w.call(url=f"http://127.0.0.1:{b.port}/x")["rc"] == "7"        # port
    assert w.call(url=f"http://localhost:{a.port}/x")["rc"] == "7"        # host
    assert w.call(url=f"https://127.0.0.1:{a.port}/x")["rc"] == "7"       # scheme
    assert w.call(url=f"HTTP://127.0.0.1:{a.port}/y")["rc"] == "0"        # case
    assert b.last() is None
    assert w.wait_log("denied (not in allowed_hosts)"), w.log()
    ok(w)


def test_default_port_entry(wagi, upstream):
    # "http://127.0.0.1" admits only port 80, not the upstream's port.
    w = wagi(allowed_hosts=["http://127.0.0.1"])
    assert w.call(url=upstream.url("/"))["rc"] == "7"
    ok(w)


def test_allow_all(wagi, upstream_factory):
    a = upstream_factory()
    w = wagi(allowed_hosts=["insecure:allow-all"])
    assert w.wait_log("insecure:allow-all") and w.wait_log("WARNING"), w.log()
    assert w.call(url=a.url("/"))["rc"] == "0"
    assert w.call(url="not a url")["rc"] == "10"
    assert w.call(url="file:///etc/passwd")["rc"] == "10"
    ok(w)


@pytest.mark.parametrize("entry,why", [("127.0.0.1", "bare host"),
                                       ("ftp://127.0.0.1", "scheme")])
def test_bad_entries_refused_at_startup(tmp_path, client_wasm, entry, why):
    w = Wagi(tmp_path, module_entry("/c", client_wasm, allowed_hosts=[entry]))
    with pytest.raises(RuntimeError) as e:
        w.start()
    assert "allowed_hosts" in str(e.value)


def test_max_concurrency_zero_refused(tmp_path, client_wasm):
    w = Wagi(tmp_path, module_entry("/c", client_wasm, allowed_hosts=["http://127.0.0.1:1"],
                                    http_max_concurrency=0))
    with pytest.raises(RuntimeError) as e:
        w.start()
    assert "http_max_concurrency" in str(e.value)


def test_routes_discovery_is_denied(wagi, upstream):
    w = wagi(allowed_hosts=["http://127.0.0.1:1", upstream.base])
    status, _ = w.request("GET", "/c/routes-rc-7")
    assert status == 200
    ok(w)


# ---- errors ----------------------------------------------------------------------------------

def test_abi_error_codes(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(op="abi", url=upstream.url("/headers/1?long=100"))
    expect = {
        "url_oob": "4", "url_utf8": "6", "url_invalid": "10", "url_ftp": "10",
        "url_denied": "7", "method_empty": "8", "method_bad": "8", "method_oob": "4",
        "body_oob": "4", "hdr_oob": "4", "hdr_utf8": "6", "hdr_nocolon": "9", "hdr_badname": "9",
        "order_url_method": "10", "order_denied_method": "7", "order_method_body": "8",
        "status_oob": "3", "bad_handle_header_get": "1", "bad_handle_headers_all": "1",
        "bad_handle_body_read": "1", "bad_handle_close": "0", "ok": "0 status=200",
        "hget_small": "4", "hget_missing": "5", "hget_name_oob": "4", "hget_out_oob": "3",
        "hall_small": "4", "hall_out_oob": "3", "body_out_oob": "3", "body_count_oob": "3",
        "body_zero_cap": "0:0",
    }
    for k, v in expect.items():
        assert r.get(k) == v, (k, r.raw.decode())
    ok(w)


def test_invalid_method_and_url(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    assert w.call(url=upstream.url("/"), method="BAD METHOD")["rc"] == "8"
    assert w.call(url=upstream.url("/"), method="")["rc"] == "8"
    assert w.call(url="http//broken")["rc"] == "10"
    assert w.call(url=f"http://user:pw@127.0.0.1:{upstream.port}/")["rc"] == "10"
    assert w.call(url=upstream.url("/"), params=[("h", "no colon")])["rc"] == "9"
    assert upstream.last() is None
    ok(w)


def test_handle_numbering_and_reuse(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(op="reuse", url=upstream.url("/"))
    assert r["a"] == "0:0 b=0:1"
    assert r["c"] == "0:1"
    assert r["d"] == "0:2"
    assert r["close_unknown"] == "0"
    ok(w)


def test_too_many_open_handles(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base], http_max_concurrency=2)
    r = w.call(op="open", n="3", url=upstream.url("/"))
    assert (r["req0"], r["req1"], r["req2"]) == ("0", "0", "13")
    # Per inbound request: the next request starts with no open handles.
    r = w.call(op="open", n="2", url=upstream.url("/"))
    assert (r["req0"], r["req1"]) == ("0", "0")
    ok(w)


def test_connection_refused(wagi):
    port = _closed_port()
    w = wagi(allowed_hosts=[f"http://127.0.0.1:{port}"])
    r = w.call(url=f"http://127.0.0.1:{port}/")
    assert r["rc"] == "11"
    ok(w)


def _closed_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_timeout(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base], env={"WAGI_HTTP_TIMEOUT_MS": "500"})
    t0 = time.monotonic()
    r = w.call(url=upstream.url("/slow/3000"))
    assert r["rc"] == "11"
    assert time.monotonic() - t0 < 2.5
    assert w.wait_log("failed after"), w.log()
    ok(w)


def test_waiting_on_upstream_does_not_hold_the_only_runner(wagi, upstream):
    """One runner (--workers 1), three requests waiting 3 s on a slow
    upstream: another request is served while they wait (the outbound call
    hands the CPU over before it blocks)."""
    w = wagi(allowed_hosts=[upstream.base], args=["--workers", "1"])
    done = []

    def slow():
        done.append(w.call(url=upstream.url("/slow/3000"))["rc"])

    ts = [threading.Thread(target=slow) for _ in range(3)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    r = w.call(url=upstream.url("/echo"))
    assert r["rc"] == "0" and r["status"] == "200", r
    assert done == [], "the quick request waited for the slow ones"
    for t in ts:
        t.join(30)
    assert done == ["0"] * 3
    ok(w)


def test_timeout_bounded_by_request_time_limit(wagi, upstream):
    # No HTTP timeout configured (30 s default), but the request itself may
    # only run 1.5 s: the outbound call must not hold the worker longer.
    w = wagi(allowed_hosts=[upstream.base], time_limit_ms=1500)
    t0 = time.monotonic()
    status, raw = w.request("GET", "/c?url=" + upstream.url("/slow/6000"))
    elapsed = time.monotonic() - t0
    assert elapsed < 4.0
    assert status in (200, 504), raw
    if status == 200:
        assert b"rc=11" in raw
    ok(w)


# ---- redirects ----------------------------------------------------------------------------------

def test_redirect_followed_when_allowed(wagi, upstream_factory):
    a = upstream_factory()
    b = upstream_factory()
    w = wagi(allowed_hosts=[a.base, b.base])
    r = w.call(url=a.url("/redirect?to=" + b.url("/echo")), method="POST", body=b"abc",
               params=[("h", "Authorization:secret")])
    assert r["rc"] == "0" and r["status"] == "200", r
    rec = b.last()
    assert rec.method == "GET" and rec.body == b""        # 302 + POST -> GET
    assert rec.header("Authorization") is None            # not sent to another origin
    # 307 keeps the method and body; same origin keeps the credentials.
    r = w.call(url=a.url("/redirect?code=307&to=/echo"), method="POST", body=b"xyz",
               params=[("h", "Authorization:secret")])
    assert r["rc"] == "0" and r.body == b"xyz"
    rec = a.last()
    assert rec.method == "POST" and rec.body == b"xyz" and rec.header("Authorization") == "secret"
    # 303 -> GET
    r = w.call(url=a.url("/redirect?code=303&to=/echo"), method="PUT", body=b"q")
    assert r["rc"] == "0" and a.last().method == "GET"
    ok(w)


def test_redirect_to_denied_host_refused(wagi, upstream_factory):
    a = upstream_factory()
    b = upstream_factory()
    w = wagi(allowed_hosts=[a.base])
    r = w.call(url=a.url("/redirect?to=" + b.url("/secret")))
    assert r["rc"] == "7"
    assert b.last() is None
    r = w.call(url=a.url("/redirect?to=file:///etc/passwd"))
    assert r["rc"] == "10"
    assert w.wait_log("redirect to"), w.log()
    ok(w)


def test_redirect_loop(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    r = w.call(url=upstream.url("/loop"))
    assert r["rc"] == "11"
    assert len(upstream.requests) == 11          # the first request and 10 hops
    assert w.wait_log("more than 10 redirects"), w.log()
    ok(w)


# ---- connection reuse and concurrency -------------------------------------------------------------

def test_connection_reuse(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])
    for _ in range(6):
        assert w.call(url=upstream.url("/"))["rc"] == "0"
    ports = {r.client_port for r in upstream.requests}
    assert len(upstream.requests) == 6
    assert len(ports) < 6, ports
    ok(w)


def test_parallel_requests(wagi, upstream):
    w = wagi(allowed_hosts=[upstream.base])

    def one(i):
        r = w.call(url=upstream.url(f"/big/{1000 + i}"))
        return r["rc"], r.body == pattern(1000 + i)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(64)))
    assert all(rc == "0" and good for rc, good in results), results
    ok(w)


# ---- HTTPS ---------------------------------------------------------------------------------------

def test_https_verified(wagi, upstream_factory, certs):
    u = upstream_factory(tls=certs["good"])
    w = wagi(allowed_hosts=[u.base], env={"WAGI_HTTP_CA_FILE": str(certs["ca"])})
    r = w.call(url=u.url("/echo"), method="POST", body=b"over tls")
    assert r["rc"] == "0", (r, w.log())
    assert r.body == b"over tls"
    ok(w)


def test_https_untrusted_refused(wagi, upstream_factory, certs):
    u = upstream_factory(tls=certs["good"])
    w = wagi(allowed_hosts=[u.base])            # system CAs: the test CA is unknown
    assert w.call(url=u.url("/"))["rc"] == "11"
    assert u.last() is None
    ok(w)


def test_https_wrong_name_refused(wagi, upstream_factory, certs):
    u = upstream_factory(tls=certs["wrong"])    # cert for wrong.example
    w = wagi(allowed_hosts=[u.base], env={"WAGI_HTTP_CA_FILE": str(certs["ca"])})
    assert w.call(url=u.url("/"))["rc"] == "11"
    assert u.last() is None
    ok(w)


def test_bad_ca_file_is_a_startup_error(tmp_path, client_wasm):
    w = Wagi(tmp_path, module_entry("/c", client_wasm, allowed_hosts=["https://127.0.0.1"]),
             env={"WAGI_HTTP_CA_FILE": str(tmp_path / "missing.pem")})
    with pytest.raises(RuntimeError) as e:
        w.start()
    assert "CA file" in str(e.value)


@pytest.mark.parametrize("var,val", [("WAGI_HTTP_TIMEOUT_MS", "0"),
                                     ("WAGI_HTTP_CONNECT_TIMEOUT_MS", "soon"),
                                     ("WAGI_HTTP_MAX_BODY_BYTES", "-5")])
def test_bad_env_setting_is_a_startup_error(tmp_path, client_wasm, var, val):
    w = Wagi(tmp_path, module_entry("/c", client_wasm, allowed_hosts=["https://127.0.0.1"]),
             env={var: val})
    with pytest.raises(RuntimeError) as e:
        w.start()
    assert var in str(e.value)
