"""``python -m tlsproxy``: see :mod:`tlsproxy.cli`."""

from .cli import main_exit

main_exit()
