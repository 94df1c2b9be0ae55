#!/usr/bin/env python3
"""Two small Fashion-MNIST classifiers whose ops the sample models do not use, for the reverse-mode
tests against PyTorch (tools/make_hessian_fixtures.py then writes their gradient, HVP and trace
fixtures):

  Tests/Fixtures/models/lenet.onnx   LeNet-5 style: Conv 5x5 with bias, Tanh, AveragePool (padded,
                                     count_include_pad=0), Sigmoid, AveragePool, Gemm, LeakyRelu, Elu,
                                     Gemm, LogSoftmax output (as the classic MNIST examples end)
  Tests/Fixtures/models/mobile.onnx  MobileNet style: Conv stride 2 + BN + ReLU6 (Clip), depthwise
                                     Conv (group = channels) + BN + ReLU6, pointwise Conv + BN +
                                     HardSwish, depthwise stride 2 + Softplus, pointwise Conv, mean
                                     over H, W (ReduceMean), Gemm

Trained for a few epochs on the 2,000 bundled samples (the point is weights that are not random,
not accuracy). Deterministic: fixed seed, 2 threads. TorchScript exporter, opset 17.
Usage: python3 tools/make_op_coverage_models.py
"""
import os
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "models")


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.p1 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.p2 = nn.AvgPool2d(2)
        self.f1 = nn.Linear(16 * 5 * 5, 64)
        self.f2 = nn.Linear(64, 32)
        self.f3 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.p1(torch.tanh(self.c1(x)))
        x = self.p2(torch.sigmoid(self.c2(x)))
        x = F.leaky_relu(self.f1(x.flatten(1)), 0.1)
        x = F.elu(self.f2(x))
        return F.log_softmax(self.f3(x), dim=1)


def block(cin, cout, stride, groups, act):
    return nn.Sequential(nn.Conv2d(cin, cout, 3 if groups > 1 or cin == 1 else 1, stride=stride,
                                   padding=1 if groups > 1 or cin == 1 else 0, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), act)


class Mobile(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = block(1, 16, 2, 1, nn.ReLU6())        # 14x14
        self.dw1 = block(16, 16, 1, 16, nn.ReLU6())
        self.pw1 = block(16, 32, 1, 1, nn.Hardswish())
        self.dw2 = block(32, 32, 2, 32, nn.Softplus())     # 7x7
        self.pw2 = nn.Conv2d(32, 48, 1)
        self.head = nn.Linear(48, 10)

    def forward(self, x):
        x = self.pw2(self.dw2(self.pw1(self.dw1(self.stem(x)))))
        return self.head(torch.relu(x).mean(dim=(2, 3)))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    d = np.load(os.path.join(ROOT, "sample-models", "fashion-mnist-test-2000.npz"))
    x, y = torch.tensor(d["x"]).reshape(-1, 1, 28, 28), torch.tensor(d["y"])
    os.makedirs(OUT, exist_ok=True)
    for name, make, epochs in [("lenet", LeNet, 6), ("mobile", Mobile, 6)]:
        torch.manual_seed(1)
        model = make()
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        gen = torch.Generator().manual_seed(2)
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), 100):
                idx = perm[i:i + 100]
                opt.zero_grad()
                out = model(x[idx])
                loss = F.nll_loss(out, y[idx]) if name == "lenet" else F.cross_entropy(out, y[idx])
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x).argmax(1) == y).float().mean().item()
        path = os.path.join(OUT, name + ".onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x[:2],), path, dynamo=False, opset_version=17, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                              do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE)
        print(f"{name}: accuracy {accuracy:.4f} on the 2000 samples (trained on them), {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
