#!/usr/bin/env python3
"""Write reference logits for the qscope executor parity tests.

For mlp, cnn, vit (sample-models/) and vit_encoder (Tests/Fixtures/models/) this runs ONNX Runtime
(CPUExecutionProvider, graph optimizations DISABLED, so it is the plain reference semantics) on the
2000 committed samples of sample-models/fashion-mnist-test-2000.npz and writes

  Tests/Fixtures/parity/<name>.logits.npy    float32 [2000,10]
  Tests/Fixtures/parity/parity.json          per model: file, logits file, ORT accuracy, versions, ops

It also rebuilds each torch model from the weights that tools/make_sample_models.py left in its
--work-dir (default /tmp/qscope-sample-models) and prints the max |ORT - torch| logit difference;
when those weights are missing that check is skipped (and recorded as null).

Usage: python3 tools/make_parity_fixtures.py [--work-dir DIR]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz")
OUT_DIR = os.path.join(ROOT, "Tests", "Fixtures", "parity")
MODELS = [
    ("mlp", "sample-models/mlp.onnx"),
    ("cnn", "sample-models/cnn.onnx"),
    ("vit", "sample-models/vit.onnx"),
    ("vit_encoder", "Tests/Fixtures/models/vit_encoder.onnx"),
]
TOLERANCE = 1e-4


def log(*args):
    print(*args, flush=True)


def ort_reference(path: str, x: np.ndarray, batch: int = 250):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    out_name = sess.get_outputs()[0].name
    chunks = [sess.run([out_name], {in_name: x[i:i + batch]})[0] for i in range(0, len(x), batch)]
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32), in_name, out_name


def torch_logits(name: str, work_dir: str, x: np.ndarray):
    ckpt = os.path.join(work_dir, f"{name}.pt")
    if not os.path.exists(ckpt):
        return None
    import torch
    sys.path.insert(0, HERE)
    import make_sample_models as msm
    torch.set_num_threads(2)
    model = msm.build_model(name)
    model.load_state_dict(torch.load(ckpt, map_location="cpu"))
    return msm.predict(model, x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work-dir", default="/tmp/qscope-sample-models")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    import onnx
    import onnxruntime as ort
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    log(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, torch {torch_version}, numpy {np.__version__}")

    with np.load(DATA) as d:
        x, y = d["x"], d["y"]
    assert x.dtype == np.float32 and x.shape[1:] == (1, 28, 28), (x.dtype, x.shape)
    log(f"data {os.path.relpath(DATA, ROOT)}: x {list(x.shape)} y {list(y.shape)}")
    os.makedirs(OUT_DIR, exist_ok=True)

    entries = []
    worst = 0.0
    for name, rel in MODELS:
        path = os.path.join(ROOT, rel)
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        ops = dict(sorted(collections.Counter(n.op_type for n in model.graph.node).items()))
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))

        t0 = time.perf_counter()
        logits, in_name, out_name = ort_reference(path, x)
        t_ort = time.perf_counter() - t0
        assert logits.shape == (len(x), 10), logits.shape
        pred = logits.argmax(1)
        correct = int((pred == y).sum())
        out_rel = f"Tests/Fixtures/parity/{name}.logits.npy"
        np.save(os.path.join(ROOT, out_rel), logits)

        lt = torch_logits(name, args.work_dir, x)
        if lt is None:
            diff = None
            log(f"[{name}] torch weights not found in {args.work_dir}: skipping the torch comparison")
        else:
            diff = float(np.abs(lt - logits).max())
            worst = max(worst, diff)
            agree = float((lt.argmax(1) == pred).mean())
            status = "OK" if diff <= TOLERANCE else "MISMATCH"
            log(f"[{name}] max |ORT - torch| = {diff:.3g} ({status}, tolerance {TOLERANCE}); "
                f"top-1 agreement {agree:.4f}")
        log(f"[{name}] {rel}: opset {opset}, {len(model.graph.node)} nodes, ORT accuracy "
            f"{correct}/{len(y)} = {correct / len(y):.4f} ({t_ort:.2f} s) -> {out_rel}")
        entries.append({
            "name": name,
            "file": rel,
            "logits": out_rel,
            "input": in_name,
            "output": out_name,
            "opset": int(opset),
            "samples": int(len(y)),
            "accuracy_ort": round(correct / len(y), 6),
            "correct": correct,
            "logits_abs_max": float(np.abs(logits).max()),
            "max_abs_diff_torch": diff,
            "ops": ops,
        })

    parity = {
        "format": "qscope-parity",
        "version": 1,
        "data": "sample-models/fashion-mnist-test-2000.npz",
        "reference": "onnxruntime CPUExecutionProvider, graph_optimization_level ORT_DISABLE_ALL",
        "onnxruntime_version": ort.__version__,
        "onnx_version": onnx.__version__,
        "torch_version": torch_version,
        "numpy_version": np.__version__,
        "models": entries,
    }
    with open(os.path.join(OUT_DIR, "parity.json"), "w") as f:
        json.dump(parity, f, indent=2)
        f.write("\n")
    log(f"wrote Tests/Fixtures/parity/parity.json ({len(entries)} models); worst torch diff {worst:.3g}; "
        f"done in {time.perf_counter() - t_start:.1f} s")
    if worst > TOLERANCE:
        sys.exit(1)


if __name__ == "__main__":
    main()
