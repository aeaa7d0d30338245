"""Fixtures for the tf example's tests (examples/tf, served at /infer): the
real wagi on a free loopback port with the Cosmos DB stand-in, reusing
tests/azure (its conftest's paths, keys and Node checks, and stack.py's
processes and ports).

Environment: WAGI_BUILD (default "build"); WAGI_MODELS (default
../shared/models) for the four photos and the reference output vectors
(tests that need them skip without); WAGI_TEST_TIER=aot runs the module as
native code (`wagi --tier aot`, compiled once into a session cache)."""
import hashlib
import http.client
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

_AZURE = Path(__file__).resolve().parents[1] / "azure"
_spec = importlib.util.spec_from_file_location("azure_conftest", _AZURE / "conftest.py")
azure_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(azure_conftest)

# stack.py imports these from "conftest", which is this module while these
# tests run: the names are re-exported before stack is imported.
BUILD = azure_conftest.BUILD
ROOT = azure_conftest.ROOT
NODE_MODULES = azure_conftest.NODE_MODULES
DEV_ACCOUNT = azure_conftest.DEV_ACCOUNT
DEV_KEY = azure_conftest.DEV_KEY
COSMOS_KEY = azure_conftest.COSMOS_KEY
need_node_package = azure_conftest.need_node_package

sys.path.insert(0, str(_AZURE))
import stack  # noqa: E402  (tests/azure/stack.py)

MODULE = BUILD / "examples" / "tf.wasm"
DATA = ROOT / "examples" / "tf" / "data"
MODEL_FILE = "mobilenet_v2_1.0_224_quant.tflite"
LABELS_FILE = "imagenet_labels_1001.txt"
MODELS = Path(os.environ.get("WAGI_MODELS") or ROOT.parent / "shared" / "models")
TIER = os.environ.get("WAGI_TEST_TIER", "") or "interp"
ROUTE = "/infer"
# The module's stderr file: LOG_DIR/sha256(route)/module.stderr (docs/server.md §Logs).
ROUTE_LOG = hashlib.sha256(ROUTE.encode()).hexdigest() + "/module.stderr"

_aot_cache = None


def models_dir():
    """../shared/models (or $WAGI_MODELS), or a skip saying it is missing."""
    if not (MODELS / MODEL_FILE).is_file():
        pytest.skip(f"{MODELS / MODEL_FILE} not found: the photos and reference vectors come from "
                    "../shared/models (or set WAGI_MODELS)")
    return MODELS


def tq(s):
    return json.dumps(str(s))


class TfServer:
    """wagi serving examples/tf at /infer with one volume and environment."""

    def __init__(self, tmp, env, volume=DATA, hosts=()):
        global _aot_cache
        if not MODULE.exists():
            raise RuntimeError(f"{MODULE} is missing: build it (make examples)")
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.port = stack.free_port()
        self.logs = self.tmp / "logs"
        env_toml = "{ " + ", ".join(f"{k} = {tq(v)}" for k, v in env.items()) + " }"
        (self.tmp / "modules.toml").write_text(
            f"[[module]]\nroute = {tq(ROUTE)}\nmodule = {tq(MODULE)}\n"
            f"volumes = {{ \"/\" = {tq(volume)} }}\n"
            f"max_request_body_bytes = 33554432\ntime_limit_ms = 300000\n"
            f"allowed_hosts = {json.dumps(list(hosts))}\nenvironment = {env_toml}\n")
        args = [str(stack.WAGI), "--config", str(self.tmp / "modules.toml"), "--listen",
                f"127.0.0.1:{self.port}", "--log-dir", str(self.logs)]
        timeout = 30.0
        if TIER == "aot":
            if _aot_cache is None:
                _aot_cache = tempfile.mkdtemp(prefix="wagi-tftest-aot-")
            args += ["--tier", "aot", "--module-cache", _aot_cache]
            timeout = 300.0  # the first start compiles the module (~30 s on 2 busy cores)
        self.wagi = stack.Proc(args)
        stack.wait_port(self.port, self.wagi.proc, "wagi", timeout=timeout, output=self.wagi.text)

    def post(self, body, method="POST", headers=None, timeout=300):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, ROUTE, body, headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def module_log(self):
        """The route's module.stderr: the module's lines and the server's."""
        p = self.logs / ROUTE_LOG
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self):
        self.wagi.stop()


@pytest.fixture(scope="session")
def cosmos():
    need_node_package("@vercel/cosmosdb-server")
    c = stack.Cosmos()
    yield c
    c.stop()


@pytest.fixture
def tf_server(tmp_path):
    """Starts TfServer(**kw); env gets the stand-in's settings with a
    database of the test's own (so no test sees another's cache) unless
    cosmos=None, or cosmos_endpoint=URL for an endpoint of the test's."""
    servers = []

    def make(cosmos=None, cosmos_endpoint=None, env=None, **kw):
        e = {}
        hosts = []
        endpoint = cosmos_endpoint or (cosmos.endpoint if cosmos else None)
        if endpoint:
            db = f"tf{len(servers)}-{os.getpid()}-{time.monotonic_ns()}"
            e = {"COSMOS_ENDPOINT": endpoint, "COSMOS_MASTER_KEY": COSMOS_KEY,
                 "COSMOS_DATABASE": db, "COSMOS_COLLECTION": "cache"}
            hosts = [endpoint]
        e.update(env or {})
        s = TfServer(tmp_path / f"srv{len(servers)}", e, hosts=hosts, **kw)
        s.database = e.get("COSMOS_DATABASE")
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def pytest_sessionfinish(session, exitstatus):
    if _aot_cache:
        shutil.rmtree(_aot_cache, ignore_errors=True)
