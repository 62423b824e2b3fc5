#!/usr/bin/env bash
# Installs Podman for the container tests and the Podman demo (see shared/CONTAINERS.md), on
# Debian 12, idempotently:
#   1. podman, podman-compose and catatonit from Debian 12 (4.3.1, 1.0.3, 0.1.7), with netavark and
#      aardvark-dns as the network stack. Without catatonit every pod fails: Podman's pause
#      container runs it (tini does not count). Without aardvark-dns (CNI instead, which is what
#      podman's dependencies pick without recommends), containers on a network cannot resolve each
#      other's names, and the tests and the demo reach the SFTP server by name.
#   2. /etc/containers/containers.conf with default_ulimits within the host's hard limits: rootful
#      Podman in a restricted sandbox cannot raise nofile/nproc to its own defaults, and every
#      container then fails with "error setting rlimit type 7" (or 6). A file this script did not
#      write is left alone.
# The Docker-compatible API (podman system service) and the images are the tests' business
# (test/containers/podman-env.sh). Needs root (uses sudo when not root).
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
log() { printf '[podman-setup] %s\n' "$*"; }

# --- 1. packages -----------------------------------------------------------------------------
missing=()
for p in podman podman-compose catatonit netavark aardvark-dns iptables; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  t=$(date +%s)
  log "installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Without recommends (buildah, fuse-overlayfs, slirp4netns, uidmap: for rootless and building
  # with buildah, neither of which is used here).
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "installed ${missing[*]} in $(( $(date +%s) - t ))s"
fi

# --- 2. default ulimits ----------------------------------------------------------------------
conf=/etc/containers/containers.conf
marker="# written by walship scripts/setup-podman.sh"
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
nofile=$(( hard_nofile < 65536 ? hard_nofile : 65536 ))
hard_nproc=$(ulimit -Hu)
[ "$hard_nproc" = unlimited ] && hard_nproc=4096
# 4096 is what worked where the host's own hard limit did not (CONTAINERS.md).
nproc=$(( hard_nproc < 4096 ? hard_nproc : 4096 ))
want="$marker
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
if [ -f "$conf" ] && ! grep -qF "$marker" "$conf"; then
  log "$conf exists and was not written by this script: left alone (it needs default_ulimits within nofile<=$hard_nofile)"
elif [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
  $SUDO mkdir -p /etc/containers
  printf '%s\n' "$want" | $SUDO tee "$conf" >/dev/null
  log "wrote $conf: nofile=$nofile nproc=$nproc"
fi

log "ready: $(podman --version), podman-compose $(dpkg-query -W -f='${Version}' podman-compose), network backend $(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null || echo '?')"
