#!/usr/bin/env bash
# The tests and benchmarks drive opsbox with real AWS clients, which are optionalDependencies that a plain
# `npm ci` omits (.npmrc). Adds them when missing; package-lock.json already pins them, so this changes nothing there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/@aws-sdk/client-s3 ] || [ ! -d node_modules/fast-check ]; then
  echo "test setup: installing the test clients (npm install --include=optional)"
  npm install --include=optional --no-audit --no-fund --ignore-scripts >/dev/null
fi
