#!/usr/bin/env bash
# Runs a command (the container test suite) against Podman instead of Docker:
#   test/containers/with-podman.sh npx vitest run --config test/containers/vitest.config.ts
# Serves Podman's Docker-compatible API on a unix socket for testcontainers (started here when
# nothing answers there, and stopped again afterwards), and sets DOCKER_HOST and WALSHIP_ENGINE
# for the tests. Podman comes from scripts/setup-podman.sh; without it this fails, it does not skip.
set -euo pipefail

SOCK=${WALSHIP_PODMAN_SOCKET:-/run/podman/podman.sock}
log() { printf '[with-podman] %s\n' "$*" >&2; }

if ! command -v podman >/dev/null 2>&1; then
  log "podman is not installed: run scripts/setup-podman.sh (scripts/setup-debian.sh calls it)"; exit 1
fi
if ! command -v catatonit >/dev/null 2>&1; then
  log "catatonit is not installed (every pod needs it): run scripts/setup-podman.sh"; exit 1
fi

# node is there (curl need not be): GET /_ping on the socket.
answers() {
  node -e 'const r = require("http").get({ socketPath: process.argv[1], path: "/_ping", timeout: 2000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1));
    r.on("error", () => process.exit(1)); r.on("timeout", () => process.exit(1));' "$SOCK" 2>/dev/null
}

service_pid=""
cleanup() {
  if [ -n "$service_pid" ]; then kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

if ! answers; then
  mkdir -p "$(dirname "$SOCK")"
  podman system service --time=0 "unix://$SOCK" >/tmp/podman-service.log 2>&1 &
  service_pid=$!
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  if ! answers; then
    log "podman system service did not answer on $SOCK within 30 s; /tmp/podman-service.log:"
    tail -n 20 /tmp/podman-service.log >&2 || true
    exit 1
  fi
  log "podman system service on $SOCK (pid $service_pid)"
fi

export DOCKER_HOST="unix://$SOCK"
export WALSHIP_ENGINE=podman
status=0
"$@" || status=$?
exit "$status"
