#!/bin/sh
# Benchmark (not a test): 100 Hutchinson probes on 512 samples of each sample model with qscope
# (exact forward-over-reverse HVPs), then the same with PyTorch double backward on 2 threads
# (tools/make_hessian_fixtures.py --bench). Like for like: qscope's Hessian time as it reports it
# (`seconds_parts.hessian`, the estimator alone, as PyTorch's), and its whole process beside it.
# Run from the repository root after `swift build -c release`: tools/bench_hessian.sh [mlp cnn vit]
set -e
models="${*:-mlp cnn vit}"
for model in $models; do
    start=$(date +%s.%N)
    hessian=$(.build/release/qscope analyze sample-models/$model.onnx --hessian-samples 512 --probes 100 --tolerance 0 \
        --only hessian --json | python3 -c "import json, sys; print('%.2f' % json.loads(sys.stdin.read().splitlines()[-1])['seconds_parts']['hessian'])")
    end=$(date +%s.%N)
    whole=$(python3 -c "print('%.2f' % ($end - $start))")
    echo "qscope $model: 100 probes on 512 samples: $hessian s (whole process $whole s)"
done
if python3 -c "import torch" 2>/dev/null; then
    python3 tools/make_hessian_fixtures.py --bench $models
fi
