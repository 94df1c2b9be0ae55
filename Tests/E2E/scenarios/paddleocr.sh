#!/usr/bin/env bash
# A real pretrained model from another exporter: PaddleOCR's text-direction classifier as
# paddle2onnx wrote it (opset 11: HardSigmoid, BatchNormalization folded, unnamed Conv@N nodes), on 32
# rendered text lines with labels. It opens with the labelled accuracy, its layers are named after
# their weights, and int2 on the first layer is evaluated live.
source "$(dirname "$0")/../lib.sh"

fixture=Tests/Fixtures/exporters/paddleocr
start main interactive=no "$fixture/ch_ppocr_mobile_v2.0_cls_infer.onnx" --data "$fixture/cls-48x192.npz"
check "opens with the labelled FP32 accuracy (100% on the 32 lines)" wait_for main '● idle' 'acc 100\.00%'
check "paddle2onnx's Conv@0 is named after its weight" wait_for main '▶ +0 conv1_weights +Conv '
keys main - - - - - - -
check "- seven times: the first layer at int2, evaluated" wait_for main "$(layer_row conv1_weights 2 int2)" '● idle'
check "the plan is marked unsaved" wait_for main '\[\+\]'
quit_clean main
