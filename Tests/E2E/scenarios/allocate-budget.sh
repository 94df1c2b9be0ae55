#!/usr/bin/env bash
# a: HAWQ allocation for a typed budget, from the Hessian traces streamed so far (it waits for the
# first ones), as one undoable edit. A budget that is not a number is one error line; 3.5 bits/w
# loads a plan with its predicted size, its accuracy arrives, and one u restores the plan before.
source "$(dirname "$0")/../lib.sh"

open_sample main
check "select /layer2/conv2/Conv" select_layer main /layer2/conv2/Conv
keys main - - - - - -
check "- six times: the layer at int3, evaluated" wait_for main "$(layer_row /layer2/conv2/Conv 3 'int3 ')" '● idle'
bits_before="$(bits_per_weight)"
keys main a
check "a asks for a budget" wait_for main 'Allocate for budget \(bits/w, or MB\): '
type_into main abc
check "a bad budget is one error line" wait_for main "budget 'abc' is not a number"
keys main a
type_into main 3.5
# The allocation waits for the first Hessian traces, which take tens of seconds on a busy machine.
WAIT_SECONDS=180 check "a 3.5: the HAWQ plan is loaded with its predicted size (from N probes)" \
  wait_for main 'HAWQ 3\.5 bits/w: 3\.[0-9]+ bits/w, 0\.[0-9]+ MB w/ meta predicted \([0-9]+ probes' '● idle'
check "the allocated plan's accuracy arrives (≤ 3.5 bits/w in the status line)" wait_for main '● idle' 'acc [0-9]+\.[0-9]+%' ' [23]\.[0-9]+ bits/w'
keys main u
check "one u restores the plan before the allocation ($bits_before)" \
  wait_for main "$(layer_row /layer2/conv2/Conv 3 'int3 ')" '● idle' "$bits_before"
quit_clean main
