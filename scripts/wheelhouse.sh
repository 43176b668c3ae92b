#!/usr/bin/env bash
# Fills .wheels/ with every runtime wheel the images need, downloaded on the
# host, for the Python of the given base image. Used when builds cannot reach
# PyPI themselves (a locally made base image; see scripts/base-image.sh).
# Skips the download when the requirements have not changed since last time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
base="$1"
cd "$(dirname "$0")/.."
reqs=(services/proxy/requirements.txt services/blog/requirements.txt services/acme/requirements.txt)
pyver=$(docker run --rm "$base" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
stamp=".wheels/.stamp"
want="$pyver $(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

echo "wheelhouse: downloading wheels for Python $pyver into .wheels/" >&2
find .wheels -name '*.whl' -delete
host_pip download -q -d .wheels --only-binary=:all: --implementation cp \
    --python-version "$pyver" --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    "${reqs[@]/#/-r}" >&2
echo "$want" > "$stamp"
