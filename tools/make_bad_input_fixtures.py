#!/usr/bin/env python3
"""Writes the malformed inputs that the bad-input tests feed to qscope (Tests/Fixtures/bad/).

Each file is small and deliberately wrong in one way:
  truncated.onnx       the first 40% of sample-models/mlp.onnx
  random.onnx          4 KiB of seeded random bytes
  unsupported_op.onnx  a valid model whose one node is an op qscope does not execute (Det)
  wrong_shape.npz      x float32 [8, 3, 32, 32] (CIFAR-like) for the [N, 1, 28, 28] sample models
  bad_labels.npz       x fits the sample models, but y holds a label 12 (10 classes)
  random.npz           random bytes named .npz
  tokens_no_mask.npz   the tiny BERT fixture's input_ids without attention_mask
  tokens_float_ids.npz input_ids as float32 (the model takes int64)
  tokens_rank3.npz     input_ids and attention_mask of rank 3 ([N, 2, 16]) for [N, T] inputs
  tokens_out_of_range.npz  a token id 1000 at sample 3, position 7 (the vocabulary has 1000 rows)
  flattened_output.onnx    a model whose output folds the samples into one axis ([N, 4] -> [4N])
  features.npz         x float32 [8, 4], data for flattened_output.onnx and fixed_batch.onnx
  fixed_batch.onnx     a model exported with its batch fixed at 2 (a Reshape to [2, 2, 2] baked in)
  resize_scales_and_sizes.onnx   a Resize given both scales and sizes (ONNX allows exactly one)
  convtranspose_bad_output_shape.onnx  a ConvTranspose whose output_shape has a zero entry
  images.npz           x float32 [2, 1, 4, 4], data for the two models above
  external/            y = x @ w (x [N, 4], w float32 [4, 3] in external data) with one broken
                       external-data reference per model, all beside external/weights.bin (48 bytes,
                       the weight at offset 0):
    missing_file.onnx      location no_such.bin
    past_end.onnx          offset 16, length 48 (the file has 48 bytes)
    wrong_length.onnx      length 40 (the shape [4, 3] of float32 needs 48)
    absolute_path.onnx     location /tmp/weights.bin
    escapes_folder.onnx    location ../external/weights.bin (the file exists; it is refused anyway)
    negative_offset.onnx   offset -4
    non_numeric_length.onnx  length "48 bytes"
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
# Transformer data for Tests/Fixtures/transformers/tiny-bert.onnx (inputs input_ids, attention_mask
# int64 [N, T]), each wrong in one way.
tokens = np.load(os.path.join(root, "Tests", "Fixtures", "transformers", "tiny-text.npz"))
ids, mask = tokens["input_ids"][:8], tokens["attention_mask"][:8]
np.savez(os.path.join(out, "tokens_no_mask.npz"), input_ids=ids)
np.savez(os.path.join(out, "tokens_float_ids.npz"), input_ids=ids.astype(np.float32), attention_mask=mask)
np.savez(os.path.join(out, "tokens_rank3.npz"), input_ids=ids.reshape(8, 2, 16), attention_mask=mask.reshape(8, 2, 16))
bad_ids = ids.copy()
bad_ids[3, 7] = 1000
np.savez(os.path.join(out, "tokens_out_of_range.npz"), input_ids=bad_ids, attention_mask=mask)

node = helper.make_node("Reshape", ["input", "flat"], ["logits"], name="flatten_samples")
graph = helper.make_graph(
    [node], "flattened",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["M"])],
    [helper.make_tensor("flat", TensorProto.INT64, [1], [-1])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "flattened_output.onnx"))
np.savez(os.path.join(out, "features.npz"), x=rng.standard_normal((8, 4)).astype(np.float32))

node = helper.make_node("Reshape", ["input", "shape"], ["logits"], name="baked_batch")
graph = helper.make_graph(
    [node], "fixed_batch",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2, 4])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 2, 2])],
    [helper.make_tensor("shape", TensorProto.INT64, [3], [2, 2, 2])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "fixed_batch.onnx"))
# Detection-head ops given impossible attributes or inputs.
node = helper.make_node("Resize", ["input", "", "scales", "sizes"], ["output"], name="upsample_both", mode="nearest")
graph = helper.make_graph(
    [node], "resize_both",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 4, 4])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
    [helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2]),
     helper.make_tensor("sizes", TensorProto.INT64, [4], [2, 1, 8, 8])],
)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
          os.path.join(out, "resize_scales_and_sizes.onnx"))
node = helper.make_node("ConvTranspose", ["input", "weight"], ["output"], name="deconv", strides=[2, 2],
                        output_shape=[0, 8])
graph = helper.make_graph(
    [node], "convtranspose_bad_output_shape",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 4, 4])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
    [helper.make_tensor("weight", TensorProto.FLOAT, [1, 2, 3, 3], rng.standard_normal(18).astype(np.float32))],
)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
          os.path.join(out, "convtranspose_bad_output_shape.onnx"))
np.savez(os.path.join(out, "images.npz"), x=rng.standard_normal((2, 1, 4, 4)).astype(np.float32))

# External data: one valid data file, models that reference it wrongly in one way each.
external = os.path.join(out, "external")
os.makedirs(external, exist_ok=True)
weight = (np.arange(12, dtype=np.float32) / 10).reshape(4, 3)
with open(os.path.join(external, "weights.bin"), "wb") as f:
    f.write(weight.astype("<f4").tobytes())


def external_model(entries):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3], data_location=TensorProto.EXTERNAL)
    for key, value in entries:
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("MatMul", ["input", "w"], ["logits"], name="fc")
    graph = helper.make_graph(
        [node], "external_data",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [tensor],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


for name, entries in [
    ("missing_file", [("location", "no_such.bin"), ("offset", "0"), ("length", "48")]),
    ("past_end", [("location", "weights.bin"), ("offset", "16"), ("length", "48")]),
    ("wrong_length", [("location", "weights.bin"), ("offset", "0"), ("length", "40")]),
    ("absolute_path", [("location", "/tmp/weights.bin"), ("offset", "0"), ("length", "48")]),
    ("escapes_folder", [("location", "../external/weights.bin"), ("offset", "0"), ("length", "48")]),
    ("negative_offset", [("location", "weights.bin"), ("offset", "-4"), ("length", "48")]),
    ("non_numeric_length", [("location", "weights.bin"), ("offset", "0"), ("length", "48 bytes")]),
]:
    # Written as bytes: onnx.save would try to resolve the external data.
    with open(os.path.join(external, name + ".onnx"), "wb") as f:
        f.write(external_model(entries).SerializeToString())
print("wrote", sorted(os.listdir(out)), sorted(os.listdir(external)))
