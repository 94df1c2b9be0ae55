#!/usr/bin/env python3
"""Measures the README's search table: uniform int3 / int4 against HAWQ and Greedy MP plans at the
same size (metadata included), on the CNN and ViT sample models and the bundled evaluation data.

Runs the built binary (`swift build -c release` first); prints a Markdown table. Only the standard
library is needed. Usage: tools/search_table.py [--models cnn vit] [--hessian-samples N] [--probes N]
"""
import argparse
import json
import subprocess
import time

BIN = ".build/release/qscope"
DATA = "sample-models/fashion-mnist-test-2000.npz"


def search(model, *arguments):
    started = time.time()
    out = subprocess.run([BIN, "search", f"sample-models/{model}.onnx", "--data", DATA, "--json", *arguments],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["wall"] = time.time() - started
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["cnn", "vit"])
    parser.add_argument("--hessian-samples", default="256")
    parser.add_argument("--probes", default="64")
    args = parser.parse_args()
    hessian = ["--hessian-samples", args.hessian_samples, "--probes", args.probes]
    print("| model | budget | plan | avg bits (with metadata) | size MB | accuracy % | evaluations | time s |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models:
        for bits in (3, 4):
            # A one-candidate search is the uniform plan (greedy: no Hessian, one evaluation).
            uniform = search(model, "--method", "greedy", "--bits", str(bits), "--avg-bits", "32")
            budget = repr(uniform["size_mb"])  # exact: total bits / 2^23 is a binary fraction
            rows = [("uniform int%d" % bits, uniform)]
            rows.append(("HAWQ", search(model, "--method", "hawq", "--size-mb", budget, *hessian)))
            rows.append(("Greedy MP", search(model, "--method", "greedy", "--size-mb", budget)))
            for name, r in rows:
                print(f"| {model} | = int{bits} | {name} | {r['avg_bits']:.3f} | {r['size_mb']:.4f} | "
                      f"{100 * r['accuracy']:.2f} | {r['evaluations']} | {r['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
