#!/usr/bin/env bash
# Builds the kit's images on any machine: with a registry from the official
# Python image, without one from a local base image and a host-made wheelhouse.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-compose.sh
BASE_IMAGE=$(scripts/base-image.sh)
export BASE_IMAGE
if [ "$BASE_IMAGE" = "blogkit-base:bookworm-py311" ]; then
    scripts/wheelhouse.sh "$BASE_IMAGE"
fi
docker compose build --quiet
