"""Running one case against one system: the case's connection, then two control requests.

The controls are what makes a desync visible from the client's side: one on the
case's connection if the proxy kept it open, one on a new connection (which a
proxy serves from its backend pool). Each must get its own echo answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .backend import CONTROL_PATH, ConnectionRecord
from .cases import Case
from .client import Connection, Conversation
from .systems import System

SETTLE_SECONDS = 0.05  # lets a proxy react to the client's close before the backend reports
CONTROL_HOST = b"control.test"


@dataclass(frozen=True)
class Control:
    """A request that checks a connection still works: the echo it must get back."""

    name: str
    method: bytes = b"GET"
    body: bytes = b""

    @property
    def request(self) -> bytes:
        length = b"Content-Length: %d\r\n" % len(self.body) if self.body else b""
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (self.method, self.target, CONTROL_HOST)
        return head + length + b"\r\n" + self.body

    @property
    def target(self) -> bytes:
        return CONTROL_PATH + self.name.encode()

    @property
    def echo(self) -> bytes:
        return b" ".join(p for p in (self.method, self.target, self.body) if p)


# On the case's connection, then on a new one: a GET and a POST with a body, so
# every backend connection pool of a proxy gets used (ours has one for each today).
SAME_CONNECTION = Control("same")
NEW_CONNECTION = (Control("new-post", b"POST", b"control body"), Control("new-get"))


@dataclass
class Observation:
    """What one system did with one case, seen from the client and from the backend."""

    system: str
    conversation: Conversation
    controls: dict[Control, Conversation] = field(default_factory=dict)
    backend: list[ConnectionRecord] = field(default_factory=list)
    log_tail: str = ""


def run(case: Case, system: System, ca: Path) -> Observation:
    system.backend.begin(case.answers)
    log_start = system.process.log_size() if system.process is not None else 0
    connection = Connection(system.port(case.listener), ca if case.listener == "https" else None)
    try:
        connection.send(case.send)
        connection.read_answers(case.methods)
        talk = connection.conversation
        finals = talk.finals
        if finals and finals[-1].status == 101 and case.frames:
            connection.exchange_frames(case.frames)
        observation = Observation(system.name, talk)
        if case.control and _still_open(talk, len(case.methods)):
            observation.controls[SAME_CONNECTION] = _control(connection, SAME_CONNECTION)
    finally:
        connection.close()
    fresh = Connection(system.http_port, None)
    try:
        for control in NEW_CONNECTION:
            observation.controls[control] = _control(fresh, control)
    finally:
        fresh.close()
    time.sleep(SETTLE_SECONDS)
    observation.backend = system.backend.finish()
    if system.process is not None:
        observation.log_tail = system.process.log_tail(3000, since=log_start)
    return observation


def _still_open(talk: Conversation, requests: int) -> bool:
    finals = talk.finals
    return (
        not talk.closed
        and not talk.timed_out
        and talk.malformed is None
        and len(finals) == requests
        and finals[-1].status != 101
    )


def _control(connection: Connection, control: Control) -> Conversation:
    connection.conversation = Conversation()
    connection.send([control.request])
    connection.read_answers([control.method])
    return connection.conversation
