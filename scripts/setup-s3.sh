#!/usr/bin/env bash
# Builds versitygw (Apache-2.0, an S3 gateway over a POSIX directory), pinned, from its Go module into
# .tools/bin: the real S3 server the S3 replica tests run against on 127.0.0.1. Private module and
# build caches, removed afterwards, so only the binary stays. Idempotent. A failed build warns (the
# S3 tests then fail, saying so) instead of stopping setup.
set -uo pipefail
cd "$(dirname "$0")/.."

VERSITYGW_VERSION=v1.8.0
VERSITYGW_BIN=.tools/bin/versitygw
STAMP=.tools/bin/.versitygw-version

if [ -x "$VERSITYGW_BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
  exit 0
fi
GO="$(command -v go || true)"
[ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then
  echo "setup: Go not found; the S3 tests (test/integration/s3-*.test.ts) will fail until $VERSITYGW_BIN exists" >&2
  exit 0
fi
echo "setup: building versitygw $VERSITYGW_VERSION into $VERSITYGW_BIN (about 2 minutes)"
mkdir -p .tools/bin
if GOBIN="$PWD/.tools/bin" GOMODCACHE="$PWD/.tools/gomod-s3" GOCACHE="$PWD/.tools/gocache-s3" GOTOOLCHAIN=local \
    "$GO" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"; then
  echo "$VERSITYGW_VERSION" > "$STAMP"
else
  echo "setup: building versitygw failed; the S3 tests (test/integration/s3-*.test.ts) will fail until $VERSITYGW_BIN exists" >&2
fi
chmod -R u+w .tools/gomod-s3 2>/dev/null || true
rm -rf .tools/gomod-s3 .tools/gocache-s3
exit 0
