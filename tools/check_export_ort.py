#!/usr/bin/env python3
"""Checks `qscope export --format onnx-qdq` against ONNX Runtime (not part of CI).

For each sample model (mlp, cnn, vit) and three plans (int8, int4, and a mixed plan cycling
int8 / int4:asym / int3 / fp8:e4m3 / lut3 weights with int8 activations, int6:asym on the first
layer: the same plans as Tests/AnalysisTests/Export/QDQExportTests.swift), it writes the plan,
runs `qscope eval --plan --json` (accuracy computed by qscope), exports the plan with the built
binary, runs ONNX Runtime on the export over the bundled 2000 samples, once with graph
optimizations disabled and once with the default (ORT_ENABLE_ALL), and prints both accuracies
next to qscope's. For the int8 plans it also feeds `--format ort-overrides` to ORT's
`quantize_static` and checks that the quantized model carries the overridden scales and zero points. Exit status 1 if ORT cannot load a model or its unoptimized accuracy differs.

    swift build -c release && python3 tools/check_export_ort.py [--bin .build/release/qscope]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(binary, *args):
    out = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"qscope {' '.join(args)} failed: {out.stderr.strip()}")
    return out


def plans(layers):
    cycle = ["int8", "int4:asym", "int3", "fp8:e4m3", "lut3"]
    mixed = {name: {"weights": cycle[i % len(cycle)], "activations": "int6:asym" if i == 0 else "int8"}
             for i, name in enumerate(layers)}
    return {"int8": {n: {"weights": "int8"} for n in layers},
            "int4": {n: {"weights": "int4"} for n in layers},
            "mixed": mixed}


def ort_correct(path, x, y, optimize):
    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    correct = 0
    for start in range(0, len(x), 500):
        logits = session.run(None, {name: x[start:start + 500]})[0]
        correct += int((logits.argmax(axis=1) == y[start:start + 500]).sum())
    return correct


def overrides_check(binary, model_path, plan_path, tmp, x):
    """Feeds `qscope export --format ort-overrides` to ORT's quantize_static (QDQ, per channel) and
    checks that every overridden weight's scales and zero points are the ones in the written model.
    Returns (weights checked, mismatches)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    import onnx
    from onnx import numpy_helper
    path = os.path.join(tmp, "overrides.json")
    run(binary, "export", model_path, "--plan", plan_path, "--format", "ort-overrides", "-o", path)
    with open(path) as f:
        overrides = json.load(f)
    dtypes = {QuantType.QInt8: np.int8, QuantType.QUInt8: np.uint8, QuantType.QInt16: np.int16, QuantType.QUInt16: np.uint16}
    for entries in overrides.values():  # JSON -> the Python types quantize_static expects
        for entry in entries:
            entry["quant_type"] = QuantType.from_string(entry["quant_type"])
            entry["scale"] = np.array(entry["scale"], dtype=np.float32)
            entry["zero_point"] = np.array(entry["zero_point"], dtype=dtypes.get(entry["quant_type"], np.int8))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([x[i:i + 128] for i in range(0, 512, 128)])

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"input": batch}

    out = os.path.join(tmp, "ort-static.onnx")
    quantize_static(os.path.join(ROOT, model_path), out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    extra_options={"TensorQuantOverrides": overrides})
    written = {t.name: numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
    checked = mismatches = 0
    for name, entries in overrides.items():
        scale = written.get(name + "_scale")
        if scale is None:
            continue
        checked += 1
        want = np.array([float(e["scale"]) for e in entries], dtype=np.float32)
        zero = written[name + "_zero_point"].astype(np.int64)
        want_zero = np.array([int(e["zero_point"]) for e in entries])
        if scale.reshape(-1).shape != want.shape or not (np.array_equal(scale.reshape(-1), want)
                                                         and np.array_equal(zero.reshape(-1), want_zero)):
            mismatches += 1
    return checked, mismatches


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "release", "qscope"))
    args = parser.parse_args()
    data = np.load(os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz"))
    x, y = data["x"].astype(np.float32), data["y"]
    failures = 0
    print(f"onnxruntime {ort.__version__}, {len(x)} samples")
    print(f"{'model':5} {'plan':6} {'qscope eval --plan':>18} {'ORT no-opt':>10} {'ORT opt':>8} {'opset':>5} {'bytes':>9} {'fp32 bytes':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in ["mlp", "cnn", "vit"]:
            model_path = os.path.join("sample-models", f"{model}.onnx")
            info = json.loads(run(args.bin, "info", model_path, "--json").stdout)
            layers = [layer["name"] for layer in info["layers"]]
            for label, layer_plan in plans(layers).items():
                plan_path = os.path.join(tmp, f"{model}-{label}.qscope.json")
                with open(plan_path, "w") as f:
                    json.dump({"format": "qscope-plan", "version": 1, "layers": layer_plan}, f)
                qscope = json.loads(run(args.bin, "eval", model_path, "--plan", plan_path, "--json").stdout)
                out = os.path.join(tmp, f"{model}-{label}.onnx")
                export = json.loads(run(args.bin, "export", model_path, "--plan", plan_path, "--format", "onnx-qdq",
                                        "-o", out, "--json").stdout)
                try:
                    plain = ort_correct(out, x, y, optimize=False)
                    optimized = ort_correct(out, x, y, optimize=True)
                except Exception as error:  # noqa: BLE001 - report any ORT failure and go on
                    print(f"{model:5} {label:6} ORT failed: {str(error).splitlines()[0]}")
                    failures += 1
                    continue
                if label == "int8":
                    checked, bad = overrides_check(args.bin, model_path, plan_path, tmp, x)
                    failures += bad
                    print(f"      ort-overrides -> quantize_static: {checked} tensors with the override's scales and "
                          f"zero points, {bad} mismatches")
                mark = "" if plain == qscope["correct"] else "  MISMATCH"
                failures += plain != qscope["correct"]
                print(f"{model:5} {label:6} {qscope['correct']:>18} {plain:>10} {optimized:>8} {export['opset']:>5} "
                      f"{export['bytes']:>9} {os.path.getsize(os.path.join(ROOT, model_path)):>10}{mark}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
