#!/usr/bin/env bash
# A two-input transformer without labels (the tiny BERT fixture with mean pooling and L2
# normalisation in the graph, int64 input_ids and attention_mask): the status line shows the
# cosine to FP32 (1 for the FP32 plan); the background Hessian uses the squared error to the FP32
# output and the detail pane says so; int2 on one layer lowers the cosine, live.
source "$(dirname "$0")/../lib.sh"

start main interactive=no Tests/Fixtures/transformers/tiny-bert.onnx --data Tests/Fixtures/transformers/tiny-text.npz
check "opens on the transformer with the FP32 cosine" wait_for main '● idle' 'cos 1\.00000'
# The table shortens the long Hugging Face names (the shared /encoder/encoder and the op go); the
# detail pane shows them whole.
layer='…/layer.0/intermediate/dense'
check "select the first feed-forward layer" select_layer main "$layer"
check "the detail pane shows its whole name" wait_for main 'Detail · /encoder/encoder/layer\.0/intermediate/dense/MatMul'

WAIT_SECONDS=120 check "its trace arrives and the detail pane names the loss" wait_for main 'loss +MSE to FP32 output'
keys main - - - - - - -
check "- seven times: the layer at int2, evaluated" wait_for main "$(layer_row "$layer" 2 int2)" '● idle'
cosine="$(grep -oE 'cos [0-9]+\.[0-9]+' <<<"$LAST" | head -1 | grep -oE '[0-9]+\.[0-9]+')"
check "the cosine to FP32 fell below 1 ($cosine)" less_than "$cosine" 1
quit_clean main
