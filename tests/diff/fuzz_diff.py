#!/usr/bin/env python3
"""Differential fuzzing of wagi-c against Node's V8 (issue 20).

For each seed: random bytes from the seed become a valid module through
binaryen's `wasm-opt --translate-to-fuzz` (npm binaryen in node/, never
Debian's), with SIMD, bulk memory, sign extension, non-trapping conversions
multi-value and reference types enabled; the module runs on wagi-c's interpreter
(build/aot-diffrun, tests/aot/diffrun.c), on V8 (tests/diff/v8run.js) and,
every --aot-every seeds, as native code (`wagi compile` + aot-diffrun). Every
logged value, every result and every trap with its place must agree, with
the tolerances tests/diff/README.md lists. A disagreement prints the first
differing line and a reproducer, and keeps the module in the output
directory. The last line is "N modules, D disagreements"; the exit status
is 1 when D > 0.

  tests/diff/fuzz_diff.py -n 1000              seeds 1..1000
  tests/diff/fuzz_diff.py --start 5000 -n 200  seeds 5000..5199
  tests/diff/fuzz_diff.py --seed 123 -v        one seed, all outputs shown
  tests/diff/fuzz_diff.py --module M.wasm -v   an existing module

One worker by default (the machine is shared); --jobs J runs J at once.
"""
import argparse
import os
import queue
import random
import re
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WAGI_BUILD", "build")
NODE = os.environ.get("NODE", "node")
BIN = ROOT / "node" / "node_modules" / ".bin"
WASM_OPT = Path(os.environ.get("WASM_OPT", BIN / "wasm-opt"))
V8RUN = ROOT / "tests" / "diff" / "v8run.js"
TTF_SERVER = ROOT / "tests" / "diff" / "ttf_server.js"
END_MARK = "=== end ==="
FEATURES = ["--enable-simd", "--enable-bulk-memory", "--enable-sign-ext",
            "--enable-nontrapping-float-to-int", "--enable-multivalue"]
# Input sizes for translate-to-fuzz: the seed picks one (larger inputs give
# more functions, smaller ones run faster).
SIZES = [1024, 2048, 4096, 4096, 8192, 16384]


# ---- comparing outputs -----------------------------------------------------

TRAP_RE = re.compile(r"^(trap|instantiate:|call-(?:export|ref)(?:-catch)?(?: \d+)?:) (.*?)( in function \d+ at 0x[0-9a-f]+)?$")
V128_RE = re.compile(r"v128:([0-9a-f]{32})")


def nan_lanes_equal(a, b):
    """Two v128 values that differ only in lanes that are NaN on both sides
    (as f32x4 or as f64x2): WebAssembly lets an engine pick any NaN."""
    ba, bb = bytes.fromhex(a), bytes.fromhex(b)
    for fmt, width in (("<f", 4), ("<d", 8)):
        ok = True
        for i in range(0, 16, width):
            la, lb = ba[i:i + width], bb[i:i + width]
            if la == lb:
                continue
            fa, fb = struct.unpack(fmt, la)[0], struct.unpack(fmt, lb)[0]
            if not (fa != fa and fb != fb):
                ok = False
                break
        if ok:
            return True
    return False


PLACE_RE = re.compile(r" in function (\d+) at 0x([0-9a-f]+)")


def lines_agree(w, v, across_engines):
    """One line of wagi-c's output against the other side's. Across engines
    (V8): V8's merged trap kinds ("a|b") accept either, and a stack
    overflow's place is not compared (the engines' depth limits differ).
    Against native code (across_engines "aot"), the places docs/aot.md says
    native code may give differently: an out-of-bounds access named as
    another access of the same function, and no place for a host error or
    a stack overflow."""
    if w == v:
        return True
    mw, mv = TRAP_RE.match(w), TRAP_RE.match(v)
    if across_engines and mw and mv and mw.group(1) == mv.group(1):
        kw, kv = mw.group(2), mv.group(2)
        if across_engines == "aot":
            if kw != kv:
                return False
            pw, pv = PLACE_RE.match(mw.group(3) or ""), PLACE_RE.match(mv.group(3) or "")
            if kw in ("host error", "call stack exhausted") and (not pw or not pv):
                return True
            return kw == "out of bounds memory access" and pw and pv and pw.group(1) == pv.group(1)
        if kw not in kv.split("|"):
            return False
        if kw == "call stack exhausted":
            return True
        return mw.group(3) == mv.group(3)
    # v128 values whose differing lanes are NaNs on both sides
    tw, tv = V128_RE.split(w), V128_RE.split(v)
    if len(tw) == len(tv) > 1:
        for i, (a, b) in enumerate(zip(tw, tv)):
            if a == b:
                continue
            if i % 2 == 0 or not nan_lanes_equal(a, b):
                return False
        return True
    return False


def first_difference(a, b, across_engines):
    """Index of the first line where outputs a and b disagree, or None."""
    la, lb = a.splitlines(), b.splitlines()
    for i in range(max(len(la), len(lb))):
        if i >= len(la) or i >= len(lb):
            return i
        if not lines_agree(la[i], lb[i], across_engines):
            return i
    return None


def call_hit_depth_limit(a, b, i):
    """Whether either side ran out of stack before line i or in the
    top-level call ("call NAME" up to the next one) that line i is in: the
    engines' depth limits differ, so from there on their outputs and the
    state they leave may differ (README)."""
    for text in (a, b):
        lines = text.splitlines()
        for k, line in enumerate(lines):
            if k > i and line.startswith("call "):
                break
            if "call stack exhausted" in line:
                return True
    return False


# ---- running the engines ----------------------------------------------------

class Result:
    def __init__(self, out, failed=None):
        self.out = out          # stdout text
        self.failed = failed    # None, or why the run did not finish normally


def run_cmd(cmd, timeout):
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return Result((e.stdout or b"").decode(errors="replace"), f"timeout after {timeout} s")
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace").strip().splitlines()
        if r.returncode == 2 and err and err[-1].startswith("diffrun: "):
            return Result(out, "load error: " + err[-1][len("diffrun: "):])
        return Result(out, f"exit status {r.returncode}: {' | '.join(err[-3:])}")
    return Result(out)


class V8Server:
    """One `node v8run.js --serve` process for many modules."""

    RESTART_EVERY = 2000  # its memory grows with the modules it has compiled

    def __init__(self, timeout):
        self.timeout = timeout
        self.proc = None
        self.runs = 0

    def start(self):
        self.runs = 0
        self.proc = subprocess.Popen([NODE, str(V8RUN), "--serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.buf = b""

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, path):
        if self.proc and self.runs >= self.RESTART_EVERY:
            self.stop()
        if not self.proc or self.proc.poll() is not None:
            self.start()
        self.runs += 1
        try:
            self.proc.stdin.write((str(path) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.stop()
            return Result("", "node died")
        mark = (END_MARK + "\n").encode()
        deadline = time.monotonic() + self.timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                # the mark is a line of its own: at the start or after a newline
                i = 0 if self.buf.startswith(mark) else self.buf.find(b"\n" + mark) + 1
                if i > 0 or self.buf.startswith(mark):
                    text, self.buf = self.buf[:i], self.buf[i + len(mark):]
                    break
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    partial = self.buf.decode(errors="replace")
                    self.stop()
                    return Result(partial, f"timeout after {self.timeout} s")
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    partial = self.buf.decode(errors="replace")
                    self.stop()
                    return Result(partial, "node died")
                self.buf += chunk
        finally:
            sel.close()
        out = text.decode(errors="replace")
        if out.startswith("v8run error:"):
            return Result("", out.strip())
        lines = out.splitlines()
        if lines and lines[-1].startswith("load error: "):
            return Result("\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else ""), lines[-1])
        return Result(out)


# ---- generating modules -----------------------------------------------------

class WasmOpt:
    """wasm-opt through tests/diff/ttf_server.js (one loaded wasm-opt for
    many runs: 40 modules in 1.5 s instead of 28 s), or a process per run
    when the server is off or gave other bytes than a fresh wasm-opt."""
    RESTART_EVERY = 2000

    def __init__(self, served):
        self.served = served
        self.proc = None
        self.runs = 0
        self.checked = False

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def fresh(self, argv):
        r = subprocess.run([str(WASM_OPT), *argv], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            return (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
        return None

    def run(self, argv, out):
        """Runs wasm-opt ARGV (which writes OUT); None, or an error text."""
        if not self.served:
            return self.fresh(argv)
        if self.proc is None or self.runs >= self.RESTART_EVERY or self.proc.poll() is not None:
            self.stop()
            self.proc = subprocess.Popen([NODE, str(TTF_SERVER), str(WASM_OPT)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.runs = 0
        self.runs += 1
        try:
            self.proc.stdin.write("\t".join(argv) + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline().strip()
        except (BrokenPipeError, OSError):
            reply = ""
        if reply != "exit 0":
            self.stop()
            return self.fresh(argv)  # the same run in a process of its own, for its message
        if not self.checked:
            # the served wasm-opt must write what a fresh one writes
            self.checked = True
            data = Path(out).read_bytes()
            err = self.fresh(argv)
            if err or Path(out).read_bytes() != data:
                print("fuzz-diff: the wasm-opt server's output differs from wasm-opt's; "
                      "running a process per module")
                self.served = False
                self.stop()
                return err
        return None


def generate(seed, raw, wasm, features, wasm_opt, size=None):
    rng = random.Random(seed)
    size = size or rng.choice(SIZES)
    raw.write_bytes(rng.randbytes(size))
    err = wasm_opt.run(["-ttf", str(raw), *features, "-o", str(wasm)], wasm)
    raw.unlink()
    return err


def compare(name_a, ra, name_b, rb, across_engines):
    """None when the runs agree, else (kind, description of the first
    difference) where kind is "depth" when the difference follows a stack
    overflow on either side (tolerated across engines), else "diff"."""
    if ra.failed or rb.failed:
        if ra.failed and rb.failed and ra.failed.startswith("load error") \
                and rb.failed.startswith("load error"):
            return None  # both reject the module (counted apart)
        if ra.failed == rb.failed and ra.failed.startswith("timeout"):
            return None
        sig = f"{(ra.failed or 'finished').split()[0]}/{(rb.failed or 'finished').split()[0]}"
        return ("diff", f"{name_a}: {ra.failed or 'finished'}\n"
                        f"  {name_b}: {rb.failed or 'finished'}", sig)
    i = first_difference(ra.out, rb.out, across_engines)
    if i is None:
        return None
    la, lb = ra.out.splitlines(), rb.out.splitlines()
    ctx = [l for l in la[max(0, i - 3):i]]
    kind = "depth" if across_engines is True and call_hit_depth_limit(ra.out, rb.out, i) else "diff"
    # what kind of line differs, e.g. "trap/trap" (the minimiser keeps it)
    word = lambda lines: lines[i].split()[0] if i < len(lines) and lines[i].split() else "end"
    return (kind, "at output line %d:\n" % (i + 1)
            + "".join(f"    {l}\n" for l in ctx)
            + f"  {name_a}: {la[i] if i < len(la) else '(end of output)'}\n"
            + f"  {name_b}: {lb[i] if i < len(lb) else '(end of output)'}", f"{word(la)}/{word(lb)}")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()  # Ctrl-C: finish the seeds running, then the summary
        self.modules = 0
        self.disagreements = 0
        self.v8_disagreements = 0
        self.aot_disagreements = 0
        self.aot_runs = 0
        self.nan_only = 0
        self.depth_limited = 0
        self.aot_places = 0
        self.rejected = 0
        self.gen_failed = 0
        self.timeouts = 0


def check_module(label, wasm, args, v8, wasm_opt, stats, do_aot, features):
    """Runs one module everywhere; returns the list of disagreement texts."""
    problems = []
    interp = run_cmd([str(BUILD / "aot-diffrun"), str(wasm)], args.timeout)
    if getattr(args, "skip_v8", False):
        v8res = interp
    else:
        v8res = v8.run(wasm.resolve())
    if args.verbose:
        print(f"--- {label}: interpreter ({interp.failed or 'ok'})\n{interp.out}"
              f"--- {label}: V8 ({v8res.failed or 'ok'})\n{v8res.out}", end="")
    if interp.failed and interp.failed.startswith("load error") and v8res.failed \
            and v8res.failed.startswith("load error"):
        with stats.lock:
            stats.rejected += 1
        print(f"{label}: both engines reject the module: {interp.failed} / V8: {v8res.failed}")
        return problems
    if interp.failed and interp.failed.startswith("timeout") and v8res.failed == interp.failed:
        with stats.lock:
            stats.timeouts += 1
    diff = compare("interpreter", interp, "V8", v8res, True)
    if diff and diff[0] == "depth":
        with stats.lock:
            stats.depth_limited += 1
        if args.verbose:
            print(f"{label}: differs after a stack overflow (tolerated):\n  {diff[1]}")
        diff = None
    if diff:
        # NaN payloads: the same module with every NaN replaced (wasm-opt
        # --denan) must then agree, or it is a real disagreement.
        denan = wasm.with_suffix(".denan.wasm")
        if not wasm_opt.run([str(wasm), *features, "--denan", "-o", str(denan)], denan):
            i2 = run_cmd([str(BUILD / "aot-diffrun"), str(denan)], args.timeout)
            v2 = v8.run(denan.resolve())
            still = compare("interpreter", i2, "V8", v2, True)
            denan.unlink()
            if not still or still[0] == "depth":
                with stats.lock:
                    stats.nan_only += 1
                if args.verbose:
                    print(f"{label}: NaN payloads only (agree after --denan):\n  {diff[1]}")
                diff = None
        if diff:
            problems.append(("V8", diff[1], diff[2]))
    if do_aot:
        wasmc = wasm.with_suffix(".wasmc")
        r = run_cmd([str(BUILD / "wagi"), "compile", "--strict-loads", str(wasm), "-o", str(wasmc)],
                    args.aot_timeout)
        if r.failed:
            problems.append(("AOT", f"wagi compile failed: {r.failed}", "compile"))
        else:
            aot = run_cmd([str(BUILD / "aot-diffrun"), str(wasmc)], args.timeout)
            wasmc.unlink(missing_ok=True)
            with stats.lock:
                stats.aot_runs += 1
            if args.verbose:
                print(f"--- {label}: native ({aot.failed or 'ok'})\n{aot.out}", end="")
            diff = compare("interpreter", interp, "native", aot, False)
            if diff and not compare("interpreter", interp, "native", aot, "aot"):
                with stats.lock:
                    stats.aot_places += 1
                if args.verbose:
                    print(f"{label}: native code names another place (tolerated):\n  {diff[1]}")
                diff = None
            if diff:
                # NaN payloads again: the C compiler may fold arithmetic on a
                # NaN constant to another NaN (seed 15160)
                denan = wasm.with_suffix(".denan.wasm")
                denanc = wasm.with_suffix(".denan.wasmc")
                if not wasm_opt.run([str(wasm), *features, "--denan", "-o", str(denan)], denan) and \
                        not run_cmd([str(BUILD / "wagi"), "compile", "--strict-loads", str(denan), "-o",
                                     str(denanc)], args.aot_timeout).failed:
                    i2 = run_cmd([str(BUILD / "aot-diffrun"), str(denan)], args.timeout)
                    a2 = run_cmd([str(BUILD / "aot-diffrun"), str(denanc)], args.timeout)
                    if not compare("interpreter", i2, "native", a2, "aot"):
                        with stats.lock:
                            stats.nan_only += 1
                        if args.verbose:
                            print(f"{label}: NaN payloads only on native code:\n  {diff[1]}")
                        diff = None
                denan.unlink(missing_ok=True)
                denanc.unlink(missing_ok=True)
            if diff:
                problems.append(("AOT", diff[1], diff[2]))
    return problems


def report(label, wasm, keep, problems, seed):
    rel = os.path.relpath(keep, Path.cwd())
    for what, diff, _ in problems:
        print(f"DISAGREEMENT {label}: interpreter vs {what} {diff}")
    print(f"  module kept: {rel}")
    again = f"--seed {seed}" if seed is not None else f"--module {rel}"
    print(f"  reproduce:   python3 tests/diff/fuzz_diff.py {again} -v"
          f"{' --aot-every 1' if any(p[0] == 'AOT' for p in problems) else ''}")
    print(f"               {os.path.relpath(BUILD)}/aot-diffrun {rel}; node tests/diff/v8run.js {rel}")
    print(f"  minimise:    node tests/diff/reduce.js {rel}"
          f"{' --against aot' if problems[0][0] == 'AOT' else ''}")
    sys.stdout.flush()


def worker(args, seeds, stats, features, outdir):
    v8 = V8Server(args.timeout)
    wasm_opt = WasmOpt(not args.no_server)
    try:
        while not stats.stop.is_set():
            try:
                seed = seeds.get_nowait()
            except queue.Empty:
                return
            tmp = outdir / f"work-{os.getpid()}" / f"{threading.get_ident()}"
            tmp.mkdir(parents=True, exist_ok=True)
            wasm = tmp / f"{seed}.wasm"
            err = generate(seed, tmp / f"{seed}.bin", wasm, features, wasm_opt, args.size)
            if err:
                with stats.lock:
                    stats.gen_failed += 1
                print(f"seed {seed}: translate-to-fuzz failed: {err}")
                continue
            do_aot = args.aot_every > 0 and seed % args.aot_every == 0
            problems = check_module(f"seed {seed}", wasm, args, v8, wasm_opt, stats, do_aot, features)
            with stats.lock:
                stats.modules += 1
                if problems:
                    stats.disagreements += 1
                    stats.v8_disagreements += any(p[0] == "V8" for p in problems)
                    stats.aot_disagreements += any(p[0] == "AOT" for p in problems)
                done = stats.modules
            if problems:
                keep = outdir / f"{seed}.wasm"
                shutil.copyfile(wasm, keep)
                with stats.lock:
                    report(f"seed {seed}", wasm, keep, problems, seed)
            wasm.unlink(missing_ok=True)
            if args.progress and done % args.progress == 0:
                with stats.lock:
                    print(f"... {done} modules, {stats.disagreements} disagreements", flush=True)
    finally:
        v8.stop()
        wasm_opt.stop()


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    # Ctrl-C or kill: finish the modules running and print the summary (also
    # when started in the background, where SIGINT starts out ignored)
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1000, help="number of seeds (default 1000)")
    ap.add_argument("--start", type=int, default=1, help="first seed (default 1)")
    ap.add_argument("--seed", type=int, help="run this one seed")
    ap.add_argument("--module", type=Path, help="run this module instead of generating one")
    ap.add_argument("--aot-every", type=int, default=int(os.environ.get("AOT_EVERY", "20")),
                    help="also run native code on every K-th seed (0: never; default 20)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    ap.add_argument("--size", type=int, help="bytes of random input (default: picked by the seed)")
    ap.add_argument("--no-reference-types", dest="reference_types", action="store_false",
                    help="leave out --enable-reference-types (on by default; see README)")
    ap.add_argument("--out", type=Path, default=BUILD / "fuzz-diff",
                    help="where disagreeing modules are kept (default build/fuzz-diff)")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per run (default 60)")
    ap.add_argument("--aot-timeout", type=int, default=600, help="seconds per wagi compile")
    ap.add_argument("--progress", type=int, default=0, help="print a count every N modules")
    ap.add_argument("--suite", action="store_true",
                    help="also print 'fuzzdiff: P passed, F failed' (make test)")
    ap.add_argument("--no-server", action="store_true",
                    help="run wasm-opt as a process per module (slower; see ttf_server.js)")
    ap.add_argument("--against", choices=["v8", "aot"],
                    help="with --module: compare the interpreter with this side only")
    ap.add_argument("--expect", metavar="SIG",
                    help="with --module: exit 1 iff it disagrees the way SIG says (see --signature), "
                         "else 0, printing nothing (the minimiser's test)")
    ap.add_argument("--signature", action="store_true",
                    help="with --module: print its first disagreement's signature, e.g. V8:trap/trap")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every output")
    args = ap.parse_args()

    missing = [str(p) for p in (WASM_OPT, BUILD / "aot-diffrun", BUILD / "wagi") if not Path(p).exists()]
    if not shutil.which(NODE):
        missing.append("node")
    if missing:
        why = "missing " + ", ".join(missing) + " (make setup installs npm's binaryen; make builds wagi and aot-diffrun)"
        print(f"fuzz-diff: skipped: {why}")
        if args.suite:
            print("fuzzdiff: 0 passed, 0 failed (skipped)")
        return 0

    features = FEATURES + (["--enable-reference-types"] if args.reference_types else [])
    args.out.mkdir(parents=True, exist_ok=True)
    stats = Stats()
    t0 = time.monotonic()
    if args.module:
        v8 = V8Server(args.timeout)
        wasm_opt = WasmOpt(False)
        if args.against:
            args.skip_v8 = args.against == "aot"
            args.aot_every = 1 if args.against == "aot" else 0
        try:
            problems = check_module(str(args.module), args.module, args, v8, wasm_opt, stats,
                                    args.aot_every > 0, features)
        finally:
            v8.stop()
        sigs = [f"{p[0]}:{p[2]}" for p in problems]
        if args.expect is not None:
            return 1 if args.expect in sigs else 0
        if args.signature:
            print(sigs[0] if sigs else "agree")
            return 0
        stats.modules = 1
        if problems:
            stats.disagreements = 1
            stats.v8_disagreements = int(any(p[0] == "V8" for p in problems))
            stats.aot_disagreements = int(any(p[0] == "AOT" for p in problems))
            report(str(args.module), args.module, args.module, problems, None)
    else:
        seeds = queue.Queue()
        first, count = (args.seed, 1) if args.seed is not None else (args.start, args.n)
        for s in range(first, first + count):
            seeds.put(s)
        threads = [threading.Thread(target=worker, args=(args, seeds, stats, features, args.out))
                   for _ in range(max(1, args.jobs))]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.5)
        except KeyboardInterrupt:
            print("interrupted: finishing the modules running")
            stats.stop.set()
            for t in threads:
                t.join()
        shutil.rmtree(args.out / f"work-{os.getpid()}", ignore_errors=True)
    took = time.monotonic() - t0
    print(f"interpreter vs V8: {stats.v8_disagreements}, interpreter vs native: "
          f"{stats.aot_disagreements} ({stats.aot_runs} native runs); tolerated: NaN payloads "
          f"{stats.nan_only}, after a stack overflow {stats.depth_limited}, native trap places "
          f"{stats.aot_places}; rejected by both: {stats.rejected}; "
          f"timeouts on both: {stats.timeouts}; generator failures: {stats.gen_failed}; "
          f"{took:.0f} s")
    if args.suite:
        print(f"fuzzdiff: {stats.modules - stats.disagreements} passed, {stats.disagreements} failed")
    print(f"{stats.modules} modules, {stats.disagreements} disagreements")
    return 1 if stats.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
