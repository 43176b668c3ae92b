"""Structured operational events (reloads, certificates, backend health) on stderr.

One JSON object per line, so `docker logs` can be filtered with jq; the access log
stays on stdout and keeps its own format.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def log_event(event: str, **fields: Any) -> None:
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event}
    record.update(fields)
    print(json.dumps(record, default=str), file=sys.stderr)
