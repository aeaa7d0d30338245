"""A scriptable Event Grid webhook subscriber for the delivery tests.

`Subscriber` is a threaded HTTP server on a free 127.0.0.1 port. It records
every request and answers per a script:

- validation requests (aeg-event-type: SubscriptionValidation): a queue of
  behaviours, then `validation_default` ("ok");
- notifications: a queue of behaviours, then `default` (200).

A behaviour is one of
  "ok"              the right validationResponse (validation only)
  "wrong"           200 with a wrong validationResponse (validation only)
  "ignore"          200 with `{}` (validation only: wait for manual validation)
  200, 500, ...     that status, empty body
  Reply(s, delay)   that status after `delay` seconds
  HANG              no answer until the client gives up (or the subscriber stops)
  CLOSE             close the connection without an answer
Queues and defaults can be set per request path (`path=`), else they apply to
every path.

`down()` closes the port (and open connections: refused from then on) and
`up()` opens the same port again; `stop()` shuts everything down.
"""
import collections
import http.server
import json
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    status: int
    delay: float = 0.0
    body: bytes = b""


HANG = "hang"
CLOSE = "close"


@dataclass
class Request:
    """One request as received; `answer` is the behaviour used, `status` the
    status sent (None when none was) and `done` the time the answer was
    written (None when it was not)."""
    method: str
    path: str
    headers: dict
    raw: bytes
    body: object
    at: float
    kind: str  # "validation" | "notification" | "other"
    answer: object = None
    status: object = None
    done: object = None
    conn: int = 0

    @property
    def ids(self):
        if isinstance(self.body, list):
            return [e.get("id") for e in self.body if isinstance(e, dict)]
        return []

    @property
    def delivery_count(self):
        return self.headers.get("aeg-delivery-count")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, sub):
        self.sub = sub
        self.gone = threading.Event()
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # resets are the client's business
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.sub = self.server.sub
        self.sub._opened(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.sub._closed(self.connection)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self):
        raw = self._read_body()
        at = time.monotonic()
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        kind = "other"
        etype = headers.get("aeg-event-type", "")
        if etype == "SubscriptionValidation":
            kind = "validation"
        elif etype == "Notification":
            kind = "notification"
        req = Request(self.command, self.path, headers, raw, body, at, kind,
                      conn=id(self.connection))
        answer = self.sub._record(req)
        if answer == HANG:
            self._hang()
            self.close_connection = True
            return
        if answer == CLOSE:
            self.close_connection = True
            return
        if kind == "validation" and answer in ("ok", "wrong", "ignore"):
            code = None
            try:
                code = body[0]["data"]["validationCode"]
            except (TypeError, KeyError, IndexError):
                pass
            if answer == "ok":
                payload = {"validationResponse": code}
            elif answer == "wrong":
                payload = {"validationResponse": f"not-{code}"}
            else:
                payload = {}
            answer = Reply(200, body=json.dumps(payload).encode())
        elif isinstance(answer, int):
            answer = Reply(answer)
        elif isinstance(answer, str):
            answer = Reply(200)  # "ok"/"wrong"/"ignore" on a notification
        if answer.delay:
            if self.server.gone.wait(answer.delay):
                self.close_connection = True
                return
        req.status = answer.status
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()
            req.done = time.monotonic()
        except OSError:
            self.close_connection = True
        self.sub._changed()

    def _hang(self):
        """Waits until the client closes the connection or the server goes."""
        while not self.server.gone.is_set():
            try:
                r, _, _ = select.select([self.connection], [], [], 0.05)
                if r and not self.connection.recv(1, socket.MSG_PEEK):
                    return
            except (OSError, ValueError):
                return

    do_POST = do_GET = do_PUT = do_DELETE = do_OPTIONS = _handle


class Subscriber:
    """A webhook subscriber on 127.0.0.1 (see the module docstring)."""

    def __init__(self, port=0):
        self._cond = threading.Condition(threading.RLock())
        self.requests = []
        self._queues = {"validation": collections.defaultdict(collections.deque),
                        "notification": collections.defaultdict(collections.deque)}
        self._defaults = {"validation": {None: "ok"}, "notification": {None: 200}}
        self._conns = set()
        self._server = None
        self._thread = None
        self.port = port
        self.up()

    # ---- lifecycle ---------------------------------------------------------------

    def up(self):
        """Listens (again) on self.port (a free one the first time)."""
        assert self._server is None, "already up"
        deadline = time.monotonic() + 10
        while True:
            try:
                self._server = _Server(("127.0.0.1", self.port), self)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def down(self):
        """Closes the port and every open connection (connections are refused
        until `up()`)."""
        srv, self._server = self._server, None
        if srv is None:
            return
        srv.gone.set()
        srv.shutdown()
        srv.server_close()
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def stop(self):
        self.down()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def is_up(self):
        return self._server is not None

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    # ---- scripting ---------------------------------------------------------------

    def script(self, *behaviours, path=None):
        """Queues behaviours for the next notifications (to `path`, or any)."""
        with self._cond:
            self._queues["notification"][path].extend(behaviours)

    def script_validation(self, *behaviours, path=None):
        with self._cond:
            self._queues["validation"][path].extend(behaviours)

    def set_default(self, behaviour, path=None):
        """The answer to notifications once the queue is empty."""
        with self._cond:
            self._defaults["notification"][path] = behaviour

    def set_validation(self, behaviour, path=None):
        """The answer to validation requests once their queue is empty."""
        with self._cond:
            self._defaults["validation"][path] = behaviour

    # ---- recording (server side) -------------------------------------------------

    def _record(self, req):
        with self._cond:
            answer = 404
            if req.kind in self._queues:
                path = urlsplit(req.path).path
                queues, defaults = self._queues[req.kind], self._defaults[req.kind]
                if queues.get(path):
                    answer = queues[path].popleft()
                elif queues.get(None):
                    answer = queues[None].popleft()
                else:
                    answer = defaults.get(path, defaults[None])
            req.answer = answer
            self.requests.append(req)
            self._cond.notify_all()
            return answer

    def _changed(self):
        with self._cond:
            self._cond.notify_all()

    def _opened(self, conn):
        with self._cond:
            self._conns.add(conn)

    def _closed(self, conn):
        with self._cond:
            self._conns.discard(conn)

    # ---- queries -----------------------------------------------------------------

    def _select(self, kind, path=None):
        with self._cond:
            return [r for r in self.requests
                    if r.kind == kind and (path is None or urlsplit(r.path).path == path)]

    def validations(self, path=None):
        return self._select("validation", path)

    def notifications(self, path=None):
        return self._select("notification", path)

    def delivered(self, path=None):
        """Notifications answered with 200-204."""
        return [r for r in self.notifications(path)
                if r.done is not None and 200 <= r.status <= 204]

    def delivered_ids(self, path=None):
        return [i for r in self.delivered(path) for i in r.ids]

    def received_ids(self, path=None):
        return [i for r in self.notifications(path) for i in r.ids]

    def wait_for(self, pred, timeout=10.0):
        """Waits until pred() is true; returns its last value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = pred()
                if v or time.monotonic() >= deadline:
                    return v
                self._cond.wait(min(0.1, max(0.0, deadline - time.monotonic())))

    def wait_validations(self, n=1, timeout=10.0, path=None):
        self.wait_for(lambda: len(self.validations(path)) >= n, timeout)
        return self.validations(path)

    def wait_notifications(self, n=1, timeout=10.0, path=None):
        self.wait_for(lambda: len(self.notifications(path)) >= n, timeout)
        return self.notifications(path)

    def wait_delivered(self, n=1, timeout=10.0, path=None):
        """Waits until n notifications were answered with 2xx; returns them."""
        self.wait_for(lambda: len(self.delivered(path)) >= n, timeout)
        return self.delivered(path)

    def wait_delivered_ids(self, ids, timeout=10.0, path=None):
        """Waits until every id in `ids` was delivered; returns the delivered ids."""
        want = set(ids)
        self.wait_for(lambda: want <= set(self.delivered_ids(path)), timeout)
        return self.delivered_ids(path)
