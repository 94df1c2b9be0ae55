#!/usr/bin/env bash
# Undo and redo of a bit edit: u takes the layer back from int2 to int3 and the accuracy back up;
# Ctrl-R redoes the step to int2 and gives the 2-bit accuracy again (the same plan evaluates the same).
source "$(dirname "$0")/../lib.sh"

open_sample main
check "select /layer2/conv2/Conv" select_layer main /layer2/conv2/Conv
keys main - - - - - - -
check "- seven times: the layer at int2, evaluated" wait_for main "$(layer_row /layer2/conv2/Conv 2 int2)" '● idle'
low="$(accuracy)"
keys main u
check "u undoes to int3" wait_for main "$(layer_row /layer2/conv2/Conv 3 'int3 ')" '● idle'
undone="$(accuracy)"
check "accuracy after undo ($undone%) is at least the 2-bit one ($low%)" at_least "$undone" "$low"
keys main C-r
check "Ctrl-R redoes to int2" wait_for main "$(layer_row /layer2/conv2/Conv 2 int2)" '● idle'
redone="$(accuracy)"
check "accuracy after redo ($redone%) is the 2-bit one ($low%)" equal_numbers "$redone" "$low"
quit_clean main
