"""Fixtures for the outbound-HTTP integration tests (wasi_experimental_http).

The test module tests/http/modules/client.c is built with clang-16 for
wasm32-wasi against the guest library guest/ into <build>/http-tests/. Each
test starts loopback upstreams (http.server.ThreadingHTTPServer, optionally
with TLS from openssl-made certificates) and the real <build>/wagi on free
ports, then drives the module through its query string (see client.c).

Environment: WAGI_BUILD (default "build") selects the build directory,
WAGI_BIN overrides the server binary, WASM_CC the wasm compiler.
"""
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
WAGI = Path(os.environ.get("WAGI_BIN", BUILD / "wagi"))
OUTDIR = BUILD / "http-tests"
CLANG = os.environ.get("WASM_CC", "clang-16")
STARTUP_TIMEOUT = 30.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pattern(n):
    """n deterministic bytes covering every byte value."""
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


# ---- modules -------------------------------------------------------------------

@pytest.fixture(scope="session")
def client_wasm():
    if not os.access(WAGI, os.X_OK):
        pytest.fail(f"{WAGI} is missing or not executable: build it first (make)", pytrace=False)
    OUTDIR.mkdir(parents=True, exist_ok=True)
    srcs = [ROOT / "tests/http/modules/client.c", ROOT / "guest/src/wagi_http.c"]
    hdr = ROOT / "guest/include/wagi_http.h"
    out = OUTDIR / "client.wasm"
    if not out.exists() or any(p.stat().st_mtime > out.stat().st_mtime for p in srcs + [hdr]):
        subprocess.run([CLANG, "--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror",
                        f"-I{ROOT / 'guest/include'}"] + [str(s) for s in srcs]
                       + ["-o", str(out), "-Wl,--strip-all"], check=True)
    return out


# ---- upstream ------------------------------------------------------------------------

class Recorded:
    def __init__(self, method, path, headers, body, port):
        self.method = method
        self.path = path
        self.headers = headers     # list of (name, value) as received
        self.body = body
        self.client_port = port

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


REASONS = http.server.BaseHTTPRequestHandler.responses


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        try:   # one write per response below; no Nagle stalls on reused connections
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, *a):
        pass

    def send_raw(self, code, headers=(), body=b"", chunked=False):
        reason = REASONS.get(code, ("Whatever",))[0]
        out = [f"HTTP/1.1 {code} {reason}\r\n".encode()]
        for k, v in headers:
            out.append(f"{k}: {v}\r\n".encode("latin-1"))
        no_body = code in (204, 304) or 100 <= code < 200
        if chunked:
            out.append(b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 65521):
                piece = body[i:i + 65521]
                out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
            out.append(b"0\r\n\r\n")
        else:
            if not no_body:
                out.append(f"Content-Length: {len(body)}\r\n".encode())
            out.append(b"\r\n")
            if not no_body and self.command != "HEAD":
                out.append(body)
        self.wfile.write(b"".join(out))
        self.wfile.flush()

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        owner = self.server.owner
        owner.record(Recorded(self.command, self.path, list(self.headers.items()), body,
                              self.client_address[1]))
        path, _, query = self.path.partition("?")
        q = urllib.parse.parse_qs(query)
        parts = path.strip("/").split("/")
        if parts[0] == "echo":
            self.send_raw(200, [("Content-Type", "application/octet-stream"),
                                ("X-Method", self.command)], body)
        elif parts[0] == "status":
            code = int(parts[1])
            self.send_raw(code, [("Content-Type", "text/plain")], f"status {code}".encode())
        elif parts[0] == "big":
            self.send_raw(200, [("Content-Type", "application/octet-stream")], pattern(int(parts[1])))
        elif parts[0] == "chunked":
            self.send_raw(200, [("Content-Type", "application/octet-stream")],
                          pattern(int(parts[1])), chunked=True)
        elif parts[0] == "headers":
            hs = [(f"X-H-{i}", f"v{i}") for i in range(int(parts[1]))]
            if "long" in q:
                hs.append(("X-Long", "a" * int(q["long"][0])))
            self.send_raw(200, hs, b"many headers")
        elif parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000)
            self.send_raw(200, [], b"slow")
        elif parts[0] == "loop":
            self.send_raw(302, [("Location", "/loop")], b"again")
        elif parts[0] == "redirect":
            code = int(q.get("code", ["302"])[0])
            self.send_raw(code, [("Location", q["to"][0])], b"moved")
        else:
            self.send_raw(200, [("Content-Type", "text/plain")], b"ok")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any
    do_PROPFIND = handle_any


class Upstream:
    def __init__(self, tls=None):
        self.requests = []
        self.lock = threading.Lock()
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.srv.owner = self
        self.tls = tls
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, path="/"):
        return self.base + path

    def record(self, r):
        with self.lock:
            self.requests.append(r)

    def last(self):
        with self.lock:
            return self.requests[-1] if self.requests else None

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def upstream_factory():
    made = []

    def make(tls=None):
        u = Upstream(tls)
        made.append(u)
        return u

    yield make
    for u in made:
        u.stop()


@pytest.fixture
def upstream(upstream_factory):
    return upstream_factory()


# ---- TLS material -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=d,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=wagi-c test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    for name, san in (("good", "IP:127.0.0.1"), ("wrong", "DNS:wrong.example")):
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return {"ca": d / "ca.pem", "good": (d / "good.pem", d / "good.key"),
            "wrong": (d / "wrong.pem", d / "wrong.key")}


# ---- the server ------------------------------------------------------------------------------

def tq(s):
    return json.dumps(str(s))


def module_entry(route, module, **kw):
    lines = ["[[module]]", f"route = {tq(route)}", f"module = {tq(module)}"]
    for k, v in kw.items():
        if isinstance(v, (list, tuple)):
            lines.append(f"{k} = [{', '.join(tq(x) for x in v)}]")
        elif isinstance(v, int):
            lines.append(f"{k} = {v}")
        else:
            lines.append(f"{k} = {tq(v)}")
    return "\n".join(lines) + "\n"


class Result:
    """The client module's output: key=value lines, hdr= lines, body bytes."""

    def __init__(self, status, raw):
        self.status = status
        self.raw = raw
        head, sep, body = raw.partition(b"--body--\n")
        self.body = body if sep else b""
        self.kv = {}
        self.hdrs = []
        for line in head.decode("utf-8", "replace").splitlines():
            k, _, v = line.partition("=")
            if k == "hdr":
                name, _, value = v.partition(":")
                self.hdrs.append((name, value))
            else:
                self.kv[k] = v

    def __getitem__(self, k):
        return self.kv[k]

    def get(self, k, d=None):
        return self.kv.get(k, d)

    def header(self, name):
        return [v for k, v in self.hdrs if k == name]

    def __repr__(self):
        return f"<Result {self.status} {self.kv} hdrs={len(self.hdrs)} body={len(self.body)}B>"


class Wagi:
    def __init__(self, tmp, config, env=None, args=()):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        (self.tmp / "modules.toml").write_text(config)
        self.port = free_port()
        e = dict(os.environ)
        # Proxies in the environment must not be used (the server clears them
        # for its requests): point them at a closed port.
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            e[k] = "http://127.0.0.1:9"
        e.pop("NO_PROXY", None)
        e.pop("no_proxy", None)
        e["WAGI_HTTP_DEBUG"] = "1"
        e.update(env or {})
        self.env = e
        self.args = list(args)
        self.err = []
        self.proc = None
        self._ready = threading.Event()

    def _pump(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.err.append(line)
            if "Ready: serving on" in line:
                self._ready.set()
        stream.close()

    def start(self):
        cmd = [str(WAGI), "--config", str(self.tmp / "modules.toml"), "--listen",
               f"127.0.0.1:{self.port}", "--log-dir", str(self.tmp / "logs")] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise RuntimeError(f"wagi exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"wagi not ready:\n{self.log()}")
        return self

    def log(self):
        return "".join(self.err)

    def wait_log(self, text, timeout=5.0):
        """True once `text` appears in the server's output (read by a thread)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def request(self, method, path, body=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def call(self, route="/c", body=None, params=(), **kw):
        """Runs the client module; params is a list of (key, value) pairs
        (for repeated keys such as h), kw more of them."""
        items = list(kw.items()) + list(params)
        qs = urllib.parse.urlencode(items, quote_via=urllib.parse.quote)
        status, raw = self.request("POST" if body is not None else "GET", f"{route}?{qs}", body=body)
        return Result(status, raw)

    def healthy(self):
        status, body = self.request("GET", "/healthz", timeout=10)
        return status == 200 and body == b"OK"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def wagi(tmp_path, client_wasm):
    """wagi(allowed_hosts=[...], env={...}, **module_keys) -> a started server
    with the client module at /c."""
    made = []

    def make(allowed_hosts=None, env=None, extra="", args=(), **keys):
        kw = dict(keys)
        if allowed_hosts is not None:
            kw["allowed_hosts"] = allowed_hosts
        cfg = module_entry("/c", client_wasm, **kw) + extra
        w = Wagi(tmp_path / f"srv{len(made)}", cfg, env=env, args=args)
        made.append(w)
        return w.start()

    yield make
    for w in made:
        w.stop()
    for w in made:
        time.sleep(0.05)   # let the pump read the last lines
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                    "WARNING: ThreadSanitizer"):
            assert bad not in w.log(), w.log()
