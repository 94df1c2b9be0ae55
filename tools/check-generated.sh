#!/usr/bin/env bash
# Checks that every committed generated source is exactly what its generator in tools/generate/ writes
# today: regenerates each into a temporary folder and compares it with the committed file
# (`diff -u`). Exit status 1, with the differences and the fix, when any file differs, so that an
# edit to a generated file, or to a generator without rerunning it, cannot go unnoticed.
#
#     tools/check-generated.sh           # compare (part of the test command, tools/test.sh)
#     tools/check-generated.sh --write   # replace the committed files with fresh output
#
# Needs Swift and protoc (see tools/generate/onnx-swift.sh); no Python.
set -euo pipefail
cd "$(dirname "$0")/.."

write=0
case "${1:-}" in
  "") ;;
  --write) write=1 ;;
  *) echo "usage: tools/check-generated.sh [--write]" >&2; exit 2 ;;
esac

# Committed file and the command that prints it, in pairs.
generated=(
  Sources/Kernels/Generated/DirectConvKernels.swift "swift tools/generate/direct-conv-kernels.swift"
  Sources/Kernels/Generated/WinogradKernels.swift "swift tools/generate/winograd-kernels.swift"
  Sources/Analysis/Executor/Generated/onnx.pb.swift "tools/generate/onnx-swift.sh"
)

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
stale=()
for ((i = 0; i < ${#generated[@]}; i += 2)); do
  committed=${generated[i]}
  generator=${generated[i + 1]}
  out="$fresh/$(basename "$committed")"
  # Into the temporary folder first even with --write: a generator that fails midway must not
  # leave a truncated file in the source tree.
  if ! $generator > "$out"; then
    echo "check-generated: \`$generator\` failed" >&2
    exit 1
  fi
  if [ "$write" -eq 1 ]; then
    if ! cmp -s "$out" "$committed"; then
      cp "$out" "$committed"
      echo "check-generated: rewrote $committed"
    fi
  elif ! diff -u --label "$committed (committed)" --label "$committed (from \`$generator\`)" \
      "$committed" "$out"; then
    stale+=("$committed")
  fi
done

if [ ${#stale[@]} -gt 0 ]; then
  echo >&2
  echo "check-generated: FAILED: these committed files differ from what their generators write:" >&2
  printf '  %s\n' "${stale[@]}" >&2
  echo "Generated files are not edited by hand: change the generator in tools/generate/, then run" >&2
  echo "tools/check-generated.sh --write and commit the result." >&2
  exit 1
fi
if [ "$write" -eq 0 ]; then
  echo "check-generated: all $(( ${#generated[@]} / 2 )) generated files match their generators"
fi
