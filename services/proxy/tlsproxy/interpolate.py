"""Environment interpolation in configuration strings: ``${NAME}`` and ``${NAME:-default}``.

The kit publishes the proxy on host ports chosen at ``make up`` time (for example
``HTTPS_PORT``) while the config file is baked into the image, so string values may
name environment variables instead of being edited.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\$")


class InterpolationError(ValueError):
    """A ``${NAME}`` reference to an unset variable without a default."""


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` / ``${NAME:-default}``; ``$$`` is a literal dollar.

    As in the shell, ``:-`` also applies when the variable is set but empty.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group("name"), match.group("default")
        value = environ.get(name, "")
        if value:
            return value
        if default is not None:
            return default
        raise InterpolationError(
            f"environment variable {name} is not set (write ${{{name}:-default}} to give one)"
        )

    return _REFERENCE.sub(replace, text)
