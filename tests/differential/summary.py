"""Each case's verdict, kept for the summary printed at the end of the session."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

VERDICTS = ("identical", "justified", "known fault", "failure")


@dataclass
class Tally:
    """Verdicts by case id, and the known faults that no longer fail."""

    verdicts: dict[str, str] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    def record(self, case_id: str, verdict: str) -> None:
        self.verdicts[case_id] = verdict

    def lines(self) -> list[str]:
        """The summary: counts by verdict, then known faults and failures by case id."""
        counts = Counter(self.verdicts.values())
        lines = [
            ", ".join([f"{len(self.verdicts)} cases"] + [f"{counts[v]} {v}" for v in VERDICTS])
        ]
        for verdict in ("known fault", "failure"):
            lines += [
                f"  {verdict}: {case_id}"
                for case_id, got in sorted(self.verdicts.items())
                if got == verdict and case_id not in self.fixed
            ]
        lines += [f"  failure: {c} is fixed: remove it from known_faults.toml" for c in self.fixed]
        return lines


TALLY_KEY = pytest.StashKey[Tally]()
