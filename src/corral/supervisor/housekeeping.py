"""The supervisor's periodic work on running services, apart from readiness: recording each
run's members and the ports they bind, marking stale code, and restarting watched services when
their files change. A collaborator of the engine (its ``Host``), called by the daemon's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, Protocol

from corral import events, oslayer, status
from corral.clock import Clock
from corral.lifecycle import ALIVE
from corral.model import ProjectSpec
from corral.reclaim import StopReport, descendants
from corral.supervisor import staleness
from corral.supervisor.service import Service, quick_members

SETTLING = 15.0  # a run this young has its members recorded at every housekeeping pass
SETTLED_REFRESH = 30.0  # and afterwards this often (see refresh_members)


class Host(Protocol):
    """What housekeeping needs of the engine that owns it."""

    project: ProjectSpec
    clock: Clock
    services: dict[str, Service]
    dirty: bool  # the state file needs a write
    events: events.EventLog
    listener_owners: status.ListenerOwners
    survey: staleness.Survey
    auto_restart: set[str]  # services restarted when their files change

    def log(self, message: str) -> None: ...
    def background(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    def check_run_over(self, service: Service) -> None: ...
    async def stop(
        self, names: Iterable[str] | None, with_dependents: bool = True
    ) -> list[StopReport]: ...
    async def start(
        self,
        names: Iterable[str] | None,
        timeout: float,
        wait: bool = True,
        started_by: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...


class Housekeeping:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.forks = oslayer.fork_watch()  # macOS: members' forks, read by the daemon's loop

    def follow(self, pid: int) -> None:
        """Watch a member for forks, where the layer has fork events (see record_children)."""
        if self.forks is not None:
            self.forks.watch(pid)

    def on_forks(self) -> None:
        """The loop's reader for ``forks``: some watched members forked."""
        if self.forks is not None:
            self.record_children(self.forks.forked())

    def record_children(self, parents: Iterable[int]) -> None:
        """Record, and watch in turn, the children of members that just forked, while they are
        still their children. Without a subreaper or a cgroup (macOS), a child that a double
        fork hands to launchd is otherwise found only by its markers or its lifeline, which
        a daemon that scrubs its environment and closes its descriptors does not keep. A fork
        and exit faster than this reaction still escape that way: it narrows the window."""
        parents = set(parents)
        if not parents:
            return
        tree = oslayer.ProcessTree()  # now, not this turn's: the children are new
        for service in self.host.services.values():
            run = service.run
            if run is None:
                continue
            known = {m.pid for m in run.record.members}
            forked = parents & (known | {run.pid})
            for pid in sorted(descendants(forked, tree) - known) if forked else ():
                identity = oslayer.identify(pid, with_inode=True)
                if identity is not None:
                    run.record.members.append(identity)
                    self.follow(pid)
                    self.host.dirty = True

    def refresh_members(self) -> None:
        """Record every live member of every running service (pid and start time), found by
        the cheap layers; the full scans (markers, lifeline fds) are kept for stops.

        A run in its first seconds (forking workers, binding ports) is looked at on every call;
        a settled one every ``SETTLED_REFRESH`` seconds: that is most of an idle supervisor's
        cost, and the other layers find what a late look would miss."""
        found: dict[int, Service] = {}
        now = self.host.clock.monotonic()
        for service in self.host.services.values():
            run = service.run
            if run is None:
                continue
            settled = now - run.started_mono > SETTLING
            if settled and now - service.refreshed_at < SETTLED_REFRESH and not run.leader_reaped:
                continue
            service.refreshed_at = now
            members = quick_members(service)
            found.update(dict.fromkeys(members, service))
            known = {m.pid for m in run.record.members}
            for pid in members - known:
                identity = oslayer.identify(pid, with_inode=True)
                if identity is not None:
                    run.record.members.append(identity)
                    self.follow(pid)
                    self.host.dirty = True
            if run.leader_reaped:
                self.host.check_run_over(service)
        self._note_bound_ports(found)

    def _note_bound_ports(self, pids: dict[int, Service]) -> None:
        if not pids:
            return
        running = list({id(s): s for s in pids.values()}.values())  # Service is unhashable
        listening = self.host.listener_owners.listening(
            set(pids)
        )  # fds scanned for new sockets only
        for service in running:
            bound = {p for pid, s in pids.items() if s is service for p in listening.get(pid, ())}
            for port in sorted(bound - service.ports_seen):
                self.host.events.emit("port_bound", service.spec.name, port=port)
            service.ports_seen = bound

    def check_stale(self) -> None:
        """Mark running services whose code changed after they started."""
        self.host.survey.begin()
        for service in self.host.services.values():
            if service.run is None or service.watched is None:
                continue
            stale = service.watched.check(self.host.project.root, self.host.survey)
            if stale != service.record.stale:
                if stale and not service.record.stale:
                    self.host.log(
                        f"{service.spec.name}: stale: {stale['files']} file(s) changed "
                        f"since start {stale['first']}"
                        + (", git HEAD moved" if stale["head_moved"] else "")
                    )
                if stale and not service.record.stale:
                    self.host.events.emit("stale_detected", service.spec.name, **stale)
                service.record.stale = stale
                self.host.dirty = True

    def on_changes(self, paths: list[str]) -> None:
        """Restart the running, watched services whose files are among ``paths``."""
        for name in sorted(self.host.auto_restart):
            service = self.host.services.get(name)
            if service is None or service.state not in ALIVE or service.stop_task is not None:
                continue
            matched = [
                p for p in paths if staleness.matches(Path(p), service.spec.cwd, service.spec.watch)
            ]
            if matched:
                shown = ", ".join(Path(p).name for p in matched[:3])
                self.host.log(f"{name}: restarting: {len(matched)} file(s) changed ({shown})")
                self.host.events.emit("restart_for_change", name, files=matched[:20])
                self.host.background(self._restart_for_change(name))

    async def _restart_for_change(self, name: str) -> None:
        await self.host.stop([name], with_dependents=False)
        self.host.services[name].record.restarts += 1
        await self.host.start([name], timeout=60.0)

    def watch_directories(self) -> list[str]:
        return sorted(
            {
                str(self.host.services[n].spec.cwd)
                for n in self.host.auto_restart
                if n in self.host.services
            }
        )
