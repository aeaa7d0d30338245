"""Requirements of issue 4 that the other files leave untested: the access
log (one line per request with method, path, route, status, bytes and
duration; to a file; "off"), keep-alive, and --listen refusals (a host name,
an address already in use) that must stop startup."""
import http.client
import re
import socket
import time
from pathlib import Path

import pytest

from conftest import WagiServer, module_entry, run_wagi

LINE = re.compile(r"^\S+ (?P<method>\S+) (?P<path>\S+) route=(?P<route>\S*) "
                  r"status=(?P<status>\d{3}) bytes=(?P<bytes>\d+) ms=(?P<ms>[0-9.]+)")


def _wait_lines(path, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if len(lines) >= n:
                return lines
        time.sleep(0.05)
    return path.read_text().splitlines() if path.exists() else []


def test_access_log_file_one_line_per_request(modules, server_factory, tmp_path):
    log = tmp_path / "access.log"
    s = server_factory(module_entry("/hello/...", modules["hello.wat"]),
                       ["--access-log", str(log)])
    assert s.get("/hello/x?q=1").status == 200
    assert s.get("/nowhere").status == 404
    assert s.request("HEAD", "/healthz").status == 200
    lines = _wait_lines(log, 3)
    assert len(lines) == 3, lines
    got = [LINE.match(x) for x in lines]
    assert all(got), lines
    a, b, c = got
    assert (a["method"], a["path"], a["route"], a["status"], a["bytes"]) == \
        ("GET", "/hello/x", "/hello/...", "200", str(len(b"Oh hi world\r\n")))
    assert (b["method"], b["status"]) == ("GET", "404")
    assert (c["method"], c["path"], c["status"]) == ("HEAD", "/healthz", "200")
    assert float(a["ms"]) >= 0.0
    # stderr does not get the lines when they go to a file
    assert "route=/hello/..." not in "".join(s.err)


def test_access_log_off(modules, server_factory):
    s = server_factory(module_entry("/hello", modules["hello.wat"]), ["--access-log", "off"])
    assert s.get("/hello").status == 200
    s.stop()
    assert "route=/hello" not in s.logs()


def test_keep_alive_serves_several_requests_on_one_connection(modules, server_factory):
    s = server_factory(module_entry("/hello", modules["hello.wat"]))
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    try:
        conn.connect()
        local = conn.sock.getsockname()
        for _ in range(5):
            conn.request("GET", "/hello")
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, b"Oh hi world\r\n")
            assert (r.getheader("Connection") or "").lower() != "close"
            assert conn.sock is not None and conn.sock.getsockname() == local
    finally:
        conn.close()


def test_listen_host_name_refused(modules, tmp_path):
    cfg = tmp_path / "m.toml"
    cfg.write_text(module_entry("/hello", modules["hello.wat"]))
    r = run_wagi(["-c", cfg, "-l", "localhost:0", "--log-dir", tmp_path / "logs"])
    assert r.returncode != 0
    assert "--listen" in r.stderr and "numeric" in r.stderr
    assert "Ready" not in r.stdout


def test_listen_address_in_use_refused(modules, tmp_path):
    cfg = tmp_path / "m.toml"
    cfg.write_text(module_entry("/hello", modules["hello.wat"]))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_wagi(["-c", cfg, "-l", f"127.0.0.1:{port}", "--log-dir", tmp_path / "logs"])
    assert r.returncode != 0
    assert f"127.0.0.1:{port}" in r.stderr
    assert "Ready" not in r.stdout


def _serve_once(args, env, tmp_path):
    """Starts wagi with `args` and `env`, waits for Ready, sends SIGTERM;
    returns (stdout, stderr)."""
    import os
    import signal
    import subprocess
    from conftest import WAGI, free_port
    port = free_port()
    p = subprocess.Popen([str(WAGI)] + [str(a) for a in args] + ["-l", f"127.0.0.1:{port}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("WAGI_")},
                              **env}, cwd=tmp_path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if p.poll() is not None:
                break
            time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=15)
    return out.decode(), err.decode()


def test_wagi_log_dir_env_var(modules, tmp_path):
    cfg = tmp_path / "m.toml"
    cfg.write_text(module_entry("/", modules["behave"], entrypoint="stderr_marker"))
    logs = tmp_path / "from-env"
    out, err = _serve_once(["-c", cfg], {"WAGI_LOG_DIR": str(logs)}, tmp_path)
    assert "Ready: serving on" in out, (out, err)
    assert logs.is_dir(), (out, err)
    assert "No log_dir specified" not in out + err


def test_no_log_dir_uses_announced_temp_dir(modules, tmp_path):
    import shutil
    cfg = tmp_path / "m.toml"
    cfg.write_text(module_entry("/", modules["behave"]))
    out, err = _serve_once(["-c", cfg], {}, tmp_path)
    m = re.search(r"No log_dir specified, using temporary directory (\S+) for logs", out + err)
    assert m, (out, err)
    assert Path(m.group(1)).is_dir()
    shutil.rmtree(m.group(1), ignore_errors=True)


@pytest.mark.xfail(strict=True, reason="audit finding: when libmicrohttpd rejects a request after "
                   "the URI callback (e.g. 431 for many query arguments), on_uri's req_ctx "
                   "is never freed and S.inflight never drops: memory grows per request and "
                   "shutdown always waits its full 10 s. Remove this mark once fixed.")
def test_rejected_request_does_not_leak_or_stall_shutdown(modules, tmp_path):
    s = WagiServer(tmp_path / "s", module_entry("/env/...", modules["env"])).start()
    try:
        reply = s.raw(b"GET /env/x?" + b"&" * 6000 + b" HTTP/1.1\r\nHost: a\r\n"
                      b"Connection: close\r\n\r\n", timeout=5)
        assert s.get("/healthz").status == 200
        t0 = time.monotonic()
        rc = s.stop()
        took = time.monotonic() - t0
    finally:
        s.stop()
    assert rc == 0
    assert took < 5.0, f"shutdown took {took:.1f} s (reply was {reply[:60]!r})"
