"""Port claims: a service's ports are free before it starts. A holder from this project that no
running service owns (an orphan of an earlier run) is stopped and reported; any other holder is
left alone and blocks the start, named. A collaborator of the engine (its ``Host``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from corral import logs, oslayer, ports
from corral.model import ProjectSpec, RunRecord
from corral.reclaim import reclaim, run_marker
from corral.supervisor.service import Service, quick_members

ORPHAN_STOP_TIMEOUT = 5.0  # seconds an orphan found on a port gets to exit after SIGTERM


class Host(Protocol):
    """What port claims need of the engine that owns them."""

    project: ProjectSpec
    state_dir: Path
    cgroup_root: Path | None
    services: dict[str, Service]
    cleaned: list[str]  # orphans stopped for the current start, to report

    def log(self, message: str) -> None: ...
    def daemon_pids(self) -> set[int]: ...


class PortClaims:
    def __init__(self, host: Host) -> None:
        self.host = host

    async def before_start(self, service: Service) -> str | None:
        """Make sure the service's ports are free before it starts. A holder from this project
        that no running service owns (an orphan of an earlier run) is stopped, and reported; any
        other holder is left alone and blocks the start (the returned reason names it).

        Without declared ports, the port ``PORT`` gives it is checked too: held by someone else,
        it blocks the start when the command names ``$PORT``; otherwise (it may read PORT from
        its environment, or not listen at all) a warning goes to its log, beside any error."""
        declared = service.spec.ports
        port_env = service.spec.env.get("PORT", "")
        listening = ports.listeners_this_turn()  # the services starting this turn share it
        if (
            not declared
            and port_env.isdigit()
            and not oslayer.port_is_free(int(port_env), listening)
        ):
            problem = await self._claim(int(port_env))
            if problem and "PORT" in service.spec.command_line:
                return f"{problem} (it is this service's PORT)"
            if problem:
                logs.write_marker(
                    self.host.state_dir, service.spec.name, f"corral: warning: {problem}"
                )
        for port in declared:
            # the bind probes still see a listener bound since the shared dump
            if oslayer.port_is_free(port, listening):
                continue  # the usual case
            problem = await self._claim(port)
            if problem:
                return problem
        return None

    async def _claim(self, port: int) -> str | None:
        """One held port: stop this project's orphan on it, or say who else holds it."""
        for holder in ports.holders(port):
            owner = self.running_owner(holder.pid)
            if owner is not None:
                return f"port {port} is held by service {owner!r} of this project"
            if not holder.is_ours(self.host.project.project_id):
                hint = holder.stop_command()
                return f"port {port} is held by {holder.describe()}" + (
                    f" (stop it with: {hint})" if hint else ""
                )
            await self._stop_orphan(port, holder)
        if not oslayer.port_is_free(port):
            return f"port {port} is still held after stopping this project's orphans"
        return None

    def running_owner(self, pid: int | None) -> str | None:
        for name, other in self.host.services.items():
            if other.run is not None and pid in quick_members(other):
                return name
        return None

    async def _stop_orphan(self, port: int, holder: ports.Holder) -> None:
        name = holder.service or "?"
        cgroup = self.host.cgroup_root / name if self.host.cgroup_root and holder.service else None
        identity = oslayer.identify(holder.pid) if holder.pid else None
        trace = RunRecord(
            self.host.project.project_id,
            name,
            run_id=run_marker(holder.pid),
            leader=identity,
            cgroup=str(cgroup) if cgroup else None,
            ports=(port,),
            stop_timeout=ORPHAN_STOP_TIMEOUT,
        )
        report = await reclaim(trace, exclude=self.host.daemon_pids())
        message = (
            f"port {port} was held by an orphan of this project ({holder.describe()}); "
            f"stopped {report.members} process(es)"
        )
        self.host.log(message)
        self.host.cleaned.append(message)
