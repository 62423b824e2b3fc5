#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build walship, run its whole test suite and the
# demo stack: build tools for the native modules, sqlite3, Python with diskcache, OpenSSH (the test
# replica server), a Docker engine with stand-in base images (see .ci/docker-setup.sh), and the
# Litestream binary the compatibility tests run against (built from its Go module into .tools/bin).
# Node.js >= 20 is the one prerequisite, and Go >= 1.26 for the Litestream build. Idempotent; needs
# root (uses sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js >= 20 is required (node not found)" >&2
  exit 1
fi

packages=(sqlite3 python3 python3-diskcache openssh-server openssh-client openssl util-linux make g++ ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

$SUDO bash .ci/docker-setup.sh
bash scripts/setup-prometheus.sh
bash scripts/setup-podman.sh

# Litestream, pinned, for the tests that restore each tool's replica with the other.
LITESTREAM_VERSION=v0.5.18
LITESTREAM_BIN=.tools/bin/litestream
if [ ! -x "$LITESTREAM_BIN" ] || [ "$("$LITESTREAM_BIN" version 2>/dev/null)" != "$LITESTREAM_VERSION" ]; then
  GO="$(command -v go || true)"
  [ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
  if [ -z "$GO" ]; then
    echo "setup: Go >= 1.26 not found; test/integration/litestream-compat.test.ts will fail until $LITESTREAM_BIN exists" >&2
  else
    echo "setup: building Litestream $LITESTREAM_VERSION into $LITESTREAM_BIN (about 2 minutes)"
    # Private module and build caches (about 2 GB), removed afterwards: only the binary stays.
    if ! GOBIN="$PWD/.tools/bin" GOMODCACHE="$PWD/.tools/gomod" GOCACHE="$PWD/.tools/gocache" GOTOOLCHAIN=local \
        "$GO" install "github.com/benbjohnson/litestream/cmd/litestream@$LITESTREAM_VERSION"; then
      echo "setup: building Litestream failed; test/integration/litestream-compat.test.ts will fail until $LITESTREAM_BIN exists" >&2
    fi
    chmod -R u+w .tools/gomod 2>/dev/null || true
    rm -rf .tools/gomod .tools/gocache
  fi
fi

bash scripts/setup-s3.sh  # versitygw, the S3 server the S3 replica tests run against
