#!/usr/bin/env python3
"""ONNX node tests for QuantizeLinear / DequantizeLinear with the opset-19/21 types (int4, uint4,
float8e4m3fn, float8e5m2) that Debian's libonnx-testdata (ONNX 1.12) predates.

Each test is written in the backend-test layout (<name>/model.onnx, test_data_set_0/{input,output}_*.pb)
under Tests/Fixtures/onnx-node/; expected outputs come from onnx.reference.ReferenceEvaluator, the
ONNX reference implementation (independent of qscope). Run from the repository root:

    python3 tools/make_qdq_node_fixtures.py
"""
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

ROOT = os.path.join("Tests", "Fixtures", "onnx-node")


def tensor(name, array, elem_type):
    """A TensorProto of `elem_type` holding `array` (ints or floats already on the type's grid)."""
    if elem_type in (TensorProto.FLOAT,):
        return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)
    return helper.make_tensor(name, elem_type, list(np.shape(array)), np.asarray(array).flatten().tolist())


def write(name, op, opset, inputs, out_type, attrs=None):
    """inputs: list of (name, array, elem_type); graph inputs are all of them."""
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    protos = [tensor(n, a, t) for n, a, t in inputs]
    x_shape = list(np.shape(inputs[0][1]))
    node = helper.make_node(op, [n for n, _, _ in inputs], ["y"], **(attrs or {}))
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info(n, t, list(np.shape(a))) for n, a, t in inputs],
        [helper.make_tensor_value_info("y", out_type, x_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10 if opset >= 21 else 9
    onnx.checker.check_model(model)
    feeds = {n: onnx.numpy_helper.to_array(p) for (n, _, _), p in zip(inputs, protos)}
    (y,) = ReferenceEvaluator(model).run(None, feeds)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, p in enumerate(protos):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(p.SerializeToString())
    out = numpy_helper.from_array(y, "y")
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(out.SerializeToString())
    print(name, y.dtype, y.flatten()[:8])


def main():
    rng = np.random.default_rng(7)
    F = TensorProto.FLOAT
    # DequantizeLinear
    write("test_qscope_dequantizelinear_int4_axis0", "DequantizeLinear", 21,
          [("x", np.array([[-8, -3, 0, 7], [1, 2, -1, -8], [7, 6, 5, -4]]), TensorProto.INT4),
           ("x_scale", np.array([0.5, 0.25, 2.0]), F),
           ("x_zero_point", np.array([0, -2, 3]), TensorProto.INT4)], F, {"axis": 0})
    write("test_qscope_dequantizelinear_uint4", "DequantizeLinear", 21,
          [("x", np.array([0, 1, 7, 8, 15, 3, 9]), TensorProto.UINT4),
           ("x_scale", np.array(0.125), F),
           ("x_zero_point", np.array(8), TensorProto.UINT4)], F)
    write("test_qscope_dequantizelinear_e4m3fn", "DequantizeLinear", 21,
          [("x", np.array([0.0, 0.5, -1.5, 448.0, -0.015625, 0.001953125, 240.0]), TensorProto.FLOAT8E4M3FN),
           ("x_scale", np.array(0.5), F)], F)
    write("test_qscope_dequantizelinear_e5m2_axis1", "DequantizeLinear", 21,
          [("x", np.array([[0.0, 1.0, -3.0], [57344.0, -0.5, 1.5e-05]]), TensorProto.FLOAT8E5M2),
           ("x_scale", np.array([1.0, 0.5, 4.0]), F)], F, {"axis": 1})
    write("test_qscope_dequantizelinear_int8_axis1_opset19", "DequantizeLinear", 19,
          [("x", np.array([[-128, -3, 0], [127, 2, -1]]), TensorProto.INT8),
           ("x_scale", np.array([0.5, 0.25, 2.0]), F),
           ("x_zero_point", np.array([0, -2, 3]), TensorProto.INT8)], F, {"axis": 1})
    # QuantizeLinear: ties (x/scale = k + 0.5) check round-half-to-even; large values check saturation.
    x = np.array([[-20.0, -2.5, -1.5, -0.5], [0.0, 0.5, 1.5, 2.5], [3.4, 7.6, 100.0, -3.3]], dtype=np.float32)
    write("test_qscope_quantizelinear_int4_axis1", "QuantizeLinear", 21,
          [("x", x, F), ("y_scale", np.array([1.0, 1.0, 0.5, 2.0]), F),
           ("y_zero_point", np.array([0, 1, -1, 0]), TensorProto.INT4)], TensorProto.INT4, {"axis": 1})
    write("test_qscope_quantizelinear_uint4", "QuantizeLinear", 21,
          [("x", x, F), ("y_scale", np.array(0.5), F), ("y_zero_point", np.array(8), TensorProto.UINT4)], TensorProto.UINT4)
    write("test_qscope_quantizelinear_int8_axis0_opset19", "QuantizeLinear", 19,
          [("x", x * 10, F), ("y_scale", np.array([1.0, 0.5, 2.0]), F),
           ("y_zero_point", np.array([0, 3, -4]), TensorProto.INT8)], TensorProto.INT8, {"axis": 0})
    xf = rng.normal(0, 100, size=(4, 5)).astype(np.float32)
    xf[0, 0] = 1e6
    write("test_qscope_quantizelinear_e4m3fn", "QuantizeLinear", 21,
          [("x", xf, F), ("y_scale", np.array(0.5), F), ("y_zero_point", np.zeros(()), TensorProto.FLOAT8E4M3FN)],
          TensorProto.FLOAT8E4M3FN)
    write("test_qscope_quantizelinear_e5m2_axis1", "QuantizeLinear", 21,
          [("x", xf, F), ("y_scale", np.array([1.0, 0.5, 2.0, 0.25, 8.0]), F),
           ("y_zero_point", np.zeros((5,)), TensorProto.FLOAT8E5M2)], TensorProto.FLOAT8E5M2, {"axis": 1})


if __name__ == "__main__":
    main()
