"""Shared by the exporter fixture scripts (`make_exporter_fixtures.py`, `make_paddleocr_fixtures.py`,
`check_paddleocr.py`): ONNX Runtime sessions, qscope's weight-only int8 grid applied to an ONNX file's
weights, and the fidelity metrics computed the way qscope's `FidelityTally` computes them.

Only numpy, onnx and onnxruntime; no deep-learning framework. Not a script: imported from tools/.
"""
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

THREADS = 2

# ---------------------------------------------------------------------------------------------
# Quantizer (qscope's `intB`, Sources/Kernels/Quantization/IntegerQuantizer.swift)


def fake_quant_int(w: np.ndarray, axis: int, bits: int = 8) -> np.ndarray:
    """Symmetric per-output-channel fake-quant of float32 `w`, `axis` the output channel axis:
    s = max|w| / (2^(B-1) - 1) in float32, q = clamp(round_half_even(w / s), -(2^(B-1)-1), 2^(B-1)-1),
    w^ = q * s (float32 division, as qscope and ORT's QuantizeLinear); an all-zero channel stays 0."""
    w = np.asarray(w, dtype=np.float32)
    moved = np.moveaxis(w, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)
    qmax = np.float32(2 ** (bits - 1) - 1)
    scale = (np.abs(flat).max(axis=1) / qmax).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)[:, None]
    q = np.clip(np.round(flat / safe), -qmax, qmax).astype(np.float32)  # np.round: half to even
    out = (q * safe).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(out.reshape(moved.shape), 0, axis))


# ---------------------------------------------------------------------------------------------
# Quantizable layers as qscope finds them


def constant_weight(graph, name):
    """(value, source) of a weight input that is a constant: an initializer or a Constant node's
    value, reached through Identity and Transpose nodes (qscope removes the first and folds the
    second). (None, None) when the input is not constant that way."""
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    chain = []
    while name not in inits:
        node = producers.get(name)
        if node is None:
            return None, None
        if node.op_type == "Constant":
            attr = next((a for a in node.attribute if a.name == "value"), None)
            if attr is None:
                return None, None
            value = numpy_helper.to_array(attr.t).astype(np.float32)
            break
        if node.op_type not in ("Identity", "Transpose"):
            return None, None
        chain.append(node)
        name = node.input[0]
    else:
        value = numpy_helper.to_array(inits[name]).astype(np.float32)
    for node in reversed(chain):
        if node.op_type == "Transpose":
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            value = np.ascontiguousarray(np.transpose(value, perm))
    return value, name


def quantizable_layers(model):
    """[dict(node, op, weight, axis, shape, source)] for every Conv / ConvTranspose / Gemm / MatMul
    whose weight (input 1) is constant. Output channel axis: Conv 0, ConvTranspose 1 (its weight is
    [C_in, C_out/group, kh, kw]; only group 1 is accepted, where axis 1 is exactly the output
    channel), Gemm 0 with transB=1 else 1 (transA=1 is skipped, as qscope skips it), MatMul the last.
    A weight computed from constants by any other op stops the script: the reference would not know
    what qscope folds it to."""
    g = model.graph
    producers = {o: n for n in g.node for o in n.output}
    layers = []
    for n in g.node:
        if n.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul") or len(n.input) < 2:
            continue
        value, source = constant_weight(g, n.input[1])
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if value is None:
            p = producers.get(n.input[1])
            if n.op_type != "MatMul" and p is not None:
                raise SystemExit(f"{n.name}: {n.op_type} weight computed by {p.op_type}; not handled")
            continue  # a MatMul of two activations (attention) has no weight
        if n.op_type == "Gemm":
            if attrs.get("transA", 0) != 0:
                continue
            axis = 0 if attrs.get("transB", 0) != 0 else 1
        elif n.op_type == "MatMul":
            axis = value.ndim - 1
        elif n.op_type == "ConvTranspose":
            if attrs.get("group", 1) != 1:
                raise SystemExit(f"{n.name}: ConvTranspose with group {attrs['group']}; not handled")
            axis = 1
        else:
            axis = 0
        layers.append({"node": n.name, "op": n.op_type, "weight": n.input[1], "axis": axis,
                       "shape": list(value.shape), "source": source})
    return layers


def quantized_model(model, bits=8):
    """A copy of `model` whose quantizable weights are fake-quantized to `intB`. Each layer gets its
    own quantized initializer (its weight input's name + '__fq'), so a weight shared with another
    reader stays FP32 there, as in qscope."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    nodes = {n.name: n for n in g.node}
    added = set()
    for layer in quantizable_layers(m):
        new = layer["weight"] + "__fq"
        if new not in added:
            value, _ = constant_weight(g, layer["weight"])
            g.initializer.append(numpy_helper.from_array(fake_quant_int(value, layer["axis"], bits), new))
            added.add(new)
        nodes[layer["node"]].input[1] = new
    return m


def fold_conv_batchnorm(model):
    """(copy of `model` with every BatchNormalization that is the only reader of a Conv folded into
    it, as qscope's GraphSimplifier folds it, number folded): W' = W*c per output channel,
    b' = (b - mean)*c + beta, c = gamma / sqrt(var + eps). Diagnostic: quantizing this copy checks
    the reference's claim that quantizing the unfolded weights gives the same grid."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    readers = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    folded = 0
    for n in list(g.node):
        if n.op_type != "Conv":
            continue
        w, _ = constant_weight(g, n.input[1])
        users = readers.get(n.output[0], [])
        if w is None or len(users) != 1 or users[0].op_type != "BatchNormalization" or n.output[0] in {o.name for o in g.output}:
            continue
        bn = users[0]
        params = [constant_weight(g, x)[0] for x in bn.input[1:5]]
        if any(p is None for p in params):
            continue
        gamma, beta, mean, var = params
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        c = (gamma / np.sqrt(var + np.float32(eps))).astype(np.float32)
        b = constant_weight(g, n.input[2])[0] if len(n.input) > 2 and n.input[2] else np.zeros_like(c)
        wname, bname = n.output[0] + "__bn_folded_w", n.output[0] + "__bn_folded_b"
        g.initializer.extend([numpy_helper.from_array((w * c.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32), wname),
                              numpy_helper.from_array(((b - mean) * c + beta).astype(np.float32), bname)])
        x = n.input[0]
        del n.input[:]
        n.input.extend([x, wname, bname])
        n.output[0] = bn.output[0]
        g.node.remove(bn)
        folded += 1
    return m, folded


# ---------------------------------------------------------------------------------------------
# ONNX Runtime


def session(model_or_path, optimize=False):
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # the rewritten models leave their FP32 initializers unused: no warning
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def run_ort(sess, feeds, batch=16):
    """The first output on `feeds` (name -> array with the samples first), `batch` samples a run."""
    out = sess.get_outputs()[0].name
    n = len(next(iter(feeds.values())))
    parts = [sess.run([out], {k: v[i:i + batch] for k, v in feeds.items()})[0] for i in range(0, n, batch)]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def optimization_spread(path, feeds, fp32, batch=16):
    """max |ORT with all graph optimizations - `fp32` (ORT without)|: how far two correct float32
    evaluations of the same graph drift apart on this data (fused kernels, other summation orders),
    the scale against which another engine's difference is judged."""
    return float(np.abs(run_ort(session(path, optimize=True), feeds, batch) - fp32).max())


def op_counts(model):
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items()))


def value_shape(value_info):
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value_info.type.tensor_type.shape.dim]


# ---------------------------------------------------------------------------------------------
# Metrics (Sources/Analysis/Evaluation/FidelityTally.swift), float64 on the float32 outputs

DEFINITIONS = {
    "reference": "the FP32 model's first output from ONNX Runtime (CPU, graph optimizations disabled) on the "
                 "same data; int8 = the same graph with every quantizable weight fake-quantized, same ORT "
                 "settings. All metrics in float64 on the float32 outputs.",
    "quantizable": "every Conv / ConvTranspose / Gemm / MatMul node whose weight (input 1) is constant (an "
                   "initializer or Constant, directly or through Identity/Transpose); per output channel: Conv "
                   "axis 0, ConvTranspose axis 1 (group 1 only), Gemm axis 0 if transB=1 else 1, MatMul the last "
                   "axis. Biases and BatchNormalization parameters stay FP32. qscope folds a BatchNormalization "
                   "into the Conv before it and quantizes the folded weight; the reference quantizes the unfolded "
                   "weight: per-output-channel absmax scaling commutes with the per-channel BN factor "
                   "(round(c*w / (|c| s)) = sign(c) round(w / s)), so both give the same grid up to float32 "
                   "rounding of c*w.",
    "int8": "symmetric per output channel: s = max|w| / 127 in float32, q = clamp(round_half_even(w / s), -127, 127), "
            "w^ = q*s; an all-zero channel stays 0 (qscope's --weights int8)",
    "positions": "one sample's output of shape [d1, ..., dk] has d1*...*d(k-1) positions of dk values "
                 "([N, C]: one per sample, [N, 1, H, W]: H rows of W values, [N, T, V]: T)",
    "agreement": "fraction of positions where argmax over the last axis of int8 equals that of FP32 (first "
                 "index on ties); only where the last axis has at least 2 values",
    "cosine_mean/cosine_min": "per sample s: cos_s = <q_s, r_s> / (|q_s| |r_s|) with q_s, r_s the sample's whole "
                              "output flattened; mean and min over samples",
    "sqnr_db": "10*log10(sum(ref^2) / sum((int8 - ref)^2)) over all elements",
    "kl": "mean over positions of KL(p_ref || p_int8), p = softmax of the output over the last axis, natural "
          "log; only for outputs qscope takes as logits (`output_kind`)",
    "accuracy": "fraction of samples with argmax(output[n]) == y[n] ([N, classes] outputs with labels)",
    "ort_optimized_vs_unoptimized_max_abs_diff": "max |ORT output with ORT_ENABLE_ALL - ORT output with optimizations "
                                                 "disabled| on the same data: the float32 drift between two correct "
                                                 "evaluations",
    "int8_after_batchnorm_folding": "diagnostic: the int8 metrics when every BatchNormalization that is a Conv's only "
                                    "reader is folded into it before quantizing (qscope's order); they equal `quantized` "
                                    "to float32 rounding",
    "framework_vs_ort_max_abs_diff": "max |ORT FP32 output - the exporting framework's own float32 output| "
                                     "(TensorFlow / PaddlePaddle eager) on the same data",
}


def metrics(q, ref, logits, labels=None):
    """The fidelity metrics of output `q` against FP32 output `ref` (both [N, ...] float32)."""
    q64, r64 = q.astype(np.float64), ref.astype(np.float64)
    out = {}
    if ref.shape[-1] >= 2:
        out["agreement"] = float((q.argmax(axis=-1) == ref.argmax(axis=-1)).mean())
    qf, rf = q64.reshape(len(q), -1), r64.reshape(len(ref), -1)
    cos = (qf * rf).sum(axis=1) / (np.linalg.norm(qf, axis=1) * np.linalg.norm(rf, axis=1))
    noise = ((q64 - r64) ** 2).sum()
    out.update({"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
                "sqnr_db": float(10 * np.log10((r64 ** 2).sum() / noise)) if noise > 0 else float("inf")})
    if logits:
        lp = r64 - r64.max(axis=-1, keepdims=True)
        lp = lp - np.log(np.exp(lp).sum(axis=-1, keepdims=True))
        lq = q64 - q64.max(axis=-1, keepdims=True)
        lq = lq - np.log(np.exp(lq).sum(axis=-1, keepdims=True))
        out["kl"] = float(np.maximum((np.exp(lp) * (lp - lq)).sum(axis=-1), 0).mean())
    if labels is not None:
        out["accuracy"] = float((q.reshape(len(q), -1).argmax(axis=1) == labels).mean())
    return out


def quantized_reference(model, feeds, fp32, logits, labels=None, batch=16):
    """(layers, int8 metrics, diagnostic) of `model` on `feeds` against its FP32 output `fp32`; the
    diagnostic holds the int8 metrics with every Conv + BatchNormalization folded before quantizing
    (qscope's order) and how many were folded."""
    layers = quantizable_layers(model)
    q = run_ort(session(quantized_model(model, 8)), feeds, batch)
    folded_model, folded = fold_conv_batchnorm(model)
    diagnostic = {"batchnorms_folded": folded}
    if folded:
        qf = run_ort(session(quantized_model(folded_model, 8)), feeds, batch)
        diagnostic["int8"] = metrics(qf, fp32, logits, labels)
    return layers, metrics(q, fp32, logits, labels), diagnostic
