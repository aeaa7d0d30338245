#!/usr/bin/env python3
"""make_libfuzzer_seeds.py — seed corpora for the libFuzzer targets of
tests/fuzz/fuzz_*.c (see tests/fuzz/README.md).

  make_libfuzzer_seeds.py --out DIR --build BUILD [--suite WAST_DIR]

writes DIR/<target>/ (every seed) and DIR-small/<target>/ (a fixed subset
that `make test` starts from, so that its runs stay short):

  wasm_load, wasm_exec  the WebAssembly spec suite's modules (its .wast files
                        converted with wast2json; --suite, $WASM_TESTSUITE or
                        ../shared/wasm-testsuite; without it the script says
                        so and uses only the project's modules) and the
                        project's own: tests' .wat/.wast, examples/wat, the
                        examples built in BUILD, and (full set only) the
                        modules the test suites built there
  toml                  examples/*.toml and TOML written here (every value kind)
  cgi                   module outputs: headers, Status, Location, CRLF, bodies
  http_args             req arguments pointing at URLs, methods, headers, bodies
  wasi_path             operation sequences on the scratch box (escapes too)

Seeds are named by their SHA-256, so rerunning adds nothing twice.
"""
import argparse
import glob
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL_WASM = 120  # spec modules in the small set (plus all of the project's)


def put(d, data):
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha256(data).hexdigest()[:20]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    return name


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def convert_wast(wast, outdir):
    """wast2json --enable-all into outdir (once); returns the .wasm files."""
    stamp = os.path.join(outdir, ".done")
    if not os.path.exists(stamp):
        os.makedirs(outdir, exist_ok=True)
        base = os.path.splitext(os.path.basename(wast))[0]
        run(["wast2json", "--enable-all", wast, "-o", os.path.join(outdir, base + ".json")])
        open(stamp, "w").close()
    return sorted(glob.glob(os.path.join(outdir, "*.wasm")))


def wasm_modules(args, work):
    suite = args.suite or os.environ.get("WASM_TESTSUITE") or os.path.join(TOP, "..", "shared", "wasm-testsuite")
    spec, own = [], []
    if os.path.isdir(suite):
        for wast in sorted(glob.glob(os.path.join(suite, "*.wast"))):
            name = os.path.splitext(os.path.basename(wast))[0]
            spec += convert_wast(wast, os.path.join(work, "spec", name))
    else:
        print(f"seeds: the WebAssembly spec suite is not at {suite} (set WASM_TESTSUITE); "
              "using only the project's own modules")
    for wast in sorted(glob.glob(os.path.join(TOP, "tests", "engine", "*.wast"))):
        name = os.path.splitext(os.path.basename(wast))[0]
        own += convert_wast(wast, os.path.join(work, "engine", name))
    wats = sorted(glob.glob(os.path.join(TOP, "tests", "unit", "wat", "*.wat")) +
                  glob.glob(os.path.join(TOP, "tests", "server", "modules", "*.wat")) +
                  glob.glob(os.path.join(TOP, "tests", "wasi", "wat", "*.wat")) +
                  glob.glob(os.path.join(TOP, "examples", "wat", "*.wat")) +
                  glob.glob(os.path.join(TOP, "tests", "fuzz", "*.wat")))
    os.makedirs(os.path.join(work, "wat"), exist_ok=True)
    for wat in wats:
        out = os.path.join(work, "wat", hashlib.sha256(wat.encode()).hexdigest()[:12] + ".wasm")
        if not os.path.exists(out) and not run(["wat2wasm", "--enable-all", wat, "-o", out]):
            continue
        own.append(out)
    own += sorted(glob.glob(os.path.join(args.build, "examples", "*.wasm")))
    # Built by the test suites themselves, so present or not depending on
    # what ran before: full seed set only (the small one must not vary).
    later = []
    for pat in ("wasi-tests/**/*.wasm", "server-tests/**/*.wasm", "http-tests/**/*.wasm"):
        later += sorted(glob.glob(os.path.join(args.build, pat), recursive=True))
    return spec, own, later


def read(p):
    with open(p, "rb") as f:
        return f.read()


TOML_DOCS = [
    b'[[module]]\nroute = "/"\nmodule = "hello.wasm"\n',
    b'[limits]\ntime_limit_ms = 500\nmemory_limit_bytes = 1048576\n\n'
    b'[[module]]\nroute = "/api/..."\nmodule = "file:///srv/api.wasm"\nentrypoint = "run"\n'
    b'volumes = { "/data" = "/srv/data" }\nallowed_hosts = ["https://api.example.com", "http://[::1]:8080/"]\n'
    b'http_max_concurrency = 4\nargv = "${SCRIPT_NAME} ${ARGS}"\nhost = "Example.com"\n'
    b'[module.environment]\nA = "1"\nB = "two"\n[module.limits]\noutput_limit_bytes = 4096\n',
    b'default_host = "localhost:3000"\n[[module]]\nroute = "/x"\nmodule = "x.wasm"\n'
    b'allowed_hosts = ["insecure:allow-all"]\n',
    b'# every value kind\ns = "a\\tb\\u00e9\\U0001F600"\nl = \'C:\\path\'\nml = """\nline\\\n  two"""\n'
    b"mll = '''\nraw\n'''\ni = +99\nh = 0xDEAD_beef\no = 0o755\nb = 0b1101\nf = 6.626e-34\n"
    b"inf_ = -inf\nn = nan\nt = true\nd1 = 1979-05-27T07:32:00Z\nd2 = 1979-05-27 07:32:00.999-07:00\n"
    b"d3 = 1979-05-27\nd4 = 07:32:00\narr = [1, [2, 3], {x = 1}, ]\ninl = { a.b = 1, 'c' = \"d\" }\n"
    b'"quoted key" = 1\na.b.c = 2\n[t1.t2]\nx = 1\n[[aot]]\ny = 2\n[[aot]]\ny = 3\n',
    b'[a]\nb = 1\n[a]\n',
    b'x = 1\nx = 2\n',
    b'k = "\x00"\n',
    b'v = [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]\n',
    b'[[module]]\nroute = "/"\nmodule = "m.wasm"\n[module.limits]\ntime_limit_ms = 0\n',
]

CGI_OUTPUTS = [
    b"Content-Type: text/plain\n\nhello\n",
    b"content-type: text/html\r\nX-A: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n<p>hi</p>",
    b"Location: /elsewhere\n\n",
    b"Status: 404 Not Found\nContent-Type: text/plain\n\nmissing",
    b"Status: 201\nLocation: /made\n\n",
    b"Status: 99\n\n",
    b"Status: abc\nContent-Type: a/b\n\n",
    b"Content-Length: 5\nTransfer-Encoding: chunked\nConnection: close\nDate: x\nContent-Type: a/b\n\nbody",
    b"Content-Type: text/plain\nX-Bad: a\x01b\n\n",
    b"Bad Name: v\nContent-Type: text/plain\n\n",
    b"Content-Type: text/plain\n",
    b"no headers at all",
    b"Content-Type: t\xc3\xa9xt/plain\n\n",
    b"  Content-Type :  text/plain  \n\n",
    b"Content-Type: a\nContent-Type: b\nLocation: /x\nLocation: /y\n\n",
    b"\n\nbody only",
    b"# env file\nexport A=1\nB='lit $x'\nC=\"esc\\n\\t\\\"\"\nD = spaced # comment\n",
]


def http_seed(url, method=b"GET", headers=b"", body=b"", status_out=0x8000, handle_out=0x8004,
              extra=(0, 0x100, 3, 0x8010, 16, 0x8020), response=None):
    """17 words (req's 10, the handle and 5 arguments for the others, the
    mode) and a memory image; a response makes it a loopback request."""
    mem = bytearray(0xC000 + len(response) if response is not None else 0x400)
    mem[0x10:0x10 + len(url)] = url
    mem[0x100:0x100 + 10] = b"x-a\0\0\0\0\0\0\0"
    mem[0x110:0x110 + len(method)] = method
    mem[0x130:0x130 + len(headers)] = headers
    mem[0x230:0x230 + len(body)] = body
    mode = 0
    if response is not None:
        mem[0xC000:] = response
        mode = 0x80000000 | len(response)
    words = [0x10, len(url), 0x110, len(method), 0x130, len(headers), 0x230, len(body),
             status_out, handle_out] + list(extra) + [mode]
    return struct.pack("<17I", *words) + bytes(mem)


LOOP = b"http://127.0.0.1:47391"
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\nSet-Cookie: c=1\r\n\r\nhello"
HTTP_SEEDS = [
    http_seed(b"https://api.example.com/v1/items?q=1"),
    http_seed(b"http://127.0.0.1:8080/", b"POST", b"Content-Type: application/json\nX-A: 1\n", b"{}"),
    http_seed(b"http://[::1]:3000/x", b"PUT", b"A:b\r\n\r\nC: d", b"data"),
    http_seed(b"https://example.org:8443/", b"DELETE"),
    http_seed(b"https://EXAMPLE.org:8443/", b"GE T"),
    http_seed(b"https://api.example.com:443/", b"GET", b"no colon\n"),
    http_seed(b"https://user:pw@api.example.com/"),
    http_seed(b"ftp://api.example.com/"),
    http_seed(b"http://api.example.com/"),
    http_seed(b"https://api.example.com./"),
    http_seed(b"https://api.example.com\xff/"),
    http_seed(b"api.example.com"),
    http_seed(b"https://api.example.com/", b"GET", b"X: \x01\n"),
    http_seed(b"https://api.example.com/", status_out=0xFFFF, handle_out=0x10000),
    http_seed(LOOP + b"/x", response=OK_RESPONSE),
    http_seed(LOOP + b"/x", b"POST", b"Content-Type: text/plain\n", b"body", response=OK_RESPONSE,
              extra=(0, 0x100, 3, 0x8010, 2, 0x8020)),
    http_seed(LOOP + b"/r", response=b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"),
    http_seed(LOOP + b"/r", b"POST", b"Authorization: x\n", b"b",
              response=b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://api.example.com/\r\n\r\n"),
    http_seed(LOOP + b"/c", response=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    http_seed(LOOP + b"/h", response=b"HTTP/1.0 404 Not Found\r\nX-A:   spaced   \r\nx-a: second\r\n\r\n"),
    http_seed(LOOP + b"/g", response=b"garbage"),
]



def wasi_op(op, fsel=0, flags=0, extra=0, p1=b"", p2=None):
    s = bytes([op, fsel, flags, extra, len(p1)]) + p1
    if p2 is not None:
        s += bytes([len(p2)]) + p2
    return s


def wasi_seeds():
    OPEN, MKDIR, RMDIR, UNLINK, RENAME, SYMLINK, LINK, STAT, READLINK, READDIR, CLOSE = range(11)
    seqs = [
        [wasi_op(OPEN, 0, 1, 1, b"file"), wasi_op(READDIR, 0, 0, 64)],
        [wasi_op(OPEN, 0, 1, 1, b"sub/../file"), wasi_op(OPEN, 0, 1, 1, b"../outside/secret")],
        [wasi_op(OPEN, 0, 1, 1, b"esc_file"), wasi_op(OPEN, 0, 0, 1, b"esc/secret")],
        [wasi_op(OPEN, 0, 1 | 2 * 2, 0, b"sub"), wasi_op(OPEN, 1, 1, 1, b"../file"),
         wasi_op(OPEN, 1, 1, 1, b"../../outside/secret"), wasi_op(READDIR, 1, 0, 64)],
        [wasi_op(MKDIR, 0, 0, 0, b"d"), wasi_op(SYMLINK, 0, 0, 0, b"../..", b"d/l"),
         wasi_op(OPEN, 0, 1, 1, b"d/l/outside/secret"), wasi_op(RMDIR, 0, 0, 0, b"d")],
        [wasi_op(SYMLINK, 0, 0, 0, b"/etc/passwd", b"p"), wasi_op(READLINK, 0, 0, 4, b"p"),
         wasi_op(STAT, 0, 1, 0, b"p"), wasi_op(UNLINK, 0, 0, 0, b"p")],
        [wasi_op(RENAME, 0, 0, 0, b"file", b"sub/moved"), wasi_op(LINK, 0, 0, 0, b"sub/moved", b"hard"),
         wasi_op(RENAME, 0, 0, 0, b"sub", b"../sub")],
        [wasi_op(OPEN, 0, 1 | 2 * 1, 1, b"new"), wasi_op(STAT, 0, 0, 0, b"new"), wasi_op(CLOSE, 1)],
        [wasi_op(OPEN, 0, 1 | 2 * 2, 0, b"."), wasi_op(READDIR, 1, 0, 64), wasi_op(OPEN, 0, 1 | 2 * 2, 0, b"self"),
         wasi_op(READDIR, 2, 0, 64)],
        [wasi_op(STAT, 0, 1, 0, b"abs"), wasi_op(STAT, 0, 1, 0, b"up/file"), wasi_op(READLINK, 0, 0, 1, b"esc")],
        [wasi_op(OPEN, 0, 1, 1, b"a" * 200), wasi_op(OPEN, 0, 1, 1, b"/".join([b"sub"] * 40))],
    ]
    out = []
    for i, seq in enumerate(seqs):
        for walk in (0, 1):
            out.append(bytes([walk]) + b"".join(seq))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--suite")
    args = ap.parse_args()
    out = args.out.rstrip("/")
    small = out + "-small"
    work = out + "-work"
    for d in (out, small):
        shutil.rmtree(d, ignore_errors=True)

    spec, own, later = wasm_modules(args, work)
    seen = set()
    counts = {}

    def add(target, data, in_small):
        put(os.path.join(out, target), data)
        if in_small:
            put(os.path.join(small, target), data)
        counts[target] = counts.get(target, 0) + 1

    own_data = [read(p) for p in own]
    later_data = [read(p) for p in later]
    spec_data = [read(p) for p in spec]
    spec_sorted = sorted(set(spec_data) - set(own_data), key=lambda b: hashlib.sha256(b).digest())
    small_spec = set(spec_sorted[:SMALL_WASM])
    for data in own_data + spec_sorted + later_data:
        if data in seen:
            continue
        seen.add(data)
        in_small = data in small_spec or data in own_data
        if len(data) <= 256 * 1024:
            add("wasm_load", data, in_small and len(data) <= 64 * 1024)
        if len(data) <= 64 * 1024:
            add("wasm_exec", data, in_small and len(data) <= 16 * 1024)

    tomls = [read(p) for p in sorted(glob.glob(os.path.join(TOP, "examples", "*.toml")))] + TOML_DOCS
    for t in tomls:
        add("toml", t, True)
    for c in CGI_OUTPUTS:
        add("cgi", c, True)
    for h in HTTP_SEEDS:
        add("http_args", h, True)
    for w in wasi_seeds():
        add("wasi_path", w, True)
    print("seeds: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) +
          f" (spec modules: {len(spec)}, project modules: {len(own)}, built by test suites: {len(later)}) in {out}")


if __name__ == "__main__":
    sys.exit(main())
