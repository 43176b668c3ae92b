"""Entry point for ``python -m tlsproxy.certs``."""

from .cli import main

main()
