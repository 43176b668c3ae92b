"""`python -m blog serve`: start the blog server with settings from the environment."""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from .accesslog import ClientAccessLogger
from .app import init_app
from .config import ConfigError, load_settings

log = logging.getLogger("blog")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blog", description=__doc__)
    parser.add_argument("command", choices=["serve"], help="serve: run the HTTP server")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"blog: configuration error: {exc}", file=sys.stderr)
        return 2
    web.run_app(
        init_app(settings),
        host=settings.bind,
        port=settings.port,
        access_log_class=ClientAccessLogger,
        print=lambda msg: log.info("%s", msg),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
