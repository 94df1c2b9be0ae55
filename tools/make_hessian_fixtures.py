#!/usr/bin/env python3
"""Reference gradients, Hessian-vector products and Hutchinson traces for the sample models.

The ONNX graph is evaluated by a small PyTorch interpreter (below) after folding each BatchNorm into
its Conv exactly as qscope's GraphSimplifier does (float32 arithmetic), so that the leaf tensors are
the weights qscope quantizes. Gradients and HVPs (double backward) are computed in float64; the
Hutchinson reference runs in float32 with many Rademacher probes.

Writes Tests/Fixtures/hessian/<model>.json:
  samples, loss, layers: [{name (weight initializer), count, grad_norm, grad_index, grad_values,
  hvp: [{vhv, norm, values}] for the fixed probes, trace, trace_se, trace_probes}], trace_samples.
Fixed probe p of the layer at position l (fixture order): entry i is +1 when
  ((i * 2654435761 + l * 40503 + p * 7919) mod 2^32) >> 13 is odd, else -1.

Also: `--bench` times 100 Hutchinson probes on 512 samples per model (float32, 2 threads,
PyHessian-style: one create_graph backward, then one autograd.grad per probe).
Also the op-coverage models of Tests/Fixtures/models (tools/make_op_coverage_models.py): lenet, mobile.
Usage: python3 tools/make_hessian_fixtures.py [--bench] [mlp|cnn|vit|lenet|mobile ...]
"""
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["mlp", "cnn", "vit"]
COVERAGE_MODELS = ["lenet", "mobile"]  # in Tests/Fixtures/models
GRAD_SAMPLES = 8      # samples for gradients / HVPs
TRACE_SAMPLES = 64    # samples for the trace reference
TRACE_PROBES = 300
FIXED_PROBES = 2
ENTRIES = 48


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class Interpreter:
    def __init__(self, path):
        model = onnx.load(path)
        self.graph = model.graph
        g = model.graph
        self.inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.nodes = []
        identities = set()
        for n in g.node:
            if n.op_type == "Identity" and n.input[0] in self.inits:
                self.inits[n.output[0]] = self.inits[n.input[0]]
                identities.add(n.name)
        producers = {o: n for n in g.node for o in n.output}
        consumers = {}
        for n in g.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        skip = set()
        self.conv_override = {}
        for bn in g.node:
            if bn.op_type != "BatchNormalization":
                continue
            conv = producers.get(bn.input[0])
            if conv is None or conv.op_type != "Conv" or len(consumers[bn.input[0]]) != 1:
                continue
            eps = np.float32(attrs(bn).get("epsilon", 1e-5))
            gamma, beta, mean, var = (self.inits[x].astype(np.float32) for x in bn.input[1:5])
            w = self.inits[conv.input[1]].astype(np.float32)
            has_b = len(conv.input) > 2 and conv.input[2]
            b = self.inits[conv.input[2]].astype(np.float32) if has_b else np.zeros(w.shape[0], np.float32)
            s = (gamma / np.sqrt(var + eps)).astype(np.float32)
            self.inits[conv.input[1]] = (w * s.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
            self.inits[conv.name + ".bias_folded"] = ((b - mean) * s + beta).astype(np.float32)
            self.conv_override[conv.name] = (conv.name + ".bias_folded", bn.output[0])
            skip.add(bn.name)
        self.nodes = [n for n in g.node if n.name not in skip and n.name not in identities]
        self.layer_names = []
        for n in self.nodes:
            if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in self.inits:
                if n.input[1] not in self.layer_names:
                    self.layer_names.append(n.input[1])
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name

    def params(self, dtype):
        return {k: torch.tensor(self.inits[k], dtype=dtype, requires_grad=True) for k in self.layer_names}

    def run(self, x, params, dtype):
        env = {self.input_name: x}

        def get(name):
            if name in env:
                return env[name]
            if name in params:
                return params[name]
            a = self.inits[name]
            t = torch.tensor(a) if a.dtype.kind in "iub" else torch.tensor(a, dtype=dtype)
            env[name] = t
            return t

        for n in self.nodes:
            a = attrs(n)
            ins = [get(i) if i else None for i in n.input]
            op = n.op_type
            if op == "Conv":
                override = self.conv_override.get(n.name)
                bias = get(override[0]) if override else (ins[2] if len(ins) > 2 else None)
                pads = a.get("pads", [0, 0, 0, 0])
                x_in = ins[0]
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    x_in = F.pad(x_in, (pads[1], pads[3], pads[0], pads[2]))
                    pad = 0
                else:
                    pad = (pads[0], pads[1])
                y = F.conv2d(x_in, ins[1], bias, stride=a.get("strides", [1, 1]), padding=pad,
                             dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
                outs = [y]
                if override:
                    env[override[1]] = y
                    continue
            elif op == "BatchNormalization":
                eps = a.get("epsilon", 1e-5)
                outs = [F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], False, 0.0, eps)]
            elif op == "Relu":
                outs = [torch.relu(ins[0])]
            elif op == "Tanh":
                outs = [torch.tanh(ins[0])]
            elif op == "Sigmoid":
                outs = [torch.sigmoid(ins[0])]
            elif op == "LeakyRelu":
                outs = [F.leaky_relu(ins[0], a.get("alpha", 0.01))]
            elif op == "Elu":
                outs = [F.elu(ins[0], a.get("alpha", 1.0))]
            elif op == "Clip":
                low = ins[1] if len(ins) > 1 and ins[1] is not None else None
                high = ins[2] if len(ins) > 2 and ins[2] is not None else None
                outs = [torch.clamp(ins[0], low, high)]
            elif op == "HardSwish":
                outs = [F.hardswish(ins[0])]
            elif op == "Softplus":
                outs = [F.softplus(ins[0])]
            elif op == "LogSoftmax":
                outs = [torch.log_softmax(ins[0], dim=a.get("axis", -1))]
            elif op == "ReduceMean":
                outs = [ins[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))]
            elif op == "AveragePool":
                pads = a.get("pads", [0, 0, 0, 0])
                assert pads[0] == pads[2] and pads[1] == pads[3]
                outs = [F.avg_pool2d(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), (pads[0], pads[1]),
                                     ceil_mode=bool(a.get("ceil_mode", 0)),
                                     count_include_pad=bool(a.get("count_include_pad", 0)))]
            elif op == "Add":
                outs = [ins[0] + ins[1]]
            elif op == "Sub":
                outs = [ins[0] - ins[1]]
            elif op == "Mul":
                outs = [ins[0] * ins[1]]
            elif op == "Div":
                outs = [ins[0] / ins[1]]
            elif op == "Erf":
                outs = [torch.erf(ins[0])]
            elif op == "MatMul":
                outs = [torch.matmul(ins[0], ins[1])]
            elif op == "Gemm":
                A, B = ins[0], ins[1]
                if a.get("transA", 0):
                    A = A.t()
                if a.get("transB", 0):
                    B = B.t()
                y = a.get("alpha", 1.0) * (A @ B)
                if len(ins) > 2 and ins[2] is not None:
                    y = y + a.get("beta", 1.0) * ins[2]
                outs = [y]
            elif op == "MaxPool":
                pads = a.get("pads", [0, 0, 0, 0])
                outs = [F.max_pool2d(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), (pads[0], pads[1]))]
            elif op == "GlobalAveragePool":
                outs = [ins[0].mean(dim=tuple(range(2, ins[0].dim())), keepdim=True)]
            elif op == "Flatten":
                axis = a.get("axis", 1)
                outs = [ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)]
            elif op == "Identity":
                outs = [ins[0]]
            elif op == "Constant":
                v = numpy_helper.to_array(a["value"])
                outs = [torch.tensor(v) if v.dtype.kind in "iub" else torch.tensor(v, dtype=dtype)]
            elif op == "Shape":
                outs = [torch.tensor(list(ins[0].shape), dtype=torch.int64)]
            elif op == "Gather":
                axis = a.get("axis", 0)
                data, idx = ins[0], ins[1].long()
                idx = torch.where(idx < 0, idx + data.shape[axis], idx)
                y = torch.index_select(data, axis, idx.reshape(-1))
                outs = [y.reshape(tuple(data.shape[:axis]) + tuple(idx.shape) + tuple(data.shape[axis + 1:]))]
            elif op == "Unsqueeze":
                axes = ins[1].tolist() if len(ins) > 1 else a["axes"]
                y = ins[0]
                rank = y.dim() + len(axes)
                for ax in sorted(x % rank for x in axes):
                    y = y.unsqueeze(ax)
                outs = [y]
            elif op == "Squeeze":
                axes = ins[1].tolist() if len(ins) > 1 and ins[1] is not None else a.get("axes")
                y = ins[0]
                if axes is None:
                    y = y.squeeze()
                else:
                    for ax in sorted((x % y.dim() for x in axes), reverse=True):
                        y = y.squeeze(ax)
                outs = [y]
            elif op == "Concat":
                outs = [torch.cat([t for t in ins], dim=a["axis"])]
            elif op == "Reshape":
                shape = ins[1].tolist()
                shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
                outs = [ins[0].reshape(shape)]
            elif op == "Transpose":
                perm = a.get("perm", list(reversed(range(ins[0].dim()))))
                outs = [ins[0].permute(perm)]
            elif op == "Slice":
                starts, ends = ins[1].tolist(), ins[2].tolist()
                axes = ins[3].tolist() if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
                steps = ins[4].tolist() if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
                index = [slice(None)] * ins[0].dim()
                for s, e, ax, st in zip(starts, ends, axes, steps):
                    assert st == 1
                    dim = ins[0].shape[ax]
                    s = max(0, min(dim, s + dim if s < 0 else s))
                    e = max(0, min(dim, e + dim if e < 0 else e))
                    index[ax] = slice(s, e)
                outs = [ins[0][tuple(index)]]
            elif op == "ConstantOfShape":
                v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
                shape = ins[0].tolist()
                outs = [torch.full(shape, v.item(), dtype=torch.int64 if v.dtype.kind in "iub" else dtype)]
            elif op == "Equal":
                outs = [ins[0] == ins[1]]
            elif op == "Where":
                outs = [torch.where(ins[0].bool(), ins[1], ins[2])]
            elif op == "Expand":
                shape = np.broadcast_shapes(tuple(ins[0].shape), tuple(ins[1].tolist()))
                outs = [ins[0].expand(shape)]
            elif op == "LayerNormalization":
                axis = a.get("axis", -1) % ins[0].dim()
                bias = ins[2] if len(ins) > 2 else None
                outs = [F.layer_norm(ins[0], tuple(ins[0].shape[axis:]), ins[1], bias, a.get("epsilon", 1e-5))]
            elif op == "Softmax":
                outs = [torch.softmax(ins[0], dim=a.get("axis", -1))]
            else:
                raise SystemExit(f"unsupported op {op} in {n.name}")
            for name, value in zip(n.output, outs):
                env[name] = value
        return env[self.output_name]


def fixed_probe(count, layer, probe):
    i = np.arange(count, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(layer * 40503 + probe * 7919)) % np.uint64(1 << 32)
    return np.where((h >> np.uint64(13)) & np.uint64(1) == 1, 1.0, -1.0)


def load_data(n):
    d = np.load(os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz"))
    x = d["x"][:n].astype(np.float32)
    # qscope's default preprocessing: uint8 pixels scaled by 1/255 (see Sources/Analysis/Data/Preprocessing.swift)
    if d["x"].dtype == np.uint8:
        x = x / np.float32(255)
    x = x.reshape(n, 1, 28, 28)
    return x, d["y"][:n].astype(np.int64)


def hutchinson(interp, x, y, probes, seed, dtype=torch.float32):
    params = interp.params(dtype)
    names = interp.layer_names
    ws = [params[k] for k in names]
    loss = F.cross_entropy(interp.run(torch.tensor(x, dtype=dtype), params, dtype), torch.tensor(y))
    grads = torch.autograd.grad(loss, ws, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(probes):
        vs = [torch.randint(0, 2, w.shape, generator=gen).to(dtype) * 2 - 1 for w in ws]
        hv = torch.autograd.grad(grads, ws, grad_outputs=vs, retain_graph=True)
        samples.append([float((v * h).sum()) for v, h in zip(vs, hv)])
    return np.array(samples)


def model_path(name):
    folder = os.path.join("Tests", "Fixtures", "models") if name in COVERAGE_MODELS else "sample-models"
    return os.path.join(ROOT, folder, name + ".onnx")


def make(model_name):
    path = model_path(model_name)
    interp = Interpreter(path)
    x, y = load_data(max(GRAD_SAMPLES, TRACE_SAMPLES))
    dtype = torch.float64
    params = interp.params(dtype)
    ws = [params[k] for k in interp.layer_names]
    logits = interp.run(torch.tensor(x[:GRAD_SAMPLES], dtype=dtype), params, dtype)
    loss = F.cross_entropy(logits, torch.tensor(y[:GRAD_SAMPLES]))
    grads = torch.autograd.grad(loss, ws, create_graph=True)
    layers = []
    hvps = []
    for p in range(FIXED_PROBES):
        vs = [torch.tensor(fixed_probe(w.numel(), l, p).reshape(w.shape), dtype=dtype) for l, w in enumerate(ws)]
        hvps.append((vs, torch.autograd.grad(grads, ws, grad_outputs=vs, retain_graph=True)))
    start = time.time()
    samples = hutchinson(interp, x[:TRACE_SAMPLES], y[:TRACE_SAMPLES], TRACE_PROBES, seed=1)
    trace_seconds = time.time() - start
    for l, (name, w, g) in enumerate(zip(interp.layer_names, ws, grads)):
        count = w.numel()
        index = sorted(set(int((j * 104729 + 17) % count) for j in range(ENTRIES)))
        gflat = g.detach().reshape(-1).numpy()
        entry = {
            "name": name, "count": count, "grad_norm": float(np.linalg.norm(gflat)),
            "grad_index": index, "grad_values": [float(gflat[i]) for i in index], "hvp": [],
            "trace": float(samples[:, l].mean()), "trace_se": float(samples[:, l].std(ddof=1) / math.sqrt(len(samples))),
        }
        for vs, hv in hvps:
            h = hv[l].detach().reshape(-1).numpy()
            v = vs[l].reshape(-1).numpy()
            entry["hvp"].append({"vhv": float(v @ h), "norm": float(np.linalg.norm(h)), "values": [float(h[i]) for i in index]})
        layers.append(entry)
    out = {"model": model_name, "samples": GRAD_SAMPLES, "loss": float(loss.detach()), "trace_samples": TRACE_SAMPLES,
           "trace_probes": TRACE_PROBES, "layers": layers}
    os.makedirs(os.path.join(ROOT, "Tests", "Fixtures", "hessian"), exist_ok=True)
    with open(os.path.join(ROOT, "Tests", "Fixtures", "hessian", model_name + ".json"), "w") as f:
        json.dump(out, f, indent=None)
    print(f"{model_name}: loss {float(loss):.6f}, {len(layers)} layers, trace reference {trace_seconds:.1f} s")


def bench():
    torch.set_num_threads(2)
    x, y = load_data(512)
    for name in [a for a in sys.argv[1:] if a in MODELS] or MODELS:
        interp = Interpreter(os.path.join(ROOT, "sample-models", name + ".onnx"))
        start = time.time()
        hutchinson(interp, x, y, 100, seed=0)
        print(f"pytorch {name}: 100 probes on 512 samples, 2 threads: {time.time() - start:.2f} s")


if __name__ == "__main__":
    torch.set_num_threads(2)
    if "--bench" in sys.argv:
        bench()
    else:
        for m in [a for a in sys.argv[1:] if a in MODELS + COVERAGE_MODELS] or MODELS + COVERAGE_MODELS:
            make(m)
