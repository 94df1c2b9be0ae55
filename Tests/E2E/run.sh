#!/usr/bin/env bash
# End-to-end tests of the workbench: drives the real release binary in tmux, one scenario at a time.
#
#   Tests/E2E/run.sh                        every scenario in Tests/E2E/scenarios/ (run by tools/test.sh)
#   Tests/E2E/run.sh resize compare-view    only these
#   Tests/E2E/run.sh -v ...                 also print the checks of scenarios that pass
#   QSCOPE_BIN=path/to/qscope Tests/E2E/run.sh   (default .build/release/qscope, after `swift build -c release`)
#
# Each scenario is its own process with its own tmux server and temporary directory (Tests/E2E/lib.sh),
# so a failure, a hang or a crash in one leaves the next untouched. Scenarios run one after another:
# each one starts qscope, whose engine uses every core. Per scenario one line, `PASS name [time]` or
# `FAIL name: the first check that failed [time]` followed by that scenario's output (its checks and
# the screen it was waiting on); the last line is `N passed, N failed` (CI reads it), and the exit
# status is 1 when any scenario failed. A scenario that runs longer than E2E_SCENARIO_TIMEOUT seconds
# (default 900) is stopped and fails.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export LC_ALL=C.UTF-8
SCENARIOS_DIR=Tests/E2E/scenarios

verbose=0
if [ "${1:-}" = "-v" ]; then verbose=1; shift; fi

BIN="${QSCOPE_BIN:-.build/release/qscope}"
if [ ! -x "$BIN" ]; then echo "e2e: $BIN not built (swift build -c release)"; echo "0 passed, 1 failed"; exit 1; fi
if ! command -v tmux >/dev/null; then echo "e2e: tmux missing (tools/install-test-deps.sh)"; echo "0 passed, 1 failed"; exit 1; fi
export QSCOPE_BIN="$BIN"

scripts=()
if [ $# -eq 0 ]; then
  for script in "$SCENARIOS_DIR"/*.sh; do scripts+=("$script"); done
else
  for name in "$@"; do
    script="$SCENARIOS_DIR/${name%.sh}.sh"
    if [ ! -f "$script" ]; then echo "e2e: no scenario $script"; echo "0 passed, 1 failed"; exit 1; fi
    scripts+=("$script")
  done
fi

RESULTS="$(mktemp -d "${TMPDIR:-/tmp}/qscope-e2e-run.XXXXXX")"
trap 'rm -rf "$RESULTS"' EXIT
passed=0
failed=0
suite_started=$(date +%s%N)
seconds_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f s", (b - a) / 1e9 }'; }

for script in "${scripts[@]}"; do
  name="$(basename "$script" .sh)"
  log="$RESULTS/$name.log"
  reason_file="$RESULTS/$name.reason"
  started=$(date +%s%N)
  E2E_REASON_FILE="$reason_file" timeout -k 10 "${E2E_SCENARIO_TIMEOUT:-900}" bash "$script" >"$log" 2>&1
  status=$?
  took="$(seconds_since "$started")"
  if [ $status -eq 0 ]; then
    passed=$((passed + 1))
    echo "PASS $name [$took]"
    if [ $verbose -eq 1 ]; then sed 's/^/    /' "$log"; fi
  else
    failed=$((failed + 1))
    if [ -s "$reason_file" ]; then reason="$(head -1 "$reason_file")"
    elif [ $status -eq 124 ] || [ $status -eq 137 ]; then reason="stopped after ${E2E_SCENARIO_TIMEOUT:-900} s"
    else reason="exited with status $status before any check failed"
    fi
    echo "FAIL $name: $reason [$took]"
    sed 's/^/    /' "$log"
  fi
done

echo "e2e: ${#scripts[@]} scenarios in $(seconds_since "$suite_started")"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
