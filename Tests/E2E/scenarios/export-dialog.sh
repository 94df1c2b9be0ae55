#!/usr/bin/env bash
# e: the export dialog on a HAWQ 3.5 bits/w plan. As ONNX QDQ to a typed path (qscope evaluates the
# written file to the accuracy on the screen), Tab to the plan format (the default path follows) and
# a plan file that `qscope eval --plan` reads, and an export into a missing directory (one error line).
source "$(dirname "$0")/../lib.sh"

open_sample main
keys main a
type_into main 3.5
# The allocation waits for the first Hessian traces, which take tens of seconds on a busy machine.
WAIT_SECONDS=180 check "a 3.5 loads a HAWQ plan" wait_for main 'HAWQ 3\.5 bits/w: 3\.[0-9]+ bits/w' '● idle'
check "the allocated plan's accuracy arrives" wait_for main '● idle' 'acc [0-9]+\.[0-9]+%' ' [23]\.[0-9]+ bits/w'
hawq_acc="$(accuracy)"
qdq="$WORK/cnn-hawq.qdq.onnx"
keys main e
check "e opens the export dialog with the default path next to the model" wait_for main 'Export plan' '▶ onnx-qdq' 'path   sample-models/cnn\.qdq\.onnx'
type_into main "$qdq"
check "the export reports the written file" wait_for main "wrote $qdq \\(onnx-qdq, [0-9,]+ bytes\\)"
check "the ONNX QDQ file exists" test -s "$qdq"
qdq_acc="$("$BIN" eval "$qdq" --data sample-models/fashion-mnist-test-2000.npz --json 2>/dev/null | grep -oE '"accuracy" *: *[0-9.]+' | grep -oE '[0-9.]+$')"
check "qscope loads the QDQ file and measures the screen's accuracy ($hawq_acc% vs $qdq_acc)" \
  awk -v a="$hawq_acc" -v b="$qdq_acc" 'BEGIN { exit !(a != "" && b != "" && (a - 100 * b < 0.006) && (100 * b - a < 0.006)) }'
keys main e Tab Tab Tab
check "Tab cycles to the plan format (the path follows)" wait_for main '▶ plan' 'path   sample-models/cnn\.qscope\.json'
type_into main "$WORK/hawq.qscope.json"
check "plan export written" wait_for main "wrote $WORK/hawq\\.qscope\\.json \\(plan"
check "qscope eval --plan reads the exported plan" \
  bash -c '"$1" eval sample-models/cnn.onnx --plan "$2" --json | grep -q "\"accuracy\""' _ "$BIN" "$WORK/hawq.qscope.json"
keys main e
type_into main "$WORK/missing/dir/x.onnx"
check "an export into a missing directory is one error line" wait_for main "cannot write: the directory '$WORK/missing/dir' does not exist"
quit_clean main
