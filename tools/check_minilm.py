#!/usr/bin/env python3
"""Checks qscope on all-MiniLM-L6-v2 against the references `make_transformer_fixtures.py --minilm`
wrote into its cache folder, and measures its forward speed against ONNX Runtime in the same run.

  python3 tools/make_transformer_fixtures.py --minilm      # once: ~/.cache/qscope/minilm
  swift build -c release
  python3 tools/check_minilm.py [--cache-dir DIR] [--rounds 5] [--skip-hessian] [--skip-speed]

1. FP32 embeddings of the 512 sentences (64 tokens) against ONNX Runtime's: max |qscope - ORT| over
   max |ORT| (acceptance: <= 1e-4).
2. Weight-only int8, int4, fp8:e4m3, fp4:e2m1 on every Linear: qscope's mean cosine to FP32 against
   PyTorch fake-quant's (acceptance: within 0.002).
3. `analyze --only hessian --hessian-samples 64 --probes 20 --tolerance 0`: each layer's trace against
   the PyTorch float64 double-backward reference, in combined standard errors
   (acceptance: within 3), and the peak resident memory of the run (acceptance: < 8 GiB). With the
   same-probe reference (`make_transformer_fixtures.py --same-probes N`), also each trace against
   PyTorch's on qscope's own first N probe vectors: only float32 rounding separates them.
4. Forward throughput at batch 32: `qscope bench --batch 32` and ONNX Runtime (2 intra-op threads,
   all graph optimizations) alternated round by round; best of each round, median over rounds.

Prints a Markdown table per part (what BENCHMARKS.md quotes) and exits 1 when an acceptance bound
fails. Needs python3 with numpy and onnxruntime; GNU time (/usr/bin/time) for the peak memory.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(command, **kwargs):
    return subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, **kwargs)


def run_json(command):
    return json.loads(run(command).stdout.strip().splitlines()[-1])


def ort_best_seconds(model, feeds, runs):
    """Best and median seconds of `runs` ORT passes after 3 warm-ups, in a fresh subprocess."""
    code = f"""
import json, sys, time, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 2; o.inter_op_num_threads = 1
o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
s = ort.InferenceSession({model!r}, o, providers=["CPUExecutionProvider"])
d = np.load({feeds!r}); feed = {{k: d[k] for k in d.files}}
for _ in range(3): s.run(None, feed)
t = []
for _ in range({runs}):
    a = time.perf_counter(); s.run(None, feed); t.append(time.perf_counter() - a)
t.sort(); print(json.dumps({{"best": t[0], "median": t[len(t) // 2]}}))
"""
    return json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/qscope/minilm"))
    ap.add_argument("--qscope", default=os.path.join(ROOT, ".build", "release", "qscope"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--skip-hessian", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    cache = args.cache_dir
    model, data = os.path.join(cache, "minilm.onnx"), os.path.join(cache, "sentences.npz")
    reference = json.load(open(os.path.join(cache, "reference.json")))
    failed = []

    # 1. FP32 parity.
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "embeddings.npy")
        fp32 = run_json([args.qscope, "eval", model, "--data", data, "--outputs", out, "--json"])
        ours, ort = np.load(out), np.load(os.path.join(cache, "ort-embeddings.npy"))
    relative = float(np.abs(ours - ort).max() / np.abs(ort).max())
    print(f"## all-MiniLM-L6-v2, {ours.shape[0]} sentences of 64 tokens\n")
    print("| check | qscope | reference | bound | |\n|---|---|---|---|---|")
    ok = relative <= 1e-4
    failed += [] if ok else ["parity"]
    print(f"| FP32 embeddings vs ONNX Runtime, max abs / max | {relative:.2e} | | <= 1e-4 | {'ok' if ok else 'FAIL'} |")

    # 2. Weight-only quantizers: mean cosine against PyTorch fake-quant.
    for spec in ["int8", "int4", "fp8:e4m3", "fp4:e2m1"]:
        ours = run_json([args.qscope, "eval", model, "--data", data, "--weights", spec, "--json"])["metrics"]["cosine_mean"]
        theirs = reference["quantized"][spec]["cosine_mean"]
        ok = abs(ours - theirs) <= 0.002
        failed += [] if ok else [spec]
        print(f"| `{spec}` weight-only, mean cosine to FP32 | {ours:.5f} | {theirs:.5f} (PyTorch) | ±0.002 | {'ok' if ok else 'FAIL'} |")
    print(f"\n(qscope FP32 eval: {fp32['images_per_second']:.1f} sentences/s at batch {fp32['batch']})\n")

    # 3. Hessian traces and peak memory.
    if not args.skip_hessian:
        start = time.time()
        timed = run(["/usr/bin/time", "-v", args.qscope, "analyze", model, "--data", data, "--only", "hessian",
                     "--hessian-samples", "64", "--probes", "20", "--tolerance", "0", "--json"])
        seconds = time.time() - start
        report = json.loads(timed.stdout.strip().splitlines()[-1])
        peak_kib = int(next(line for line in timed.stderr.splitlines() if "Maximum resident set size" in line).split(":")[1])
        expected = {layer["onnx_node"]: layer for layer in reference["hessian"]["layers"]}
        print(f"## Hessian traces: {report['probes']} probes on {report['samples']} samples ({report['loss_kind']}), "
              f"{seconds:.0f} s, peak RSS {peak_kib / 1048576:.2f} GiB; reference {reference['hessian']['probes']} probes, float64 double backward\n")
        print("| layer | qscope trace ± se | PyTorch trace ± se | z |\n|---|---|---|---|")
        worst = 0.0
        for layer in report["layers"]:
            ref = expected[layer["name"]]
            z = (layer["trace"] - ref["trace"]) / np.hypot(layer["trace_se"], ref["standard_error"])
            worst = max(worst, abs(z))
            print(f"| {layer['name']} | {layer['trace']:.4e} ± {layer['trace_se']:.1e} | {ref['trace']:.4e} ± {ref['standard_error']:.1e} | {z:+.2f} |")
        ok = worst <= 3 and peak_kib < 8 * 1048576
        failed += [] if ok else ["hessian"]
        print(f"\nlargest |z| {worst:.2f} (bound 3), peak memory {peak_kib / 1048576:.2f} GiB (bound 8): {'ok' if ok else 'FAIL'}\n")
        same = reference["hessian"].get("same_probes")
        if same:
            # The same probe vectors on both sides: what remains is float32 against float64 arithmetic.
            if same["probes"] != report["probes"] or same["seed"] != 0:
                report = run_json([args.qscope, "analyze", model, "--data", data, "--only", "hessian",
                                   "--hessian-samples", "64", "--probes", str(same["probes"]), "--tolerance", "0",
                                   "--seed", str(same["seed"]), "--json"])
            order = [layer["onnx_node"] for layer in same["layers"]]
            if order != [layer["name"] for layer in report["layers"]]:
                sys.exit("same-probe reference: its layer order differs from qscope's, so its probes do too")
            print(f"## Hessian traces on the same probes (qscope's own first {same['probes']} probes, seed "
                  f"{same['seed']}, replayed in float64 PyTorch)\n")
            print("| layer | qscope trace | PyTorch trace, same probes | relative difference | in its s.e. |\n|---|---|---|---|---|")
            worst_relative, worst_z = 0.0, 0.0
            for layer, ref in zip(report["layers"], same["layers"]):
                relative = abs(layer["trace"] - ref["trace"]) / abs(ref["trace"])
                z = abs(layer["trace"] - ref["trace"]) / ref["standard_error"]
                worst_relative, worst_z = max(worst_relative, relative), max(worst_z, z)
                print(f"| {layer['name']} | {layer['trace']:.6e} | {ref['trace']:.6e} | {relative:.1e} | {z:.4f} |")
            ok = worst_z <= 3
            failed += [] if ok else ["hessian (same probes)"]
            print(f"\nlargest relative difference {worst_relative:.1e}, largest difference {worst_z:.4f} s.e. "
                  f"(bound 3): {'ok' if ok else 'FAIL'}\n")
        else:
            print("(no same-probe reference: `python3 tools/make_transformer_fixtures.py --same-probes 8` adds it)\n")

    # 4. Speed against ONNX Runtime at batch 32, alternated.
    if not args.skip_speed:
        with tempfile.TemporaryDirectory() as tmp:
            feeds = os.path.join(tmp, "batch.npz")
            d = np.load(data)
            np.savez(feeds, **{k: d[k][:32] for k in d.files if k != "y"})
            ours, theirs, ratios = [], [], []
            for _ in range(args.rounds):
                q = run_json([args.qscope, "bench", model, "--data", data, "--batch", "32", "--runs", str(args.runs),
                              "--json"])["best_seconds"]
                o = ort_best_seconds(model, feeds, args.runs)["best"]
                ours.append(q)
                theirs.append(o)
                ratios.append(o / q)
        print("## Forward at batch 32 (64 tokens), best of each round, median over rounds\n")
        print("| | ms/batch | sentences/s |\n|---|---|---|")
        print(f"| qscope | {statistics.median(ours) * 1000:.1f} | {32 / statistics.median(ours):.1f} |")
        print(f"| ONNX Runtime (2 threads) | {statistics.median(theirs) * 1000:.1f} | {32 / statistics.median(theirs):.1f} |")
        print(f"\nqscope / ORT speed ratio: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}) "
              f"over {args.rounds} rounds")
    if failed:
        sys.exit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
