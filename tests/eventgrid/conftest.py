"""Fixtures for the `wagi eventgrid` integration tests.

`Topic` starts the real <build>/wagi eventgrid on a free loopback port with a
generated TOPIC.toml (the pattern of tests/server/conftest.py, copied rather
than imported so that the suites stay independent) and talks to it with
http.client.

Environment: WAGI_BUILD (default "build") selects the build directory,
WAGI_BIN overrides the binary.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
WAGI = Path(os.environ.get("WAGI_BIN", BUILD / "wagi"))

STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
KEY = "test-key-0123456789"
PUBLISH = "/api/events?api-version=2018-01-01"


@pytest.fixture(scope="session", autouse=True)
def wagi_binary():
    if not os.access(WAGI, os.X_OK):
        pytest.fail(f"{WAGI} is missing or not executable: build it first (make)", pytrace=False)
    return WAGI


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tq(s):
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(str(s))


def event(i=0, **over):
    """A valid Event Grid schema event; keyword None removes a field."""
    ev = {"id": f"ev-{i}", "subject": f"/things/{i}", "eventType": "Test.Created",
          "eventTime": "2024-01-02T03:04:05.678Z", "data": {"n": i}, "dataVersion": "1.0"}
    for k, v in over.items():
        if v is None:
            ev.pop(k, None)
        else:
            ev[k] = v
    return ev


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


class Topic:
    """The real `wagi eventgrid` on a free loopback port."""

    def __init__(self, tmp, extra="", data_dir=None, key=KEY):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.tmp / "data"
        self.config_path = self.tmp / "topic.toml"
        self.config_path.write_text(
            f"key = {tq(key)}\ndata_dir = {tq(self.data_dir)}\n{extra}")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.out, self.err = [], []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            [str(WAGI), "eventgrid", "-c", str(self.config_path), "--listen",
             f"127.0.0.1:{self.port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"wagi eventgrid did not start:\n{self.stderr()}")
        # "Ready" is on stdout; the startup lines before it on stderr may
        # still be in the other pipe
        self.wait_log(" configured; delivery")
        return self

    def _pump(self, stream, sink):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            sink.append(line)
            if "Ready: " in line:
                self._ready.set()
        stream.close()

    def stderr(self):
        return "".join(self.err)

    def wait_log(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return True
            time.sleep(0.02)
        return False

    def request(self, method, path, headers=None, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def publish(self, events, key=KEY, raw=None, path=PUBLISH, headers=None):
        h = {"Content-Type": "application/json"}
        if key is not None:
            h["aeg-sas-key"] = key
        h.update(headers or {})
        body = raw if raw is not None else json.dumps(events).encode()
        return self.request("POST", path, headers=h, body=body)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        for t in self._threads:
            t.join(5)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in getattr(self, "_threads", []):
            t.join(5)


@pytest.fixture
def topic_factory(tmp_path):
    made = []

    def make(extra="", **kw):
        t = Topic(tmp_path / f"t{len(made)}", extra, **kw)
        made.append(t)
        return t

    yield make
    for t in made:
        t.stop()


@pytest.fixture
def topic(topic_factory):
    return topic_factory().start()


def run_config(tmp_path, text):
    """Runs `wagi eventgrid -c` on a config that should not start; returns
    (exit status, stderr)."""
    p = tmp_path / "bad.toml"
    p.write_text(text)
    r = subprocess.run([str(WAGI), "eventgrid", "-c", str(p), "--listen",
                        f"127.0.0.1:{free_port()}"], capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stderr.decode("utf-8", "replace"), str(p)


# ---- delivery: subscribers and [[subscription]] tables ----------------------------


def subscription_toml(name, endpoint, event_types=None, subject_begins_with=None):
    """One [[subscription]] table (goes after every top-level key)."""
    s = f"\n[[subscription]]\nname = {tq(name)}\nendpoint = {tq(endpoint)}\n"
    if event_types is not None:
        s += f"event_types = [{', '.join(tq(t) for t in event_types)}]\n"
    if subject_begins_with is not None:
        s += f"subject_begins_with = {tq(subject_begins_with)}\n"
    return s


def rewrite_config(topic, extra, key=KEY):
    """Replaces the TOPIC.toml of a (stopped) Topic, keeping key and data_dir."""
    topic.config_path.write_text(f"key = {tq(key)}\ndata_dir = {tq(topic.data_dir)}\n{extra}")


@pytest.fixture
def subscriber_factory():
    from subscriber import Subscriber
    made = []

    def make(**kw):
        s = Subscriber(**kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def subscriber(subscriber_factory):
    return subscriber_factory()
