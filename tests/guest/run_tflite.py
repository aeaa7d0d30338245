#!/usr/bin/python3
"""wagi_tflite in the sandbox: tests/guest/tflite_run.c built for wasm32-wasi
(SIMD128) runs through `wagi run` with the models directory preopened, and
must print the very bytes the same program built natively prints (scalar
kernels); so must the native build with the SIMD128 kernels through SIMDe
(--native-simd), whose SIMD and scalar kernels must also agree natively.

    /usr/bin/python3 tests/guest/run_tflite.py --wagi BUILD/wagi \
        --wasm BUILD/guest/tflite_run.wasm --native BUILD/guest/tflite_run \
        [--native-simd BUILD/guest/tflite_run_simde] [--aot]

Models: $WAGI_MODELS or ../shared/models; without them the cases say that
they skip and why. --aot also compiles the module with `wagi compile` and
runs the .wasmc. Prints one line per case and "tflite: N passed, N failed".
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

MODEL = "mobilenet_v2_1.0_224_quant.tflite"
TIMEOUT = 600
# top-1 class of each photo (shared/models/README.md)
TOP1 = {"grace_hopper.jpg": 653, "cat.bmp": 286, "parrot.jpg": 89, "hot_dog.jpg": 935}


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wagi", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--native", required=True)
    ap.add_argument("--native-simd")
    ap.add_argument("--aot", action="store_true")
    args = ap.parse_args()
    models = os.path.abspath(os.environ.get("WAGI_MODELS") or "../shared/models")
    if not os.path.isfile(os.path.join(models, MODEL)):
        print(f"tflite: skipped: {os.path.join(models, MODEL)} not found (set WAGI_MODELS to shared/models)")
        print("tflite: 0 passed, 0 failed")
        return 0

    native_out = {}

    def sandbox(module, *argv, tier=None, dir_=models):
        cmd = [args.wagi, "run"] + (["--tier", tier] if tier else []) + ["--dir", f"{dir_}::/models", module]
        return run(cmd + list(argv))

    def native(photo):
        def f():
            rc, out, err = run([args.native, "classify", os.path.join(models, MODEL), os.path.join(models, photo)])
            check(rc == 0, f"exit {rc}: {err}")
            check(out.splitlines()[-1] == f"top1 {TOP1[photo]}", f"{out.splitlines()[-1]}, want top1 {TOP1[photo]}")
            native_out[(photo,)] = out
        return f

    def same_as_native(photo, module, tier, *extra):
        """module runs in the sandbox; tier "native-simd" runs it natively"""
        def f():
            key = (photo,) + extra
            if key not in native_out:
                rc, out, err = run([args.native, "classify", os.path.join(models, MODEL), os.path.join(models, photo),
                                    *extra])
                check(rc == 0, f"native: exit {rc}: {err}")
                native_out[key] = out
            if tier == "native-simd":
                rc, out, err = run([module, "classify", os.path.join(models, MODEL), os.path.join(models, photo),
                                    *extra])
            else:
                rc, out, err = sandbox(module, "classify", f"/models/{MODEL}", f"/models/{photo}", *extra, tier=tier)
            check(rc == 0, f"exit {rc}: {err}")
            check(out == native_out[key], f"output differs from native: {out[-40:]!r} vs {native_out[key][-40:]!r}")
        return f

    def simd_check():
        rc, out, err = sandbox(args.wasm, "simd-check", f"/models/{MODEL}", "/models/cat.bmp", tier="interp")
        check(rc == 0 and out.strip() == "simd-check ok", f"exit {rc}: {out} {err}")

    def native_simd_check():
        rc, out, err = run([args.native_simd, "simd-check", os.path.join(models, MODEL),
                            os.path.join(models, "cat.bmp")])
        check(rc == 0 and out.strip() == "simd-check ok", f"exit {rc}: {out} {err}")

    def bad_model():
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(models, MODEL), "rb") as f:
                data = f.read()
            with open(os.path.join(d, MODEL), "wb") as f:
                f.write(data[: len(data) // 2])
            shutil.copy(os.path.join(models, "cat.bmp"), d)
            rc, out, err = sandbox(args.wasm, "classify", f"/models/{MODEL}", "/models/cat.bmp", dir_=d,
                                   tier="interp")
            check(rc == 1, f"exit {rc}, want 1: {err}")
            check("outside the file" in err and MODEL in err, f"message: {err!r}")

    cases = [(f"native {p}: top-1 {TOP1[p]}", native(p)) for p in TOP1]
    cases += [
        ("wasm (interpreter) cat.bmp: same bytes as native", same_as_native("cat.bmp", args.wasm, "interp")),
        ("wasm (interpreter) hot_dog.jpg: same bytes as native", same_as_native("hot_dog.jpg", args.wasm, "interp")),
        ("wasm (interpreter) cat.bmp logits: same bytes as native",
         same_as_native("cat.bmp", args.wasm, "interp", "--logits")),
        ("wasm: SIMD128 and scalar kernels agree", simd_check),
        ("wasm: a truncated model is an error naming it", bad_model),
    ]
    if args.native_simd:
        cases += [
            ("native SIMD128 (SIMDe) cat.bmp logits: same bytes as native scalar",
             same_as_native("cat.bmp", args.native_simd, "native-simd", "--logits")),
            ("native SIMD128 (SIMDe) grace_hopper.jpg: same bytes as native scalar",
             same_as_native("grace_hopper.jpg", args.native_simd, "native-simd")),
            ("native SIMD128 (SIMDe): SIMD128 and scalar kernels agree", native_simd_check),
        ]
    tmp = None
    if args.aot:
        tmp = tempfile.mkdtemp()
        wasmc = os.path.join(tmp, "tflite_run.wasmc")

        def compile_aot():
            rc, out, err = run([args.wagi, "compile", args.wasm, "-o", wasmc])
            check(rc == 0, f"exit {rc}: {err}")
        cases.append(("AOT: wagi compile", compile_aot))
        for p in TOP1:
            cases.append((f"AOT {p}: same bytes as native", same_as_native(p, wasmc, None)))
        cases.append(("AOT cat.bmp logits: same bytes as native", same_as_native("cat.bmp", wasmc, None, "--logits")))
    passed = failed = 0
    for name, fn in cases:
        try:
            fn()
            print(f"ok   {name}")
            passed += 1
        except (AssertionError, OSError, subprocess.TimeoutExpired, IndexError) as e:
            print(f"FAIL {name}: {e}")
            failed += 1
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"tflite: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
