#!/usr/bin/env bash
# Opening the sample CNN: the FP32 accuracy and the layer table, the Hessian analysis starting in
# the background, the key map (?) and its closing, then q with nothing to save quits at once and
# leaves the terminal as it found it (canonical mode and echo, main screen) with an empty stderr.
source "$(dirname "$0")/../lib.sh"

start main
check "opens on the sample CNN and shows the FP32 accuracy" wait_for main 'Layers' '● idle' 'acc 92\.85%' '/layer2/conv2/Conv'
# The Hessian analysis starts after the first accuracy; the status line counts its probes.
check "the Hessian analysis runs in the background (probes in the status line)" wait_for main 'traces [0-9]+/200 probes|tr [0-9]+/200'
keys main '?'
check "? shows the key map" wait_for main 'Keys' 'fewer weight bits' 'other keys close'
keys main Escape
check "Esc closes the key map (the Detail panel is back)" wait_for main 'Detail · /stem/stem\.0/Conv'
check "the key map is gone" wait_gone main 'other keys close'
keys main q
check "q quits at once when nothing changed" wait_dead main
check "exit status 0" exit_status_is main 0
check "terminal restored after q (icanon, echo)" restored main
check "alternate screen left after q" alternate_screen_off main
check "nothing written to stderr" stderr_empty main
