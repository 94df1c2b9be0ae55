#!/usr/bin/env python3
"""References for PaddleOCR's real pretrained models, as exported by paddle2onnx and shipped in the
PyPI wheel rapidocr-onnxruntime (never a model hub): rendered text images in PaddleOCR's input
layouts, ONNX Runtime FP32 outputs and an independent weight-only int8 reference.

  python3 tools/make_paddleocr_fixtures.py [--cache-dir ~/.cache/qscope/paddleocr]

1. `pip download rapidocr-onnxruntime==1.4.4 --no-deps` into CACHE/wheel, and the three models
   extracted from its `rapidocr_onnxruntime/models/` into CACHE:
   - ch_PP-OCRv4_det_infer.onnx (4.7 MB, opset 12; DB text detector: Resize nearest, ConvTranspose,
     standalone BatchNormalization, HardSigmoid; x [N, 3, H, W] -> probability map [N, 1, H, W]),
   - ch_PP-OCRv4_rec_infer.onnx (10.8 MB, opset 12; SVTR recogniser: x [N, 3, 48, W] ->
     softmax [N, W/8, 6625] over the character list in its metadata, CTC),
   - ch_ppocr_mobile_v2.0_cls_infer.onnx (0.6 MB, opset 11; text direction: x [N, 3, 48, 192] ->
     softmax [N, 2], class 0 = upright, 1 = rotated 180 degrees).
2. Images rendered with PIL (DejaVu fonts, Debian fonts-dejavu-core) and normalised as rapidocr 1.4.4
   does (config.yaml and ch_ppocr_*/ preprocessing): (pixel/255 - 0.5)/0.5 per channel, BGR channel
   order (rapidocr reads images with OpenCV), CHW.
   - det: 4 pages 3x320x320 (rapidocr would first resize the short side to 736; 320 keeps the
     map small), 3-6 lines of black or dark-coloured text on white or light grey;
   - rec: 32 text lines, cut to the text with a 4 px margin, resized to height 48 keeping the aspect
     ratio (width ceil(48 w/h), at most 320), placed at the left of a zero [3, 48, 320] canvas
     (rapidocr pads with zeros, i.e. mid-grey after normalisation, to the batch's widest ratio;
     here every batch is 320 wide). PIL's bilinear resize replaces cv2.resize (INTER_LINEAR);
   - cls: the same 32 lines at [3, 48, 192]; every odd one rotated by 180 degrees before the
     resize, labels y = 0 upright, 1 rotated (the model's label_list ['0', '180']).
3. ORT (CPU, graph optimizations off) FP32 outputs; the int8 weight-only reference (every
   Conv/ConvTranspose/Gemm/MatMul weight fake-quantized per output channel, tools/fixture_reference.py)
   run by ORT; fidelity metrics as qscope computes them. Sanity checks printed: the recogniser's
   greedy CTC decoding against the rendered strings, the classifier's accuracy, and the detector's
   mean probability on text boxes against the background.
4. Writes CACHE/{det,rec,cls}*.npz, CACHE/<model>.fp32.npy, CACHE/reference.json (all three), and
   commits the small one: Tests/Fixtures/exporters/paddleocr/ gets the cls model (Apache-2.0, from
   the wheel unchanged), its data, FP32 outputs and a reference.json with its entry only. The det
   and rec models (4.7 and 10.8 MB, rec outputs 34 MB) stay in the cache, for tools/check_paddleocr.py.

Needs numpy, onnx, onnxruntime, pillow and pip; ~1 minute.
"""
import argparse
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import onnx
from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fixture_reference as ref  # noqa: E402

WHEEL = "rapidocr-onnxruntime==1.4.4"
COMMITTED = os.path.join(ROOT, "Tests", "Fixtures", "exporters", "paddleocr")
FONTS = "/usr/share/fonts/truetype/dejavu"
SEED = 20261207
MODELS = {
    "det": "ch_PP-OCRv4_det_infer",
    "rec": "ch_PP-OCRv4_rec_infer",
    "cls": "ch_ppocr_mobile_v2.0_cls_infer",
}
WORDS = ["invoice", "total", "quantization", "model", "ONNX", "PaddleOCR", "scale", "number", "2026", "page",
         "hello", "world", "open", "source", "text", "line", "price", "12.50", "date", "name", "street", "city",
         "report", "weights", "layer", "output", "Runtime", "paddle", "qscope", "bits", "zero", "point"]


def fetch_models(cache):
    """The three .onnx files from the wheel, extracted into `cache` (downloaded once)."""
    wheel_dir = os.path.join(cache, "wheel")
    wheels = glob.glob(os.path.join(wheel_dir, "rapidocr_onnxruntime-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", wheel_dir], check=True)
        wheels = glob.glob(os.path.join(wheel_dir, "rapidocr_onnxruntime-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        for name in MODELS.values():
            target = os.path.join(cache, name + ".onnx")
            if not os.path.exists(target):
                with z.open(f"rapidocr_onnxruntime/models/{name}.onnx") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    return os.path.basename(wheels[0])


def font(rng, size):
    name = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf"][int(rng.integers(4))]
    return ImageFont.truetype(os.path.join(FONTS, name), size)


def normalise(rgb):
    """HWC uint8 RGB -> CHW float32 BGR, (pixel/255 - 0.5)/0.5."""
    a = np.asarray(rgb, dtype=np.float32)[:, :, ::-1]
    return ((a / 255 - 0.5) / 0.5).transpose(2, 0, 1)


def line_texts(count, rng):
    return [" ".join(WORDS[int(i)] for i in rng.integers(len(WORDS), size=int(rng.integers(1, 4)))) for _ in range(count)]


def line_image(text, rng):
    """A tight RGB crop (4 px margin) of `text` in black or a dark colour on a light background."""
    f = font(rng, int(rng.integers(28, 40)))
    box = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=f)
    w, h = box[2] - box[0] + 8, box[3] - box[1] + 8
    bg = tuple(int(v) for v in rng.integers(215, 256, 3))
    img = Image.new("RGB", (w, h), bg)
    fg = (0, 0, 0) if rng.random() < 0.6 else tuple(int(v) for v in rng.integers(0, 100, 3))
    ImageDraw.Draw(img).text((4 - box[0], 4 - box[1]), text, fill=fg, font=f)
    return img


def fit_line(img, height, width):
    """rapidocr's resize_norm_img: height `height`, width ceil(height * w/h) capped at `width`,
    normalised, left-aligned in a zero [3, height, width] canvas."""
    w = min(width, int(math.ceil(height * img.width / img.height)))
    out = np.zeros((3, height, width), dtype=np.float32)
    out[:, :, :w] = normalise(img.resize((w, height), Image.BILINEAR))
    return out


def det_pages(count, size, rng):
    """`count` pages [3, size, size] and for each the text boxes (x0, y0, x1, y1)."""
    pages, boxes = [], []
    for _ in range(count):
        img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(225, 256, 3)))
        draw = ImageDraw.Draw(img)
        page_boxes, y = [], int(rng.integers(8, 30))
        for text in line_texts(int(rng.integers(3, 7)), rng):
            f = font(rng, int(rng.integers(16, 30)))
            x = int(rng.integers(8, size // 3))
            box = draw.textbbox((x, y), text, font=f)
            if box[3] > size - 4:
                break
            draw.text((x, y), text, font=f, fill=(0, 0, 0) if rng.random() < 0.6 else tuple(int(v) for v in rng.integers(0, 100, 3)))
            page_boxes.append([max(0, box[0]), max(0, box[1]), min(size, box[2]), min(size, box[3])])
            y = box[3] + int(rng.integers(10, 40))
        pages.append(normalise(img))
        boxes.append(page_boxes)
    return np.stack(pages), boxes


def ctc_greedy(probs, characters):
    """rapidocr's CTCLabelDecode: argmax per step, repeats merged, blanks (0) dropped; index i > 0 is
    characters[i - 1], the last index a space."""
    table = ["blank"] + characters + [" "]
    out = []
    for row in probs.argmax(axis=-1):
        keep = [i for t, i in enumerate(row) if i != 0 and (t == 0 or i != row[t - 1])]
        out.append("".join(table[i] for i in keep))
    return out


def entry(name, path, data_file, feeds, fp32, logits, labels, extra):
    model = onnx.load(path)
    layers, int8, folding = ref.quantized_reference(model, feeds, fp32, logits, labels, batch=8)
    e = {"file": name + ".onnx", "exporter": "paddle2onnx (PaddleOCR inference model, from " + WHEEL + ")",
         "opset_import": {o.domain or "ai.onnx": o.version for o in model.opset_import},
         "data": data_file, "labels": labels is not None,
         "input": {"name": model.graph.input[0].name, "shape": ref.value_shape(model.graph.input[0]),
                   "data_shape": list(next(iter(feeds.values())).shape)},
         "output": {"name": model.graph.output[0].name, "shape": list(fp32.shape)},
         "output_kind": "logits" if logits else "embedding", "fp32_outputs": name + ".fp32.npy",
         "ops": ref.op_counts(model), "quantizable_layers": layers, "quantized": {"int8": int8},
         "int8_after_batchnorm_folding": folding, "ort_optimized_vs_unoptimized_max_abs_diff": ref.optimization_spread(path, feeds, fp32, batch=8)}
    if labels is not None:
        e["fp32_accuracy"] = float((fp32.argmax(axis=-1) == labels).mean())
    e.update(extra)
    print(f"{name}: {len(layers)} layers, ORT optimized vs not {e['ort_optimized_vs_unoptimized_max_abs_diff']:.2e}, "
          f"int8 {json.dumps(int8)}")
    return e


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/qscope/paddleocr"))
    ap.add_argument("--no-commit", action="store_true", help="write the cache only, not Tests/Fixtures")
    args = ap.parse_args()
    cache = args.cache_dir
    os.makedirs(cache, exist_ok=True)
    wheel = fetch_models(cache)
    rng = np.random.default_rng(SEED)
    entries = {}

    # Recogniser: 32 lines at [3, 48, 320].
    texts = line_texts(32, rng)
    lines = [line_image(t, rng) for t in texts]
    rec_x = np.stack([fit_line(img, 48, 320) for img in lines])
    np.savez_compressed(os.path.join(cache, "rec-48x320.npz"), x=rec_x)
    rec_path = os.path.join(cache, MODELS["rec"] + ".onnx")
    rec_fp32 = ref.run_ort(ref.session(rec_path), {"x": rec_x}, batch=8)
    np.save(os.path.join(cache, MODELS["rec"] + ".fp32.npy"), rec_fp32)
    meta = {p.key: p.value for p in onnx.load(rec_path, load_external_data=False).metadata_props}
    decoded = ctc_greedy(rec_fp32, meta["character"].splitlines())
    exact = sum(d == t for d, t in zip(decoded, texts))
    print(f"rec: greedy CTC reads {exact}/{len(texts)} lines exactly, e.g. {texts[0]!r} -> {decoded[0]!r}")
    entries[MODELS["rec"]] = entry(MODELS["rec"], rec_path, "rec-48x320.npz", {"x": rec_x}, rec_fp32, True, None,
                                   {"texts": texts, "fp32_ctc_decoded": decoded, "fp32_ctc_exact": exact})

    # Direction classifier: the same lines at [3, 48, 192], every odd one rotated by 180 degrees.
    cls_y = np.array([i % 2 for i in range(len(lines))], dtype=np.int64)
    cls_x = np.stack([fit_line(img.rotate(180) if y else img, 48, 192) for img, y in zip(lines, cls_y)])
    np.savez_compressed(os.path.join(cache, "cls-48x192.npz"), x=cls_x, y=cls_y)
    cls_path = os.path.join(cache, MODELS["cls"] + ".onnx")
    cls_fp32 = ref.run_ort(ref.session(cls_path), {"x": cls_x})
    np.save(os.path.join(cache, MODELS["cls"] + ".fp32.npy"), cls_fp32)
    entries[MODELS["cls"]] = entry(MODELS["cls"], cls_path, "cls-48x192.npz", {"x": cls_x}, cls_fp32, True, cls_y, {})
    print(f"cls: FP32 accuracy {entries[MODELS['cls']]['fp32_accuracy']:.4f} on {len(cls_y)} lines")

    # Detector: 4 pages at [3, 320, 320].
    det_x, boxes = det_pages(4, 320, rng)
    np.savez_compressed(os.path.join(cache, "det-320.npz"), x=det_x)
    det_path = os.path.join(cache, MODELS["det"] + ".onnx")
    det_fp32 = ref.run_ort(ref.session(det_path), {"x": det_x}, batch=2)
    np.save(os.path.join(cache, MODELS["det"] + ".fp32.npy"), det_fp32)
    inside = np.zeros(det_fp32.shape, dtype=bool)
    for n, page in enumerate(boxes):
        for x0, y0, x1, y1 in page:
            inside[n, 0, y0:y1, x0:x1] = True
    text_mean, background_mean = float(det_fp32[inside].mean()), float(det_fp32[~inside].mean())
    print(f"det: mean probability {text_mean:.3f} on text boxes, {background_mean:.3f} elsewhere")
    entries[MODELS["det"]] = entry(MODELS["det"], det_path, "det-320.npz", {"x": det_x}, det_fp32, False, None,
                                   {"text_boxes": boxes, "fp32_mean_probability_text": text_mean,
                                    "fp32_mean_probability_background": background_mean})

    import onnxruntime
    doc = {"script": "tools/make_paddleocr_fixtures.py", "wheel": wheel,
           "versions": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
                        "pillow": Image.__version__},
           "definitions": ref.DEFINITIONS, "models": entries}
    with open(os.path.join(cache, "reference.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    if args.no_commit:
        return
    os.makedirs(COMMITTED, exist_ok=True)
    name = MODELS["cls"]
    for file in (name + ".onnx", name + ".fp32.npy", "cls-48x192.npz"):
        shutil.copyfile(os.path.join(cache, file), os.path.join(COMMITTED, file))
    committed = dict(doc, models={name: entries[name]},
                     notes="The cls model is committed unchanged from the wheel (PaddleOCR, Apache-2.0); the det and rec "
                           "references are in the cache folder only (tools/check_paddleocr.py).")
    with open(os.path.join(COMMITTED, "reference.json"), "w") as f:
        json.dump(committed, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
