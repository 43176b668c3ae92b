#!/bin/sh
# Runs inside an image build: makes /opt/venv and installs the requirements file
# $1 into it, offline from /wheels when the host's wheelhouse has wheels, else
# from PyPI (users whose builds reach it need no wheelhouse).
set -eu
python3 -m venv /opt/venv
if ls /wheels/*.whl >/dev/null 2>&1; then
    exec /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels -r "$1"
fi
exec /opt/venv/bin/pip install --no-cache-dir -r "$1"
