"""The benchmark kernels (bench/kernels/*.c, their small problem size) give
the same checksum natively (gcc), on the interpreter and as native code made
by `wagi compile`: the real programs of the benchmarks, run on both tiers."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
WAGI = BUILD / "wagi"
KERNELS = sorted(p.stem for p in (ROOT / "bench/kernels").glob("*.c"))
WASM_FLAGS = ["--target=wasm32", "-O2", "-mbulk-memory", "-nostdlib", "-Wl,--no-entry",
              "-Wl,--export=run", "-DSMALL"]


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=kw.pop("timeout", 600), **kw)


@pytest.fixture(scope="module")
def tools():
    for tool in ("cc", "clang-16"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not on PATH: needed to build the kernels and native code")


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_same_checksum_natively_and_on_both_tiers(tools, tmp_path, kernel):
    src = ROOT / "bench/kernels" / f"{kernel}.c"
    exe, wasm, wasmc = tmp_path / kernel, tmp_path / f"{kernel}.wasm", tmp_path / f"{kernel}.wasmc"
    r = run(["cc", "-O2", "-std=gnu11", "-DSMALL", "-o", exe, src, ROOT / "bench/native_main.c"])
    assert r.returncode == 0, r.stderr
    r = run([exe, "1"])
    assert r.returncode == 0, r.stderr
    native = int(r.stdout.split("checksum=")[1].split()[0]) & 0xFFFFFFFF
    r = run(["clang-16", *WASM_FLAGS, "-o", wasm, src])
    assert r.returncode == 0, r.stderr
    r = run([WAGI, "compile", wasm, "-o", wasmc])
    assert r.returncode == 0, r.stderr
    for module in (wasm, wasmc):
        r = run([WAGI, "invoke", module, "run"])
        assert r.returncode == 0, f"{module.name}: {r.stderr}"
        assert int(r.stdout.split()[0]) & 0xFFFFFFFF == native, f"{module.name}: {r.stdout}"
