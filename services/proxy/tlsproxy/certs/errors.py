"""The ways the certificate tool refuses to go on, and their exit codes."""

from __future__ import annotations

from datetime import datetime


class CertsError(Exception):
    """Bad input or unusable existing files: nothing was written.

    The message is one paragraph that names the problem and how to fix it.
    """

    exit_code = 2


class VerificationFailed(Exception):
    """A certificate on disk does not verify for a configured name."""

    exit_code = 1


class RenewalNeedsCAKey(CertsError):
    """The served certificate is due but the CA key is kept off the machine (no --ca-key).

    ``reason`` says why it is due; ``not_after`` is when it expires (UTC).
    """

    def __init__(self, message: str, reason: str, not_after: datetime) -> None:
        super().__init__(message)
        self.reason = reason
        self.not_after = not_after
