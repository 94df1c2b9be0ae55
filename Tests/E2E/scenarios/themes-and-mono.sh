#!/usr/bin/env bash
# Colour themes: --theme mono draws with the terminal's default colours only (bold, dim, reverse,
# underline; no colour codes in the screen's escape sequences); t cycles dark (colours), light, and
# back to mono (colours gone again), naming each theme in the message line.
source "$(dirname "$0")/../lib.sh"

# sgr_parameters SESSION: every SGR parameter list (the N;N;N of ESC[N;N;Nm) on the screen, one a line.
sgr_parameters() { "${T[@]}" capture-pane -p -e -t "$1" | grep -oE $'\e\\[[0-9;]*m' | sed -E $'s/^\e\\[//; s/m$//'; }
# has_colour SESSION: some SGR sets a foreground or background colour (30-37, 38;..., 40-47, 48;...,
# 90-97, 100-107); 39 and 49 (the default colours) do not count.
has_colour() {
  sgr_parameters "$1" | tr ';' '\n' | grep -qxE '3[0-8]|4[0-8]|9[0-7]|10[0-7]'
}
# has_attribute SESSION N: some SGR parameter is N (1 bold, 7 reverse). Used on mono screens only,
# where no 38;5;N colour list can contribute a stray number.
has_attribute() { sgr_parameters "$1" | tr ';' '\n' | grep -qx "$2"; }
no_colour() { ! has_colour "$1" || { echo "      colour codes on a mono screen:"; sgr_parameters "$1" | sort | uniq -c | sed 's/^/      /'; return 1; }; }

start main interactive=no sample-models/cnn.onnx --theme mono
check "opens with --theme mono" wait_for main '● idle' 'acc 92\.85%'
check "mono: no colour codes on the screen" no_colour main
check "mono: reverse video (the selection, the status line)" has_attribute main 7
check "mono: bold" has_attribute main 1
keys main t
check "t: the dark theme" wait_for main '^theme dark *$'
check "dark: colour codes on the screen" has_colour main
keys main t
check "t: the light theme" wait_for main '^theme light *$'
check "light: colour codes on the screen" has_colour main
keys main t
check "t: back to mono" wait_for main '^theme mono *$'
check "mono again: no colour codes" no_colour main
quit_clean main
