"""Out-of-bounds memory accesses on native code name the function and the
offset of the faulting instruction exactly as the interpreter does (issue
18): the fault's address is mapped through the .wasmc's trap map (the C
compiler's line table for the #line markers aot_gen.c writes). Checked for
loads and stores of every width, SIMD accesses, loads whose value feeds
arithmetic, a branch or a local, accesses in inlined callees and behind
call_indirect, at the end of memory and far beyond it, with gcc and clang."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
WAGI = BUILD / "wagi"
TRAILER = 256

# (export suffix, value type, access, width in bytes)
LOADS = [
    ("i32", "i32", "i32.load", 4), ("i64", "i64", "i64.load", 8),
    ("f32", "f32", "f32.load", 4), ("f64", "f64", "f64.load", 8),
    ("i32_8s", "i32", "i32.load8_s", 1), ("i32_8u", "i32", "i32.load8_u", 1),
    ("i32_16s", "i32", "i32.load16_s", 2), ("i32_16u", "i32", "i32.load16_u", 2),
    ("i64_8s", "i64", "i64.load8_s", 1), ("i64_8u", "i64", "i64.load8_u", 1),
    ("i64_16s", "i64", "i64.load16_s", 2), ("i64_16u", "i64", "i64.load16_u", 2),
    ("i64_32s", "i64", "i64.load32_s", 4), ("i64_32u", "i64", "i64.load32_u", 4),
    ("v128", "v128", "v128.load", 16), ("v128_8x8s", "v128", "v128.load8x8_s", 8),
    ("v128_splat32", "v128", "v128.load32_splat", 4), ("v128_zero64", "v128", "v128.load64_zero", 8),
]
STORES = [
    ("i32", "i32", "i32.store", 4, "(i32.const 7)"), ("i64", "i64", "i64.store", 8, "(i64.const 7)"),
    ("f32", "f32", "f32.store", 4, "(f32.const 7)"), ("f64", "f64", "f64.store", 8, "(f64.const 7)"),
    ("i32_8", "i32", "i32.store8", 1, "(i32.const 7)"), ("i32_16", "i32", "i32.store16", 2, "(i32.const 7)"),
    ("i64_8", "i64", "i64.store8", 1, "(i64.const 7)"), ("i64_16", "i64", "i64.store16", 2, "(i64.const 7)"),
    ("i64_32", "i64", "i64.store32", 4, "(i64.const 7)"),
    ("v128", "v128", "v128.store", 16, "(v128.const i32x4 1 2 3 4)"),
]


def module_text():
    """Each access in a function of its own, behind a little arithmetic, so
    that offsets and function indices differ from one to the next."""
    fs = []
    for name, t, op, _ in LOADS:
        if t == "v128":
            use = f"(i8x16.bitmask ({op} offset=3 (local.get $a)))"  # every byte used
        elif t in ("f32", "f64"):
            use = f"(i32.trunc_sat_{t}_s ({op} offset=3 (local.get $a)))"
        elif t == "i64":
            use = f"(i64.eqz (i64.xor ({op} offset=3 (local.get $a)) (i64.const 5)))"
        else:
            use = f"(i32.add ({op} offset=3 (local.get $a)) (i32.const 5))"
        fs.append(f'(func $ld_{name} (export "ld_{name}") (param $a i32) (result i32)\n'
                  f'  (local.set $a (i32.sub (local.get $a) (i32.const 3))) {use})')
    for name, t, op, _, val in STORES:
        fs.append(f'(func $st_{name} (export "st_{name}") (param $a i32)\n'
                  f'  (local.set $a (i32.sub (local.get $a) (i32.const 1)))'
                  f' ({op} offset=1 (local.get $a) {val}))')
    fs.append('''
  ;; a load's value into a local, read after another instruction
  (func $via_local (export "via_local") (param $a i32) (result i32) (local $x i32)
    (local.set $x (i32.load16_u (local.get $a)))
    (i32.mul (local.get $x) (i32.const 3)))
  ;; a load that only decides a branch
  (func $branch (export "branch") (param $a i32) (result i32)
    (if (result i32) (i32.load8_u (local.get $a)) (then (i32.const 1)) (else (i32.const 2))))
  ;; a load whose value is dropped
  (func $dropped (export "dropped") (param $a i32)
    (drop (i64.load (local.get $a))))
  ;; summing memory up to $end: past the end of memory, the loop's load faults
  (func $sum (export "sum") (param $a i32) (param $end i32) (result i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $a))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $l (i32.lt_u (local.get $a) (local.get $end))))
    (local.get $s))
  ;; two loads under one operator: the first one is out of bounds (when the
  ;; second one is, or both are, the native tier may name the other one:
  ;; see docs/aot.md)
  (func $pair (export "pair") (param $a i32) (param $b i32) (result i32)
    (i32.xor (i32.load (local.get $a)) (i32.load offset=8 (local.get $b))))
  ;; a store after a store that succeeds
  (func $two_stores (export "two_stores") (param $a i32)
    (i32.store (i32.const 16) (local.get $a))
    (i64.store offset=2 (local.get $a) (i64.const -1)))
  ;; SIMD lane accesses
  (func $lane_ld (export "lane_ld") (param $a i32) (result i32)
    (i32x4.extract_lane 2 (v128.load32_lane 2 (local.get $a) (v128.const i32x4 0 0 0 0))))
  (func $lane_st (export "lane_st") (param $a i32)
    (v128.store16_lane offset=2 5 (local.get $a) (v128.const i32x4 1 2 3 4)))
  ;; small callees the C compiler inlines into their callers
  (func $leaf (param $a i32) (result i32) (i32.load offset=12 (local.get $a)))
  (func $mid (param $a i32) (result i32) (i32.add (call $leaf (local.get $a)) (i32.const 1)))
  (func $deep (export "deep") (param $a i32) (result i32) (call $mid (local.get $a)))
  ;; behind call_indirect
  (type $ii (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $leaf $ld_i64_16s)
  (func $indirect (export "indirect") (param $a i32) (param $k i32) (result i32)
    (call_indirect (type $ii) (local.get $a) (local.get $k)))''')
    return "(module\n(memory 1)\n" + "\n".join(fs) + "\n)\n"


def wagi(*args):
    return subprocess.run([str(WAGI), *map(str, args)], capture_output=True, text=True, timeout=300)


COMPILERS = [c for c in ("gcc", "clang-16") if shutil.which(c)]


@pytest.fixture(scope="module", params=COMPILERS or [None])
def compiled(request, tmp_path_factory):
    if request.param is None:
        pytest.skip("no C compiler (gcc, clang-16) on PATH")
    d = tmp_path_factory.mktemp("traploc")
    (d / "m.wat").write_text(module_text())
    wasm = d / "m.wasm"
    subprocess.run(["wat2wasm", "--debug-names", str(d / "m.wat"), "-o", str(wasm)], check=True)
    out = d / f"m-{request.param}.wasmc"
    r = wagi("compile", wasm, "--cc", request.param, "-o", out)
    assert r.returncode == 0, r.stderr
    return wasm, out


def same_trap(compiled, *args):
    wasm, wasmc = compiled
    a = wagi("invoke", wasm, *args)
    b = wagi("invoke", wasmc, *args)
    assert a.returncode == 2, (args, a.stdout, a.stderr)
    assert "out of bounds memory access in function" in a.stderr and " at 0x" in a.stderr, a.stderr
    assert b.returncode == 2 and b.stderr == a.stderr, (args, a.stderr, b.stderr)
    return a.stderr


def edges(width):
    """Just past the end (partly inside), right at the end, far beyond
    (the address plus the offset passes 4 GiB)."""
    return [65536 - width + 1, 65536, 4294967295]


@pytest.mark.parametrize("name,t,op,width", LOADS, ids=[x[0] for x in LOADS])
def test_loads(compiled, name, t, op, width):
    wasm, _ = compiled
    ok = wagi("invoke", wasm, f"ld_{name}", 65536 - width)
    assert ok.returncode == 0, ok.stderr  # the last bytes are in bounds
    for addr in edges(width):
        same_trap(compiled, f"ld_{name}", addr)


@pytest.mark.parametrize("name,t,op,width,val", STORES, ids=[x[0] for x in STORES])
def test_stores(compiled, name, t, op, width, val):
    for addr in edges(width):
        same_trap(compiled, f"st_{name}", addr)


@pytest.mark.parametrize("args", [
    ["via_local", 65535], ["branch", 65536], ["branch", 4000000000], ["dropped", 65530],
    ["sum", 0, 70000], ["sum", 65000, 65540], ["pair", 65536, 0], ["pair", 70000, 4],
    ["two_stores", 65531], ["lane_ld", 65533], ["lane_st", 65535],
    ["deep", 65530], ["indirect", 65530, 0], ["indirect", 65535, 1], ["indirect", 4294967295, 1],
])
def test_other_shapes(compiled, args):
    same_trap(compiled, *args)


def test_functions_and_offsets_differ(compiled):
    """Not one location for everything: the messages name different
    functions and offsets."""
    msgs = {same_trap(compiled, f"ld_{n}", 65536) for n, *_ in LOADS}
    msgs |= {same_trap(compiled, f"st_{n}", 65536) for n, *_ in STORES}
    assert len(msgs) == len(LOADS) + len(STORES)


def test_the_trap_map_is_small(compiled):
    """The debug sections are stripped once the map is read; the map itself
    is a few pairs per access."""
    _, wasmc = compiled
    data = wasmc.read_bytes()
    assert b".debug_line" not in data
    map_len = int.from_bytes(data[-TRAILER + 88:-TRAILER + 96], "little")
    assert 0 < map_len < 8 * 40 * (len(LOADS) + len(STORES) + 20), map_len


def test_a_wasmc_of_the_older_format_is_refused_as_stale(compiled, tmp_path):
    _, wasmc = compiled
    data = bytearray(wasmc.read_bytes())
    data[-TRAILER:-TRAILER + 8] = b"WAGIAOT1"
    old = tmp_path / "old.wasmc"
    old.write_bytes(bytes(data))
    r = wagi("invoke", old, "deep", "0")
    assert r.returncode == 1 and "older wagi" in r.stderr and "compile the module again" in r.stderr, \
        r.stderr


RECURSION = '''(module
  (type $t (func (param i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $ind)
  (func $a (export "a") (param i32) (result i32)
    (i32.add (call $b (local.get 0)) (i32.const 1)))
  (func $b (param i32) (result i32)
    (i32.mul (call $a (i32.add (local.get 0) (i32.const 1))) (i32.const 3)))
  (func $ind (export "ind") (param i32) (result i32)
    (i32.add (call_indirect (type $t) (local.get 0) (i32.const 0)) (i32.const 2))))
'''


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("func", ["a", "ind"])
def test_stack_exhausted_names_the_call(tmp_path, cc, func):
    """A callee that cannot be entered: both tiers name the calling
    instruction (found by walking the native stack to the nearest call's
    marker), through call and call_indirect."""
    (tmp_path / "r.wat").write_text(RECURSION)
    wasm = tmp_path / "r.wasm"
    subprocess.run(["wat2wasm", "--debug-names", str(tmp_path / "r.wat"), "-o", str(wasm)], check=True)
    assert wagi("compile", wasm, "--cc", cc, "-o", tmp_path / "r.wasmc").returncode == 0
    a = wagi("invoke", wasm, func, 1)
    b = wagi("invoke", tmp_path / "r.wasmc", func, 1)
    assert a.returncode == 2 and "call stack exhausted in function" in a.stderr and " at 0x" in a.stderr
    assert b.returncode == 2 and b.stderr == a.stderr, (a.stderr, b.stderr)


def test_a_trap_map_out_of_order_is_refused(compiled, tmp_path):
    """The map is under the code digest; one that is re-digested but not in
    address order is still refused (lookups are binary searches)."""
    import hashlib
    import struct
    _, wasmc = compiled
    data = bytearray(wasmc.read_bytes())
    elf_len, map_len = struct.unpack("<QQ", data[-TRAILER + 80:-TRAILER + 96])
    assert map_len >= 16
    m = elf_len
    data[m:m + 8], data[m + 8:m + 16] = data[m + 8:m + 16], data[m:m + 8]  # swap two pairs
    data[-TRAILER + 48:-TRAILER + 80] = hashlib.sha256(data[:elf_len + map_len]).digest()
    bad = tmp_path / "bad.wasmc"
    bad.write_bytes(bytes(data))
    r = wagi("invoke", bad, "deep", "0")
    assert r.returncode == 1 and "trap map is not in address order" in r.stderr, r.stderr


def diffrun_both_tiers(wasm, cc, tmp_path, *compile_flags):
    """aot-diffrun's output (binaryen's harness: fuzzing-support imports,
    every export called) for the module on the interpreter and compiled
    with cc; skips without cc or aot-diffrun."""
    if not shutil.which(cc):
        pytest.skip(f"{cc} is not installed")
    diffrun = BUILD / "aot-diffrun"
    if not diffrun.exists():
        pytest.skip("build/aot-diffrun is not built (make aottest builds it)")
    out = tmp_path / "m.wasmc"
    r = wagi("compile", *compile_flags, wasm, "--cc", cc, "-o", out)
    assert r.returncode == 0, r.stderr
    a = subprocess.run([str(diffrun), str(wasm)], capture_output=True, text=True, timeout=60)
    b = subprocess.run([str(diffrun), str(out)], capture_output=True, text=True, timeout=60)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    return a, b

NESTED_WAT = '''(module
  (import "fuzzing-support" "call-export-catch" (func $catch (param i32) (result i32)))
  (import "fuzzing-support" "call-ref-catch" (func $catch_ref (param funcref) (result i32)))
  (memory 1)
  (func $unreachable (export "unreachable") unreachable)
  (func $oob (export "oob") (drop (i32.load (i32.const 70000))))
  ;; the host catches a trap of a nested entry, then this function faults
  (func (export "after_nested_unreachable") (param i32)
    (drop (call $catch (i32.const 0)))
    (i32.store (i32.add (local.get 0) (i32.const 65536)) (i32.const 1)))
  (func (export "after_nested_oob") (param i32)
    (drop (call $catch (i32.const 1)))
    (i64.store (i32.add (local.get 0) (i32.const 65533)) (i64.const 1)))
  (func (export "after_nested_ref") (param i32)
    (drop (call $catch_ref (ref.func $unreachable)))
    (drop (i32.load16_u (i32.sub (local.get 0) (i32.const 1)))))
  (elem declare func $unreachable))'''


@pytest.mark.parametrize("cc", ["gcc", "clang-16"])
def test_a_fault_after_a_caught_nested_trap_names_its_own_place(tmp_path, cc):
    """A host function that calls back into the instance and catches the
    trap there (binaryen's call-export-catch) must not leave that trap's
    place behind: the caller's own out-of-bounds access later names itself,
    as on the interpreter (found by the differential test, seed 32120)."""
    (tmp_path / "n.wat").write_text(NESTED_WAT)
    wasm = tmp_path / "n.wasm"
    subprocess.run(["wat2wasm", str(tmp_path / "n.wat"), "-o", str(wasm)], check=True)
    a, b = diffrun_both_tiers(wasm, cc, tmp_path)
    traps = [line for line in a.stdout.splitlines() if line.startswith("trap ")]
    # each export traps once on its own; the three callers in their store/load
    assert len(traps) == 5 and len(set(traps)) == 5, a.stdout
    assert b.stdout == a.stdout, (a.stdout, b.stdout)


@pytest.mark.parametrize("cc", ["gcc", "clang-16"])
def test_a_load_given_an_earlier_line_is_still_named(tmp_path, cc):
    """Differential seed 46140 (a binaryen module, kept in tests/aot/modules):
    gcc 12 gives an out-of-bounds f32.load from a constant address, in a
    loop, the line of the hang-limit check above the loop, before any access
    of the function; the trap named no offset. The first access after that
    line is the load, as on the interpreter."""
    wasm = ROOT / "tests" / "aot" / "modules" / "diff-seed-46140.wasm"
    a, b = diffrun_both_tiers(wasm, cc, tmp_path, "--strict-loads")
    assert "trap out of bounds memory access in function 5 at 0x3b2" in a.stdout.splitlines()
    assert b.stdout == a.stdout, (a.stdout, b.stdout)
