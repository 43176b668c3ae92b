"""The two reviewed lists, read and checked in one place.

``differences.toml``: one table per case id whose nginx and ours differ on purpose::

    [target-dot-segments]
    differs = ["backend"]         # exactly the aspects that differ (compare.ASPECTS)
    side = "ours"                 # whose behaviour departs: ours, nginx or both
    why = "we forward the normalized path; nginx the raw target"
    rfc = "RFC 3986 section 5.2.4"

``known_faults.toml``: one table per case id our proxy fails today::

    [upgrade-websocket-with-body]
    fault = "F1: an upgrade with a body is forwarded without its body"

A known fault makes its case a strict expected failure: when the fault is fixed the
case passes, the run fails, and the entry must go.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIFFERENCES_FILE = HERE / "differences.toml"
KNOWN_FAULTS_FILE = HERE / "known_faults.toml"
SIDES = ("ours", "nginx", "both")


class ReviewError(ValueError):
    """An entry of a reviewed list is incomplete or names no case."""


@dataclass(frozen=True)
class Difference:
    case_id: str
    differs: frozenset[str]
    side: str
    why: str
    rfc: str


def load_differences(path: Path = DIFFERENCES_FILE) -> dict[str, Difference]:
    entries = tomllib.loads(path.read_text())
    found = {}
    for case_id, entry in entries.items():
        missing = {"differs", "side", "why", "rfc"} - entry.keys()
        if missing or set(entry) - {"differs", "side", "why", "rfc"}:
            raise ReviewError(f"{path.name} [{case_id}]: needs exactly differs, side, why, rfc")
        if entry["side"] not in SIDES or not entry["differs"]:
            raise ReviewError(f"{path.name} [{case_id}]: side one of {SIDES}, differs not empty")
        found[case_id] = Difference(
            case_id, frozenset(entry["differs"]), entry["side"], entry["why"], entry["rfc"]
        )
    return found


def load_known_faults(path: Path = KNOWN_FAULTS_FILE) -> dict[str, str]:
    entries = tomllib.loads(path.read_text())
    for case_id, entry in entries.items():
        if set(entry) != {"fault"} or not entry["fault"].strip():
            raise ReviewError(f"{path.name} [{case_id}]: needs exactly one non-empty 'fault'")
    return {case_id: entry["fault"] for case_id, entry in entries.items()}
