#!/usr/bin/env python3
"""ONNX Runtime parity fixtures for Resize / Upsample / ConvTranspose forms that Debian's
libonnx-testdata (ONNX 1.12) node tests do not cover: Upsample at opsets 7 and 9, Resize at opset 10
(legacy nearest rounding), tf_crop_and_resize with a roi and an extrapolation value, empty roi and
scales inputs, antialias, axes and keep_aspect_ratio_policy (opset 18), half_pixel_symmetric
(opset 19), the nearest rounding modes when downsampling, and ConvTranspose with output_shape,
groups, dilations, output_padding, SAME_LOWER, 1-D, 3-D and bias.

Each case is a one-node graph written in the backend-test layout (<name>/model.onnx,
test_data_set_0/{input,output}_*.pb) under Tests/Fixtures/exporters/ops/; the data input X (and the
ConvTranspose weight) are graph inputs, roi / scales / sizes are initializers. Expected outputs come
from ONNX Runtime (CPU), independent of qscope. Run from the repository root:

    python3 tools/make_resize_fixtures.py
"""
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join("Tests", "Fixtures", "exporters", "ops")
RNG = np.random.default_rng(11)


def write(name, op, opset, inputs, initializers=(), attrs=None, node_inputs=None):
    """inputs: [(name, float32 array)] graph inputs; initializers: [(name, array)] constants (float32
    or int64); node_inputs: the node's input names in order ('' for an absent optional input)."""
    d = os.path.join(ROOT, f"test_qscope_{name}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    node = helper.make_node(op, node_inputs or [n for n, _ in list(inputs) + list(initializers)], ["y"], **(attrs or {}))
    inits = [numpy_helper.from_array(a, n) for n, a in initializers]
    def build(y_shape):
        graph = helper.make_graph(
            [node], name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for n, a in inputs],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8 if opset <= 18 else 9
        return model

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(build(None).SerializeToString(), options, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {n: a for n, a in inputs})
    model = build(list(y.shape))
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, (n, a) in enumerate(inputs):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y, "y").SerializeToString())
    print(f"{name}: {[a.shape for _, a in inputs]} -> {y.shape}")


def image(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def f32(values):
    return np.array(values, dtype=np.float32)


def i64(values):
    return np.array(values, dtype=np.int64)


def resize(name, opset, x, scales=None, sizes=None, roi=None, **attrs):
    """Resize at opset >= 11: X, roi, scales, sizes (absent ones as '' or an empty tensor)."""
    inits, names = [], ["x"]
    for key, value in (("roi", roi), ("scales", scales), ("sizes", sizes)):
        if value is None:
            names.append("")
        else:
            inits.append((key, value))
            names.append(key)
    while names[-1] == "":
        names.pop()
    write(name, "Resize", opset, [("x", x)], inits, attrs, names)


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    x = image(1, 2, 3, 4)

    # Upsample (opsets 7 and 9) and opset-10 Resize: asymmetric coordinates, legacy nearest rounding.
    write("upsample7_nearest", "Upsample", 7, [("x", x)], attrs={"mode": "nearest", "scales": [1.0, 1.0, 2.0, 3.0]})
    write("upsample7_linear", "Upsample", 7, [("x", x)], attrs={"mode": "linear", "scales": [1.0, 1.0, 2.0, 2.5]})
    write("upsample9_nearest", "Upsample", 9, [("x", x)], [("scales", f32([1, 1, 3, 2]))], {"mode": "nearest"})
    write("upsample9_linear", "Upsample", 9, [("x", x)], [("scales", f32([1, 1, 1.5, 2]))], {"mode": "linear"})
    write("resize10_nearest_up", "Resize", 10, [("x", x)], [("scales", f32([1, 1, 2, 1.5]))], {"mode": "nearest"})
    big = image(1, 2, 7, 9)
    write("resize10_nearest_down", "Resize", 10, [("x", big)], [("scales", f32([1, 1, 0.5, 0.6]))], {"mode": "nearest"})
    write("resize10_linear", "Resize", 10, [("x", x)], [("scales", f32([1, 1, 1.7, 2.3]))], {"mode": "linear"})

    # Opsets 11-13: empty roi / scales, tf_crop_and_resize, rounding modes, the common fast paths.
    write("resize11_sizes_empty_roi_scales", "Resize", 11, [("x", x)],
          [("roi", f32([])), ("scales", f32([])), ("sizes", i64([1, 2, 7, 5]))], {"mode": "linear"},
          ["x", "roi", "scales", "sizes"])
    resize("resize13_nearest_2x", 13, image(2, 3, 5, 6), scales=f32([1, 1, 2, 2]), mode="nearest")
    resize("resize13_linear_half_pixel_down", 13, big, scales=f32([1, 1, 0.6, 0.7]), mode="linear")
    resize("resize13_linear_half_pixel_up", 13, image(2, 3, 5, 6), scales=f32([1, 1, 2, 2]), mode="linear")
    resize("resize13_linear_pytorch_half_pixel", 13, big, sizes=i64([1, 2, 4, 13]), mode="linear",
           coordinate_transformation_mode="pytorch_half_pixel")
    resize("resize13_tf_crop_and_resize_linear", 13, big, sizes=i64([1, 2, 5, 6]),
           roi=f32([0, 0, 0.2, -0.3, 1, 1, 0.9, 1.2]), mode="linear",
           coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=7.0)
    resize("resize13_tf_crop_and_resize_nearest", 13, big, sizes=i64([1, 2, 4, 5]),
           roi=f32([0, 0, 0.1, 0.25, 1, 1, 0.8, 1.1]), mode="nearest",
           coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-1.0)
    resize("resize13_nearest_round_prefer_ceil_down", 13, big, sizes=i64([1, 2, 4, 6]), mode="nearest",
           nearest_mode="round_prefer_ceil")
    resize("resize13_nearest_floor_down", 13, big, scales=f32([1, 1, 0.7, 0.5]), mode="nearest", nearest_mode="floor")
    resize("resize13_nearest_ceil_up", 13, x, scales=f32([1, 1, 1.6, 2.4]), mode="nearest", nearest_mode="ceil")
    resize("resize13_cubic_exclude_outside_down", 13, big, sizes=i64([1, 2, 5, 4]), mode="cubic",
           exclude_outside=1, cubic_coeff_a=-0.5)
    resize("resize13_cubic_align_corners_up", 13, x, sizes=i64([1, 2, 5, 7]), mode="cubic",
           coordinate_transformation_mode="align_corners")
    resize("resize13_linear_3d", 13, image(2, 3, 5), scales=f32([1, 1, 1.7]), mode="linear")

    # Opset 18: antialias, axes, keep_aspect_ratio_policy; opset 19: half_pixel_symmetric.
    large = image(1, 2, 12, 10)
    resize("resize18_antialias_linear_down", 18, large, scales=f32([1, 1, 0.4, 0.6]), mode="linear", antialias=1)
    resize("resize18_antialias_cubic_down", 18, large, sizes=i64([1, 2, 5, 4]), mode="cubic", antialias=1)
    resize("resize18_axes_sizes_not_larger", 18, big, sizes=i64([5, 4]), mode="linear", axes=[2, 3],
           keep_aspect_ratio_policy="not_larger")
    resize("resize18_axes_sizes_not_smaller", 18, big, sizes=i64([5, 4]), mode="nearest", axes=[3, 2],
           keep_aspect_ratio_policy="not_smaller")
    resize("resize18_axes_scales", 18, big, scales=f32([1.5, 0.5]), mode="linear", axes=[-1, 2])
    resize("resize19_half_pixel_symmetric", 19, big, scales=f32([1, 1, 0.6, 1.7]), mode="linear",
           coordinate_transformation_mode="half_pixel_symmetric")

    # ConvTranspose.
    def conv_transpose(name, x_shape, w_shape, bias=False, **attrs):
        inputs = [("x", image(*x_shape)), ("w", image(*w_shape) * 0.5)]
        if bias:
            inputs.append(("b", image(w_shape[1] * attrs.get("group", 1))))
        write(name, "ConvTranspose", 13, inputs, attrs=attrs)

    conv_transpose("convtranspose_groups_bias", (2, 4, 3, 3), (4, 3, 3, 3), bias=True, group=2, strides=[2, 2],
                   pads=[1, 0, 0, 1], output_padding=[1, 1])
    conv_transpose("convtranspose_dilations_strides", (1, 3, 4, 3), (3, 2, 2, 3), dilations=[2, 3], strides=[3, 2])
    conv_transpose("convtranspose_output_shape_groups", (1, 6, 4, 5), (6, 2, 3, 3), bias=True, group=3,
                   strides=[2, 2], output_shape=[8, 9])
    conv_transpose("convtranspose_output_shape_larger", (1, 2, 3, 3), (2, 2, 3, 3), strides=[2, 2], output_shape=[8, 8])
    conv_transpose("convtranspose_same_lower", (1, 2, 3, 4), (2, 3, 3, 3), strides=[2, 2], auto_pad="SAME_LOWER")
    conv_transpose("convtranspose_same_upper_output_padding", (1, 2, 3, 4), (2, 3, 4, 3), strides=[2, 3],
                   auto_pad="SAME_UPPER")
    conv_transpose("convtranspose_1d", (2, 3, 5), (3, 2, 4), bias=True, strides=[3], pads=[1, 2], output_padding=[2])
    conv_transpose("convtranspose_3d_groups_strides", (1, 4, 3, 3, 2), (4, 2, 2, 3, 2), bias=True, group=2,
                   strides=[2, 1, 2], pads=[1, 0, 0, 0, 1, 1], output_padding=[1, 0, 0])
    conv_transpose("convtranspose_depthwise", (1, 4, 5, 5), (4, 1, 4, 4), group=4, strides=[2, 2], pads=[1, 1, 1, 1])

    # A quantizable ConvTranspose layer (constant weight and bias) for the quantization and export
    # tests: Conv -> Relu -> ConvTranspose (2 groups) -> Flatten -> Gemm, dynamic batch.
    layer_model()


def layer_model():
    w1 = (RNG.standard_normal((4, 2, 3, 3)) * 0.4).astype(np.float32)
    w2 = (RNG.standard_normal((4, 3, 3, 3)) * 0.4).astype(np.float32)
    w2[:, 1] *= 3  # channel 1 of each group has a wider range: per-channel scales along axis 1 differ
    b2 = (RNG.standard_normal(6) * 0.1).astype(np.float32)
    wh = (RNG.standard_normal((6 * 7 * 7, 3)) * 0.05).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], name="down", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("ConvTranspose", ["r1", "w2", "b2"], ["up"], name="up", strides=[2, 2], group=2,
                         pads=[1, 1, 1, 1], output_padding=[0, 0]),
        helper.make_node("Flatten", ["up"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "wh"], ["logits"], name="head"),
    ]
    graph = helper.make_graph(
        nodes, "convtranspose_layer",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
                     numpy_helper.from_array(b2, "b2"), numpy_helper.from_array(wh, "wh")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(ROOT, "convtranspose_layer.onnx")
    onnx.save(model, path)
    x = RNG.standard_normal((2, 2, 8, 8)).astype(np.float32)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": x})
    np.save(os.path.join(ROOT, "convtranspose_layer_input.npy"), x)
    np.save(os.path.join(ROOT, "convtranspose_layer_logits.npy"), y)
    print("convtranspose_layer:", x.shape, "->", y.shape)


if __name__ == "__main__":
    main()
