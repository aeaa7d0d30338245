"""Fixtures for the WAGI server integration tests.

The session fixture `modules` builds every test module of tests/server/modules
into <build>/server-tests/: each *.c with clang-16 for wasm32-wasi, each *.wat
with wat2wasm (the .wat text is also copied there, to test the server's own
WAT loading). `WagiServer` starts the real <build>/wagi on a free loopback
port with a generated modules.toml and talks to it with http.client.

Environment: WAGI_BUILD (default "build") selects the build directory,
WAGI_BIN overrides the server binary. WAGI_TEST_TIER selects the engine tier
every server of the suite runs its modules on: unset (or "interp") for the
interpreter, "aot" for native code: then every server start gets `--tier aot
--module-cache DIR` (tier_args), DIR one private directory for the whole
session, so that each module is compiled once. A test that chooses the tier
or the cache itself keeps its choice; tests of one tier's own machinery
skip on the other with `only_on_tier`.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
WAGI = Path(os.environ.get("WAGI_BIN", BUILD / "wagi"))
MODSRC = Path(__file__).resolve().parent / "modules"
MODDIR = BUILD / "server-tests"
CLANG = os.environ.get("WASM_CC", "clang-16")

STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0

TIER = os.environ.get("WAGI_TEST_TIER", "") or "interp"
if TIER not in ("interp", "aot"):
    raise RuntimeError(f"WAGI_TEST_TIER={TIER!r}: expected interp or aot")
if TIER == "aot":
    # --tier aot compiles every module before the server listens: on a
    # loaded 2-core machine a cold compile of the bigger modules takes a
    # few seconds (each module once per session, then from the cache).
    STARTUP_TIMEOUT = 120.0
_aot_cache = None


def aot_cache():
    """The session's module cache for WAGI_TEST_TIER=aot (mode 0700, as
    the server requires; removed in pytest_sessionfinish)."""
    global _aot_cache
    if _aot_cache is None:
        _aot_cache = tempfile.mkdtemp(prefix="wagi-servertest-aot-")
    return _aot_cache


def pytest_sessionfinish(session, exitstatus):
    if _aot_cache:
        shutil.rmtree(_aot_cache, ignore_errors=True)


def tier_args(args=(), env=None):
    """What a server start adds to its arguments for WAGI_TEST_TIER: nothing
    on the interpreter; on aot `--tier aot` unless `args` give a --tier, and
    `--module-cache` the session's cache unless `args` or `env` name one
    (WAGI_MODULE_CACHE="" in env: none). Put before the test's own
    arguments."""
    if TIER != "aot":
        return []
    given = {str(a).split("=", 1)[0] for a in args}
    extra = []
    if "--tier" not in given:
        extra += ["--tier", "aot"]
    if "--module-cache" not in given and "WAGI_MODULE_CACHE" not in (env or {}):
        extra += ["--module-cache", aot_cache()]
    return extra


def only_on_tier(tier, reason):
    """Marks a test of one tier's own machinery: skipped when the suite runs
    on the other (WAGI_TEST_TIER)."""
    return pytest.mark.skipif(TIER != tier, reason=f"{tier} tier only: {reason}")


def _stale(out, srcs):
    if not out.exists():
        return True
    t = out.stat().st_mtime
    return any(s.stat().st_mtime > t for s in srcs)


@pytest.fixture(scope="session", autouse=True)
def wagi_binary():
    if not os.access(WAGI, os.X_OK):
        pytest.fail(f"{WAGI} is missing or not executable: build it first (make)", pytrace=False)
    cc = os.environ.get("CC") or "cc"
    if TIER == "aot" and not shutil.which(cc):
        pytest.fail(f"WAGI_TEST_TIER=aot: no C compiler ({cc}) on PATH; --tier aot needs one "
                    "(set CC)", pytrace=False)
    return WAGI


@pytest.fixture(scope="session")
def modules():
    """Builds the test modules; returns {name: path} (name "x.wat" for WAT text)."""
    MODDIR.mkdir(parents=True, exist_ok=True)
    headers = list(MODSRC.glob("*.h"))
    out = {}
    for src in sorted(MODSRC.glob("*.c")):
        dst = MODDIR / (src.stem + ".wasm")
        if _stale(dst, [src] + headers):
            subprocess.run(
                [CLANG, "--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", str(src), "-o",
                 str(dst), "-Wl,--strip-all"], check=True)
        out[src.stem] = dst
    for src in sorted(MODSRC.glob("*.wat")):
        dst = MODDIR / (src.stem + ".wasm")
        if _stale(dst, [src]):
            subprocess.run(["wat2wasm", "--enable-all", str(src), "-o", str(dst)], check=True)
        out[src.stem] = dst
        text = MODDIR / src.name
        shutil.copyfile(src, text)
        out[src.name] = text
    return out


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tq(s):
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(str(s))


def module_entry(route, module, **kw):
    """One [[module]] table. Values: str -> string, dict -> inline table of
    strings, list -> array of strings, int/bool as is."""
    lines = ["[[module]]", f"route = {tq(route)}", f"module = {tq(module)}"]
    for k, v in kw.items():
        if isinstance(v, dict):
            inner = ", ".join(f"{tq(a)} = {tq(b)}" for a, b in v.items())
            lines.append(f"{k} = {{ {inner} }}")
        elif isinstance(v, (list, tuple)):
            lines.append(f"{k} = [{', '.join(tq(x) for x in v)}]")
        elif isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, int):
            lines.append(f"{k} = {v}")
        else:
            lines.append(f"{k} = {tq(v)}")
    return "\n".join(lines) + "\n"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value), in order
        self.body = body

    def header(self, name):
        vals = self.headers_all(name)
        return vals[-1] if vals else None

    def headers_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8", "surrogateescape"))

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


class WagiServer:
    """The real server on a free loopback port."""

    def __init__(self, tmp, config, args=(), cwd=None, log_dir=None, env=None):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.config_path = self.tmp / "modules.toml"
        self.config_path.write_text(config)
        self.log_dir = Path(log_dir) if log_dir else self.tmp / "logs"
        self.port = free_port()
        self.args = list(args)
        self.cwd = cwd
        self.env = None if env is None else {**os.environ, **env}   # added variables
        self.proc = None
        self.out = []
        self.err = []
        self._ready = threading.Event()

    def _pump(self, stream, sink, watch):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            sink.append(line)
            if watch and "Ready: serving on" in line:
                self._ready.set()
        stream.close()

    def start(self):
        self.added = tier_args(self.args, self.env)
        cmd = ([str(WAGI), "--config", str(self.config_path), "--listen",
                f"127.0.0.1:{self.port}", "--log-dir", str(self.log_dir)] +
               self.added + self.args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, cwd=self.cwd, env=self.env)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, True), daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                break
            if self.proc.poll() is not None:
                for t in self._threads:
                    t.join(2)
                raise RuntimeError(f"wagi exited with {self.proc.returncode} before Ready:\n"
                                   f"stdout: {''.join(self.out)}\nstderr: {''.join(self.err)}")
        else:
            self.stop()
            raise RuntimeError("wagi did not print Ready within "
                               f"{STARTUP_TIMEOUT}s:\n{''.join(self.out)}{''.join(self.err)}")
        return self

    def request(self, method, path, headers=None, body=None, timeout=REQUEST_TIMEOUT):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.getheaders(), data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def raw(self, data, timeout=REQUEST_TIMEOUT):
        """Sends raw bytes, returns everything the server sends back."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    c = s.recv(65536)
                except socket.timeout:
                    break
                if not c:
                    break
                chunks.append(c)
            return b"".join(chunks)

    def logs(self):
        return "".join(self.out) + "".join(self.err)

    def wait_log(self, text, timeout=5.0):
        """True once `text` is in the logs. The server writes a line before
        it answers, but the reader thread may not have collected it yet."""
        deadline = time.monotonic() + timeout
        while text not in self.logs():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for t in getattr(self, "_threads", []):
            t.join(2)
        return self.proc.returncode if self.proc else None

    def sanitizer_reports(self):
        """Sanitizer findings in the server's stderr (an ASan/UBSan build)."""
        text = "".join(self.err)
        marks = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                 "ThreadSanitizer")
        return [line for line in text.splitlines() if any(m in line for m in marks)]

    def stop_checked(self, sig=signal.SIGTERM):
        """stop(), then fail on any sanitizer report; on the aot run, also
        unless every request ran native code (the shutdown summary)."""
        rc = self.stop(sig)
        reports = self.sanitizer_reports()
        assert not reports, "sanitizer reports:\n" + "".join(self.err)[-20000:]
        if "--tier" in getattr(self, "added", ()):
            import re
            m = re.search(r"served (\d+) module runs \((\d+) on native code\)", self.logs())
            assert not m or m.group(1) == m.group(2), \
                f"--tier aot, yet not every request ran native code: {m.group(0)}"
        return rc


def run_wagi(args, cwd=None, timeout=20, env=None):
    """Runs wagi to completion (for startup failures); returns CompletedProcess.
    env: variables added to this process's environment. A server start
    (-c/--config) gets tier_args."""
    args = [str(a) for a in args]
    server = any(a in ("-c", "--config") or a.startswith("--config=") for a in args)
    if server:
        args = tier_args(args, env) + args
        if TIER == "aot":
            timeout = max(timeout, 120)
    return subprocess.run([str(WAGI)] + args, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL,
                          env=None if env is None else {**os.environ, **env})


@pytest.fixture
def server_factory(tmp_path):
    started = []

    def make(config, args=(), **kw):
        s = WagiServer(tmp_path / f"srv{len(started)}", config, args, **kw)
        started.append(s)
        return s.start()

    yield make
    for s in started:
        s.stop_checked()
