#!/usr/bin/env python3
"""Writes a model with external data and the same model with embedded weights (Tests/Fixtures/external/).

  embedded.onnx      every initializer in the file (raw_data)
  external.onnx      the same graph, the weights in external.weights (data_location EXTERNAL); the
                     Reshape's shape stays in the file, as exporters keep small tensors (ONNX Runtime
                     cannot infer shapes from an external shape tensor)
  external.weights   the initializers' bytes, laid out by hand so that each case qscope treats
                     differently is present:
                       w1    float32 [16, 32] at offset 0        (4-byte aligned: mapped in place)
                       b1    float32 [32]     at offset 2048     (aligned: mapped)
                       w2    float32 [32, 8]  at offset 2178     (offset % 4 == 2: copied, not mapped)
                       w3    float16 [8, 4]   at offset 3208     (converted to float32: copied)
                       shape int64   [3]      at offset 3272     (a Reshape's shape), the last bytes
                                                                  of the file, without a 'length'
                                                                  entry (the data runs to the end)
  input.npz          x float32 [8, 16]
  output.npy         ONNX Runtime's output (float32 [8, 2, 2]) of external.onnx on x; the script
                     checks that ORT gives the same for embedded.onnx

Graph: y = Reshape(Relu(x @ w1 + b1) @ w2 @ Cast(w3, float32), shape), shape = [-1, 2, 2].
Run from the repository root or anywhere: python3 tools/make_external_data_fixtures.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests", "Fixtures", "external")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)

w1 = (rng.standard_normal((16, 32)) / 4).astype(np.float32)
b1 = (rng.standard_normal(32) / 10).astype(np.float32)
w2 = (rng.standard_normal((32, 8)) / 5).astype(np.float32)
w3 = (rng.standard_normal((8, 4)) / 3).astype(np.float16)
shape = np.array([-1, 2, 2], dtype=np.int64)
x = rng.standard_normal((8, 16)).astype(np.float32)


def graph(initializers):
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"], name="fc2"),
        helper.make_node("Cast", ["w3"], ["w3f"], name="w3_to_float", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["h3", "w3f"], ["h4"], name="fc3"),
        helper.make_node("Reshape", ["h4", "shape"], ["y"], name="reshape"),
    ]
    g = helper.make_graph(
        nodes, "external_data",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 2])],
        initializers,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="qscope-fixtures")


arrays = [("w1", w1), ("b1", b1), ("w2", w2), ("w3", w3), ("shape", shape)]
embedded = graph([numpy_helper.from_array(a, name) for name, a in arrays])
onnx.checker.check_model(embedded)
onnx.save(embedded, os.path.join(out, "embedded.onnx"))

# External: lay the bytes out by hand (onnx's writer aligns every tensor, and w2 must not be).
offsets = {"w1": 0, "w2": 2050, "w3": 3080, "b1": 3144}
blob = bytearray(3144 + 128)
initializers = [numpy_helper.from_array(shape, "shape")]
for name, a in arrays:
    if name == "shape":
        continue
    data = a.astype(a.dtype.newbyteorder("<")).tobytes()
    offset = offsets[name]
    assert bytes(blob[offset:offset + len(data)]) == bytes(len(data)), f"{name} overlaps another tensor"
    blob[offset:offset + len(data)] = data
    tensor = numpy_helper.from_array(a, name)
    set_external_data(tensor, "external.weights", offset=offset, length=None if name == "b1" else len(data))
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    initializers.append(tensor)
assert offsets["w2"] % 4 == 2 and offsets["b1"] + 128 == len(blob)
with open(os.path.join(out, "external.weights"), "wb") as f:
    f.write(bytes(blob))
external = graph(initializers)
onnx.checker.check_model(os.path.join(out, "embedded.onnx"))
with open(os.path.join(out, "external.onnx"), "wb") as f:
    f.write(external.SerializeToString())
onnx.checker.check_model(os.path.join(out, "external.onnx"))

options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
results = []
for name in ["external.onnx", "embedded.onnx"]:
    session = ort.InferenceSession(os.path.join(out, name), options, providers=["CPUExecutionProvider"])
    results.append(session.run(None, {"x": x})[0])
assert np.array_equal(results[0], results[1]), "ORT differs between the external and the embedded model"
np.savez(os.path.join(out, "input.npz"), x=x)
np.save(os.path.join(out, "output.npy"), results[0])
print("wrote", sorted(os.listdir(out)), "output", results[0].shape)
