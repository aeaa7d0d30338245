"""The seed's Azure flow end to end on the local stack: POST /handler
writes a blob (Azurite checks the SharedKey signature) and publishes an
event to `wagi eventgrid`, which delivers it to /eventgrid-webhook, which
reads the blob and upserts a Cosmos DB document."""
import json
import threading
import time

import pytest

from conftest import need_node_package
from stack import App, Azurite, Cosmos, free_port, user_fields

DOC_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    need_node_package("azurite")
    need_node_package("@vercel/cosmosdb-server")
    tmp = tmp_path_factory.mktemp("azure-stack")
    az = Azurite(tmp)
    cosmos = Cosmos()
    yield az, cosmos
    cosmos.stop()
    az.stop()


@pytest.fixture
def app(services, tmp_path):
    az, cosmos = services
    apps = []

    def make(**kw):
        kw.setdefault("storage_endpoint", az.endpoint)
        kw.setdefault("cosmos_endpoint", cosmos.endpoint)
        a = App(tmp_path / f"app{len(apps)}", **kw)
        apps.append(a)
        return a

    yield make
    for a in apps:
        a.stop()


def wait_docs(cosmos, pred, timeout=DOC_TIMEOUT):
    deadline = time.monotonic() + timeout
    docs = []
    while time.monotonic() < deadline:
        docs = [d for d in cosmos.documents() if pred(d)]
        if docs:
            return docs
        time.sleep(0.1)
    return docs


def event_ids(app):
    """Ids of the events the topic accepted, from its publish lines."""
    out = []
    for line in app.topic.lines:
        if "publish: " in line and "(id " in line:
            out.append(line.rsplit("(id ", 1)[1].rstrip(")"))
    return out


def test_seed_flow(services, app):
    _, cosmos = services
    a = app()
    status, body = a.post("/handler?container=seed&blob=first", b"Some string data")
    assert status == 200, body
    assert body == f"Writing 16 bytes.\nSent message to host 127.0.0.1:{a.topic_port}\n"
    assert a.wait_topic("delivered"), a.topic.text()
    [eid] = event_ids(a)
    docs = wait_docs(cosmos, lambda d: d["id"] == eid)
    assert [user_fields(d) for d in docs] == [{"id": eid, "value": "Some string data"}]


def test_binary_blob_is_stored_base64(services, app):
    _, cosmos = services
    a = app()
    data = bytes(range(256))
    assert a.post("/handler?container=seed&blob=binary", data)[0] == 200
    assert a.wait_topic("delivered"), a.topic.text()
    [eid] = event_ids(a)
    import base64
    [doc] = wait_docs(cosmos, lambda d: d["id"] == eid)
    assert user_fields(doc) == {"id": eid, "value": base64.b64encode(data).decode(),
                                "encoding": "base64"}


@pytest.mark.parametrize("size", [0, 10 << 20])
def test_empty_and_large_bodies(services, app, size):
    _, cosmos = services
    a = app()
    data = b"x" * size
    status, body = a.post(f"/handler?container=sizes&blob=b{size}", data)
    assert status == 200 and body.startswith(f"Writing {size} bytes.\n"), body
    assert a.wait_topic("delivered", 60), a.topic.text()
    [eid] = event_ids(a)
    [doc] = wait_docs(cosmos, lambda d: d["id"] == eid)
    assert doc["value"] == data.decode()


def test_names_that_need_url_encoding(services, app):
    _, cosmos = services
    a = app()
    status, body = a.post("/handler?container=enc-test&blob=dir%2Fa%20b%2Bc%25.txt", b"encoded")
    assert status == 200, body
    assert a.wait_topic("delivered"), a.topic.text()
    [eid] = event_ids(a)
    [doc] = wait_docs(cosmos, lambda d: d["id"] == eid)
    assert doc["value"] == "encoded"


@pytest.mark.parametrize("query,reason", [
    ("container=Bad_Name&blob=x", "only lower-case letters"),
    ("container=ab&blob=x", "3 to 63 characters"),
    ("container=ok-name", "container and blob query parameters are required"),
    ("blob=x", "container and blob query parameters are required"),
])
def test_bad_names_are_400(app, query, reason):
    a = app()
    status, body = a.post(f"/handler?{query}", b"x")
    assert status == 400 and reason in body and body.count("\n") == 1, body


def test_wrong_storage_key_surfaces_403(app):
    a = app(storage_key="AAAA" + "B" * 84)
    status, body = a.post("/handler?container=seed&blob=k", b"x")
    assert status == 502 and "Put Blob seed/k: 403" in body, body


def test_storage_down_is_502(app):
    a = app(storage_endpoint=f"http://127.0.0.1:{free_port()}/devstoreaccount1")
    status, body = a.post("/handler?container=seed&blob=k", b"x")
    assert status == 502 and "Put Blob seed/k" in body and "connection" in body, body


def test_denied_host_is_explained(services, app):
    a = app(handler_hosts=[])
    status, body = a.post("/handler?container=seed&blob=k", b"x")
    assert status == 502 and "allowed_hosts" in body, body


def test_missing_setting_is_500(app, services):
    a = app(storage_key="")
    status, body = a.post("/handler?container=seed&blob=k", b"x")
    assert status == 500 and "STORAGE_MASTER_KEY" in body, body


def test_webhook_failing_then_recovering(services, app):
    """Cosmos unreachable at first: the webhook answers 5xx, the topic
    retries; once Cosmos is up the event lands, exactly once."""
    port = free_port()
    a = app(cosmos_endpoint=f"http://127.0.0.1:{port}", retry_delays="[0.3]")
    assert a.post("/handler?container=seed&blob=later", b"later")[0] == 200
    assert a.wait_topic("retry in"), a.topic.text()
    cosmos = Cosmos(port)
    try:
        assert a.wait_topic("delivered", 60), a.topic.text()
        [eid] = event_ids(a)
        docs = wait_docs(cosmos, lambda d: d["id"] == eid)
        assert [user_fields(d) for d in docs] == [{"id": eid, "value": "later"}]
        assert len(cosmos.documents()) == 1
    finally:
        cosmos.stop()


def test_fifty_concurrent_handlers(services, app):
    _, cosmos = services
    a = app()
    results = []

    def one(i):
        results.append(a.post(f"/handler?container=many&blob=b{i}", f"body {i}".encode()))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200] * 50, results
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and a.topic.text().count(" delivered") < 50:
        time.sleep(0.1)
    ids = set(event_ids(a))
    assert len(ids) == 50
    docs = wait_docs(cosmos, lambda d: d["id"] in ids)
    deadline = time.monotonic() + 30
    while len(docs) < 50 and time.monotonic() < deadline:
        time.sleep(0.2)
        docs = [d for d in cosmos.documents() if d["id"] in ids]
    assert sorted(d["value"] for d in docs) == sorted(f"body {i}" for i in range(50))
