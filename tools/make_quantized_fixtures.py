#!/usr/bin/env python3
"""Already-quantized ONNX models and ONNX Runtime's outputs on them, for qscope's tests.

A small float CNN (Conv-Relu x3 with a grouped and a strided conv, Flatten, MatMul + bias) is built
with torch, exported at opset 13, and quantized by onnxruntime.quantization in the forms the model
zoo ships:

  cnn_float.onnx            the float model
  cnn_qoperator.onnx        quantize_static, QOperator: QLinearConv / QLinearMatMul, int8 weights
                            per output channel, uint8 activations
  cnn_qoperator_u8.onnx     quantize_static, QOperator, uint8 weights per tensor (non-zero zero points)
  cnn_qdq.onnx              quantize_static, QDQ: int8 weight initializers -> DequantizeLinear -> Conv /
                            MatMul, activations through QuantizeLinear/DequantizeLinear, per channel
  cnn_qdq_u8.onnx           quantize_static, QDQ, uint8 weights per tensor
  cnn_dynamic.onnx          quantize_dynamic: DynamicQuantizeLinear -> ConvInteger / MatMulInteger
  pool_qoperator.onnx       a CNN with a MaxPool between two convolutions, QOperator with the MaxPool and
                            Reshape on uint8 codes (what reverse mode must see through)
  pool_qdq.onnx             the same in QDQ form
  contrib_qlinearadd.onnx   a QOperator model with an Add, which ORT writes as com.microsoft.QLinearAdd
                            (a contrib op qscope does not run: the test checks the error names the domain)

plus inputs.npy (8 samples [8, 1, 12, 12]) and <model>.output.npy, ONNX Runtime's output for each
model on those inputs with graph optimizations disabled (so ORT computes the graph as written, not
its own fused contrib kernels). Written to Tests/Fixtures/exporters/quantized/; every model < 1 MB.
Run from the repository root:

    python3 tools/make_quantized_fixtures.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                      quantize_static)

OUT = os.path.join("Tests", "Fixtures", "exporters", "quantized")


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.conv3 = torch.nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.weight = torch.nn.Parameter(torch.randn(16 * 6 * 6, 10) * 0.05)
        self.bias = torch.nn.Parameter(torch.randn(10) * 0.1)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        x = torch.flatten(x, 1)
        return torch.matmul(x, self.weight) + self.bias


class ResidualCNN(torch.nn.Module):
    """conv -> relu -> conv, plus the first activation: an Add that QOperator turns into QLinearAdd."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        a = torch.relu(self.conv1(x))
        return self.conv2(a) + a


class PoolCNN(torch.nn.Module):
    """conv -> relu -> maxpool -> conv -> relu -> reshape -> matmul: a MaxPool and a Reshape that
    QOperator runs on uint8 codes."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(6, 8, 3, padding=1)
        self.weight = torch.nn.Parameter(torch.randn(8 * 6 * 6, 10) * 0.05)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.relu(self.conv2(x))
        return torch.matmul(x.reshape(x.shape[0], -1), self.weight)


class Reader(CalibrationDataReader):
    def __init__(self, samples):
        self.items = iter([{"input": s[None]} for s in samples])

    def get_next(self):
        return next(self.items, None)


def export(module, path):
    torch.onnx.export(module, torch.zeros(1, 1, 12, 12), path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13, dynamo=False)


def run_ort(path, x):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    calibration = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    inputs = rng.standard_normal((8, 1, 12, 12)).astype(np.float32)
    np.save(os.path.join(OUT, "inputs.npy"), inputs)

    float_path = os.path.join(OUT, "cnn_float.onnx")
    export(SmallCNN().eval(), float_path)
    ops = ["Conv", "MatMul"]
    variants = {
        "cnn_qoperator": dict(quant_format=QuantFormat.QOperator, per_channel=True, weight_type=QuantType.QInt8),
        "cnn_qoperator_u8": dict(quant_format=QuantFormat.QOperator, per_channel=False, weight_type=QuantType.QUInt8),
        "cnn_qdq": dict(quant_format=QuantFormat.QDQ, per_channel=True, weight_type=QuantType.QInt8),
        "cnn_qdq_u8": dict(quant_format=QuantFormat.QDQ, per_channel=False, weight_type=QuantType.QUInt8),
    }
    for name, options in variants.items():
        quantize_static(float_path, os.path.join(OUT, name + ".onnx"), Reader(calibration), op_types_to_quantize=ops,
                        activation_type=QuantType.QUInt8, **options)
    quantize_dynamic(float_path, os.path.join(OUT, "cnn_dynamic.onnx"), op_types_to_quantize=ops,
                     weight_type=QuantType.QInt8)

    pool_float = os.path.join(OUT, "pool_float.onnx")
    export(PoolCNN().eval(), pool_float)
    for name, quant_format in [("pool_qoperator", QuantFormat.QOperator), ("pool_qdq", QuantFormat.QDQ)]:
        quantize_static(pool_float, os.path.join(OUT, name + ".onnx"), Reader(calibration), quant_format=quant_format,
                        op_types_to_quantize=["Conv", "Relu", "MatMul", "MaxPool", "Reshape"], per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    os.remove(pool_float)

    residual_float = os.path.join(OUT, "residual_float.onnx")
    export(ResidualCNN().eval(), residual_float)
    quantize_static(residual_float, os.path.join(OUT, "contrib_qlinearadd.onnx"), Reader(calibration),
                    quant_format=QuantFormat.QOperator, op_types_to_quantize=["Conv", "Add"])
    os.remove(residual_float)

    for name in ["cnn_float", *variants, "cnn_dynamic", "pool_qoperator", "pool_qdq"]:
        path = os.path.join(OUT, name + ".onnx")
        model = onnx.load(path)
        ops_used = sorted({(n.domain or "ai.onnx") + "." + n.op_type for n in model.graph.node})
        output = run_ort(path, inputs)
        np.save(os.path.join(OUT, name + ".output.npy"), output)
        print(f"{name}: {os.path.getsize(path)} bytes, ops {ops_used}, output {output.shape} {output.flatten()[:3]}")
        assert os.path.getsize(path) < 1 << 20
    contrib = onnx.load(os.path.join(OUT, "contrib_qlinearadd.onnx"))
    assert any(n.op_type == "QLinearAdd" and n.domain == "com.microsoft" for n in contrib.graph.node)


if __name__ == "__main__":
    main()
