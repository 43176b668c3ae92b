"""Fixtures for the certificate tool tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from certs_support import ensure


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    """A folder where ensure has already made a CA and a server certificate."""
    directory = tmp_path / "certs"
    ensure(directory)
    return directory
