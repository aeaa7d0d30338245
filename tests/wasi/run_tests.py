#!/usr/bin/python3
"""WASI tests for `wagi run`: ordinary programs, escape attempts, CLI errors.

    /usr/bin/python3 tests/wasi/run_tests.py [-v] [--no-node] [--no-walk] [NAME...]

(-v: also print the racing thread's swap count; NAME: run only those cases.
Environment: BUILD (default build), WAGI (default $BUILD/wagi), WASI_CC.)

Builds tests/wasi/progs/*.c with clang-16 --target=wasm32-wasi (wasi-libc)
and tests/wasi/wat/*.wat with wat2wasm into $BUILD/wasi-tests/, then runs
each case with `$BUILD/wagi run` in a fresh temporary world:

    T/sandbox/            preopened as /sandbox (fd 3), the only preopen
                          (unless the case gives other --dir values)
    T/outside/            host-only: secret.txt, victim.txt, dir/, link
    T/inside.txt          host-only secret right above the sandbox

and compares stdout with tests/wasi/expected/CASE.txt (written by hand from
the intended semantics: Linux/POSIX behaviour, WASI preview 1, wasmtime's
choices where WASI leaves room, and src/wasi/wasi.h's sandbox rules) and the
exit status with the case's. For every case it also checks that nothing
outside the sandbox changed or appeared (T, /etc/passwd, /tmp/wagi_escape*)
and that no byte of the secret reached stdout/stderr. Out of scope: a hard
link to an outside file that the host itself placed inside the sandbox
before the run (indistinguishable from a regular file; the host's doing).

Every case also runs through wagi-walk ("walk:" lines): `wagi run` linked
with walk_main.c, which forces src/wasi's sandbox onto its component-by-
component resolver (the one used where openat2 is missing), so both
resolvers face the same tests.

Ordinary cases are also run under Node's WASI (node_run.mjs) as a second
opinion when node is available. Where Node is known to differ from the
expected output, the case lists the difference (NODE_DIFFS below, with the
reason; NODE_DIFFS_UVWASI_0_0_19 for the older uvwasi of Node 18, Debian
12's nodejs); any other difference fails. Node's WASI is documented as not a
security boundary, so it never runs the escape cases.

Prints one line per test and a final "N passed, N failed"; exits 1 if any
test failed.
"""
import ctypes
import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
OUT = os.path.join(BUILD, "wasi-tests")
WAGI = os.environ.get("WAGI", os.path.join(BUILD, "wagi"))
# WAGI_TIER=aot runs every program on the AOT tier (wagi run --tier aot;
# set WAGI_MODULE_CACHE too so that each program is compiled once).
TIER_ARGS = ["--tier", os.environ["WAGI_TIER"]] if os.environ.get("WAGI_TIER") else []
CLANG = os.environ.get("WASI_CC", "clang-16")
CFLAGS = ["--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror",
          "-Wno-unused-result", "-Wl,--strip-all"]
TIMEOUT = 120
SECRET = "SECRET-" + os.urandom(12).hex()
ENV = {"GREETING": "hello world", "EMPTY": "", "WITH_EQUALS": "a=b=c"}

VERBOSE = False


# ---- cases -------------------------------------------------------------------

class Case:
    def __init__(self, name, prog, args=(), env=None, exit=0, stdin=b"",
                 setup=None, escape=False, node=True, stderr=None,
                 expected=None, race=False, flags=(), dirs=None, late_stdin=None,
                 echo=False):
        self.name, self.prog, self.args = name, prog, list(args)
        self.env = ENV if env is None else env
        self.exit, self.stdin, self.setup = exit, stdin, setup
        self.escape, self.node, self.stderr = escape, node and not escape, stderr
        self.expected = expected if expected is not None else name
        self.race, self.flags = race, list(flags)
        # --dir values; "T/" stands for the world's directory.
        self.dirs = dirs if dirs is not None else ["T/sandbox::/sandbox"]
        # Bytes written to a stdin pipe only after the first stdout line.
        self.late_stdin = late_stdin
        # The expected stdout is the stdin bytes themselves.
        self.echo = echo


def world_escape(t):
    """The standard layout of the escape cases."""
    sb = os.path.join(t, "sandbox")
    write(os.path.join(sb, "inside.txt"), "inside\n")
    os.mkdir(os.path.join(sb, "sub"))
    write(os.path.join(sb, "sub", "file.txt"), "in sub\n")


def world_symlinks(t):
    world_escape(t)
    sb = os.path.join(t, "sandbox")
    os.symlink("/etc", os.path.join(sb, "etc_link"))
    os.symlink(os.path.join(t, "outside", "secret.txt"), os.path.join(sb, "secret_link"))
    os.symlink("../outside", os.path.join(sb, "rel_up"))
    os.symlink("../../outside/secret.txt", os.path.join(sb, "sub", "deep_up"))
    os.symlink("inside.txt", os.path.join(sb, "ok_link"))
    os.symlink("sub", os.path.join(sb, "dir_link"))


def world_chain(t):
    world_escape(t)
    sb = os.path.join(t, "sandbox")
    os.symlink("chain2", os.path.join(sb, "chain1"))
    os.symlink("sub/chain3", os.path.join(sb, "chain2"))
    os.symlink("../../outside/secret.txt", os.path.join(sb, "sub", "chain3"))


def world_hardlink(t):
    world_escape(t)
    sb = os.path.join(t, "sandbox")
    os.symlink(os.path.join(t, "outside", "secret.txt"), os.path.join(sb, "secret_link"))


def world_preopens(t):
    world_escape(t)
    os.mkdir(os.path.join(t, "second"))
    write(os.path.join(t, "second", "inside.txt"), "second\n")


def world_race(t):
    world_escape(t)
    sb = os.path.join(t, "sandbox")
    write(os.path.join(t, "outside", "data.txt"), SECRET + "\n")
    os.mkdir(os.path.join(sb, "flip"))
    write(os.path.join(sb, "flip", "data.txt"), "inside-data\n")
    os.mkdir(os.path.join(sb, "real"))
    write(os.path.join(sb, "real", "data.txt"), "inside-data\n")
    os.symlink(os.path.join(t, "outside"), os.path.join(sb, "flip_evil"))
    os.symlink("real", os.path.join(sb, "flip2"))


EXIT_MODES = [("return0", 0), ("return7", 7), ("exit3", 3), ("_Exit5", 5),
              ("proc_exit42", 42), ("abort", 134), ("unreachable", 134),
              ("oob", 134), ("stderr", 0)]

CASES = [
    Case("files", "files"),
    Case("dirs", "dirs"),
    Case("links", "links"),
    Case("args_env", "args_env", args=["one", "two words", "", "ünï"]),
    Case("args_env_empty", "args_env", env={}),
    Case("clocks", "clocks"),
    Case("random", "random"),
    Case("poll_sleep", "poll_sleep", stdin=b"ping\n"),
    Case("raw", "raw"),
    Case("preopens", "preopens", setup=world_preopens,
         dirs=["sandbox", "second::/data", "./second::."]),
    # Node's proc_raise really raises the signal in the node process.
    Case("unsupported", "unsupported", node=False),
    # Rules Node's uvwasi does not follow: its fd_readdir leaves out "." and
    # "..", its sock_* answer ENOTSUP.
    Case("conformance", "conformance", node=False),
    Case("poll_wait", "poll_wait", late_stdin=b"late\n"),
    # Options after MODULE belong to the module.
    Case("args_dashes", "args_env", args=["--env", "X=1", "-v", "--", "--dir"], env={}),
    Case("stdio_copy", "stdio_copy", echo=True, env={}, stderr="copied 3000017 bytes",
         stdin=bytes((i * 131 + (i >> 9)) & 0xff for i in range(3000017))),
] + [
    Case("exit_" + m, "exit_code", args=[m], exit=code,
         stderr="wagi: trap: " if code == 134 else ("to stderr" if m == "stderr" else None))
    for m, code in EXIT_MODES
] + [
    Case("esc_dotdot", "esc_dotdot", setup=world_escape, escape=True),
    Case("esc_abs", "esc_abs", setup=world_escape, escape=True),
    Case("esc_symlink_host", "esc_symlink_host", setup=world_symlinks, escape=True),
    Case("esc_chain", "esc_chain", setup=world_chain, escape=True),
    Case("esc_mklink", "esc_mklink", setup=world_escape, escape=True),
    Case("esc_hardlink", "esc_hardlink", setup=world_hardlink, escape=True),
    Case("esc_nul", "esc_nul", setup=world_escape, escape=True),
    Case("esc_long", "esc_long", setup=world_escape, escape=True),
    Case("esc_chdir", "esc_chdir", setup=world_escape, escape=True),
    Case("esc_race", "esc_race", setup=world_race, escape=True, race=True),
    Case("esc_root", "esc_root", setup=world_escape, escape=True, dirs=["T/sandbox::/"]),
]

# CLI behaviour of `wagi run` itself: (name, argv after "run", exit, stderr
# substring). MODULE:x stands for $BUILD/wasi-tests/x.wasm, T for the world.
CLI_CASES = [
    ("cli_missing_module", ["T/nothing.wasm"], 1, "cannot open"),
    ("cli_not_wasm", ["T/garbage.wasm"], 1, "garbage.wasm: "),
    ("cli_not_module", ["T/text.wasm"], 1, "neither a WebAssembly module (no \\0asm header) nor WAT"),
    ("cli_wat_text", ["T/exit7.wat"], 7, None),
    ("cli_unknown_import", ["MODULE:unknown_import"], 1, "no_such_function"),
    ("cli_no_start", ["MODULE:no_start"], 1, "_start"),
    ("cli_start_trap", ["MODULE:start_trap"], 134, "wagi: trap: "),
    ("cli_start_exit", ["MODULE:start_exit"], 4, None),
    ("cli_exit_range", ["MODULE:exit_range"], 1, "200"),
    ("cli_grow", ["MODULE:grow"], 0, None),
    ("cli_max_memory", ["--max-memory", "256K", "MODULE:grow"], 9, None),
    ("cli_max_memory_bytes", ["--max-memory", "262144", "MODULE:grow"], 9, None),
    ("cli_max_memory_mib", ["--max-memory", "1M", "MODULE:grow"], 0, None),
    # the old page count: a clear error that says the new form
    ("cli_max_memory_pages", ["--max-memory", "4", "MODULE:grow"], 1, "for 4 pages write 256K"),
    ("cli_bad_max_memory", ["--max-memory", "x", "MODULE:grow"], 1, "--max-memory"),
    ("cli_bad_env", ["--env", "NOEQUALS", "MODULE:grow"], 1, "--env"),
    ("cli_bad_dir", ["--dir", "T/does-not-exist", "MODULE:grow"], 1, "does-not-exist"),
    ("cli_dir_is_file", ["--dir", "T/outside/secret.txt", "MODULE:grow"], 1, "secret.txt"),
    ("cli_missing_value", ["--dir"], 1, "--dir"),
    ("cli_double_dash", ["--", "MODULE:grow"], 0, None),
    ("cli_equals_forms", ["--env=A=1", "--max-memory=256KiB", "MODULE:grow"], 9, None),
    ("cli_unknown_option", ["--frobnicate", "MODULE:grow"], 1, "--frobnicate"),
    ("cli_no_module", [], 1, "MODULE"),
    ("cli_help", ["--help"], 0, None),
]

# Known, documented differences of Node 20's WASI (uvwasi 0.0.23) from the
# expected output: (expected line, Node's line, reason). Applied to the
# expected text before comparing Node's output; anything else must match.
NODE_DIFFS = {
    "files": [
        ("atime: 1000000000.123456789", "atime: 1000000000.000000000",
         "uvwasi sets times through libuv's double seconds and drops nanoseconds"),
        ("mtime: 1500000000.987654321", "mtime: 1500000000.000000000", "same"),
        ("atime: 1600000000.250000000", "atime: 1600000000.000000000", "same"),
        ("mtime: 1600000001.500000000", "mtime: 1600000001.000000000", "same"),
        ("append after F_SETFL: yes", "append after F_SETFL: no",
         "uvwasi accepts fd_fdstat_set_flags(APPEND) but does not record it"),
    ],
    "links": [
        ('readlink into 4 bytes: 4 "targ"', "readlink into 4 bytes: ENOBUFS",
         "uvwasi fails instead of truncating as POSIX readlink and wasmtime do"),
        ('open l1 with O_NOFOLLOW: ELOOP', 'open l1 with O_NOFOLLOW: "target"',
         "uvwasi ignores the absence of LOOKUPFLAGS_SYMLINK_FOLLOW in path_open"),
        ("symlink sub/up -> ../target.txt: ok", "symlink sub/up -> ../target.txt: ENOTCAPABLE",
         "uvwasi checks the target relative to the preopen, not to the link's directory"),
        ('read via sub/up: "target"', "read via sub/up: ENOENT", "consequence of the previous line"),
    ],
    "poll_sleep": [
        ("poll stdin+stdout: 2", "poll stdin+stdout: EPERM",
         "uvwasi polls through libuv/epoll, which refuses a regular file (stdin is one here)"),
        ("stdin readable: yes", "stdin readable: no", "consequence of the previous line"),
        ("stdout writable: yes", "stdout writable: no", "consequence of the previous line"),
        ("bad fd event error: EBADF", "bad fd event error: OK",
         "uvwasi reports no error for an fd_write subscription on a closed fd"),
    ],
    "raw": [
        ("prestat_get 0 (stdin): EBADF", "prestat_get 0 (stdin): EINVAL",
         "uvwasi: EINVAL for an fd that is not a preopen; wasmtime: EBADF"),
        ("append flag set: yes", "append flag set: no",
         "uvwasi accepts fd_fdstat_set_flags(APPEND) but does not record it"),
        ("fd_write iovec out of memory: EFAULT", "fd_write iovec out of memory: EOVERFLOW",
         "uvwasi reports a bad guest pointer as EOVERFLOW"),
        ("path_open path out of memory: EFAULT", "path_open path out of memory: EOVERFLOW", "same"),
        ("fd_prestat_dir_name short buffer: ENAMETOOLONG", "fd_prestat_dir_name short buffer: ENOBUFS",
         "uvwasi: ENOBUFS; wasmtime: ENAMETOOLONG"),
    ],
}


# Older uvwasi (0.0.19 in Node 18.20, Debian 12's nodejs) differs in more
# places, or differently. Used when process.versions.uvwasi is older than
# 0.0.23 (Node 20; the versions in between were not measured): each entry
# replaces NODE_DIFFS's entry for the same expected line, or adds one; an
# entry whose Node line equals the expected line cancels a Node 20 difference.
NODE_DIFFS_UVWASI_0_0_19 = {
    "dirs": [
        ("seekdir returns same entry: yes", "seekdir returns same entry: no",
         "uvwasi 0.0.19: after seekdir to a telldir position fd_readdir resumes elsewhere"),
    ],
    "links": [
        ('readlink l1: 10 "target.txt"', 'readlink l1: 11 "target.txt"',
         "uvwasi 0.0.19 counts a terminating NUL in path_readlink's length"),
        ('readlinkat: 8 "file.txt"', 'readlinkat: 9 "file.txt"', "same"),
        ("symlink sub/up -> ../target.txt: ok", "symlink sub/up -> ../target.txt: ok",
         "uvwasi 0.0.19 creates the link as POSIX does (Node 20's ENOTCAPABLE is gone)"),
        ('read via sub/up: "target"', "read via sub/up: ENOTCAPABLE",
         "uvwasi 0.0.19 then refuses to follow it: it resolves the target against the preopen"),
    ],
    "raw": [
        ("set_times ATIM and ATIM_NOW: EINVAL", "set_times ATIM and ATIM_NOW: OK",
         "uvwasi 0.0.19 accepts both flags instead of rejecting the combination"),
        ("path_open path out of memory: EFAULT", "path_open path out of memory: EINVAL",
         "uvwasi 0.0.19 reports a bad guest path pointer as EINVAL"),
    ],
}


def node_diffs(uvwasi):
    """NODE_DIFFS for Node's uvwasi version (a tuple of ints, () if unknown)."""
    if not uvwasi or uvwasi >= (0, 0, 23):
        return NODE_DIFFS
    merged = {}
    for name in set(NODE_DIFFS) | set(NODE_DIFFS_UVWASI_0_0_19):
        old = NODE_DIFFS_UVWASI_0_0_19.get(name, [])
        wants = {want for want, _, _ in old}
        merged[name] = [d for d in NODE_DIFFS.get(name, []) if d[0] not in wants] + old
    return merged


def node_uvwasi_version():
    """process.versions.uvwasi of the node on PATH as a tuple, () if unknown."""
    try:
        r = subprocess.run(["node", "-p", "process.versions.uvwasi"], capture_output=True,
                           text=True, timeout=60)
        return tuple(int(x) for x in r.stdout.strip().split("."))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return ()


# Lines Node may print either way from run to run: uvwasi's clock waits go
# through libuv timers in whole milliseconds against a loop time cached before
# the wait, so a sleep can end up to ~1 ms early. Node's output may have the
# second form; it is compared as if it had the first.
NODE_TOLERATED = {
    "poll_sleep": [(s + ": yes", s + ": no") for s in [
        "slept >= 30 ms", "relative slept >= 30 ms", "woke at or after the deadline",
        "usleep slept >= 10 ms", "poll waited >= 30 ms", "waited >= 10 ms"]],
    "clocks": [("monotonic increases across a 20 ms sleep by >= 20 ms: yes",
                "monotonic increases across a 20 ms sleep by >= 20 ms: no")],
    # Node reads a stdin pipe without blocking: a read between the test's
    # write and its close of the pipe fails (EAGAIN) instead of waiting for
    # the end of input. Seen once in a loaded CI run.
    "poll_wait": [("first poll: 0, waited >= 100 ms: yes", "first poll: 0, waited >= 100 ms: no"),
                  ("read at eof: 0", "read at eof: -1")],
}


# ---- helpers -------------------------------------------------------------------

def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def make_world():
    t = tempfile.mkdtemp(prefix="wagi-wasi-")
    os.mkdir(os.path.join(t, "sandbox"))
    out = os.path.join(t, "outside")
    os.mkdir(out)
    os.mkdir(os.path.join(out, "dir"))
    write(os.path.join(out, "secret.txt"), SECRET + "\n")
    write(os.path.join(out, "victim.txt"), "victim\n")
    os.symlink("secret.txt", os.path.join(out, "link"))
    write(os.path.join(t, "inside.txt"), SECRET + " (above the sandbox)\n")
    return t


def snapshot(t):
    """Everything outside T/sandbox that a breakout could touch."""
    snap = {}
    for base, dirs, files in os.walk(t):
        rel = os.path.relpath(base, t)
        if rel == "sandbox" or rel.startswith("sandbox" + os.sep):
            dirs[:] = []
            continue
        for name in sorted(dirs + files):
            p = os.path.join(base, name)
            r = os.path.relpath(p, t)
            if r == "sandbox":
                continue
            st = os.lstat(p)
            entry = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_nlink)
            if os.path.islink(p):
                entry += (os.readlink(p),)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    entry += (hashlib.sha256(f.read()).hexdigest(),)
            snap[r] = entry
    for extra in ["/etc/passwd"]:
        st = os.stat(extra)
        with open(extra, "rb") as f:
            snap[extra] = (st.st_size, st.st_mtime_ns, hashlib.sha256(f.read()).hexdigest())
    snap["/tmp:wagi_escape*"] = tuple(sorted(n for n in os.listdir("/tmp") if n.startswith("wagi_escape")))
    return snap


def diff_snap(a, b):
    msgs = []
    for k in sorted(set(a) | set(b)):
        if k not in b:
            msgs.append("removed outside the sandbox: " + k)
        elif k not in a:
            msgs.append("appeared outside the sandbox: " + k)
        elif a[k] != b[k]:
            msgs.append("changed outside the sandbox: " + k)
    return msgs


def text_diff(want, got, a="expected", b="got"):
    lines = list(difflib.unified_diff(want.splitlines(), got.splitlines(), a, b, lineterm="", n=1))
    return "\n".join("      " + line for line in lines[:40])


class Racer:
    """Host-side attacker for esc_race: keeps swapping what "flip" and
    "flip2" are while the module opens through them."""

    RENAME_EXCHANGE = 2
    AT_FDCWD = -100

    def __init__(self, t):
        self.t, self.stop, self.swaps = t, threading.Event(), 0
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        sb = os.path.join(self.t, "sandbox")
        a, b = os.path.join(sb, "flip").encode(), os.path.join(sb, "flip_evil").encode()
        f2, tmp = os.path.join(sb, "flip2"), os.path.join(sb, ".flip2.tmp")
        targets = ["real", os.path.join(self.t, "outside")]
        i = 0
        while not self.stop.is_set():
            if self.libc.renameat2(self.AT_FDCWD, a, self.AT_FDCWD, b, self.RENAME_EXCHANGE) == 0:
                self.swaps += 1
            i ^= 1
            try:
                os.symlink(targets[i], tmp)
                os.replace(tmp, f2)
                self.swaps += 1
            except OSError:
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


# ---- build ---------------------------------------------------------------------

def compile_one(cmd):
    """Runs a compiler; returns None or the first lines of its complaint."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        return ["cannot run %s: %s (run make setup)" % (cmd[0], e)]
    if r.returncode:
        return (r.stderr or r.stdout).strip().splitlines()[:5] or ["exit status %d" % r.returncode]
    return None


def build():
    """Compiles what is out of date; returns {program: error or None}."""
    os.makedirs(OUT, exist_ok=True)
    errors = {}
    common = os.path.join(HERE, "progs", "common.h")
    for f in sorted(os.listdir(os.path.join(HERE, "progs"))):
        if not f.endswith(".c"):
            continue
        name, src = f[:-2], os.path.join(HERE, "progs", f)
        out = os.path.join(OUT, name + ".wasm")
        errors[name] = None
        if os.path.exists(out) and os.path.getmtime(out) >= max(os.path.getmtime(src), os.path.getmtime(common)):
            continue
        errors[name] = compile_one([CLANG] + CFLAGS + [src, "-o", out])
    for f in sorted(os.listdir(os.path.join(HERE, "wat"))):
        if not f.endswith(".wat"):
            continue
        name, src = f[:-4], os.path.join(HERE, "wat", f)
        out = os.path.join(OUT, name + ".wasm")
        errors[name] = None
        if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
            continue
        errors[name] = compile_one(["wat2wasm", src, "-o", out])
    return errors


def build_walk():
    """Links wagi-walk (walk_main.c + the regular build's run.o, compile.o and flags.o,
    libsrv.a and libhttp.a (run's --allow-host), libwasi.a, libwasm.a, libbase.a, with the compiler and flags recorded in $BUILD/.flags, so a
    sanitizer build stays one). Returns (path or None, message)."""
    objs = [os.path.join(BUILD, "obj", "src", "cli", "run.o"),
            os.path.join(BUILD, "obj", "src", "cli", "compile.o"),
            os.path.join(BUILD, "obj", "src", "cli", "flags.o"),
            os.path.join(BUILD, "libsrv.a"), os.path.join(BUILD, "libhttp.a"),
            os.path.join(BUILD, "libwasi.a"), os.path.join(BUILD, "libwasm.a"),
            os.path.join(BUILD, "libbase.a")]
    if not all(os.path.exists(o) for o in objs):
        return None, "skipped: the regular build's objects are missing"
    out = os.path.join(OUT, "wagi-walk")
    src = os.path.join(HERE, "walk_main.c")
    if os.path.exists(out) and os.path.getmtime(out) >= max(os.path.getmtime(f) for f in objs + [src]):
        return out, ""
    flags_file = os.path.join(BUILD, ".flags")
    cc = ["cc", "-pthread"]
    if os.path.exists(flags_file):
        with open(flags_file) as f:
            cc = f.read().split()
    err = compile_one(cc + ["-I" + os.path.join(ROOT, "src"), src] + objs + ["-lcurl", "-lm", "-ldl", "-ldw", "-lelf", "-o", out])
    if err:
        return None, "cannot link wagi-walk: " + " ".join(err)[:300]
    return out, ""


# ---- running -------------------------------------------------------------------

def execute(case, cmd, t, stdin_path, env=None):
    """Runs cmd in T with the case's stdin: a file, or for late_stdin a pipe
    that gets its bytes only once the first stdout line has arrived."""
    if case.late_stdin is None:
        with open(stdin_path, "rb") as si:
            return subprocess.run(cmd, stdin=si, capture_output=True, cwd=t, timeout=TIMEOUT, env=env)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=t, env=env)
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.start()
    try:
        first = p.stdout.readline()
        p.stdin.write(case.late_stdin)
        p.stdin.close()
        out, err = p.stdout.read(), p.stderr.read()
        p.wait()
    finally:
        timer.cancel()
    return subprocess.CompletedProcess(cmd, p.returncode, first + out, err)


def dir_args(case, t):
    """[(host, guest)] from the case's --dir values, T/ expanded."""
    out = []
    for d in case.dirs:
        host, _, guest = d.partition("::")
        if host.startswith("T/"):
            host = os.path.join(t, host[2:])
        out.append((host, guest or host))
    return out


def run_wagi(case, t, stdin_path, wagi=None):
    wasm = os.path.join(OUT, case.prog + ".wasm")
    cmd = [wagi or WAGI, "run"] + TIER_ARGS
    for d in case.dirs:
        cmd += ["--dir", os.path.join(t, d[2:]) if d.startswith("T/") else d]
    for k, v in case.env.items():
        cmd += ["--env", k + "=" + v]
    cmd += case.flags + [wasm] + case.args
    # The host's environment holds a variable the guest must never see.
    env = dict(os.environ, SECRET_HOST_VAR=SECRET)
    return execute(case, cmd, t, stdin_path, env)


def run_node(case, t, stdin_path):
    cfg = {"module": os.path.join(OUT, case.prog + ".wasm"),
           "args": [case.prog + ".wasm"] + case.args, "env": case.env,
           "preopens": {guest: host for host, guest in dir_args(case, t)}}
    # The config lives outside the world so that the snapshot stays clean.
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="wagi-node-") as cfg_file:
        cfg_file.write(json.dumps(cfg))
        cfg_file.flush()
        return execute(case, ["node", "--no-warnings", os.path.join(HERE, "node_run.mjs"), cfg_file.name],
                       t, stdin_path)


def check_case(case, runner, expected_text):
    """Runs one case in a fresh world; returns a list of failure messages."""
    t = make_world()
    try:
        if case.setup:
            case.setup(t)
        stdin_path = os.path.join(t, "stdin.bin")
        write(stdin_path, case.stdin, "wb")
        before = snapshot(t)
        if case.race:
            with Racer(t) as racer:
                r = runner(case, t, stdin_path)
            swaps = racer.swaps
        else:
            r = runner(case, t, stdin_path)
            swaps = None
        after = snapshot(t)
        out = r.stdout.decode("utf-8", "replace")
        if runner is run_node:
            lines = out.split("\n")
            for want, alt in NODE_TOLERATED.get(case.expected, []):
                lines = [want if line == alt else line for line in lines]
            out = "\n".join(lines)
        err = r.stderr.decode("utf-8", "replace")
        fails = []
        if r.returncode != case.exit:
            fails.append("exit status %d, expected %d" % (r.returncode, case.exit))
        if case.echo:
            if r.stdout != case.stdin:
                fails.append("stdout (%d bytes) is not a copy of stdin (%d bytes)" % (len(r.stdout), len(case.stdin)))
        elif out != expected_text:
            fails.append("stdout differs from expected/%s.txt:\n%s" % (case.expected, text_diff(expected_text, out)))
        if (runner is not run_node or case.echo) and case.stderr and case.stderr not in err:
            fails.append("stderr lacks %r" % case.stderr)
        if SECRET in out or SECRET in err:
            fails.append("the host secret reached the module's output")
        fails += diff_snap(before, after)
        if swaps is not None and VERBOSE:
            print("    (%s: the racing thread made %d swaps)" % (case.name, swaps))
        if swaps is not None and swaps < 100:
            fails.append("the racing thread made only %d swaps" % swaps)
        if fails and err.strip():
            fails.append("stderr:\n" + "\n".join("      " + s for s in err.strip().splitlines()[:10]))
        return fails
    except subprocess.TimeoutExpired:
        return ["timed out after %d s" % TIMEOUT]
    except OSError as e:
        return ["cannot run: %s" % e]
    finally:
        shutil.rmtree(t, ignore_errors=True)


def node_expected(case, text, diffs):
    lines = text.splitlines()
    for want, node_line, _reason in diffs.get(case.expected, []):
        if want not in lines:
            raise SystemExit("NODE_DIFFS[%s]: %r is not a line of the expected output" % (case.expected, want))
        lines[lines.index(want)] = node_line
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def run_cli_case(name, argv, want_exit, want_err):
    t = make_world()
    try:
        write(os.path.join(t, "garbage.wasm"), b"\0asm\x01\0\0\0\x99garbage", "wb")
        write(os.path.join(t, "text.wasm"), b"not a module\n", "wb")
        write(os.path.join(t, "exit7.wat"), b";; WAT text, as the server takes it\n"
              b'(module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))\n'
              b'  (func (export "_start") (call $e (i32.const 7))))\n', "wb")
        args = []
        for a in argv:
            if a.startswith("MODULE:"):
                a = os.path.join(OUT, a[7:] + ".wasm")
            elif a.startswith("T/"):
                a = os.path.join(t, a[2:])
            args.append(a)
        r = subprocess.run([WAGI, "run"] + args, capture_output=True, timeout=TIMEOUT, cwd=t)
        err = r.stderr.decode("utf-8", "replace")
        fails = []
        if r.returncode != want_exit:
            fails.append("exit status %d, expected %d" % (r.returncode, want_exit))
        if want_err and want_err not in err:
            fails.append("stderr lacks %r: %r" % (want_err, err.strip()[:300]))
        if want_exit == 1 and err.count("\n") != 1:
            fails.append("expected exactly one error line, got %r" % err[:300])
        return fails
    except subprocess.TimeoutExpired:
        return ["timed out"]
    except OSError as e:
        return ["cannot run: %s" % e]
    finally:
        shutil.rmtree(t, ignore_errors=True)


def main():
    global VERBOSE
    argv = sys.argv[1:]
    VERBOSE = "-v" in argv
    use_node = "--no-node" not in argv and shutil.which("node") is not None
    use_walk = "--no-walk" not in argv
    only = [a for a in argv if not a.startswith("-")]
    passed = failed = 0

    def report(name, fails):
        nonlocal passed, failed
        if fails:
            failed += 1
            print("FAIL %s: %s" % (name, "\n    ".join(fails)))
        else:
            passed += 1
            print("PASS %s" % name)
        sys.stdout.flush()

    errors = build()
    if not os.access(WAGI, os.X_OK):
        print("FAIL build: %s is missing (run make first)" % WAGI)
        print("0 passed, 1 failed")
        return 1
    if not use_node and "--no-node" not in argv:
        print("SKIP node: no `node` on PATH, the second opinion is not run")
    diffs = node_diffs(node_uvwasi_version()) if use_node else NODE_DIFFS
    walk = None
    if use_walk:
        walk, msg = build_walk()
        if walk is None and msg.startswith("skipped"):
            print("SKIP walk: " + msg)
        elif walk is None:
            report("walk:build", [msg])

    def run_walk(case, t, stdin_path):
        return run_wagi(case, t, stdin_path, walk)

    for case in CASES:
        if only and case.name not in only:
            continue
        if errors.get(case.prog):
            report(case.name, ["%s.c does not compile:" % case.prog] + errors[case.prog])
            continue
        exp_path = os.path.join(HERE, "expected", case.expected + ".txt")
        if case.echo:
            exp_path = os.devnull
        if not os.path.exists(exp_path):
            report(case.name, ["missing expected/%s.txt" % case.expected])
            continue
        with open(exp_path) as f:
            expected = f.read()
        report(case.name, check_case(case, run_wagi, expected))
        # The same case through the sandbox's other resolver (component
        # walk); the ordinary cases too, since they resolve paths as well.
        if walk:
            report("walk:" + case.name, check_case(case, run_walk, expected))
        if case.node and use_node:
            report("node:" + case.name, check_case(case, run_node, node_expected(case, expected, diffs)))
    for name, args, code, err in CLI_CASES:
        if only and name not in only:
            continue
        missing = [a[7:] for a in args if a.startswith("MODULE:") and errors.get(a[7:], "x")]
        if missing:
            report(name, ["module %s did not build" % missing[0]])
            continue
        report(name, run_cli_case(name, args, code, err))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
