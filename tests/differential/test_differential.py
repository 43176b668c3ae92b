"""Each row of the table, run through nginx and through ours, then judged.

A case fails when our proxy breaks a safety property or an expectation
(``properties``: raised as ``FaultPresent``), or when the two differ in a way
``differences.toml`` does not list exactly (same aspects), or when a listed
difference is gone. Cases named in ``known_faults.toml`` are strict expected
failures of ``FaultPresent`` only: once the fault is fixed the case passes and
the run fails until the entry goes, and a fix that leaves an unlisted difference
behind fails as any other case does.
"""

from __future__ import annotations

import pytest

from .cases import Case
from .compare import ASPECTS, differences, views
from .properties import violations
from .reviewed import Difference, load_differences, load_known_faults
from .run import Observation, run
from .summary import Tally
from .systems import Pair
from .table import CASES

DIFFERENCES = load_differences()
KNOWN_FAULTS = load_known_faults()


class FaultPresent(AssertionError):
    """Our proxy broke a safety property or an expectation of the case."""


def _param(case: Case) -> object:
    fault = KNOWN_FAULTS.get(case.id)
    marks = []
    if fault:
        marks.append(pytest.mark.xfail(reason=fault, raises=FaultPresent, strict=True))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case, pair: Pair, tally: Tally) -> None:
    nginx = run(case, pair.nginx, pair.ca)
    ours = run(case, pair.ours, pair.ca)
    faults = violations(case, ours)
    found = differences(nginx, ours)
    if faults:
        tally.record(case.id, "known fault" if case.id in KNOWN_FAULTS else "failure")
        raise FaultPresent(report(faults, found, nginx, ours))
    unlisted = judge(found, DIFFERENCES.get(case.id))
    if unlisted:
        tally.record(case.id, "failure")
        pytest.fail(report(unlisted, found, nginx, ours), pytrace=False)
    if case.id in KNOWN_FAULTS:  # fixed: pytest fails it (strict), the summary says why
        tally.record(case.id, "failure")
        tally.fixed.append(case.id)
    else:
        tally.record(case.id, "justified" if found else "identical")


def judge(found: dict[str, str], listed: Difference | None) -> list[str]:
    """Problems with the differences found, against the reviewed entry for the case."""
    if listed is None:
        return [f"{aspect} differs from nginx and is not in differences.toml" for aspect in found]
    if set(found) != listed.differs:
        return [
            f"differences.toml lists {sorted(listed.differs)} for this case; "
            f"what differs now: {sorted(found) or 'nothing'} (fix the proxy or the entry)"
        ]
    return []


def report(
    problems: list[str], found: dict[str, str], nginx: Observation, ours: Observation
) -> str:
    lines = ["", *[f"- {p}" for p in problems]]
    for aspect, diff in found.items():
        lines += ["", f"{aspect} (nginx -> ours):", diff]
    for observation in (nginx, ours):
        seen = views(observation)
        lines += ["", f"{observation.system} saw:"]
        for aspect in ASPECTS:
            lines += [f"  [{aspect}]", *(f"    {line}" for line in seen[aspect])]
    lines += ["", "ours' log (tail):", ours.log_tail]
    return "\n".join(lines)


def test_reviewed_lists_name_cases() -> None:
    """Every reviewed entry names a case of the table, and case ids are unique."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    unknown = (set(DIFFERENCES) | set(KNOWN_FAULTS)) - set(ids)
    assert not unknown, f"entries for cases not in the table: {sorted(unknown)}"
    bad_aspects = {i: d.differs for i, d in DIFFERENCES.items() if not d.differs <= set(ASPECTS)}
    assert not bad_aspects, f"aspects must be among {ASPECTS}: {bad_aspects}"
