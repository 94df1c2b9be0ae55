#!/usr/bin/env bash
# T: the Trade-off pane (accuracy against size, axes with units, legend), where the uniform 8-, 6-
# and 4-bit plans appear as points once evaluated; T again closes it and the Detail panel is back.
source "$(dirname "$0")/../lib.sh"

open_sample main
keys main T
check "T opens the Trade-off pane (axes with units, legend)" wait_for main 'Trade-off · accuracy vs size' 'accuracy % ↑' 'MB' '8642 uniform int'
# uniform_points: the plot rows (after the y-axis) show the 8-, 6- and 4-bit digits.
uniform_points() {
  local plot; plot="$(screen main | grep -E '^│[ 0-9.%]{7}│' | sed -E 's/^│[^│]*│//')"
  grep -q 8 <<<"$plot" && grep -q 6 <<<"$plot" && grep -q 4 <<<"$plot"
}
check "the uniform 8/6/4-bit points appear in the plot" wait_until main 120 uniform_points
keys main T
check "T closes it (the Detail panel is back)" wait_for main 'Detail · /stem/stem\.0/Conv'
quit_clean main
