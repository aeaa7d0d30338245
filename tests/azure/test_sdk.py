"""The guest SDK's calls one by one, in a module run by `wagi run` against
the local stand-ins: Cosmos DB create/upsert/read/query (parameters, paging,
404s), Blob get/put errors, Event Grid publish errors. Every failure comes
back as an error value with the service's status and code."""
import json
import os
import subprocess

import pytest

from conftest import BUILD, COSMOS_KEY, DEV_ACCOUNT, DEV_KEY, ROOT, need_node_package
from stack import Azurite, Cosmos, free_port

WAGI = BUILD / "wagi"


@pytest.fixture(scope="module")
def probe():
    out = BUILD / "azure-tests" / "sdk_probe.wasm"
    out.parent.mkdir(parents=True, exist_ok=True)
    g = ROOT / "guest" / "src"
    r = subprocess.run(["clang-16", "--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror",
                        f"-I{ROOT / 'guest/include'}", str(ROOT / "tests/azure/progs/sdk_probe.c"),
                        *map(str, sorted(g.glob("*.c"))), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    need_node_package("azurite")
    need_node_package("@vercel/cosmosdb-server")
    az = Azurite(tmp_path_factory.mktemp("probe-azurite"))
    cosmos = Cosmos()
    yield az, cosmos
    cosmos.stop()
    az.stop()


def run(probe, args, env, hosts):
    cmd = [str(WAGI), "run"]
    for k, v in env.items():
        cmd += ["--env", f"{k}={v}"]
    for h in hosts:
        cmd += ["--allow-host", h]
    r = subprocess.run(cmd + [str(probe), *args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout.strip()


@pytest.fixture
def cosmos_run(probe, stand_ins):
    _, cosmos = stand_ins
    env = {"COSMOS_ENDPOINT": cosmos.endpoint, "COSMOS_MASTER_KEY": COSMOS_KEY,
           "COSMOS_DATABASE": "probe", "COSMOS_COLLECTION": "docs"}
    return lambda *a, **over: run(probe, a, dict(env, **over), [cosmos.endpoint])


@pytest.fixture
def blob_run(probe, stand_ins):
    az, _ = stand_ins
    env = {"STORAGE_ACCOUNT": DEV_ACCOUNT, "STORAGE_MASTER_KEY": DEV_KEY,
           "STORAGE_ENDPOINT": az.endpoint}
    host = "http://" + az.endpoint.split("/")[2]
    return lambda *a, **over: run(probe, a, dict(env, **over), [host])


def test_cosmos_documents(cosmos_run):
    # before ensure: the collection does not exist
    rc, out = cosmos_run("cosmos-read", "nothing")
    assert rc == 1 and out.startswith("error service 404"), out
    assert cosmos_run("cosmos-ensure") == (0, "ok")
    assert cosmos_run("cosmos-ensure") == (0, "ok")  # existing: still fine
    assert cosmos_run("cosmos-put", "a", "first") == (0, "ok")
    assert cosmos_run("cosmos-put", "a", "second") == (0, "ok")  # upsert replaces
    rc, out = cosmos_run("cosmos-create", "a", "third")
    assert rc == 1 and out.startswith("error service 409"), out
    rc, out = cosmos_run("cosmos-read", "a")
    assert rc == 0 and json.loads(out)["value"] == "second", out
    rc, out = cosmos_run("cosmos-read", "missing")
    assert rc == 1 and out.startswith("error service 404"), out


def test_cosmos_query_is_parameterised_and_paged(cosmos_run):
    assert cosmos_run("cosmos-ensure") == (0, "ok")
    tricky = "x' OR 1=1 --"
    assert cosmos_run("cosmos-put", "q1", tricky) == (0, "ok")
    assert cosmos_run("cosmos-put", "q2", "other") == (0, "ok")
    rc, out = cosmos_run("cosmos-query", "value", tricky)
    assert rc == 0 and [d["id"] for d in json.loads(out)] == ["q1"], out
    # more than one page (the SDK asks for 100 per page)
    for i in range(130):
        assert cosmos_run("cosmos-put", f"p{i}", "paged")[0] == 0
    rc, out = cosmos_run("cosmos-query", "value", "paged")
    assert rc == 0 and sorted(d["id"] for d in json.loads(out)) == sorted(f"p{i}" for i in range(130))


@pytest.mark.parametrize("doc", ['{"value": 1}', '{"id": 5}', '[1]', '{"id": "x"'])
def test_cosmos_bad_documents_are_refused(cosmos_run, doc):
    rc, out = cosmos_run("cosmos-put-raw", doc)
    assert rc == 1 and out.startswith("error invalid argument 0"), out


def test_cosmos_settings(cosmos_run):
    rc, out = cosmos_run("cosmos-ensure", COSMOS_MASTER_KEY="")
    assert rc == 1 and "COSMOS_MASTER_KEY is not set" in out, out
    rc, out = cosmos_run("cosmos-ensure", COSMOS_MASTER_KEY="not base64!")
    assert rc == 1 and "not a base64 key" in out, out
    rc, out = cosmos_run("cosmos-ensure", COSMOS_ENDPOINT="ftp://x")
    assert rc == 1 and "not an http:// or https:// URL" in out, out
    rc, out = cosmos_run("cosmos-ensure", COSMOS_DATABASE="a/b")
    assert rc == 1 and "contains '/'" in out, out


def test_cosmos_unreachable_and_denied(probe, cosmos_run):
    port = free_port()
    rc, out = run(probe, ["cosmos-ensure"], {"COSMOS_ENDPOINT": f"http://127.0.0.1:{port}",
                                             "COSMOS_MASTER_KEY": COSMOS_KEY,
                                             "COSMOS_DATABASE": "d", "COSMOS_COLLECTION": "c"},
                  [f"http://127.0.0.1:{port}"])
    assert rc == 1 and out.startswith("error http 0") and "connection failed" in out, out
    rc, out = cosmos_run("cosmos-ensure", COSMOS_ENDPOINT="http://127.0.0.2:1")
    assert rc == 1 and "allowed_hosts" in out, out


def test_blob_round_trip_and_errors(blob_run):
    rc, out = blob_run("blob-put", "no-such-container", "b", "x")
    assert rc == 1 and out.startswith("error service 404 ContainerNotFound"), out
    rc, out = blob_run("blob-get", "no-such-container", "b")
    assert rc == 1 and "404" in out, out
    rc, out = blob_run("blob-put", "Bad", "b", "x")
    assert rc == 1 and out.startswith("error invalid argument"), out
    rc, out = blob_run("blob-put", "okay", "b", "x", STORAGE_MASTER_KEY="A" * 88)
    assert rc == 1 and out.startswith("error service 403"), out


def test_connection_string_settings(blob_run, stand_ins):
    az, _ = stand_ins
    conn = (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={az.endpoint};")
    rc, out = blob_run("blob-get", "no-such-container", "b", AZURE_STORAGE_CONNECTION_STRING=conn,
                       STORAGE_MASTER_KEY="")
    assert rc == 1 and "404" in out, out  # reached Azurite, signed right
    rc, out = blob_run("blob-get", "c", "b", AZURE_STORAGE_CONNECTION_STRING="AccountName=x")
    assert rc == 1 and "has no AccountKey" in out, out


def test_publish_errors(probe):
    port = free_port()
    env = {"TOPIC_HOST_NAME": f"http://127.0.0.1:{port}", "TOPIC_KEY": "k"}
    rc, out = run(probe, ["publish", "T", "S", "{}"], env, [f"http://127.0.0.1:{port}"])
    assert rc == 1 and out.startswith("error http") and f"127.0.0.1:{port}" in out, out
    rc, out = run(probe, ["publish", "T", "S", "{not json"], env, [])
    assert rc == 1 and "data_json is not JSON" in out, out
    rc, out = run(probe, ["publish", "T", "S", "{}"], {"TOPIC_KEY": "k"}, [])
    assert rc == 1 and "TOPIC_HOST_NAME is not set" in out, out


def test_publish_with_sas_token(probe, tmp_path):
    """TOPIC_SAS_TTL: the key stays in the module; wagi eventgrid checks the
    token's signature and expiry and accepts the event."""
    import base64
    import socket
    import time as _time
    from stack import Proc, tq, wait_port, WAGI as WAGI_BIN
    key = base64.b64encode(b"a topic key of thirty-two bytes!").decode()
    port = free_port()
    (tmp_path / "topic.toml").write_text(f"key = {tq(key)}\ndata_dir = {tq(tmp_path / 'd')}\n")
    topic = Proc([str(WAGI_BIN), "eventgrid", "-c", str(tmp_path / "topic.toml"), "--listen",
                  f"127.0.0.1:{port}"])
    try:
        wait_port(port, topic.proc, "wagi eventgrid")
        env = {"TOPIC_HOST_NAME": f"http://127.0.0.1:{port}", "TOPIC_KEY": key,
               "TOPIC_SAS_TTL": "60"}
        hosts = [f"http://127.0.0.1:{port}"]
        assert run(probe, ["publish", "T.sas", "S", '{"a": 1}'], env, hosts) == (0, "ok")
        rc, out = run(probe, ["publish", "T", "S", "{}"], dict(env, TOPIC_SAS_TTL="0"), hosts)
        assert rc == 1 and "TOPIC_SAS_TTL" in out, out
        wrong = dict(env, TOPIC_KEY=base64.b64encode(b"another key").decode())
        rc, out = run(probe, ["publish", "T", "S", "{}"], wrong, hosts)
        assert rc == 1 and out.startswith("error service 401"), out
        deadline = _time.monotonic() + 10
        while "publish: 1 event" not in topic.text() and _time.monotonic() < deadline:
            _time.sleep(0.05)
        assert "publish: 1 event" in topic.text() and topic.text().count("publish: ") == 1
    finally:
        topic.stop()
