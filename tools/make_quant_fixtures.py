#!/usr/bin/env python3
"""Regenerates Tests/Fixtures/quant/*.json: independent references for qscope's quantizers.

Every float is stored as its float32 bit pattern (an unsigned integer) so the Swift tests compare
bit for bit without a decimal round trip. References, one per file:

  int_grids.json   integer fake-quant of weight matrices with per-channel scales computed in float32
                   numpy (max|w| / (2^(B-1)-1); asym: PyTorch MinMaxObserver's range-with-zero rule),
                   quantized by torch.fake_quantize_per_channel_affine (x * (1/s)) and by ONNX
                   Runtime QuantizeLinear/DequantizeLinear per axis (x / s), int8 and int4, plus uint8
                   asym. Rows include exact ties (scale 1) and an all-zero row.
  fp_grids.json    every finite value of E4M3/E5M2/E3M2/E2M3/E2M1 (ml_dtypes), every midpoint between
                   neighbours (ties) and random values, cast with ml_dtypes; values beyond the max
                   (qscope saturates, ml_dtypes gives NaN/Inf or saturates per format: recorded); and
                   per-channel / MX-block (shared E8M0 exponent, OCP MX) fake-quant of a matrix, with
                   the element cast done by ml_dtypes after clipping to the format's max.
  kmeans.json      plain NumPy weighted Lloyd k-means (same quantile init as qscope) on a few rows.
  fisher_kmeans.json  NumPy weighted Lloyd (the same `lloyd` as kmeans.json) with real-valued,
                   heavy-tailed sample weights (squared normal gradients, some exactly 0), as the
                   Fisher-weighted lut k-means uses them.
  fisher.json      empirical Fisher diagonal F = Σ_s (∂ℓ_s/∂W)² of two CNN layers (per-sample gradients of
                   the per-sample cross-entropy, squared, summed over the first 32 samples; float64
                   PyTorch on the ONNX weights with BatchNorm folded, the interpreter of
                   make_hessian_fixtures.py), with the labels and with the FP32 model's top-1 class as
                   label (qscope's rule for data without labels).
  split.json       exact 1-D 3-means by brute force over all cut pairs (NumPy, no scikit-learn).
  model_accuracy.json  accuracy on the sample data when every quantizable layer's weight is replaced
                   by its fake-quantized copy (int via torch.fake_quantize_per_channel_affine, FP via
                   ml_dtypes), evaluated by ONNX Runtime on a rewritten ONNX file. BatchNorm is folded
                   into the preceding Conv first (float32, the same formula as qscope's simplifier),
                   because qscope quantizes the folded weights.
  activation_accuracy.json  int8 weights plus static per-tensor int8 / uint8-asym activations at every
                   layer input (min/max ranges, stored, from ONNX Runtime on the first 512 samples of
                   the FP32-weight model, as qscope calibrates), ONNX Runtime with
                   QuantizeLinear/DequantizeLinear inserted and graph optimizations off.
  smoothing.json   SmoothQuant and SQ-b (MPTQ-ViT) reimplemented in NumPy on the MLP and ViT:
                   per-input-channel min/max at every Gemm/MatMul input (constant 2-D weight) from ONNX
                   Runtime on the first 512 samples, s_j = max(a_j^α / max(max_k|W_kj|, 1e-5)^(1−α), 1e-5)
                   in float32 (a_j = max|X_j|, or the half-range for SQ-b; a_j = 0 gives s_j = 1), the
                   ONNX graph rewritten with Sub/Div before each layer, W·s, and the SQ-b bias fold
                   (Gemm bias, or an Add after a MatMul); per-tensor symmetric activations calibrated on
                   the smoothed inputs of the FP32-weight model (as qscope does) and fake-quantized with
                   plain ONNX Div/Round/Clip/Mul, then int8 weights (torch fake-quant of W·s). Stores s_j (and c_j) per layer for α = 0.5 and the
                   correct-sample counts for int8/int4 activations without smoothing, with smooth=0.5
                   and with smooth=0.5:bias, and max|x| of every fake-quantized input.

Usage: python3 tools/make_quant_fixtures.py [smoothing|fisher|activations]   (CPU only; versions in
tools/requirements.txt; with an argument only that fixture: `fisher` writes fisher_kmeans.json and
fisher.json)
"""
import json
import os

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper, TensorProto

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "quant")
RNG = np.random.default_rng(20261123)


def bits(a):
    return np.asarray(a, dtype=np.float32).reshape(-1).view(np.uint32).tolist()


def save(name, obj):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print("wrote", name, os.path.getsize(os.path.join(OUT, name)), "bytes")


# ---------------------------------------------------------------------------------------------
# Integer grids

def weight_matrix(rows, cols):
    w = RNG.normal(0, 0.05, size=(rows, cols)).astype(np.float32)
    w[1, 3] = 0.4  # an outlier
    w[2, :] = 0  # an all-zero channel
    return w


def with_ties(w, qmax):
    # Row 0: max |w| = qmax so the scale is exactly 1 and k + 0.5 are exact ties.
    cols = w.shape[1]
    ties = (np.arange(cols) % (2 * qmax) - qmax + 0.5).astype(np.float32)
    ties[0] = qmax
    ties[1] = -qmax
    w = w.copy()
    w[0] = ties
    return w


def ort_qdq(w, scale, zero, qtype, opset):
    rows, cols = w.shape
    zp_type = {TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8, TensorProto.INT4: ml_dtypes.int4}[qtype]
    zp = numpy_helper.from_array(zero.astype(zp_type), "zp")
    sc = numpy_helper.from_array(scale.astype(np.float32), "scale")
    nodes = [helper.make_node("QuantizeLinear", ["x", "scale", "zp"], ["q"], axis=0),
             helper.make_node("DequantizeLinear", ["q", "scale", "zp"], ["y"], axis=0)]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, cols])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, cols])], [sc, zp])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": w})[0]


def int_cases():
    cases = []
    for b, qtype, opset in [(8, TensorProto.INT8, 13), (4, TensorProto.INT4, 21), (3, None, None), (2, None, None)]:
        qmax = 2 ** (b - 1) - 1
        w = with_ties(weight_matrix(6, 40), qmax)
        amax = np.abs(w).max(axis=1)
        scale = (amax / np.float32(qmax)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)  # torch needs s > 0
        torch_out = torch.fake_quantize_per_channel_affine(torch.from_numpy(w), torch.from_numpy(safe),
                                                           torch.zeros(6, dtype=torch.int32), 0, -qmax, qmax).numpy()
        case = {"spec": f"int{b}", "rows": 6, "columns": 40, "weights": bits(w), "scales": bits(scale),
                "torch": bits(torch_out)}
        if qtype is not None:
            case["onnxruntime"] = bits(ort_qdq(w, safe, np.zeros(6), qtype, opset))
        cases.append(case)
    # uint8 asym: PyTorch's MinMaxObserver rule (range widened to contain 0).
    w = weight_matrix(6, 40) + np.float32(0.03)
    w[2, :] = 0
    lo = np.minimum(w.min(axis=1), 0).astype(np.float32)
    hi = np.maximum(w.max(axis=1), 0).astype(np.float32)
    scale = ((hi - lo) / np.float32(255)).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
    zero = np.clip(np.round(-lo / safe), 0, 255).astype(np.int32)
    torch_out = torch.fake_quantize_per_channel_affine(torch.from_numpy(w), torch.from_numpy(safe),
                                                       torch.from_numpy(zero), 0, 0, 255).numpy()
    cases.append({"spec": "int8:asym", "rows": 6, "columns": 40, "weights": bits(w), "scales": bits(scale),
                  "zero_points": zero.tolist(), "torch": bits(torch_out),
                  "onnxruntime": bits(ort_qdq(w, safe, zero, TensorProto.UINT8, 13))})
    save("int_grids.json", {"cases": cases})


# ---------------------------------------------------------------------------------------------
# FP formats

FORMATS = {
    "e4m3": (ml_dtypes.float8_e4m3fn, 448.0),
    "e5m2": (ml_dtypes.float8_e5m2, 57344.0),
    "e3m2": (ml_dtypes.float6_e3m2fn, 28.0),
    "e2m3": (ml_dtypes.float6_e2m3fn, 7.5),
    "e2m1": (ml_dtypes.float4_e2m1fn, 6.0),
}
EMAX = {"e4m3": 8, "e5m2": 15, "e3m2": 4, "e2m3": 2, "e2m1": 2}


def cast(x, dtype):
    return np.asarray(x, dtype=np.float32).astype(dtype).astype(np.float32)


def fp_cases():
    formats = []
    for name, (dtype, fmax) in FORMATS.items():
        width = ml_dtypes.finfo(dtype).bits
        codes = np.arange(2 ** width, dtype=np.uint16 if width > 8 else np.uint8)
        if width < 8:
            values = np.array([float(np.array(c, dtype=np.uint8).view(dtype)) for c in codes], dtype=np.float32)
        else:
            values = codes.astype(np.uint8).view(dtype).astype(np.float32)
        finite = np.unique(values[np.isfinite(values)])
        positive = finite[finite >= 0]
        mids = ((positive[:-1].astype(np.float64) + positive[1:]) / 2).astype(np.float32)
        rand = (RNG.uniform(-1, 1, 200) * fmax).astype(np.float32)
        tiny = (RNG.uniform(-1, 1, 50) * float(positive[1]) * 4).astype(np.float32)
        inputs = np.concatenate([finite, mids, -mids, rand, tiny, np.float32([0.0, -0.0])]).astype(np.float32)
        beyond = np.float32([fmax * 1.01, -fmax * 1.5, fmax * 4, 1e30, -np.inf, np.inf, np.nan])
        with np.errstate(all="ignore"):
            beyond_cast = cast(beyond, dtype)
        # Per-channel and MX-block fake-quant of a matrix.
        w = RNG.normal(0, 0.05, size=(4, 64)).astype(np.float32)
        w[1, 5] = 0.7
        w[3, :] = 0
        amax = np.abs(w).max(axis=1)
        scale = (amax / np.float32(fmax)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)[:, None]
        per_channel = (cast(w / safe, dtype) * safe).astype(np.float32)
        blocks = w.reshape(4, 2, 32)
        bmax = np.abs(blocks).max(axis=2, keepdims=True)
        _, e = np.frexp(np.where(bmax > 0, bmax, 1).astype(np.float32))  # bmax = m·2^e, m in [0.5, 1)
        shared = np.clip(e - 1 - EMAX[name], -127, 127)
        x = np.ldexp(np.float32(1), shared).astype(np.float32)
        with np.errstate(all="ignore"):
            elements = cast(np.clip(blocks / x, -fmax, fmax), dtype)
        mx = np.where(bmax > 0, elements * x, 0).astype(np.float32).reshape(4, 64)
        formats.append({"format": name, "max": fmax, "grid": bits(finite), "inputs": bits(inputs),
                        "ml_dtypes": bits(cast(inputs, dtype)), "beyond": bits(beyond),
                        "beyond_ml_dtypes": bits(beyond_cast), "matrix": bits(w), "per_channel": bits(per_channel),
                        "mx_block32": bits(mx)})
    save("fp_grids.json", {"formats": formats})


# ---------------------------------------------------------------------------------------------
# k-means and split

def lloyd(values, k, weights, max_iter=50):
    x = values.astype(np.float64)
    s = np.sort(values)
    n = len(values)
    c = np.array([s[min(n - 1, int((j + 0.5) * n / k))] for j in range(k)], dtype=np.float64)
    w = weights.astype(np.float64) if weights is not None and np.any(weights > 0) else np.ones(n)
    assign = np.full(n, -1)
    it = 0
    while it < max_iter:
        it += 1
        new = np.argmin(np.abs(x[:, None] - c[None, :]), axis=1)  # first minimum = lower index
        if np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            m = assign == j
            t = w[m].sum()
            if t > 0:
                c[j] = (w[m] * x[m]).sum() / t
    return c, assign, it


def kmeans_cases():
    cases = []
    for k, n, weighted in [(8, 64, False), (16, 200, False), (4, 50, True), (8, 128, True)]:
        v = RNG.standard_t(4, n).astype(np.float32) * np.float32(0.05)
        wts = (RNG.uniform(0, 1, n) > 0.1).astype(np.float32) if weighted else None
        c, a, it = lloyd(v, k, wts)
        case = {"k": k, "values": bits(v), "centroids": c.tolist(), "assignments": a.tolist(), "iterations": it}
        if weighted:
            case["weights"] = bits(wts)
        cases.append(case)
    save("kmeans.json", {"cases": cases})


def fisher_kmeans_cases():
    rng = np.random.default_rng(20261124)  # own stream: the other fixtures stay byte-identical
    cases = []
    for k, n in [(4, 60), (8, 128), (16, 256)]:
        v = rng.standard_t(4, n).astype(np.float32) * np.float32(0.05)
        g = rng.normal(0, 1, n) * np.exp(rng.normal(0, 1.5, n))
        wts = (g * g).astype(np.float32)
        wts[rng.uniform(0, 1, n) < 0.05] = 0
        c, a, it = lloyd(v, k, wts)
        cases.append({"k": k, "values": bits(v), "weights": bits(wts), "centroids": c.tolist(),
                      "assignments": a.tolist(), "iterations": it})
    save("fisher_kmeans.json", {"cases": cases})


def fisher_diagonal():
    import sys
    import torch.nn.functional as F
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_hessian_fixtures import Interpreter, load_data
    n = 32  # samples 23 and 25 are misclassified, so the two label rules differ
    interp = Interpreter(os.path.join(ROOT, "sample-models", "cnn.onnx"))
    names = ["layer2.shortcut.0.weight", "fc.weight"]
    x, y = load_data(n)
    dtype = torch.float64
    params = interp.params(dtype)
    with torch.no_grad():
        top1 = interp.run(torch.tensor(x, dtype=dtype), params, dtype).argmax(dim=1).numpy()
    out = {"model": "cnn", "samples": n, "layers": names, "variants": {}}
    for variant, labels in [("labels", y), ("top1", top1)]:
        fisher = {k: torch.zeros_like(params[k]) for k in names}
        for s in range(n):
            logits = interp.run(torch.tensor(x[s:s + 1], dtype=dtype), params, dtype)
            loss = F.cross_entropy(logits, torch.tensor(labels[s:s + 1]))
            grads = torch.autograd.grad(loss, [params[k] for k in names])
            for k, g in zip(names, grads):
                fisher[k] += g * g
        out["variants"][variant] = {k: fisher[k].reshape(-1).tolist() for k in names}
        print("fisher", variant, {k: float(fisher[k].sum()) for k in names})
    save("fisher.json", out)


def optimal_three_means(values):
    x = np.sort(values.astype(np.float64))
    n = len(x)
    s1 = np.concatenate([[0], np.cumsum(x)])
    s2 = np.concatenate([[0], np.cumsum(x * x)])

    def cost(i, j):  # vectorised over arrays i < j
        return s2[j] - s2[i] - (s1[j] - s1[i]) ** 2 / (j - i)

    best = (np.inf, 0, 0)
    for i in range(1, n - 1):
        j = np.arange(i + 1, n)
        total = cost(0, i) + cost(np.full_like(j, i), j) + cost(j, np.full_like(j, n))
        m = int(np.argmin(total))
        if total[m] < best[0]:
            best = (total[m], i, int(j[m]))
    _, i, j = best
    return [x[:i].mean(), x[i:j].mean(), x[j:].mean()]


def split_cases():
    cases = []
    for n, outliers in [(150, 0), (301, 6), (500, 20)]:
        v = RNG.normal(0, 0.05, n).astype(np.float32)
        v[:outliers] *= 8
        centers = optimal_three_means(v)
        t1, t2 = (centers[0] + centers[1]) / 2, (centers[1] + centers[2]) / 2
        parts = np.where(v.astype(np.float64) <= t1, 0, np.where(v.astype(np.float64) < t2, 1, 2))
        cases.append({"values": bits(v), "centers": centers, "parts": parts.tolist()})
    save("split.json", {"cases": cases})


# ---------------------------------------------------------------------------------------------
# Model level

def fold_batchnorm(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    for n in g.node:  # the exporter shares equal BN parameters through Identity nodes
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    remove = []
    for bn in [n for n in g.node if n.op_type == "BatchNormalization"]:
        conv = next((n for n in g.node if bn.input[0] in n.output and n.op_type == "Conv"), None)
        if conv is None or len(consumers.get(conv.output[0], [])) != 1:
            continue
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[x]).astype(np.float32) for x in bn.input[1:5])
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float32)
        b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float32) if len(conv.input) > 2 else np.zeros_like(mean)
        s = (gamma / np.sqrt(var + np.float32(eps))).astype(np.float32)
        w2 = (w * s[:, None, None, None]).astype(np.float32)
        b2 = ((b - mean) * s + beta).astype(np.float32)
        wname, bname = conv.input[1] + "_folded", conv.output[0] + "_folded_bias"
        g.initializer.extend([numpy_helper.from_array(w2, wname), numpy_helper.from_array(b2, bname)])
        data_input = conv.input[0]
        del conv.input[:]
        conv.input.extend([data_input, wname, bname])
        conv.output[0] = bn.output[0]
        remove.append(bn)
    for n in remove:
        g.node.remove(n)
    return model


def quantizable(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    out = []
    for n in g.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            w = inits[n.input[1]]
            if n.op_type == "Gemm":
                trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
                axis = 0 if trans_b else 1
            elif n.op_type == "MatMul":
                axis = len(w.dims) - 1
            else:
                axis = 0
            out.append((w.name, axis))
    return out


def fake_quant(w, axis, scheme):
    moved = np.moveaxis(w, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)
    amax = np.abs(flat).max(axis=1)
    if scheme.startswith("int"):
        qmax = 2 ** (int(scheme[3:]) - 1) - 1
        scale = (amax / np.float32(qmax)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
        q = torch.fake_quantize_per_channel_affine(torch.from_numpy(np.ascontiguousarray(flat)), torch.from_numpy(safe),
                                                   torch.zeros(len(safe), dtype=torch.int32), 0, -qmax, qmax).numpy()
    else:
        dtype, fmax = FORMATS[scheme.split(":")[1]]
        scale = (amax / np.float32(fmax)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)[:, None]
        q = (cast(flat / safe, dtype) * safe).astype(np.float32)
    return np.moveaxis(q.reshape(moved.shape), 0, axis).astype(np.float32)


def model_accuracy():
    data = np.load(os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz"))
    x, y = data["x"].astype(np.float32), data["y"]
    schemes = ["int8", "int4", "int3", "int2", "fp8:e4m3", "fp4:e2m1"]
    result = {"samples": int(len(y)), "models": {}}
    for name in ["mlp", "cnn", "vit"]:
        base = onnx.load(os.path.join(ROOT, "sample-models", f"{name}.onnx"))
        base = fold_batchnorm(base)
        layers = quantizable(base)
        entry = {}
        for scheme in ["fp32"] + schemes:
            m = onnx.ModelProto()
            m.CopyFrom(base)
            inits = {i.name: i for i in m.graph.initializer}
            if scheme != "fp32":
                for wname, axis in layers:
                    w = numpy_helper.to_array(inits[wname]).astype(np.float32)
                    inits[wname].CopyFrom(numpy_helper.from_array(fake_quant(w, axis, scheme), wname))
            session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            inp = session.get_inputs()[0].name
            logits = np.concatenate([session.run(None, {inp: x[i:i + 250]})[0] for i in range(0, len(x), 250)])
            correct = int((logits.argmax(axis=1) == y).sum())
            entry[scheme] = correct
            print(name, scheme, correct)
        result["models"][name] = {"layers": len(layers), "correct": entry}
    save("model_accuracy.json", result)


def layer_inputs(model):
    """Distinct data inputs of the quantizable layers, in node order (qscope shares one fake-quant)."""
    inits = {i.name for i in model.graph.initializer}
    seen = []
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            if n.input[0] not in seen:
                seen.append(n.input[0])
    return seen


def session(model):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep Q/DQ as float math
    options.log_severity_level = 3  # rewritten graphs leave unused initializers: not worth a warning each
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def activation_accuracy():
    """int8 weights (torch fake-quant) plus static per-tensor int8 activations at every layer input,
    ranges from the first 512 samples run through ONNX Runtime on the FP32-weight model (BatchNorm
    folded), as qscope calibrates (activations are calibrated before, and independently of, the
    weight quantizer; the ranges are stored so the test compares them too), quantized by QuantizeLinear /
    DequantizeLinear (then Clip to ±127·s for the symmetric case, whose code range is ±127, while ONNX's
    int8 allows −128)."""
    data = np.load(os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz"))
    x, y = data["x"].astype(np.float32), data["y"]
    calib = x[:512]
    result = {"samples": int(len(y)), "calibration": 512, "weights": "int8", "models": {}}
    for name in ["mlp", "cnn", "vit"]:
        fp32 = fold_batchnorm(onnx.load(os.path.join(ROOT, "sample-models", f"{name}.onnx")))
        base = onnx.ModelProto()
        base.CopyFrom(fp32)
        inits = {i.name: i for i in base.graph.initializer}
        for wname, axis in quantizable(base):
            w = numpy_helper.to_array(inits[wname]).astype(np.float32)
            inits[wname].CopyFrom(numpy_helper.from_array(fake_quant(w, axis, "int8"), wname))
        tensors = layer_inputs(base)
        probe = onnx.ModelProto()
        probe.CopyFrom(fp32)
        existing = {o.name for o in probe.graph.output}
        for t in tensors:
            if t not in existing:
                probe.graph.output.append(helper.make_empty_tensor_value_info(t))
        sess = session(probe)
        names = [o.name for o in sess.get_outputs()]
        inp = sess.get_inputs()[0].name
        lo = {t: np.float32(np.inf) for t in tensors}
        hi = {t: np.float32(-np.inf) for t in tensors}
        for i in range(0, len(calib), 128):
            outs = dict(zip(names, sess.run(None, {inp: calib[i:i + 128]})))
            for t in tensors:
                v = outs[t] if t in outs else calib[i:i + 128]
                lo[t] = min(lo[t], np.float32(v.min()))
                hi[t] = max(hi[t], np.float32(v.max()))
        entry = {}
        for asym in [False, True]:
            m = onnx.ModelProto()
            m.CopyFrom(base)
            nodes = []
            replaced = {}
            layer_nodes = {id(n) for n in m.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")
                           and len(n.input) > 1 and n.input[1] in inits}
            for n in m.graph.node:
                if id(n) in layer_nodes and n.input[0] in tensors:
                    t = n.input[0]
                    if t not in replaced:
                        l, h = min(lo[t], np.float32(0)), max(hi[t], np.float32(0))
                        if asym:
                            scale = np.float32((h - l) / np.float32(255))
                            zero = np.uint8(np.clip(np.round(-l / scale), 0, 255))
                        else:
                            scale = np.float32(max(-l, h) / np.float32(127))
                            zero = np.int8(0)
                        tag = t.replace("/", "_") + "_q"
                        m.graph.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), tag + "_s"),
                                                    numpy_helper.from_array(np.array(zero), tag + "_z")])
                        nodes.append(helper.make_node("QuantizeLinear", [t, tag + "_s", tag + "_z"], [tag + "_q"]))
                        out = tag + "_dq"
                        nodes.append(helper.make_node("DequantizeLinear", [tag + "_q", tag + "_s", tag + "_z"], [out]))
                        if not asym:
                            bound = np.float32(127) * scale
                            m.graph.initializer.extend([numpy_helper.from_array(np.array(-bound, np.float32), tag + "_lo"),
                                                        numpy_helper.from_array(np.array(bound, np.float32), tag + "_hi")])
                            nodes.append(helper.make_node("Clip", [out, tag + "_lo", tag + "_hi"], [tag + "_c"]))
                            out = tag + "_c"
                        replaced[t] = out
                    n.input[0] = replaced[t]
                nodes.append(n)
            del m.graph.node[:]
            m.graph.node.extend(nodes)
            sess = session(m)
            inp = sess.get_inputs()[0].name
            logits = np.concatenate([sess.run(None, {inp: x[i:i + 250]})[0] for i in range(0, len(x), 250)])
            correct = int((logits.argmax(axis=1) == y).sum())
            spec = "int8:asym" if asym else "int8"
            entry[spec] = correct
            print(name, "W int8 A", spec, correct)
        result["models"][name] = {"activation_inputs": len(tensors), "correct": entry,
                                  "ranges": {t: bits([lo[t], hi[t]]) for t in tensors}}
    save("activation_accuracy.json", result)


# ---------------------------------------------------------------------------------------------
# SmoothQuant / SQ-b

def smoothable(model):
    """(node, weight name, input axis of W) for Gemm (alpha = beta = 1) / MatMul with a constant 2-D weight."""
    inits = {i.name: i for i in model.graph.initializer}
    out = []
    for n in model.graph.node:
        if n.op_type not in ("Gemm", "MatMul") or len(n.input) < 2 or n.input[1] not in inits:
            continue
        if len(inits[n.input[1]].dims) != 2:
            continue
        attrs = {a.name: a for a in n.attribute}
        if n.op_type == "Gemm":
            if attrs.get("transA") and attrs["transA"].i != 0:
                continue
            if any(k in attrs and attrs[k].f != 1.0 for k in ("alpha", "beta")):
                continue
            trans_b = attrs["transB"].i if "transB" in attrs else 0
            in_axis = 1 if trans_b else 0
        else:
            in_axis = 0
        out.append((n, n.input[1], in_axis))
    return out


def probe(model, tensors, x, batch=128):
    """Runs x through ONNX Runtime in batches and yields {tensor: values} for the named tensors."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    existing = {o.name for o in m.graph.output}
    for t in tensors:
        if t not in existing:
            m.graph.output.append(helper.make_empty_tensor_value_info(t))
    sess = session(m)
    names = [o.name for o in sess.get_outputs()]
    inp = sess.get_inputs()[0].name
    for i in range(0, len(x), batch):
        outs = dict(zip(names, sess.run(None, {inp: x[i:i + batch]})))
        outs[inp] = x[i:i + batch]
        yield {t: outs[t] for t in tensors}


def smooth_model(base, calib, alpha, bias):
    """The rewritten ONNX model and {layer: (s, c)}."""
    m = onnx.ModelProto()
    m.CopyFrom(base)
    inits = {i.name: i for i in m.graph.initializer}
    layers = smoothable(m)
    lo, hi = {}, {}
    for outs in probe(m, sorted({n.input[0] for n, _, _ in layers}), calib):
        for t, v in outs.items():
            v = v.reshape(-1, v.shape[-1])
            lo[t] = np.minimum(lo.get(t, np.full(v.shape[1], np.inf, np.float32)), v.min(axis=0))
            hi[t] = np.maximum(hi.get(t, np.full(v.shape[1], -np.inf, np.float32)), v.max(axis=0))
    result = {}
    before, after = {}, {}
    for n, wname, in_axis in layers:
        w = numpy_helper.to_array(inits[wname]).astype(np.float32)
        wk = np.moveaxis(w, in_axis, 1)  # [out, in]
        wmax = np.maximum(np.abs(wk).max(axis=0), np.float32(1e-5)).astype(np.float32)
        l, h = lo[n.input[0]].astype(np.float32), hi[n.input[0]].astype(np.float32)
        if bias:
            c = ((h + l) / np.float32(2)).astype(np.float32)
            a = ((h - l) / np.float32(2)).astype(np.float32)
        else:
            c = np.zeros_like(l)
            a = np.maximum(np.abs(l), np.abs(h)).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.maximum(np.power(a, np.float32(alpha)) / np.power(wmax, np.float32(1 - alpha)),
                           np.float32(1e-5)).astype(np.float32)
        dead = ~(a > 0)
        s[dead] = 1
        c[dead & ~np.isfinite(c)] = 0
        tag = n.name.replace("/", "_") + ("_sqb" if bias else "_smooth")
        nodes = []
        cur = n.input[0]
        if bias:
            m.graph.initializer.append(numpy_helper.from_array(c, tag + "_c"))
            nodes.append(helper.make_node("Sub", [cur, tag + "_c"], [tag + "_centred"]))
            cur = tag + "_centred"
        m.graph.initializer.append(numpy_helper.from_array(s, tag + "_s"))
        nodes.append(helper.make_node("Div", [cur, tag + "_s"], [tag + "_x"]))
        n.input[0] = tag + "_x"
        shape = [1, 1]
        shape[in_axis] = -1
        w2 = (w * s.reshape(shape)).astype(np.float32)
        m.graph.initializer.append(numpy_helper.from_array(w2, tag + "_w"))
        n.input[1] = tag + "_w"
        if bias:
            delta = (wk.astype(np.float64) @ c.astype(np.float64)).astype(np.float32)  # ORIGINAL W
            if n.op_type == "Gemm":
                b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32) if len(n.input) > 2 else np.zeros_like(delta)
                m.graph.initializer.append(numpy_helper.from_array((b + delta).astype(np.float32), tag + "_b"))
                if len(n.input) > 2:
                    n.input[2] = tag + "_b"
                else:
                    n.input.append(tag + "_b")
            else:
                m.graph.initializer.append(numpy_helper.from_array(delta, tag + "_d"))
                original = n.output[0]
                n.output[0] = tag + "_y"
                after[id(n)] = [helper.make_node("Add", [tag + "_y", tag + "_d"], [original])]
        before[id(n)] = nodes
        result[n.name] = (s, c)
    nodes = []
    for n in m.graph.node:
        nodes += before.get(id(n), [])
        nodes.append(n)
        nodes += after.get(id(n), [])
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m, result


def quantize_weights_int8(model):
    inits = {i.name: i for i in model.graph.initializer}
    for wname, axis in quantizable(model):
        w = numpy_helper.to_array(inits[wname]).astype(np.float32)
        inits[wname].CopyFrom(numpy_helper.from_array(fake_quant(w, axis, "int8"), wname))


def fake_quant_inputs(model, calib, bits):
    """Symmetric per-tensor fake-quant (x / s, round half to even, clip ±qmax, · s) before every
    quantizable layer, one per distinct input, calibrated on calib (sym-absmax)."""
    tensors = layer_inputs(model)
    amax = {t: np.float32(0) for t in tensors}
    for outs in probe(model, tensors, calib):
        for t, v in outs.items():
            amax[t] = max(amax[t], np.float32(np.abs(v).max()))
    qmax = np.float32(2 ** (bits - 1) - 1)
    inits = {i.name for i in model.graph.initializer}
    nodes, replaced = [], {}
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits and n.input[0] in amax:
            t = n.input[0]
            if t not in replaced:
                scale = np.float32(amax[t] / qmax)
                tag = t.replace("/", "_") + "_fq"
                model.graph.initializer.extend([
                    numpy_helper.from_array(np.array(scale, np.float32), tag + "_s"),
                    numpy_helper.from_array(np.array(-qmax, np.float32), tag + "_lo"),
                    numpy_helper.from_array(np.array(qmax, np.float32), tag + "_hi")])
                nodes += [helper.make_node("Div", [t, tag + "_s"], [tag + "_d"]),
                          helper.make_node("Round", [tag + "_d"], [tag + "_r"]),
                          helper.make_node("Clip", [tag + "_r", tag + "_lo", tag + "_hi"], [tag + "_c"]),
                          helper.make_node("Mul", [tag + "_c", tag + "_s"], [tag + "_q"])]
                replaced[t] = tag + "_q"
            n.input[0] = replaced[t]
        nodes.append(n)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return [amax[t] for t in tensors]


def smoothing():
    data = np.load(os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz"))
    x, y = data["x"].astype(np.float32), data["y"]
    calib = x[:512]
    alpha = 0.5
    result = {"samples": int(len(y)), "calibration": 512, "alpha": alpha, "weights": "int8", "models": {}}
    for name in ["mlp", "vit"]:
        base = fold_batchnorm(onnx.load(os.path.join(ROOT, "sample-models", f"{name}.onnx")))
        entry = {"correct": {}, "scales": {}, "centres": {}, "dead": {}, "amax": {}}
        for variant in [None, "smooth=0.5", "smooth=0.5:bias"]:
            if variant is None:
                m = onnx.ModelProto()
                m.CopyFrom(base)
            else:
                m, per_layer = smooth_model(base, calib, alpha, variant.endswith(":bias"))
                # FP exactness of the rewrite, as a sanity check of this reference itself.
                fp = np.concatenate([session(base).run(None, {"input": x[:500]})[0]])
                sm = np.concatenate([session(m).run(None, {"input": x[:500]})[0]])
                print(name, variant, "rewrite max |Δlogit|", float(np.abs(fp - sm).max()))
                entry["scales"][variant] = {k: bits(s) for k, (s, c) in per_layer.items()}
                entry["dead"][variant] = {k: int((s == 1).sum()) for k, (s, c) in per_layer.items()}
                if variant.endswith(":bias"):
                    entry["centres"][variant] = {k: bits(c) for k, (s, c) in per_layer.items()}
            for b in [8, 4]:
                q = onnx.ModelProto()
                q.CopyFrom(m)
                # Ranges from the FP32-weight (smoothed) model, as qscope calibrates, then int8 weights.
                amax = fake_quant_inputs(q, calib, b)
                quantize_weights_int8(q)
                entry["amax"][variant or "none"] = bits(amax)  # max|x| per fake-quantized tensor, graph order
                sess = session(q)
                inp = sess.get_inputs()[0].name
                logits = np.concatenate([sess.run(None, {inp: x[i:i + 250]})[0] for i in range(0, len(x), 250)])
                spec = f"int{b}" + (":" + variant if variant else "")
                entry["correct"][spec] = int((logits.argmax(axis=1) == y).sum())
                print(name, "W int8 A", spec, entry["correct"][spec])
        result["models"][name] = entry
    save("smoothing.json", result)


if __name__ == "__main__":
    torch.manual_seed(0)
    import sys
    if sys.argv[1:] == ["smoothing"]:  # only this fixture (the others are unchanged by it)
        smoothing()
        sys.exit(0)
    if sys.argv[1:] == ["activations"]:  # only activation_accuracy.json
        activation_accuracy()
        sys.exit(0)
    if sys.argv[1:] == ["fisher"]:  # only the Fisher fixtures
        fisher_kmeans_cases()
        fisher_diagonal()
        sys.exit(0)
    int_cases()
    fp_cases()
    kmeans_cases()
    fisher_kmeans_cases()
    fisher_diagonal()
    split_cases()
    model_accuracy()
    activation_accuracy()
    smoothing()
