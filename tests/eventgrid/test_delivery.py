"""`wagi eventgrid` delivery: the validation handshake, delivery headers and
body, retries and dead letters, filters, durability across kill -9, log
lines and log compaction, against the real binary and scripted subscribers
(subscriber.py) on loopback."""
import datetime
import json
import re
import struct
import time
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import event, rewrite_config, run_config, subscription_toml, tq
from subscriber import CLOSE, HANG, Reply

TOPIC_PATH = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/"
              "providers/Microsoft.EventGrid/topics/t1")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
MS = r"ms=[0-9.]+"
RETRY = r"retry in [0-9.]+ s"
PENDING = re.compile(r"delivery: (\d+) deliver(?:y|ies) pending")


def toml_value(v):
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return tq(v)
    return str(v)


def config(subs, **top):
    """TOPIC.toml extras: fast retries unless overridden, then the subscriptions."""
    keys = dict(topic=TOPIC_PATH, retry_delays=[0.05], max_attempts=5, delivery_timeout=5)
    keys.update(top)
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items() if v is not None) + \
        "".join(subs)


def start(topic_factory, subs, **top):
    return topic_factory(config(subs, **top)).start()


def delivered_form(ev):
    out = dict(ev)
    out.setdefault("topic", TOPIC_PATH)
    out.setdefault("metadataVersion", "1")
    return out


def wait_re(t, pattern, n=1, timeout=10.0):
    """Waits until `pattern` matches n times in the topic's stderr; returns the matches."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.findall(pattern, t.stderr(), re.M)
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def wait_until(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)


def validated(t, name, timeout=10.0):
    assert wait_re(t, rf"validation: subscription={name} attempt=\d+ status=200 {MS} validated$",
                   timeout=timeout), t.stderr()


def pending(t):
    m = PENDING.findall(t.stderr())
    assert m, t.stderr()
    return int(m[-1])


def read_records(data_dir, partial_ok=False):
    """The typed records of DATA_DIR/events.log (header WAGIEGL2, then u32 LE
    length, u32 LE CRC-32, compact JSON payload). partial_ok: a torn last
    record (a write under way) ends the list."""
    raw = (data_dir / "events.log").read_bytes()
    assert raw[:8] == b"WAGIEGL2", raw[:8]
    out, off = [], 8
    while off < len(raw):
        if off + 8 > len(raw):
            assert partial_ok, f"torn record header at {off}"
            break
        n, crc = struct.unpack_from("<II", raw, off)
        payload = raw[off + 8:off + 8 + n]
        if len(payload) < n and partial_ok:
            break
        assert len(payload) == n and zlib.crc32(payload) == crc, f"bad record at {off}"
        rec = json.loads(payload)
        assert isinstance(rec, dict) and rec.get("t") in ("E", "D", "X", "F", "V", "N"), rec
        out.append(rec)
        off += 8 + n
    return out


def owed(data_dir):
    """(event id, subscription) pairs the log says are still owed: E records'
    subscriptions without a D or X record."""
    recs = read_records(data_dir, partial_ok=True)
    ids = {r["seq"]: r["event"]["id"] for r in recs if r["t"] == "E"}
    out = {(r["seq"], s) for r in recs if r["t"] == "E" for s in r["subs"]}
    out -= {(r["seq"], r["sub"]) for r in recs if r["t"] in ("D", "X")}
    return {(ids[q], s) for q, s in out}


def wait_owed(t, want=(), timeout=10.0):
    """Waits until the log records exactly `want` as owed (outcome records
    follow the log line and the subscriber's answer)."""
    want = set(want)
    got = wait_until(lambda: owed(t.data_dir) == want or None, timeout)
    assert got, (owed(t.data_dir), want)


def deadletters(t, sub):
    d = t.data_dir / "deadletter" / sub
    return sorted(d.glob("*.json")) if d.is_dir() else []


def wait_deadletters(t, sub, n=1, timeout=10.0):
    files = wait_until(lambda: len(deadletters(t, sub)) >= n and deadletters(t, sub), timeout)
    assert files and len(files) >= n, t.stderr()
    return files


def read_deadletter(path):
    doc = json.loads(path.read_text())
    assert isinstance(doc, list) and len(doc) == 1, doc
    return doc[0]


def parse_time(s):
    assert RFC3339.fullmatch(s), s
    return datetime.datetime.fromisoformat(s.replace("z", "Z").replace("t", "T"))


# ---- the validation handshake ------------------------------------------------------


def test_validation_handshake(topic_factory, subscriber):
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())])
    v = subscriber.wait_validations(1)
    assert v, t.stderr()
    r = v[0]
    assert r.method == "POST" and r.path == "/hook"
    h = r.headers
    assert h["aeg-event-type"] == "SubscriptionValidation"
    assert h["aeg-subscription-name"] == "hook-a"
    assert h["aeg-delivery-count"] == "0"
    assert h["content-type"].split(";")[0].strip() == "application/json"
    assert isinstance(r.body, list) and len(r.body) == 1, r.raw
    ev = r.body[0]
    assert set(ev) == {"id", "topic", "subject", "eventType", "eventTime", "data",
                       "dataVersion", "metadataVersion"}, ev
    assert UUID.fullmatch(ev["id"]), ev
    assert ev["topic"] == TOPIC_PATH and ev["subject"] == ""
    assert ev["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent"
    assert RFC3339.fullmatch(ev["eventTime"]), ev
    assert ev["dataVersion"] == "2" and ev["metadataVersion"] == "1"
    assert set(ev["data"]) == {"validationCode", "validationUrl"}
    code = ev["data"]["validationCode"]
    assert isinstance(code, str) and code
    u = urlsplit(ev["data"]["validationUrl"])
    assert (u.scheme, u.hostname, u.port, u.path) == ("http", "127.0.0.1", t.port, "/api/validate")
    assert parse_qs(u.query) == {"subscription": ["hook-a"], "code": [code]}
    validated(t, "hook-a")
    assert t.publish([event(0)]).status == 200
    assert subscriber.wait_delivered_ids(["ev-0"]) == ["ev-0"], t.stderr()
    assert len(subscriber.validations()) == 1


def test_no_delivery_before_validation_then_validated_on_retry(topic_factory, subscriber):
    subscriber.set_validation("wrong")
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())])
    assert t.publish([event(i) for i in range(3)]).status == 200
    assert len(subscriber.wait_validations(3)) >= 3, t.stderr()
    assert wait_re(t, rf"validation: subscription=hook-a attempt=2 status=200 {MS} {RETRY} \(.+\)$")
    assert not subscriber.notifications()
    subscriber.set_validation("ok")
    got = subscriber.wait_delivered_ids([f"ev-{i}" for i in range(3)])
    assert sorted(got) == ["ev-0", "ev-1", "ev-2"], t.stderr()
    vals = subscriber.validations()
    assert vals[-1].answer == "ok" and all(v.answer == "wrong" for v in vals[:-1])
    validated(t, "hook-a")
    assert re.search(rf"validation: subscription=hook-a attempt={len(vals)} status=200 {MS} "
                     "validated", t.stderr())
    # nothing was sent before the right answer
    assert min(n.at for n in subscriber.notifications()) >= vals[-1].at


def test_validation_retry_reasons(topic_factory, subscriber):
    subscriber.script_validation("wrong", 500, "ignore", HANG, CLOSE)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              delivery_timeout=0.5)
    validated(t, "hook-a")
    err = t.stderr()
    for attempt, status in [(1, "200"), (2, "500"), (3, "200"), (4, "timeout"), (5, "error")]:
        assert re.search(rf"validation: subscription=hook-a attempt={attempt} status={status} "
                         rf"{MS} {RETRY} \(.+\)$", err, re.M), (attempt, err)
    assert re.search(rf"validation: subscription=hook-a attempt=6 status=200 {MS} validated", err)
    assert len(subscriber.validations()) == 6


def test_manual_validation(topic_factory, subscriber):
    subscriber.set_validation("ignore")  # 200 without validationResponse
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())], retry_delays=[5])
    v = subscriber.wait_validations(1)
    assert v, t.stderr()
    data = v[-1].body[0]["data"]
    code, url = data["validationCode"], urlsplit(data["validationUrl"])
    assert (url.hostname, url.port) == ("127.0.0.1", t.port)
    assert t.publish([event(0)]).status == 200
    assert t.request("GET", f"/api/validate?subscription=hook-a&code=x{code}").status == 400
    assert t.request("GET", "/api/validate?subscription=hook-a&code=").status == 400
    assert t.request("GET", f"/api/validate?subscription=no-such&code={code}").status == 404
    assert not subscriber.notifications()
    r = t.request("GET", f"{url.path}?{url.query}")
    assert r.status == 200, r
    assert subscriber.wait_delivered_ids(["ev-0"]) == ["ev-0"], t.stderr()
    # remembered: no handshake after a restart
    n = len(subscriber.validations())
    wait_owed(t)
    t.kill9()
    assert any(r["t"] == "V" and r["sub"] == "hook-a" for r in read_records(t.data_dir))
    t.start()
    assert t.publish([event(1)]).status == 200
    assert "ev-1" in subscriber.wait_delivered_ids(["ev-1"]), t.stderr()
    assert len(subscriber.validations()) == n


def test_validation_remembered_across_restart_redone_on_new_endpoint(topic_factory, subscriber):
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url("/one"))])
    assert t.publish([event(0)]).status == 200
    assert subscriber.wait_delivered_ids(["ev-0"]), t.stderr()
    wait_owed(t)  # else a SIGTERM with the answer in flight may send it again
    t.stop()
    t.start()
    assert t.publish([event(1)]).status == 200
    assert "ev-1" in subscriber.wait_delivered_ids(["ev-1"]), t.stderr()
    wait_owed(t)
    t.kill9()
    t.start()
    assert t.publish([event(2)]).status == 200
    assert "ev-2" in subscriber.wait_delivered_ids(["ev-2"]), t.stderr()
    assert len(subscriber.validations()) == 1
    wait_owed(t)
    t.stop()
    rewrite_config(t, config([subscription_toml("hook-a", subscriber.url("/two"))]))
    t.start()
    assert t.publish([event(3)]).status == 200
    assert subscriber.wait_delivered_ids(["ev-3"], path="/two") == ["ev-3"], t.stderr()
    assert len(subscriber.validations("/two")) == 1
    assert len(subscriber.validations()) == 2
    assert subscriber.validations("/two")[0].at < subscriber.notifications("/two")[0].at
    assert sorted(subscriber.received_ids("/one")) == ["ev-0", "ev-1", "ev-2"]
    t.kill9()
    ends = [r["endpoint"] for r in read_records(t.data_dir) if r["t"] == "V"]
    assert subscriber.url("/two") in ends


# ---- delivery --------------------------------------------------------------------------


def test_delivery_headers_and_body(topic_factory, subscriber):
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())])
    evs = [event(0, dataVersion="2.5", extra={"x": [1, 2, None]}),
           event(1, topic=TOPIC_PATH, metadataVersion="1"),
           event(2, data={"s": "h\u00e9llo \u2603 \"q\" \\ \n"}),
           event(3, data=None)]
    evs[3]["data"] = None
    assert t.publish(evs).status == 200
    got = subscriber.wait_delivered(4)
    assert len(got) == 4, t.stderr()
    by_id = {}
    for r in got:
        assert r.method == "POST" and r.path == "/hook"
        h = r.headers
        assert h["content-type"].split(";")[0].strip() == "application/json"
        assert h["aeg-event-type"] == "Notification"
        assert h["aeg-subscription-name"] == "hook-a"
        assert h["aeg-delivery-count"] == "0"
        assert h["aeg-metadata-version"] == "1"
        assert isinstance(r.body, list) and len(r.body) == 1, r.raw
        by_id[r.body[0]["id"]] = r
    assert sorted(by_id) == ["ev-0", "ev-1", "ev-2", "ev-3"]
    for ev in evs:
        r = by_id[ev["id"]]
        assert r.body[0] == delivered_form(ev)
        assert r.headers["aeg-data-version"] == ev["dataVersion"]
    lines = wait_re(t, rf"delivery: event=(ev-\d) subscription=hook-a attempt=1 status=200 {MS} "
                       "delivered$", 4)
    assert sorted(lines) == ["ev-0", "ev-1", "ev-2", "ev-3"], t.stderr()


RETRY_CLASSES = [
    # id, subscriber behaviour, lastDeliveryOutcome, lastHttpStatusCode, log status
    ("500", 500, "ServerError", 500, "500"),
    ("503", 503, "ServerError", 503, "503"),
    ("404", 404, "NotFound", 404, "404"),
    ("302", 302, "UnexpectedStatus", 302, "302"),
    ("429", 429, "UnexpectedStatus", 429, "429"),
    ("timeout", HANG, "TimedOut", 0, "timeout"),
    ("slow-200", Reply(200, delay=1.0), "TimedOut", 0, "timeout"),
    ("closed", CLOSE, "NetworkError", 0, "error"),
    ("refused", "down", "ConnectionRefused", 0, "refused"),
]


@pytest.mark.parametrize("behaviour,outcome,http_status,log_status",
                         [c[1:] for c in RETRY_CLASSES], ids=[c[0] for c in RETRY_CLASSES])
def test_retried_then_dead_lettered_after_max_attempts(topic_factory, subscriber, behaviour,
                                                       outcome, http_status, log_status):
    if behaviour != "down":
        subscriber.set_default(behaviour)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())], max_attempts=3,
              delivery_timeout=0.3 if behaviour == HANG or isinstance(behaviour, Reply) else 5)
    validated(t, "hook-a")
    if behaviour == "down":
        subscriber.down()
    assert t.publish([event(0)]).status == 200
    files = wait_deadletters(t, "hook-a", 1)
    assert len(files) == 1 and files[0].name.endswith("-ev-0.json"), files
    d = read_deadletter(files[0])
    assert d["deadLetterReason"] == "MaxDeliveryAttemptsExceeded", d
    assert d["deliveryAttempts"] == 3
    assert d["lastDeliveryOutcome"] == outcome
    assert d["lastHttpStatusCode"] == http_status
    assert d["subscription"] == "hook-a"
    err = t.stderr()
    for n in (1, 2):
        assert re.search(rf"delivery: event=ev-0 subscription=hook-a attempt={n} "
                         rf"status={log_status} {MS} {RETRY}$", err, re.M), err
    assert wait_re(t, rf"delivery: event=ev-0 subscription=hook-a attempt=3 status={log_status} "
                      rf"{MS} dead-lettered \(MaxDeliveryAttemptsExceeded\)$"), t.stderr()
    assert "attempt=4" not in err
    if behaviour != "down":
        notes = subscriber.notifications()
        # one request per attempt (an HTTP client must not re-send a POST on its own)
        assert [(r.ids, r.delivery_count) for r in notes] == \
            [(["ev-0"], "0"), (["ev-0"], "1"), (["ev-0"], "2")], t.stderr()


NON_RETRIABLE = [(400, "BadRequest"), (401, "Unauthorized"), (403, "Forbidden"),
                 (413, "RequestEntityTooLarge")]


@pytest.mark.parametrize("status,outcome", NON_RETRIABLE, ids=[str(s) for s, _ in NON_RETRIABLE])
def test_non_retriable_status_dead_lettered_at_once(topic_factory, subscriber, status, outcome):
    subscriber.script(status)  # then 200
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())])
    assert t.publish([event(0)]).status == 200
    d = read_deadletter(wait_deadletters(t, "hook-a", 1)[0])
    assert d["deadLetterReason"] == "NonRetriableStatus", d
    assert d["deliveryAttempts"] == 1
    assert d["lastDeliveryOutcome"] == outcome
    assert d["lastHttpStatusCode"] == status
    assert wait_re(t, rf"delivery: event=ev-0 subscription=hook-a attempt=1 status={status} {MS} "
                      r"dead-lettered \(NonRetriableStatus\)$"), t.stderr()
    assert t.publish([event(1)]).status == 200
    assert "ev-1" in subscriber.wait_delivered_ids(["ev-1"]), t.stderr()
    assert subscriber.received_ids().count("ev-0") == 1
    assert "event=ev-0 subscription=hook-a attempt=2" not in t.stderr()


@pytest.mark.parametrize("delays,least,most", [([5], 1, 1), ([0.3], 3, 5)],
                         ids=["next-beyond-ttl", "several-then-ttl"])
def test_ttl_dead_letter(topic_factory, subscriber, delays, least, most):
    subscriber.set_default(500)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())], event_ttl=1,
              retry_delays=delays, max_attempts=30)
    validated(t, "hook-a")
    t0 = time.monotonic()
    assert t.publish([event(0)]).status == 200
    d = read_deadletter(wait_deadletters(t, "hook-a", 1)[0])
    assert d["deadLetterReason"] == "TimeToLiveExceeded", d
    n = len(subscriber.notifications())
    assert d["deliveryAttempts"] == n and least <= n <= most, (d, n)
    assert d["lastDeliveryOutcome"] == "ServerError" and d["lastHttpStatusCode"] == 500
    # every attempt came within the TTL (loose bound for a loaded machine)
    assert subscriber.notifications()[-1].at - t0 < 2.5
    assert parse_time(d["lastDeliveryAttemptTime"]) >= parse_time(d["publishTime"]) - \
        datetime.timedelta(seconds=1)
    assert wait_re(t, rf"subscription=hook-a attempt={n} status=500 {MS} "
                      r"dead-lettered \(TimeToLiveExceeded\)$"), t.stderr()


def test_never_validated_subscription_expires(topic_factory, subscriber):
    subscriber.set_validation("wrong")
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())], event_ttl=1,
              retry_delays=[0.2])
    assert t.publish([event(0)]).status == 200
    d = read_deadletter(wait_deadletters(t, "hook-a", 1)[0])
    assert d["deadLetterReason"] == "TimeToLiveExceeded", d
    assert d["deliveryAttempts"] == 0 and d["lastHttpStatusCode"] == 0
    assert d["lastDeliveryOutcome"] == "NotAttempted"
    assert d["id"] == "ev-0" and d["subscription"] == "hook-a"
    assert not subscriber.notifications()
    assert wait_re(t, r"delivery: event=ev-0 subscription=hook-a attempt=0 .*"
                      r"dead-lettered \(TimeToLiveExceeded[;)]"), t.stderr()


def test_retry_schedule_last_delay_repeats_with_jitter(topic_factory, subscriber):
    subscriber.set_default(500)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              retry_delays=[0.05, 0.2], max_attempts=5)
    assert t.publish([event(0)]).status == 200
    assert wait_deadletters(t, "hook-a", 1)
    delays = [float(y) for y in re.findall(
        rf"event=ev-0 subscription=hook-a attempt=\d status=500 {MS} retry in ([0-9.]+) s$",
        t.stderr(), re.M)]
    assert len(delays) == 4, t.stderr()
    assert 0.04 - 1e-9 <= delays[0] <= 0.06 + 1e-9, delays
    assert all(0.16 - 1e-9 <= y <= 0.24 + 1e-9 for y in delays[1:]), delays
    # the topic waited (at least roughly) as long as it said
    at = [r.at for r in subscriber.notifications()]
    assert len(at) == 5
    for gap, y in zip([b - a for a, b in zip(at, at[1:])], delays):
        assert gap >= y * 0.9, (gap, y)


def test_retry_delays_are_jittered(topic_factory, subscriber):
    subscriber.set_default(500)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              retry_delays=[0.1], max_attempts=2)
    assert t.publish([event(i) for i in range(20)]).status == 200
    assert wait_deadletters(t, "hook-a", 20)
    delays = [float(y) for y in re.findall(rf"attempt=1 status=500 {MS} retry in ([0-9.]+) s$",
                                           t.stderr(), re.M)]
    assert len(delays) == 20
    assert all(0.08 - 1e-9 <= y <= 0.12 + 1e-9 for y in delays), delays
    assert len(set(delays)) > 1, delays  # jittered, not all equal


NEW_KEY_ERRORS = [
    ("delivery_timeout = 0\n", 13, 20, "delivery_timeout"),
    ('delivery_timeout = "30s"\n', 13, 20, "delivery_timeout"),
    ("max_in_flight = 0\n", 13, 17, "max_in_flight"),
    ("log_compact_bytes = 100\n", 13, 21, "log_compact_bytes"),
]


@pytest.mark.parametrize("line,lno,col,what", NEW_KEY_ERRORS,
                         ids=["timeout-0", "timeout-str", "in-flight-0", "compact-small"])
def test_new_keys_bad_values(tmp_path, line, lno, col, what):
    text = 'key = "k"\ndata_dir = "d"\n' + "\n" * 10 + line
    rc, err, path = run_config(tmp_path, text)
    assert rc == 1, err
    assert f"{path}:{lno}:{col}: " in err and what in err, err


def test_dead_letter_file_contents(topic_factory, subscriber):
    subscriber.set_default(403)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())])
    evs = [event(0, id="odd/id with:chars.1-x", extra={"k": "v"}), event(1)]
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    assert t.publish(evs).status == 200
    files = wait_deadletters(t, "hook-a", 2)
    names = {}
    for f in files:
        m = re.fullmatch(r"(\d+)-(.+)\.json", f.name)
        assert m, f.name
        names[m.group(2)] = (int(m.group(1)), f)
    assert sorted(names) == ["ev-1", "odd_id_with_chars.1-x"]
    after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    for ev, key in [(evs[0], "odd_id_with_chars.1-x"), (evs[1], "ev-1")]:
        d = read_deadletter(names[key][1])
        for k, v in delivered_form(ev).items():
            assert d[k] == v, (k, d)
        assert d["subscription"] == "hook-a"
        assert d["deadLetterReason"] == "NonRetriableStatus"
        assert d["deliveryAttempts"] == 1 and d["lastHttpStatusCode"] == 403
        assert d["lastDeliveryOutcome"] == "Forbidden"
        assert before <= parse_time(d["publishTime"]) <= after
        assert before <= parse_time(d["lastDeliveryAttemptTime"]) <= after
    wait_owed(t)
    # written atomically: nothing else is left in the directory
    assert sorted(p.name for p in (t.data_dir / "deadletter" / "hook-a").iterdir()) == \
        sorted(f.name for f in files)
    t.kill9()
    seqs = {r["event"]["id"]: r["seq"] for r in read_records(t.data_dir) if r["t"] == "E"}
    assert names["odd_id_with_chars.1-x"][0] == seqs["odd/id with:chars.1-x"]
    assert names["ev-1"][0] == seqs["ev-1"]
    recs = read_records(t.data_dir)
    assert {(r["seq"], r["sub"]) for r in recs if r["t"] == "X"} == \
        {(seqs["ev-1"], "hook-a"), (seqs["odd/id with:chars.1-x"], "hook-a")}
    t.start()
    assert pending(t) == 0


def test_fails_three_times_then_recovers(topic_factory, subscriber):
    subscriber.script(500, 500, 500)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())], max_attempts=10)
    assert t.publish([event(0)]).status == 200
    assert subscriber.wait_delivered(1), t.stderr()
    assert wait_re(t, rf"delivery: event=ev-0 subscription=hook-a attempt=4 status=200 {MS} "
                      "delivered$"), t.stderr()
    notes = subscriber.notifications()
    assert [r.delivery_count for r in notes] == ["0", "1", "2", "3"]
    assert [r.status for r in notes] == [500, 500, 500, 200]
    assert subscriber.delivered_ids() == ["ev-0"]
    for n in (1, 2, 3):
        assert re.search(rf"delivery: event=ev-0 subscription=hook-a attempt={n} status=500 {MS} "
                         rf"{RETRY}$", t.stderr(), re.M)
    assert not deadletters(t, "hook-a")
    wait_owed(t)
    t.kill9()
    recs = read_records(t.data_dir)
    seq = [r["seq"] for r in recs if r["t"] == "E"][0]
    assert [r["n"] for r in recs if r["t"] == "F" and r["seq"] == seq] == [1, 2, 3]
    assert [(r["sub"], r["n"]) for r in recs if r["t"] == "D" and r["seq"] == seq] == \
        [("hook-a", 4)]
    t.start()
    assert pending(t) == 0
    assert t.publish([event(1)]).status == 200
    assert subscriber.wait_delivered_ids(["ev-1"]) == ["ev-0", "ev-1"], t.stderr()
    assert len(subscriber.notifications()) == 5


def test_delivery_count_continues_after_restart(topic_factory, subscriber):
    subscriber.script(500, 500)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              retry_delays=[0.05, 30], max_attempts=10)
    assert t.publish([event(0)]).status == 200
    assert wait_re(t, rf"event=ev-0 subscription=hook-a attempt=2 status=500 {MS} {RETRY}$")
    assert wait_until(lambda: [r["n"] for r in read_records(t.data_dir, partial_ok=True)
                               if r["t"] == "F"] == [1, 2]), read_records(t.data_dir)
    t.kill9()
    t.start()
    assert pending(t) == 1
    got = subscriber.wait_delivered(1)
    assert got and got[0].ids == ["ev-0"], t.stderr()
    assert [r.delivery_count for r in subscriber.notifications()] == ["0", "1", "2"]
    assert wait_re(t, rf"event=ev-0 subscription=hook-a attempt=3 status=200 {MS} delivered$")


def test_delivery_in_flight_at_kill9_is_sent_again(topic_factory, subscriber):
    subscriber.script(HANG)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              delivery_timeout=30)
    assert t.publish([event(0)]).status == 200
    assert subscriber.wait_notifications(1), t.stderr()
    t.kill9()
    t.start()
    assert pending(t) == 1
    assert subscriber.wait_delivered_ids(["ev-0"]) == ["ev-0"], t.stderr()
    assert [r.ids for r in subscriber.notifications()] == [["ev-0"], ["ev-0"]]


def test_kill9_with_1000_undelivered_events(topic_factory, subscriber):
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              retry_delays=[0.5], max_attempts=1000)
    validated(t, "hook-a")
    subscriber.down()
    ids = [f"ev-{i}" for i in range(1000)]
    for b in range(10):
        assert t.publish([event(i) for i in range(b * 100, b * 100 + 100)]).status == 200
    t.kill9()
    subscriber.up()
    t.start()
    assert pending(t) == 1000
    got = subscriber.wait_delivered_ids(ids, timeout=60)
    assert len(got) == 1000 and sorted(got) == sorted(ids), \
        (len(got), len(set(got)), t.stderr()[-3000:])
    assert len(subscriber.notifications()) == 1000
    assert not deadletters(t, "hook-a")
    # nothing is sent again after the next restart
    assert len(wait_re(t, rf"subscription=hook-a attempt=\d+ status=200 {MS} delivered$",
                       1000)) == 1000
    wait_owed(t)
    t.kill9()
    t.start()
    assert pending(t) == 0
    assert t.publish([event(1000)]).status == 200
    assert "ev-1000" in subscriber.wait_delivered_ids(["ev-1000"]), t.stderr()
    assert len(subscriber.notifications()) == 1001


def test_subscriber_down_then_back_gets_every_event(topic_factory, subscriber):
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              retry_delays=[0.1], max_attempts=1000)
    validated(t, "hook-a")
    subscriber.down()
    ids = [f"ev-{i}" for i in range(20)]
    assert t.publish([event(i) for i in range(20)]).status == 200
    for i in (0, 19):
        assert wait_re(t, rf"delivery: event=ev-{i} subscription=hook-a attempt=3 "
                          rf"status=refused {MS} {RETRY}$"), t.stderr()
    subscriber.up()
    got = subscriber.wait_delivered_ids(ids, timeout=20)
    assert sorted(got) == sorted(ids), t.stderr()[-3000:]
    counts = {r.ids[0]: int(r.delivery_count) for r in subscriber.delivered()}
    assert counts["ev-0"] >= 2 and counts["ev-19"] >= 2 and min(counts.values()) >= 1, counts
    assert not deadletters(t, "hook-a")


def test_slow_subscriber_does_not_hold_up_another(topic_factory, subscriber_factory):
    slow, fast = subscriber_factory(), subscriber_factory()
    slow.set_default(HANG)
    t = start(topic_factory, [subscription_toml("slow-a", slow.url()),
                              subscription_toml("fast-b", fast.url())],
              delivery_timeout=30, max_in_flight=2)
    validated(t, "slow-a")
    validated(t, "fast-b")
    ids = [f"ev-{i}" for i in range(10)]
    assert t.publish([event(i) for i in range(10)]).status == 200
    # well inside the slow one's 30 s timeout
    got = fast.wait_delivered_ids(ids, timeout=10)
    assert sorted(got) == sorted(ids), t.stderr()
    # two in flight at once to the slow one, and no more (max_in_flight)
    assert len(slow.wait_notifications(2, timeout=5)) == 2, t.stderr()
    assert len(slow.notifications()) == 2
    assert not slow.delivered()


def test_many_in_flight_per_subscription(topic_factory, subscriber):
    subscriber.set_default(HANG)
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())],
              delivery_timeout=30)
    assert t.publish([event(i) for i in range(20)]).status == 200
    # the default max_in_flight is 16
    assert len(subscriber.wait_notifications(16, timeout=10)) == 16, t.stderr()
    time.sleep(0.3)  # room for a 17th that must not come
    assert len(subscriber.notifications()) == 16


# ---- filters ---------------------------------------------------------------------------


def test_filters(topic_factory, subscriber):
    s = subscriber
    t = start(topic_factory, [
        subscription_toml("types-a", s.url("/types"), event_types=["Test.Created", "Other.Thing"]),
        subscription_toml("prefix-b", s.url("/prefix"), subject_begins_with="/Things/A"),
        subscription_toml("both-c", s.url("/both"), event_types=["test.created"],
                          subject_begins_with="/things/a"),
        subscription_toml("all-d", s.url("/all"))])
    evs = [event(0, eventType="TEST.CREATED", subject="/things/a1"),
           event(1, eventType="Other.thing", subject="/x"),
           event(2, eventType="Nope", subject="/THINGS/Ab"),
           event(3, eventType="Test.CreatedX", subject="/things/"),
           event(4, eventType="Test.Created", subject="/other/things/a")]
    want = {"/types": [0, 1, 4], "/prefix": [0, 2], "/both": [0], "/all": [0, 1, 2, 3, 4]}
    subs = {"/types": "types-a", "/prefix": "prefix-b", "/both": "both-c", "/all": "all-d"}
    assert t.publish(evs).status == 200
    assert len(s.wait_delivered(11)) == 11, t.stderr()
    for path, idx in want.items():
        assert sorted(s.delivered_ids(path)) == [f"ev-{i}" for i in idx], path
    recs = [r for r in read_records(t.data_dir, partial_ok=True) if r["t"] == "E"]
    matched = {r["event"]["id"]: set(r["subs"]) for r in recs}
    for i in range(5):
        assert matched[f"ev-{i}"] == {subs[p] for p, idx in want.items() if i in idx}, i
    assert len(s.notifications()) == 11


def test_event_matching_no_subscription(topic_factory, subscriber):
    t = start(topic_factory, [subscription_toml("types-a", subscriber.url(),
                                                event_types=["Wanted"])])
    assert t.publish([event(0, eventType="Unwanted")]).status == 200
    assert t.publish([event(1, eventType="wanted")]).status == 200
    assert subscriber.wait_delivered_ids(["ev-1"]) == ["ev-1"], t.stderr()
    wait_owed(t)
    t.kill9()
    e = {r["event"]["id"]: r["subs"] for r in read_records(t.data_dir) if r["t"] == "E"}
    assert e == {"ev-0": [], "ev-1": ["types-a"]}
    t.start()
    assert pending(t) == 0
    assert t.publish([event(2, eventType="WANTED")]).status == 200
    assert subscriber.wait_delivered_ids(["ev-2"]) == ["ev-1", "ev-2"]
    assert "ev-0" not in subscriber.received_ids()


def test_subscription_removed_from_config(topic_factory, subscriber_factory):
    gone, keep = subscriber_factory(), subscriber_factory()
    gone.set_default(500)
    top = dict(retry_delays=[0.2], max_attempts=1000)
    t = start(topic_factory, [subscription_toml("gone-a", gone.url()),
                              subscription_toml("keep-b", keep.url())], **top)
    ids = [f"ev-{i}" for i in range(3)]
    assert t.publish([event(i) for i in range(3)]).status == 200
    assert sorted(keep.wait_delivered_ids(ids)) == ids
    assert len(gone.wait_notifications(3)) >= 3
    wait_owed(t, {(i, "gone-a") for i in ids})
    t.kill9()
    rewrite_config(t, config([subscription_toml("keep-b", keep.url())], **top))
    t.start()
    lines = [ln for ln in t.stderr().splitlines() if "gone-a" in ln]
    assert any("drop" in ln.lower() for ln in lines), t.stderr()
    n = len(gone.notifications())
    assert t.publish([event(3)]).status == 200
    assert "ev-3" in keep.wait_delivered_ids(["ev-3"]), t.stderr()
    time.sleep(0.5)  # more than two retry delays: a dropped delivery would be retried by now
    assert len(gone.notifications()) == n
    assert t.proc.poll() is None and t.request("GET", "/healthz").status == 200
    assert not deadletters(t, "gone-a")


# ---- log lines and the log -------------------------------------------------------------


def test_log_lines(topic_factory, subscriber):
    t = start(topic_factory, [subscription_toml("hook-a", subscriber.url())])
    assert pending(t) == 0
    assert t.publish([event(i) for i in range(7)]).status == 200
    assert t.publish([event(7), event(8)]).status == 200
    assert t.publish([event(9)]).status == 200
    assert wait_re(t, r"publish: 1 event, ")
    err = t.stderr()
    assert re.search(r"eventgrid: publish: 7 events, \d+ bytes, [0-9.]+ ms "
                     r"\(id ev-0, ev-1, ev-2, ev-3, ev-4, \.\.\.\)$", err, re.M), err
    assert re.search(r"eventgrid: publish: 2 events, \d+ bytes, [0-9.]+ ms \(id ev-7, ev-8\)$",
                     err, re.M), err
    assert re.search(r"eventgrid: publish: 1 event, \d+ bytes, [0-9.]+ ms \(id ev-9\)$",
                     err, re.M), err
    lines = wait_re(t, rf"^\S+ eventgrid: delivery: event=(ev-\d) subscription=hook-a attempt=1 "
                       rf"status=200 {MS} delivered$", 10)
    assert sorted(lines) == sorted(f"ev-{i}" for i in range(10)), t.stderr()
    assert wait_re(t, rf"^\S+ eventgrid: validation: subscription=hook-a attempt=1 status=200 "
                      rf"{MS} validated$")


def test_log_format(topic_factory, subscriber):
    s = subscriber
    s.set_default(400, path="/bad")
    s.script(503, path="/flaky")
    t = start(topic_factory, [subscription_toml("good-a", s.url("/good")),
                              subscription_toml("bad-b", s.url("/bad")),
                              subscription_toml("flaky-c", s.url("/flaky"))])
    t0 = time.time() * 1000
    ev = event(0, data={"w": "x y"})
    assert t.publish([ev]).status == 200
    assert s.wait_delivered_ids(["ev-0"], path="/good")
    assert s.wait_delivered_ids(["ev-0"], path="/flaky")
    assert wait_deadletters(t, "bad-b", 1)
    assert wait_re(t, rf"subscription=flaky-c attempt=2 status=200 {MS} delivered$")
    assert wait_re(t, rf"subscription=good-a attempt=1 status=200 {MS} delivered$")
    wait_owed(t)
    t.kill9()
    raw = (t.data_dir / "events.log").read_bytes()
    assert raw[:8] == b"WAGIEGL2"
    n, _ = struct.unpack_from("<II", raw, 8)
    payload = raw[16:16 + n]
    assert b"\n" not in payload and b"\": " not in payload, payload  # compact JSON
    recs = read_records(t.data_dir)
    assert {(r["sub"], r["endpoint"]) for r in recs if r["t"] == "V"} == \
        {("good-a", s.url("/good")), ("bad-b", s.url("/bad")), ("flaky-c", s.url("/flaky"))}
    es = [r for r in recs if r["t"] == "E"]
    assert len(es) == 1
    e = es[0]
    assert isinstance(e["seq"], int) and isinstance(e["at"], int)
    assert t0 - 5000 <= e["at"] <= time.time() * 1000 + 5000
    assert set(e["subs"]) == {"good-a", "bad-b", "flaky-c"}
    assert e["event"] == delivered_form(ev)
    seq = e["seq"]
    ds = sorted((r["sub"], r["n"]) for r in recs if r["t"] == "D" and r["seq"] == seq)
    assert ds == [("flaky-c", 2), ("good-a", 1)]
    assert [(r["sub"]) for r in recs if r["t"] == "X" and r["seq"] == seq] == ["bad-b"]
    assert [(r["sub"], r["n"]) for r in recs if r["t"] == "F" and r["seq"] == seq] == \
        [("flaky-c", 1)]
    # records follow their event
    order = [r["t"] for r in recs if r["t"] != "V"]
    assert order[0] == "E"


def test_log_compaction(topic_factory, subscriber_factory):
    a, b = subscriber_factory(), subscriber_factory()
    top = dict(log_compact_bytes=4096, retry_delays=[0.2], max_attempts=1000)
    t = start(topic_factory, [subscription_toml("all-a", a.url()),
                              subscription_toml("bees-b", b.url(), subject_begins_with="/b/")],
              **top)
    validated(t, "all-a")
    validated(t, "bees-b")
    pad = "p" * 300
    sent = []

    def publish_a(lo, hi):
        evs = [event(i, subject=f"/a/{i}", data={"pad": pad}) for i in range(lo, hi)]
        assert t.publish(evs).status == 200
        sent.extend(e["id"] for e in evs)
        assert set(sent) <= set(a.wait_delivered_ids(sent)), t.stderr()[-2000:]

    publish_a(0, 10)
    b.down()
    bees = [event(100 + i, id=f"bee-{i}", subject=f"/b/{i}", data={"pad": pad}) for i in range(3)]
    assert t.publish(bees).status == 200
    sent.extend(e["id"] for e in bees)
    for e in bees:
        assert wait_re(t, rf"delivery: event={e['id']} subscription=bees-b attempt=2 "
                          rf"status=refused {MS} {RETRY}$"), t.stderr()[-2000:]
    off = len(t.stderr())
    for lo in range(10, 50, 5):
        publish_a(lo, lo + 5)
    log = t.data_dir / "events.log"
    # about 30 KB were appended; compaction keeps the file near log_compact_bytes
    assert wait_until(lambda: log.stat().st_size < 16000, 5), log.stat().st_size
    comp = re.findall(r"log: compacted: (\d+) undelivered events? kept, (\d+) -> (\d+) bytes",
                      t.stderr())
    assert comp, t.stderr()[-3000:]
    assert all(int(b2) <= int(b1) for _, b1, b2 in comp) and \
        any(int(b2) < int(b1) for _, b1, b2 in comp), comp
    later = re.findall(r"log: compacted: (\d+) undelivered", t.stderr()[off:])
    assert later and all(int(k) >= 3 for k in later), later
    # all of all-a's deliveries are recorded before the crash
    assert len(wait_re(t, rf"subscription=all-a attempt=\d+ status=200 {MS} delivered$",
                       len(sent))) == len(sent), t.stderr()[-3000:]
    wait_owed(t, {(e["id"], "bees-b") for e in bees})
    t.kill9()
    recs = read_records(t.data_dir)
    kept = {r["event"]["id"]: r["seq"] for r in recs if r["t"] == "E"}
    assert {"bee-0", "bee-1", "bee-2"} <= set(kept)
    assert not set(kept) & {f"ev-{i}" for i in range(10)}, kept
    b.up()
    t.start()
    assert pending(t) == 3
    got = b.wait_delivered_ids(["bee-0", "bee-1", "bee-2"])
    assert sorted(got) == ["bee-0", "bee-1", "bee-2"], t.stderr()
    # the delivery count continues from the failed attempts before the crash
    assert all(int(r.delivery_count) >= 1 for r in b.delivered()), \
        [r.delivery_count for r in b.delivered()]
    publish_a(50, 51)
    ids = a.delivered_ids()
    assert len(ids) == len(set(ids)) == len(sent), "all-a got an event twice"
    # validations survive compaction
    assert len(a.validations()) == 1 and len(b.validations()) == 1
    # sequence numbers are not reused after compaction and restart: the 40
    # events published after the bees came before ev-50
    wait_owed(t)
    t.kill9()
    seq50 = [r["seq"] for r in read_records(t.data_dir) if r["t"] == "E"
             and r["event"]["id"] == "ev-50"]
    assert seq50 and seq50[0] >= kept["bee-2"] + 41, (seq50, kept)
