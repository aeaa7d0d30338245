"""`wagi eventgrid` against the official Azure SDK for JavaScript
(@azure/eventgrid's EventGridPublisherClient, run by node on
sdk_publish.mjs): key and SAS credentials, the 401 the SDK turns into a
RestError, and the events stored and delivered with the fields the SDK
sent.

Skipped, saying so, when node or the project's Node packages (node/, put
there by `make setup`) are missing."""
import base64
import datetime
import json
import shutil
import struct
import subprocess
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROOT, free_port

SCRIPT = Path(__file__).with_name("sdk_publish.mjs")
NODE_MODULES = ROOT / "node" / "node_modules"
NODE = shutil.which("node")
# SAS tokens are HMACs with the base64-decoded key: the topic's key must be base64.
B64KEY = base64.b64encode(bytes(range(100, 132))).decode()

pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_MODULES / "@azure" / "eventgrid").is_dir(),
    reason="node or node/node_modules/@azure/eventgrid is missing: run `make setup`")


def sdk(mode, topic, key=B64KEY, count=3):
    """Runs sdk_publish.mjs; returns its JSON outcome line."""
    endpoint = f"http://127.0.0.1:{topic.port}/api/events"
    r = subprocess.run([NODE, "--no-warnings", str(SCRIPT), mode, endpoint, key, str(count)],
                       capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace").strip().splitlines()
    assert r.returncode == 0 and out, (r.returncode, r.stdout, r.stderr)
    return json.loads(out[-1])


def logged_events(data_dir):
    """The events in data_dir/events.log, for either log format: WAGIEGL1
    (each payload is an event) or WAGIEGL2 (typed records; "E" holds the
    event under "event")."""
    raw = (data_dir / "events.log").read_bytes()
    assert raw[:7] == b"WAGIEGL", raw[:8]
    out, off = [], 8
    while off + 8 <= len(raw):
        n, crc = struct.unpack_from("<II", raw, off)
        payload = raw[off + 8:off + 8 + n]
        assert len(payload) == n and zlib.crc32(payload) == crc, f"bad record at {off}"
        rec = json.loads(payload)
        if raw[:8] == b"WAGIEGL1":
            out.append(rec)
        elif rec.get("t") == "E":
            out.append(rec["event"])
        off += 8 + n
    return out


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def assert_same_event(stored, sent):
    """Every field the SDK sent is stored unchanged (eventTime: the same
    instant); the topic may add only topic and metadataVersion."""
    for k in ("id", "subject", "eventType", "dataVersion", "data"):
        assert stored[k] == sent[k], (k, stored, sent)
    assert parse_time(stored["eventTime"]) == parse_time(sent["eventTime"]), (stored, sent)
    assert set(stored) - set(sent) <= {"topic", "metadataVersion"}, stored


@pytest.fixture
def sdk_topic(topic_factory):
    return topic_factory(key=B64KEY).start()


@pytest.mark.parametrize("mode", ["key", "sas"])
def test_sdk_publish_is_stored_as_sent(sdk_topic, mode):
    res = sdk(mode, sdk_topic, count=3)
    assert res["ok"], res
    assert sdk_topic.wait_log("publish: 3 events, "), sdk_topic.stderr()
    stored = {e["id"]: e for e in logged_events(sdk_topic.data_dir)}
    assert len(stored) == 3, stored
    for sent in res["events"]:
        assert_same_event(stored[sent["id"]], sent)


def test_sdk_key_and_sas_share_one_topic(sdk_topic):
    assert sdk("key", sdk_topic, count=1)["ok"]
    assert sdk("sas", sdk_topic, count=2)["ok"]
    assert len(logged_events(sdk_topic.data_dir)) == 3


@pytest.mark.parametrize("mode,key", [
    ("key", "wrong"),
    ("key", B64KEY[:-2] + "A="),
    # a SAS token signed with another key
    ("sas", base64.b64encode(bytes(32)).decode()),
])
def test_sdk_wrong_key_is_a_401_rest_error(sdk_topic, mode, key):
    res = sdk(mode, sdk_topic, key=key, count=1)
    assert not res["ok"], res
    assert res["name"] == "RestError" and res["statusCode"] == 401, res
    assert res["code"] == "Unauthorized", res
    assert logged_events(sdk_topic.data_dir) == []


# ---- delivery --------------------------------------------------------------------


class Subscriber:
    """A loopback webhook: answers the validation handshake and records the
    notifications it receives."""

    def __init__(self):
        self.got = []
        self.cond = threading.Condition()
        sub = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                kind = self.headers.get("aeg-event-type")
                out = b""
                if kind == "SubscriptionValidation":
                    out = json.dumps({"validationResponse":
                                      body[0]["data"]["validationCode"]}).encode()
                elif kind == "Notification":
                    with sub.cond:
                        sub.got.extend(body)
                        sub.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=20.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.got) >= n, timeout)
            return list(self.got)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_sdk_events_are_delivered_as_sent(topic_factory):
    sub = Subscriber()
    try:
        t = topic_factory(f'retry_delays = [0.05]\n[[subscription]]\nname = "sdk-sub"\n'
                          f'endpoint = "{sub.url}"\n', key=B64KEY).start()
        res = sdk("key", t, count=4)
        assert res["ok"], res
        got = {e["id"]: e for e in sub.wait(4)}
        assert len(got) == 4, (got, t.stderr())
        for sent in res["events"]:
            ev = got[sent["id"]]
            assert_same_event(ev, sent)
            assert ev["metadataVersion"] == "1" and ev["topic"], ev
    finally:
        sub.close()
