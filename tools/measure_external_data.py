#!/usr/bin/env python3
"""Peak memory of qscope on a >= 1 GB float32 model whose weights are in an external data file.

Builds (once, in --cache-dir, default ~/.cache/qscope/external-data; not committed):
  big.onnx + big.weights  x [N, 4096] -> LAYERS x (MatMul 4096x4096 -> Relu) -> MatMul 4096x10 -> logits,
                          every weight in big.weights (external data, 4 KiB aligned offsets), so
                          LAYERS x 64 MiB of float32 (16 layers: 1.0 GiB; --layers)
  big-embedded.onnx       the same weights inside the protobuf (--embedded; protobuf caps a file at
                          2 GB, so only for LAYERS <= 30), for comparison
  data.npz                x float32 [SAMPLES, 4096] (random), y int64 [SAMPLES] (random labels)
then runs `qscope info` and `qscope eval --data data.npz` on each model under /usr/bin/time -v, and
while each runs samples /proc/<pid>/status every 5 ms for the peak VmRSS, RssAnon (memory the
process owns: heap, packed weights, activations) and RssFile (mapped file pages: the weights read in
place, the model file, the binary). Prints one table row per run, against the weight bytes.

Needs: python3 with numpy and onnx; GNU time (/usr/bin/time); a release build of qscope
(`swift build -c release`, or --qscope PATH). Linux only (/proc). About 1-3 minutes and 2-3 GB of
disk for the cache. Run from anywhere: python3 tools/measure_external_data.py [--embedded]
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH = 4096
CLASSES = 10
ALIGN = 4096


def weights(layers, seed=5):
    """Yields (name, float32 array) for every weight, generated one at a time (64 MiB each)."""
    rng = np.random.default_rng(seed)
    scale = np.float32(np.sqrt(2.0 / WIDTH))
    for i in range(layers):
        yield f"w{i}", (rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) * scale)
    yield "head", (rng.standard_normal((WIDTH, CLASSES), dtype=np.float32) * scale)


def graph(layers, initializers):
    nodes, previous = [], "x"
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [f"m{i}"], name=f"fc{i}"))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"relu{i}"))
        previous = f"r{i}"
    nodes.append(helper.make_node("MatMul", [previous, "head"], ["logits"], name="head"))
    g = helper.make_graph(
        nodes, "external_data_rss",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", WIDTH])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])],
        initializers,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="qscope-measure")


def build_external(cache, layers):
    model_path = os.path.join(cache, "big.onnx")
    if os.path.exists(model_path) and os.path.exists(os.path.join(cache, "big.weights")):
        return model_path
    initializers, offset = [], 0
    with open(os.path.join(cache, "big.weights"), "wb") as f:
        for name, array in weights(layers):
            data = array.astype("<f4").tobytes()
            pad = (-offset) % ALIGN
            f.write(b"\0" * pad)
            offset += pad
            f.write(data)
            tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(array.shape),
                                 data_location=TensorProto.EXTERNAL)
            for key, value in [("location", "big.weights"), ("offset", str(offset)), ("length", str(len(data)))]:
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            initializers.append(tensor)
            offset += len(data)
    with open(model_path, "wb") as f:
        f.write(graph(layers, initializers).SerializeToString())
    return model_path


def build_embedded(cache, layers):
    model_path = os.path.join(cache, "big-embedded.onnx")
    if not os.path.exists(model_path):
        model = graph(layers, [numpy_helper.from_array(a, name) for name, a in weights(layers)])
        with open(model_path, "wb") as f:
            f.write(model.SerializeToString())
    return model_path


def build_data(cache, samples):
    path = os.path.join(cache, "data.npz")
    if not os.path.exists(path):
        rng = np.random.default_rng(6)
        np.savez(path, x=rng.standard_normal((samples, WIDTH), dtype=np.float32),
                 y=rng.integers(0, CLASSES, samples).astype(np.int64))
    return path


def status_kib(pid):
    """VmRSS, RssAnon, RssFile of a running process in KiB (None once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    values = {}
    for key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
        match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        values[key] = int(match.group(1)) if match else 0
    return values


def measure(arguments):
    """Runs `arguments` under /usr/bin/time -v; returns (exit status, seconds, peaks dict in KiB)."""
    command = ["/usr/bin/time", "-v"] + arguments
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample():
        child = None
        while not done.is_set():
            if child is None:
                # /usr/bin/time forks qscope: find its child.
                try:
                    with open(f"/proc/{process.pid}/task/{process.pid}/children") as f:
                        pids = f.read().split()
                    child = int(pids[0]) if pids else None
                except OSError:
                    pass
            if child is not None:
                values = status_kib(child)
                if values:
                    for key in peaks:
                        peaks[key] = max(peaks[key], values[key])
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    seconds = time.monotonic() - start
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    peaks["time_max_rss"] = int(match.group(1)) if match else 0
    if process.returncode != 0:
        print(stderr, file=sys.stderr)
    return process.returncode, seconds, peaks, stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/qscope/external-data"))
    parser.add_argument("--layers", type=int, default=16, help="4096x4096 MatMul layers (64 MiB each)")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--embedded", action="store_true", help="also measure the same model with embedded weights")
    parser.add_argument("--qscope", default=os.path.join(root, ".build", "release", "qscope"))
    args = parser.parse_args()
    cache = os.path.join(args.cache_dir, f"layers{args.layers}")
    os.makedirs(cache, exist_ok=True)
    weight_bytes = (args.layers * WIDTH * WIDTH + WIDTH * CLASSES) * 4
    models = [("external", build_external(cache, args.layers))]
    if args.embedded:
        if args.layers > 30:
            sys.exit("--embedded needs --layers <= 30 (protobuf files are limited to 2 GB)")
        models.append(("embedded", build_embedded(cache, args.layers)))
    data = build_data(cache, args.samples)
    mib = 1 / 1024
    print(f"weights: {args.layers} x {WIDTH}x{WIDTH} + {WIDTH}x{CLASSES} float32 = {weight_bytes / 2**20:.0f} MiB; "
          f"eval on {args.samples} samples, batch {args.batch}; qscope {args.qscope}")
    print(f"{'model':9} {'command':5} {'exit':>4} {'seconds':>8} {'peak RSS MiB':>13} {'x weights':>9} "
          f"{'RssAnon MiB':>12} {'RssFile MiB':>12}")
    failed = False
    for label, model in models:
        for command in (["info", model], ["eval", model, "--data", data, "--batch", str(args.batch)]):
            status, seconds, peaks, _ = measure([args.qscope] + command)
            failed |= status != 0
            rss = peaks["time_max_rss"] * 1024
            print(f"{label:9} {command[0]:5} {status:4d} {seconds:8.1f} {rss / 2**20:13.0f} {rss / weight_bytes:9.2f} "
                  f"{peaks['RssAnon'] * mib:12.0f} {peaks['RssFile'] * mib:12.0f}")
    print("peak RSS: GNU time's maximum resident set size; RssAnon / RssFile: the largest values sampled "
          "from /proc/PID/status every 5 ms (each at its own moment, so they need not add up to the peak).")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
