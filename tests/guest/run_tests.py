#!/usr/bin/python3
"""Tests of the guest SDK (guest/): native cmocka binaries, then the
wasm32-wasi self-test module through `wagi run`.

    /usr/bin/python3 tests/guest/run_tests.py --wagi BUILD/wagi --wasm SELFTEST.wasm BIN...

Each cmocka binary (tests/guest/test_*.c, built natively by `make
guesttest`) counts its own tests. The module (tests/guest/selftest.c, every
guest/ source compiled with clang-16 --target=wasm32-wasi) is run once per
case below and its output compared with Python's hashlib, hmac, base64,
urllib.parse, json, uuid and datetime on the same input. Prints one line per
wasm case and a final "guest: N passed, N failed"; exits 1 on a failure.
"""
import argparse
import base64
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import uuid

TIMEOUT = 120


def run_cmocka(binary):
    """Runs one cmocka binary; returns (passed, failed) from its summary."""
    try:
        proc = subprocess.run([binary], capture_output=True, timeout=TIMEOUT)
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        rc = proc.returncode
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"guest: {binary}: {e}")
        return 0, 1
    sys.stdout.write(out)
    p = sum(int(m) for m in re.findall(r"^\[  PASSED  \] (\d+) test", out, re.M))
    f = sum(int(m) for m in re.findall(r"^\[  FAILED  \] (\d+) test", out, re.M))
    if not re.search(r"^\[  (PASSED|FAILED)  \] \d+ test", out, re.M):
        # died before its summary: count what finished, and the death
        p = len(re.findall(r"^\[       OK \]", out, re.M))
        f = len(re.findall(r"^\[  FAILED  \] [^\d]", out, re.M)) + 1
        print(f"guest: {os.path.basename(binary)} died (exit status {rc}) before its summary")
    elif rc != 0 and f == 0:
        f = 1
        print(f"guest: {os.path.basename(binary)} exit status {rc}")
    return p, f


class Wasm:
    def __init__(self, wagi, module):
        self.wagi, self.module = wagi, module

    def run(self, *args, stdin=b""):
        proc = subprocess.run([self.wagi, "run", self.module, *args], input=stdin,
                              capture_output=True, timeout=TIMEOUT)
        return proc.returncode, proc.stdout, proc.stderr


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wasm_cases(m):
    """Yields (name, function) pairs; each function raises on failure."""
    rnd = os.urandom

    def sha(data):
        def f():
            rc, out, err = m.run("sha256", stdin=data)
            check(rc == 0, f"exit {rc}: {err!r}")
            check(out.decode().strip() == hashlib.sha256(data).hexdigest(),
                  f"{out!r} != {hashlib.sha256(data).hexdigest()}")
        return f

    yield "sha256 empty", sha(b"")
    yield "sha256 abc", sha(b"abc")
    yield "sha256 1M a", sha(b"a" * 1000000)
    yield "sha256 3 MiB random", sha(rnd(3 << 20))

    def hm(key, data):
        def f():
            rc, out, err = m.run("hmac", key.hex(), stdin=data)
            check(rc == 0, f"exit {rc}: {err!r}")
            want = hmac.new(key, data, "sha256").hexdigest()
            check(out.decode().strip() == want, f"{out!r} != {want}")
        return f

    yield "hmac short key", hm(b"Jefe", b"what do ya want for nothing?")
    yield "hmac 64-byte key (Azure account key size)", hm(rnd(64), rnd(1000))
    yield "hmac 200-byte key, 100 KiB data", hm(rnd(200), rnd(100000))

    def b64():
        for n in (0, 1, 2, 3, 4, 5, 100, 65537):
            data = rnd(n)
            rc, out, err = m.run("b64enc", stdin=data)
            check(rc == 0 and out.decode().strip() == base64.b64encode(data).decode(),
                  f"encode {n} bytes: {out[:80]!r}")
            rc, out, err = m.run("b64dec", stdin=base64.b64encode(data))
            check(rc == 0 and out == data, f"decode {n} bytes: exit {rc}")

    yield "base64 round trip against Python", b64

    def b64_bad():
        for bad, at in ((b"Zg=", 0), (b"Zm9v\n", 4), (b"Zh==", 1), (b"Zm-v", 2)):
            rc, out, err = m.run("b64dec", stdin=bad)
            check(rc == 2 and f"at byte {at}".encode() in out, f"{bad!r}: exit {rc} {out!r}")

    yield "base64 strict rejections", b64_bad

    def url():
        data = bytes(range(256)) + "blob/naïve name+€.txt".encode()
        for mode, want in (
            (None, urllib.parse.quote(data, safe="")),
            ("slash", urllib.parse.quote(data, safe="/")),
            ("form", urllib.parse.quote_plus(data, safe="")),
        ):
            rc, out, err = m.run("urlenc", *([mode] if mode else []), stdin=data)
            check(rc == 0 and out.decode().strip() == want, f"{mode}: {out[:100]!r}")

    yield "URL encoding against urllib.parse.quote", url

    def js(doc):
        def f():
            text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
            rc, out, err = m.run("json", stdin=text)
            check(rc == 0, f"exit {rc}: {out!r} {err!r}")
            check(out == text, f"{out[:200]!r} != {text[:200]!r}")
            check(json.loads(out) == doc, "reads back differently")
        return f

    yield "json round trip: object", js({"id": "x", "n": [1, -2, 3.5, 1e300, True, False, None],
                                         "nested": {"a": {"b": {"c": []}}}, "": {}})
    yield "json round trip: every control character and non-ASCII", js(
        {"s": "".join(chr(c) for c in range(0x80)) + "é€😀\u2028\uffff"})
    yield "json round trip: Event Grid event batch", js([{
        "id": str(uuid.uuid4()), "eventType": "DeisLabs.EventGrid.Types.BlobCreated",
        "subject": "DeisLabs.EventGrid.Messages.BlobCreated",
        "eventTime": "2024-01-02T03:04:05.678Z", "dataVersion": "1.0",
        "data": {"container": "c1", "blob": "dir/a b.txt"}} for _ in range(50)])

    def js_python_escapes():
        # Python's own escapes (ensure_ascii: \uXXXX, surrogate pairs) decode to UTF-8
        doc = {"k": "é😀\x00\x1f\"\\/"}
        text = json.dumps(doc, ensure_ascii=True).encode()
        rc, out, err = m.run("json", stdin=text)
        check(rc == 0 and json.loads(out) == doc, f"exit {rc}: {out!r}")
        check(out == json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(), f"{out!r}")

    yield "json \\u escapes and surrogate pairs to UTF-8", js_python_escapes

    def js_reject():
        for bad in (b"[1,]", b'{"a" 1}', b'["\\ud800"]', b'["\xff"]', b"[01]", b"", b"[1] 2"):
            rc, out, err = m.run("json", stdin=bad)
            check(rc == 2 and out.startswith(b"json: invalid JSON at byte "), f"{bad!r}: {rc} {out!r}")

    yield "json rejections name the byte", js_reject

    def js_deep():
        text = b"[" * 1024 + b"]" * 1024
        rc, out, err = m.run("json", "1024", stdin=text)
        check(rc == 0 and out == text, f"1024 levels: exit {rc} {err[-200:]!r}")
        text = b'{"a":' * 1024 + b"1" + b"}" * 1024
        rc, out, err = m.run("json", "1024", stdin=text)
        check(rc == 0 and out == text, f"1024 objects: exit {rc} {err[-200:]!r}")
        rc, out, err = m.run("json", "99999", stdin=b"[" * 200000)
        check(rc == 2 and b"nesting deeper than 1024" in out, f"200000 levels: exit {rc} {out!r} {err[-200:]!r}")
        rc, out, err = m.run("json", stdin=b"[" * 129 + b"]" * 129)
        check(rc == 2 and b"nesting deeper than 128" in out, f"default depth: {rc} {out!r}")

    yield "json nesting: 1024 levels in a 64 KiB-stack module, deeper refused", js_deep

    def uuids():
        rc, out, err = m.run("uuid", "200")
        check(rc == 0, f"exit {rc}: {err!r}")
        lines = out.decode().split()
        check(len(lines) == 200 and len(set(lines)) == 200, "200 distinct")
        for u in lines:
            check(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u), u)
            check(uuid.UUID(u).version == 4 and str(uuid.UUID(u)) == u, u)

    yield "uuid v4 from random_get", uuids

    def dates():
        for sec in (0, 784111777, 951782400, 1709251199, 4107542400, -1, 253402300799,
                    -62135596800):
            rc, out, err = m.run("date", str(sec))
            check(rc == 0, f"{sec}: exit {rc} {out!r}")
            a, b, c = out.decode().strip().split("|")
            dt = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=sec)
            check(a == dt.strftime("%a, %d %b ") + f"{dt.year:04d}" + dt.strftime(" %H:%M:%S GMT"), f"{sec}: {a}")
            check(b == f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%SZ"), f"{sec}: {b}")
            check(c == f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%S.007Z"), f"{sec}: {c}")
        rc, out, err = m.run("date", "253402300800")
        check(rc == 2 and b"outside years" in out, f"past 9999: {rc} {out!r}")

    yield "dates against Python's datetime", dates

    def now():
        before = time.time()
        rc, out, err = m.run("now")
        after = time.time()
        check(rc == 0, f"exit {rc}: {err!r}")
        sec, ms, rest = out.decode().strip().split(" ", 2)
        a, b = rest.split("|")
        sec, ms = int(sec), int(ms)
        check(int(before) - 1 <= sec <= after + 1, f"{sec} not in [{before}, {after}]")
        check(sec * 1000 <= ms <= (sec + 2) * 1000, f"{ms} vs {sec}")
        check(email.utils.parsedate_to_datetime(a).timestamp() == sec, a)
        check(datetime.datetime.strptime(b, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp() * 1000 == ms, b)

    yield "clock_time_get: now matches the host's clock", now

    def http_denied():
        rc, out, err = m.run("http-denied")
        check(rc == 0 and out.decode().strip() == "destination_not_allowed", f"{rc} {out!r} {err!r}")

    yield "wagi_http linked alongside: a denied host is an error value", http_denied


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wagi", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("bins", nargs="*")
    args = ap.parse_args()
    passed = failed = 0
    for b in args.bins:
        p, f = run_cmocka(b)
        passed += p
        failed += f
    m = Wasm(args.wagi, args.wasm)
    for name, fn in wasm_cases(m):
        try:
            fn()
            print(f"ok   wasm: {name}")
            passed += 1
        except (AssertionError, OSError, subprocess.TimeoutExpired, ValueError) as e:
            print(f"FAIL wasm: {name}: {e}")
            failed += 1
    print(f"guest: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
