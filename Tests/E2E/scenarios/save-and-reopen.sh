#!/usr/bin/env bash
# s: saving the plan through the prompt (the default path is next to the model; a typed path is
# used), the file's content, `qscope eval --plan` agreeing with the screen's accuracy, q quitting
# without a question once saved with a clean exit; then opening the saved plan with --plan shows
# the same layer bits and accuracy, also with --plan alone from another folder (the plan records
# its model and data relative to itself).
source "$(dirname "$0")/../lib.sh"

open_sample main
check "select /layer2/conv2/Conv" select_layer main /layer2/conv2/Conv
keys main - - - - - -
check "- six times: the layer at int3, evaluated" wait_for main "$(layer_row /layer2/conv2/Conv 3 'int3 ')" '● idle'
edited="$(accuracy)"
plan="$WORK/edited.qscope.json"
keys main s
check "s asks for a path with the default" wait_for main 'Save plan to: sample-models/cnn\.qscope\.json'
type_into main "$plan"
check "saved message" wait_for main "saved $plan"
# The plan file with whitespace removed: format, version, the edited layer at int3, the other 8 float.
plan_file_is_expected() {
  local c; c="$(tr -d ' \n\t' <"$plan")"
  [[ "$c" == *'"format":"qscope-plan"'* ]] && [[ "$c" == *'"version":1'* ]] &&
  [[ "$c" == *'"/layer2/conv2/Conv":{"weights":"int3"}'* ]] &&
  [ "$(grep -o '{"weights":"float"}' <<<"$c" | wc -l)" -eq 8 ] &&
  [ "$(grep -o '"weights":' <<<"$c" | wc -l)" -eq 9 ]
}
check "plan file: format, version, the layer at int3, others float" plan_file_is_expected
headless="$("$BIN" eval sample-models/cnn.onnx --plan "$plan" --json | sed -n 's/.*"accuracy" *: *\([0-9.eE+-]*\).*/\1/p' | awk '{ printf "%.2f", 100 * $1 }')"
check "qscope eval --plan gives the screen's accuracy ($headless% vs $edited%)" test "$headless" = "$edited"
keys main q
check "q quits (plan saved, no question)" wait_dead main
check "exit status 0" exit_status_is main 0
check "terminal restored after q (icanon, echo)" restored main
check "alternate screen left after q" alternate_screen_off main
check "nothing written to stderr" stderr_empty main

start reopened interactive=no sample-models/cnn.onnx --plan "$plan"
check "--plan opens the saved plan (its path in the header)" wait_for reopened "plan $plan" '● idle' 'acc [0-9]+\.[0-9]+%'
check "select /layer2/conv2/Conv in the reopened plan" select_layer reopened /layer2/conv2/Conv
check "the reopened plan has the layer at int3 and the saved accuracy ($edited%)" \
  wait_for reopened "$(layer_row /layer2/conv2/Conv 3 'int3 ')" '● idle' "acc ${edited//./\\.}%"
quit_clean reopened

elsewhere_accuracy="$(cd "$WORK" && "$BIN" eval --plan "$plan" --json | sed -n 's/.*"accuracy" *: *\([0-9.eE+-]*\).*/\1/p' | awk '{ printf "%.2f", 100 * $1 }')"
check "eval --plan alone from another folder gives the same accuracy ($elsewhere_accuracy% vs $edited%)" test "$elsewhere_accuracy" = "$edited"
START_DIR="$WORK" start elsewhere interactive=no --plan "$plan"
check "--plan alone from another folder opens the plan's model with its data" \
  wait_for elsewhere 'plan edited\.qscope\.json' 'sample-models/cnn\.onnx' '● idle' "acc ${edited//./\\.}%"
quit_clean elsewhere
