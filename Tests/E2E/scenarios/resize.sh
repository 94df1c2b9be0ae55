#!/usr/bin/env bash
# Resizing the terminal: 120x40 -> 80x24 re-lays out the screen in 80 columns, 50x12 (below the
# 60x16 minimum) shows a notice, and back at 120x40 the screen is whole again with the selection kept.
source "$(dirname "$0")/../lib.sh"

open_sample main
check "select /layer2/conv2/Conv" select_layer main /layer2/conv2/Conv
"${T[@]}" resize-window -t main -x 80 -y 24
check "resize to 80x24 re-lays out the screen" wait_for main '^┌ Layers[^─]* ─+┐$' '● idle'
# The second line (the Layers frame's top) is 80 characters wide plus the newline.
check "80x24 lines are 80 columns" test "$(head -2 <<<"$LAST" | tail -1 | wc -m)" -eq 81
"${T[@]}" resize-window -t main -x 50 -y 12
check "below 60x16 a notice" wait_for main 'terminal too small' '50x12, need 60x16'
# Keys that edit or move wait while nothing can be drawn: g + + must not change layer 0 unseen.
keys main g + + x
sleep 0.5
"${T[@]}" resize-window -t main -x 120 -y 40
check "back to 120x40" wait_for main 'Detail · /layer2/conv2/Conv' '● idle'
check "the keys typed below the minimum changed nothing (no unsaved mark, layer 0 still float)" \
  wait_for main ' +0 /stem/stem\.0/Conv +Conv +[0-9,]+ +32 float ' '● idle'
check "no unsaved mark" bash -c '! grep -q "\[+\]" <<<"$0"' "$LAST"
quit_clean main
