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

from corral import client, protocol
from corral.control import offline
from corral.errors import (
    NothingRunning,
    SupervisorTimeout,
    SupervisorUnavailable,
)
from corral.launch.launcher import EXIT_GRACE, await_exit
from corral.paths import socket_path

if TYPE_CHECKING:
    from corral.model import ProjectSpec

STATUS_TIMEOUT = 1.0
MARGIN = protocol.REPLY_MARGIN
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
            await_exit(project, max(deadline - time.monotonic(), EXIT_GRACE))
            continue
        except RemoteError as exc:
            if exc.code != "shutting_down":
                raise
            from corral.control import tether

            tether.check_outlived(message.get("tether"))  # what shut it down: do not relaunch
            await_exit(project, max(deadline - time.monotonic(), EXIT_GRACE))
    raise SupervisorUnavailable(
        f"the supervisor kept shutting down ({LAUNCH_ATTEMPTS} tries)",
        hint="see .corral/supervisor.log, then corral start again",
    )


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
                await_exit(project, EXIT_GRACE)  # it exits right after its reply: wait for it
            return result
        if not _silent_supervisor(project):
            break
        # It holds its lock but does not answer: it may be finishing its exit (its final state
        # is written before the socket closes) or still starting up for a concurrent start.
        # Give it a moment to do either, so that a stop never competes with its own stop, nor
        # kills a supervisor that was about to answer.
        if not await_exit(project, SILENT_GRACE, closing_ok=True):
            break  # hung: the offline stop below ends it
    with _no_launch(project):
        # A start launching a supervisor now would have it spawn services that the state file
        # read below does not name yet; holding the launch lock keeps that from racing us.
        if client.ping(sock) is not None:
            return stop(project, services)  # one came up meanwhile: it does the stop
        reports, problem = offline.stop_offline(project, services)
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


def status(project: ProjectSpec) -> dict[str, Any]:
    sock = socket_path(project.project_id)
    try:
        return client.call(sock, {"op": "status"}, STATUS_TIMEOUT)
    except SupervisorTimeout:
        return offline.status_offline(
            project, f"the supervisor did not answer within {STATUS_TIMEOUT:g}s"
        )
    except SupervisorUnavailable as exc:
        return offline.status_offline(project, None, unanswered=exc.message)


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
