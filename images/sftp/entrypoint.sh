#!/bin/sh
# Prepares the chroot, the host key and the authorized keys, then runs sshd in the foreground as
# PID 1 (exec), logging to stderr. Any argument is passed to sshd (for example -d to debug).
set -eu

DATA_DIR=/var/lib/sftp
RUN_DIR=/run/sftp
log() { echo "sftp-entrypoint: $*" >&2; }

mkdir -p "$RUN_DIR/authorized_keys" /run/sshd
chmod 0755 "$RUN_DIR" "$RUN_DIR/authorized_keys"

# ChrootDirectory: every path component root-owned and not writable by others; the walship user
# writes only below replica/.
mkdir -p "$DATA_DIR/chroot/replica"
chown root:root "$DATA_DIR" "$DATA_DIR/chroot"
chmod 0755 "$DATA_DIR" "$DATA_DIR/chroot"
chown walship:walship "$DATA_DIR/chroot/replica"
chmod 0755 "$DATA_DIR/chroot/replica"

# Host key: a provided secret wins; otherwise one kept on the data volume, made on first start.
if [ -n "${HOST_KEY_FILE:-}" ]; then
  if [ ! -f "$HOST_KEY_FILE" ]; then log "HOST_KEY_FILE=$HOST_KEY_FILE does not exist"; exit 1; fi
  src="$HOST_KEY_FILE"
else
  src="$DATA_DIR/hostkeys/ssh_host_ed25519_key"
  if [ ! -f "$src" ]; then
    mkdir -p "$DATA_DIR/hostkeys"
    chmod 0700 "$DATA_DIR/hostkeys"
    ssh-keygen -q -t ed25519 -N '' -C "walship-sftp" -f "$src"
    log "generated host key $src"
  fi
fi
# sshd refuses a key others can read; a secret mount may not be 0600, so use a private copy.
install -m 0600 -o root -g root "$src" "$RUN_DIR/ssh_host_key"
log "host key $(ssh-keygen -l -f "$RUN_DIR/ssh_host_key")"

# Authorized keys for the walship user: from $AUTHORIZED_KEYS text, else $AUTHORIZED_KEYS_FILE.
ak="$RUN_DIR/authorized_keys/walship"
if [ -n "${AUTHORIZED_KEYS:-}" ]; then
  printf '%s\n' "$AUTHORIZED_KEYS" > "$ak"
elif [ -f "${AUTHORIZED_KEYS_FILE:-}" ]; then
  cat "$AUTHORIZED_KEYS_FILE" > "$ak"
else
  log "no authorized key: set AUTHORIZED_KEYS, or mount a file at AUTHORIZED_KEYS_FILE=${AUTHORIZED_KEYS_FILE:-}"
  exit 1
fi
chown root:root "$ak"
chmod 0644 "$ak"
if ! ssh-keygen -l -f "$ak" >/dev/null 2>&1; then log "authorized keys $ak hold no valid public key"; exit 1; fi
log "authorized key $(ssh-keygen -l -f "$ak" | head -n 1)"

/usr/sbin/sshd -t -p "${SFTP_PORT:-22}"
log "sshd listening on port ${SFTP_PORT:-22}, replicas in $DATA_DIR/chroot/replica (sftp path /replica)"
exec /usr/sbin/sshd -D -e -p "${SFTP_PORT:-22}" "$@"
