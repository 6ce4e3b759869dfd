"""What a stop found and did, for one run: its outcome, its members, what was swept, the ports'
state. The shape ``corral stop --json`` and the supervisor's replies carry."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class StopOutcome(enum.StrEnum):
    """How a stop ended (docs/schemas/stop.json lists the same values)."""

    NOT_RUNNING = "not_running"  # nothing of the service was found
    EXITED = "exited"  # everything exited after the stop signal, within the stop timeout
    KILLED = "killed"  # something had to be SIGKILLed
    FAILED = "failed"  # something survived, or a declared port is still held
    # Everything found was stopped, but the OS layer cannot prove nothing escaped, and it saw
    # processes that could be escapees (``StopReport.unverified`` says which and why).
    NOT_VERIFIED = "not_verified"


@dataclass
class StopReport:
    service: str
    outcome: StopOutcome = StopOutcome.NOT_RUNNING
    signal: str = "SIGTERM"
    elapsed: float = 0.0
    members: int = 0  # how many processes the stop found
    pids: list[int] = field(default_factory=list)  # all of them
    swept: list[dict[str, Any]] = field(default_factory=list)  # members outside the group
    survivors: list[dict[str, Any]] = field(default_factory=list)
    ports_held: list[dict[str, Any]] = field(default_factory=list)
    exit: dict[str, Any] | None = None  # the leader's exit, when the caller knows it
    unverified: dict[str, Any] | None = None  # see ``unverified``

    @property
    def ok(self) -> bool:
        return not self.survivors and not self.ports_held and self.unverified is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "ok": self.ok,
            "outcome": str(self.outcome),
            "signal": self.signal,
            "elapsed": round(self.elapsed, 3),
            "members": self.members,
            "pids": self.pids,
            "swept": self.swept,
            "survivors": self.survivors,
            "ports_held": self.ports_held,
            "exit": self.exit,
            "unverified": self.unverified,
        }
