"""Stopping services: dependents before their dependencies, independent ones in parallel, each
run reclaimed with proof (``corral.reclaim``) and reported. Also how long stopping everything may
take, and the hurry that cuts the grace of stops in progress short. A collaborator of the engine
(its ``Host``), whose states it changes only through ``Host.transition``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol

from corral import events
from corral.clock import Clock
from corral.lifecycle import ALIVE, Event, State
from corral.model import ProjectSpec, RunRecord
from corral.reclaim import StopReport, reclaim
from corral.supervisor import runner
from corral.supervisor.service import Service

HURRY_VALID = 5.0  # a hurry that arrives just before its stop request still applies to it
STOP_SLACK = 5.0  # seconds beyond the stop timeouts for the sweep and the port checks


class Host(Protocol):
    """What stopping needs of the engine that owns it."""

    project: ProjectSpec
    clock: Clock
    services: dict[str, Service]
    events: events.EventLog

    def touch(self) -> None: ...
    def resolve(self, names: Iterable[str] | None, *, with_dependencies: bool) -> list[str]: ...
    def transition(self, service: Service, event: Event, **facts: Any) -> None: ...
    def reap(self) -> None: ...
    def end_run(self, service: Service) -> None: ...
    def trace(self, service: Service) -> RunRecord: ...
    def daemon_pids(self) -> set[int]: ...
    def log(self, message: str) -> None: ...


class Stopping:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.began = float("-inf")  # when the current stop began: its services share scans
        self.hurry = asyncio.Event()  # set: stops in progress skip the rest of their grace
        self.hurried_at = float("-inf")

    async def stop(
        self, names: Iterable[str] | None, with_dependents: bool = True
    ) -> list[StopReport]:
        """Stop services, dependents before their dependencies, independent ones in parallel."""
        self.host.touch()
        self.began = self.host.clock.monotonic()  # the services stopped together share scans
        stale_hurry = self.host.clock.monotonic() - self.hurried_at > HURRY_VALID
        if stale_hurry and not any(s.stop_task for s in self.host.services.values()):
            self.hurry = asyncio.Event()  # a new stop is patient again, unless hurried just now
        selected = self.host.resolve(names, with_dependencies=False)
        if names and with_dependents:  # stopping a service stops what depends on it first
            selected = self.with_dependents(selected)
        reports: dict[str, StopReport] = {}
        for wave in self._stop_waves(selected):
            results = await asyncio.gather(*(self._stop_one(self.host.services[n]) for n in wave))
            reports.update(zip(wave, results, strict=True))
        return [reports[name] for name in selected]

    def with_dependents(self, names: list[str]) -> list[str]:
        selected = set(names)
        for spec in self.host.project.services:
            if selected & set(spec.depends_on):
                selected.add(spec.name)
        return [s.name for s in self.host.project.services if s.name in selected]

    def _stop_waves(self, names: list[str]) -> list[list[str]]:
        """Groups that can stop in parallel: a service waits for everything depending on it."""
        remaining = list(names)
        waves: list[list[str]] = []
        while remaining:
            wave = [
                n
                for n in remaining
                if not any(n in self.host.services[o].spec.depends_on for o in remaining if o != n)
            ]
            waves.append(wave or remaining[:1])
            remaining = [n for n in remaining if n not in waves[-1]]
        return waves

    async def _stop_one(self, service: Service) -> StopReport:
        if service.state in ALIVE or service.state in (State.BACKOFF, State.COMPLETED):
            self.host.transition(service, Event.STOP)
        if service.stop_task is not None:
            return await asyncio.shield(service.stop_task)
        # Down already: still sweep, in case something of it survived.
        return await reclaim(self.host.trace(service), exclude=self.host.daemon_pids())

    async def reclaim_run(self, service: Service) -> StopReport:
        run = service.run
        pinned = run is not None and not run.leader_reaped
        since = max(self.began, run.started_mono) if run is not None else None
        report = await reclaim(
            self.host.trace(service),
            group_pinned=pinned,
            exclude=self.host.daemon_pids(),
            hurry=self.hurry,
            since=since,
        )
        self.host.reap()
        if run is not None and run.exit_status is not None:
            report.exit = runner.exit_info(run.exit_status, run.exited_at or self.host.clock.time())
            service.record.last_exit = report.exit
        self.host.end_run(service)
        service.record.note = None if report.ok else "stop incomplete: see the stop report"
        self.host.log(f"{service.spec.name}: stop {report.outcome} in {report.elapsed:.3f}s")
        for swept in report.swept:
            self.host.events.emit("escapee_swept", service.spec.name, **swept)
        self.host.events.emit(
            "stopped",
            service.spec.name,
            outcome=report.outcome,
            elapsed=round(report.elapsed, 3),
            signal=report.signal,
            ok=report.ok,
            processes=report.members,
        )
        service.stop_task = None
        self.host.transition(service, Event.RECLAIMED)
        return report

    def stop_bound(self) -> float:
        """How long stopping everything may take: each run's own stop timeout (the one it was
        started with), or the configured one for a service that does not run, plus the sweep."""
        return (
            sum(self.host.trace(s).stop_timeout for s in self.host.services.values()) + STOP_SLACK
        )

    def hurry_stops(self) -> None:
        """Stops in progress SIGKILL now instead of waiting out their grace."""
        self.hurry.set()
        self.hurried_at = self.host.clock.monotonic()
