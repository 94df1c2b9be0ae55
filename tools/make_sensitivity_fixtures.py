#!/usr/bin/env python3
"""Reference activation statistics, weight outlier clusters and top Hessian eigenvalues for the MLP.

Writes Tests/Fixtures/sensitivity/mlp.json:
  activations: per quantizable layer (model order), the statistics of its input over the first
    CALIB_SAMPLES samples, computed by ONNX Runtime (the layer inputs exposed as graph outputs) and
    NumPy: count, min, max, mean, std (ddof 0), skew (biased, m3/m2^1.5), negative_fraction,
    histogram (64 equal-width bins over [min, max]: bin = min(63, floor((x - min) * 64 / (max - min)))
    in float64), and the MSE of per-tensor grids fitted to [min, max] (float32 round trip,
    round half to even):
      symmetric B: s = max(-lo, hi) / (2^(B-1) - 1), q = clip(rint(x / s), -(2^(B-1)-1), 2^(B-1)-1), x^ = q s
      affine B:    lo = min(min, 0), hi = max(max, 0), s = (hi - lo) / (2^B - 1), z = clip(rint(-lo / s), 0, 2^B-1),
                   q = clip(rint(x / s) + z, 0, 2^B - 1), x^ = (q - z) s
  outliers: per layer weight: mean, std, q1, q3 (np.percentile, linear), iqr_outliers (outside
    [q1 - 1.5 IQR, q3 + 1.5 IQR]), sigma_outliers (|w - mean| > 3 std); for the layers with at most
    BRUTE_MAX values the optimal 3-means centres by exhaustive search over all pairs of cut points
    of the sorted values (each of the three runs non-empty), the thresholds and the mask counts.
  eigen: top eigenvalue (largest magnitude) of each layer's Hessian block of the mean cross-entropy
    over the first EIGEN_SAMPLES samples (float64, BatchNorm folded as in make_hessian_fixtures.py):
    for blocks of at most DENSE_MAX parameters the dense block Hessian (one HVP per unit vector) and
    torch.linalg.eigvalsh; for larger blocks power iteration with block-restricted HVPs to a
    relative change below 1e-10 (at most 2000 steps).
Usage: python3 tools/make_sensitivity_fixtures.py
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_hessian_fixtures import Interpreter, load_data  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALIB_SAMPLES = 256
EIGEN_SAMPLES = 64
BRUTE_MAX = 1500
DENSE_MAX = 1500


def layer_nodes(model):
    inits = {i.name for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits]


def activation_stats(x):
    x = x.astype(np.float32).ravel()
    x64 = x.astype(np.float64)
    lo, hi = float(x64.min()), float(x64.max())
    mean = float(x64.mean())
    d = x64 - mean
    m2, m3 = float((d * d).mean()), float((d ** 3).mean())
    skew = m3 / m2 ** 1.5 if m2 > 0 else 0.0
    span = hi - lo
    bins = np.zeros(64, dtype=np.int64)
    if span > 0:
        idx = np.minimum(63, np.maximum(0, np.floor((x64 - lo) * (64.0 / span)).astype(np.int64)))
        bins = np.bincount(idx, minlength=64)
    else:
        bins[0] = x.size
    out = {"count": int(x.size), "min": lo, "max": hi, "mean": mean, "std": m2 ** 0.5, "skew": skew,
           "negative_fraction": float((x < 0).mean()), "histogram": bins.tolist(), "mse_symmetric": {}, "mse_asymmetric": {}}
    lo32, hi32 = np.float32(min(lo, 0.0)), np.float32(max(hi, 0.0))
    for b in (8, 4):
        top = np.float32(2 ** (b - 1) - 1)
        s = np.float32(max(-lo32, hi32) / top)
        q = np.clip(np.rint(x / s), -top, top)
        out["mse_symmetric"][str(b)] = float(np.mean((x64 - (q * s).astype(np.float64)) ** 2))
        levels = np.float32(2 ** b - 1)
        s = np.float32((hi32 - lo32) / levels)
        z = np.float32(np.clip(np.rint(-lo32 / s), 0, levels))
        q = np.clip(np.rint(x / s) + z, 0, levels)
        out["mse_asymmetric"][str(b)] = float(np.mean((x64 - ((q - z) * s).astype(np.float64)) ** 2))
    return out


def brute_three_means(w):
    x = np.sort(w.astype(np.float64).ravel())
    n = x.size
    s1 = np.concatenate([[0.0], np.cumsum(x)])
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])

    def cost(i, j):  # arrays ok
        s = s1[j] - s1[i]
        return s2[j] - s2[i] - s * s / (j - i)

    best, arg = np.inf, None
    for i in range(1, n - 1):
        j = np.arange(i + 1, n)
        c = cost(0, i) + cost(i, j) + cost(j, n)
        k = int(np.argmin(c))
        if c[k] < best:
            best, arg = float(c[k]), (i, int(j[k]))
    i, j = arg
    centres = [(s1[i] - s1[0]) / i, (s1[j] - s1[i]) / (j - i), (s1[n] - s1[j]) / (n - j)]
    t1, t2 = (centres[0] + centres[1]) / 2, (centres[1] + centres[2]) / 2
    wf = w.astype(np.float64).ravel()
    counts = [int((wf <= t1).sum()), int(((wf > t1) & (wf < t2)).sum()), int((wf >= t2).sum())]
    return {"centers": centres, "boundaries": [t1, t2], "counts": counts, "cost": best}


def outlier_stats(w):
    x = w.astype(np.float64).ravel()
    mean, std = float(x.mean()), float(x.std())
    q1, q3 = (float(v) for v in np.percentile(x, [25, 75]))
    iqr = q3 - q1
    out = {"count": int(x.size), "mean": mean, "std": std, "q1": q1, "q3": q3,
           "iqr_outliers": int(((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)).sum()),
           "sigma_outliers": int((np.abs(x - mean) > 3 * std).sum())}
    if x.size <= BRUTE_MAX:
        out["kmeans"] = brute_three_means(w)
    return out


def eigenvalues(path, x, y):
    interp = Interpreter(path)
    dtype = torch.float64
    params = interp.params(dtype)
    ws = [params[k] for k in interp.layer_names]
    loss = F.cross_entropy(interp.run(torch.tensor(x, dtype=dtype), params, dtype), torch.tensor(y))
    grads = torch.autograd.grad(loss, ws, create_graph=True)
    out = []
    for l, w in enumerate(ws):
        def hvp(v):
            return torch.autograd.grad(grads[l], w, grad_outputs=v, retain_graph=True)[0]
        n = w.numel()
        if n <= DENSE_MAX:
            h = torch.stack([hvp(torch.nn.functional.one_hot(torch.tensor(i), n).to(dtype).reshape(w.shape)).reshape(-1)
                             for i in range(n)])
            h = (h + h.T) / 2
            e = torch.linalg.eigvalsh(h)
            top = float(e[torch.argmax(e.abs())])
            out.append({"name": interp.layer_names[l], "eigenvalue": top, "method": "eigvalsh", "second": float(sorted(e.abs().tolist())[-2])})
        else:
            gen = torch.Generator().manual_seed(l)
            v = torch.randn(w.shape, generator=gen, dtype=dtype)
            v /= v.norm()
            lam = None
            for step in range(2000):
                hv = hvp(v)
                new = float((hv * v).sum())
                v = hv / hv.norm()
                if lam is not None and abs(new - lam) / (abs(lam) + 1e-6) < 1e-10:
                    lam = new
                    break
                lam = new
            out.append({"name": interp.layer_names[l], "eigenvalue": lam, "method": "power", "steps": step + 1})
    return out


def main():
    path = os.path.join(ROOT, "sample-models", "mlp.onnx")
    model = onnx.load(path)
    nodes = layer_nodes(model)
    x, y = load_data(max(CALIB_SAMPLES, EIGEN_SAMPLES))
    # Expose each layer's input as a graph output.
    names = [n.input[0] for n in nodes]
    for name in names:
        if name not in [o.name for o in model.graph.output]:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    values = session.run(names, {model.graph.input[0].name: x[:CALIB_SAMPLES]})
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    layers = []
    eig = eigenvalues(path, x[:EIGEN_SAMPLES], y[:EIGEN_SAMPLES])
    for node, v, e in zip(nodes, values, eig):
        layers.append({"name": node.name, "weight": node.input[1], "activations": activation_stats(v),
                       "outliers": outlier_stats(inits[node.input[1]]), "eigen": e})
    out = {"model": "mlp", "calibration_samples": CALIB_SAMPLES, "eigen_samples": EIGEN_SAMPLES, "layers": layers}
    with open(os.path.join(ROOT, "Tests", "Fixtures", "sensitivity", "mlp.json"), "w") as f:
        json.dump(out, f)
    for layer in layers:
        print(layer["name"], layer["eigen"], layer["outliers"].get("kmeans", {}).get("centers"))


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
