"""What the supervisor keeps for each service: its spec, its state, its current run and the
record the state file carries, plus the run's members by the cheap layers.

Only the supervisor uses this (engine, readiness). The one writer of ``state`` is
``Engine.transition``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from corral import oslayer
from corral.lifecycle import State
from corral.model import ServiceSpec
from corral.reclaim import (
    StopReport,
    descendants,
    same_process,
    session_members,
    tree_this_turn,
)
from corral.state import ServiceRecord
from corral.supervisor import runner, staleness


@dataclass
class Service:
    spec: ServiceSpec  # the current run's (or the next one's, while down)
    configured: ServiceSpec = field(init=False)  # the latest configuration adopted
    state: State = State.STOPPED
    run: runner.Run | None = None
    record: ServiceRecord = field(init=False)
    exits: list[float] = field(default_factory=list)  # times of recent exits, for the window
    restart_timer: asyncio.TimerHandle | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    stop_task: asyncio.Task[StopReport] | None = None
    watched: staleness.Watched | None = None  # what the current run's code looked like
    ports_seen: set[int] = field(default_factory=set)  # listening ports already announced
    refreshed_at: float = float("-inf")  # monotonic time its members were last recorded
    pending: bool = False  # a start request is waiting for this service's dependencies
    blocked: str | None = None  # why the last start request could not start it
    requested_by: dict[str, Any] | None = None  # who asked for the current start

    def __post_init__(self) -> None:
        self.record = ServiceRecord(self.spec.name)
        self.configured = self.spec

    def notify(self) -> None:
        """Wake everything waiting for this service to change state."""
        self.changed.set()
        self.changed = asyncio.Event()


def quick_members(service: Service) -> set[int]:
    """The run's processes by the cheap layers (tree, session, cgroup, records): for probes and
    status. One process tree serves every service asked about in the same loop turn."""
    run = service.run
    if run is None:
        return set()
    tree = tree_this_turn()
    pids = {run.pid, *descendants([run.pid], tree)}
    if run.cgroup is not None:
        pids.update(oslayer.cgroup_procs(run.cgroup))
    else:  # without a cgroup, what left the tree but kept the session
        pids.update(session_members(run.record, tree))
    pids.update(m.pid for m in run.record.members if same_process(m))
    return pids
