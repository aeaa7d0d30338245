"""--tier aot (docs/server.md §Native code): every .wasm module is compiled
to native code before the server listens, through the module cache when
there is one, else in a private temporary directory that is gone once the
modules are loaded; a module that cannot be compiled (no C compiler, a
compiler error) stops the server with one line naming it; requests run
native code (the shutdown summary counts them).

These tests choose the tier themselves, so they run the same whatever
WAGI_TEST_TIER says (conftest.py keeps a test's own --tier)."""
import os
import re
import shutil
import stat
import subprocess
import time

import pytest

from conftest import STARTUP_TIMEOUT, WAGI, module_entry, run_wagi

CC = os.environ.get("CC", "cc")
needs_cc = pytest.mark.skipif(shutil.which(CC) is None, reason=f"no C compiler ({CC}) on PATH")
pytestmark = needs_cc

SUMMARY = re.compile(r"served (\d+) module runs \((\d+) on native code\)")


def script(path, text):
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return str(path)


def slow_cc(tmp_path, seconds):
    """A C compiler that waits before compiling (not before --version)."""
    return script(tmp_path / "slowcc",
                  f'case "$1" in --version) exec {CC} --version;; esac\n'
                  f'sleep {seconds}\nexec {CC} "$@"\n')


def bad_cc(tmp_path):
    return script(tmp_path / "badcc",
                  f'case "$1" in --version) exec {CC} --version;; esac\n'
                  'echo "badcc: fatal error: refusing to compile today" >&2\nexit 1\n')


def summary(server):
    """(module runs, of those on native code) from the shutdown summary."""
    m = SUMMARY.search(server.logs())
    assert m, server.logs()
    return int(m.group(1)), int(m.group(2))


def three_routes(modules):
    return (module_entry("/env", modules["env"]) + module_entry("/hello", modules["hello.wat"]) +
            module_entry("/b", modules["behave"], entrypoint="html"))


def test_requests_run_native_code(server_factory, modules, tmp_path):
    cache = tmp_path / "cache"
    s = server_factory(three_routes(modules),
                       args=["--tier", "aot", "--module-cache", str(cache)])
    assert s.wait_log("--tier aot: every route runs native code (3 module(s) compiled"), s.logs()
    logs = s.logs()
    for route in ("/env", "/hello", "/b"):
        assert re.search(rf"route {route} -> \S+ \(\w+, native code\)", logs), logs
    assert "interpreter" not in logs, logs
    assert s.get("/env?x=1").json()["env"]["QUERY_STRING"] == "x=1"
    assert s.get("/hello").body == b"Oh hi world\r\n"
    assert s.get("/b").body == b"<h1>hi</h1>\n"
    assert s.get("/nothing").status == 404          # no module run
    s.stop_checked()
    assert summary(s) == (3, 3)


def test_interp_tier_runs_no_native_code(server_factory, modules):
    """The other side of the summary's count: the same routes on the
    interpreter run no native code."""
    s = server_factory(three_routes(modules), args=["--tier", "interp"])
    for path in ("/env", "/hello", "/b"):
        assert s.get(path).status == 200
    s.stop_checked()
    assert summary(s) == (3, 0)


def test_compiles_before_listening(server_factory, modules, tmp_path):
    """With a compiler that takes 2 s the server is not Ready before the
    code is compiled, loaded, and in the cache; no route ever shows the
    interpreter."""
    cache = tmp_path / "cache"
    s = server_factory(module_entry("/env", modules["env"]),
                       args=["--tier", "aot", "--module-cache", str(cache)],
                       env={"CC": slow_cc(tmp_path, 2)})
    # start() returned: "Ready" was printed, after everything below
    files = [p.name for p in cache.iterdir()]
    assert len(files) == 1 and re.fullmatch(r"[0-9a-f]{64}-abi\d+-[0-9a-f]{16}\.wasmc",
                                            files[0]), files
    assert s.wait_log("--tier aot: every route runs native code (1 module(s) compiled, 0 from "
                      "the module cache)"), s.logs()
    m = re.search(r"route /env: compiled to native code in (\d+) ms", s.logs())
    assert m and int(m.group(1)) >= 2000, s.logs()
    assert "background" not in s.logs() and "interpreter" not in s.logs()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert s.get("/env").status == 200
    s.stop_checked()
    assert summary(s) == (1, 1)


def test_second_start_uses_the_module_cache(server_factory, modules, tmp_path):
    cache = tmp_path / "cache"
    args = ["--tier", "aot", "--module-cache", str(cache)]
    s = server_factory(module_entry("/env", modules["env"]), args=args)
    assert s.wait_log("route /env: compiled to native code in "), s.logs()
    s.stop_checked()
    entry = next(cache.iterdir())
    before = entry.stat().st_mtime_ns
    s2 = server_factory(module_entry("/env", modules["env"]), args=args)
    assert s2.wait_log("(0 module(s) compiled, 1 from the module cache)"), s2.logs()
    assert f"route /env: native code from the module cache ({cache}/{entry.name})" in s2.logs()
    assert "compiled to native code in" not in s2.logs()
    assert entry.stat().st_mtime_ns == before
    assert s2.get("/env").status == 200


def test_damaged_cache_entry_compiled_again(server_factory, modules, tmp_path):
    cache = tmp_path / "cache"
    args = ["--tier", "aot", "--module-cache", str(cache)]
    s = server_factory(module_entry("/env", modules["env"]), args=args)
    s.stop_checked()
    (entry,) = cache.iterdir()
    data = bytearray(entry.read_bytes())
    data[len(data) // 3] ^= 0xFF
    entry.write_bytes(bytes(data))
    s2 = server_factory(module_entry("/env", modules["env"]), args=args)
    assert s2.wait_log("route /env: compiled to native code in "), s2.logs()
    assert re.search(r"route /env: cached native code \S+ is not usable \(not a usable \.wasmc: "
                     r".*\); compiling it again", s2.logs()), s2.logs()
    assert s2.get("/env").status == 200
    s2.stop_checked()
    assert summary(s2) == (1, 1)


def test_without_a_cache_a_private_temporary_directory(server_factory, modules, tmp_path):
    """No --module-cache: the code is compiled into a new 0700 directory
    under $TMPDIR, which is removed before the server is Ready (the code
    runs from memory); two routes of one module compile it once."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    seen = []
    cfg = module_entry("/a", modules["env"]) + module_entry("/b", modules["env"])
    import threading
    stop = threading.Event()

    def watch():   # the directory exists only while the slow compiler runs
        while not stop.is_set():
            for p in tmp.glob("wagi-native-*"):
                try:
                    seen.append((p.name, stat.S_IMODE(p.stat().st_mode)))
                except FileNotFoundError:
                    pass
            time.sleep(0.02)

    t = threading.Thread(target=watch)
    t.start()
    try:
        s = server_factory(cfg, args=["--tier", "aot"],
                           env={"TMPDIR": str(tmp), "CC": slow_cc(tmp_path, 1),
                                "WAGI_MODULE_CACHE": ""})
    finally:
        stop.set()
        t.join()
    assert seen and {mode for _, mode in seen} == {0o700}, seen
    assert len({name for name, _ in seen}) == 1, seen
    assert list(tmp.iterdir()) == [], list(tmp.iterdir())
    assert s.wait_log("--tier aot: every route runs native code (1 module(s) compiled)"), s.logs()
    assert "route /b: native code (its module was compiled for an earlier route)" in s.logs()
    assert s.get("/a").status == 200 and s.get("/b").status == 200
    s.stop_checked()
    assert summary(s) == (2, 2)
    assert list(tmp.iterdir()) == []


def refused(tmp_path, modules, env, extra=()):
    """Starts --tier aot on the env module expecting a refusal; returns
    (the module's path, stderr)."""
    cfg = tmp_path / "modules.toml"
    cfg.write_text(module_entry("/env", modules["env"]))
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    r = run_wagi(["-c", cfg, "-l", "127.0.0.1:0", "--log-dir", tmp_path / "logs", "--tier", "aot",
                  *extra], env={"TMPDIR": str(tmp), "WAGI_MODULE_CACHE": "", **env},
                 timeout=STARTUP_TIMEOUT)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Ready" not in r.stdout
    assert list(tmp.iterdir()) == [], list(tmp.iterdir())   # the temporary directory too
    return modules["env"], r.stderr


def error_line(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.startswith("wagi: error: ")]
    assert len(lines) == 1, stderr
    assert stderr.rstrip("\n").endswith(lines[0]), stderr   # the last line, nothing after
    return lines[0]


def test_no_compiler_refuses_to_start(tmp_path, modules):
    path, err = refused(tmp_path, modules, {"CC": "/nonexistent/cc"})
    line = error_line(err)
    assert line == (f"wagi: error: module for route /env: {path}: --tier aot cannot compile it "
                    f'to native code: cannot run the C compiler "/nonexistent/cc" '
                    f"(/nonexistent/cc --version failed); name a C compiler with CC=..., or use "
                    f"--tier auto"), line


def test_compiler_error_refuses_to_start(tmp_path, modules):
    path, err = refused(tmp_path, modules, {"CC": bad_cc(tmp_path)})
    line = error_line(err)
    assert line.startswith(f"wagi: error: module for route /env: {path}: --tier aot cannot "
                           f"compile it to native code: {tmp_path}/badcc failed (see its "
                           f"messages): "), line
    assert line.endswith("badcc: fatal error: refusing to compile today"), line


def test_compiler_error_with_a_module_cache(tmp_path, modules):
    """The cache is no way around it: nothing usable in it, nothing left."""
    cache = tmp_path / "cache"
    _, err = refused(tmp_path, modules, {"CC": bad_cc(tmp_path)},
                     extra=["--module-cache", cache])
    assert "refusing to compile today" in error_line(err)
    assert list(cache.iterdir()) == []


def test_wasmc_route_needs_no_compiler(tmp_path, modules, server_factory):
    """A .wasmc is native code already: --tier aot serves it even without
    a compiler (a .wasm beside it would stop the server)."""
    wasmc = tmp_path / "hello.wasmc"
    r = subprocess.run([str(WAGI), "compile", str(modules["hello"]), "-o", str(wasmc)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = server_factory(module_entry("/hello", wasmc), args=["--tier", "aot"],
                       env={"CC": "/nonexistent/cc", "WAGI_MODULE_CACHE": ""})
    assert s.wait_log("--tier aot: every route runs native code (0 module(s) compiled)"), s.logs()
    assert re.search(r"route /hello -> \S+hello\.wasmc \(_start, native code\)", s.logs())
    assert s.get("/hello").body == b"Oh hi world\r\n"
    s.stop_checked()
    assert summary(s) == (1, 1)


def test_help_names_the_aot_tier():
    r = run_wagi(["--help"])
    assert r.returncode == 0
    assert "--tier auto|interp|aot" in r.stdout
    assert "before the server listens" in r.stdout
