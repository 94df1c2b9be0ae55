#!/usr/bin/env bash
# The project's test command (README.md): installs missing test dependencies, checks that the
# generated sources are what their generators write, runs every test in a release build (numeric
# code is ~300x slower in debug builds), then the workbench's end-to-end scenarios in tmux on the
# release binary (Tests/E2E/run.sh: one scenario per file in Tests/E2E/scenarios/; skip with
# QSCOPE_SKIP_E2E=1).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install-test-deps.sh
./tools/check-generated.sh
export LC_ALL=C.UTF-8
swift test -c release "$@"
if [ "${QSCOPE_SKIP_E2E:-0}" != "1" ]; then
  ./Tests/E2E/run.sh
fi
