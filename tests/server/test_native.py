"""Native code in the server (docs/server.md §Native code): --module-cache,
the background compiler and the switch of a route from the interpreter to
native code, the cache directory's safety checks, compile failures, a
machine without a C compiler, --tier interp, and a shutdown during a
compile. --tier aot has its own file, test_tier_aot.py.

The background compiler is --tier auto's: its tests skip when the suite
runs with WAGI_TEST_TIER=aot (conftest.py), which starts every server with
--tier aot.

Tests that need a C compiler skip without `cc` ($CC); those that need real
native code also skip while this build's translator is the placeholder
("no WebAssembly-to-C translator yet")."""
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import WAGI, module_entry, only_on_tier, run_wagi

CC = os.environ.get("CC", "cc")
HAVE_CC = shutil.which(CC) is not None
needs_cc = pytest.mark.skipif(not HAVE_CC, reason=f"no C compiler ({CC}) on PATH")

COMPILE_WAIT = 120.0   # a compile of the test module, on a loaded CI machine
# With WAGI_TEST_TIER=aot every server gets --tier aot, which compiles at
# startup instead of in the background.
auto_tier = only_on_tier("interp", "tests --tier auto's background compiler, and the "
                         "aot run starts every server with --tier aot")


@pytest.fixture(scope="module")
def translator(modules, tmp_path_factory):
    """Skips unless `wagi compile` makes native code in this build."""
    if not HAVE_CC:
        pytest.skip(f"no C compiler ({CC}) on PATH")
    out = tmp_path_factory.mktemp("probe") / "hello.wasmc"
    r = subprocess.run([str(WAGI), "compile", str(modules["hello"]), "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        if "no WebAssembly-to-C translator" in r.stderr:
            pytest.skip("this build has no WebAssembly-to-C translator yet")
        pytest.fail(f"wagi compile failed: {r.stderr}")
    return out


def script(path, text):
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return str(path)


def slow_cc(tmp_path, seconds):
    """A C compiler that waits `seconds` before compiling (not before
    --version), so that the first requests surely run on the interpreter."""
    return script(tmp_path / "slowcc",
                  f'case "$1" in --version) exec {CC} --version;; esac\n'
                  f'sleep {seconds}\nexec {CC} "$@"\n')


def env_config(modules):
    return module_entry("/env", modules["env"])


def comparable(resp):
    """The env module's JSON without what differs between connections."""
    j = resp.json()
    env = j.get("env")
    if isinstance(env, dict):
        for k in ("REMOTE_PORT",):
            env.pop(k, None)
    return j


def cache_files(d):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@needs_cc
@auto_tier
def test_route_switches_to_native(server_factory, modules, translator, tmp_path):
    cache = tmp_path / "cache"
    s = server_factory(env_config(modules), args=["--module-cache", str(cache)],
                       env={"CC": slow_cc(tmp_path, 2)})
    assert s.wait_log("compiling 1 module(s) to native code in the background"), s.logs()
    assert "interpreter until its native code is compiled" in s.logs()
    before = [s.get("/env?x=1&y=%C3%A9", headers={"X-Test": "a"}) for _ in range(3)]
    assert "native code ready" not in s.logs(), "the slow compiler finished too soon"
    assert s.wait_log("route /env: native code ready (compiled in ", COMPILE_WAIT), s.logs()
    assert re.search(r"native code ready \(compiled in \d+ ms\); new requests run natively",
                     s.logs())
    after = [s.get("/env?x=1&y=%C3%A9", headers={"X-Test": "a"}) for _ in range(3)]
    for r in before + after:
        assert r.status == 200, r
    assert {repr(comparable(r)) for r in before} == {repr(comparable(r)) for r in after}
    assert [k for k, _ in before[0].headers] == [k for k, _ in after[0].headers]
    # the cache directory: private, one .wasmc named by digest, ABI, target, compiler
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    files = cache_files(cache)
    assert len(files) == 1 and re.fullmatch(r"[0-9a-f]{64}-abi\d+-[0-9a-f]{16}\.wasmc",
                                            files[0]), files


@needs_cc
@auto_tier
def test_second_start_runs_natively_at_once(server_factory, modules, translator, tmp_path):
    cache = tmp_path / "cache"
    s = server_factory(env_config(modules), args=["--module-cache", str(cache)])
    assert s.wait_log("route /env: native code ready", COMPILE_WAIT), s.logs()
    first = s.get("/env?a=b")
    s.stop_checked()
    s2 = server_factory(env_config(modules), args=["--module-cache", str(cache)])
    assert s2.wait_log("route /env -> "), s2.logs()
    logs = s2.logs()
    assert "route /env: native code from the module cache (" in logs, logs
    assert re.search(r"route /env -> \S+ \(_start, native code\)", logs), logs
    assert "in the background" not in logs
    r = s2.get("/env?a=b")
    assert r.status == 200
    # another server (another port): the request's own part is the same
    assert r.json()["argv"] == first.json()["argv"]
    assert r.json()["env"]["QUERY_STRING"] == first.json()["env"]["QUERY_STRING"] == "a=b"


@needs_cc
@auto_tier
def test_corrupt_cache_entry_is_recompiled(server_factory, modules, translator, tmp_path):
    cache = tmp_path / "cache"
    s = server_factory(env_config(modules), args=["--module-cache", str(cache)])
    assert s.wait_log("native code ready", COMPILE_WAIT), s.logs()
    s.stop_checked()
    (entry,) = cache.iterdir()
    data = bytearray(entry.read_bytes())
    data[len(data) // 3] ^= 0xFF
    entry.write_bytes(bytes(data))
    s2 = server_factory(env_config(modules), args=["--module-cache", str(cache)])
    assert s2.wait_log("route /env -> "), s2.logs()
    assert "is not usable (not a usable .wasmc: " in s2.logs(), s2.logs()
    assert "compiling it again" in s2.logs()
    assert s2.get("/env").status == 200
    assert s2.wait_log("route /env: native code ready (compiled in", COMPILE_WAIT), s2.logs()
    assert s2.get("/env").status == 200


@pytest.mark.parametrize("mode,who", [(0o777, "others"), (0o770, "its group")])
def test_unsafe_cache_dir_refused(tmp_path, modules, mode, who):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(mode)
    cfg = tmp_path / "modules.toml"
    cfg.write_text(env_config(modules))
    r = run_wagi(["-c", cfg, "-l", "127.0.0.1:0", "--log-dir", tmp_path / "logs",
                  "--module-cache", cache])
    assert r.returncode == 1
    assert f"--module-cache {cache}: writable by {who} (mode {mode:04o})" in r.stderr, r.stderr
    assert f"chmod 700 {cache}" in r.stderr
    assert "Ready" not in r.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory away")
def test_cache_dir_of_another_user_refused(tmp_path, modules):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    cfg = tmp_path / "modules.toml"
    cfg.write_text(env_config(modules))
    r = run_wagi(["-c", cfg, "-l", "127.0.0.1:0", "--log-dir", tmp_path / "logs",
                  "--module-cache", cache])
    assert r.returncode == 1
    assert "owned by uid 65534, not by the server's uid 0" in r.stderr, r.stderr


@auto_tier
def test_cache_dir_created_private(server_factory, modules, tmp_path):
    cache = tmp_path / "a" / "b" / "cache"
    server_factory(env_config(modules), args=["--module-cache", str(cache)],
                   env={"CC": "/nonexistent/cc"})
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


@auto_tier
def test_no_compiler_stays_on_interpreter(server_factory, modules, tmp_path):
    cache = tmp_path / "cache"
    s = server_factory(env_config(modules),
                       env={"CC": "/nonexistent/cc", "WAGI_MODULE_CACHE": str(cache)})
    assert s.wait_log("route /env -> "), s.logs()
    logs = s.logs()
    assert f"module cache {cache}: no C compiler (" in logs, logs
    assert "/nonexistent/cc" in logs
    assert ".wasm modules run on the interpreter" in logs
    assert "background" not in logs
    assert s.get("/env").status == 200
    assert cache_files(cache) == []


@needs_cc
@auto_tier
def test_compile_failure_stays_on_interpreter(server_factory, modules, tmp_path):
    bad = script(tmp_path / "badcc",
                 f'case "$1" in --version) exec {CC} --version;; esac\n'
                 'echo "badcc: fatal error: refusing to compile today" >&2\nexit 1\n')
    cache = tmp_path / "cache"
    s = server_factory(env_config(modules), args=["--module-cache", str(cache)],
                       env={"CC": bad})
    assert s.wait_log("route /env: compiling to native code failed: ", COMPILE_WAIT), s.logs()
    line = next(ln for ln in s.logs().splitlines() if "compiling to native code failed" in ln)
    assert line.endswith("; the route stays on the interpreter"), line
    assert s.logs().count("compiling to native code failed") == 1
    assert "native code ready" not in s.logs()
    r = s.get("/env?q=1")
    assert r.status == 200 and r.json()["env"]["QUERY_STRING"] == "q=1"
    assert cache_files(cache) == []


@needs_cc
@auto_tier
def test_compile_failure_names_the_compiler_message(server_factory, modules, translator,
                                                    tmp_path):
    bad = script(tmp_path / "badcc",
                 f'case "$1" in --version) exec {CC} --version;; esac\n'
                 'echo "badcc: fatal error: refusing to compile today" >&2\nexit 1\n')
    s = server_factory(env_config(modules), args=["--module-cache", str(tmp_path / "cache")],
                       env={"CC": bad})
    assert s.wait_log("compiling to native code failed", COMPILE_WAIT), s.logs()
    assert "refusing to compile today" in s.logs()


def test_tier_interp_never_compiles(server_factory, modules, tmp_path):
    cache = tmp_path / "cache"
    s = server_factory(env_config(modules),
                       args=["--tier", "interp", "--module-cache", str(cache)])
    assert s.wait_log("route /env -> "), s.logs()
    logs = s.logs()
    assert f"--tier interp: the module cache {cache} is not used" in logs
    assert "background" not in logs and "native code" not in logs
    assert s.get("/env").status == 200
    time.sleep(0.5)
    assert "native code" not in s.logs()
    assert not cache.exists()


def test_bad_tier_refused(tmp_path, modules):
    cfg = tmp_path / "modules.toml"
    cfg.write_text(env_config(modules))
    r = run_wagi(["-c", cfg, "--tier", "jit"])
    assert r.returncode == 1
    assert "--tier jit: expected auto, interp or aot" in r.stderr


@needs_cc
def test_wasmc_route_runs_natively(server_factory, modules, translator, tmp_path):
    s = server_factory(module_entry("/hello", translator))
    assert s.wait_log("route /hello -> "), s.logs()
    assert re.search(r"route /hello -> \S+hello\.wasmc \(_start, native code\)", s.logs())
    r = s.get("/hello")
    assert r.status == 200


@needs_cc
def test_tier_interp_refuses_wasmc(tmp_path, translator):
    cfg = tmp_path / "modules.toml"
    cfg.write_text(module_entry("/hello", translator))
    r = run_wagi(["-c", cfg, "-l", "127.0.0.1:0", "--log-dir", tmp_path / "logs",
                  "--tier", "interp"])
    assert r.returncode == 1
    assert "is native code (a .wasmc), and --tier interp runs modules on the interpreter " \
        "only" in r.stderr, r.stderr


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"   # a zombie is dead
    except FileNotFoundError:
        return True


@needs_cc
@auto_tier
def test_shutdown_kills_a_running_compile(server_factory, modules, translator, tmp_path):
    pidfile = tmp_path / "cc.pid"
    hang = script(tmp_path / "hangcc",
                  f'case "$1" in --version) exec {CC} --version;; esac\n'
                  f'sleep 300 &\necho $! > {pidfile}\nwait $!\n')
    s = server_factory(env_config(modules), args=["--module-cache", str(tmp_path / "cache")],
                       env={"CC": hang})
    deadline = time.monotonic() + COMPILE_WAIT
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, s.logs()
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    assert s.get("/env").status == 200
    t0 = time.monotonic()
    assert s.stop_checked() == 0
    assert time.monotonic() - t0 < 8, "shutdown waited for the compiler"
    deadline = time.monotonic() + 5
    while not _gone(pid):
        assert time.monotonic() < deadline, "the compiler's child outlived the server"
        time.sleep(0.05)
    assert "compiling to native code failed" not in s.logs()


@needs_cc
@auto_tier
def test_requests_during_the_switch(server_factory, modules, translator, tmp_path):
    """Requests keep arriving while the route switches: every one answers,
    with the same body, whichever module it ran on."""
    import threading
    s = server_factory(env_config(modules), args=["--module-cache", str(tmp_path / "cache")],
                       env={"CC": slow_cc(tmp_path, 1)})
    stop = threading.Event()
    results, errors = [], []

    def hammer():
        while not stop.is_set():
            try:
                r = s.get("/env?k=v")
                results.append((r.status, r.json()["argv"], r.json()["env"]["QUERY_STRING"]))
            except Exception as e:   # noqa: BLE001 - reported below
                errors.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        assert s.wait_log("route /env: native code ready", COMPILE_WAIT), s.logs()
        n = len(results)
        deadline = time.monotonic() + 10
        while len(results) < n + 20 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:3]
    assert len(results) > n, "no request after the switch"
    assert {r[0] for r in results} == {200}
    assert len({repr(r[1:]) for r in results}) == 1


@needs_cc
@auto_tier
def test_two_routes_one_module_compiled_once(server_factory, modules, translator, tmp_path):
    cache = tmp_path / "cache"
    cfg = module_entry("/a", modules["env"]) + module_entry("/b", modules["env"])
    s = server_factory(cfg, args=["--module-cache", str(cache)])
    assert s.wait_log("compiling 2 module(s)"), s.logs()
    assert s.wait_log("route /b: native code ready (from the module cache)", COMPILE_WAIT), \
        s.logs()
    assert "route /a: native code ready (compiled in" in s.logs()
    assert len(cache_files(cache)) == 1
    assert s.get("/a").status == 200 and s.get("/b").status == 200
