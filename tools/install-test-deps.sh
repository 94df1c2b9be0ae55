#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, only when it is missing:
#   libonnx-testdata      ONNX backend node tests (conformance)
#   dataset-fashion-mnist real Fashion-MNIST IDX files (data-loader tests)
#   tmux, procps          end-to-end tests of the workbench (tmux drives it, pgrep finds its pid)
#   libncursesw5-dev      the curses headers and library the workbench builds against
#   protobuf-compiler     protoc, for tools/check-generated.sh (regenerates the ONNX bindings)
# Runs apt-get as root (or through sudo when available).
set -euo pipefail
need=()
[ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
[ -f /usr/include/ncursesw/ncurses.h ] || [ -f /usr/include/ncurses.h ] || need+=(libncursesw5-dev)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${need[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
