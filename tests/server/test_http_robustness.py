"""Malformed and hostile HTTP against the real server: seeded mutations of
valid requests, clients that vanish at every stage (headers, body, while
their module runs), and pipelined mixes. Whatever arrives, every answer is a
well-formed HTTP/1.1 status line, nothing crashes (the ASan build reports at
exit through stop_checked), and the server keeps serving."""
import random
import re
import socket
import threading

import pytest

from conftest import module_entry

STATUS = re.compile(rb"^HTTP/1\.1 ([1-5][0-9][0-9]) ")

BASES = [
    b"GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\n"
    b"hello world",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /healthz HTTP/1.0\r\n\r\n",
    b"GET /slow?20 HTTP/1.1\r\nHost: a\r\n\r\n",
]
NASTY = [b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b" ", b":", b"%", b"%00", b"\t",
         b"Content-Length: 99999999999999999999\r\n", b"Transfer-Encoding: chunked\r\n",
         b"Content-Length: -1\r\n", b"ffffffffffffffff\r\n", b"HTTP/9.9", b"/" * 300]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:                      # flip a byte
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:                             # insert a nasty piece
            data[pos:pos] = rng.choice(NASTY)
        elif op == 2:                             # cut the rest
            del data[pos:]
        elif op == 3 and data:                    # drop a span
            del data[pos:pos + rng.randint(1, 16)]
        else:                                     # duplicate a span
            data[pos:pos] = data[pos:pos + rng.randint(1, 64)]
    return bytes(data)


def exchange(port, data, close_early=False, half_close=True, timeout=5.0):
    """Sends data, half-closes (so that the server sees the end of a
    truncated request at once) or drops the connection at once, and returns
    what came back (b"" on a reset)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if close_early:
                return b""
            if half_close:
                s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
            return b"".join(chunks)
        except (ConnectionResetError, BrokenPipeError):
            return b""


@pytest.fixture(scope="module")
def srv(modules, tmp_path_factory):
    from conftest import WagiServer
    m = modules["behave"]
    cfg = (module_entry("/hello", m) + module_entry("/echo", m, entrypoint="echo")
           + module_entry("/slow", m, entrypoint="slow", max_concurrent_requests=2))
    s = WagiServer(tmp_path_factory.mktemp("robust"), cfg,
                   args=["--header-timeout", "2", "--max-connections-per-ip", "0"]).start()
    yield s
    assert s.stop_checked() == 0


def healthy(s):
    assert s.get("/healthz", timeout=10).status == 200
    r = s.get("/hello", timeout=10)
    assert (r.status, r.body) == (200, b"ok\n")


def test_mutated_requests(srv):
    rng = random.Random(20261125)
    statuses = set()
    for i in range(600):
        data = mutate(rng, rng.choice(BASES))
        out = exchange(srv.port, data)
        if out:
            m = STATUS.match(out)
            assert m, (data, out[:200])
            statuses.add(int(m.group(1)))
    # The mutations reached the parser's refusals (libmicrohttpd answering a
    # malformed request line or headers itself), not only the happy path and
    # the server's own 404s.
    assert statuses & {400, 431, 505}, statuses
    assert 200 in statuses
    healthy(srv)


def test_clients_vanishing_at_every_stage(srv):
    rng = random.Random(7)
    for i in range(300):
        base = rng.choice(BASES)
        cut = rng.randrange(len(base) + 1)
        exchange(srv.port, base[:cut], close_early=True)
    healthy(srv)


def test_concurrent_hostile_and_honest_clients(srv):
    """Hostile clients hammer the server from four threads while an honest
    one keeps getting correct answers."""
    stop = threading.Event()
    errors = []

    def hostile(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            data = mutate(rng, rng.choice(BASES))
            try:
                exchange(srv.port, data, close_early=rng.random() < 0.3)
            except OSError as e:  # the server may refuse a connection burst
                errors.append(e)

    ts = [threading.Thread(target=hostile, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    try:
        for i in range(100):
            r = srv.request("POST", "/echo", body=f"honest {i}".encode(), timeout=10)
            assert (r.status, r.body) == (200, f"honest {i}".encode())
    finally:
        stop.set()
        for t in ts:
            t.join(30)
    healthy(srv)


def test_pipelined_mix_answered_in_order(srv):
    reqs = [
        b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none",
        b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /slow?30 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ]
    # Not half-closed: a module request's answer is sent after the event loop
    # has read the client's end of input, which libmicrohttpd takes for an
    # abort (as WAGI's hyper does by default). The last request closes.
    out = exchange(srv.port, b"".join(reqs), half_close=False)
    codes = [int(c) for c in re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", out)]
    assert codes == [200, 200, 200, 200, 200, 404], out
    bodies = out.split(b"\r\n\r\n")
    assert bodies[1].startswith(b"ok\n")
    assert bodies[2].startswith(b"one")
    assert bodies[3].startswith(b"OK")
    assert bodies[4].startswith(b"slept\n")
    assert bodies[5].startswith(b"two")
