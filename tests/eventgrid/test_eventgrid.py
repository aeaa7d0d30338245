"""`wagi eventgrid`: the publish API, the schema checks, the durable log and
the topic's config, against the real binary on loopback."""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import re
import struct
import subprocess
import zlib
from urllib.parse import quote

import pytest

from conftest import KEY, PUBLISH, WAGI, event, run_config

TOPIC = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/"
         "providers/Microsoft.EventGrid/topics/local")

MAGIC = b"WAGIEGL2"


def read_records(data_dir):
    """The records of data_dir/events.log as parsed JSON (the format of
    src/eventgrid/log.c: header, then u32 LE length, u32 LE CRC-32, payload)."""
    raw = (data_dir / "events.log").read_bytes()
    assert raw[:8] == MAGIC
    out, off = [], 8
    while off < len(raw):
        n, crc = struct.unpack_from("<II", raw, off)
        payload = raw[off + 8:off + 8 + n]
        assert len(payload) == n and zlib.crc32(payload) == crc, f"bad record at {off}"
        out.append(json.loads(payload))
        off += 8 + n
    return out


def read_log(data_dir):
    """The events in the log ("E" records), in their delivered form."""
    return [r["event"] for r in read_records(data_dir) if r["t"] == "E"]


def published(ev):
    """An event as the topic stores and delivers it."""
    return dict(ev, topic=TOPIC, metadataVersion="1")


def recovered(topic):
    m = re.search(r"log: (\d+) events? recovered", topic.stderr())
    assert m, topic.stderr()
    return int(m.group(1))


# ---- publish -------------------------------------------------------------------


def test_publish_is_logged_and_survives_kill9(topic_factory):
    t = topic_factory().start()
    assert recovered(t) == 0
    r = t.publish([event(0)])
    assert r.status == 200 and r.body == b"", r
    r = t.publish([event(i) for i in range(1, 6)])
    assert r.status == 200 and r.body == b"", r
    assert t.wait_log("publish: 5 events, ")
    assert re.search(r"publish: 1 event, \d+ bytes, [0-9.]+ ms", t.stderr())
    t.kill9()
    logged = read_log(t.data_dir)
    assert [e["id"] for e in logged] == [f"ev-{i}" for i in range(6)]
    assert logged[3] == published(event(3))  # every field kept, topic and metadataVersion added
    t.start()
    assert recovered(t) == 6
    assert t.publish([event(6)]).status == 200
    t.kill9()
    t.start()
    assert recovered(t) == 7
    assert len(read_log(t.data_dir)) == 7


@pytest.mark.parametrize("tail", [
    struct.pack("<II", 100, 0) + b"{\"id\":",      # torn: shorter than its length
    b"\x05\x00",                                     # torn inside the record header
    struct.pack("<II", 2, 12345) + b"{}",           # whole but the CRC does not match
])
def test_torn_tail_is_dropped_on_restart(topic_factory, tail):
    t = topic_factory().start()
    assert t.publish([event(0), event(1)]).status == 200
    t.kill9()
    log = t.data_dir / "events.log"
    good = log.stat().st_size
    with open(log, "ab") as f:
        f.write(tail)
    t.start()
    assert recovered(t) == 2
    assert f"dropped a torn or corrupt tail of {len(tail)} bytes" in t.stderr()
    assert log.stat().st_size == good
    # later appends follow the last whole record
    assert t.publish([event(2)]).status == 200
    t.kill9()
    assert [e["id"] for e in read_log(t.data_dir)] == ["ev-0", "ev-1", "ev-2"]


def test_not_a_log_is_refused(topic_factory):
    t = topic_factory()
    t.data_dir.mkdir(parents=True)
    (t.data_dir / "events.log").write_bytes(b"something else entirely")
    with pytest.raises(RuntimeError, match="not a wagi eventgrid log"):
        t.start()


def test_healthz_and_routes(topic):
    r = topic.request("GET", "/healthz")
    assert r.status == 200 and r.body == b"ok\n"
    assert topic.request("GET", "/nope").status == 404
    assert topic.request("GET", PUBLISH).status == 405


# ---- auth and limits -----------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong", KEY + "x", KEY[:-1]])
def test_bad_key_is_401(topic, key):
    r = topic.publish([event()], key=key)
    assert r.status == 401, r
    assert r.json()["error"]["code"] == "Unauthorized"
    assert not read_log(topic.data_dir)


B64KEY = base64.b64encode(bytes(range(32))).decode()


def sas_token(key_b64, expiry, resource="https://topic.local/api/events?api-version=2018-01-01"):
    """An aeg-sas-token as Azure's SDKs build it."""
    unsigned = f"r={quote(resource, safe='')}&e={quote(expiry, safe='')}"
    mac = hmac.new(base64.b64decode(key_b64), unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}&s={quote(base64.b64encode(mac).decode(), safe='')}"


def sdk_time(t):
    """The SDKs' expiry format: M/D/YYYY h:mm:ss AM|PM, UTC."""
    h = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {h}:{t.minute:02d}:{t.second:02d} " \
           f"{'PM' if t.hour >= 12 else 'AM'}"


def test_sas_token(topic_factory):
    t = topic_factory(key=B64KEY).start()
    now = datetime.datetime.now(datetime.timezone.utc)
    later, earlier = now + datetime.timedelta(hours=1), now - datetime.timedelta(minutes=1)

    def pub(token):
        return t.publish([event()], key=None, headers={"aeg-sas-token": token})

    assert pub(sas_token(B64KEY, sdk_time(later))).status == 200
    assert pub(sas_token(B64KEY, later.strftime("%Y-%m-%dT%H:%M:%SZ"))).status == 200
    pm = later.replace(hour=23)  # an afternoon time: 11:xx:xx PM
    if pm > now:
        assert pub(sas_token(B64KEY, sdk_time(pm))).status == 200
    for bad, why in [
        (sas_token(B64KEY, sdk_time(earlier)), "expired"),
        (sas_token(base64.b64encode(b"another key").decode(), sdk_time(later)), "not signed"),
        (sas_token(B64KEY, sdk_time(later)).replace("r=https", "r=http"), "not signed"),
        (sas_token(B64KEY, "tomorrow"), "not of the form"),
        ("r=x&e=y", "not of the form"),
        ("garbage", "not of the form"),
    ]:
        r = pub(bad)
        assert r.status == 401, (bad, r)
        assert why in r.json()["error"]["message"], (bad, r)
    # aeg-sas-key wins when both are sent
    r = t.publish([event()], key="wrong", headers={"aeg-sas-token": sas_token(B64KEY, sdk_time(later))})
    assert r.status == 401
    t.kill9()
    assert len(read_log(t.data_dir)) == 3 if pm > now else 2


def test_sas_token_needs_a_base64_key(topic):
    r = topic.publish([event()], key=None,
                      headers={"aeg-sas-token": sas_token(B64KEY, "1/1/2999 1:00:00 AM")})
    assert r.status == 401 and "not base64" in r.json()["error"]["message"]


def test_api_version_required(topic):
    r = topic.publish([event()], path="/api/events")
    assert r.status == 400 and r.json()["error"]["details"][0]["target"] == "api-version"
    r = topic.publish([event()], path="/api/events?api-version=2099-01-01")
    assert r.status == 400 and r.json()["error"]["details"][0]["target"] == "api-version"


def test_oversized_batch_is_413(topic_factory):
    t = topic_factory("max_batch_bytes = 2048\n").start()
    ok = [event(0, data="x" * 1500)]
    assert len(json.dumps(ok)) < 2048
    assert t.publish(ok).status == 200
    big = [event(i, data="x" * 500) for i in range(5)]
    r = t.publish(big)
    assert r.status == 413, r
    assert r.json()["error"]["code"] == "RequestEntityTooLarge"
    # the same without a Content-Length (chunked): counted as it arrives
    conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=30)
    body = json.dumps(big).encode()
    conn.request("POST", PUBLISH, body=iter([body[:1000], body[1000:]]),
                 headers={"aeg-sas-key": KEY, "Content-Type": "application/json"},
                 encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 413
    conn.close()
    t.kill9()
    assert len(read_log(t.data_dir)) == 1


# ---- the event schema ------------------------------------------------------------

BAD_EVENTS = [
    ("id", dict(id=None)), ("id", dict(id=5)), ("id", dict(id="")),
    ("subject", dict(subject=None)), ("subject", dict(subject=["a"])),
    ("eventType", dict(eventType=None)), ("eventType", dict(eventType={})),
    ("eventTime", dict(eventTime=None)), ("eventTime", dict(eventTime="yesterday")),
    ("eventTime", dict(eventTime="2024-01-02T03:04:05")),        # no offset
    ("eventTime", dict(eventTime="2024-02-30T03:04:05Z")),       # no such day
    ("eventTime", dict(eventTime="2023-02-29T03:04:05Z")),       # not a leap year
    ("eventTime", dict(eventTime="2024-01-02T24:00:00Z")),
    ("eventTime", dict(eventTime="2024-01-02T03:04:05.Z")),
    ("eventTime", dict(eventTime="2024-01-02T03:04:05+0100")),
    ("eventTime", dict(eventTime=1704164645)),
    ("data", dict(data=None)),
    ("dataVersion", dict(dataVersion=None)), ("dataVersion", dict(dataVersion=1)),
    ("topic", dict(topic="/subscriptions/x/other")), ("topic", dict(topic=7)),
    ("metadataVersion", dict(metadataVersion="2")), ("metadataVersion", dict(metadataVersion=1)),
]


@pytest.mark.parametrize("field,over", BAD_EVENTS,
                         ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_EVENTS)])
def test_schema_violation_is_400_naming_the_field(topic, field, over):
    # the bad event is second: nothing of the batch may be stored
    r = topic.publish([event(0), event(1, **over)])
    assert r.status == 400, r
    err = r.json()["error"]
    assert err["code"] == "BadRequest"
    assert err["details"][0]["code"] == "InputJsonInvalid"
    assert err["details"][0]["target"] == field
    assert f"'{field}'" in err["message"] and "event 1" in err["message"]
    assert not read_log(topic.data_dir)


@pytest.mark.parametrize("body", [
    b"", b"not json", b"{\"id\":1}", b"[]", b"[1]", b"[{}] x", b"[\"\xff\"]",
    json.dumps(event()).encode(),  # an object, not an array
])
def test_malformed_body_is_400(topic, body):
    r = topic.publish(None, raw=body)
    assert r.status == 400, r
    assert r.json()["error"]["code"] == "BadRequest"
    assert not read_log(topic.data_dir)


def test_optional_fields_accepted(topic_factory):
    t = topic_factory('topic = "/subscriptions/abc/resourceGroups/rg/providers/'
                      'Microsoft.EventGrid/topics/t1"\n').start()
    evs = [event(0, topic="/SUBSCRIPTIONS/abc/resourceGroups/rg/providers/"
                          "Microsoft.EventGrid/topics/t1", metadataVersion="1"),
           event(1, data=None), event(2), event(3, dataVersion="", extra={"kept": True}),
           event(4, eventTime="2024-02-29t23:59:60.123456789+05:30")]
    evs[1]["data"] = None  # present but null: any JSON is data
    r = t.publish(evs)
    assert r.status == 200, r
    t.kill9()
    logged = read_log(t.data_dir)
    assert len(logged) == 5 and logged[1]["data"] is None and logged[3]["extra"] == {"kept": True}


# ---- config ----------------------------------------------------------------------

BAD_CONFIGS = [
    ('data_dir = "d"\n', 1, 1, "key"),
    ('key = "k"\n', 1, 1, "data_dir"),
    ('key = "k"\ndata_dir = 5\n', 2, 12, "data_dir must be a string"),
    ('key = ""\ndata_dir = "d"\n', 1, 7, "key must not be empty"),
    ('key = "k"\ndata_dir = "d"\nlisten = "localhost"\n', 3, 10, "listen must be IP:PORT"),
    ('key = "k"\ndata_dir = "d"\nlisten = "127.0.0.1:99999"\n', 3, 10, "listen port"),
    ('key = "k"\ndata_dir = "d"\nmax_attempts = 0\n', 3, 16, "max_attempts must be at least 1"),
    ('key = "k"\ndata_dir = "d"\nevent_ttl = "1d"\n', 3, 13, "event_ttl must be an integer"),
    ('key = "k"\ndata_dir = "d"\nmax_batch_bytes = 100000000000\n', 3, 19,
     "max_batch_bytes must be at most"),
    ('key = "k"\ndata_dir = "d"\nretry_delays = []\n', 3, 16, "retry_delays must not be empty"),
    ('key = "k"\ndata_dir = "d"\nretry_delays = [1, "2"]\n', 3, 20, "retry_delays[1]"),
    ('key = "k"\ndata_dir = "d"\nretry_delays = [1, -2]\n', 3, 20, "retry_delays[1]"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nendpoint = "http://x/"\n', 3, 1, "no name"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "a b"\nendpoint = "http://x/"\n', 4, 8,
     "subscription name"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "abc"\n', 3, 1, "no endpoint"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "abc"\nendpoint = "ftp://x/"\n', 5, 12,
     "http:// or https://"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "abc"\nendpoint = "http:///x"\n', 5, 12,
     "no host"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "abc"\nendpoint = "http://x/"\n'
     '[[subscription]]\nname = "ABC"\nendpoint = "http://y/"\n', 7, 8, "used twice"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "abc"\nendpoint = "http://x/"\n'
     'event_types = "A"\n', 6, 15, "event_types must be an array"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "abc"\nendpoint = "http://x/"\n'
     'event_types = ["A", 2]\n', 6, 21, "event_types entry must be a string"),
    ('key = "k"\ndata_dir = "d"\n[[subscription]]\nname = "abc"\nendpoint = "http://x/"\n'
     'subject_begins_with = 1\n', 6, 23, "subject_begins_with must be a string"),
    ('key = "k"\ndata_dir = "d"\nsubscription = 1\n', 3, 16, "array of tables"),
    ('key = "k"\ndata_dir = "d"\nkey = "again"\n', 3, 1, ""),   # TOML: duplicate key
    ('key = "k\n', 1, 9, ""),                                    # TOML: unterminated string
]


@pytest.mark.parametrize("text,line,col,what", BAD_CONFIGS,
                         ids=[f"cfg{i}" for i in range(len(BAD_CONFIGS))])
def test_bad_config_exits_1_with_file_line_col(tmp_path, text, line, col, what):
    rc, err, path = run_config(tmp_path, text)
    assert rc == 1, err
    assert f"{path}:{line}:{col}: " in err, err
    assert what in err, err
    assert "Ready" not in err


def test_missing_config_file(tmp_path):
    r = subprocess.run([str(WAGI), "eventgrid", "-c", str(tmp_path / "none.toml")],
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and b"none.toml" in r.stderr
    r = subprocess.run([str(WAGI), "eventgrid"], capture_output=True, timeout=30)
    assert r.returncode == 1 and b"-c TOPIC.toml" in r.stderr


def test_unknown_keys_are_warnings(topic_factory):
    t = topic_factory('colour = "blue"\n[[subscription]]\nname = "abc"\n'
                      'endpoint = "https://example.com/hook"\nevent_types = ["A"]\n'
                      'subject_begins_with = "/x"\nretries = 3\n')
    t.start()
    err = t.stderr()
    assert f"{t.config_path}:3:1: warning: unknown key 'colour' ignored" in err
    assert f"{t.config_path}:9:1: warning: unknown key 'retries' in [[subscription]] ignored" in err
    assert "1 subscription configured" in err
    assert t.publish([event()]).status == 200


def test_help_documents_every_key():
    r = subprocess.run([str(WAGI), "eventgrid", "--help"], capture_output=True, timeout=30)
    assert r.returncode == 0
    out = r.stdout.decode()
    for key in ["listen", "key", "topic", "data_dir", "retry_delays", "max_attempts",
                "event_ttl", "max_batch_bytes", "delivery_timeout", "max_in_flight",
                "log_compact_bytes", "/api/validate", "[[subscription]]", "name", "endpoint",
                "event_types", "subject_begins_with", "--listen", "-c"]:
        assert key in out, key
    r = subprocess.run([str(WAGI), "--help"], capture_output=True, timeout=30)
    assert b"eventgrid" in r.stdout
