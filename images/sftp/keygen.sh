#!/bin/sh
# One-shot key setup for docker compose (the `keygen` service). On first start it writes, on the
# keys volume mounted at $KEYS_DIR (default /keys):
#   id_ed25519, id_ed25519.pub   the walship client key (owned by uid $CLIENT_UID, mode 0400)
#   authorized_keys              the client's public key, for the SFTP server
#   ssh_host_ed25519_key(.pub)   the SFTP server's host key (root only, mode 0600)
#   known_hosts                  "$SFTP_HOST ssh-ed25519 AAAA..." for walship's known-hosts-path
#   host_key.pub                 the same key as one authorized_keys line, for walship's host-key
# Later starts change nothing, so keys and host key verification stay stable across restarts.
set -eu

KEYS_DIR=${KEYS_DIR:-/keys}
CLIENT_UID=${CLIENT_UID:-10001}
SFTP_HOST=${SFTP_HOST:-sftp}
SFTP_PORT=${SFTP_PORT:-22}
log() { echo "walship-keygen: $*" >&2; }

mkdir -p "$KEYS_DIR"
chmod 0755 "$KEYS_DIR"
if [ ! -f "$KEYS_DIR/id_ed25519" ]; then
  ssh-keygen -q -t ed25519 -N '' -C walship -f "$KEYS_DIR/id_ed25519"
  log "generated client key $KEYS_DIR/id_ed25519"
fi
chown "$CLIENT_UID:$CLIENT_UID" "$KEYS_DIR/id_ed25519" "$KEYS_DIR/id_ed25519.pub"
chmod 0400 "$KEYS_DIR/id_ed25519"
chmod 0644 "$KEYS_DIR/id_ed25519.pub"
cp "$KEYS_DIR/id_ed25519.pub" "$KEYS_DIR/authorized_keys"
chmod 0644 "$KEYS_DIR/authorized_keys"

if [ ! -f "$KEYS_DIR/ssh_host_ed25519_key" ]; then
  ssh-keygen -q -t ed25519 -N '' -C "$SFTP_HOST" -f "$KEYS_DIR/ssh_host_ed25519_key"
  log "generated SFTP host key $KEYS_DIR/ssh_host_ed25519_key"
fi
chown root:root "$KEYS_DIR/ssh_host_ed25519_key" "$KEYS_DIR/ssh_host_ed25519_key.pub"
chmod 0600 "$KEYS_DIR/ssh_host_ed25519_key"
chmod 0644 "$KEYS_DIR/ssh_host_ed25519_key.pub"

pub=$(cut -d' ' -f1,2 "$KEYS_DIR/ssh_host_ed25519_key.pub")
if [ "$SFTP_PORT" = 22 ]; then name="$SFTP_HOST"; else name="[$SFTP_HOST]:$SFTP_PORT"; fi
printf '%s %s\n' "$name" "$pub" > "$KEYS_DIR/known_hosts"
printf '%s\n' "$pub" > "$KEYS_DIR/host_key.pub"
chmod 0644 "$KEYS_DIR/known_hosts" "$KEYS_DIR/host_key.pub"
log "client $(ssh-keygen -l -f "$KEYS_DIR/id_ed25519.pub")"
log "trusting host $(ssh-keygen -l -f "$KEYS_DIR/ssh_host_ed25519_key.pub") as $name"
