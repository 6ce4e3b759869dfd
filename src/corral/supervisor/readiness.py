"""Readiness: when a run counts as ready. A probe from the config (or the default tcp probe on
declared ports) is polled until it passes or its timeout; without one, a run is ready once it
stayed up for the settle time. A collaborator of the engine (its ``Host``), whose state it
changes only through ``Host.transition``.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol

from corral import logs, oslayer
from corral.clock import Clock
from corral.lifecycle import Event, State
from corral.model import ProbeKind, ProcessIdentity, ProjectSpec, ReadyProbe
from corral.reclaim import holds_run
from corral.supervisor import probes, runner
from corral.supervisor.service import Service, quick_members

FIRST_POLL = 0.002  # seconds before the second probe: a server that listens at once is seen at once
QUICK_POLL = 0.01  # the pause grows by half up to this in a run's first moments
QUICK_PHASE = 0.5  # then it doubles up to the probe's interval
NO_PROBE = "no probe"  # the note of a run made ready by the settle time alone


class Host(Protocol):
    """What readiness needs of the engine that owns it."""

    project: ProjectSpec
    state_dir: Path
    run_id: str
    base_env: dict[str, str]
    settle_time: float
    clock: Clock
    probe_children: dict[int, tuple[subprocess.Popen[bytes], asyncio.Future[int]]]

    def transition(self, service: Service, event: Event) -> None: ...
    def background(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    def log(self, message: str) -> None: ...


class Readiness:
    def __init__(self, host: Host) -> None:
        self.host = host

    def _settled(self, service: Service, run: runner.Run) -> None:
        if service.run is run and service.state is State.STARTING:
            service.record.note = NO_PROBE  # ready only in the sense that it stayed up
            self.host.transition(service, Event.READY)

    def begin(self, service: Service, run: runner.Run) -> None:
        """Watch a run just spawned until it is ready (or its probe gives up)."""
        if service.spec.oneshot:
            return  # not ready but done: its exit 0 completes it (see lifecycle)
        ready = probes.default_probe(service.spec.ready, service.spec.ports)
        if ready is None:
            loop = asyncio.get_running_loop()
            loop.call_later(self.host.settle_time, self._settled, service, run)
            return
        probe = self._make_probe(service, run, ready)
        self.host.background(self._probe_loop(service, run, probe, ready))

    def _make_probe(self, service: Service, run: runner.Run, ready: ReadyProbe) -> probes.Probe:
        spec = service.spec
        if ready.kind is ProbeKind.TCP:
            ports = spec.ports if spec.ready is None else (int(ready.target),)
            return probes.TcpProbe(
                ports,
                lambda: quick_members(service),
                lambda pid: holds_run(run.record, pid),
                leader=run.pid,
            )
        if ready.kind is ProbeKind.HTTP:
            return probes.HttpProbe(str(ready.target))
        if ready.kind is ProbeKind.LOG:
            cursor = logs.Cursor(self.host.state_dir, spec.name, run.log_offset)
            return probes.LogProbe(str(ready.target), lambda: cursor.read(blocking=False))
        return probes.CmdProbe(str(ready.target), lambda cmd, t: self._run_probe(service, cmd, t))

    async def _probe_loop(
        self, service: Service, run: runner.Run, probe: probes.Probe, ready: ReadyProbe
    ) -> None:
        begun = self.host.clock.monotonic()
        deadline = begun + ready.timeout
        pause = min(FIRST_POLL, ready.interval)
        while service.run is run and service.state is State.STARTING:
            result = await probe.check()
            if service.run is not run or service.state is not State.STARTING:
                return
            if result.passed:
                service.record.note = None
                self.host.transition(service, Event.READY)
                return
            if self.host.clock.monotonic() >= deadline:
                service.record.note = f"not ready after {ready.timeout:g}s: {result.reason}"
                self.host.log(f"{service.spec.name}: {service.record.note}")
                self.host.transition(service, Event.PROBE_FAILED)
                return
            note = f"not ready yet: {result.reason}"
            if note != service.record.note:  # waiters wake for news, not for every poll
                service.record.note = note
                service.notify()
            await asyncio.sleep(pause)
            if self.host.clock.monotonic() - begun > QUICK_PHASE:  # most services are ready by then
                pause = min(pause * 2, ready.interval)
            else:  # 2, 3, 4.5, 6.75, 10 ms: as many probes as a 10 ms poll, sooner at first
                pause = min(pause * 1.5, QUICK_POLL, ready.interval)

    def _run_probe(self, service: Service, command: str, timeout: float) -> asyncio.Future[int]:
        """Run a probe command as our child; ``reap`` resolves the future with its exit code."""
        env = runner.service_env(
            service.spec,
            self.host.base_env,
            self.host.project.project_id,
            self.host.run_id,
            str(self.host.project.root),
        )
        child = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=service.spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.host.probe_children[child.pid] = (child, future)
        handle = oslayer.open_process(oslayer.identify(child.pid) or ProcessIdentity(child.pid, 0))

        async def bounded() -> int:
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                if handle is not None:
                    handle.signal(signal.SIGKILL)
                raise
            finally:
                if handle is not None:
                    handle.close()

        return asyncio.ensure_future(bounded())
