#!/usr/bin/env bash
# Installs what the integration tests need and the machine may lack: Debian's aws CLI v2 (/usr/bin/aws).
set -euo pipefail
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
