"""What must hold for our proxy in every case, whatever nginx does.

Safety (every case):

- the backend receives only whole, validly framed requests (RFC 9112 sections 6
  and 9.6): no bytes that do not parse, no request left half-sent on a connection
  the proxy still holds open, never the request hidden in a body (``/smuggled``);
- a backend connection whose exchange did not end cleanly (stray bytes after an
  answer, ambiguous framing, an answer later than the proxy waited) is not used
  again (RFC 9112 sections 6.3, 9.6: such a connection cannot be trusted);
- the client gets one answer per request it sent, each valid HTTP/1.1, at least
  the first one, and none too many;
- the control requests after the case get their own echo answer;
- no client-chosen address reaches the backend in any field.

Then the case's own ``Expect`` (the decisions of issue 14).
"""

from __future__ import annotations

from .backend import CONTROL_PATH, ConnectionRecord
from .cases import SMUGGLED, SPOOFED_ADDRESS, Case, Expect
from .client import Conversation
from .run import SAME_CONNECTION, Control, Observation


def violations(case: Case, observation: Observation) -> list[str]:
    """Every safety property ``observation`` breaks, and every unmet expectation."""
    found = _backend_faults(observation.backend)
    found += _client_faults(case, observation.conversation)
    for control, talk in observation.controls.items():
        found += _control_faults(control, talk)
    found += _expectation_faults(case, observation)
    return found


def _backend_faults(records: list[ConnectionRecord]) -> list[str]:
    found = []
    for record in records:
        where = f"backend connection {record.number}"
        if record.malformed is not None:
            found.append(f"{where} received bytes that are not a request: {record.malformed}")
        elif record.pending and not (record.closed_by_peer or record.closed_by_script):
            found.append(f"{where} was left holding an incomplete request: {record.pending[:80]!r}")
        for index, request in enumerate(record.requests):
            if request.target.startswith(SMUGGLED.encode()):
                found.append(f"{where} received the request hidden in a body")
            if record.poisoned_after is not None and index >= record.poisoned_after:
                found.append(
                    f"{where} was used again after a broken exchange "
                    f"({request.method!r} {request.target!r})"
                )
            spoofed = [n for n, v in request.head.fields if SPOOFED_ADDRESS.encode() in v]
            if spoofed:
                found.append(f"{where} received the client's address claim in {spoofed!r}")
    return found


def _client_faults(case: Case, talk: Conversation) -> list[str]:
    found = []
    finals = talk.finals
    if talk.malformed is not None:
        found.append(f"the client got bytes that are no answer: {talk.malformed}")
    if len(finals) > len(case.methods):
        found.append(f"the client got {len(finals)} answers to {len(case.methods)} requests")
    if not finals:
        found.append("the client got no answer at all" + (" (timed out)" if talk.timed_out else ""))
    elif talk.timed_out and len(finals) < len(case.methods):
        found.append(f"{len(case.methods) - len(finals)} request(s) left unanswered (timed out)")
    elif talk.leftover and finals[-1].status != 101:
        found.append(f"the client got bytes after its answers: {talk.leftover[:80]!r}")
    return found


def _control_faults(control: Control, talk: Conversation) -> list[str]:
    finals = talk.finals
    if len(finals) == 1 and finals[0].status == 200 and finals[0].body.data == control.echo:
        return []
    if control == SAME_CONNECTION and not talk.answers and talk.closed and not talk.leftover:
        return []  # the proxy closed the case's connection: nothing more can go wrong there
    got = [(a.status, a.body.data[:60]) for a in talk.answers]
    return [f"the control request {control.name!r} got {got or 'no answer'}"]


def _expectation_faults(case: Case, observation: Observation) -> list[str]:
    expect = case.ours
    found = _answer_expectations(expect, observation.conversation)
    forwarded = [
        request
        for record in observation.backend
        for request in record.requests
        if not request.target.startswith(CONTROL_PATH)
    ]
    if expect.forwarded is not None and len(forwarded) != expect.forwarded:
        found.append(f"expected {expect.forwarded} request(s) at the backend, got {len(forwarded)}")
    targets = tuple(r.target for r in forwarded)
    if expect.targets is not None and targets != expect.targets:
        found.append(f"expected the backend to receive targets {expect.targets}, got {targets}")
    for request in forwarded:
        names = {name.lower().decode() for name, _ in request.head.fields}
        for name in expect.absent:
            if name.lower() in names:
                found.append(f"the backend received {name!r}, which must be removed")
        for name in expect.unchanged:
            if request.head.values(name) != case.sent_values(name):
                found.append(
                    f"{name!r} reached the backend as {request.head.values(name)!r}, "
                    f"sent as {case.sent_values(name)!r}"
                )
    return found


def _answer_expectations(expect: Expect, talk: Conversation) -> list[str]:
    found = []
    statuses = tuple(a.status for a in talk.finals)
    if expect.statuses is not None and statuses != expect.statuses:
        found.append(f"expected answers {expect.statuses}, got {statuses}")
    interim = tuple(a.status for a in talk.answers if a.interim)
    if expect.interim is not None and interim != expect.interim:
        found.append(f"expected interim answers {expect.interim}, got {interim}")
    if expect.relayed and not all(a.values("X-Backend") for a in talk.finals):
        found.append("the backend's answer was replaced by one of the proxy's own")
    for answer in talk.answers:
        for name in expect.answer_absent:
            if answer.values(name):
                found.append(f"the answer carries {name!r}: {answer.values(name)!r}")
    return found
