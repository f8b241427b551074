#!/usr/bin/env bash
# Installs what the tests and benchmarks need and the machine may lack: the AWS client libraries (optionalDependencies,
# scripts/test-deps.sh), Debian's aws CLI v2 (/usr/bin/aws), git and curl.
set -euo pipefail
bash "$(dirname "$0")/test-deps.sh"
need=()
[ -x /usr/bin/aws ] || need+=(awscli)
command -v git >/dev/null || need+=(git)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "test setup: installing ${need[*]} with apt-get"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
