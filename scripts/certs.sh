#!/usr/bin/env bash
# Runs the certificate tool (python -m tlsproxy.certs) inside the proxy image,
# with no network and no capabilities, as the uid the proxy will run as, on the
# host folder $1 (default ./certs). Extra arguments go to the tool, e.g.
# `scripts/certs.sh certs client laptop`. Default command: ensure.
set -euo pipefail
dir=$(realpath -m "${1:-certs}"); shift || true
[ $# -gt 0 ] || set -- ensure
uid="${KIT_UID:-$(id -u)}"; gid="${KIT_GID:-$(id -g)}"
if [ "$uid" = 0 ]; then uid=10001; gid=10001; fi   # never run the kit as root
install -d -m 0700 -o "$uid" -g "$gid" "$dir"
exec docker run --rm --network none --read-only --cap-drop ALL \
    --security-opt no-new-privileges:true --user "$uid:$gid" \
    -e CERT_HOSTS="${CERT_HOSTS:-}" -e CERT_DAYS="${CERT_DAYS:-}" \
    -e CERT_HOSTNAME="${CERT_HOSTNAME:-$(hostname)}" -e CERTS_HOST_DIR="$dir" \
    -e CERTS_DIR=/certs -v "$dir":/certs blogkit-proxy:local python3 -m tlsproxy.certs "$@"
