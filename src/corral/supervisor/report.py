"""The supervisor's side of the status document (``corral.status`` builds it): each service's
entry from its run, and the whole document with the supervisor's own facts. A collaborator of
the engine (its ``Host``); it changes nothing but its cache of members.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from corral import events, logs, status
from corral.clock import Clock
from corral.model import ProjectSpec
from corral.state import ProjectState
from corral.supervisor.service import Service, quick_members

MEMBERS_FRESH = 1.0  # seconds a status reuses a service's members when nothing happened since


class Host(Protocol):
    """What the status report reads of the engine that owns it."""

    project: ProjectSpec
    state: ProjectState
    state_dir: Path
    run_id: str
    clock: Clock
    services: dict[str, Service]
    generation: int  # counts transitions and reaps: what a member cache predates
    last_touch: float
    listener_owners: status.ListenerOwners
    save_problem: str | None
    events: events.EventLog


class StatusReport:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.members_seen: dict[str, tuple[float, int, set[int]]] = {}  # see members_of

    def describe(self, name: str) -> dict[str, Any]:
        service = self.host.services[name]
        record = service.record
        run = service.run
        changed = None
        if run is not None:
            changed = status.config_changed(
                _stop_settings(run.record.ports, run.record.stop_signal, run.record.stop_timeout),
                _stop_settings(
                    service.configured.ports,
                    service.configured.stop_signal,
                    service.configured.stop_timeout,
                ),
            )
        return status.service_entry(
            name,
            str(service.state),
            ports=run.record.ports if run else service.configured.ports,
            pid=run.pid if run else None,
            pgid=run.pgid if run else None,
            started_at=run.started_at if run else None,
            started_by=run.record.started_by if run else None,
            restarts=record.restarts,
            last_exit=record.last_exit,
            note=record.note,
            stale=record.stale if run else None,
            members=sorted(self.members_of(service)),
            log=str(logs.log_path(self.host.state_dir, name)),
            config_changed=changed,
        )

    def members_of(self, service: Service) -> set[int]:
        """The run's members by the cheap layers, taken again only after a transition or a reap
        (the events that change them, forks aside) or ``MEMBERS_FRESH`` seconds: a status of
        200 services does not re-read 200 process trees and cgroups."""
        now = self.host.clock.monotonic()
        seen = self.members_seen.get(service.spec.name)
        if seen is not None and seen[1] == self.host.generation and now - seen[0] < MEMBERS_FRESH:
            return seen[2]
        members = quick_members(service)
        self.members_seen[service.spec.name] = (now, self.host.generation, members)
        return members

    def document(self) -> dict[str, Any]:
        """What runs now, with the ports each service's processes really listen on."""
        lease = self.host.state.lease
        problem = logs.disk_problem(self.host.state_dir)
        warnings = [p for p in (problem, self.host.save_problem, self.host.events.problem) if p]
        return status.document(
            status.SUPERVISOR,
            [self.describe(spec.name) for spec in self.host.project.services],
            owners=self.host.listener_owners,
            supervisor={
                "pid": os.getpid(),
                "run_id": self.host.run_id,
                "started_at": self.host.state.started_at,
                "alive": True,
            },
            warnings=warnings,
            tether=self.host.state.tether,
            lease=None
            if not lease
            else {
                "ttl": lease,
                "expires_in": round(
                    lease - (self.host.clock.monotonic() - self.host.last_touch), 1
                ),
            },
        )


def _stop_settings(ports: tuple[int, ...], stop_signal: int, stop_timeout: float) -> dict[str, Any]:
    return {"ports": list(ports), "stop_signal": stop_signal, "stop_timeout": stop_timeout}
