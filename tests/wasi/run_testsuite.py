#!/usr/bin/python3
"""The official WASI preview 1 test suite (WebAssembly/wasi-testsuite) through
`wagi run`.

    /usr/bin/python3 tests/wasi/run_testsuite.py [-v] [--no-walk] [NAME...]

(-v: also print each command; --no-walk: only through `wagi run`, not also
through wagi-walk; NAME: run only those tests, e.g.
c/lseek. Environment: WASI_TESTSUITE (default ../shared/wasi-testsuite
beside the repository), BUILD (default build), WAGI (default $BUILD/wagi).)

Every directory of the suite with a manifest.json (c/, assemblyscript/)
holds prebuilt NAME.wasm tests, each with an optional NAME.json (see the
suite's README.md):

    args       arguments after argv[0]            -> wagi run MODULE ARGS...
    env        {name: value}                      -> --env NAME=VALUE each
    root       a directory beside the test        -> a fresh, writable copy,
                                                     --dir COPY::/
    exit_code  the expected exit status (0)
    stdout     the expected stdout, exactly (not checked when absent)

Each test runs in its own temporary directory with an empty stdin and
nothing else preopened. Every test also runs through wagi-walk ("walk:"
lines), `wagi run` with the sandbox's other resolver (the component walk
used where openat2 is missing; see run_tests.py), so both are held to the
suite. A key this runner does not know fails the test, so
that a newer suite cannot be half-run silently.

Prints one line per test (PASS, FAIL with what differed, KNOWN FAIL) and a
final "wasi-testsuite: N passed, N failed[, K known failures]"; exits 1 if
any test failed. Without the suite it says so and reports 0 passed, 0 failed.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUITE = os.environ.get("WASI_TESTSUITE") or os.path.join(os.path.dirname(ROOT), "shared", "wasi-testsuite")
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
WAGI = os.path.abspath(os.environ.get("WAGI", os.path.join(BUILD, "wagi")))
TIMEOUT = 60
KEYS = {"args", "env", "root", "exit_code", "stdout"}

# Tests `wagi run` is known to fail today, with the reason. Each is run and
# printed as "KNOWN FAIL" (counted neither as passed nor as failed) so that
# `make test` stays green until the fix lands. Remove the entry in the
# commit that fixes it: a known failure that passes is reported as a failure
# ("fixed: remove it from KNOWN_FAILURES"), and so is an entry that names no
# test of the suite, so this list cannot go stale.
KNOWN_FAILURES = {
}


def writable_copy(src, dst):
    """Copies the tree src to dst with owner write permission everywhere
    (the suite may be read-only; the tests write into their root)."""
    shutil.copytree(src, dst, symlinks=True)
    for base, dirs, files in os.walk(dst):
        for name in dirs + files:
            p = os.path.join(base, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR | stat.S_IRUSR |
                         (stat.S_IXUSR if os.path.isdir(p) else 0))
    os.chmod(dst, os.stat(dst).st_mode | stat.S_IRWXU)


def show(data, limit=300):
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return repr(text if len(text) <= limit else text[:limit] + "...")


# A sanitizer's report (make san) is a failure even for a known failure.
SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:")


def run_test(wagi, group_dir, name, verbose):
    """Runs one test; returns (what differed, empty when passed; True when
    that includes a crash of wagi itself that KNOWN_FAILURES must not hide)."""
    wasm = os.path.join(group_dir, name + ".wasm")
    spec = {}
    spec_path = os.path.join(group_dir, name + ".json")
    if os.path.exists(spec_path):
        try:
            with open(spec_path) as f:
                spec = json.load(f)
        except (OSError, ValueError) as e:
            return ["cannot read %s.json: %s" % (name, e)], True
    unknown = sorted(set(spec) - KEYS)
    if unknown:
        return ["%s.json has keys this runner does not know: %s" % (name, ", ".join(unknown))], True
    t = tempfile.mkdtemp(prefix="wagi-wasits-")
    try:
        cmd = [wagi, "run"] + (["--tier", os.environ["WAGI_TIER"]] if os.environ.get("WAGI_TIER") else [])
        if "root" in spec:
            src = os.path.join(group_dir, spec["root"])
            if not os.path.isdir(src):
                return ["root %r is not a directory beside the test" % spec["root"]], True
            writable_copy(src, os.path.join(t, "root"))
            cmd += ["--dir", os.path.join(t, "root") + "::/"]
        for k, v in spec.get("env", {}).items():
            cmd += ["--env", "%s=%s" % (k, v)]
        cmd += ["--", wasm] + [str(a) for a in spec.get("args", [])]
        if verbose:
            print("    $ " + " ".join(cmd))
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, cwd=t, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return ["timed out after %d s" % TIMEOUT], False
        except OSError as e:
            return ["cannot run %s: %s" % (wagi, e)], True
        fails = []
        crashed = any(m in r.stderr for m in SANITIZER_MARKS) or r.returncode < 0
        if crashed:
            fails.append("wagi itself crashed (signal or sanitizer report)")
        want_exit = spec.get("exit_code", 0)
        if r.returncode != want_exit:
            fails.append("exit status %d, expected %d" % (r.returncode, want_exit))
        if "stdout" in spec and r.stdout != spec["stdout"].encode():
            fails.append("stdout %s, expected %s" % (show(r.stdout), show(spec["stdout"])))
        if fails and r.stderr.strip():
            fails.append("stderr: " + show(r.stderr.strip(), 2000 if crashed else 300))
        return fails, crashed
    finally:
        shutil.rmtree(t, ignore_errors=True)


def discover():
    """[(name, group_dir, test name)] for every NAME.wasm in a directory of
    the suite that holds a manifest.json, sorted."""
    tests = []
    for group in sorted(os.listdir(SUITE)):
        d = os.path.join(SUITE, group)
        if not os.path.isfile(os.path.join(d, "manifest.json")):
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith(".wasm"):
                tests.append((group + "/" + f[:-5], d, f[:-5]))
    return tests


def main():
    argv = sys.argv[1:]
    verbose = "-v" in argv
    only = [a for a in argv if not a.startswith("-")]
    if not os.path.isdir(SUITE):
        print("SKIP wasi-testsuite: %s is absent (set WASI_TESTSUITE=DIR to run the official suite)" % SUITE)
        print("wasi-testsuite: 0 passed, 0 failed (skipped: no suite)")
        return 0
    if not os.access(WAGI, os.X_OK):
        print("FAIL build: %s is missing (run make first)" % WAGI)
        print("wasi-testsuite: 0 passed, 1 failed")
        return 1
    tests = discover()
    passed = failed = known = 0
    if not tests:
        print("FAIL wasi-testsuite: no tests found in %s (no */manifest.json with *.wasm beside it)" % SUITE)
        failed += 1
    names = {name for name, _, _ in tests}
    for name in sorted(KNOWN_FAILURES):
        if name not in names and not only:
            print("FAIL %s: in KNOWN_FAILURES but not a test of %s: remove it from the list" % (name, SUITE))
            failed += 1
    runners = [("", WAGI)]
    if "--no-walk" not in argv:
        sys.path.insert(0, HERE)
        import run_tests  # builds wagi-walk from the regular build's objects
        walk, msg = run_tests.build_walk()
        if walk:
            runners.append(("walk:", walk))
        elif msg.startswith("skipped"):
            print("SKIP walk: " + msg)
        else:
            print("FAIL walk:build: " + msg)
            failed += 1
    for (prefix, wagi), (test_name, group_dir, test) in (
            (r, t) for r in runners for t in tests):
        name = prefix + test_name
        if only and test_name not in only:
            continue
        fails, hard = run_test(wagi, group_dir, test, verbose)
        if test_name in KNOWN_FAILURES and not hard:
            if fails:
                known += 1
                print("KNOWN FAIL %s: %s\n    now: %s" % (name, KNOWN_FAILURES[test_name], "\n    ".join(fails)))
            else:
                failed += 1
                print("FAIL %s: passes now (fixed: remove it from KNOWN_FAILURES in "
                      "tests/wasi/run_testsuite.py)" % name)
        elif fails:
            failed += 1
            print("FAIL %s: %s" % (name, "\n    ".join(fails)))
        else:
            passed += 1
            print("PASS %s" % name)
        sys.stdout.flush()
    print("wasi-testsuite: %d passed, %d failed%s" %
          (passed, failed, ", %d known failure%s (KNOWN FAIL above)" % (known, "s"[:known != 1]) if known else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
