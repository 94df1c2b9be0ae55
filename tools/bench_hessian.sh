#!/bin/sh
# Benchmark (not a test): 100 Hutchinson probes on 512 samples of each sample model with qscope
# (exact forward-over-reverse HVPs), then the same with PyTorch double backward on 2 threads
# (tools/make_hessian_fixtures.py --bench). Run from the repository root after
# `swift build -c release`: tools/bench_hessian.sh [mlp cnn vit]
set -e
models="${*:-mlp cnn vit}"
for model in $models; do
    /usr/bin/time -f "qscope $model: %e s wall, %U s user" \
        .build/release/qscope analyze sample-models/$model.onnx --hessian-samples 512 --probes 100 --tolerance 0 --only hessian --json > /dev/null
done
if python3 -c "import torch" 2>/dev/null; then
    python3 tools/make_hessian_fixtures.py --bench $models
fi
