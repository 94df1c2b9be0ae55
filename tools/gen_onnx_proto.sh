#!/usr/bin/env bash
# Regenerates Sources/Analysis/ONNX/onnx.pb.swift from the ONNX schema.
#
# Run once when the schema changes; the output is committed (no SwiftPM build plugin: a first build
# with the plugin takes ~10 minutes on our machines). Needs:
#   - protoc                 (Debian: apt-get install -y protobuf-compiler)
#   - the onnx wheel's onnx.proto (pip install onnx), or pass the path as $1
#   - protoc-gen-swift built from apple/swift-protobuf at the version Package.swift pins:
#       git clone <swift-protobuf> /tmp/swpb && cd /tmp/swpb && git checkout 1.39.0 &&
#       swift build -c release --product protoc-gen-swift
#     then pass its path as $PROTOC_GEN_SWIFT (default /tmp/swpb/.build/release/protoc-gen-swift).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
proto=${1:-$(python3 -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))')}
plugin=${PROTOC_GEN_SWIFT:-/tmp/swpb/.build/release/protoc-gen-swift}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$proto" "$work/onnx.proto"
protoc --plugin=protoc-gen-swift="$plugin" --proto_path="$work" \
  --swift_opt=Visibility=Package --swift_out="$work" "$work/onnx.proto"
mv "$work/onnx.pb.swift" "$root/Sources/Analysis/ONNX/onnx.pb.swift"
echo "wrote Sources/Analysis/ONNX/onnx.pb.swift from $proto"
