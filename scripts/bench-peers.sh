#!/usr/bin/env bash
# npm run bench:peers -- [options]: installs ONNX Runtime for Node and the web (wasm) into node_modules when
# missing, without saving them to package.json and without onnxruntime-node's install script (it downloads
# optional GPU binaries from a host that this project's machines cannot reach; the CPU binaries ship inside the
# package), then runs the benchmark (src/cli/benchPeers.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION=1.30.0
if ! node -e 'require.resolve("onnxruntime-node"); require.resolve("onnxruntime-web")' 2>/dev/null; then
  echo "bench:peers: installing onnxruntime-node and onnxruntime-web $ORT_VERSION (not saved to package.json)" >&2
  npm install --no-save --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" "onnxruntime-web@$ORT_VERSION" >&2
fi
exec npx tsx src/cli/benchPeers.ts "$@"
