"""The blog service: an aiohttp application that serves and authors a weblog from SQLite."""

__version__ = "0.1.0"
