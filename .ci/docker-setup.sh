#!/usr/bin/env bash
# Brings up a Docker engine and the stand-in base images on a machine where no container registry
# can be reached (see shared/CONTAINERS.md). Idempotent: every step is skipped when already done.
#   1. docker.io, docker-compose (1.29 standalone) and mmdebstrap from apt, if missing
#      (without recommends: checked to be enough, and mmdebstrap's recommends pull in qemu);
#   2. dockerd started in the background, if `docker info` does not answer;
#   3. debian:bookworm-slim and node:20-bookworm-slim built with mmdebstrap + docker import,
#      each only when `docker image inspect` says it is missing.
# Needs root. Prints one line per step with its duration.
set -euo pipefail

log() { printf '[docker-setup] %s\n' "$*"; }
elapsed() { echo $(( $(date +%s) - $1 ))s; }
t_all=$(date +%s)

if [ "$(id -u)" != 0 ]; then
  log "must run as root"; exit 1
fi

# --- 1. packages -----------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if [ ${#missing[@]} -gt 0 ]; then
  t=$(date +%s)
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "installed ${missing[*]} in $(elapsed "$t")"
fi

# --- 2. engine -------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  t=$(date +%s)
  log "starting dockerd (log: /tmp/dockerd.log)"
  setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not answer within 60 s; last lines of /tmp/dockerd.log:"
    tail -n 20 /tmp/dockerd.log >&2 || true
    exit 1
  fi
  log "dockerd up in $(elapsed "$t")"
fi

# --- 3. base images --------------------------------------------------------------------------
work=$(mktemp -d /tmp/docker-setup.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  t=$(date +%s)
  log "building debian:bookworm-slim with mmdebstrap"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/base.tar" </dev/null
  docker import "$work/base.tar" debian:bookworm-slim >/dev/null
  rm -f "$work/base.tar"
  log "debian:bookworm-slim built in $(elapsed "$t")"
fi

# A stand-in carries the label walship.standin=<recipe version>; one built by an older recipe is
# rebuilt, while an image without the label (a real one, pulled elsewhere) is left alone.
NODE_STANDIN_VERSION=2
if docker image inspect node:20-bookworm-slim >/dev/null 2>&1; then
  node_label=$(docker image inspect -f '{{index .Config.Labels "walship.standin"}}' node:20-bookworm-slim)
else
  node_label=missing
fi
if [ "$node_label" != missing ] && [ -n "$node_label" ] && [ "$node_label" != "<no value>" ] && [ "$node_label" != "$NODE_STANDIN_VERSION" ]; then
  log "node:20-bookworm-slim is stand-in recipe $node_label, want $NODE_STANDIN_VERSION: rebuilding"
  docker rmi -f node:20-bookworm-slim >/dev/null
fi
if ! docker image inspect node:20-bookworm-slim >/dev/null 2>&1; then
  t=$(date +%s)
  node_bin=$(command -v node)
  node_bin=$(readlink -f "$node_bin")
  npm_dir="$(npm root -g)/npm"
  # node-gyp downloads the headers from nodejs.org unless told where they are; nodejs.org is out of
  # reach here, so the machine's headers go in and npm_config_nodedir points at them (the official
  # node images ship them in /usr/local/include/node too).
  node_inc="$(dirname "$(dirname "$node_bin")")/include/node"
  if [ ! -f "$node_inc/node_api.h" ]; then
    log "no node headers at $node_inc: native modules cannot be built in images"; exit 1
  fi
  log "building node:20-bookworm-slim with mmdebstrap (node $("$node_bin" --version) from $node_bin, npm from $npm_dir)"
  # The machine's CA bundle goes in too: the npm registry is reached through a proxy whose CA only
  # the machine trusts, and NODE_EXTRA_CA_CERTS points node (and npm) at it inside builds.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,libstdc++6 \
    --customize-hook="copy-in $node_bin /usr/local/bin" \
    --customize-hook='mkdir -p "$1/usr/local/lib/node_modules"' \
    --customize-hook="copy-in $npm_dir /usr/local/lib/node_modules" \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"' \
    --customize-hook='mkdir -p "$1/usr/local/include"' \
    --customize-hook="copy-in $node_inc /usr/local/include" \
    --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
    bookworm "$work/node.tar" </dev/null
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    -c 'ENV npm_config_nodedir=/usr/local' \
    -c "LABEL walship.standin=$NODE_STANDIN_VERSION" \
    "$work/node.tar" node:20-bookworm-slim >/dev/null
  rm -f "$work/node.tar"
  log "node:20-bookworm-slim built in $(elapsed "$t")"
fi

log "ready in $(elapsed "$t_all"): $(docker version --format 'engine {{.Server.Version}}'), $(docker-compose version --short 2>/dev/null || echo 'no docker-compose')"
