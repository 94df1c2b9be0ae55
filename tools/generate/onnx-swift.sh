#!/usr/bin/env bash
# Prints Sources/Analysis/Executor/Generated/onnx.pb.swift, the Swift bindings of the ONNX schema, to
# standard output:
#
#     tools/generate/onnx-swift.sh > Sources/Analysis/Executor/Generated/onnx.pb.swift
#
# (tools/check-generated.sh runs it and compares; `--write` updates the committed file.)
#
# Inputs:
#   - tools/generate/onnx.proto: onnx/onnx.proto from the onnx 1.23.2 wheel on PyPI, unchanged. To move
#     to a newer schema, replace it with that version's file and rerun with `--write`.
#   - protoc (Debian: protobuf-compiler; tools/install-test-deps.sh installs it).
#   - protoc-gen-swift at the swift-protobuf version Package.swift pins (`exact:`), so that the
#     generated code matches the SwiftProtobuf runtime the package links. Built here from that
#     dependency in its own scratch folder, .build-protoc/ (release; about 1.5 CPU-minutes, several
#     minutes of wall time on a busy 2-core machine), and only when the binary there is missing or
#     reports another version: a `swift build` of an up-to-date product still re-plans and
#     sometimes recompiles it. Not in .build/: that would recompile SwiftProtobuf without
#     `-enable-testing` and make the next `swift test -c release` rebuild every target above it.
# The bindings are committed rather than made by a SwiftPM build plugin: a first build with the
# plugin takes ~10 minutes on a 2-core machine.
#
# Build progress goes to standard error; only the Swift source goes to standard output.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
scratch=.build-protoc
pinned=$(sed -n 's|.*/apple/swift-protobuf", exact: "\([0-9.]*\)".*|\1|p' Package.swift)
if [ -z "$pinned" ]; then
  echo "onnx-swift.sh: no \`exact:\` swift-protobuf version in Package.swift; the generated bindings" >&2
  echo "must come from the plug-in of the runtime the package links" >&2
  exit 1
fi
plugin="$scratch/release/protoc-gen-swift"
if [ "$("$plugin" --version 2>/dev/null || true)" != "protoc-gen-swift $pinned" ]; then
  swift build -c release --product protoc-gen-swift --scratch-path "$scratch" >&2
  plugin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/protoc-gen-swift"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The proto path is the schema's own folder: the bindings' header names the source as plain
# `onnx.proto`.
protoc --plugin=protoc-gen-swift="$plugin" --proto_path=tools/generate \
  --swift_opt=Visibility=Package --swift_out="$work" tools/generate/onnx.proto
cat "$work/onnx.pb.swift"
