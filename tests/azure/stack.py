"""The local Azure stack for end-to-end tests: Azurite (Blob), the Cosmos DB
stand-in, `wagi eventgrid` and the wagi server with the handler and webhook
examples, each on a free loopback port, each process killed at the end."""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from conftest import BUILD, COSMOS_KEY, DEV_ACCOUNT, DEV_KEY, NODE_MODULES, ROOT

WAGI = Path(os.environ.get("WAGI_BIN", BUILD / "wagi"))
TOPIC_KEY = "local-topic-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tq(s):
    return json.dumps(str(s))


def wait_port(port, proc, what, timeout=30.0, output=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            time.sleep(0.1)  # let the reader thread collect the last lines
            raise RuntimeError(f"{what} exited with {proc.returncode}"
                               + (f":\n{output()}" if output else ""))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


class Proc:
    """A child process whose output is collected by a thread."""

    def __init__(self, cmd, cwd=None, env=None):
        self.lines = []
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def text(self):
        return "\n".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Azurite:
    def __init__(self, tmp):
        self.port = free_port()
        self.p = Proc([str(NODE_MODULES / ".bin" / "azurite-blob"), "--blobHost", "127.0.0.1",
                       "--blobPort", str(self.port), "--location", str(tmp / "azurite"),
                       "--disableTelemetry", "--silent"])
        wait_port(self.port, self.p.proc, "azurite-blob", output=self.p.text)
        self.endpoint = f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}"

    def stop(self):
        self.p.stop()


class Cosmos:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.p = Proc([str(NODE_MODULES / ".bin" / "cosmosdb-server"), "-p", str(self.port),
                       "--no-ssl", "--host", "127.0.0.1"])
        wait_port(self.port, self.p.proc, "cosmosdb-server", output=self.p.text)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def documents(self, db="wagi", coll="documents"):
        """Every document, through the stand-in (it does not check auth)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = json.dumps({"query": "SELECT * FROM c", "parameters": []})
        c.request("POST", f"/dbs/{db}/colls/{coll}/docs", body,
                  {"Content-Type": "application/query+json", "x-ms-documentdb-isquery": "True",
                   "x-ms-documentdb-query-enablecrosspartition": "True"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status == 404:
            return []
        assert r.status == 200, (r.status, data)
        return json.loads(data)["Documents"]

    def stop(self):
        self.p.stop()


def user_fields(doc):
    return {k: v for k, v in doc.items() if not k.startswith("_")}


class App:
    """wagi eventgrid + wagi serving /handler and /eventgrid-webhook."""

    def __init__(self, tmp, storage_endpoint, cosmos_endpoint, storage_key=DEV_KEY,
                 handler_hosts=None, retry_delays="[0.2, 0.5, 1]"):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for m in ("handler", "webhook"):
            if not (BUILD / "examples" / f"{m}.wasm").exists():
                raise RuntimeError(f"{BUILD}/examples/{m}.wasm is missing: build it (make examples)")
        self.port, self.topic_port = free_port(), free_port()
        topic_url = f"http://127.0.0.1:{self.topic_port}"
        (self.tmp / "topic.toml").write_text(
            f"key = {tq(TOPIC_KEY)}\ndata_dir = {tq(self.tmp / 'topic')}\n"
            f"retry_delays = {retry_delays}\ndelivery_timeout = 20\n"
            f"[[subscription]]\nname = \"webhook\"\n"
            f"endpoint = \"http://127.0.0.1:{self.port}/eventgrid-webhook\"\n")
        storage = {"STORAGE_ACCOUNT": DEV_ACCOUNT, "STORAGE_MASTER_KEY": storage_key,
                   "STORAGE_ENDPOINT": storage_endpoint}
        hosts = handler_hosts if handler_hosts is not None else [
            "http://" + storage_endpoint.split("/")[2], topic_url]
        handler_env = dict(storage, TOPIC_HOST_NAME=topic_url, TOPIC_KEY=TOPIC_KEY)
        webhook_env = dict(storage, COSMOS_ENDPOINT=cosmos_endpoint, COSMOS_MASTER_KEY=COSMOS_KEY,
                           COSMOS_DATABASE="wagi", COSMOS_COLLECTION="documents")
        env_toml = lambda e: "{ " + ", ".join(f"{k} = {tq(v)}" for k, v in e.items()) + " }"
        (self.tmp / "modules.toml").write_text(
            f"[[module]]\nroute = \"/handler\"\nmodule = {tq(BUILD / 'examples/handler.wasm')}\n"
            f"allowed_hosts = {json.dumps(hosts)}\nenvironment = {env_toml(handler_env)}\n"
            f"[[module]]\nroute = \"/eventgrid-webhook\"\n"
            f"module = {tq(BUILD / 'examples/webhook.wasm')}\n"
            f"allowed_hosts = {json.dumps(['http://' + storage_endpoint.split('/')[2], cosmos_endpoint])}\n"
            f"environment = {env_toml(webhook_env)}\n")
        self.wagi = Proc([str(WAGI), "--config", str(self.tmp / "modules.toml"), "--listen",
                          f"127.0.0.1:{self.port}", "--log-dir", str(self.tmp / "logs")])
        wait_port(self.port, self.wagi.proc, "wagi", output=self.wagi.text)
        self.topic = Proc([str(WAGI), "eventgrid", "-c", str(self.tmp / "topic.toml"), "--listen",
                           f"127.0.0.1:{self.topic_port}"])
        wait_port(self.topic_port, self.topic.proc, "wagi eventgrid", output=self.topic.text)

    def post(self, path, body=b"", timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request("POST", path, body)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data.decode(errors="replace")

    def wait_topic(self, text, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.topic.text():
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.topic.stop()
        self.wagi.stop()
