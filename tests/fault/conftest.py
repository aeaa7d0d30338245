"""Fixtures for the malloc fault test (tests/fault/README.md).

Reuses tests/server's harness (WagiServer, module_entry, the `modules`
fixture that builds its test modules) and tests/http's (the `client_wasm`
fixture that builds its outbound-HTTP client module, the loopback
`Upstream`), each loaded under another name so that the conftest files do
not clash, and builds the LD_PRELOAD shim failmalloc.c into
<build>/fault/failmalloc.so.

Environment: WAGI_BUILD (default "build"), WAGI_BIN, WASM_CC as in
tests/server; FAULT_CC (default "cc") compiles the shim.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


server_conftest = _load("server_conftest", HERE.parent / "server" / "conftest.py")
http_conftest = _load("http_conftest", HERE.parent / "http" / "conftest.py")

# Fixtures pytest registers from this file's namespace.
modules = server_conftest.modules
wagi_binary = server_conftest.wagi_binary
client_wasm = http_conftest.client_wasm



@pytest.fixture(scope="session", autouse=True)
def fault_requirements():
    """Skips the suite, saying what is missing, without the tools it needs:
    the module compilers of tests/server and tests/http, ldd (which tells
    an ASan build), Linux's /proc (thread counts)."""
    missing = [t for t in (server_conftest.CLANG, "wat2wasm", "ldd") if not shutil.which(t)]
    if not os.path.isdir("/proc/self/task"):
        missing.append("/proc (Linux)")
    if missing:
        pytest.skip("the malloc fault test needs " + ", ".join(missing) +
                    " (tests/fault/README.md)")


SHIM_SRC = HERE / "failmalloc.c"
SHIM = server_conftest.BUILD / "fault" / "failmalloc.so"


def _is_asan(binary):
    """An ASan build links libasan dynamically (gcc's default)."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            return line.split("=>")[1].split("(")[0].strip()
    return None


@pytest.fixture(scope="session")
def shim():
    """(path of failmalloc.so, libasan path or None). The shim is built when
    missing or older than its source."""
    cc = os.environ.get("FAULT_CC", "cc")
    if not shutil.which(cc):
        pytest.skip(f"no C compiler ({cc}) to build the failmalloc shim; set FAULT_CC")
    if not SHIM.exists() or SHIM.stat().st_mtime < SHIM_SRC.stat().st_mtime:
        SHIM.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([cc, "-O2", "-g", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC",
                        "-shared", "-fvisibility=hidden", str(SHIM_SRC), "-o", str(SHIM),
                        "-ldl", "-lgcc_s"], check=True)
    return SHIM, _is_asan(server_conftest.WAGI)
