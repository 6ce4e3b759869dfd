"""The operations people and agents ask for, as one narrow interface over the supervisor.

The CLI and the MCP server call these; they never talk to the engine directly. When the
supervisor does not answer, read operations fall back to the state file plus a process scan, and
``stop`` reclaims from the state file, so that nothing depends on a live supervisor.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corral import client, oslayer, protocol
from corral.errors import (
    NothingRunning,
    SupervisorTimeout,
    SupervisorUnavailable,
)
from corral.paths import socket_path

if TYPE_CHECKING:
    from corral.model import ProjectSpec

STATUS_TIMEOUT = 1.0
MARGIN = protocol.REPLY_MARGIN
UNREACHABLE_EXIT_WAIT = 10.0  # seconds for an unreachable supervisor to stop all and exit
EXIT_GRACE = 2.0  # seconds a supervisor that closed its socket gets to finish exiting
SILENT_GRACE = 5.0  # seconds a silent lock holder (starting, or exiting) gets before a stop ends it
LAUNCH_ATTEMPTS = 5  # a start that meets supervisors shutting down, one after another
STOP_ATTEMPTS = 5  # a stop that meets supervisors finishing or starting, one after another


def _request(
    project: ProjectSpec, op: str, services: list[str] | None, **extra: Any
) -> dict[str, Any]:
    from corral.model import spec_to_dict

    return {"op": op, "services": services or None, "project": spec_to_dict(project), **extra}


def start(
    project: ProjectSpec,
    config_file: Path | None,
    services: list[str] | None,
    timeout: float,
    wait: bool = True,
    session: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``session`` may carry "tether" (a dict, or None to clear) and "ttl" (seconds, 0 clears)."""
    from corral.agents import starter

    message = _request(
        project,
        "start",
        services,
        env=dict(os.environ),
        timeout=timeout,
        wait=wait,
        started_by=starter(),
        **(session or {}),
    )
    return _call_starting(project, config_file, message, timeout, timeout + MARGIN)


def _call_starting(
    project: ProjectSpec,
    config_file: Path | None,
    message: dict[str, Any],
    timeout: float,
    bound: float,
) -> dict[str, Any]:
    """Send a start (or restart) to the project's supervisor, launching one if none runs. A
    supervisor that is shutting down (a stop of everything, its tether or lease) refuses it:
    wait for that one to exit, within the start's timeout, then launch a new one and ask again."""
    from corral.errors import RemoteError
    from corral.launch.launcher import ensure_supervisor

    deadline = time.monotonic() + timeout
    for _ in range(LAUNCH_ATTEMPTS):
        sock = ensure_supervisor(project, config_file)
        try:
            return client.call(sock, message, bound)
        except SupervisorUnavailable:
            # It closed its socket between our ping and the request: it was finishing a stop
            # of everything. Wait for its exit, then launch a new one (a start is idempotent).
            _await_exit(project, max(deadline - time.monotonic(), EXIT_GRACE))
            continue
        except RemoteError as exc:
            if exc.code != "shutting_down":
                raise
            from corral.control import tether

            tether.check_outlived(message.get("tether"))  # what shut it down: do not relaunch
            _await_exit(project, max(deadline - time.monotonic(), EXIT_GRACE))
    raise SupervisorUnavailable(
        f"the supervisor kept shutting down ({LAUNCH_ATTEMPTS} tries)",
        hint="see .corral/supervisor.log, then corral start again",
    )


def _await_exit(project: ProjectSpec, bound: float, *, closing_ok: bool = False) -> bool:
    """Wait (bounded) until the project's supervisor lets go of its lock, or a supervisor
    answers on its socket: one not closing (a new one, launched by a concurrent start), or,
    with ``closing_ok``, any. True once that is so, False at the bound."""
    from corral.locks import supervisor_alive

    sock = socket_path(project.project_id)
    deadline = time.monotonic() + bound
    delay = 0.005
    while supervisor_alive(project.root):
        pong = client.ping(sock, timeout=0.2) if sock.exists() else None
        if pong is not None and (closing_ok or not pong.get("closing")):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def restart(
    project: ProjectSpec, config_file: Path | None, services: list[str] | None, timeout: float
) -> dict[str, Any]:
    from corral.agents import starter

    message = _request(
        project, "restart", services, env=dict(os.environ), timeout=timeout, started_by=starter()
    )
    bound = timeout + stop_bound(project) + MARGIN
    return _call_starting(project, config_file, message, timeout, bound)


def stop(project: ProjectSpec, services: list[str] | None) -> dict[str, Any]:
    """Stop through the supervisor, or from the state file when it is gone."""
    from corral.launch.launcher import moved_checkout

    moved = moved_checkout(project)
    if moved is not None:
        return _stop_moved(project, moved, services)
    sock = socket_path(project.project_id)
    for _ in range(STOP_ATTEMPTS):
        pong = client.ping(sock)
        if pong is not None:
            bound = float(pong.get("stop_bound") or stop_bound(project))
            try:
                result = client.call(sock, _request(project, "stop", services), bound + MARGIN)
            except SupervisorUnavailable:
                continue  # it closed its socket after its final stop, between ping and call
            if not services:
                _await_exit(project, EXIT_GRACE)  # it exits right after its reply: wait for it
            return result
        if not _silent_supervisor(project):
            break
        # It holds its lock but does not answer: it may be finishing its exit (its final state
        # is written before the socket closes) or still starting up for a concurrent start.
        # Give it a moment to do either, so that a stop never competes with its own stop, nor
        # kills a supervisor that was about to answer.
        if not _await_exit(project, SILENT_GRACE, closing_ok=True):
            break  # hung: the offline stop below ends it
    with _no_launch(project):
        # A start launching a supervisor now would have it spawn services that the state file
        # read below does not name yet; holding the launch lock keeps that from racing us.
        if client.ping(sock) is not None:
            return stop(project, services)  # one came up meanwhile: it does the stop
        reports, problem = _stop_offline(project, services)
    return {"reports": reports, "source": "state file", "problem": problem}


def _no_launch(project: ProjectSpec) -> Any:
    """The launch (spawn) lock, when the project has a state directory to hold it in."""
    import contextlib

    from corral.launch.launcher import START_TIMEOUT
    from corral.locks import locked
    from corral.paths import spawn_lock_path, state_dir

    if not state_dir(project.root).is_dir():
        return contextlib.nullcontext()
    return locked(spawn_lock_path(project.root), START_TIMEOUT)


def _silent_supervisor(project: ProjectSpec) -> bool:
    """A supervisor holds the lock, is not frozen, and did not answer (yet)."""
    from corral.locks import supervisor_alive

    return supervisor_alive(project.root) and not _frozen_supervisor(project)


def _stop_moved(
    project: ProjectSpec, moved: dict[str, Any], services: list[str] | None
) -> dict[str, Any]:
    """Stop through the supervisor's socket under the old project id (it still answers there),
    after checking that the process answering is the one the state file names."""
    from corral.errors import CorralError

    sock = socket_path(moved["project_id"])
    pong = client.ping(sock)
    if pong is None or pong.get("pid") != moved["supervisor"].pid:
        raise CorralError(
            f"this checkout was moved from {moved['root']} while its supervisor (pid "
            f"{moved['supervisor'].pid}) ran, and that supervisor does not answer",
            hint="it stops everything by itself within seconds of noticing; run corral stop "
            "again then",
        )
    bound = float(pong.get("stop_bound") or stop_bound(project))
    result = client.call(sock, {"op": "stop", "services": services or None}, bound + MARGIN)
    note = f"this checkout was moved from {moved['root']}: stopped its supervisor there"
    return {**result, "note": note}


def _frozen_supervisor(project: ProjectSpec) -> bool:
    """Whether the recorded supervisor is stopped (SIGSTOP): it is not finishing anything."""
    from corral.launch.launcher import frozen_supervisor

    return frozen_supervisor(project) is not None


def stop_bound(project: ProjectSpec) -> float:
    """A bound from the configuration, for a supervisor too old to say its own."""
    return sum(spec.stop_timeout for spec in project.services) + 5.0


def _stop_offline(
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
    import signal

    from corral.locks import supervisor_alive

    if not supervisor_alive(project.root):
        return None
    if client.ping(socket_path(project.project_id), timeout=0.2) is not None:
        return None  # it answers (a supervisor that started meanwhile): not ours to end
    daemons = _verified_daemons(project, state)
    for sig in (signal.SIGCONT, signal.SIGTERM):
        for identity in daemons.get("supervisor", []) or daemons.get("guard", []):
            oslayer.safe_signal(identity, sig)
    if _await_exit(project, UNREACHABLE_EXIT_WAIT):
        return None
    for identity in [*daemons.get("supervisor", []), *daemons.get("guard", [])]:
        oslayer.safe_signal(identity, signal.SIGKILL)
    if _await_exit(project, EXIT_GRACE):
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
    import contextlib

    from corral.locks import supervisor_alive

    sock = socket_path(project.project_id)
    if sock.exists() and not supervisor_alive(project.root) and not client.ping(sock):
        with contextlib.suppress(OSError):
            sock.unlink()


def status(project: ProjectSpec) -> dict[str, Any]:
    sock = socket_path(project.project_id)
    try:
        return client.call(sock, {"op": "status"}, STATUS_TIMEOUT)
    except SupervisorTimeout:
        return _status_offline(project, f"the supervisor did not answer within {STATUS_TIMEOUT:g}s")
    except SupervisorUnavailable as exc:
        return _status_offline(project, None, unanswered=exc.message)


def _status_offline(
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


def wait(project: ProjectSpec, services: list[str] | None, timeout: float) -> dict[str, Any]:
    """Wait until the services (default: all that run) are ready; bounded by ``timeout``."""
    from corral.launch.launcher import frozen_supervisor

    sock = socket_path(project.project_id)
    if not client.ping(sock):
        frozen = frozen_supervisor(project)
        if frozen is not None:
            raise frozen
        raise NothingRunning("no supervisor runs for this project", hint="corral start")
    message = {"op": "wait", "services": services or None, "timeout": timeout}
    return client.call(sock, message, timeout + MARGIN)


def wait_for_log(
    project: ProjectSpec, service: str, pattern: str, timeout: float
) -> dict[str, Any]:
    """Wait for a new line of ``service`` matching ``pattern`` (written after this call)."""
    import re

    from corral import logs
    from corral.paths import state_dir

    regex = re.compile(pattern)
    directory = state_dir(project.root)
    offsets = logs.end_offsets(directory, [service])
    deadline = time.monotonic() + timeout
    for line in logs.follow(directory, [service], offsets, deadline, poll=0.05):
        if regex.search(line.text):
            return {"matched": True, "line": line.text, "service": service}
    return {"matched": False, "line": None, "service": service}


def send(
    project: ProjectSpec,
    service: str,
    text: str,
    wait_for: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Type ``text`` into a tty service's terminal; with ``wait_for``, then wait for a line of
    its output written after the input that matches (its echo excepted: it is the input)."""
    import re

    from corral import logs
    from corral.paths import state_dir

    sock = socket_path(project.project_id)
    if not client.ping(sock):
        raise NothingRunning("no supervisor runs for this project", hint="corral start")
    directory = state_dir(project.root)
    offsets = logs.end_offsets(directory, [service]) if wait_for is not None else {}
    reply = client.call(sock, {"op": "send", "service": service, "text": text}, MARGIN)
    result: dict[str, Any] = {"service": service, "bytes": reply["bytes"]}
    if wait_for is None:
        return result
    regex, echo = re.compile(wait_for), text.strip()
    deadline = time.monotonic() + timeout
    from corral.logs.escapes import strip

    for line in logs.follow(directory, [service], offsets, deadline, poll=0.05):
        shown = strip(line.text).strip()
        if regex.search(shown) and not (echo and shown.endswith(echo)):
            return {**result, "matched": True, "line": shown}
    return {**result, "matched": False, "line": None}


def port_report(project: ProjectSpec, ports: list[int]) -> list[dict[str, Any]]:
    from corral import ports as ledger

    declared = {port: spec.name for spec in project.services for port in spec.ports}
    rows = []
    for port in ports or sorted(declared):
        holders = ledger.holders(port)
        rows.append(
            {
                "port": port,
                "declared_by": declared.get(port),
                "free": not holders and oslayer.port_is_free(port),
                "holders": [h.to_dict() | {"ours": h.is_ours(project.project_id)} for h in holders],
            }
        )
    return rows


def free(project: ProjectSpec, ports: list[int], force: bool) -> list[dict[str, Any]]:
    """Free each port: this project's holders are stopped; anyone else only with ``force``."""
    from corral import ports as ledger

    results = []
    for port in ports:
        holders = ledger.holders(port)
        foreign = [h for h in holders if not h.is_ours(project.project_id)]
        entry: dict[str, Any] = {"port": port, "stopped": [], "killed": [], "refused": []}
        if foreign and not force:
            entry["refused"] = [h.to_dict() for h in foreign]
        else:
            entry["stopped"] = _stop_our_holders(project, [h for h in holders if h not in foreign])
            entry["killed"] = [_kill_foreign(h) for h in foreign]
        entry["free"] = _wait_port_free(port, 3.0)
        results.append(entry)
    return results


def _stop_our_holders(project: ProjectSpec, holders: list[Any]) -> list[dict[str, Any]]:
    """Stop the services (or orphans) of this project that hold the port."""
    import asyncio

    from corral.model import RunRecord
    from corral.reclaim import reclaim, run_marker

    done = []
    running = {s["name"] for s in status(project)["services"] if s.get("pid")}
    for holder in holders:
        if holder.service in running and client.ping(socket_path(project.project_id)):
            stop(project, [holder.service])
            done.append({**holder.to_dict(), "how": f"stopped service {holder.service!r}"})
            continue
        identity = oslayer.identify(holder.pid)
        trace = RunRecord(
            project.project_id,
            holder.service or "?",
            run_id=run_marker(holder.pid),
            leader=identity,
            stop_timeout=5.0,
        )
        report = asyncio.run(reclaim(trace))
        done.append({**holder.to_dict(), "how": f"stopped orphan ({report.outcome})"})
    return done


def _kill_foreign(holder: Any) -> dict[str, Any]:
    """--force: SIGTERM, then SIGKILL after 2 s; never another user's process. ``killed`` says
    whether the process is gone: only then is it reported as killed."""
    import signal

    def result(outcome: str, killed: bool) -> dict[str, Any]:
        return {**holder.to_dict(), "outcome": outcome, "killed": killed}

    if holder.uid != os.getuid():
        return result(f"refused: a process of another user (uid {holder.uid})", False)
    if holder.pid is None:
        return result("cannot signal: the kernel does not say which process holds it", False)
    identity = oslayer.identify(holder.pid)
    if identity is None:
        return result("exited before it was signalled", True)
    outcome = oslayer.safe_signal(identity, signal.SIGTERM)
    if outcome is oslayer.SignalOutcome.DENIED:
        return result("refused by the kernel: not permitted to signal it", False)
    handle = oslayer.open_process(identity)
    if handle is None:
        return result("exited after SIGTERM", True)
    with handle:
        if handle.wait_exited(2.0):
            return result("exited after SIGTERM", True)
        handle.signal(signal.SIGKILL)
        if handle.wait_exited(2.0):
            return result("killed with SIGKILL after SIGTERM", True)
    return result("still running after SIGTERM and SIGKILL", False)


def _wait_port_free(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not oslayer.port_is_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
