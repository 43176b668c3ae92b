# Shared by the scripts: a pip on the host even where Debian's python3 has none.
# shellcheck shell=bash
host_pip() {
    if python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip "$@"
        return
    fi
    local venv
    venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/pip-venv"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
    "$venv/bin/pip" "$@"
}
