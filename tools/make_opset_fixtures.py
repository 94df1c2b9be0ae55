#!/usr/bin/env python3
"""Writes Tests/Fixtures/exporters/opsets/: small one- or few-node ONNX graphs in the older
attribute forms of opsets 7-12 (and the opset 18/21 forms of the newer normalisations), each with
ONNX Runtime's outputs on seeded random inputs.

The ONNX backend node tests that qscope's conformance suite runs are written in ONNX 1.12's latest
op forms; exporters (paddle2onnx opset 11-12, tf2onnx 13-17, the ONNX model zoo 7-12) still write
the older ones: Pad, Clip and Dropout attributes, Squeeze/Unsqueeze/Reduce*/Split axes attributes,
Slice attributes, Softmax's 2-D coercion, BatchNormalization's `spatial`, TopK's `k` attribute.

For each case NAME it writes NAME.onnx and NAME.npz, the .npz holding `in_<i>` (graph input i,
float32) and `out_<i>` (graph output i as ONNX Runtime computed it, in its own dtype). Graph
inputs and outputs have concrete shapes. Python: numpy, onnx, onnxruntime.

Usage: python3 tools/make_opset_fixtures.py [--out DIR]
"""
import argparse
import os
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F = TensorProto.FLOAT


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


class Case:
    def __init__(self, name, opset, nodes, inputs, initializers=None, outputs=("y",), reference=None, onnx_values=()):
        self.name, self.opset, self.nodes = name, opset, nodes
        # Outputs whose values come from ONNX's reference implementation instead (in ORT's dtype):
        # ORT runs Dropout before opset 12 as an identity that writes a mask of zeros, where ONNX's
        # reference (and ORT itself from opset 12) says nothing is dropped: a mask of ones.
        self.onnx_values = onnx_values
        # An optional numpy function of the inputs that ONNX Runtime's outputs must match (1e-5).
        self.reference = reference
        self.inputs = inputs  # list of (name, array)
        self.initializers = initializers or {}
        self.outputs = list(outputs)

    def model(self, output_infos):
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info(n, F, a.shape) for n, a in self.inputs],
            output_infos,
            initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in self.initializers.items()])
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="qscope make_opset_fixtures")
        # IR 4 at least: before it every initializer also had to be a graph input.
        model.ir_version = max(helper.find_min_ir_version_for(opsets), 4)
        return model

    def write(self, out_dir):
        probe = self.model([helper.make_value_info(n, onnx.TypeProto()) for n in self.outputs])
        session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        feeds = {n: a for n, a in self.inputs}
        results = session.run(self.outputs, feeds)
        infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(r.dtype), r.shape)
                 for n, r in zip(self.outputs, results)]
        model = self.model(infos)
        if self.onnx_values:
            from onnx.reference import ReferenceEvaluator
            reference = ReferenceEvaluator(model).run(self.outputs, feeds)
            for i in self.onnx_values:
                results[i] = reference[i].astype(results[i].dtype)
        if not any(n.op_type == "GroupNormalization" and self.opset < 21 for n in self.nodes):
            # onnx >= 1.16's checker refuses GroupNormalization-18 as deprecated; ORT still runs it.
            onnx.checker.check_model(model)
        if self.reference is not None:
            want = self.reference(*[a for _, a in self.inputs])
            np.testing.assert_allclose(results[0], want, rtol=1e-5, atol=1e-5)
        # The final model (with output shapes) must give the same results.
        again = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(self.outputs, feeds)
        for i, (a, b) in enumerate(zip(results, again)):
            if i not in self.onnx_values:
                np.testing.assert_array_equal(a, b)
        onnx.save(model, os.path.join(out_dir, self.name + ".onnx"))
        arrays = {f"in_{i}": a for i, (_, a) in enumerate(self.inputs)}
        arrays.update({f"out_{i}": r for i, r in enumerate(results)})
        np.savez(os.path.join(out_dir, self.name + ".npz"), **arrays)
        return self.name, [r.shape for r in results]


def x(name, shape, scale=1.0, integers=False):
    rng = rng_for(name)
    if integers:  # small integers: ties for ArgMax/TopK
        return rng.integers(-3, 4, size=shape).astype(np.float32)
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def group_norm(v, groups, scale, bias, epsilon):
    """GroupNormalization in float64 with per-channel scale and bias."""
    n, ch = v.shape[:2]
    g = v.astype(np.float64).reshape(n, groups, -1)
    normal = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + epsilon)
    normal = normal.reshape(v.shape)
    shape = [1, ch] + [1] * (v.ndim - 2)
    return normal * scale.reshape(shape) + bias.reshape(shape)


def node(op, inputs, outputs=("y",), **attributes):
    return helper.make_node(op, list(inputs), list(outputs), **attributes)


def cases():
    c = []
    # --- Pad: attributes before opset 11, inputs since.
    for mode in ["constant", "reflect", "edge"]:
        extra = {"value": 1.5} if mode == "constant" else {}
        c.append(Case(f"pad_{mode}_opset7", 7, [node("Pad", ["x"], mode=mode, pads=[0, 1, 2, 1, 0, 2, 1, 0], **extra)],
                      [("x", x(f"pad{mode}", [1, 3, 4, 5]))]))
    c.append(Case("pad_constant_opset11", 11, [node("Pad", ["x", "pads", "value"], mode="constant")],
                  [("x", x("pad11", [2, 3, 4]))],
                  {"pads": np.array([0, 1, 2, 1, 0, 1], np.int64), "value": np.array(-0.5, np.float32)}))
    # --- Squeeze / Unsqueeze: axes attribute before 13 (negative axes from 11).
    c.append(Case("squeeze_opset7", 7, [node("Squeeze", ["x"], axes=[1, 3])], [("x", x("sq7", [2, 1, 3, 1, 4]))]))
    c.append(Case("squeeze_negative_opset11", 11, [node("Squeeze", ["x"], axes=[-2])], [("x", x("sq11", [2, 3, 1, 4]))]))
    c.append(Case("squeeze_all_opset11", 11, [node("Squeeze", ["x"])], [("x", x("sqall", [1, 3, 1, 4]))]))
    c.append(Case("unsqueeze_opset7", 7, [node("Unsqueeze", ["x"], axes=[0, 3])], [("x", x("usq7", [2, 3, 4]))]))
    c.append(Case("unsqueeze_negative_opset12", 12, [node("Unsqueeze", ["x"], axes=[-1, 1])], [("x", x("usq12", [2, 3]))]))
    c.append(Case("unsqueeze_input_opset13", 13, [node("Unsqueeze", ["x", "axes"])], [("x", x("usq13", [2, 3]))],
                  {"axes": np.array([1, -1], np.int64)}))
    # --- Reductions: axes attribute (ReduceSum < 13, the others < 18).
    c.append(Case("reducesum_opset11", 11, [node("ReduceSum", ["x"], axes=[1, -1], keepdims=1)], [("x", x("rs11", [2, 3, 4, 5]))]))
    c.append(Case("reducesum_all_opset7", 7, [node("ReduceSum", ["x"], keepdims=0)], [("x", x("rs7", [2, 3, 4]))]))
    c.append(Case("reducesum_input_opset13", 13, [node("ReduceSum", ["x", "axes"], keepdims=0)], [("x", x("rs13", [2, 3, 4]))],
                  {"axes": np.array([0, 2], np.int64)}))
    c.append(Case("reducemean_opset12", 12, [node("ReduceMean", ["x"], axes=[2, 3], keepdims=0)], [("x", x("rm12", [2, 3, 4, 5]))]))
    c.append(Case("reducemax_opset13", 13, [node("ReduceMax", ["x"], axes=[1])], [("x", x("rx13", [2, 3, 4]))]))
    c.append(Case("reducel2_opset11", 11, [node("ReduceL2", ["x"], axes=[0, 2], keepdims=0)], [("x", x("rl211", [2, 3, 4]))]))
    c.append(Case("reducelogsumexp_opset9", 9, [node("ReduceLogSumExp", ["x"], axes=[-1])], [("x", x("rlse9", [3, 5]))]))
    c.append(Case("reducemean_input_opset18", 18, [node("ReduceMean", ["x", "axes"], keepdims=1)], [("x", x("rm18", [2, 3, 4]))],
                  {"axes": np.array([-1], np.int64)}))
    # --- Split: `split` attribute before 13, input since, `num_outputs` at 18.
    c.append(Case("split_attribute_opset11", 11, [node("Split", ["x"], ["a", "b", "c"], axis=1, split=[1, 3, 2])],
                  [("x", x("sp11", [2, 6, 3]))], outputs=["a", "b", "c"]))
    c.append(Case("split_equal_opset7", 7, [node("Split", ["x"], ["a", "b"], axis=-1)],
                  [("x", x("sp7", [2, 3, 4]))], outputs=["a", "b"]))
    c.append(Case("split_input_opset13", 13, [node("Split", ["x", "split"], ["a", "b"], axis=0)],
                  [("x", x("sp13", [5, 2]))], {"split": np.array([2, 3], np.int64)}, outputs=["a", "b"]))
    c.append(Case("split_num_outputs_opset18", 18, [node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)],
                  [("x", x("sp18", [2, 7]))], outputs=["a", "b", "c"]))
    # --- Slice: attributes before 10.
    c.append(Case("slice_opset7", 7, [node("Slice", ["x"], starts=[1, -3], ends=[1000, -1], axes=[0, 2])],
                  [("x", x("sl7", [3, 4, 5]))]))
    c.append(Case("slice_no_axes_opset9", 9, [node("Slice", ["x"], starts=[0, 1], ends=[2, 3])], [("x", x("sl9", [3, 4]))]))
    c.append(Case("slice_steps_opset10", 10, [node("Slice", ["x", "starts", "ends", "axes", "steps"])], [("x", x("sl10", [4, 6]))],
                  {"starts": np.array([-1, 0], np.int64), "ends": np.array([-1000, 6], np.int64),
                   "axes": np.array([0, 1], np.int64), "steps": np.array([-2, 2], np.int64)}))
    # --- Clip: min/max attributes before 11, optional inputs since.
    c.append(Case("clip_opset7", 7, [node("Clip", ["x"], min=-0.5, max=0.75)], [("x", x("cl7", [3, 4]))]))
    c.append(Case("clip_max_only_opset7", 7, [node("Clip", ["x"], max=0.25)], [("x", x("clm7", [3, 4]))]))
    c.append(Case("clip_inputs_opset11", 11, [node("Clip", ["x", "lo", "hi"])], [("x", x("cl11", [3, 4]))],
                  {"lo": np.array(-0.2, np.float32), "hi": np.array(0.3, np.float32)}))
    c.append(Case("clip_min_only_opset12", 12, [node("Clip", ["x", "lo"])], [("x", x("cl12", [3, 4]))],
                  {"lo": np.array(0.1, np.float32)}))
    # --- Dropout at inference: ratio attribute before 12 (mask of x's type before 10, bool from 10).
    c.append(Case("dropout_mask_opset7", 7, [node("Dropout", ["x"], ["y", "mask"], ratio=0.3)], [("x", x("do7", [2, 5]))],
                  outputs=["y", "mask"], onnx_values=[1]))
    c.append(Case("dropout_mask_opset10", 10, [node("Dropout", ["x"], ["y", "mask"], ratio=0.3)], [("x", x("do10", [2, 5]))],
                  outputs=["y", "mask"], onnx_values=[1]))
    c.append(Case("dropout_ratio_input_opset12", 12, [node("Dropout", ["x", "ratio"])], [("x", x("do12", [2, 5]))],
                  {"ratio": np.array(0.2, np.float32)}))
    # --- BatchNormalization: any rank; `spatial` before 9; no training outputs.
    for spatial in [1, 0]:
        shape, pshape = [2, 3, 4, 2], ([3] if spatial else [3, 4, 2])
        r = rng_for(f"bn{spatial}")
        params = {"s": r.uniform(0.5, 1.5, pshape).astype(np.float32), "b": r.standard_normal(pshape).astype(np.float32),
                  "m": r.standard_normal(pshape).astype(np.float32), "v": r.uniform(0.2, 2, pshape).astype(np.float32)}
        c.append(Case(f"batchnorm_spatial{spatial}_opset7", 7,
                      [node("BatchNormalization", ["x", "s", "b", "m", "v"], epsilon=1e-3, spatial=spatial)],
                      [("x", x(f"bnx{spatial}", shape))], params))
    for rank, opset in [(2, 9), (3, 14), (5, 15)]:
        shape = [2, 3, 4, 3, 2][:rank]
        r = rng_for(f"bnrank{rank}")
        params = {"s": r.uniform(0.5, 1.5, [3]).astype(np.float32), "b": r.standard_normal([3]).astype(np.float32),
                  "m": r.standard_normal([3]).astype(np.float32), "v": r.uniform(0.2, 2, [3]).astype(np.float32)}
        c.append(Case(f"batchnorm_rank{rank}_opset{opset}", opset, [node("BatchNormalization", ["x", "s", "b", "m", "v"])],
                      [("x", x(f"bnrx{rank}", shape))], params))
    # Opset 15 lets scale/bias (T1) and mean/variance (T2) differ from x's type: float16 either way.
    for name, scale_type, stats_type in [("half_scale", np.float16, np.float32), ("half_statistics", np.float32, np.float16)]:
        r = rng_for(f"bn{name}")
        params = {"s": r.uniform(0.5, 1.5, [3]).astype(scale_type), "b": r.standard_normal([3]).astype(scale_type),
                  "m": r.standard_normal([3]).astype(stats_type), "v": r.uniform(0.2, 2, [3]).astype(stats_type)}
        c.append(Case(f"batchnorm_{name}_opset15", 15, [node("BatchNormalization", ["x", "s", "b", "m", "v"])],
                      [("x", x(f"bnx{name}", [2, 3, 4]))], params))
    # --- Softmax / LogSoftmax: before 13 the input is coerced to 2-D at `axis` (default 1).
    for op in ["Softmax", "LogSoftmax"]:
        low = op.lower()
        c.append(Case(f"{low}_default_axis_opset11", 11, [node(op, ["x"])], [("x", x(f"{low}d11", [2, 3, 4]))]))
        c.append(Case(f"{low}_axis2_opset7", 7, [node(op, ["x"], axis=2)], [("x", x(f"{low}a7", [2, 3, 4, 2]))]))
        c.append(Case(f"{low}_negative_axis_opset12", 12, [node(op, ["x"], axis=-2)], [("x", x(f"{low}n12", [2, 3, 4]))]))
        c.append(Case(f"{low}_default_axis_opset13", 13, [node(op, ["x"])], [("x", x(f"{low}d13", [2, 3, 4]))]))
        c.append(Case(f"{low}_axis1_opset13", 13, [node(op, ["x"], axis=1)], [("x", x(f"{low}a13", [2, 3, 4]))]))
    # --- Flatten on any axis.
    for axis in [0, 2, -1, 4]:
        name = f"flatten_axis{'m' if axis < 0 else ''}{abs(axis)}_opset11"
        c.append(Case(name, 11, [node("Flatten", ["x"], axis=axis)], [("x", x(name, [2, 3, 4, 2]))]))
    c.append(Case("flatten_default_opset7", 7, [node("Flatten", ["x"])], [("x", x("fl7", [2, 3, 4]))]))
    # --- Identity at several opsets.
    for opset in [7, 13, 16, 21]:
        c.append(Case(f"identity_opset{opset}", opset, [node("Identity", ["x"])], [("x", x(f"id{opset}", [2, 3]))]))
    # --- Sum / Mean / Max / Min: same shapes before 8, broadcasting from 8; one input.
    for op in ["Sum", "Mean", "Max", "Min"]:
        low = op.lower()
        c.append(Case(f"{low}_three_opset7", 7, [node(op, ["a", "b", "c"])],
                      [("a", x(f"{low}a", [2, 3])), ("b", x(f"{low}b", [2, 3])), ("c", x(f"{low}c", [2, 3]))]))
        c.append(Case(f"{low}_broadcast_opset8", 8, [node(op, ["a", "b", "c"])],
                      [("a", x(f"{low}ba", [2, 1, 4])), ("b", x(f"{low}bb", [3, 1])), ("c", x(f"{low}bc", [4]))]))
        c.append(Case(f"{low}_single_opset13", 13, [node(op, ["a"])], [("a", x(f"{low}s", [2, 3]))]))
    # --- Gemm: C required in 7-10 (unidirectional broadcast), optional from 11.
    r = rng_for("gemm")
    c.append(Case("gemm_row_bias_opset7", 7, [node("Gemm", ["a", "w", "bias"], transB=1, alpha=0.5, beta=2.0)],
                  [("a", x("gemma7", [3, 4]))], {"w": r.standard_normal([5, 4]).astype(np.float32),
                                                 "bias": r.standard_normal([5]).astype(np.float32)}))
    c.append(Case("gemm_column_bias_opset9", 9, [node("Gemm", ["a", "w", "bias"], transA=1)],
                  [("a", x("gemma9", [4, 3]))], {"w": r.standard_normal([4, 5]).astype(np.float32),
                                                 "bias": r.standard_normal([3, 1]).astype(np.float32)}))
    c.append(Case("gemm_no_bias_opset11", 11, [node("Gemm", ["a", "w"], transB=1)],
                  [("a", x("gemma11", [3, 4]))], {"w": r.standard_normal([5, 4]).astype(np.float32)}))
    # --- Concat.
    c.append(Case("concat_opset7", 7, [node("Concat", ["a", "b"], axis=1)], [("a", x("cca", [2, 3])), ("b", x("ccb", [2, 2]))]))
    c.append(Case("concat_negative_axis_opset11", 11, [node("Concat", ["a", "b", "c"], axis=-2)],
                  [("a", x("ccna", [2, 1, 3])), ("b", x("ccnb", [2, 2, 3])), ("c", x("ccnc", [2, 3, 3]))]))
    # --- Cast to integer types truncates; back to float.
    for opset in [7, 9, 13]:
        c.append(Case(f"cast_roundtrip_opset{opset}", opset,
                      [node("Cast", ["x"], ["i"], to=TensorProto.INT32), node("Cast", ["i"], ["y"], to=TensorProto.FLOAT)],
                      [("x", x(f"cast{opset}", [3, 4], scale=3))]))
    c.append(Case("cast_to_int64_opset9", 9, [node("Cast", ["x"], to=TensorProto.INT64)], [("x", x("cast64", [3, 4], scale=3))]))
    # --- TopK: `k` attribute in opset 1-9, input K from 10, largest/sorted from 11.
    c.append(Case("topk_k_attribute_opset7", 7, [node("TopK", ["x"], ["v", "i"], k=3)], [("x", x("tk7", [2, 3, 6], integers=True))],
                  outputs=["v", "i"]))
    c.append(Case("topk_k_input_opset10", 10, [node("TopK", ["x", "k"], ["v", "i"], axis=1)], [("x", x("tk10", [2, 5, 3]))],
                  {"k": np.array([2], np.int64)}, outputs=["v", "i"]))
    c.append(Case("topk_smallest_opset11", 11, [node("TopK", ["x", "k"], ["v", "i"], axis=-1, largest=0)],
                  [("x", x("tk11", [3, 6], integers=True))], {"k": np.array([4], np.int64)}, outputs=["v", "i"]))
    # --- NonZero of a constant (folded), used as Gather indices.
    c.append(Case("nonzero_constant_opset9", 9,
                  [node("NonZero", ["mask"], ["nz"]), node("Squeeze", ["nz"], ["idx"], axes=[0]), node("Gather", ["x", "idx"], axis=1)],
                  [("x", x("nz9", [2, 6]))], {"mask": np.array([0, 1, 1, 0, 0, 1], np.float32)}))
    # --- ArgMax / ArgMin: select_last_index from 12, ties from integer-valued inputs.
    for op in ["ArgMax", "ArgMin"]:
        low = op.lower()
        c.append(Case(f"{low}_opset7", 7, [node(op, ["x"], axis=1, keepdims=0)], [("x", x(f"{low}7", [3, 5, 2], integers=True))]))
        c.append(Case(f"{low}_negative_axis_opset11", 11, [node(op, ["x"], axis=-1)], [("x", x(f"{low}11", [3, 5], integers=True))]))
        c.append(Case(f"{low}_last_index_opset12", 12, [node(op, ["x"], axis=1, select_last_index=1)],
                      [("x", x(f"{low}12", [3, 5, 2], integers=True))]))
    # --- Activations: new ones and the attribute defaults of the existing ones.
    act = [("Mish", 18, {}), ("ThresholdedRelu", 10, {}), ("ThresholdedRelu", 10, {"alpha": 0.5}),
           ("Shrink", 9, {}), ("Shrink", 9, {"lambd": 0.8, "bias": 0.3}), ("Celu", 12, {}), ("Celu", 12, {"alpha": 0.6}),
           ("HardSigmoid", 7, {}), ("HardSigmoid", 7, {"alpha": 0.3, "beta": 0.4}), ("HardSwish", 14, {}),
           ("Softsign", 7, {}), ("Selu", 7, {}), ("Elu", 7, {}), ("LeakyRelu", 7, {})]
    for op, opset, attributes in act:
        name = f"{op.lower()}_{'default' if not attributes else 'attributes'}_opset{opset}"
        c.append(Case(name, opset, [node(op, ["x"], **attributes)], [("x", x(name, [3, 8], scale=3))]))
    # --- InstanceNormalization, GroupNormalization (scale per group at 18, per channel at 21), LpNormalization.
    for shape in [[2, 3, 5], [2, 3, 4, 3]]:
        r = rng_for(f"in{len(shape)}")
        c.append(Case(f"instancenorm_rank{len(shape)}_opset7", 7, [node("InstanceNormalization", ["x", "s", "b"], epsilon=1e-3)],
                      [("x", x(f"inx{len(shape)}", shape, scale=2))],
                      {"s": r.uniform(0.5, 1.5, [3]).astype(np.float32), "b": r.standard_normal([3]).astype(np.float32)}))
    r = rng_for("gn")
    s18, b18 = r.uniform(0.5, 1.5, [2]).astype(np.float32), r.standard_normal([2]).astype(np.float32)
    c.append(Case("groupnorm_opset18", 18, [node("GroupNormalization", ["x", "s", "b"], num_groups=2, epsilon=1e-4)],
                  [("x", x("gn18", [2, 4, 3, 2], scale=2))], {"s": s18, "b": b18},
                  reference=lambda v: group_norm(v, 2, np.repeat(s18, 2), np.repeat(b18, 2), 1e-4)))
    s21, b21 = r.uniform(0.5, 1.5, [6]).astype(np.float32), r.standard_normal([6]).astype(np.float32)
    c.append(Case("groupnorm_opset21", 21, [node("GroupNormalization", ["x", "s", "b"], num_groups=3, stash_type=1)],
                  [("x", x("gn21", [2, 6, 5], scale=2))], {"s": s21, "b": b21},
                  reference=lambda v: group_norm(v, 3, s21, b21, 1e-5)))
    c.append(Case("groupnorm_one_group_opset21", 21, [node("GroupNormalization", ["x", "s", "b"], num_groups=1)],
                  [("x", x("gn21one", [2, 4, 3]))],
                  {"s": r.uniform(0.5, 1.5, [4]).astype(np.float32), "b": r.standard_normal([4]).astype(np.float32)}))
    for p, axis in [(2, -1), (1, 1), (2, 0)]:
        name = f"lpnorm_p{p}_axis{'m' if axis < 0 else ''}{abs(axis)}_opset7"
        c.append(Case(name, 7, [node("LpNormalization", ["x"], p=p, axis=axis)], [("x", x(name, [3, 4, 5]))]))
    c.append(Case("lpnorm_default_opset7", 7, [node("LpNormalization", ["x"])], [("x", x("lpd", [3, 4]))]))
    return c


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "Tests/Fixtures/exporters/opsets"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for old in os.listdir(args.out):
        if old.endswith(".onnx") or old.endswith(".npz"):
            os.remove(os.path.join(args.out, old))
    all_cases = cases()
    names = [case.name for case in all_cases]
    assert len(names) == len(set(names)), "duplicate case names"
    for case in all_cases:
        name, shapes = case.write(args.out)
        print(f"{name}: opset {case.opset}, outputs {shapes}")
    print(f"{len(all_cases)} fixtures in {args.out}")


if __name__ == "__main__":
    main()
