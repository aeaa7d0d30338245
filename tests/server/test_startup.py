"""Startup refusals (WAGI.md §1-3): bad configs and bad modules stop the
server before it listens, with a clear message and a non-zero exit."""
import re
import subprocess

import pytest

from conftest import free_port, module_entry, run_wagi

INVALID_WASM = b"\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00"   # truncated type section
BAD_WAT = "(module\n  (func $f (result i32)\n    i32.const 1\n    i32.oops))\n"
BAD_ROUTES_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "%s")
  (func (export "_routes")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const %d))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")))
"""
TRAP_ROUTES_WAT = """(module
  (memory (export "memory") 1)
  (func (export "_routes") unreachable)
  (func (export "_start")))
"""


def wat2wasm(tmp_path, name, text):
    """Binary module from WAT text, so these tests do not depend on the
    server's own WAT loading."""
    src = tmp_path / (name + ".wat")
    src.write_text(text)
    subprocess.run(["wat2wasm", str(src), "-o", str(tmp_path / (name + ".wasm"))], check=True)
    return name + ".wasm"


def start_fails(tmp_path, config_text, *extra, name="modules.toml"):
    cfg = tmp_path / name
    cfg.write_text(config_text)
    p = run_wagi(["--config", cfg, "--listen", f"127.0.0.1:{free_port()}",
                  "--log-dir", tmp_path / "logs", *extra], cwd=tmp_path)
    assert p.returncode != 0, (p.stdout, p.stderr)
    assert "Ready" not in p.stdout
    assert p.stderr.strip(), "no message"
    return p.stderr


def test_toml_syntax_error_has_position(tmp_path):
    err = start_fails(tmp_path, '[[module]]\nroute = "/"\nmodule = "x.wasm\n')
    assert re.search(r"modules\.toml:3:\d+", err), err


def test_toml_syntax_error_bad_table(tmp_path):
    err = start_fails(tmp_path, '[[module]\nroute = "/"\n')
    assert re.search(r"modules\.toml:1:\d+", err), err


def test_missing_route(tmp_path, modules):
    err = start_fails(tmp_path, f'[[module]]\nmodule = "{modules["env"]}"\n')
    assert "route" in err, err


def test_missing_module_key(tmp_path):
    err = start_fails(tmp_path, '[[module]]\nroute = "/"\n')
    assert "module" in err, err


def test_no_module_table(tmp_path):
    err = start_fails(tmp_path, 'title = "nothing here"\n')
    assert re.search(r"modules\.toml:1:1: no \[\[module\]\] entries", err), err


@pytest.mark.parametrize("ref,word", [("bindle:foo/1.0.0", "bindle"), ("oci:foo:bar", "oci"),
                                      ("oci://example.com/foo:dev", "oci")])
def test_bindle_and_oci_refused(tmp_path, ref, word):
    err = start_fails(tmp_path, module_entry("/", ref, bindle_server="http://localhost:8080/v1"))
    assert word in err.lower(), err


def test_unknown_scheme_refused(tmp_path):
    err = start_fails(tmp_path, module_entry("/", "ftp://example.com/x.wasm"))
    assert "ftp" in err, err


def test_bindle_flag_refused(tmp_path):
    p = run_wagi(["-b", "foo/1.0.0", "--bindle-path", tmp_path], cwd=tmp_path)
    assert p.returncode != 0
    assert "bindle" in p.stderr.lower()


def test_no_config_flag(tmp_path):
    p = run_wagi(["--listen", "127.0.0.1:1"], cwd=tmp_path)
    assert p.returncode != 0


def test_config_and_bindle_together(tmp_path, modules):
    cfg = tmp_path / "modules.toml"
    cfg.write_text(module_entry("/", modules["env"]))
    p = run_wagi(["-c", cfg, "-b", "foo/1.0.0"], cwd=tmp_path)
    assert p.returncode != 0


def test_config_file_missing(tmp_path):
    p = run_wagi(["--config", tmp_path / "absent.toml"], cwd=tmp_path)
    assert p.returncode != 0
    assert "absent.toml" in p.stderr


def test_bare_allowed_host_refused(tmp_path, modules):
    err = start_fails(tmp_path, module_entry("/", modules["env"], allowed_hosts=["example.com"]))
    assert "allowed_hosts" in err or "example.com" in err, err


def test_zero_http_max_concurrency_refused(tmp_path, modules):
    err = start_fails(tmp_path, module_entry("/", modules["env"], http_max_concurrency=0))
    assert "http_max_concurrency" in err, err


def test_missing_module_file(tmp_path):
    err = start_fails(tmp_path, module_entry("/", "nowhere/missing.wasm"))
    assert "missing.wasm" in err, err


def test_invalid_wasm(tmp_path):
    (tmp_path / "broken.wasm").write_bytes(INVALID_WASM)
    err = start_fails(tmp_path, module_entry("/", "broken.wasm"))
    assert "broken.wasm" in err, err


def test_bad_wat(tmp_path):
    (tmp_path / "bad.wat").write_text(BAD_WAT)
    err = start_fails(tmp_path, module_entry("/", "bad.wat"))
    assert "bad.wat" in err, err
    assert "not valid WAT" in err and "bad.wat:4:" in err, err   # wat2wasm's line:column


@pytest.mark.parametrize("data", [bytes(range(256)) * 4, b"just some text\n", b""])
def test_garbage_module_is_neither_wasm_nor_wat(tmp_path, data):
    """A file that is neither binary wasm nor WAT text is named as such; wat2wasm
    is not run on it, so none of its output is dumped."""
    (tmp_path / "junk.wasm").write_bytes(data)
    err = start_fails(tmp_path, module_entry("/", "junk.wasm"))
    assert "junk.wasm: neither a WebAssembly module (no \\0asm header) nor WAT text" in err, err
    assert "wat2wasm" not in err and "error:" not in err.split("wagi: error:", 1)[1], err


def test_bad_module_among_good_ones(tmp_path, modules):
    (tmp_path / "broken.wasm").write_bytes(INVALID_WASM)
    err = start_fails(tmp_path, module_entry("/a", modules["env"]) +
                      module_entry("/b", "broken.wasm"))
    assert "broken.wasm" in err, err


@pytest.mark.parametrize("text,why", [
    ("/only-one-field\\n", "field"),
    ("/a b c\\n", "field"),
    ("", "empty"),
])
def test_bad_routes_output_refused(tmp_path, text, why):
    n = len(text.replace("\\n", "\n"))
    mod = wat2wasm(tmp_path, "r", BAD_ROUTES_WAT % (text, n))
    err = start_fails(tmp_path, module_entry("/", mod))
    assert why in err.lower() or "_routes" in err, err


def test_routes_output_with_nul_refused(tmp_path):
    text = "/a\\00b _start\\n"                  # WAT: "\00" is one NUL byte
    mod = wat2wasm(tmp_path, "r", BAD_ROUTES_WAT % (text, 12))
    err = start_fails(tmp_path, module_entry("/", mod))
    assert "_routes" in err and "line 1: holds a NUL byte" in err, err


def test_trapping_routes_refused(tmp_path):
    mod = wat2wasm(tmp_path, "t", TRAP_ROUTES_WAT)
    err = start_fails(tmp_path, module_entry("/", mod))
    assert "_routes" in err, err


def test_missing_entrypoint_refused(tmp_path, modules):
    """The exports are known at startup: a missing entrypoint stops the
    server there, naming the file's line, the module, the name and the
    function exports, instead of a 500 for every request."""
    mod = modules["env"]
    cfg = (module_entry("/ok", mod) + module_entry("/x", mod, entrypoint="nosuch"))
    err = start_fails(tmp_path, cfg)
    line = cfg.splitlines().index("route = \"/x\"")   # 0-based: the [[module]] line
    assert re.search(rf'modules\.toml:{line}: module "{re.escape(str(mod))}": '
                     r'no exported function "nosuch" \(it exports: [^)]*\)', err), err
    exports = re.search(r"it exports: ([^)]*)\)", err).group(1).split(", ")
    assert "_start" in exports and "other" in exports and "memory" not in exports, err


def test_missing_default_start_refused(tmp_path):
    mod = wat2wasm(tmp_path, "lib", '(module (func (export "f")) (memory (export "memory") 1))')
    err = start_fails(tmp_path, module_entry("/", mod))
    assert re.search(r'modules\.toml:1: module "lib\.wasm": no exported function "_start" '
                     r'\(it exports: f\)', err), err


# BAD_ROUTES_WAT without _start: its only other export is on_a.
ROUTES_ONLY_WAT = BAD_ROUTES_WAT.replace('(func (export "_start")))', '(func (export "on_a")))')
assert ROUTES_ONLY_WAT != BAD_ROUTES_WAT


def test_routes_entrypoint_missing_refused(tmp_path):
    text = "/a on_a\\n/b on_b\\n"
    mod = wat2wasm(tmp_path, "r", ROUTES_ONLY_WAT % (text, len(text.replace("\\n", "\n"))))
    err = start_fails(tmp_path, module_entry("/...", mod))
    assert re.search(r'modules\.toml:1: module "r\.wasm": _routes maps /b to "on_b", which is '
                     r'no exported function \(it exports: _routes, on_a\)', err), err


def test_routes_module_without_start_warns(tmp_path, server_factory):
    """A module whose handlers all come from `_routes` need not export
    _start: a warning, and only the configured route itself gets 500."""
    text = "/a on_a\\n"
    mod = wat2wasm(tmp_path, "r", ROUTES_ONLY_WAT % (text, len(text.replace("\\n", "\n"))))
    s = server_factory(module_entry("/p/...", str(tmp_path / mod)))
    assert s.wait_log('no exported function "_start"'), s.logs()
    assert "/p/..." in s.logs()
    assert s.get("/p/a").status == 500            # on_a prints nothing: no Content-Type
    assert s.get("/p/other").status == 500        # the configured route: no _start
    assert s.get("/healthz").status == 200


def test_relative_module_path_from_cwd(tmp_path, modules, server_factory):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "e.wasm").write_bytes(modules["env"].read_bytes())
    s = server_factory(module_entry("/", "mods/e.wasm") + module_entry("/f", "file://" +
                                                                       str(tmp_path / "mods" /
                                                                           "e.wasm")),
                       cwd=tmp_path)
    assert s.get("/").status == 200
    assert s.get("/f").status == 200


def test_ready_line(modules, server_factory):
    s = server_factory(module_entry("/", modules["env"]))
    assert f"Ready: serving on http://127.0.0.1:{s.port}" in "".join(s.out)


def test_wat_module_temp_file_goes_to_tmpdir(modules, tmp_path, monkeypatch):
    """wat2wasm writes its output to a temporary file in $TMPDIR: a TMPDIR
    that does not exist stops the startup with a message naming it."""
    missing = tmp_path / "no-such-tmpdir"
    monkeypatch.setenv("TMPDIR", str(missing))
    err = start_fails(tmp_path, module_entry("/hello", modules["hello.wat"]))
    assert f"cannot create a temporary file for wat2wasm in {missing}:" in err, err


def test_wat_module_served_with_tmpdir(modules, server_factory, tmp_path, monkeypatch):
    """With a usable TMPDIR the WAT module is served, and its temporary
    file is gone once the server runs."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    s = server_factory(module_entry("/hello", modules["hello.wat"]))
    r = s.get("/hello")
    assert (r.status, r.body) == (200, b"Oh hi world\r\n")
    assert list(tmpdir.iterdir()) == []
