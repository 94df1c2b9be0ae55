#!/usr/bin/env bash
# c: the Compare view of one layer at its bit-width (every quantizer with the others at FP32); its
# rows fill in, Enter applies a row to the layer (undoable) and marks it, lut is Fisher-weighted,
# Esc closes it; x toggles SplitQuant around the layer's spec; q with the unsaved plan asks.
source "$(dirname "$0")/../lib.sh"

open_sample cmp
check "select the layer to compare" select_layer cmp /layer2/conv2/Conv
keys cmp - - - - -
check "- five times: the layer at int4" wait_for cmp "$(layer_row /layer2/conv2/Conv 4 'int4 ')" '● idle'
keys cmp c
check "c opens the Compare view at 4 bits" wait_for cmp 'Compare · /layer2/conv2/Conv · 4 bits' 'quantizer \(others FP32\)'
check "rows fill in (int4:clip=mse computed)" wait_for cmp 'int4:clip=mse +[0-9]+\.[0-9]{3} +[0-9.]+ +[0-9.]+ +[0-9.-]+ +[0-9]+\.[0-9]{2}'
keys cmp j Enter
check "Enter applies int4:clip=mse to the layer" wait_for cmp "$(layer_row /layer2/conv2/Conv 4 int4:clip)" '● idle'
check "the Compare view marks the applied row" wait_for cmp '▶● int4:clip=mse'
check "all rows computed, lut Fisher-weighted" wait_for cmp 'Compare · /layer2/conv2/Conv · 4 bits · done' 'lut4 \(Fisher\)'
keys cmp Escape
check "Esc closes the Compare view" wait_for cmp 'Detail · /layer2/conv2/Conv'
keys cmp x
check "x splits the layer (split3)" wait_for cmp "$(layer_row /layer2/conv2/Conv 4 split3:)" '● idle'
keys cmp x
check "x again restores the inner spec" wait_for cmp "$(layer_row /layer2/conv2/Conv 4 int4:clip)" '● idle'
keys cmp q
check "q asks (unsaved)" wait_for cmp 'Unsaved changes\. Quit anyway\?'
keys cmp y
check "y quits" wait_dead cmp
check "exit status 0" exit_status_is cmp 0
check "nothing on stderr" stderr_empty cmp
