#!/usr/bin/env bash
# Prints the base image the Dockerfiles should build FROM, making it if need be.
#
# Users with a container registry get the official Python image (pulled once).
# Where no registry answers (this project's CI machines), a Debian bookworm
# root file system is made with debootstrap and imported as a local image, so
# `make up` and `make test` work the same there. The result is cached by Docker:
# the slow path runs once per machine.
set -euo pipefail

official="${BASE_IMAGE:-python:3.11-slim-bookworm}"
local_image="blogkit-base:bookworm-py311"

have() { docker image inspect "$1" >/dev/null 2>&1; }

if have "$official"; then echo "$official"; exit 0; fi
if [ -z "${BLOGKIT_LOCAL_BASE:-}" ] && timeout 60 docker pull -q "$official" >/dev/null 2>&1; then
    echo "$official"; exit 0
fi
if have "$local_image"; then echo "$local_image"; exit 0; fi

echo "base-image: cannot pull $official; building $local_image with debootstrap (about a minute, once)" >&2
if ! command -v debootstrap >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "base-image: debootstrap is missing; install it (sudo apt-get install debootstrap) or run as root" >&2
        exit 1
    fi
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi
rootfs=$(mktemp -d /tmp/blogkit-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >&2
# Keep the image lean: package lists and caches are not needed at run time.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
tar -C "$rootfs" -c . | docker import -c 'CMD ["python3"]' - "$local_image" >&2
echo "$local_image"
