"""From module stdout to the HTTP response (WAGI.md §6): header/body split
variants, Status/Location/Content-Type rules, repeated headers, and every
row of the §6.3 failure table."""
import re

import pytest

from conftest import WagiServer, module_entry

BEHAVIOURS = ["html", "trap", "exit0", "exit3", "noct", "emptyout", "nosplit", "badstatus",
              "nonutf8", "badvalue", "badname", "location", "status_location",
              "status_then_location", "statusonly", "status204", "teapot", "cookies", "crlf",
              "lfcrlf", "binary", "echo", "status99", "status1000", "emptyvalue", "datehdr",
              "headersonly", "status500"]

# wagi's own 5xx answers carry a short plain-text reason (README, "The server").
FAILED = b"500 Internal Server Error: the module failed; see the server log\n"
BAD_HEADERS = b"500 Internal Server Error: the module's response headers are invalid; see the server log\n"


@pytest.fixture(scope="module")
def srv(modules, tmp_path_factory):
    m = modules
    cfg = "".join(module_entry(f"/b/{b}", m["behave"], entrypoint=b) for b in BEHAVIOURS)
    cfg += module_entry("/ok", m["behave"])
    s = WagiServer(tmp_path_factory.mktemp("out"), cfg).start()
    yield s
    s.stop_checked()


def healthy(srv):
    r = srv.get("/healthz")
    assert (r.status, r.body) == (200, b"OK")
    r = srv.get("/ok")
    assert (r.status, r.body) == (200, b"ok\n")


@pytest.mark.parametrize("name,body", [("crlf", b"body\r\nline2\r\n"), ("lfcrlf", b"body\r\n"),
                                       ("html", b"<h1>hi</h1>\n")])
def test_split_variants(srv, name, body):
    r = srv.get(f"/b/{name}")
    assert r.status == 200, r
    assert r.body == body
    if name == "crlf":
        assert r.header("X-Crlf") == "yes"
        assert r.header("Content-Type") == "text/plain"


def test_body_is_byte_exact(srv):
    r = srv.get("/b/binary")
    assert r.status == 200
    assert r.body == bytes(range(256))
    assert r.header("Content-Length") == "256"


def test_echo_body(srv):
    data = bytes(range(256)) * 1000
    r = srv.request("POST", "/b/echo", body=data)
    assert r.status == 200
    assert r.body == data


def test_no_blank_line_is_500_with_message(srv):
    r = srv.get("/b/nosplit")
    assert r.status == 500
    assert r.body == b"Exactly one of 'location' or 'content-type' must be specified"


@pytest.mark.parametrize("name", ["noct", "emptyout"])
def test_no_content_type_is_500_with_message(srv, name):
    r = srv.get(f"/b/{name}")
    assert r.status == 500
    assert r.body == b"Exactly one of 'location' or 'content-type' must be specified"
    assert r.header("Content-Type") is None
    assert r.header("X-Foo") is None


def test_location_gives_302(srv):
    r = srv.get("/b/location")
    assert r.status == 302
    assert r.header("Location") == "/elsewhere"


def test_status_wins_over_location(srv):
    r = srv.get("/b/status_location")
    assert r.status == 301
    assert r.header("Location") == "/x"
    r = srv.get("/b/status_then_location")
    assert r.status == 200
    assert r.body == b"stay\n"
    assert r.header("Location") == "/x"


def test_status_only_is_sufficient(srv):
    r = srv.get("/b/statusonly")
    assert r.status == 404
    assert r.body == b"missing\n"
    r = srv.get("/b/status204")
    assert r.status == 204
    assert r.body == b""


def test_status_reason_is_standard(srv):
    r = srv.raw(b"GET /b/teapot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    first = r.split(b"\r\n")[0]
    assert first == b"HTTP/1.1 418 I'm a teapot", first
    assert r.endswith(b"short and stout\n")
    assert b"status:" not in r.lower().split(b"\r\n\r\n")[0]


def test_bad_status_is_502(srv):
    assert srv.get("/b/badstatus").status == 502
    healthy(srv)


def test_repeated_headers_are_kept(srv):
    r = srv.get("/b/cookies")
    assert r.status == 200
    assert r.headers_all("Set-Cookie") == ["a=1", "b=2", "c=3; Path=/"]


def test_invalid_header_name_dropped(srv):
    r = srv.get("/b/badname")
    assert r.status == 200
    assert r.header("Good") == "y"
    assert r.header("Bad Name") is None
    assert r.body == b"ok\n"


def test_non_utf8_headers_are_500(srv):
    r = srv.get("/b/nonutf8")
    assert r.status == 500
    assert r.body == BAD_HEADERS
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    healthy(srv)


def test_bad_header_value_is_500_not_dropped_connection(srv):
    r = srv.get("/b/badvalue")
    assert r.status == 500
    assert r.body == BAD_HEADERS
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    healthy(srv)


def test_trap_is_500_and_stdout_discarded(srv):
    r = srv.get("/b/trap")
    assert r.status == 500
    assert r.body == FAILED
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    # the log names the trap, the function and the offset, alike on both tiers
    assert srv.wait_log("/b/trap: 500: trap: unreachable in function "), srv.logs()
    assert re.search(r"/b/trap: 500: trap: unreachable in function \d+ at 0x[0-9a-f]+ \(memory ",
                     srv.logs()), srv.logs()
    healthy(srv)


def test_proc_exit_zero_is_success(srv):
    r = srv.get("/b/exit0")
    assert r.status == 200
    assert r.body == b"exited zero\n"


def test_proc_exit_nonzero_is_500(srv):
    r = srv.get("/b/exit3")
    assert r.status == 500
    assert r.body == FAILED
    assert r.header("Content-Type") == "text/plain; charset=utf-8"


def test_unknown_import_is_500(modules, server_factory):
    """§6.3: instantiation failure is a 500 per request, not a startup error
    (unknown imports are not among the startup refusals)."""
    s = server_factory(module_entry("/unknown-import", modules["unknown_import"]) +
                       module_entry("/ok", modules["behave"]))
    r = s.get("/unknown-import")
    assert r.status == 500
    assert r.body == FAILED
    healthy(s)


def test_head_on_module_route(srv):
    r = srv.request("HEAD", "/b/html")
    assert r.status == 200
    assert r.body == b""


def test_many_sequential_requests_stay_healthy(srv):
    for i in range(200):
        r = srv.get(f"/b/{['html', 'trap', 'noct', 'exit3'][i % 4]}")
        assert r.status in (200, 500)
    healthy(srv)


def test_parallel_requests(srv):
    import concurrent.futures
    paths = ["/b/html", "/b/cookies", "/b/trap", "/ok", "/b/echo"] * 20
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda p: (p, srv.get(p).status), paths))
    for p, st in results:
        assert st == (500 if p == "/b/trap" else 200), (p, st)
    healthy(srv)


# ---- header edge cases (README, "The server") ---------------------------------------

def test_status_out_of_range_is_500(srv):
    for name, shown in (("status99", "'99'"), ("status1000", "'1000 Big'")):
        r = srv.get(f"/b/{name}")
        assert (r.status, r.body) == (500, BAD_HEADERS), r
        assert srv.wait_log(f"/b/{name}: response: module output has a Status {shown} "
                            "outside 100..999 (500)"), srv.logs()
    healthy(srv)


def test_empty_header_value_is_kept(srv):
    r = srv.get("/b/emptyvalue")
    assert r.status == 200 and r.body == b"ok\n"
    assert r.header("X-Empty") == "" and r.header("X-After") == "yes", r
    assert "X-Empty" not in srv.logs()


def test_date_header_dropped_and_logged(srv):
    r = srv.get("/b/datehdr")
    assert r.status == 200 and r.body == b"ok\n"
    assert r.headers_all("Date") != ["Thu, 01 Jan 1970 00:00:00 GMT"]
    assert len(r.headers_all("Date")) == 1          # the server's own
    assert srv.wait_log("/b/datehdr: response: module output header 'Date' dropped "
                        "(the server sets Date)"), srv.logs()


def test_missing_blank_line_is_logged(srv):
    r = srv.get("/b/headersonly")
    assert r.status == 500
    assert srv.wait_log("/b/headersonly: response: module output has no blank line after its "
                        "headers"), srv.logs()
    r = srv.get("/b/emptyout")
    assert r.status == 500
    assert srv.wait_log("/b/emptyout: response: module wrote nothing to stdout"), srv.logs()


def test_module_own_500_is_left_alone(srv):
    r = srv.get("/b/status500")
    assert (r.status, r.body) == (500, b"mine\n")
    assert r.header("Content-Type") == "text/plain"


def test_wagi_reason_texts_have_no_internals(srv):
    for path in ("/b/trap", "/b/exit3", "/b/nonutf8"):
        body = srv.get(path).body.decode()
        assert body.count("\n") == 1 and "wasm" not in body and "trap" not in body, body
    r = srv.raw(b"GET /b/trap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), r[:80]
