"""The AOT tier through the CLI: `wagi compile` makes a .wasmc, `wagi run`
and `wagi invoke` run it natively with the interpreter's results, trap
messages and exit codes; damaged, stale or foreign .wasmc files are refused
with a message that says why; the server serves a .wasmc route."""
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
WAGI = BUILD / "wagi"
TRAILER = 256


def wagi(*args, **kw):
    return subprocess.run([str(WAGI), *map(str, args)], capture_output=True, text=True,
                          timeout=kw.pop("timeout", 300), **kw)


@pytest.fixture(scope="module")
def cc_works():
    if not shutil.which("cc"):
        pytest.skip("no C compiler (cc) on PATH: the AOT tier needs one")


@pytest.fixture(scope="module")
def math_wasmc(tmp_path_factory, cc_works):
    d = tmp_path_factory.mktemp("aot")
    wasm = d / "math.wasm"
    subprocess.run(["wat2wasm", "--debug-names", str(ROOT / "examples/wat/math.wat"), "-o", str(wasm)],
                   check=True)
    r = wagi("compile", wasm)
    assert r.returncode == 0, r.stderr
    out = d / "math.wasmc"
    assert r.stdout.strip() == str(out) and out.exists()
    return wasm, out


@pytest.mark.parametrize("args,expect", [
    (["fib", "20"], "6765"),
    (["fact", "20"], "2432902008176640000"),
    (["hypot", "3", "4"], "5"),
    (["divmod", "17", "5"], "3 2"),
    (["divmod", "-17", "5"], "-3 -2"),
])
def test_invoke_same_results_on_both_tiers(math_wasmc, args, expect):
    wasm, wasmc = math_wasmc
    a = wagi("invoke", wasm, *args)
    b = wagi("invoke", wasmc, *args)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout.strip() == expect and b.stdout == a.stdout


@pytest.mark.parametrize("args", [["divmod", "1", "0"], ["divmod", "-2147483648", "-1"],
                                  ["peek", "65536"], ["peek", "4294967295"]])
def test_traps_match_the_interpreter(math_wasmc, args):
    wasm, wasmc = math_wasmc
    a = wagi("invoke", wasm, *args)
    b = wagi("invoke", wasmc, *args)
    assert a.returncode == 2 and b.returncode == 2, (a.stderr, b.stderr)
    assert " at 0x" in a.stderr and b.stderr == a.stderr, (a.stderr, b.stderr)


def test_deep_recursion_is_stack_exhausted_not_a_crash(tmp_path, cc_works):
    wat = tmp_path / "rec.wat"
    wat.write_text('(module (func $f (export "f") (param i32) (result i32)'
                   ' (call $f (i32.add (local.get 0) (i32.const 1)))))')
    wasm = tmp_path / "rec.wasm"
    subprocess.run(["wat2wasm", str(wat), "-o", str(wasm)], check=True)
    assert wagi("compile", wasm).returncode == 0
    r = wagi("invoke", tmp_path / "rec.wasmc", "f", "0")
    assert r.returncode == 2 and "call stack exhausted" in r.stderr, r.stderr


def test_run_wasi_program_on_both_tiers(tmp_path, cc_works):
    hello = BUILD / "examples" / "hello.wasm"
    if not hello.exists():
        pytest.skip("build/examples/hello.wasm is missing (make examples)")
    a = wagi("run", hello)
    b = wagi("run", "--tier", "aot", hello)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout and "Hello" in a.stdout


def corrupt(src, dst, fn):
    data = bytearray(src.read_bytes())
    fn(data)
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("name,damage,reason", [
    ("truncated", lambda d: d.__delitem__(slice(len(d) - 100, None)), "trailer"),
    ("cut in the code", lambda d: d.__delitem__(slice(5000, 6000)), "size does not match"),
    ("code byte changed", lambda d: d.__setitem__(4000, d[4000] ^ 0xFF), "does not match the digest"),
    ("other ABI", lambda d: d.__setitem__(slice(len(d) - TRAILER + 8, len(d) - TRAILER + 12),
                                          struct.pack("<I", 999)), "ABI 999"),
    ("other target", lambda d: d.__setitem__(slice(len(d) - TRAILER + 192,
                                                   len(d) - TRAILER + 192 + 14),
                                             b"riscv64-linux\0"), "compiled for riscv64"),
    ("not ELF", lambda d: d.__setitem__(slice(0, 4), b"\0asm"), ""),
])
def test_damaged_wasmc_is_refused(math_wasmc, tmp_path, name, damage, reason):
    _, wasmc = math_wasmc
    bad = corrupt(wasmc, tmp_path / "bad.wasmc", damage)
    r = wagi("invoke", bad, "fib", "5")
    assert r.returncode == 1, (name, r.stdout, r.stderr)
    assert reason in r.stderr, (name, r.stderr)


def test_wasmc_cannot_run_on_the_interpreter(math_wasmc):
    _, wasmc = math_wasmc
    r = wagi("run", "--tier", "interp", wasmc)
    assert r.returncode == 1 and "native code" in r.stderr


def test_compiler_failure_is_reported(math_wasmc):
    wasm, _ = math_wasmc
    r = wagi("compile", wasm, "--cc", "no-such-compiler-xyz", "-o", "/tmp/never.wasmc")
    assert r.returncode == 1 and "no-such-compiler-xyz" in r.stderr
    r = wagi("compile", wasm, "--cflags", "-fno-such-flag-xyz", "-o", "/tmp/never.wasmc")
    assert r.returncode == 1 and "no-such-flag" in r.stderr, r.stderr
    assert not Path("/tmp/never.wasmc").exists()


def trailer_target(path):
    t = Path(path).read_bytes()[-TRAILER:]
    return t[192:224].split(b"\0")[0].decode()


def host_level():
    """The x86-64 level /proc/cpuinfo's flags give (what aot.c reads from
    CPUID), or None off x86-64."""
    try:
        flags = set(next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split(":")[1].split())
    except (OSError, StopIteration):
        return None
    v2 = {"pni", "ssse3", "cx16", "sse4_1", "sse4_2", "popcnt", "lahf_lm"} <= flags
    v3 = v2 and {"fma", "movbe", "avx", "f16c", "abm", "bmi1", "avx2", "bmi2"} <= flags
    return "x86_64-v3-linux" if v3 else "x86_64-v2-linux" if v2 else "x86_64-linux"


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="CPU levels are x86-64's")
def test_cpu_level_is_recorded_and_chosen(math_wasmc, tmp_path):
    """By default the code is built for this machine's best level, which the
    trailer records; --cpu x86-64 builds for any x86-64 and gives the same
    results; an unknown level is refused before anything is compiled."""
    wasm, wasmc = math_wasmc
    assert trailer_target(wasmc) == host_level()
    base = tmp_path / "base.wasmc"
    r = wagi("compile", wasm, "--cpu", "x86-64", "-o", base)
    assert r.returncode == 0, r.stderr
    assert trailer_target(base) == "x86_64-linux"
    for args in (["fib", "20"], ["fact", "20"]):
        a, b = wagi("invoke", wasmc, *args), wagi("invoke", base, *args)
        assert a.returncode == b.returncode == 0 and a.stdout == b.stdout, (a, b)
    r = wagi("compile", wasm, "--cpu", "pentium4", "-o", tmp_path / "never.wasmc")
    assert r.returncode == 1 and 'unknown CPU level "pentium4"' in r.stderr, r.stderr
    assert not (tmp_path / "never.wasmc").exists()


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="CPU levels are x86-64's")
def test_wasmc_for_an_unknown_level_is_refused(math_wasmc, tmp_path):
    _, wasmc = math_wasmc
    bad = corrupt(wasmc, tmp_path / "v4.wasmc",
                  lambda d: d.__setitem__(slice(len(d) - TRAILER + 192, len(d) - TRAILER + 192 + 16),
                                          b"x86_64-v4-linux\0"))
    r = wagi("invoke", bad, "fib", "5")
    assert r.returncode == 1 and "compiled for x86_64-v4-linux" in r.stderr, r.stderr
