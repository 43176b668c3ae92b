"""The one exception for input the blog refuses to process: text to render, an image.

Work done in a worker process (rendering.py) reports a refusal with a subclass of
Refusal (markup.MarkupError, media.MediaError); its message says how to fix the
input and `status` is the HTTP status for a web request (400, or 413 for too large).
"""

from __future__ import annotations


class Refusal(ValueError):
    """The input was refused; the message tells the author how to fix it."""

    status = 400
