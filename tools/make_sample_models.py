#!/usr/bin/env python3
"""Train the qscope sample models on Fashion-MNIST and export them to ONNX.

Writes (paths relative to the repository root):
  sample-models/mlp.onnx, cnn.onnx, vit.onnx       TorchScript exporter, opset 17
  sample-models/fashion-mnist-test-2000.npz         first 2000 t10k images, preprocessed
  sample-models/manifest.json
  Tests/Fixtures/models/vit_encoder.onnx            nn.TransformerEncoder ViT, dynamo exporter, opset 18

Deterministic: fixed seeds, 2 intra-op threads, no DataLoader workers. Trained weights are kept in
--work-dir (default /tmp/qscope-sample-models) so that tools/make_parity_fixtures.py can compare
ONNX Runtime against torch; they are not committed.

Usage: python3 tools/make_sample_models.py [--models mlp,cnn,vit,vit_encoder] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import math
import os
import struct
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = os.path.join(ROOT, "sample-models")
FIXTURE_MODEL_DIR = os.path.join(ROOT, "Tests", "Fixtures", "models")
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DEFAULT_WORK_DIR = "/tmp/qscope-sample-models"

MEAN = 0.2860
STD = 0.3530
N_SUBSET = 2000
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ALL_MODELS = ["mlp", "cnn", "vit", "vit_encoder"]


def log(*args):
    print(*args, flush=True)


# ----------------------------------------------------------------------------------------------
# Data


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not an unsigned-byte IDX file"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def preprocess(images_u8: np.ndarray) -> np.ndarray:
    """uint8 [N,28,28] -> float32 [N,1,28,28], (pixel/255 - mean)/std."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return np.ascontiguousarray(x[:, None, :, :], dtype=np.float32)


def load_fashion_mnist(data_dir: str):
    def p(name):
        return os.path.join(data_dir, name)
    xtr = preprocess(read_idx(p("train-images-idx3-ubyte.gz")))
    ytr = read_idx(p("train-labels-idx1-ubyte.gz")).astype(np.int64)
    xte = preprocess(read_idx(p("t10k-images-idx3-ubyte.gz")))
    yte = read_idx(p("t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    return xtr, ytr, xte, yte


# ----------------------------------------------------------------------------------------------
# Models


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)


class ResBlock(nn.Module):
    """Basic residual block: conv3x3-BN-ReLU-conv3x3-BN (+ shortcut) - ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetSmall(nn.Module):
    """stem 3x3 1->32 + BN + ReLU (28x28) -> MaxPool 2 (14x14) -> block 32 -> block 32->64 stride 2
    with 1x1 projection (7x7) -> block 64 -> GlobalAveragePool -> Linear 64->10."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(32), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.layer1 = ResBlock(32, 32)
        self.layer2 = ResBlock(32, 64, stride=2)
        self.layer3 = ResBlock(64, 64)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(self.stem(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


class Attention(nn.Module):
    """Hand-written multi-head self attention: separate q/k/v Linear, reshape/transpose/matmul/softmax."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        assert dim % heads == 0
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q = self.q(x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)   # [B,H,T,Dh]
        k = self.k(x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v(x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) * self.scale                   # [B,H,T,T]
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v)                                                  # [B,H,T,Dh]
        y = y.transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class PatchEmbed(nn.Module):
    """Conv 7x7 stride 7 -> 16 patches of dim `dim`, class token, learned positional embedding."""

    def __init__(self, dim: int, patch: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(1, dim, patch, stride=patch)
        n = (28 // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, n + 1, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)

    def forward(self, x):
        x = self.conv(x).flatten(2).transpose(1, 2)                               # [B,16,D]
        cls = self.cls.expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1) + self.pos                              # [B,17,D]


class ViT(nn.Module):
    def __init__(self, dim=64, heads=4, depth=4, mlp_dim=128):
        super().__init__()
        self.embed = PatchEmbed(dim)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)
        self.apply(_vit_init)

    def forward(self, x):
        x = self.norm(self.blocks(self.embed(x)))
        return self.head(x[:, 0])


class ViTEncoder(nn.Module):
    """Same patch embedding, but the encoder is torch's nn.TransformerEncoder (packed in_proj,
    nn.MultiheadAttention)."""

    def __init__(self, dim=64, heads=4, depth=2, mlp_dim=128):
        super().__init__()
        self.embed = PatchEmbed(dim)
        layer = nn.TransformerEncoderLayer(d_model=dim, nhead=heads, dim_feedforward=mlp_dim,
                                           dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, norm=nn.LayerNorm(dim),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.encoder(self.embed(x))
        return self.head(x[:, 0])


def _vit_init(m):
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# name -> (constructor, description, training recipe, exporter, output dir)
SPECS = {
    "mlp": dict(
        build=MLP,
        description="MLP 784-256-128-10 (Flatten, Gemm transB=1, ReLU)",
        epochs=6, batch=128, lr=1e-3, wd=1e-4, hflip=False,
        exporter="torchscript", dir=SAMPLE_DIR),
    "cnn": dict(
        build=ResNetSmall,
        description=("ResNet-style CNN: stem conv3x3 1->32+BN+ReLU, MaxPool, 3 residual blocks "
                     "(32, 32->64 stride 2 with 1x1 projection, 64), GlobalAveragePool, Linear 64->10; "
                     "BatchNormalization kept unfolded"),
        epochs=4, batch=128, lr=3e-3, wd=5e-4, hflip=True,
        exporter="torchscript", dir=SAMPLE_DIR),
    "vit": dict(
        build=ViT,
        description=("ViT, hand-written attention: patch conv 7x7/7 (16 patches) + class token + "
                     "learned positions, 4 pre-LN blocks (dim 64, 4 heads, MLP 128, exact GELU), "
                     "final LayerNorm, head on class token"),
        epochs=15, batch=128, lr=2e-3, wd=0.05, hflip=True,
        exporter="torchscript", dir=SAMPLE_DIR),
    "vit_encoder": dict(
        build=ViTEncoder,
        description=("ViT built from nn.TransformerEncoder (2 norm_first layers, d_model 64, 4 heads, "
                     "ff 128, gelu): patch conv 7x7/7 + class token + positions, head on class token"),
        epochs=2, batch=128, lr=2e-3, wd=0.05, hflip=True,
        exporter="dynamo", dir=FIXTURE_MODEL_DIR),
}


def build_model(name: str) -> nn.Module:
    return SPECS[name]["build"]()


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


# ----------------------------------------------------------------------------------------------
# Training / evaluation


def seed_all(seed: int):
    torch.manual_seed(seed)
    np.random.seed(seed)


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch: int = 500) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        out.append(model(torch.from_numpy(x[i:i + batch])).numpy())
    return np.concatenate(out).astype(np.float32)


def train(name: str, model: nn.Module, xtr: np.ndarray, ytr: np.ndarray, xte, yte, seed: int):
    spec = SPECS[name]
    seed_all(seed)
    gen = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(xtr)
    yt = torch.from_numpy(ytr)
    n = len(xt)
    steps_per_epoch = n // spec["batch"]
    total = steps_per_epoch * spec["epochs"]
    opt = torch.optim.AdamW(model.parameters(), lr=spec["lr"], weight_decay=spec["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec["lr"], total_steps=total,
                                                pct_start=0.15, anneal_strategy="cos")
    log(f"[{name}] training: {spec['epochs']} epochs x {steps_per_epoch} steps, batch {spec['batch']}, "
        f"AdamW lr {spec['lr']} (one-cycle), wd {spec['wd']}, hflip {spec['hflip']}, "
        f"{count_parameters(model)} parameters")
    for epoch in range(spec["epochs"]):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for s in range(steps_per_epoch):
            idx = perm[s * spec["batch"]:(s + 1) * spec["batch"]]
            xb, yb = xt[idx], yt[idx]
            if spec["hflip"]:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        seen = steps_per_epoch * spec["batch"]
        acc = float((predict(model, xte).argmax(1) == yte).mean())
        log(f"[{name}] epoch {epoch + 1}/{spec['epochs']}: loss {loss_sum / seen:.4f} "
            f"train acc {correct / seen:.4f} test acc {acc:.4f} ({time.perf_counter() - t0:.1f} s)")
    model.eval()
    return model


# ----------------------------------------------------------------------------------------------
# Export


def export_torchscript(model: nn.Module, path: str, opset: int = 17, keep_bn: bool = False):
    """Legacy TorchScript exporter. With training=EVAL the exporter's eval peephole folds
    BatchNormalization into the preceding Conv; TrainingMode.PRESERVE on a model in eval() mode skips
    that pass and keeps inference-mode BatchNormalization nodes."""
    model.eval()
    dummy = torch.zeros(2, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (dummy,), path, dynamo=False, opset_version=opset,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
            do_constant_folding=True, export_params=True,
            training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL)


def export_dynamo(model: nn.Module, path: str, opset: int = 18):
    model.eval()
    dummy = torch.zeros(2, 1, 28, 28)
    batch = torch.export.Dim("N", min=1, max=65536)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            model, (dummy,), dynamo=True, opset_version=opset,
            input_names=["input"], output_names=["logits"],
            dynamic_shapes={"x": {0: batch}}, optimize=True, verbose=False)
    prog.save(path, external_data=False)


def onnx_summary(path: str) -> dict:
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = collections.Counter(n.op_type for n in m.graph.node)
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    return {
        "ops": dict(sorted(ops.items())),
        "opset": int(opset),
        "ir_version": int(m.ir_version),
        "nodes": len(m.graph.node),
        "initializers": len(m.graph.initializer),
        "inputs": [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
                   for i in m.graph.input],
        "outputs": [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])
                    for o in m.graph.output],
        "bytes": os.path.getsize(path),
    }


def ort_logits(path: str, x: np.ndarray, batch: int = 500, optimize: bool = False) -> np.ndarray:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    out = [sess.run(["logits"], {"input": x[i:i + batch]})[0] for i in range(0, len(x), batch)]
    return np.concatenate(out).astype(np.float32)


# ----------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(ALL_MODELS),
                    help="comma-separated subset of " + ",".join(ALL_MODELS))
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                    help="where trained state_dicts are kept (not committed)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in SPECS:
            ap.error(f"unknown model {n!r}")

    t_start = time.perf_counter()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    import onnx
    import onnxruntime as ort
    log(f"torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
        f"numpy {np.__version__}; threads {torch.get_num_threads()}")
    os.makedirs(SAMPLE_DIR, exist_ok=True)
    os.makedirs(FIXTURE_MODEL_DIR, exist_ok=True)
    os.makedirs(args.work_dir, exist_ok=True)

    log(f"loading Fashion-MNIST from {args.data_dir}")
    xtr, ytr, xte, yte = load_fashion_mnist(args.data_dir)
    log(f"  train {xtr.shape} test {xte.shape}; train mean {xtr.mean():.4f} std {xtr.std():.4f} "
        f"(after normalisation)")
    xs, ys = xte[:N_SUBSET].copy(), yte[:N_SUBSET].copy()
    npz_path = os.path.join(SAMPLE_DIR, "fashion-mnist-test-2000.npz")
    np.savez_compressed(npz_path, x=xs, y=ys)
    log(f"wrote {os.path.relpath(npz_path, ROOT)}: x {xs.dtype} {list(xs.shape)}, y {ys.dtype} "
        f"{list(ys.shape)}, {os.path.getsize(npz_path)} bytes, class counts {np.bincount(ys).tolist()}")

    manifest_path = os.path.join(SAMPLE_DIR, "manifest.json")
    previous = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            previous = {m["name"]: m for m in json.load(f).get("models", [])}

    entries = {}
    for i, name in enumerate(names):
        spec = SPECS[name]
        t0 = time.perf_counter()
        seed = args.seed + 1000 * ALL_MODELS.index(name)
        seed_all(seed)
        model = build_model(name)
        train(name, model, xtr, ytr, xte, yte, seed)
        torch.save(model.state_dict(), os.path.join(args.work_dir, f"{name}.pt"))
        t_train = time.perf_counter() - t0

        torch_full = predict(model, xte)
        acc_torch_full = float((torch_full.argmax(1) == yte).mean())
        path = os.path.join(spec["dir"], f"{name}.onnx")
        if spec["exporter"] == "torchscript":
            export_torchscript(model, path, 17, keep_bn=(name == "cnn"))
        else:
            export_dynamo(model, path, 18)
        summary = onnx_summary(path)
        lo = ort_logits(path, xs)
        lt = torch_full[:N_SUBSET]
        np.save(os.path.join(args.work_dir, f"{name}.torch_logits.npy"), lt)
        diff = float(np.abs(lo - lt).max())
        acc_ort = float((lo.argmax(1) == ys).mean())
        log(f"[{name}] exported {os.path.relpath(path, ROOT)} ({spec['exporter']}, opset "
            f"{summary['opset']}, {summary['bytes']} bytes, {summary['nodes']} nodes)")
        log(f"[{name}]   ops: {summary['ops']}")
        log(f"[{name}]   inputs {summary['inputs']} outputs {summary['outputs']}")
        log(f"[{name}]   accuracy torch full test {acc_torch_full:.4f}; ORT on {N_SUBSET}: {acc_ort:.4f}; "
            f"max |ORT - torch| logit diff {diff:.3g}; train {t_train:.0f} s, total {time.perf_counter() - t0:.0f} s")
        if diff > 1e-3:
            log(f"[{name}]   WARNING: ORT and torch logits differ by {diff}")
        entries[name] = {
            "name": name,
            "file": os.path.relpath(path, SAMPLE_DIR) if spec["dir"] == SAMPLE_DIR else os.path.relpath(path, ROOT),
            "description": spec["description"],
            "input": {"name": "input", "shape": ["N", 1, 28, 28], "dtype": "float32"},
            "output": {"name": "logits", "shape": ["N", 10]},
            "opset": summary["opset"],
            "exporter": spec["exporter"],
            "parameters": count_parameters(model),
            "fp32_accuracy_ort": round(acc_ort, 6),
            "fp32_accuracy_torch_full_test": round(acc_torch_full, 6),
            "ops": summary["ops"],
            "bytes": summary["bytes"],
            "train_epochs": spec["epochs"],
        }

    # manifest: the sample-models only (vit_encoder is a test fixture, described in parity.json)
    models = []
    for name in ["mlp", "cnn", "vit"]:
        if name in entries:
            models.append(entries[name])
        elif name in previous:
            models.append(previous[name])
    manifest = {
        "format": "qscope-sample-models",
        "version": 1,
        "default_model": "cnn",
        "data": {
            "file": "fashion-mnist-test-2000.npz",
            "source": "Fashion-MNIST t10k, first 2000",
            "x": "float32 [2000,1,28,28]",
            "y": "int64 [2000]",
            "preprocessing": {"scale": 1 / 255, "mean": MEAN, "std": STD,
                              "formula": "(pixel/255 - mean)/std"},
            "classes": CLASSES,
        },
        "models": models,
        "generator": {"script": "tools/make_sample_models.py", "torch": torch.__version__,
                      "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                      "seed": args.seed},
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"wrote {os.path.relpath(manifest_path, ROOT)} ({len(models)} models)")
    if "vit_encoder" in entries:
        e = entries["vit_encoder"]
        log(f"vit_encoder (fixture): ORT acc {e['fp32_accuracy_ort']}, ops {e['ops']}")
    log(f"done in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
