#!/usr/bin/python3
"""bench/tf/armnn_bench.py MODEL IMAGE RUNS: Debian's Arm NN 20.08 (CpuRef
backend) on the same model and image, the way ../shared/models/
classify_armnn.py computes the reference vectors (Pillow decode, RGB,
BILINEAR resize of the whole image, raw bytes in). Prints the best of RUNS
for each step, in the format of infer_bench.c:

  model_load_ms  parse + optimize + load the network (once)
  decode_ms, resize_ms, invoke_ms (EnqueueWorkload)
  top1 INDEX Q
"""
import os
import sys
import time

import numpy as np
import pyarmnn as ann
from PIL import Image


def main():
    model, image, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(model)
    in_name = parser.GetSubgraphInputTensorNames(0)[0]
    out_name = parser.GetSubgraphOutputTensorNames(0)[0]
    ib = parser.GetNetworkInputBindingInfo(0, in_name)
    ob = parser.GetNetworkOutputBindingInfo(0, out_name)
    opts = ann.CreationOptions()
    opts.m_DynamicBackendsPath = os.environ.get("ARMNN_BACKENDS",
                                                "/usr/lib/x86_64-linux-gnu/armnn22")
    rt = ann.IRuntime(opts)
    opt_net, _ = ann.Optimize(net, [ann.BackendId("CpuRef")], rt.GetDeviceSpec(),
                              ann.OptimizerOptions())
    net_id, _ = rt.LoadNetwork(opt_net)
    load_ms = (time.perf_counter() - t0) * 1e3
    best = {"decode": 1e300, "resize": 1e300, "invoke": 1e300}
    q = None
    for _ in range(runs):
        t0 = time.perf_counter()
        img = Image.open(image).convert("RGB")
        t1 = time.perf_counter()
        x = np.asarray(img.resize((224, 224), Image.BILINEAR), dtype=np.uint8).reshape(1, 224, 224, 3)
        t2 = time.perf_counter()
        in_t = ann.make_input_tensors([ib], [x])
        out_t = ann.make_output_tensors([ob])
        rt.EnqueueWorkload(net_id, in_t, out_t)
        q = ann.workload_tensors_to_ndarray(out_t)[0].reshape(-1)
        t3 = time.perf_counter()
        for k, v in (("decode", t1 - t0), ("resize", t2 - t1), ("invoke", t3 - t2)):
            best[k] = min(best[k], v * 1e3)
    print(f"model_load_ms {load_ms:.3f}")
    for k in ("decode", "resize", "invoke"):
        print(f"{k}_ms {best[k]:.3f}")
    top = int(np.argmax(q))
    print(f"top1 {top} {int(q[top])}")


if __name__ == "__main__":
    main()
