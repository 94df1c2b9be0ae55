#!/usr/bin/env python3
"""Forward throughput of qscope against ONNX Runtime on the same model files and data, same run.

  python3 tools/bench_vs_ort.py [--rounds 5] [--runs 20] [--batches 256,1] [--models mlp,cnn,vit,vit_encoder]

For each model and batch the two are run alternately, round after round (qscope, ORT, qscope, ORT,
...), so that drift in the shared machine's speed hits both alike. Each round runs
`qscope bench --json` (release build at .build/release/qscope; build it first with
`swift build -c release`) and `tools/bench_ort.py --json` (ONNX Runtime CPU, 2 intra-op threads),
both reporting their best of --runs timed forward passes after a warm-up. The table gives the median
over rounds of those per-round bests, in images/s, and the median of the per-round ratios
qscope / ORT (> 1 means qscope is faster). Needs python3 with numpy and onnxruntime.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz")
MODELS = {
    "mlp": "sample-models/mlp.onnx",
    "cnn": "sample-models/cnn.onnx",
    "vit": "sample-models/vit.onnx",
    "vit_encoder": "Tests/Fixtures/models/vit_encoder.onnx",
}


def run_json(command):
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--batches", default="256,1")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--qscope", default=os.path.join(ROOT, ".build", "release", "qscope"))
    args = ap.parse_args()
    if not os.path.exists(args.qscope):
        sys.exit(f"{args.qscope}: not built; run swift build -c release first")
    rows = []
    for name in args.models.split(","):
        model = MODELS[name]
        for batch in [int(b) for b in args.batches.split(",")]:
            ours, theirs, ratios = [], [], []
            for _ in range(args.rounds):
                q = run_json([args.qscope, "bench", model, "--data", DATA, "--batch", str(batch),
                              "--runs", str(args.runs), "--json"])["images_per_second"]
                o = run_json([sys.executable, os.path.join(ROOT, "tools", "bench_ort.py"), model, "--data", DATA,
                              "--batch", str(batch), "--runs", str(args.runs), "--json"])["images_per_second"]
                ours.append(q)
                theirs.append(o)
                ratios.append(q / o)
            rows.append((name, batch, statistics.median(ours), statistics.median(theirs), statistics.median(ratios),
                         min(ratios), max(ratios)))
            r = rows[-1]
            print(f"{r[0]:<12} batch {r[1]:>4}: qscope {r[2]:>10.0f} img/s  ORT {r[3]:>10.0f} img/s  "
                  f"ratio {r[4]:.2f} (min {r[5]:.2f}, max {r[6]:.2f})", flush=True)
    print()
    print("| model | batch | qscope img/s | ONNX Runtime img/s | qscope / ORT (median, min-max) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.0f} | {r[4]:.2f} ({r[5]:.2f}-{r[6]:.2f}) |")


if __name__ == "__main__":
    main()
