#!/usr/bin/env python3
"""Measure ONNX Runtime CPU forward throughput of one model, as the baseline for qscope's executor.

  python3 tools/bench_ort.py MODEL.onnx --data X.npz --batch B [--runs R] [--warmup W] [--threads 2] [--json]

Session: CPUExecutionProvider, intra_op_num_threads = --threads (default 2), inter_op_num_threads 1,
sequential execution, graph optimizations ORT_ENABLE_ALL (the default). The batch is the first B
samples of `x` in the .npz (repeated when B exceeds the sample count). After the warm-up runs, each of
R runs times one session.run with time.perf_counter; reports the best and the median.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--data", required=True, help=".npz with x (float32, model input layout)")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)
    if args.batch < 1 or args.runs < 1 or args.warmup < 0:
        ap.error("--batch and --runs must be >= 1, --warmup >= 0")

    import onnxruntime as ort

    with np.load(args.data) as d:
        x_all = np.asarray(d["x"], dtype=np.float32)
    n = len(x_all)
    idx = np.arange(args.batch) % n
    x = np.ascontiguousarray(x_all[idx])

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    outs = [o.name for o in sess.get_outputs()]

    for _ in range(args.warmup):
        sess.run(outs, feed)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        sess.run(outs, feed)
        times.append(time.perf_counter() - t0)
    best = min(times)
    median = statistics.median(times)
    ips = args.batch / best

    if args.json:
        print(json.dumps({
            "runtime": "onnxruntime",
            "version": ort.__version__,
            "model": args.model,
            "batch": args.batch,
            "threads": args.threads,
            "runs": args.runs,
            "warmup": args.warmup,
            "best_seconds": best,
            "median_seconds": median,
            "images_per_second": ips,
        }))
    else:
        print(f"onnxruntime {ort.__version__}  {os.path.basename(args.model)}  batch {args.batch}  "
              f"threads {args.threads}  runs {args.runs} (warm-up {args.warmup})")
        print(f"  best   {best * 1e3:9.3f} ms/batch  {ips:10.1f} images/s")
        print(f"  median {median * 1e3:9.3f} ms/batch  {args.batch / median:10.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
