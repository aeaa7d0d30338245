"""The wagi-c limits (time, memory, output, request body): each gives its
status promptly and leaves the server healthy. Also graceful shutdown."""
import os
import re
import signal
import threading
import time

import pytest

from conftest import WagiServer, module_entry

TIME_LIMIT_MS = 1500


@pytest.fixture(scope="module")
def srv(modules, tmp_path_factory):
    m = modules
    cfg = (
        "[limits]\n"
        f"time_limit_ms = {TIME_LIMIT_MS}\n"
        f"memory_limit_bytes = {64 << 20}\n"
        f"output_limit_bytes = {1 << 20}\n"
        "max_request_body_bytes = 4096\n\n"
    )
    for ep in ("loop", "hog", "bigout", "echo", "slow"):
        cfg += module_entry(f"/{ep}", m["behave"], entrypoint=ep)
    cfg += module_entry("/recurse", m["recurse"])
    cfg += module_entry("/growloop", m["growloop"])
    cfg += module_entry("/startloop", m["startloop"])
    cfg += module_entry("/ok", m["behave"])
    cfg += module_entry("/bigbody", m["behave"], entrypoint="echo",
                        max_request_body_bytes=1 << 20)
    s = WagiServer(tmp_path_factory.mktemp("limits"), cfg).start()
    yield s
    s.stop_checked()


def healthy(srv):
    r = srv.get("/healthz", timeout=5)
    assert (r.status, r.body) == (200, b"OK")
    r = srv.get("/ok", timeout=5)
    assert (r.status, r.body) == (200, b"ok\n")


def test_infinite_loop_gives_504_within_limit(srv):
    t0 = time.monotonic()
    r = srv.get("/loop", timeout=TIME_LIMIT_MS / 1000 + 10)
    elapsed = time.monotonic() - t0
    assert r.status == 504
    assert r.body == b"504 Gateway Timeout: the module ran past its time limit\n"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert elapsed < TIME_LIMIT_MS / 1000 + 2.0, elapsed
    assert elapsed >= TIME_LIMIT_MS / 1000 * 0.9, elapsed
    healthy(srv)


def test_endless_start_function_gives_504_within_limit(srv):
    """The start function runs while the module is instantiated, before the
    entrypoint: the time limit covers it too (it used to hang the request)."""
    t0 = time.monotonic()
    r = srv.get("/startloop", timeout=TIME_LIMIT_MS / 1000 + 10)
    elapsed = time.monotonic() - t0
    assert r.status == 504
    assert r.body == b"504 Gateway Timeout: the module ran past its time limit\n"
    assert elapsed < TIME_LIMIT_MS / 1000 + 2.0, elapsed
    assert elapsed >= TIME_LIMIT_MS / 1000 * 0.9, elapsed
    healthy(srv)


def test_parallel_loops_do_not_block_health(srv):
    results = []

    def hit():
        results.append(srv.get("/loop", timeout=15).status)

    ts = [threading.Thread(target=hit) for _ in range(3)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    healthy(srv)      # answered while the loops still run
    for t in ts:
        t.join(20)
    assert results == [504, 504, 504]
    healthy(srv)


@pytest.mark.parametrize("path", ["/hog", "/growloop"])
def test_memory_cap_gives_500(srv, path):
    r = srv.get(path)
    assert r.status == 500, r
    assert r.body == b"500 Internal Server Error: the module failed; see the server log\n"
    healthy(srv)


def test_initial_memory_over_cap_gives_500(modules, server_factory):
    """A module whose initial memory exceeds the cap cannot be instantiated:
    like any instantiation failure (§6.3) that is a 500 per request."""
    s = server_factory(f"[limits]\nmemory_limit_bytes = {64 << 20}\n\n" +
                       module_entry("/bigmem", modules["bigmem"]) +
                       module_entry("/ok", modules["behave"]))
    r = s.get("/bigmem")
    assert (r.status, r.body) == \
        (500, b"500 Internal Server Error: the module failed; see the server log\n")
    healthy(s)


def test_global_time_limit_flag(modules, server_factory):
    s = server_factory(module_entry("/loop", modules["behave"], entrypoint="loop") +
                       module_entry("/ok", modules["behave"]), ["--time-limit-ms", "700"])
    t0 = time.monotonic()
    assert s.get("/loop", timeout=15).status == 504
    assert time.monotonic() - t0 < 3.0
    healthy(s)


def test_deep_recursion_gives_500(srv):
    r = srv.get("/recurse")
    assert r.status == 500
    assert srv.wait_log("/recurse: 500: trap: call stack exhausted in function "), srv.logs()
    # both tiers name the call that could not be made
    assert re.search(r"/recurse: 500: trap: call stack exhausted in function \d+ at 0x[0-9a-f]+ "
                     r"\(memory ", srv.logs()), srv.logs()
    healthy(srv)


def test_output_over_cap_gives_500(srv):
    r = srv.get("/bigout")
    assert r.status == 500
    assert len(r.body) < 1 << 20
    healthy(srv)


def test_body_under_limit(srv):
    data = b"x" * 4096
    r = srv.request("POST", "/echo", body=data)
    assert (r.status, r.body) == (200, data)


def test_body_over_limit_gives_413(srv):
    r = srv.request("POST", "/echo", body=b"x" * 4097)
    assert r.status == 413
    healthy(srv)


def test_chunked_body_over_limit_gives_413(srv):
    chunk = b"x" * 3000
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n" + b"%x\r\n" % len(chunk) + chunk + b"\r\n"
           + b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
    resp = srv.raw(raw)
    assert resp.split(b"\r\n")[0].startswith(b"HTTP/1.1 413"), resp[:100]
    healthy(srv)


def test_per_module_body_limit_override(srv):
    data = b"y" * 100000
    r = srv.request("POST", "/bigbody", body=data)
    assert (r.status, r.body) == (200, data)


def test_slow_request_under_limit_succeeds(srv):
    r = srv.get("/slow?300")
    assert (r.status, r.body) == (200, b"slept\n")


def test_graceful_shutdown_completes_in_flight(modules, tmp_path):
    s = WagiServer(tmp_path / "shutdown", module_entry("/slow", modules["behave"],
                                                      entrypoint="slow")).start()
    result = {}

    def hit():
        try:
            r = s.get("/slow?1500", timeout=20)
            result["r"] = (r.status, r.body)
        except Exception as e:  # noqa: BLE001 - reported below
            result["e"] = repr(e)

    t = threading.Thread(target=hit)
    t.start()
    time.sleep(0.5)
    s.proc.send_signal(signal.SIGTERM)
    t.join(20)
    rc = s.proc.wait(20)
    s.stop()
    assert result.get("r") == (200, b"slept\n"), (result, s.logs())
    assert rc == 0, s.logs()


def test_sigint_exits_zero_when_idle(modules, tmp_path):
    s = WagiServer(tmp_path / "sigint", module_entry("/", modules["behave"])).start()
    assert s.get("/").status == 200
    assert s.stop(signal.SIGINT) == 0


def test_max_concurrent_requests_queues(modules, server_factory):
    """With max_concurrent_requests = 1 a second request waits for the first
    instead of running beside it (and still succeeds)."""
    s = server_factory(module_entry("/slow", modules["behave"], entrypoint="slow",
                                    max_concurrent_requests=1))
    out = []

    def hit():
        t0 = time.monotonic()
        r = s.get("/slow?600", timeout=20)
        out.append((r.status, time.monotonic() - t0))

    ts = [threading.Thread(target=hit) for _ in range(2)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    total = time.monotonic() - t0
    assert [st for st, _ in out] == [200, 200]
    assert total >= 1.1, total          # serialised: 2 x 600 ms
    assert s.get("/healthz").status == 200


def test_read_of_a_silent_fifo_in_a_volume_gives_504(modules, server_factory, tmp_path):
    """A FIFO an operator left in a volume, whose writer never writes: the
    module's read waits, but the time limit still ends it (the read used to
    sit in the kernel, out of the watchdog's reach, holding a worker)."""
    vol = tmp_path / "vol"
    vol.mkdir()
    fifo = vol / "pipe"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # keeps a writer there without writing
    try:
        s = server_factory(module_entry("/read", modules["behave"], entrypoint="readfile",
                                        volumes={"/data": str(vol)}) +
                           module_entry("/ok", modules["behave"]), ["--time-limit-ms", "700"])
        t0 = time.monotonic()
        r = s.get("/read?/data/pipe", timeout=15)
        assert (r.status, r.body) == \
            (504, b"504 Gateway Timeout: the module ran past its time limit\n")
        assert time.monotonic() - t0 < 3.0
        healthy(s)
    finally:
        os.close(writer)
