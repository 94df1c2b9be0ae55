#!/usr/bin/env bash
# Editing one layer's bits: j moves the selection and the Detail panel follows; seven presses of -
# take the layer from float to int2 (16 8 6 5 4 3 2), the plan is re-evaluated and the accuracy
# falls; the status line shows the change against FP32 and the sizes; + raises it again.
source "$(dirname "$0")/../lib.sh"

start main
check "opens with the FP32 accuracy" wait_for main '● idle' 'acc 92\.85%'
fp32="$(accuracy)"
check "j selects a layer" select_layer main /layer2/conv2/Conv
check "the detail pane follows the selection" wait_for main 'Detail · /layer2/conv2/Conv'
keys main - - - - - - -
check "- seven times: the layer at int2, evaluated" wait_for main "$(layer_row /layer2/conv2/Conv 2 int2)" '● idle'
low="$(accuracy)"
check "accuracy fell at 2 bits ($fp32% -> $low%)" less_than "$low" "$fp32"
# While the traces are computing the status line is compact (Δ without "vs FP32", sizes as a/b MB).
check "status shows Δ vs FP32 and sizes" wait_for main 'Δ −[0-9.]+ pp' '(MB weights · [0-9.]+ MB w/ meta|[0-9.]+/[0-9.]+ MB)' 'bits/w'
keys main +
check "+ raises the layer to int3, evaluated" wait_for main "$(layer_row /layer2/conv2/Conv 3 'int3 ')" '● idle'
raised="$(accuracy)"
check "accuracy at 3 bits ($raised%) is at least the 2-bit one" at_least "$raised" "$low"
quit_clean main
