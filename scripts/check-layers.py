#!/usr/bin/env python3
"""check-layers.py — the layer rules of DEVELOPERS.md, checked on every
#include "..." in the tree. Prints one line per violation and a summary
"layers: N passed, N failed" (one check per file). Exit 1 on a violation.

Rules:
 1. A file in src/LAYER/ includes headers of its own layer and of the layers
    LAYER depends on (the table below, the same as DEVELOPERS.md's), never
    of a layer above it; where ONLY names headers (eventgrid uses only the
    TOML parser of server/), only those.
 2. A layer's internal headers (INTERNAL below: the engine's wasm_int.h,
    code.h, ..., and every *_int.h) are included only by that layer's own
    files. White-box unit tests (tests/unit/) are the one exception: they
    test a layer's internals on purpose.
 3. Inside src/, a header of another folder is named with its folder
    ("wasi/wasi.h"); a bare name must be a file beside the includer, so no
    -I flag can make another layer's header look local.
 4. guest/ and examples/ are compiled into modules (wasm32-wasi): they never
    include host code from src/.
"""
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# layer -> layers it may include (besides itself)
DEPENDS = {
    "base": set(),
    "wasm": {"base"},
    "wasi": {"wasm", "base"},
    "http": {"wasm", "base"},
    "server": {"wasi", "http", "wasm", "base"},
    "eventgrid": {"server", "base"},
    "cli": {"eventgrid", "server", "wasi", "http", "wasm", "base"},
}

# layer -> {lower layer: the only headers of it that layer may include}; a
# lower layer not named here may be included through any public header.
ONLY = {
    "eventgrid": {"server": {"server/toml.h"}},
}

# Headers that only their own layer may include (rule 2).
INTERNAL = {"wasm/wasm_int.h", "wasm/code.h", "wasm/simd_ops.h", "wasm/numops.h", "wasm/opcodes.def",
            "wasm/iops.inc"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE_EXT = (".c", ".h", ".def", ".inc")
# Trees whose files follow rules 1-3 by their own folder, or only rule 2.
CHECKED = ["src", "bench", "tests", "guest", "examples"]


def layer_of(rel):
    parts = rel.split("/")
    if parts[0] == "src" and len(parts) > 2 and parts[1] in DEPENDS:
        return parts[1]
    return None


# Headers the build generates (into build/gen/) for a layer's own files.
GENERATED = {"wasm/aot_headers.h"}


def is_internal(header):
    return header in INTERNAL or header.endswith("_int.h")


def check_file(rel, violations):
    path = os.path.join(TOP, rel)
    here = os.path.dirname(path)
    layer = layer_of(rel)
    top = rel.split("/")[0]
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            where = f"{rel}:{lineno}: #include \"{inc}\""
            beside = os.path.exists(os.path.join(here, inc)) or f"{layer}/{inc}" in GENERATED
            if top in ("guest", "examples"):
                target = inc.split("/")[0]
                if target in DEPENDS and not beside:
                    violations.append(f"{where}: module code (wasm32-wasi) includes host code from src/{target}/")
                continue
            if "/" not in inc:
                if layer and not beside:
                    violations.append(f"{where}: not a file in src/{layer}/; name another layer's header with its folder")
                # outside src/, bare names are the test's own or generated headers
                if not layer or not is_internal(f"{layer}/{inc}"):
                    continue
                inc_full = f"{layer}/{inc}"
            else:
                inc_full = inc
            target = inc_full.split("/")[0]
            if target not in DEPENDS:
                continue  # not one of ours (e.g. a test's own subfolder)
            if layer and target != layer and target not in DEPENDS[layer]:
                violations.append(f"{where}: src/{layer}/ may not depend on src/{target}/ (a layer above it)")
            elif layer and inc_full not in ONLY.get(layer, {}).get(target, {inc_full}):
                allowed = ", ".join(sorted(ONLY[layer][target]))
                violations.append(f"{where}: src/{layer}/ may use only {allowed} of src/{target}/")
            if is_internal(inc_full) and target != layer:
                if rel.startswith("tests/unit/"):
                    continue
                violations.append(f"{where}: {inc_full} is internal to src/{target}/; use its public header")


def main():
    files = []
    for root in CHECKED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(TOP, root)):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.endswith(SOURCE_EXT):
                    files.append(os.path.relpath(os.path.join(dirpath, name), TOP))
    files.sort()
    failed = 0
    for rel in files:
        violations = []
        check_file(rel, violations)
        for v in violations:
            print(v)
        failed += bool(violations)
    print(f"layers: {len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
