#!/usr/bin/env python3
"""Makes Tests/Fixtures/exporters/{tf2onnx,paddle2onnx}/: small models exported by the REAL exporters
(tf2onnx from Keras, paddle2onnx from PaddlePaddle), their input data, ONNX Runtime FP32 outputs and
an independent weight-only int8 reference (fidelity metrics as qscope computes them).

  python3 tools/make_exporter_fixtures.py --keras-python VENV_TF/bin/python --paddle-python VENV_PD/bin/python

TensorFlow + tf2onnx and PaddlePaddle + paddle2onnx pin incompatible onnx/protobuf versions, so each
exporter runs in its own interpreter (a venv with `pip install tensorflow-cpu tf2onnx` and one with
`pip install paddlepaddle paddle2onnx`; versions in tools/requirements.txt): this script calls itself
there with `--export keras|paddle DIR`, which only builds and exports the models and writes the
framework's own outputs. Everything else (data, ORT outputs, int8 reference) runs in this interpreter
(numpy, onnx, onnxruntime). Both exporters are real; no graph is written by hand.

Keras (tf2onnx.convert.from_keras, opset 13 and 11): a CNN on the bundled Fashion-MNIST samples in
NHWC, trained for 6 epochs on 12000 training images so that accuracy means something:
BatchNormalization on the input and after a ReLU (standalone; tf2onnx writes each as Mul + Add),
Conv2D, DepthwiseConv2D, MaxPooling2D, UpSampling2D nearest (Keras 3 repeats the pixels: tf2onnx
writes Unsqueeze/Tile/Reshape with a Shape/Gather/Cast/Slice/Concat shape computation, no Resize) and
bilinear (Resize linear, half_pixel), Conv2DTranspose, GlobalAveragePooling2D, Dense + Dense softmax.
Opset 11 keeps the attribute forms (Squeeze/Unsqueeze `axes`, Softmax `axis`), opset 13 the inputs. Input `image` [N, 28, 28, 1] (tf2onnx adds the NHWC ->
NCHW Transpose), output `probs` [N, 10].

PaddlePaddle (paddle.onnx.export -> paddle2onnx, opset 11): a DB-style text segmentation net with
random weights and random BatchNorm statistics: Conv + BN + Hardswish backbone (one depthwise),
an FPN that adds a nearest-upsampled and concatenates a bilinear-upsampled map (Resize), and a DB
head Conv + BN + ReLU -> ConvTranspose -> BN + ReLU (BN after ConvTranspose: not foldable into a
Conv) -> ConvTranspose -> Sigmoid: input `x` [N, 3, 64, 64], output [N, 1, 64, 64]. paddle2onnx 2.1.0
fails on `F.interpolate(scale_factor=...)` ("the 0th elementwise MUST be ir::FloatAttribute"), so
the net passes `size=`; paddle2onnx then computes Resize's sizes with Shape/Slice/Concat.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "Tests", "Fixtures", "exporters")
SEED = 20261207
EPOCHS, TRAINING_IMAGES = 6, 12000
FASHION = "/usr/share/datasets/fashion-mnist"

# ---------------------------------------------------------------------------------------------
# Data (made in this interpreter, handed to the exporters as .npy files)


def fashion_samples(count):
    """The first `count` bundled Fashion-MNIST test samples, normalised as the sample models' data,
    in NHWC for Keras: ([count, 28, 28, 1] float32, [count] int64)."""
    d = np.load(os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz"))
    return np.ascontiguousarray(d["x"][:count].transpose(0, 2, 3, 1)), d["y"][:count].astype(np.int64)


def fashion_training(count):
    """The first `count` Fashion-MNIST training images (Debian dataset-fashion-mnist), same
    normalisation: ([count, 28, 28, 1], [count])."""
    import gzip
    with gzip.open(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)[:count]
    with gzip.open(os.path.join(FASHION, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:count]
    return ((x.astype(np.float32) / 255 - 0.2860) / 0.3530).astype(np.float32), y.astype(np.int64)


def text_images(count, size, seed):
    """`count` RGB images size x size of 1-3 short words in random dark colours on light, slightly
    plain backgrounds (what a text detector sees), normalised as PaddleOCR's detector
    ((pixel/255 - 0.5)/0.5): [count, 3, size, size] float32."""
    from PIL import Image, ImageDraw, ImageFont
    rng = np.random.default_rng(seed)
    words = ["qscope", "ONNX", "int8", "Paddle", "OCR", "text", "2026", "scale", "zero", "layer", "bits", "ORT"]
    fonts = ["DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf"]
    out = []
    for _ in range(count):
        bg = tuple(int(v) for v in rng.integers(190, 256, 3))
        img = Image.new("RGB", (size, size), bg)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 4))):
            font = ImageFont.truetype(os.path.join("/usr/share/fonts/truetype/dejavu", fonts[int(rng.integers(len(fonts)))]),
                                      int(rng.integers(9, 16)))
            xy = (int(rng.integers(0, size // 2)), int(rng.integers(0, size - 14)))
            draw.text(xy, words[int(rng.integers(len(words)))], fill=tuple(int(v) for v in rng.integers(0, 90, 3)), font=font)
        a = np.asarray(img, dtype=np.float32)
        out.append(((a / 255 - 0.5) / 0.5).transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Exporters (run in their own interpreters, `--export keras|paddle DIR`)


def export_keras(work):
    """Trains the Keras CNN and exports it with tf2onnx at opsets 13 and 11 into `work`; writes TF's
    own outputs on the fixture samples and the versions."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    import tf2onnx
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(SEED)
    L = keras.layers
    inp = keras.Input((28, 28, 1), name="image")
    x = L.BatchNormalization(name="input_bn")(inp)                                  # standalone BN on the input
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)            # 28x28x8
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu", name="dw")(x)  # 14x14x8
    x = L.Conv2D(16, 1, activation="relu", name="pw")(x)                               # 14x14x16
    x = L.BatchNormalization(name="relu_bn")(x)                                        # standalone BN after a ReLU
    x = L.MaxPooling2D(2, name="pool1")(x)                                             # 7x7x16
    x = L.UpSampling2D(2, interpolation="nearest", name="up_nearest")(x)               # 14x14x16
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(2, name="pool2")(x)                                             # 7x7x16
    x = L.UpSampling2D(2, interpolation="bilinear", name="up_bilinear")(x)             # 14x14x16
    x = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu", name="deconv")(x)  # 28x28x16
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(32, activation="relu", name="fc1")(x)
    out = L.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out)
    xt, yt = np.load(os.path.join(work, "train_x.npy")), np.load(os.path.join(work, "train_y.npy"))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xt, yt, batch_size=64, epochs=EPOCHS, verbose=0, shuffle=True)
    # Random BatchNorm statistics on top of the trained ones would be pointless: training set them.
    spec = (tf.TensorSpec((None, 28, 28, 1), tf.float32, name="image"),)
    for opset in (13, 11):
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset,
                                   output_path=os.path.join(work, f"keras_cnn_opset{opset}.onnx"))
    samples = np.load(os.path.join(work, "samples.npy"))
    np.save(os.path.join(work, "framework_out.npy"), model.predict(samples, batch_size=64, verbose=0).astype(np.float32))
    json.dump({"tensorflow": tf.__version__, "keras": keras.__version__, "tf2onnx": tf2onnx.__version__},
              open(os.path.join(work, "versions.json"), "w"))


def export_paddle(work):
    """Builds the random-weight DB-style net and exports it with paddle2onnx at opset 11 into `work`;
    writes Paddle's own outputs on the fixture samples and the versions."""
    import paddle
    import paddle.nn as nn
    import paddle.nn.functional as F
    import paddle2onnx
    paddle.seed(SEED)
    paddle.set_device("cpu")

    def cbn(cin, cout, k, stride=1, groups=1, act=None):
        layers = [nn.Conv2D(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias_attr=False),
                  nn.BatchNorm2D(cout)]
        if act is not None:
            layers.append(act())
        return nn.Sequential(*layers)

    class TinyDB(nn.Layer):
        def __init__(self):
            super().__init__()
            self.c1 = cbn(3, 8, 3, 2, act=nn.Hardswish)                 # 32x32x8
            self.c2 = cbn(8, 16, 3, 2, act=nn.Hardswish)                # 16x16x16
            self.dw = cbn(16, 16, 3, 1, groups=16, act=nn.Hardswish)    # depthwise
            self.c3 = cbn(16, 32, 3, 2, act=nn.Hardswish)               # 8x8x32
            self.lat2 = nn.Conv2D(16, 16, 1)
            self.lat3 = nn.Conv2D(32, 16, 1)
            self.head = cbn(32, 8, 3, act=nn.ReLU)                      # 16x16x8
            self.up1 = nn.Conv2DTranspose(8, 8, 2, stride=2)            # 32x32x8
            self.bn = nn.BatchNorm2D(8)                                 # after ConvTranspose
            self.up2 = nn.Conv2DTranspose(8, 1, 2, stride=2)            # 64x64x1

        def forward(self, x):
            c2 = self.dw(self.c2(self.c1(x)))
            c3 = self.c3(c2)
            l3 = self.lat3(c3)
            p2 = self.lat2(c2) + F.interpolate(l3, size=[16, 16], mode="nearest")
            q3 = F.interpolate(l3, size=[16, 16], mode="bilinear", align_corners=False)
            y = self.head(paddle.concat([p2, q3], axis=1))
            y = F.relu(self.bn(self.up1(y)))
            return F.sigmoid(self.up2(y))

    net = TinyDB()
    rng = np.random.default_rng(SEED)
    for layer in net.sublayers():
        if isinstance(layer, nn.BatchNorm2D):  # inference statistics that are not the identity
            c = layer._mean.shape[0]
            layer._mean.set_value(rng.normal(0, 0.2, c).astype(np.float32))
            layer._variance.set_value(rng.uniform(0.5, 2.0, c).astype(np.float32))
            layer.weight.set_value(rng.uniform(0.6, 1.4, c).astype(np.float32))
            layer.bias.set_value(rng.normal(0, 0.1, c).astype(np.float32))
    # Default initialisation leaves the head's logits within +-0.2 and the sigmoid near 0.5 everywhere,
    # which any quantization would leave at cosine 1: a gain of 12 spreads them over about +-3, as
    # a trained DB head's probability map is spread between 0 and 1.
    net.up2.weight.set_value(net.up2.weight.numpy() * 12)
    net.eval()
    spec = [paddle.static.InputSpec([None, 3, 64, 64], "float32", "x")]
    paddle.onnx.export(net, os.path.join(work, "paddle_db_opset11"), input_spec=spec, opset_version=11)
    samples = np.load(os.path.join(work, "samples.npy"))
    np.save(os.path.join(work, "framework_out.npy"), net(paddle.to_tensor(samples)).numpy().astype(np.float32))
    json.dump({"paddlepaddle": paddle.__version__, "paddle2onnx": paddle2onnx.__version__},
              open(os.path.join(work, "versions.json"), "w"))


# ---------------------------------------------------------------------------------------------
# References (this interpreter)


def finish(exporter, models, work, feeds_name, samples, labels, logits, data_file, notes):
    """Copies the exported models, writes the data, ORT outputs and reference.json for one exporter."""
    import onnx
    sys.path.insert(0, HERE)
    import fixture_reference as ref
    out_dir = os.path.join(OUT, exporter)
    os.makedirs(out_dir, exist_ok=True)
    data = {feeds_name: samples}
    if labels is not None:
        data["y"] = labels
    np.savez_compressed(os.path.join(out_dir, data_file), **data)
    framework = np.load(os.path.join(work, "framework_out.npy"))
    versions = json.load(open(os.path.join(work, "versions.json")))
    entries = {}
    for name, opset in models:
        model = onnx.load(os.path.join(work, name + ".onnx"))
        onnx.checker.check_model(model)
        model.doc_string = ""
        path = os.path.join(out_dir, name + ".onnx")
        onnx.save(model, path)
        feeds = {feeds_name: samples}
        fp32 = ref.run_ort(ref.session(path), feeds)
        np.save(os.path.join(out_dir, f"{name}.fp32.npy"), fp32)
        layers, int8, folding = ref.quantized_reference(model, feeds, fp32, logits, labels)
        entry = {
            "file": name + ".onnx", "exporter": exporter, "opset": opset,
            "opset_import": {o.domain or "ai.onnx": o.version for o in model.opset_import},
            "data": data_file, "labels": labels is not None,
            "input": {"name": feeds_name, "shape": ref.value_shape(model.graph.input[0]), "data_shape": list(samples.shape)},
            "output": {"name": model.graph.output[0].name, "shape": list(fp32.shape)},
            "output_kind": "logits" if logits else "embedding",
            "fp32_outputs": f"{name}.fp32.npy",
            "ops": ref.op_counts(model),
            "quantizable_layers": layers,
            "framework_vs_ort_max_abs_diff": float(np.abs(framework - fp32).max()),
            "ort_optimized_vs_unoptimized_max_abs_diff": ref.optimization_spread(path, feeds, fp32),
            "quantized": {"int8": int8},
            "int8_after_batchnorm_folding": folding,
        }
        if labels is not None:
            entry["fp32_accuracy"] = float((fp32.argmax(axis=-1) == labels).mean())
        entries[name] = entry
        print(f"{exporter}/{name}: opset {opset}, {len(layers)} layers, framework vs ORT {entry['framework_vs_ort_max_abs_diff']:.2e}, "
              f"int8 {json.dumps(int8)}" + (f", fp32 accuracy {entry['fp32_accuracy']:.4f}" if labels is not None else ""))
        if entry["framework_vs_ort_max_abs_diff"] > 1e-4 * max(1.0, float(np.abs(fp32).max())):
            raise SystemExit(f"{name}: ORT and the framework disagree by {entry['framework_vs_ort_max_abs_diff']}")
    import onnxruntime
    versions.update({"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__})
    doc = {"script": "tools/make_exporter_fixtures.py", "notes": notes, "versions": versions,
           "definitions": ref.DEFINITIONS, "models": entries}
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


def run_exporter(python, kind, work):
    subprocess.run([python, os.path.abspath(__file__), "--export", kind, work], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keras-python", default=sys.executable, help="interpreter with tensorflow-cpu and tf2onnx")
    ap.add_argument("--paddle-python", default=sys.executable, help="interpreter with paddlepaddle and paddle2onnx")
    ap.add_argument("--only", choices=["keras", "paddle"])
    ap.add_argument("--export", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.export:
        {"keras": export_keras, "paddle": export_paddle}[args.export[0]](args.export[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "keras"):
            work = os.path.join(tmp, "keras")
            os.makedirs(work)
            xt, yt = fashion_training(TRAINING_IMAGES)
            np.save(os.path.join(work, "train_x.npy"), xt)
            np.save(os.path.join(work, "train_y.npy"), yt)
            x, y = fashion_samples(64)
            np.save(os.path.join(work, "samples.npy"), x)
            run_exporter(args.keras_python, "keras", work)
            finish("tf2onnx", [("keras_cnn_opset13", 13), ("keras_cnn_opset11", 11)], work, "image", x, y, True,
                   "fashion-64.npz",
                   f"Keras CNN trained {EPOCHS} epochs on {TRAINING_IMAGES} Fashion-MNIST training images, exported by tf2onnx.convert."
                   "from_keras; data: the first 64 bundled test samples in NHWC ('image') with labels 'y'.")
        if args.only in (None, "paddle"):
            work = os.path.join(tmp, "paddle")
            os.makedirs(work)
            x = text_images(16, 64, SEED)
            np.save(os.path.join(work, "samples.npy"), x)
            run_exporter(args.paddle_python, "paddle", work)
            finish("paddle2onnx", [("paddle_db_opset11", 11)], work, "x", x, None, False, "text-64px-16.npz",
                   "Random-weight DB-style text segmentation net (random BatchNorm statistics), exported by "
                   "paddle.onnx.export (paddle2onnx); data: 16 rendered text images 3x64x64, (pixel/255-0.5)/0.5.")


if __name__ == "__main__":
    main()
