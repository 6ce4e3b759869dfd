"""The supervisor core: services, their runs and states, restarts, stops, status.

Single-threaded on an asyncio loop (runner spawns with a preexec function, which is only safe
without threads). Every state change goes through ``transition``, which applies the lifecycle
table, logs the edge and marks the state file dirty. The clock is injected for tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from corral import events, logs, oslayer, status
from corral.clock import SYSTEM, Clock
from corral.errors import CorralError, NoTerminal, NothingRunning, check_services
from corral.lifecycle import ALIVE, DOWN, Action, Event, RestartRules, State, decide
from corral.model import ProjectSpec, RunRecord, ServiceSpec
from corral.reclaim import StopReport, find_members
from corral.state import ProjectState, write_state
from corral.supervisor import runner, staleness
from corral.supervisor.housekeeping import Housekeeping
from corral.supervisor.port_claims import PortClaims
from corral.supervisor.readiness import NO_PROBE, Readiness
from corral.supervisor.report import StatusReport
from corral.supervisor.service import Service
from corral.supervisor.starting import Starting
from corral.supervisor.stopping import Stopping
from corral.supervisor.terminal import Terminal, TerminalClosed

SETTLE_TIME = 0.5  # a service without a probe is ready once it stayed up this long
SAVE_DELAY = 0.05  # seconds a state change waits for the others of its burst (see save_soon)
BUSY_SAVE_DELAY = 0.2  # the same while the changes keep coming (a save was that recent)


class Engine:
    def __init__(
        self,
        project: ProjectSpec,
        *,
        state: ProjectState,
        state_dir: Path,
        log: Callable[[str], None],
        clock: Clock = SYSTEM,
    ) -> None:
        self.project = project
        self.state = state
        self.state_dir = state_dir
        self.run_id = state.run_id or os.urandom(16).hex()
        self.log = log
        self.clock = clock
        self.settle_time = SETTLE_TIME
        self.base_env: dict[str, str] = dict(os.environ)
        self.services: dict[str, Service] = {}
        self.sampler = logs.LogSampler(state_dir, [])
        self.events = events.EventLog(state_dir, clock.time)
        self.cgroup_root = self._cgroup_root()
        self.dirty = True
        self.save_pending = False
        self.saved_at = -BUSY_SAVE_DELAY  # monotonic time of the last write of the state file
        self.sealed = False  # the supervisor's last write is done: nothing more is saved
        self.save_problem: str | None = None  # why the last state write failed, until one works
        self.survey = staleness.Survey()  # shared by the services' stale checks
        self.last_touch = self.clock.monotonic()
        self.cleaned: list[str] = []  # orphans stopped for the current start, to report
        self.auto_restart: set[str] = set()  # services restarted when their files change
        self.tasks: set[asyncio.Task[Any]] = set()  # strong references: asyncio keeps weak ones
        self.probe_children: dict[int, tuple[subprocess.Popen[bytes], asyncio.Future[int]]] = {}
        self.helpers: dict[int, subprocess.Popen[bytes]] = {}  # e.g. the file watcher
        self.readiness = Readiness(self)
        self.generation = 0  # counts transitions and reaps: what a member cache predates
        self.runs_begun = 0  # counts spawned leaders: what a map of leaders predates
        self.listener_owners = status.ListenerOwners()
        self.port_claims = PortClaims(self)
        self.report = StatusReport(self)
        self.housekeeping = Housekeeping(self)
        self.stopping = Stopping(self)
        self.starting = Starting(self)
        self.update_project(project)

    # ---- configuration -------------------------------------------------------------------

    def update_project(self, project: ProjectSpec) -> None:
        """Adopt a newer configuration: running services keep theirs until they restart. A
        service that runs but is not in it (a copy started with ``-m web=2``, a Procfile line
        removed since) stays supervised, so that a plain stop still stops it."""
        named = {spec.name for spec in project.services}
        kept = tuple(
            s.spec for n, s in self.services.items() if n not in named and s.state not in DOWN
        )
        if kept:
            project = dataclasses.replace(project, services=(*project.services, *kept))
        self.project = project
        settings = project.settings
        self.settle_time = settings.settle_time
        self.sampler.max_size = settings.log_max_size
        self.sampler.keep = settings.log_keep
        for spec in project.services:
            service = self.services.get(spec.name)
            if service is None:
                service = self.services[spec.name] = Service(spec)
                self.state.services[spec.name] = service.record
                self.sampler.add(spec.name)
                self.service_cgroup(spec.name)  # now, not while its peers boot beside it
            service.configured = spec  # the next run's; a running one keeps its own spec
            if service.state in DOWN:
                service.spec = spec
            if spec.watch:
                self.auto_restart.add(spec.name)

    def _cgroup_root(self) -> Path | None:
        root = oslayer.project_cgroup(self.project.project_id)
        if root is None:
            return None
        try:
            oslayer.cgroup_create(root)
        except OSError:
            return None
        return root

    def background(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task that cannot be garbage-collected before it ends."""
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def resolve(self, names: Iterable[str] | None, *, with_dependencies: bool) -> list[str]:
        """Service names in start order; unknown names are a usage error."""
        known = [spec.name for spec in self.project.services]
        wanted = list(names or [])
        check_services(wanted, known)
        if not wanted:
            wanted = [s.name for s in self.project.services if s.autostart or not with_dependencies]
        selected = set(wanted)
        if with_dependencies:
            for spec in reversed(self.project.services):
                if spec.name in selected:
                    selected.update(spec.depends_on)
        return [name for name in known if name in selected]

    # ---- transitions ---------------------------------------------------------------------

    def transition(self, service: Service, event: Event, **facts: Any) -> None:
        rules = self._rules(service.spec)
        decision = decide(service.state, event, rules, now=self.clock.monotonic(), **facts)
        if decision.state is not service.state:
            self.log(f"{service.spec.name}: {service.state} -> {decision.state} ({event})")
        previous = service.state
        service.state = decision.state
        service.record.state = str(decision.state)
        self.dirty = True
        self.generation += 1
        self._emit_transition(service, event, previous, decision)
        for action in decision.actions:
            self._act(service, action, decision.delay)
        self.save_soon()  # a client reading the state file (supervisor hung) sees every change
        service.notify()

    def _emit_transition(
        self, service: Service, event: Event, previous: State, decision: Any
    ) -> None:
        """The event-stream side of a transition (what agents read with ``corral events``)."""
        name = service.spec.name
        record = service.record
        if event in (Event.START, Event.BACKOFF_ELAPSED):
            self.events.emit("starting", name)
        elif event is Event.READY:
            self.events.emit("ready", name, pid=service.run.pid if service.run else None)
        elif event is Event.PROBE_FAILED:
            self.events.emit("probe_failed", name, reason=record.note)
        elif event is Event.EXIT and previous is not State.STOPPING:
            self.events.emit("exited", name, **(record.last_exit or {}))
            if decision.state is State.BACKOFF:
                self.events.emit("restarting", name, delay=decision.delay)
            elif decision.state is State.CRASHED:
                self.events.emit("crashed", name, restarts=record.restarts)
        elif event is Event.STOP and previous is not decision.state:
            self.events.emit("stop_requested", name)

    def _rules(self, spec: ServiceSpec) -> RestartRules:
        return RestartRules(
            policy=spec.restart,
            limit=spec.restart_limit,
            window=spec.restart_window,
            oneshot=spec.oneshot,
        )

    def _act(self, service: Service, action: Action, delay: float) -> None:
        if action is Action.SPAWN:
            self.starting.spawn(service)
        elif action is Action.SCHEDULE_RESTART:
            loop = asyncio.get_running_loop()
            service.record.note = f"restarting in {delay:g}s"
            service.restart_timer = loop.call_later(delay, self._restart_due, service)
        elif action is Action.CANCEL_RESTART and service.restart_timer is not None:
            service.restart_timer.cancel()
            service.restart_timer = None
        elif action is Action.RECLAIM:
            service.stop_task = self.background(self.stopping.reclaim_run(service))

    def _restart_due(self, service: Service) -> None:
        service.restart_timer = None
        if service.state is State.BACKOFF:
            service.record.restarts += 1
            self.transition(service, Event.BACKOFF_ELAPSED)

    # ---- start ---------------------------------------------------------------------------

    async def start(
        self,
        names: Iterable[str] | None,
        timeout: float,
        wait: bool = True,
        started_by: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return await self.starting.start(names, timeout, wait, started_by)

    def would_start(self, names: Iterable[str] | None) -> list[str]:
        return self.starting.would_start(names)

    async def wait(self, names: Iterable[str] | None, timeout: float) -> dict[str, Any]:
        return await self.starting.wait(names, timeout)

    def service_cgroup(self, name: str) -> Path | None:
        if self.cgroup_root is None:
            return None
        path = self.cgroup_root / name
        try:
            oslayer.cgroup_create(path)
        except OSError:
            return None
        return path

    def send(self, name: str, data: bytes) -> int:
        """Write ``data`` to the terminal of service ``name``, as if typed there."""
        terminal = self.terminal_of(name)
        try:
            terminal.write(data)
        except TerminalClosed as exc:
            raise CorralError(f"{name}: {exc}") from None
        self.touch()
        return len(data)

    def terminal_of(self, name: str) -> Terminal:
        """The terminal of running tty service ``name``, or the error that says why not."""
        check_services([name], list(self.services))
        service = self.services[name]
        if not service.configured.tty:
            raise NoTerminal(
                f"{name} runs without a terminal",
                hint=f"set tty = true in its [services.{name}] table, then corral restart {name}",
            )
        run = service.run
        if run is None or run.terminal is None:
            raise NothingRunning(f"{name} is not running", hint=f"corral start {name}")
        return run.terminal

    # ---- exits ---------------------------------------------------------------------------

    def reap(self) -> None:
        """Collect every exited child: our leaders and the orphans reparented to us."""
        leaders: dict[int, Service] = {}  # built once per call, a stop reaps hundreds...
        mapped = -1  # ...and again if a leader was spawned meanwhile (a restart)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.generation += 1
            if pid in self.helpers:
                self.helpers.pop(pid).returncode = os.waitstatus_to_exitcode(status)
                continue
            if pid in self.probe_children:
                child, future = self.probe_children.pop(pid)
                child.returncode = os.waitstatus_to_exitcode(status)
                if not future.done():
                    future.set_result(child.returncode)
                continue
            if mapped != self.runs_begun:
                leaders, mapped = self._services_by_leader(), self.runs_begun
            service = leaders.get(pid)
            if service is None:
                self.log(f"reaped orphan pid {pid} ({runner.describe_status(status)})")
                continue
            assert service.run is not None
            service.run.exit_status = status
            service.run.exited_at = self.clock.time()
            self.check_run_over(service)

    def _services_by_leader(self) -> dict[int, Service]:
        return {s.run.pid: s for s in self.services.values() if s.run is not None}

    def check_run_over(self, service: Service) -> None:
        """A run is over when its leader exited and none of its members is left."""
        run = service.run
        if run is None or not run.leader_reaped or service.state is State.STOPPING:
            return
        if find_members(self.trace(service)):
            service.record.note = "leader exited; other processes of the service still run"
            return
        self.end_run(service)
        assert run.exit_status is not None
        code = os.waitstatus_to_exitcode(run.exit_status)
        if service.state is State.READY and service.record.note == NO_PROBE:
            uptime = self.clock.time() - (run.started_at or self.clock.time())
            service.record.note = (
                f"exited {uptime:.1f}s after it started, after it was reported ready without a "
                f"probe (it stayed up {self.settle_time:g}s): give it a ready probe"
            )
        failed = code != 0
        service.record.last_exit = runner.exit_info(run.exit_status, self.clock.time())
        self.log(f"{service.spec.name}: pid {run.pid} {runner.describe_status(run.exit_status)}")
        logs.write_marker(
            self.state_dir, service.spec.name, f"corral: {runner.describe_status(run.exit_status)}"
        )
        self.record_exit(service, failed=failed)

    def record_exit(self, service: Service, *, failed: bool) -> None:
        """The EXIT transition, decided from the exits before this one; then this one joins
        them (the restart window and backoff count every exit, spawn failures included)."""
        recent = list(service.exits)
        service.exits.append(self.clock.monotonic())
        self.transition(service, Event.EXIT, failed=failed, recent_exits=recent)

    def end_run(self, service: Service) -> None:
        if service.run is not None:
            service.run.close()
        service.run = None

    # ---- stop ----------------------------------------------------------------------------

    async def stop(
        self, names: Iterable[str] | None, with_dependents: bool = True
    ) -> list[StopReport]:
        return await self.stopping.stop(names, with_dependents)

    async def restart(
        self, names: Iterable[str] | None, timeout: float, started_by: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Stop the services (and what depends on them), then start again each one named and
        every dependent the stop took down, in dependency order. The result names those brought
        back (``dependents``) besides the stop reports and the start's outcome."""
        wanted = list(names or [])
        stopping = self.resolve(wanted or None, with_dependencies=False)
        if wanted:
            stopping = self.stopping.with_dependents(stopping)
        was_up = [n for n in stopping if self.services[n].state in ALIVE | {State.BACKOFF}]
        reports = await self.stop(wanted or None)
        if not wanted:  # everything: back comes what ran, and the autostart services
            wanted = self.resolve(None, with_dependencies=True)
        dependents = [n for n in was_up if n not in wanted]
        result = await self.start([*wanted, *dependents], timeout, True, started_by)
        return {"reports": [r.to_dict() for r in reports], **result, "dependents": dependents}

    def daemon_pids(self) -> set[int]:
        pids = {os.getpid()}
        if self.state.guard is not None:
            pids.add(self.state.guard.pid)
        return pids

    def trace(self, service: Service) -> RunRecord:
        """What a stop of ``service`` goes by: its run as recorded (with the stop settings it
        was started with), or, never started, what its configuration says."""
        run = service.record.run
        return run if run is not None else RunRecord.for_spec(self.project.project_id, service.spec)

    # ---- housekeeping --------------------------------------------------------------------

    def follow(self, pid: int) -> None:
        self.housekeeping.follow(pid)

    def touch(self) -> None:
        self.last_touch = self.clock.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request that touched the engine."""
        return self.clock.monotonic() - self.last_touch

    def adopt_helper(self, process: subprocess.Popen[bytes]) -> None:
        """A helper process of the supervisor's (the file watcher): reaped here, never a
        service."""
        self.helpers[process.pid] = process

    def watch(self, names: list[str]) -> None:
        """These services restart when their files change, from now on."""
        self.auto_restart.update(names)

    def set_base_env(self, env: dict[str, str]) -> None:
        """The environment the next spawns start from (the client's, on a start)."""
        self.base_env = env

    def set_tether(self, tether: dict[str, Any] | None) -> None:
        self.state.tether = tether
        self.dirty = True

    def set_lease(self, ttl: float | None) -> None:
        self.state.lease = ttl
        self.dirty = True

    def seal(self, ended: dict[str, Any]) -> None:
        """The supervisor's last write: how it ended. Nothing is saved after it, so a project
        directory deleted right after the final reply stays deleted."""
        self.state.ended = ended
        self.dirty = True
        self.events.emit("supervisor_exited", reason=ended.get("reason"))
        self.save()
        self.sealed = True

    def busy(self) -> bool:
        return any(s.state not in DOWN for s in self.services.values())

    def save(self) -> None:
        """Write the state file if it changed. A write that fails (a full disk, a removed
        ``.corral/``) never breaks what asked for it: the state stays dirty, the next save
        tries again, and status reports the problem with its fix meanwhile."""
        self.save_pending = False
        if not self.dirty or self.sealed:
            return
        try:
            write_state(self.project.root, self.state)
        except OSError as exc:
            problem = (
                f"cannot write the state file: {exc.strerror} (in {self.state_dir}): "
                "free some space there; corral writes it again as soon as it can"
            )
            if problem != self.save_problem:
                self.log(problem)
            self.save_problem = problem
            return
        self.dirty = False
        self.save_problem = None
        self.saved_at = self.clock.monotonic()

    def save_soon(self) -> None:
        """Save once the current burst of changes is over (``SAVE_DELAY`` later): starting 200
        services is some 400 transitions over many turns of the loop, and a few writes, not one
        per turn; while a burst lasts (the last write was recent), every ``BUSY_SAVE_DELAY``.
        The supervisor also saves before every reply (corral.supervisor.daemon), so what a client
        was told is on disk. A run a crash leaves unrecorded still dies: its leader by the death
        signal, the rest as orphans of the guard (their subreaper), which kills its children."""
        if self.save_pending:
            return
        busy = self.clock.monotonic() - self.saved_at < BUSY_SAVE_DELAY
        try:
            asyncio.get_running_loop().call_later(
                BUSY_SAVE_DELAY if busy else SAVE_DELAY, self.save
            )
        except RuntimeError:  # no loop (tests driving the engine directly): save now
            self.save()
            return
        self.save_pending = True

    async def shutdown(self) -> list[StopReport]:
        reports = await self.stop(None)  # a sweep even when idle: each service gets its report
        if self.cgroup_root is not None:
            oslayer.cgroup_remove(self.cgroup_root)
        return reports


__all__ = ["CorralError", "Engine"]
