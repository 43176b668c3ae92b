"""The two ways the certificate tool refuses to go on, and their exit codes."""


class CertsError(Exception):
    """Bad input or unusable existing files: nothing was written.

    The message is one paragraph that names the problem and how to fix it.
    """

    exit_code = 2


class VerificationFailed(Exception):
    """A certificate on disk does not verify for a configured name."""

    exit_code = 1
