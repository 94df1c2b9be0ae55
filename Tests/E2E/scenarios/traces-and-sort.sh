#!/usr/bin/env bash
# The Hessian traces: while the analysis computes in the background, keys answer and an edit is
# evaluated; the trace and Ω columns fill in for every layer; S sorts by trace and cycles back to
# model order; the Detail panel shows the selected layer's trace with its standard error.
source "$(dirname "$0")/../lib.sh"

open_sample main
check "select /layer2/conv2/Conv" select_layer main /layer2/conv2/Conv
# "traces N/200 probes" (compact: "tr N/200") is in the status line for as long as the analysis
# computes: minutes, against the few seconds the edits below take.
computing='traces [0-9]+/200 probes|tr [0-9]+/200'
check "the Hessian analysis is computing" wait_for main "$computing"
keys main -
check "keys respond while the traces compute (- lowers the layer to 16 bits)" \
  wait_for main "$(layer_row /layer2/conv2/Conv 16 '')" "$computing"
keys main - - - - - -
check "the edit is evaluated while the traces compute (int2)" \
  wait_for main "$(layer_row /layer2/conv2/Conv 2 int2)" '● idle' "$computing"
keys main u
check "u back to int3 while the traces compute" wait_for main "$(layer_row /layer2/conv2/Conv 3 'int3 ')" '● idle' "$computing"
# traces_filled: every one of the 9 layer rows shows a trace (a number, six bar cells, then Ω).
traces_filled() {
  [ "$(grep -cE '^│.[ ]+[0-9]+ .* -?[0-9][0-9.e-]* [ ▏▎▍▌▋▊▉█]{6} +-?[0-9][0-9.e-]*│$' <<<"$(screen main)")" -eq 9 ]
}
check "the trace and Ω columns fill in for every layer" wait_until main 600 traces_filled
keys main S
check "S sorts the layers by trace (header says so)" wait_for main 'Layers · trace ↓'
keys main S S S
check "S cycles back to model order" wait_for main 'Layers · model order'
check "the detail pane shows the selected layer's trace ± SE" wait_for main 'Detail · /layer2/conv2/Conv' '^│trace +-?[0-9][0-9.e-]* ± [0-9][0-9.e-]* \('
quit_clean main
