"""Fixtures for the Azure guest-SDK tests: the native signer (azsign, built
from guest/ with the host compiler) and the project's Node packages (the
official Azure SDKs as oracles, Azurite and the Cosmos DB stand-in), which
`make setup` installs into node/node_modules. Without them the tests that
need them are skipped with that message.

Environment: WAGI_BUILD (default "build"); WAGI_NODE_MODULES overrides
node/node_modules."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
NODE_MODULES = Path(os.environ.get("WAGI_NODE_MODULES", ROOT / "node" / "node_modules"))

DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
           "K1SZFPTOtr/KBHBeksoGMGw==")
COSMOS_KEY = ("C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DDJFKrDGyCXXf6fMJxXfCeNzRQuCFo00b1S"
              "bBIJn4CB2Iw==")


def need_node_package(name):
    if not shutil.which("node"):
        pytest.skip("node is not installed: run `make setup`")
    if not (NODE_MODULES / name).exists():
        pytest.skip(f"{NODE_MODULES / name} is missing: run `make setup` (it installs the "
                    "project's Node packages)")


def node_env():
    return dict(os.environ, NODE_PATH=str(NODE_MODULES))


@pytest.fixture(scope="session")
def azsign():
    """tests/azure/azsign.c with the guest SDK, compiled natively."""
    out = BUILD / "azure-tests" / "azsign"
    out.parent.mkdir(parents=True, exist_ok=True)
    g = ROOT / "guest" / "src"
    srcs = [ROOT / "tests/azure/azsign.c", g / "wagi_azure_core.c", g / "wagi_codec.c",
            g / "wagi_crypto.c", g / "wagi_time.c"]
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                        f"-I{ROOT / 'guest/include'}", *map(str, srcs), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out
