#!/usr/bin/env bash
# The project's test command (README.md): installs missing test dependencies, then runs every test
# in a release build (numeric code is ~300x slower in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install-test-deps.sh
export LC_ALL=C.UTF-8
swift test -c release "$@"
