#!/usr/bin/env bash
# Installs the tools that check deploy/: Debian's prometheus package (prometheus and promtool, for
# test/integration/prometheus*.test.ts) and systemd (systemd-analyze, which verifies
# deploy/systemd/walship.service). The tests start their own Prometheus on a loopback port; the
# packaged service is not needed, so when this script's install started it, it is stopped and
# disabled again. Idempotent; needs root (uses sudo when not root).
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

missing=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ ${#missing[@]} -gt 0 ] || exit 0

echo "setup: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
