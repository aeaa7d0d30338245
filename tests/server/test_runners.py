"""The runners (pool.c): module requests run on a fixed set of threads fed
from the HTTP event loops. Slow or stuck modules must not hold up others,
queued requests keep arrival order and limits, shutdown answers everything."""
import http.client
import json
import signal
import socket
import threading
import time

import pytest

from conftest import WagiServer, module_entry, run_wagi


def _loops_config(m, time_limit_ms):
    return (module_entry("/loop", m["behave"], entrypoint="loop", time_limit_ms=time_limit_ms)
            + module_entry("/slow", m["behave"], entrypoint="slow")
            + module_entry("/ok", m["behave"]))


@pytest.mark.parametrize("path,status", [("/loop", 504), ("/slow?3000", 200)],
                         ids=["spinning", "sleeping"])
def test_long_requests_do_not_block_the_only_runner(modules, server_factory, path, status):
    """One runner (--workers 1) and four requests that take seconds: modules
    spinning until their 4 s time limit, or blocked in a host call
    (nanosleep -> poll_oneoff). A quick module request is still answered
    while all four run: a long run gives up its claim to the CPU a few
    milliseconds after others start waiting."""
    s = server_factory(_loops_config(modules, 4000), args=["--workers", "1"])
    done = []

    def hit():
        done.append(s.get(path, timeout=30).status)

    ts = [threading.Thread(target=hit) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    r = s.get("/ok", timeout=10)
    assert (r.status, r.body) == (200, b"ok\n")
    assert done == [], "the quick request had to wait for the long ones"
    for t in ts:
        t.join(30)
    assert done == [status] * 4


def test_many_keepalive_connections_all_answered(modules, server_factory):
    """300 keep-alive connections (more than any thread count), each sending
    three requests in turn: every request gets its own correct answer."""
    s = server_factory(module_entry("/env/...", modules["env"]),
                       args=["--max-connections-per-ip", "0"])
    conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=20) for _ in range(300)]
    try:
        for rnd in range(3):
            for i, c in enumerate(conns):
                c.request("GET", f"/env/c{i}?r={rnd}")
            for i, c in enumerate(conns):
                r = c.getresponse()
                env = json.loads(r.read())["env"]
                assert r.status == 200
                assert env["PATH_INFO"] == f"/c{i}"
                assert env["QUERY_STRING"] == f"r={rnd}"
    finally:
        for c in conns:
            c.close()


def test_queue_wait_runs_out_gives_503(modules, server_factory):
    """max_concurrent_requests = 1 and a 1 s time limit: a request queued
    behind a module that runs to its limit waits at most the time limit,
    then gets 503 with Retry-After, and the log says why."""
    s = server_factory(module_entry("/loop", modules["behave"], entrypoint="loop",
                                    time_limit_ms=1000, max_concurrent_requests=1)
                       + module_entry("/ok", modules["behave"]))
    first = {}
    t = threading.Thread(target=lambda: first.setdefault("st", s.get("/loop", timeout=20).status))
    t.start()
    time.sleep(0.3)
    r = s.get("/loop", timeout=20)
    t.join(20)
    assert first["st"] == 504
    # The queued one either waited its second out (503) or got the slot
    # just as the first one was stopped and ran into its own limit (504).
    assert r.status in (503, 504)
    if r.status == 503:
        assert r.header("Retry-After") == "1"
        assert r.body == b"503 Service Unavailable: the server is busy; try again shortly\n"
        assert s.wait_log("waited 1000 ms for one of 1 run slots"), s.logs()
    assert s.get("/ok").status == 200


def test_full_module_queue_gives_503_at_once(modules, server_factory):
    """One slot, a queue of 64: the 66th concurrent request is refused at
    once with 503 while the others wait their turn."""
    s = server_factory(module_entry("/slow", modules["behave"], entrypoint="slow",
                                    max_concurrent_requests=1, time_limit_ms=30000))
    results = []
    lock = threading.Lock()

    def hit():
        r = s.get("/slow?100", timeout=60)
        with lock:
            results.append(r.status)

    ts = [threading.Thread(target=hit) for _ in range(70)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert len(results) == 70
    assert results.count(503) >= 1, results
    assert results.count(200) >= 60, results
    assert set(results) <= {200, 503}
    assert s.wait_log("busy: 1 running, 64 queued (limit 1)"), s.logs()


def test_shutdown_answers_queued_and_running_requests(modules, tmp_path):
    """SIGTERM with one request running and two queued for the module's only
    slot: every client gets an answer (200 for ones that could run, 503 for
    ones still waiting when the drain gives up), and the exit status is 0."""
    s = WagiServer(tmp_path / "s", module_entry("/slow", modules["behave"], entrypoint="slow",
                                                max_concurrent_requests=1)).start()
    results = []
    lock = threading.Lock()

    def hit():
        try:
            r = s.get("/slow?800", timeout=30)
            with lock:
                results.append(r.status)
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                results.append(repr(e))

    ts = [threading.Thread(target=hit) for _ in range(3)]
    for t in ts:
        t.start()
        time.sleep(0.1)
    s.proc.send_signal(signal.SIGTERM)
    for t in ts:
        t.join(30)
    rc = s.proc.wait(30)
    s.stop()
    assert rc == 0, s.logs()
    assert sorted(results) == [200, 200, 200], (results, s.logs())


def test_client_gone_while_module_runs(modules, server_factory):
    """A client that disconnects while its request runs costs nothing: the
    server stays healthy and serves the next requests."""
    s = server_factory(module_entry("/slow", modules["behave"], entrypoint="slow")
                       + module_entry("/ok", modules["behave"]))
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(b"GET /slow?50 HTTP/1.1\r\nHost: a\r\n\r\n")
    time.sleep(0.5)
    assert s.get("/ok").status == 200
    assert s.get("/healthz").status == 200


@pytest.mark.parametrize("flag,value", [("--workers", "0"), ("--workers", "65"),
                                        ("--workers", "x"), ("--http-threads", "0"),
                                        ("--http-threads", "-1")])
def test_bad_thread_counts_refused(tmp_path, modules, flag, value):
    cfg = tmp_path / "m.toml"
    cfg.write_text(module_entry("/", modules["behave"]))
    r = run_wagi(["--config", cfg, flag, value])
    assert r.returncode == 1
    assert f"{flag} {value}: expected a number from 1 to 64" in r.stderr
