#!/bin/sh
# Healthy when sshd answers on its port with the host key it was given.
set -eu
want=$(ssh-keygen -y -f /run/sftp/ssh_host_key 2>/dev/null | cut -d' ' -f2)
got=$(ssh-keyscan -T 3 -t ed25519 -p "${SFTP_PORT:-22}" 127.0.0.1 2>/dev/null | cut -d' ' -f3)
[ -n "$want" ] && [ "$want" = "$got" ]
