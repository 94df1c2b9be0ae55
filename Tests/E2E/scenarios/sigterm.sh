#!/usr/bin/env bash
# q with an unsaved plan asks, n keeps the workbench open; then SIGTERM ends it (status 143) and the
# terminal is restored (canonical mode and echo, alternate screen left).
source "$(dirname "$0")/../lib.sh"

open_sample term
keys term -
keys term q
check "q with unsaved changes asks" wait_for term 'Unsaved changes\. Quit anyway\?'
keys term n
check "n keeps the workbench open (the question is gone)" wait_gone term 'Unsaved changes'
check "still running after n" wait_for term '● idle' 'Detail · '
pid="$(app_pid term)"
check "qscope process found" test -n "$pid"
kill -TERM "$pid"
check "SIGTERM ends it" wait_dead term
check "died of SIGTERM (status 143)" exit_status_is term 143
check "terminal restored after SIGTERM (icanon, echo)" restored term
check "alternate screen left after SIGTERM" alternate_screen_off term
