"""The error log speaks of the blog's faults, not of clients' malformed requests.

aiohttp answers a request it cannot parse or decode (a broken `Content-Encoding`
body, an unsupported coding, a bad header) with 400 itself, and logs each at ERROR
with a traceback on the `aiohttp.server` logger, as if the server had failed. Anyone
could fill the log with them. `ClientFaultFilter` turns such records into one INFO
line naming the problem; every other record, a fault in the blog's own code above
all, keeps its level and traceback.
"""

from __future__ import annotations

import logging

from aiohttp.http import HttpProcessingError
from aiohttp.web import RequestPayloadError

CLIENT_FAULTS = (HttpProcessingError, RequestPayloadError)
SERVER_LOGGER = "aiohttp.server"


class ClientFaultFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        fault = record.exc_info[1] if record.exc_info else None
        if isinstance(fault, CLIENT_FAULTS):
            record.msg = "refused a malformed request: %s"
            record.args = (str(fault).replace("\n", " ").strip(),)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install() -> None:
    """Add the filter to aiohttp's server logger once (idempotent)."""
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, ClientFaultFilter) for f in logger.filters):
        logger.addFilter(ClientFaultFilter())
