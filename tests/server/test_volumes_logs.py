"""Volumes (WAGI.md §8): readable, writable, sandboxed; module stderr logs
under <log-dir>/<sha256(route)>/module.stderr (§5.5)."""
import hashlib
import os
import time

import pytest

from conftest import WagiServer, module_entry


@pytest.fixture(scope="module")
def world(modules, tmp_path_factory):
    base = tmp_path_factory.mktemp("vol")
    vol = base / "vol"
    (vol / "sub").mkdir(parents=True)
    (vol / "hello.txt").write_text("hello from the volume\n")
    (vol / "sub" / "deep.txt").write_text("deep\n")
    (base / "secret.txt").write_text("TOP SECRET\n")
    os.symlink("../secret.txt", vol / "escape-link")
    os.symlink("/etc/hostname", vol / "abs-link")
    other = base / "other"
    other.mkdir()
    (other / "o.txt").write_text("other volume\n")
    m = modules["behave"]
    cfg = "".join([
        module_entry("/read", m, entrypoint="readfile",
                     volumes={"/data": str(vol), "/other": str(other)}),
        module_entry("/write", m, entrypoint="writefile", volumes={"/data": str(vol)}),
        module_entry("/novol", m, entrypoint="readfile"),
        module_entry("/missingvol", m, entrypoint="readfile",
                     volumes={"/gone": str(base / "does-not-exist"), "/data": str(vol)}),
        module_entry("/log/...", m, entrypoint="stderr_marker"),
        module_entry("/", m, entrypoint="stderr_marker"),
        module_entry("/trap", m, entrypoint="trap"),
        module_entry("/closevols", m, entrypoint="closevols",
                     volumes={"/data": str(vol), "/other": str(other)}),
    ])
    s = WagiServer(base / "srv", cfg).start()
    yield s, vol, base
    s.stop_checked()


def read(s, path, route="/read"):
    return s.get(f"{route}?{path}")


def test_volume_readable(world):
    s, _, _ = world
    r = read(s, "/data/hello.txt")
    assert (r.status, r.body) == (200, b"hello from the volume\n")
    assert read(s, "/data/sub/deep.txt").body == b"deep\n"
    assert read(s, "/other/o.txt").body == b"other volume\n"
    assert read(s, "/data/sub/../hello.txt").body == b"hello from the volume\n"


@pytest.mark.parametrize("path", ["/data/../secret.txt", "/data/sub/../../secret.txt",
                                  "/data/escape-link", "/data/abs-link", "/etc/passwd",
                                  "/secret.txt", "../secret.txt"])
def test_volume_sandboxed(world, path):
    s, _, _ = world
    r = read(s, path)
    assert r.status == 403, r
    assert b"TOP SECRET" not in r.body
    assert b"open failed" in r.body


def test_no_volumes_no_files(world):
    s, _, _ = world
    r = read(s, "/data/hello.txt", route="/novol")
    assert r.status == 403


def test_missing_volume_dir_is_skipped(world):
    s, _, _ = world
    r = read(s, "/data/hello.txt", route="/missingvol")
    assert (r.status, r.body) == (200, b"hello from the volume\n")


def test_volume_writable_and_contained(world):
    s, vol, base = world
    r = s.get("/write?/data/new.txt")
    assert r.status == 200, r
    assert (vol / "new.txt").read_text() == "written by wasm\n"
    r = s.get("/write?/data/../escaped.txt")
    assert r.status == 403
    assert not (base / "escaped.txt").exists()


def log_file(s, route):
    return s.log_dir / hashlib.sha256(route.encode()).hexdigest() / "module.stderr"


def wait_for(path, text, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def test_stderr_goes_to_route_log(world):
    s, _, _ = world
    r = s.get("/log/x?marker-one")
    assert r.status == 200
    assert b"stderr-marker" not in r.body      # stderr never reaches the client
    f = log_file(s, "/log/...")
    assert wait_for(f, "stderr-marker marker-one"), (f, s.logs())
    r = s.get("/log?marker-two")
    assert wait_for(f, "stderr-marker marker-two")
    assert "marker-one" in f.read_text()       # appended, not truncated


def test_root_route_log_dir_name(world):
    s, _, _ = world
    assert s.get("/?root-marker").status == 200
    f = s.log_dir / "8a5edab282632443219e051e4ade2d1d5bbc671c781051bf1437897cbdfea0f1" / "module.stderr"
    assert wait_for(f, "stderr-marker root-marker"), list(s.log_dir.iterdir())


def test_log_dir_flag_is_used_and_created(modules, tmp_path):
    logs = tmp_path / "nested" / "logs"
    s = WagiServer(tmp_path / "s", module_entry("/", modules["behave"], entrypoint="stderr_marker"),
                   log_dir=logs).start()
    try:
        assert s.get("/?made").status == 200
        assert wait_for(log_file(s, "/"), "stderr-marker made")
    finally:
        s.stop()


def test_volume_created_after_startup_is_used(modules, tmp_path):
    """A volume directory missing at startup is looked for again by every
    request (the ones found at startup are opened once and shared)."""
    late = tmp_path / "late"
    s = WagiServer(tmp_path / "srv", module_entry("/read", modules["behave"], entrypoint="readfile",
                                                  volumes={"/late": str(late)})).start()
    try:
        assert s.wait_log("volume /late"), s.logs()
        assert s.get("/read?/late/x.txt").status != 200
        late.mkdir()
        (late / "x.txt").write_text("made later\n")
        r = s.get("/read?/late/x.txt")
        assert (r.status, r.body) == (200, b"made later\n")
    finally:
        assert s.stop_checked() == 0


def test_shared_volume_fd_survives_guest_close_and_concurrency(world):
    """Requests share the volume's directory fd: a guest that closes its
    preopened fds closes only its own view of them, and many requests at
    once all read the volume."""
    import threading
    s, _, _ = world
    r = s.get("/closevols")
    assert (r.status, r.body) == (200, b"closed 2\n")
    out = []

    def hit():
        out.append(read(s, "/data/sub/deep.txt").body)

    ts = [threading.Thread(target=hit) for _ in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert out == [b"deep\n"] * 16
    assert read(s, "/data/hello.txt").body == b"hello from the volume\n"


# ---- stderr limit and log reopening ---------------------------------------------------

def test_stderr_cut_at_default_limit(modules, server_factory):
    """A module writing 3 MiB of stderr: 1 MiB (the default) reaches its
    module.stderr, then one marker line; the request still succeeds."""
    s = server_factory(module_entry("/", modules["behave"], entrypoint="stderr_flood"))
    r = s.get("/")
    assert (r.status, r.body) == (200, b"flooded\n")
    f = log_file(s, "/")
    marker = b"[wagi: stderr cut at 1048576 bytes]\n"
    data = f.read_bytes()
    assert data == b"e" * 65535 + b"\n" + (b"e" * 65535 + b"\n") * 15 + marker, len(data)
    assert s.get("/").status == 200                  # per request: the next one gets 1 MiB too
    assert f.read_bytes() == 2 * data


def test_stderr_limit_flag_and_key(modules, server_factory):
    m = modules["behave"]
    cfg = (module_entry("/flag", m, entrypoint="stderr_flood") +
           module_entry("/key", m, entrypoint="stderr_flood", stderr_limit_bytes=1000))
    s = server_factory(cfg, ["--max-stderr", "100K"])
    assert s.get("/flag").status == 200
    assert s.get("/key").status == 200
    flood = (b"e" * 65535 + b"\n") * 48
    # cut inside a line: the marker starts a line of its own
    assert log_file(s, "/flag").read_bytes() == (flood[:102400] +
                                                 b"\n[wagi: stderr cut at 102400 bytes]\n")
    assert log_file(s, "/key").read_bytes() == (flood[:1000] +
                                                b"\n[wagi: stderr cut at 1000 bytes]\n")


def test_stderr_under_limit_has_no_marker(world):
    s, _, _ = world
    assert s.get("/log/x?small").status == 200
    f = log_file(s, "/log/...")
    assert wait_for(f, "stderr-marker small")
    assert "stderr cut" not in f.read_text()


@pytest.mark.parametrize("bad", ["0", "x", "5G", "-1"])
def test_bad_max_stderr_refused(modules, tmp_path, bad):
    from conftest import run_wagi
    cfg = tmp_path / "modules.toml"
    cfg.write_text(module_entry("/", modules["env"]))
    p = run_wagi(["--config", cfg, "--listen", "127.0.0.1:1", "--max-stderr", bad])
    assert p.returncode != 0
    assert "--max-stderr" in p.stderr, p.stderr


def test_help_names_max_stderr_and_sighup():
    from conftest import run_wagi
    p = run_wagi(["--config", "x", "--help"])
    assert "--max-stderr SIZE" in p.stdout and "stderr_limit_bytes" in p.stdout, p.stdout
    assert "SIGHUP reopens the log files" in p.stdout, p.stdout


def test_sighup_reopens_logs(modules, tmp_path):
    """logrotate: the files are moved away, then SIGHUP; the server writes
    to new files at the old paths (a moved-away route directory is made
    again) and keeps serving."""
    import signal
    access = tmp_path / "access.log"
    cfg = (module_entry("/log/...", modules["behave"], entrypoint="stderr_marker") +
           module_entry("/dyn/...", modules["routes"]))
    s = WagiServer(tmp_path / "s", cfg, ["--access-log", str(access)]).start()
    try:
        assert s.get("/log/a?before").status == 200
        f = log_file(s, "/log/...")
        dyn = log_file(s, "/dyn/...")              # _routes wrote there at startup
        assert wait_for(f, "stderr-marker before")
        assert wait_for(access, "/log/a")
        assert wait_for(dyn, "routes discovery")
        access.rename(tmp_path / "access.log.1")
        f.rename(f.with_name("module.stderr.1"))
        dyn.parent.rename(dyn.parent.with_name(dyn.parent.name + ".old"))
        s.proc.send_signal(signal.SIGHUP)
        assert s.wait_log("SIGHUP: log files reopened"), s.logs()
        assert s.get("/log/b?after").status == 200
        assert wait_for(f, "stderr-marker after")
        assert "before" not in f.read_text()
        assert wait_for(access, "/log/b")
        assert "/log/a" not in access.read_text()
        assert "after" not in f.with_name("module.stderr.1").read_text()
        assert "/log/b" not in (tmp_path / "access.log.1").read_text()
        assert dyn.exists()
        for _ in range(5):                          # more signals: still serving
            s.proc.send_signal(signal.SIGHUP)
        assert s.get("/log/c?again").status == 200
        assert wait_for(f, "stderr-marker again")
        assert s.proc.poll() is None
    finally:
        assert s.stop_checked() == 0
