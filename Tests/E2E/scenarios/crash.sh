#!/usr/bin/env bash
# A crash (SIGSEGV): the C shim's guards call endwin and re-raise, so the process dies of the signal
# (status 139) and the terminal is restored. Swift's backtracer is switched off here: the test is
# about the shim's guard, and the backtracer takes its time on a signal sent from outside.
source "$(dirname "$0")/../lib.sh"

start crash enable=no
check "opens on the sample CNN" wait_for crash '● idle' 'acc 92\.85%'
pid="$(app_pid crash)"
check "qscope process found" test -n "$pid"
kill -SEGV "$pid"
check "SIGSEGV ends it" wait_dead crash
check "died of SIGSEGV (status 139)" exit_status_is crash 139
check "terminal restored after a crash (icanon, echo)" restored crash
check "alternate screen left after a crash" alternate_screen_off crash
