#!/usr/bin/env bash
# Bad input: a missing model, a file that is not ONNX, an unknown theme, a plan that is not JSON and
# a plan naming a layer the model lacks each end qscope at once with status 1 and one line on stderr,
# the terminal untouched. In the running workbench, o (open a plan) with a missing or malformed file
# is one error line and the workbench carries on with its plan unchanged.
source "$(dirname "$0")/../lib.sh"

printf '{' >"$WORK/truncated.qscope.json"
printf '{"format":"qscope-plan","version":1,"layers":{"/nope":{"weights":"int3"}}}' >"$WORK/unknown-layer.qscope.json"

stderr_is() {  # stderr_is SESSION TEXT: the session's stderr is exactly that one line
  [ "$(wc -l <"$WORK/$1.stderr")" -eq 1 ] && [ "$(cat "$WORK/$1.stderr")" = "$2" ] ||
    { sed 's/^/      stderr| /' "$WORK/$1.stderr"; return 1; }
}
# rejects SESSION MESSAGE qscope-arguments...: qscope with these arguments ends with status 1,
# prints `qscope: MESSAGE` as its only stderr line, and leaves the terminal as it was.
rejects() {
  local session="$1" message="$2"; shift 2
  start "$session" interactive=no "$@"
  check "$session: ends at once" wait_dead "$session"
  check "$session: exit status 1" exit_status_is "$session" 1
  check "$session: one stderr line: qscope: $message" stderr_is "$session" "qscope: $message"
  check "$session: terminal restored (icanon, echo)" restored "$session"
  check "$session: alternate screen off" alternate_screen_off "$session"
}
rejects missing-model "$WORK/none.onnx: no such file" "$WORK/none.onnx"
rejects not-onnx "README.md: not a valid ONNX model: the protobuf cannot be decoded (truncated or corrupt file)" README.md
rejects unknown-theme "nosuch: no such theme (themes: dark, light, mono)" sample-models/cnn.onnx --theme nosuch
rejects plan-not-json "$WORK/truncated.qscope.json: is not valid JSON" sample-models/cnn.onnx --plan "$WORK/truncated.qscope.json"
rejects plan-unknown-layer "$WORK/unknown-layer.qscope.json: the plan's one layer is not in the model: the plan has '/nope', the model has 9 layers, e.g. /stem/stem.0/Conv" \
  sample-models/cnn.onnx --plan "$WORK/unknown-layer.qscope.json"

open_sample main
keys main o
check "o asks for a plan path with the default" wait_for main 'Open plan: sample-models/cnn\.qscope\.json'
type_into main "$WORK/none.qscope.json"
check "o with a missing file is one error line" wait_for main "^$WORK/none\\.qscope\\.json: no such file *\$"
keys main o
type_into main "$WORK/truncated.qscope.json"
check "o with a malformed file is one error line" wait_for main "^$WORK/truncated\\.qscope\\.json: is not valid JSON *\$"
check "the plan is unchanged (all float, FP32 accuracy, not marked modified)" \
  wait_for main '● idle' 'acc 92\.85%' '32\.00 bits/w' 'plan sample-models/cnn\.qscope\.json +\? help'
# Nothing changed, so q must not ask.
keys main q
check "q quits at once (nothing to save)" wait_dead main
check "exit status 0" exit_status_is main 0
check "nothing written to stderr" stderr_empty main
