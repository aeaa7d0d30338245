"""Differential test of the two tiers: seeded random modules from binaryen's
`wasm-opt --translate-to-fuzz` (SIMD, bulk memory, sign extension,
non-trapping conversions, multi-value) run on the interpreter and as native
code through tests/aot/diffrun.c, which prints every logged value, every
result and every trap: the outputs must be equal. AOT_DIFF_SEEDS=N runs N
seeds (default 12); a disagreement prints the seed and keeps the module
under build/aot-diff/.

wasm-opt comes from npm's binaryen in node/ (make setup), not Debian's: a
wasm-opt on PATH makes clang run it on every wasm it links, and binaryen
108 then rejects clang's stripped output (its features section is gone)."""
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
WAGI = BUILD / "wagi"
WASM_OPT = Path(os.environ.get("WASM_OPT", ROOT / "node" / "node_modules" / ".bin" / "wasm-opt"))
DIFFRUN = BUILD / "aot-diffrun"
SEEDS = int(os.environ.get("AOT_DIFF_SEEDS", "12"))
FEATURES = ["--enable-simd", "--enable-bulk-memory", "--enable-sign-ext",
            "--enable-nontrapping-float-to-int", "--enable-multivalue"]


@pytest.fixture(scope="module")
def tools():
    if not shutil.which("node") or not WASM_OPT.exists():
        pytest.skip(f"{WASM_OPT} is missing: run make setup (it installs npm's binaryen)")
    if not shutil.which("cc"):
        pytest.skip("no C compiler (cc): the AOT tier needs one")
    if not DIFFRUN.exists():
        pytest.fail(f"{DIFFRUN} is missing: build it (make aottest builds it)", pytrace=False)


@pytest.mark.parametrize("seed", range(1, SEEDS + 1))
def test_random_module_same_on_both_tiers(tools, seed):
    out = BUILD / "aot-diff"
    out.mkdir(parents=True, exist_ok=True)
    raw, wasm, wasmc = out / f"{seed}.bin", out / f"{seed}.wasm", out / f"{seed}.wasmc"
    raw.write_bytes(random.Random(seed).randbytes(4096))
    r = subprocess.run([str(WASM_OPT), "-ttf", str(raw), *FEATURES, "-o", str(wasm)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # --strict-loads: fuzz modules are full of loads whose value nothing
    # reads, which the default mode lets the C compiler drop (docs/aot.md)
    r = subprocess.run([str(WAGI), "compile", "--strict-loads", str(wasm), "-o", str(wasmc)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"seed {seed}: wagi compile: {r.stderr}"
    a = subprocess.run([str(DIFFRUN), str(wasm)], capture_output=True, text=True, timeout=300)
    b = subprocess.run([str(DIFFRUN), str(wasmc)], capture_output=True, text=True, timeout=300)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout.strip(), a.stdout  # the module did something
    if a.stdout != b.stdout:
        la, lb = a.stdout.splitlines(), b.stdout.splitlines()
        first = next((i for i in range(min(len(la), len(lb))) if la[i] != lb[i]), min(len(la), len(lb)))
        pytest.fail(f"seed {seed}: the tiers disagree at output line {first + 1}:\n"
                    f"  interpreter: {la[first] if first < len(la) else '(end)'}\n"
                    f"  native:      {lb[first] if first < len(lb) else '(end)'}\n"
                    f"module kept: {wasm}", pytrace=False)
    raw.unlink()
