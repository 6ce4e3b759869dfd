"""What a client does when the supervisor does not answer: a status built from the state file and
a process scan, and a stop that reclaims from the state file, ending an unreachable supervisor
too, each only after proving the processes are this project's."""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING, Any

from corral import client, oslayer
from corral.launch.launcher import EXIT_GRACE, await_exit
from corral.paths import socket_path

if TYPE_CHECKING:
    from corral.model import ProjectSpec

UNREACHABLE_EXIT_WAIT = 10.0  # seconds for an unreachable supervisor to stop all and exit


def stop_offline(
    project: ProjectSpec, services: list[str] | None
) -> tuple[list[dict[str, Any]], str | None]:
    import asyncio

    from corral.reclaim.recovery import reclaim_all

    state = _offline_state(project)
    reports = asyncio.run(reclaim_all(state, services, exclude=_daemon_pids(state)))
    problem = None
    if not services:
        problem = _stop_unreachable_supervisor(project, state)
        _remove_stale_socket(project)
    return [report.to_dict() for report in reports], problem


def _offline_state(project: ProjectSpec) -> Any:
    """The recorded state, or, with none, one that lets markers and ports find leftovers."""
    from corral.model import RunRecord
    from corral.state import ProjectState, ServiceRecord, read_state

    state = read_state(project.root, oslayer.boot_id(), project.project_id)
    if state is None:
        state = ProjectState(project.project_id, str(project.root), oslayer.boot_id())
    for spec in project.services:
        record = state.services.setdefault(spec.name, ServiceRecord(spec.name))
        if record.run is None:
            record.run = RunRecord.for_spec(project.project_id, spec)
    return state


def _daemon_pids(state: Any) -> set[int]:
    """The recorded supervisor and guard, while they still are those processes: never members
    of a service, though the supervisor holds every lifeline's other end and is every leader's
    parent (a hung supervisor must not widen a stop of one service to all of them)."""
    from corral.reclaim import same_process

    return {i.pid for i in (state.supervisor, state.guard) if i is not None and same_process(i)}


def _stop_unreachable_supervisor(project: ProjectSpec, state: Any) -> str | None:
    """End a supervisor that holds the lock but cannot be reached (its socket was removed, it
    hangs, or it is stopped by SIGSTOP), once the offline stop has reclaimed its services: ask
    it to exit (SIGCONT and SIGTERM to the supervisor itself, which its guard follows), wait
    within a bound, then SIGKILL both. Each signal goes to the recorded identity, after its role
    marker is checked. Returns what is still running, or None."""

    from corral.locks import supervisor_alive

    if not supervisor_alive(project.root):
        return None
    if client.ping(socket_path(project.project_id), timeout=0.2) is not None:
        return None  # it answers (a supervisor that started meanwhile): not ours to end
    daemons = _verified_daemons(project, state)
    for sig in (signal.SIGCONT, signal.SIGTERM):
        for identity in daemons.get("supervisor", []) or daemons.get("guard", []):
            oslayer.safe_signal(identity, sig)
    if await_exit(project, UNREACHABLE_EXIT_WAIT):
        return None
    for identity in [*daemons.get("supervisor", []), *daemons.get("guard", [])]:
        oslayer.safe_signal(identity, signal.SIGKILL)
    if await_exit(project, EXIT_GRACE):
        return None
    pids = ", ".join(str(i.pid) for ids in daemons.values() for i in ids) or "unknown pids"
    return f"the supervisor does not exit and could not be killed ({pids})"


def _verified_daemons(project: ProjectSpec, state: Any) -> dict[str, list[Any]]:
    """The recorded supervisor and guard that still are those processes, and say so."""
    from corral import markers as marker_names
    from corral.reclaim import same_process

    found: dict[str, list[Any]] = {}
    for role in ("supervisor", "guard"):
        identity = getattr(state, role, None)
        if identity is None or not same_process(identity):
            continue
        markers = oslayer.read_markers(identity.pid) or {}
        if markers.get(marker_names.ROLE) == role and (
            markers.get(marker_names.PROJECT) == project.project_id
        ):
            found[role] = [identity]
    return found


def _remove_stale_socket(project: ProjectSpec) -> None:
    """A socket file nobody listens on, with no supervisor holding the lock, is stale."""

    from corral.locks import supervisor_alive

    sock = socket_path(project.project_id)
    if sock.exists() and not supervisor_alive(project.root) and not client.ping(sock):
        with contextlib.suppress(OSError):
            sock.unlink()


def status_offline(
    project: ProjectSpec, problem: str | None, *, unanswered: str | None = None
) -> dict[str, Any]:
    """Status from the state file plus a scan: what is alive is alive, whoever watches it.
    ``unanswered`` is why the supervisor could not be asked: a problem if it is alive."""
    from corral import status as document
    from corral.locks import supervisor_alive
    from corral.reclaim import find_members
    from corral.state import foreign_state, read_state

    state = read_state(project.root, oslayer.boot_id(), project.project_id)
    alive = supervisor_alive(project.root)
    if alive and problem is None and unanswered is not None:
        pid = state.supervisor.pid if state is not None and state.supervisor else None
        who = f"the supervisor (pid {pid})" if pid else "the supervisor"
        problem = f"{who} runs but could not be asked: {unanswered}"
    excluded = _daemon_pids(state) if state is not None else set()
    services = []
    for spec in project.services:
        record = state.services.get(spec.name) if state else None
        if record is None or record.run is None:
            services.append(document.service_entry(spec.name, "stopped", ports=spec.ports))
            continue
        run = record.run
        members = find_members(run, excluded)
        entry = document.service_entry(
            spec.name,
            _offline_state_name(record.state, bool(members), alive),
            ports=run.ports,
            restarts=record.restarts,
            last_exit=record.last_exit,
            note=record.note,
            members=sorted(members),
        )
        if members:
            leader = run.leader.pid if run.leader and run.leader.pid in members else None
            entry.update(
                pid=leader or min(members),
                pgid=run.pgid,
                started_at=run.started_at,
                started_by=run.started_by,
                stale=record.stale,
            )
        services.append(entry)
    supervisor = None
    if state is not None and state.supervisor is not None:
        supervisor = {
            "pid": state.supervisor.pid,
            "run_id": state.run_id,
            "started_at": state.started_at,
            "alive": alive,
        }
    foreign = foreign_state(project.root, project.project_id)
    return document.document(
        document.OFFLINE,
        services,
        supervisor=supervisor,
        problem=problem,
        warnings=[foreign] if foreign else [],
        ended=state.ended if state else None,
        tether=state.tether if state else None,
    )


def _offline_state_name(recorded: str, alive_members: bool, supervisor_alive: bool) -> str:
    if alive_members:
        return recorded if supervisor_alive else "orphaned"
    return recorded if recorded in ("exited", "crashed", "completed") else "stopped"
