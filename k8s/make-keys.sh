#!/bin/sh
# Generates the demo's SSH keys and applies, in the current kubectl namespace:
#   Secret walship-ssh          walship's client key
#   Secret walship-sftp-keys    the SFTP server's host key and walship's public key
#   ConfigMap walship-config    walship.yml and a known_hosts line for walship-sftp's host key
# Run it once before `kubectl apply -f sftp-replica.yaml -f demo-app.yaml`; running it again
# makes new keys (then restart both Deployments). Needs ssh-keygen and kubectl.
#
#   make-keys.sh --out DIR   writes the same files into DIR and applies nothing (no kubectl):
#                            id_ed25519, ssh_host_ed25519_key, authorized_keys, known_hosts,
#                            walship.yml; scripts/k8s-to-podman.mjs --keys DIR reads them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
host=${SFTP_SERVICE:-walship-sftp}
if [ "${1:-}" = "--out" ]; then
  [ -n "${2:-}" ] || { echo "make-keys.sh: --out needs a directory" >&2; exit 2; }
  mkdir -p "$2"
  dir=$(cd "$2" && pwd)
  if [ -e "$dir/id_ed25519" ]; then echo "make-keys.sh: $dir already holds keys" >&2; exit 1; fi
  out_only=1
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  out_only=0
fi

ssh-keygen -q -t ed25519 -N '' -C walship -f "$dir/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C "$host" -f "$dir/ssh_host_ed25519_key"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
printf '%s %s\n' "$host" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" > "$dir/known_hosts"
# walship.yml comes from walship-config.yaml, so the two never drift apart.
sed -n '/^  walship.yml: |$/,/^  known_hosts: |$/p' "$here/walship-config.yaml" | sed '1d;$d' | sed 's/^    //' > "$dir/walship.yml"
if [ "$out_only" = 1 ]; then
  echo "keys in $dir; host key: $(ssh-keygen -l -f "$dir/ssh_host_ed25519_key.pub")"
  exit 0
fi

kubectl create secret generic walship-ssh --from-file=id_ed25519="$dir/id_ed25519" --dry-run=client -o yaml | kubectl apply -f -
kubectl create secret generic walship-sftp-keys \
  --from-file=ssh_host_ed25519_key="$dir/ssh_host_ed25519_key" \
  --from-file=authorized_keys="$dir/authorized_keys" --dry-run=client -o yaml | kubectl apply -f -
kubectl create configmap walship-config \
  --from-file=walship.yml="$dir/walship.yml" \
  --from-file=known_hosts="$dir/known_hosts" --dry-run=client -o yaml | kubectl apply -f -
echo "host key: $(ssh-keygen -l -f "$dir/ssh_host_ed25519_key.pub")"
