#!/usr/bin/env python3
"""Checks qscope on PaddleOCR's real pretrained models (detector, recogniser, direction classifier,
paddle2onnx exports from the rapidocr-onnxruntime wheel) against the references that
`make_paddleocr_fixtures.py` wrote into its cache folder. Not part of CI.

  python3 tools/make_paddleocr_fixtures.py            # once: ~/.cache/qscope/paddleocr
  swift build -c release
  python3 tools/check_paddleocr.py [--cache-dir DIR] [--models det,rec,cls] [--skip-search]

Per model, with the built binary:
1. `qscope eval MODEL --data D --outputs F --json`: FP32 outputs against ONNX Runtime's, max |diff|
   over max |ORT| (bound 1e-4, or twice ORT's own optimized-vs-unoptimized difference when larger).
2. `qscope eval MODEL --data D --weights int8 --json`: cosine (x100), agreement (logits) and accuracy (points)
   against the numpy fake-quant + ORT reference (bound 0.5 points each), SQNR (bound 0.5 dB).
3. `qscope analyze MODEL --data D --only hessian --probes 20 --hessian-samples 8 --json` (4 for det):
   runs, one trace per layer.
4. `qscope search MODEL --data D --avg-bits 6 -o PLAN --json`, `qscope eval --plan PLAN --json`, then
   `qscope export --plan PLAN --format onnx-qdq` run by ONNX Runtime (optimizations off): the export's
   cosine to ORT's FP32 output against qscope's plan cosine (bound 0.5 points).

Prints one Markdown table (qscope vs ORT / the reference) and exits 1 when a bound fails or a command
fails (the failing command's last error line is in the table). Needs numpy, onnx, onnxruntime.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fixture_reference as ref  # noqa: E402

MODELS = {"det": ("ch_PP-OCRv4_det_infer", "det-320.npz"), "rec": ("ch_PP-OCRv4_rec_infer", "rec-48x320.npz"),
          "cls": ("ch_ppocr_mobile_v2.0_cls_infer", "cls-48x192.npz")}


class CommandFailed(Exception):
    pass


def qscope(binary, *args):
    """The last stdout line of `qscope ARGS` parsed as JSON; CommandFailed with its last stderr line."""
    out = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        lines = (out.stderr.strip() or out.stdout.strip() or f"exit {out.returncode}").splitlines()
        raise CommandFailed(f"`qscope {args[0]}`: {lines[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Table:
    def __init__(self):
        self.rows, self.failed = [], []

    def add(self, model, check, ours, theirs, bound, ok):
        if not ok:
            self.failed.append(f"{model}: {check}")
        self.rows.append(f"| {model} | {check} | {ours} | {theirs} | {bound} | {'ok' if ok else 'FAIL'} |")

    def print(self):
        print("| model | check | qscope | reference | bound | |\n|---|---|---|---|---|---|")
        print("\n".join(self.rows))


def points(value):
    return "n/a" if value is None else f"{value * 100:.2f}"


def check_model(key, args, reference, table, tmp):
    name, data_file = MODELS[key]
    entry = reference["models"][name]
    model, data = os.path.join(args.cache_dir, name + ".onnx"), os.path.join(args.cache_dir, data_file)
    label = f"{key} ({name})"

    # 1. FP32 parity with ORT.
    outputs = os.path.join(tmp, key + ".npy")
    start = time.time()
    qscope(args.qscope, "eval", model, "--data", data, "--outputs", outputs, "--batch", "8", "--json")
    ours, ort_out = np.load(outputs), np.load(os.path.join(args.cache_dir, entry["fp32_outputs"]))
    scale = float(np.abs(ort_out).max())
    relative = float(np.abs(ours - ort_out).max()) / scale if ours.shape == ort_out.shape else float("inf")
    # ORT's own optimized and unoptimized runs drift apart on a badly conditioned output (the
    # recogniser's softmax: 3e-4 at one of 1280 positions); qscope may drift as far, not further.
    spread = entry["ort_optimized_vs_unoptimized_max_abs_diff"] / scale
    bound = max(1e-4, 2 * spread)
    table.add(label, f"FP32 vs ORT, max abs / max ({time.time() - start:.0f} s)", f"{relative:.2e}",
              f"ORT optimized vs not {spread:.2e}; shape {list(ort_out.shape)}"
              + ("" if ours.shape == ort_out.shape else f", qscope {list(ours.shape)}"),
              f"<= {bound:.1e}", relative <= bound)

    # 2. Weight-only int8 against the numpy + ORT reference.
    report = qscope(args.qscope, "eval", model, "--data", data, "--weights", "int8", "--batch", "8", "--json")
    got, want = report["metrics"], entry["quantized"]["int8"]
    for key_name, scale, unit, bound in [("cosine_mean", 100, "cosine x100", 0.5), ("agreement", 100, "agreement %", 0.5),
                                         ("accuracy", 100, "accuracy %", 0.5), ("sqnr_db", 1, "SQNR dB", 0.5)]:
        # The detector's map is ~0 on the whole background: the argmax along a row is a tie broken
        # by float32 noise there, so agreement means something for logits only.
        if want.get(key_name) is None or (key_name == "agreement" and entry["output_kind"] != "logits"):
            continue
        value = got.get(key_name)
        ok = value is not None and abs(value - want[key_name]) * scale <= bound
        table.add(label, f"int8 {unit}", "n/a" if value is None else f"{value * scale:.3f}",
                  f"{want[key_name] * scale:.3f}", f"±{bound}", ok)

    # 3. Hessian traces run.
    start = time.time()
    analysis = qscope(args.qscope, "analyze", model, "--data", data, "--only", "hessian", "--probes", str(args.probes),
                      "--hessian-samples", str(min(8, entry["input"]["data_shape"][0])), "--json")
    layers = analysis.get("layers", [])
    table.add(label, f"analyze: Hessian traces ({time.time() - start:.0f} s)", f"{len(layers)} layers",
              f"{len(entry['quantizable_layers'])} quantizable", "one per layer",
              len(layers) == len(entry["quantizable_layers"]))

    # 4. Search, plan evaluation, QDQ export run by ORT.
    if args.skip_search:
        return
    plan, exported = os.path.join(tmp, key + ".qscope.json"), os.path.join(tmp, key + ".qdq.onnx")
    start = time.time()
    qscope(args.qscope, "search", model, "--data", data, "--avg-bits", "6", "--probes", str(args.probes), "-o", plan, "--json")
    planned = qscope(args.qscope, "eval", model, "--data", data, "--plan", plan, "--json")["metrics"]
    qscope(args.qscope, "export", model, "--plan", plan, "--format", "onnx-qdq", "-o", exported, "--data", data, "--json")
    d = np.load(data)
    feeds = {entry["input"]["name"]: d[k] for k in d.files if k != "y"}
    exported_out = ref.run_ort(ref.session(exported), feeds, batch=8)
    metrics = ref.metrics(exported_out, ort_out, entry["output_kind"] == "logits")
    table.add(label, f"search avg 6 bits -> onnx-qdq export run by ORT, cosine x100 ({time.time() - start:.0f} s)",
              f"{planned['cosine_mean'] * 100:.3f} (plan eval)", f"{metrics['cosine_mean'] * 100:.3f} (ORT on the export)",
              "±0.5", abs(planned["cosine_mean"] - metrics["cosine_mean"]) * 100 <= 0.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/qscope/paddleocr"))
    ap.add_argument("--qscope", default=os.path.join(ROOT, ".build", "release", "qscope"))
    ap.add_argument("--models", default="cls,det,rec")
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--skip-search", action="store_true")
    args = ap.parse_args()
    reference_path = os.path.join(args.cache_dir, "reference.json")
    if not os.path.exists(reference_path):
        sys.exit(f"{reference_path} is missing: run tools/make_paddleocr_fixtures.py first")
    reference = json.load(open(reference_path))
    table = Table()
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            try:
                check_model(key, args, reference, table, tmp)
            except CommandFailed as error:
                table.add(f"{key} ({MODELS[key][0]})", "command failed", str(error), "", "", False)
    print(f"## PaddleOCR (rapidocr-onnxruntime wheel {reference.get('wheel', '?')}), qscope against ONNX Runtime\n")
    table.print()
    if table.failed:
        sys.exit("\nfailed: " + "; ".join(table.failed))


if __name__ == "__main__":
    main()
