#!/usr/bin/env bash
# Ctrl-C ends the workbench (status 130) and the terminal is restored (canonical mode and echo,
# alternate screen left).
source "$(dirname "$0")/../lib.sh"

open_sample intr
keys intr C-c
check "Ctrl-C ends it" wait_dead intr
check "died of SIGINT (status 130)" exit_status_is intr 130
check "terminal restored after Ctrl-C (icanon, echo)" restored intr
check "alternate screen left after Ctrl-C" alternate_screen_off intr
