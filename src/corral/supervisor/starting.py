"""Starting services: dependencies first, ports claimed, then one spawn per run (``runner``) with
its record, log watch, readiness and events; and waiting, bounded, until they are ready. The
spawns of one loop turn share a start gate and one reading of the git HEAD. A collaborator of
the engine (its ``Host``), whose states it changes only through ``Host.transition``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, Protocol

from corral import events, logs
from corral.clock import Clock
from corral.lifecycle import ALIVE, DOWN, SATISFIED, Event, State
from corral.model import ProjectSpec
from corral.supervisor import runner, staleness
from corral.supervisor.port_claims import PortClaims
from corral.supervisor.readiness import Readiness
from corral.supervisor.report import StatusReport
from corral.supervisor.service import Service

HEAD_SHARED = 0.1  # seconds one reading of the git HEAD serves the spawns of a start


class Host(Protocol):
    """What starting needs of the engine that owns it."""

    project: ProjectSpec
    state_dir: Path
    run_id: str
    base_env: dict[str, str]
    clock: Clock
    services: dict[str, Service]
    sampler: logs.LogSampler
    events: events.EventLog
    readiness: Readiness
    port_claims: PortClaims
    report: StatusReport
    cleaned: list[str]  # orphans stopped for the current start, to report
    dirty: bool
    runs_begun: int

    def touch(self) -> None: ...
    def resolve(self, names: Iterable[str] | None, *, with_dependencies: bool) -> list[str]: ...
    def transition(self, service: Service, event: Event, **facts: Any) -> None: ...
    def background(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    def service_cgroup(self, name: str) -> Path | None: ...
    def record_exit(self, service: Service, *, failed: bool) -> None: ...
    def follow(self, pid: int) -> None: ...
    def log(self, message: str) -> None: ...


class Starting:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.gate: runner.StartGate | None = None  # services spawned this turn wait behind it
        self.head_read: tuple[float, str | None] = (float("-inf"), None)  # see _git_head

    async def start(
        self,
        names: Iterable[str] | None,
        timeout: float,
        wait: bool = True,
        started_by: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start the services (and their dependencies), then wait until each is ready, one fails,
        or ``timeout`` passes. Returns per service what happened. ``started_by`` (who asked) is
        recorded on the runs this start spawns."""
        self.host.touch()
        order = self.host.resolve(names, with_dependencies=True)
        # a completed oneshot counts as done: it runs again after a stop or restart
        started = self.would_start(names)
        already = [n for n in order if n not in started]
        for name in started:
            self.host.services[name].pending = True
            self.host.services[name].blocked = None
            if started_by is not None:  # a restart for a change keeps who started it
                self.host.services[name].requested_by = started_by
        for name in started:
            self.host.background(self._start_one(self.host.services[name]))
        failed = None
        if wait:
            failed = await self._wait_ready(order, self.host.clock.monotonic() + timeout)
            # one that was ready but died while the others got ready is this start's failure
            failed = failed or next(
                (n for n in order if self.host.services[n].state not in SATISFIED), None
            )
        cleaned, self.host.cleaned = self.host.cleaned, []
        return {
            "cleaned": cleaned,
            "services": [self.host.report.describe(n) for n in order],
            "already_running": already,
            "started": started,
            "failed": failed,
        }

    def would_start(self, names: Iterable[str] | None) -> list[str]:
        """What a start of ``names`` would spawn: the rest already runs (or completed)."""
        order = self.host.resolve(names, with_dependencies=True)
        return [n for n in order if self.host.services[n].state not in ALIVE | {State.COMPLETED}]

    async def _start_one(self, service: Service) -> None:
        try:
            if service.stop_task is not None:
                await asyncio.shield(service.stop_task)
            for dependency in service.spec.depends_on:
                if not await self._until_ready(self.host.services[dependency]):
                    done = (
                        "complete" if self.host.services[dependency].spec.oneshot else "get ready"
                    )
                    service.blocked = f"dependency {dependency!r} did not {done}"
                    service.record.note = f"not started: {service.blocked}"
                    return
            if service.state in DOWN or service.state is State.BACKOFF:
                problem = await self.host.port_claims.before_start(service)
                if problem:
                    service.blocked = problem
                    service.record.note = f"not started: {problem}"
                    self.host.log(f"{service.spec.name}: {service.record.note}")
                    return
                service.exits.clear()
                self.host.transition(service, Event.START)
        finally:
            service.pending = False
            service.notify()

    async def wait(self, names: Iterable[str] | None, timeout: float) -> dict[str, Any]:
        """Wait (bounded) until the services are ready; fail at once if one is down or failed."""
        self.host.touch()
        order = self.host.resolve(names, with_dependencies=False)
        if not names:
            order = [n for n in order if self.host.services[n].state not in DOWN]
        failed = await self._wait_ready(order, self.host.clock.monotonic() + timeout)
        return {"services": [self.host.report.describe(n) for n in order], "failed": failed}

    async def _until_ready(self, service: Service) -> bool:
        while service.pending or service.state in (State.STARTING, State.STOPPING):
            await service.changed.wait()
        return service.state in SATISFIED

    async def _wait_ready(self, order: list[str], deadline: float) -> str | None:
        """None when all are ready; else the first that failed, or that is late at the deadline."""
        while True:
            waiting = []
            for name in order:
                service = self.host.services[name]
                if service.pending or service.state is State.STARTING:
                    waiting.append(service)
                elif service.state not in SATISFIED:
                    return name
            if not waiting:
                return None
            remaining = deadline - self.host.clock.monotonic()
            if remaining <= 0:
                waiting[0].record.note = "not ready before the start timeout"
                return waiting[0].spec.name
            waits = [asyncio.ensure_future(s.changed.wait()) for s in waiting]
            await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()

    def spawn(self, service: Service) -> None:
        spec = service.spec = service.configured  # a new run takes the latest configuration
        service.record.note = None
        cgroup = self.host.service_cgroup(spec.name)
        try:
            run = runner.spawn(
                spec,
                base_env=self.host.base_env,
                project_id=self.host.project.project_id,
                run_id=self.host.run_id,
                state_dir=self.host.state_dir,
                cgroup=cgroup,
                gate=self._start_gate(),
                started_by=service.requested_by,
            )
        except (runner.SpawnFailed, OSError) as exc:  # OSError: e.g. no space for the log file
            service.record.note = str(exc)
            service.record.last_exit = {"code": 127, "signal": None, "time": self.host.clock.time()}
            self.host.log(f"{spec.name}: {exc}")
            self.host.record_exit(service, failed=True)  # counts toward the crash-loop limit
            return
        service.run = run
        self.host.runs_begun += 1
        self.host.follow(run.pid)  # before the gate opens: its first fork is seen too
        self.host.sampler.began(spec.name)  # its log exists now: watch it from the first line
        self._record_run(service, run)
        if self.gate is not None:  # the rest waits until the gate opens: it need not delay boots
            asyncio.get_running_loop().call_soon(self._announce_run, service, run)
        else:
            self._announce_run(service, run)

    def _announce_run(self, service: Service, run: runner.Run) -> None:
        """Log, event and readiness probe of a run just spawned."""
        if service.run is not run:
            return
        name = service.spec.name
        self.host.log(
            f"{name}: started pid {run.pid} pgid {run.pgid} ({service.spec.command_line})"
        )
        self.host.events.emit("started", name, pid=run.pid, command=service.spec.command_line)
        self.host.readiness.begin(service, run)

    def _start_gate(self) -> runner.StartGate | None:
        """The gate for this turn of the loop (see runner.StartGate), opened at the next."""
        if self.gate is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return None
            self.gate = runner.StartGate()
            loop.call_soon(self._open_gate)
        return self.gate

    def _open_gate(self) -> None:
        if self.gate is not None:
            self.gate.open()
            self.gate = None

    def _record_run(self, service: Service, run: runner.Run) -> None:
        record = service.record
        record.run = run.record  # one object: members found later are recorded in both
        record.last_exit = None
        record.stale = None
        service.watched = staleness.Watched(
            service.spec.cwd, service.spec.watch, run.started_at, self._git_head()
        )
        self.host.dirty = True

    def _git_head(self) -> str | None:
        """The project's git HEAD, read once for the services spawned together."""
        now = self.host.clock.monotonic()
        if now - self.head_read[0] > HEAD_SHARED:
            self.head_read = (now, staleness.git_head(self.host.project.root))
        return self.head_read[1]
