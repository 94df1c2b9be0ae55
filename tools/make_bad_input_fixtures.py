#!/usr/bin/env python3
"""Writes the malformed inputs that the bad-input tests feed to qscope (Tests/Fixtures/bad/).

Each file is small and deliberately wrong in one way:
  truncated.onnx       the first 40% of sample-models/mlp.onnx
  random.onnx          4 KiB of seeded random bytes
  unsupported_op.onnx  a valid model whose one node is an op qscope does not execute (Det)
  wrong_shape.npz      x float32 [8, 3, 32, 32] (CIFAR-like) for the [N, 1, 28, 28] sample models
  bad_labels.npz       x fits the sample models, but y holds a label 12 (10 classes)
  random.npz           random bytes named .npz
Run from the repository root: python3 tools/make_bad_input_fixtures.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests", "Fixtures", "bad")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)

with open(os.path.join(root, "sample-models", "mlp.onnx"), "rb") as f:
    mlp = f.read()
with open(os.path.join(out, "truncated.onnx"), "wb") as f:
    f.write(mlp[: int(len(mlp) * 0.4)])
with open(os.path.join(out, "random.onnx"), "wb") as f:
    f.write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
with open(os.path.join(out, "random.npz"), "wb") as f:
    f.write(rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())

node = helper.make_node("Det", ["input"], ["logits"], name="determinant")
graph = helper.make_graph(
    [node], "unsupported",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, 4])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N"])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "unsupported_op.onnx"))

np.savez(os.path.join(out, "wrong_shape.npz"),
         x=rng.standard_normal((8, 3, 32, 32)).astype(np.float32), y=np.arange(8) % 10)
y = np.arange(16) % 10
y[5] = 12
np.savez(os.path.join(out, "bad_labels.npz"),
         x=rng.standard_normal((16, 1, 28, 28)).astype(np.float32), y=y.astype(np.int64))
print("wrote", sorted(os.listdir(out)))
