#!/usr/bin/env bash
# A storm of keys sent in bursts, faster than the engine evaluates: moves clamp at the last row, bit
# changes clamp at 2 bits, every intermediate plan is superseded, and the screen settles on the plan
# the keys describe; 200 u undo every edit (the FP32 accuracy again) and 200 Ctrl-R redo them all (the
# same accuracy as before); the workbench still quits cleanly.
source "$(dirname "$0")/../lib.sh"

open_sample main
fp32="$(accuracy)"
repeat() { local n="$1" key="$2" i; for ((i = 0; i < n; i++)); do printf '%s\n' "$key"; done; }
burst() { local session="$1" n="$2" key="$3"; mapfile -t list < <(repeat "$n" "$key"); keys "$session" "${list[@]}"; }
burst main 200 j
burst main 50 -
burst main 3 +
check "the storm settles: the last layer at int5, evaluated" wait_for main "$(layer_row /fc/Gemm 5 int5)" '● idle' 'Detail · /fc/Gemm'
stormed="$(accuracy)"
check "its accuracy ($stormed%) is below FP32 ($fp32%)" less_than "$stormed" "$fp32"
burst main 200 u
check "200 u: back to float, the FP32 accuracy" wait_for main "$(layer_row /fc/Gemm 32 float)" '● idle' 'acc 92\.85%' '32\.00 bits/w'
burst main 200 C-r
check "200 Ctrl-R: int5 again" wait_for main "$(layer_row /fc/Gemm 5 int5)" '● idle'
redone="$(accuracy)"
check "redone accuracy ($redone%) equals the stormed one ($stormed%)" equal_numbers "$redone" "$stormed"
quit_clean main
