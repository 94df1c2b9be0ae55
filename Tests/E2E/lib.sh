# Shared library of the workbench's end-to-end scenarios (Tests/E2E/scenarios/*.sh); sourced, not run.
#
# Sourcing it gives the scenario a private world: a tmux server of its own (`tmux -L <unique> -f
# /dev/null`, so no user configuration and no other scenario's sessions), a fresh temporary
# directory ($WORK), and an EXIT trap that kills that server (and with it every qscope it started)
# and removes the directory, whether the scenario passes, fails or is killed.
#
# A scenario is a list of `check "what" command...` lines. The first check that fails ends the
# scenario: it prints `FAIL  what`, writes `what` to $E2E_REASON_FILE (set by Tests/E2E/run.sh, which
# prints it as the reason) and exits 1. Later checks would only report the same breakage again.
#
# Nothing here sleeps to give the app time: every wait polls the screen (or a file, or the pane's
# state) until what it wants is there, sleeping only between polls, and gives up after a timeout
# (WAIT_SECONDS, 60 s by default).

set -uo pipefail
E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$E2E_ROOT" || exit 1
# The app draws box and block characters and the checks match them (●, ▶, █): every tool that reads
# or writes them (tmux, grep, awk, the app itself) runs in a UTF-8 locale.
export LC_ALL=C.UTF-8

# The binary under test; a relative path is relative to the repository root.
BIN="${QSCOPE_BIN:-.build/release/qscope}"
case "$BIN" in /*) ;; *) BIN="$E2E_ROOT/$BIN" ;; esac
SCENARIO="$(basename "$0" .sh)"

# A short directory name: paths under it appear on screen in full (status and error lines are 120
# columns wide) and the checks match them.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/qe2e.XXXXXX")"
SOCKET="qscope-e2e-$SCENARIO-$$-$RANDOM"
T=(tmux -L "$SOCKET" -f /dev/null)
SOCKET_PATH=""
# tmux leaves its socket file behind when the server is killed; it is removed too.
e2e_cleanup() {
  "${T[@]}" kill-server >/dev/null 2>&1
  [ -n "$SOCKET_PATH" ] && rm -f "$SOCKET_PATH"
  rm -rf "$WORK"
}
trap e2e_cleanup EXIT
# A signal (the runner's timeout, Ctrl-C) ends the scenario through the EXIT trap as well.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [ ! -x "$BIN" ]; then echo "FAIL  $BIN not built (swift build -c release)"; exit 1; fi
if ! command -v tmux >/dev/null; then echo "FAIL  tmux missing (tools/install-test-deps.sh)"; exit 1; fi

# The server starts with one idle session, so that remain-on-exit is set before any app runs: a pane
# whose program has ended then stays, and its exit can be observed (#{pane_dead}) however fast it is.
"${T[@]}" new-session -d -s e2e-holder -c "$E2E_ROOT" cat || { echo "FAIL  cannot start tmux"; exit 1; }
"${T[@]}" set-option -g remain-on-exit on >/dev/null
SOCKET_PATH="$("${T[@]}" display -p '#{socket_path}')"

# --- checks ------------------------------------------------------------------------------------------

# check "description" command...: run the command; on failure end the scenario with that description.
check() {
  local what="$1"; shift
  if "$@"; then
    echo "ok    $what"
  else
    echo "FAIL  $what"
    if [ -n "${E2E_REASON_FILE:-}" ]; then printf '%s\n' "$what" >"$E2E_REASON_FILE"; fi
    exit 1
  fi
}
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 < b + 0) }'; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 >= b + 0) }'; }
equal_numbers() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 == b + 0) }'; }

# --- the screen --------------------------------------------------------------------------------------

screen() { "${T[@]}" capture-pane -p -t "$1" 2>/dev/null; }

# wait_for SESSION REGEX...: every regex (grep -E) must match the same capture, and the screen must be
# settled: two captures 50 ms apart are identical (tmux may show a frame half-written: a new table row
# under an old status line). The matching capture is kept in $LAST for reading numbers from it. On a
# timeout it prints what it waited for and the screen.
LAST=""
wait_for() {
  local session="$1"; shift
  local deadline=$((SECONDS + ${WAIT_SECONDS:-60}))
  while [ $SECONDS -lt $deadline ]; do
    local text all=1 pattern
    text="$(screen "$session")"
    for pattern in "$@"; do grep -qE -- "$pattern" <<<"$text" || { all=0; break; }; done
    if [ $all -eq 1 ]; then
      sleep 0.05
      if [ "$(screen "$session")" = "$text" ]; then LAST="$text"; return 0; fi
      continue
    fi
    sleep 0.05
  done
  echo "      timed out waiting for: $*"; screen "$session" | sed 's/^/      | /'
  return 1
}

# wait_gone SESSION REGEX: the regex no longer matches the screen (an overlay or a question closed).
wait_gone() {
  local session="$1" pattern="$2"
  local deadline=$((SECONDS + ${WAIT_SECONDS:-60}))
  while [ $SECONDS -lt $deadline ]; do
    screen "$session" | grep -qE -- "$pattern" || return 0
    sleep 0.05
  done
  echo "      still on the screen after ${WAIT_SECONDS:-60} s: $pattern"; screen "$session" | sed 's/^/      | /'
  return 1
}

# wait_until SESSION SECONDS COMMAND...: poll a predicate (every 0.2 s) until it holds; on a
# timeout print SESSION's screen.
wait_until() {
  local session="$1" limit="$2"; shift 2
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt $deadline ]; do "$@" && return 0; sleep 0.2; done
  echo "      not true after $limit s: $*"; screen "$session" | sed 's/^/      | /'
  return 1
}

# accuracy: the accuracy (percent, e.g. 92.85) in the status line of the last wait_for.
accuracy() { grep -oE 'acc [0-9]+\.[0-9]+%' <<<"$LAST" | head -1 | grep -oE '[0-9]+\.[0-9]+'; }
# bits_per_weight: the "N.NN bits/w" of the last wait_for's status line.
bits_per_weight() { grep -oE '[0-9]+\.[0-9]+ bits/w' <<<"$LAST" | tail -1; }

# layer_row NAME BITS SPEC: the regex of the selected (▶) row of NAME at BITS bits with a quantizer
# spec that starts with SPEC, e.g. `layer_row /layer2/conv2/Conv 3 'int3 '`.
layer_row() { printf '▶ +[0-9]+ %s +[A-Za-z]+ +[0-9,]+ +%s %s' "$1" "$2" "$3"; }

# select_layer SESSION NAME: from the first row, j until NAME is selected (at most 30 rows).
select_layer() {
  local session="$1" name="$2"
  "${T[@]}" send-keys -t "$session" g
  for _ in $(seq 30); do
    wait_for "$session" "Detail · " >/dev/null || return 1
    grep -qE -- "▶ +[0-9]+ $name " <<<"$LAST" && return 0
    local before; before="$(grep -oE '▶ +[0-9]+' <<<"$LAST")"
    "${T[@]}" send-keys -t "$session" j
    local deadline=$((SECONDS + 10))
    while [ "$(screen "$session" | grep -oE '▶ +[0-9]+')" = "$before" ] && [ $SECONDS -lt $deadline ]; do sleep 0.02; done
  done
  echo "      $name never selected"; screen "$session" | sed 's/^/      | /'
  return 1
}

# type_into SESSION TEXT: clear a prompt's line (Ctrl-U), type TEXT literally and press Enter.
type_into() {
  "${T[@]}" send-keys -t "$1" C-u
  "${T[@]}" send-keys -t "$1" -l "$2"
  "${T[@]}" send-keys -t "$1" Enter
}

keys() { local session="$1"; shift; "${T[@]}" send-keys -t "$session" "$@"; }

# --- the app's process ---------------------------------------------------------------------------------

# start SESSION [SWIFT_BACKTRACE] [qscope arguments...]: run qscope (default arguments: the sample
# CNN) in a 120x40 window, inside `sh`, which records once qscope has gone its exit status
# ($WORK/SESSION.status), the terminal modes ($WORK/SESSION.stty, from `stty -a`) and keeps its
# stderr ($WORK/SESSION.stderr). The wrapper traps SIGINT so that Ctrl-C, sent to the whole
# foreground group, leaves it alive to record the status (a caught signal is reset to the default
# action in the program it runs). The pane's process is that wrapper (exec), so qscope is its child.
start() {
  local session="$1" backtrace="${2:-interactive=no}"
  shift; [ $# -gt 0 ] && shift
  [ $# -gt 0 ] || set -- sample-models/cnn.onnx
  local command arg
  command="$(sh_quote "$BIN")"
  for arg in "$@"; do command="$command $(sh_quote "$arg")"; done
  {
    echo 'trap : INT'
    echo "$command 2>$(sh_quote "$WORK/$session.stderr")"
    echo "echo \$? >$(sh_quote "$WORK/$session.status")"
    echo "stty -a >$(sh_quote "$WORK/$session.stty")"
  } >"$WORK/$session.run"
  "${T[@]}" new-session -d -s "$session" -x 120 -y 40 -c "${START_DIR:-$E2E_ROOT}" \
    -e LC_ALL=C.UTF-8 -e SWIFT_BACKTRACE="$backtrace" "exec sh $(sh_quote "$WORK/$session.run")"
}
sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# app_pid SESSION: the pid of qscope (the child of the pane's wrapper shell), empty when none.
app_pid() { pgrep -P "$("${T[@]}" display -p -t "$1" '#{pane_pid}')" | head -1; }

# wait_dead SESSION: the pane's program (the wrapper) has exited.
wait_dead() {
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    [ "$("${T[@]}" display -p -t "$1" '#{pane_dead}' 2>/dev/null)" = "1" ] && return 0
    sleep 0.05
  done
  echo "      still running after 30 s"; screen "$1" | sed 's/^/      | /'
  return 1
}
exit_status_is() { [ "$(cat "$WORK/$1.status" 2>/dev/null)" = "$2" ] || { echo "      exit status: $(cat "$WORK/$1.status" 2>/dev/null)"; return 1; }; }
# restored SESSION: the terminal modes recorded after qscope exited are canonical with echo.
restored() {
  local modes="$WORK/$1.stty"
  [ -s "$modes" ] && grep -qE '(^| )icanon( |$)' "$modes" && grep -qE '(^| )echo( |$)' "$modes"
}
alternate_screen_off() { [ "$("${T[@]}" display -p -t "$1" '#{alternate_on}')" = "0" ]; }
stderr_empty() { [ ! -s "$WORK/$1.stderr" ] || { sed 's/^/      stderr| /' "$WORK/$1.stderr" | head -20; return 1; }; }

# open_sample SESSION: start qscope on the sample CNN and wait until its FP32 accuracy is on screen.
open_sample() {
  start "$1"
  check "$1: opens on the sample CNN with the FP32 accuracy" wait_for "$1" '● idle' 'acc 92\.85%'
}

# quit_clean SESSION: q (answering y if it asks about an unsaved plan), then the exit is clean:
# status 0, terminal modes restored, alternate screen left, nothing on stderr.
quit_clean() {
  local session="$1"
  keys "$session" q
  check "$session: q quits (y if it asks about unsaved changes)" quit_answering_yes "$session"
  check "$session: exit status 0" exit_status_is "$session" 0
  check "$session: terminal restored (icanon, echo)" restored "$session"
  check "$session: alternate screen left" alternate_screen_off "$session"
  check "$session: nothing written to stderr" stderr_empty "$session"
}
# quit_answering_yes SESSION: after q, wait until the program has ended, pressing y once if the
# unsaved-changes question shows first.
quit_answering_yes() {
  local session="$1" answered=0
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    [ "$("${T[@]}" display -p -t "$session" '#{pane_dead}' 2>/dev/null)" = "1" ] && return 0
    if [ $answered -eq 0 ] && screen "$session" | grep -qE 'Unsaved changes\. Quit anyway\?'; then
      keys "$session" y; answered=1
    fi
    sleep 0.05
  done
  echo "      still running 30 s after q"; screen "$session" | sed 's/^/      | /'
  return 1
}
