#!/usr/bin/python3
"""Seed corpus for the wagi_tflite fuzz target (tests/fuzz/tflite_fuzz.c).

    make_tflite_seeds.py OUTDIR [MODEL.tflite]

Writes small uint8 models in the TFLite schema (v3) that use all six
supported operators on 8x8x3 inputs, in variants (strides, SAME/VALID,
dilation, depth multiplier, activations), so that the fuzzer starts from
graphs it can run in microseconds; and, given the real model, a few
truncations of it (the whole file is 3.6 MB and takes a while per run, so
only its head and tail structures go in).

The writer lays objects out front to back: a table is written, then the
objects it refers to after it, so every uoffset is positive as the format
requires; each table's vtable sits just before it.
"""
import os
import random
import struct
import sys


class Table:
    def __init__(self, *fields):
        # fields: list of (kind, value) by field index; None = absent.
        # kinds: 'u8','i8','i32','u32','f32','i64','u64' scalars, 'ref' object
        self.fields = list(fields)


class Vec:
    def __init__(self, kind, items):
        self.kind, self.items = kind, items  # kind: 'u8','i32','f32','i64' or 'ref'


class Str:
    def __init__(self, s):
        self.data = s.encode()


SIZES = {"u8": 1, "i8": 1, "i32": 4, "u32": 4, "f32": 4, "i64": 8, "u64": 8, "ref": 4}
FMT = {"u8": "<B", "i8": "<b", "i32": "<i", "u32": "<I", "f32": "<f", "i64": "<q", "u64": "<Q"}


def serialize(root, ident=b"TFL3"):
    out = bytearray(struct.pack("<I", 0) + ident)
    queue = [(root, 0)]  # (object, position of the uoffset that refers to it)

    def align(n):
        while len(out) % n:
            out.append(0)

    while queue:
        obj, ref_at = queue.pop(0)
        if isinstance(obj, Table):
            layout, size = [], 4
            for i, f in enumerate(obj.fields):
                if f is None:
                    layout.append(0)
                    continue
                kind = f[0]
                w = SIZES[kind]
                size = (size + w - 1) // w * w
                layout.append(size)
                size += w
            vt = struct.pack("<HH", 4 + 2 * len(layout), size) + b"".join(struct.pack("<H", o) for o in layout)
            align(4)
            if len(vt) % 4:
                out.extend(b"\0\0")  # so the table after the vtable is 4-aligned
            vt_pos = len(out)
            out.extend(vt)
            align(8)
            t = len(out)
            out.extend(b"\0" * size)
            struct.pack_into("<i", out, t, t - vt_pos)
            for f, off in zip(obj.fields, layout):
                if f is None:
                    continue
                kind, val = f
                if kind == "ref":
                    queue.append((val, t + off))
                else:
                    struct.pack_into(FMT[kind], out, t + off, val)
            target = t
        elif isinstance(obj, Vec):
            w = SIZES[obj.kind]
            align(max(4, w if w == 8 else 4))
            if w == 8 and len(out) % 8 != 4:
                out.extend(b"\0\0\0\0")  # elements 8-aligned
            target = len(out)
            out.extend(struct.pack("<I", len(obj.items)))
            base = len(out)
            out.extend(b"\0" * (w * len(obj.items)))
            for i, v in enumerate(obj.items):
                if obj.kind == "ref":
                    queue.append((v, base + 4 * i))
                else:
                    struct.pack_into(FMT[obj.kind], out, base + w * i, v)
        else:  # Str
            align(4)
            target = len(out)
            out.extend(struct.pack("<I", len(obj.data)) + obj.data + b"\0")
        struct.pack_into("<I", out, ref_at, target - ref_at if ref_at else target)
    return bytes(out)


def out_size(same, n, f, s, d):
    eff = (f - 1) * d + 1
    return (n + s - 1) // s if same else (n + s - eff) // s


def model(rng, stride=2, same=True, dilation=1, dm=1, act=3, pool_valid=True):
    buffers = [Table()]  # buffer 0: empty, as converters write it
    tensors = []

    def tensor(name, shape, scale, zp, ttype=3, data=None):
        b = 0
        if data is not None:
            buffers.append(Table(("ref", Vec("u8", list(data)))))
            b = len(buffers) - 1
        q = Table(None, None, ("ref", Vec("f32", [scale])), ("ref", Vec("i64", [zp])))
        tensors.append(Table(("ref", Vec("i32", shape)), ("i8", ttype), ("u32", b), ("ref", Str(name)), ("ref", q)))
        return len(tensors) - 1

    def u8s(n):
        return bytes(rng.randrange(256) for _ in range(n))

    def i32s(vals):
        return b"".join(struct.pack("<i", v) for v in vals)

    H = W = 8
    x = tensor("input", [1, H, W, 3], 1 / 128, 128)
    # conv 3x3
    c1 = 4
    h1, w1 = out_size(same, H, 3, stride, dilation), out_size(same, W, 3, stride, dilation)
    f1 = tensor("f1", [c1, 3, 3, 3], 0.02, rng.randrange(100, 156), data=u8s(c1 * 27))
    b1 = tensor("b1", [c1], 0.02 / 128, 0, ttype=2, data=i32s([rng.randrange(-2000, 2000) for _ in range(c1)]))
    t1 = tensor("t1", [1, h1, w1, c1], 0.05, 0 if act == 3 else 128)
    # depthwise 3x3
    c2 = c1 * dm
    f2 = tensor("f2", [1, 3, 3, c2], 0.03, rng.randrange(100, 156), data=u8s(9 * c2))
    b2 = tensor("b2", [c2], 0.05 * 0.03, 0, ttype=2, data=i32s([rng.randrange(-500, 500) for _ in range(c2)]))
    t2 = tensor("t2", [1, h1, w1, c2], 0.05, 0 if act == 3 else 128)
    # pointwise back to c1
    f3 = tensor("f3", [c1, 1, 1, c2], 0.02, rng.randrange(100, 156), data=u8s(c1 * c2))
    b3 = tensor("b3", [c1], 0.05 * 0.02, 0, ttype=2, data=i32s([rng.randrange(-500, 500) for _ in range(c1)]))
    t3 = tensor("t3", [1, h1, w1, c1], 0.04, 120)
    t4 = tensor("t4", [1, h1, w1, c1], 0.06, 110)  # t3 + t1
    ph, pw = (h1, w1) if pool_valid else (2, 2)
    t5 = tensor("t5", [1, out_size(not pool_valid, h1, ph, ph, 1), out_size(not pool_valid, w1, pw, pw, 1), c1],
                0.06, 110)
    classes = 5
    f6 = tensor("f6", [classes, 1, 1, c1], 0.01, rng.randrange(100, 156), data=u8s(classes * c1))
    b6 = tensor("b6", [classes], 0.06 * 0.01, 0, ttype=2, data=i32s([rng.randrange(-300, 300) for _ in range(classes)]))
    p5 = 1
    t6 = tensor("t6", [1, 1, 1, classes], 0.1, 60) if pool_valid else None
    if not pool_valid:
        p5 = 4
        t6 = tensor("t6", [1, 2, 2, classes], 0.1, 60)
    shape = tensor("shape", [2], 1.0, 0, ttype=2, data=i32s([p5, classes]))
    t7 = tensor("t7", [p5, classes], 0.1, 60)
    y = tensor("output", [p5, classes], 1 / 256, 0)

    codes = [Table(("i8", c), None, ("i32", 1), ("i32", c)) for c in (3, 4, 0, 1, 22, 25)]
    CONV, DW, ADD, POOL, RESHAPE, SOFTMAX = range(6)
    pad = 0 if same else 1
    ops = [
        Table(("u32", CONV), ("ref", Vec("i32", [x, f1, b1])), ("ref", Vec("i32", [t1])), ("u8", 1),
              ("ref", Table(("i8", pad), ("i32", stride), ("i32", stride), ("i8", act), ("i32", dilation), ("i32", dilation)))),
        Table(("u32", DW), ("ref", Vec("i32", [t1, f2, b2])), ("ref", Vec("i32", [t2])), ("u8", 2),
              ("ref", Table(("i8", 0), ("i32", 1), ("i32", 1), ("i32", dm), ("i8", act)))),
        Table(("u32", CONV), ("ref", Vec("i32", [t2, f3, b3])), ("ref", Vec("i32", [t3])), ("u8", 1),
              ("ref", Table(("i8", 1), ("i32", 1), ("i32", 1), ("i8", 0)))),
        Table(("u32", ADD), ("ref", Vec("i32", [t3, t1])), ("ref", Vec("i32", [t4])), ("u8", 11),
              ("ref", Table(("i8", 0)))),
        Table(("u32", POOL), ("ref", Vec("i32", [t4])), ("ref", Vec("i32", [t5])), ("u8", 5),
              ("ref", Table(("i8", 1 if pool_valid else 0), ("i32", pw), ("i32", ph), ("i32", pw), ("i32", ph), ("i8", 0)))),
        Table(("u32", CONV), ("ref", Vec("i32", [t5, f6, b6])), ("ref", Vec("i32", [t6])), ("u8", 1),
              ("ref", Table(("i8", 1), ("i32", 1), ("i32", 1), ("i8", 0)))),
        Table(("u32", RESHAPE), ("ref", Vec("i32", [t6, shape])), ("ref", Vec("i32", [t7])), ("u8", 17),
              ("ref", Table(("ref", Vec("i32", [p5, classes]))))),
        Table(("u32", SOFTMAX), ("ref", Vec("i32", [t7])), ("ref", Vec("i32", [y])), ("u8", 9),
              ("ref", Table(("f32", 1.0)))),
    ]
    sub = Table(("ref", Vec("ref", tensors)), ("ref", Vec("i32", [x])), ("ref", Vec("i32", [y])),
                ("ref", Vec("ref", ops)), ("ref", Str("main")))
    root = Table(("u32", 3), ("ref", Vec("ref", codes)), ("ref", Vec("ref", [sub])), ("ref", Str("seed")),
                 ("ref", Vec("ref", buffers)))
    return serialize(root)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(19)
    variants = [
        dict(),
        dict(stride=1),
        dict(same=False),
        dict(dilation=2, stride=1),
        dict(dm=2),
        dict(act=0, pool_valid=False),
        dict(act=1, stride=3),
    ]
    for i, v in enumerate(variants):
        with open(os.path.join(outdir, f"tiny{i}.tflite"), "wb") as f:
            f.write(model(rng, **v))
    if len(sys.argv) > 2 and os.path.isfile(sys.argv[2]):
        with open(sys.argv[2], "rb") as f:
            data = f.read()
        for n in (8, 64, 900, 4096):
            with open(os.path.join(outdir, f"real_head{n}.tflite"), "wb") as f:
                f.write(data[:n])
    return 0


if __name__ == "__main__":
    sys.exit(main())
