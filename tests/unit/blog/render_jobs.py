"""Render jobs for RenderPool tests. Standard library only: a worker process imports
this module when it starts, and a heavy import would eat into a render's time limit."""

from __future__ import annotations

import os
import time
from pathlib import Path


def render_when_released(source: str) -> str:
    """A render job for RenderPool tests: waits (in the worker) until the file named by
    `source` exists, so a test decides when the render ends, without timing."""
    gate = Path(source)
    while not gate.exists():
        time.sleep(0.01)
    return "<p>released</p>"


def render_slowly_unless_quick(source: str) -> str:
    """A render job that never ends in time unless the text is "quick"."""
    if source != "quick":
        time.sleep(3600)
    return "<p>quick</p>"


def render_by_dying(source: str) -> str:
    """A render job whose worker process ends abruptly (as the kernel ends one over its
    memory limit)."""
    os._exit(1)
