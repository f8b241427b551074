#!/usr/bin/env bash
# Makes a Docker-Engine-API container engine available for the CodeBuild container backend's tests
# and benchmark on Debian machines without Docker (see docs: podman + runc, cgroupfs, file events):
#   1. installs podman, runc, busybox-static and skopeo with apt-get when missing;
#   2. writes DIR/containers.conf (runc, cgroupfs, fixed ulimits, events_logger=file);
#   3. imports localhost/opsbox-busybox:1 (busybox-static + applet links) unless it exists;
#   4. starts `podman system service --time=0 unix://DIR/podman.sock` unless it already answers.
# Idempotent. Usage: scripts/container-setup.sh [DIR]   (default $OPSBOX_CONTAINER_DIR or /tmp/opsbox-podman)
# Prints KEY=VALUE lines on stdout (DOCKER_HOST, CONTAINERS_CONF, OPSBOX_TEST_IMAGE); progress on stderr.
set -euo pipefail

DIR="${1:-${OPSBOX_CONTAINER_DIR:-/tmp/opsbox-podman}}"
IMAGE="localhost/opsbox-busybox:1"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
SOCK="$DIR/podman.sock"
CONF="$DIR/containers.conf"
log() { echo "container-setup: $*" >&2; }
# Test files and the bench may run this at the same time: one at a time.
exec 9>"$DIR/.lock"
flock 9

# 1. packages
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || need+=(runc)
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
  if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX="$b"; break; fi   # static only
done
[ -n "$BUSYBOX" ] || need+=(busybox-static)
command -v curl >/dev/null || need+=(curl)
command -v skopeo >/dev/null || need+=(skopeo)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} with apt-get"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
  BUSYBOX=/bin/busybox
fi

# 2. engine configuration (no need to touch /etc)
CONF_TEXT='[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"'
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$CONF_TEXT" ]; then
  printf '%s\n' "$CONF_TEXT" > "$CONF"
fi
export CONTAINERS_CONF="$CONF"

# 3. the test image
if ! podman image exists "$IMAGE" 2>/dev/null; then
  log "importing $IMAGE from $BUSYBOX"
  ROOT="$(mktemp -d)"
  trap 'rm -rf "$ROOT"' EXIT
  mkdir -p "$ROOT/bin" "$ROOT/tmp" "$ROOT/etc" "$ROOT/root" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
  chmod 1777 "$ROOT/tmp"
  cp "$BUSYBOX" "$ROOT/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$ROOT/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/etc/passwd"
  echo 'root:x:0:' > "$ROOT/etc/group"
  tar -C "$ROOT" -cf "$ROOT.tar" .
  podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' "$ROOT.tar" "$IMAGE" >/dev/null
  rm -f "$ROOT.tar"
fi

# 4. the Docker Engine API socket
ping() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
if ! ping; then
  rm -f "$SOCK"
  log "starting podman system service on unix://$SOCK"
  # 9>&-: the service must not inherit (and hold forever) the setup lock
  setsid nohup podman system service --time=0 "unix://$SOCK" >"$DIR/service.log" 2>&1 </dev/null 9>&- &
  echo $! > "$DIR/service.pid"
  for _ in $(seq 1 100); do ping && break; sleep 0.1; done
  ping || { log "podman service did not answer; see $DIR/service.log"; exit 1; }
fi

echo "DOCKER_HOST=unix://$SOCK"
echo "CONTAINERS_CONF=$CONF"
echo "OPSBOX_TEST_IMAGE=$IMAGE"
