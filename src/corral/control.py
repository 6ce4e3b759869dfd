"""The operations people and agents ask for, as one narrow interface over the supervisor.

The CLI and the MCP server call these; they never talk to the engine directly. When the
supervisor does not answer, read operations fall back to the state file plus a process scan, and
``stop`` reclaims from the state file, so that nothing depends on a live supervisor.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from corral import client, oslayer
from corral.errors import CorralError
from corral.launch import ensure_supervisor, supervisor_alive
from corral.model import ProjectSpec, spec_to_dict
from corral.paths import socket_path
from corral.state import read_state

STATUS_TIMEOUT = 1.0
MARGIN = 10.0


class StartFailed(CorralError):
    code = "start_failed"


class StopFailed(CorralError):
    code = "stop_failed"


def _request(
    project: ProjectSpec, op: str, services: list[str] | None, **extra: Any
) -> dict[str, Any]:
    return {"op": op, "services": services or None, "project": spec_to_dict(project), **extra}


def start(
    project: ProjectSpec, config_file: Path | None, services: list[str] | None, timeout: float
) -> dict[str, Any]:
    sock = ensure_supervisor(project, config_file)
    message = _request(project, "start", services, env=dict(os.environ), timeout=timeout)
    return client.call(sock, message, timeout + MARGIN)


def restart(
    project: ProjectSpec, config_file: Path | None, services: list[str] | None, timeout: float
) -> dict[str, Any]:
    sock = ensure_supervisor(project, config_file)
    message = _request(project, "restart", services, env=dict(os.environ), timeout=timeout)
    return client.call(sock, message, timeout + stop_bound(project) + MARGIN)


def stop(project: ProjectSpec, services: list[str] | None) -> dict[str, Any]:
    """Stop through the supervisor, or from the state file when it is gone."""
    sock = socket_path(project.project_id)
    if client.ping(sock):
        return client.call(sock, _request(project, "stop", services), stop_bound(project) + MARGIN)
    return {"reports": _stop_offline(project, services), "source": "state file"}


def stop_bound(project: ProjectSpec) -> float:
    return sum(spec.stop_timeout for spec in project.services) + 5.0


def _stop_offline(project: ProjectSpec, services: list[str] | None) -> list[dict[str, Any]]:
    from corral.recovery import reclaim_all

    state = read_state(project.root, oslayer.boot_id())
    if state is None:
        from corral.state import ProjectState, ServiceRecord

        state = ProjectState(project.project_id, str(project.root), oslayer.boot_id())
        for spec in project.services:  # no record: markers and ports still find leftovers
            state.services[spec.name] = ServiceRecord(spec.name, ports=list(spec.ports))
    reports = asyncio.run(reclaim_all(state, services))
    return [report.to_dict() for report in reports]


def status(project: ProjectSpec) -> dict[str, Any]:
    sock = socket_path(project.project_id)
    try:
        return client.call(sock, {"op": "status"}, STATUS_TIMEOUT)
    except client.SupervisorTimeout:
        return _status_offline(project, f"the supervisor did not answer within {STATUS_TIMEOUT:g}s")
    except client.SupervisorUnavailable:
        return _status_offline(project, None)


def _status_offline(project: ProjectSpec, problem: str | None) -> dict[str, Any]:
    """Status from the state file plus a scan: what is alive is alive, whoever watches it."""
    from corral.engine import listening_ports
    from corral.reclaim import find_members
    from corral.recovery import trace_of

    state = read_state(project.root, oslayer.boot_id())
    alive = supervisor_alive(project.root)
    services = []
    for spec in project.services:
        record = state.services.get(spec.name) if state else None
        item: dict[str, Any] = {
            "name": spec.name,
            "state": "stopped",
            "pid": None,
            "pgid": None,
            "started_at": None,
            "restarts": 0,
            "ports": list(spec.ports),
            "last_exit": None,
            "note": None,
            "members": [],
        }
        if record is not None:
            members = find_members(trace_of(project.project_id, record))
            item.update(
                restarts=record.restarts,
                last_exit=record.last_exit,
                note=record.note,
                members=sorted(members),
            )
            if members:
                leader = (
                    record.leader.pid if record.leader and record.leader.pid in members else None
                )
                item.update(
                    pid=leader or min(members),
                    pgid=record.pgid,
                    started_at=record.started_at,
                    state=record.state if alive else "orphaned",
                )
            elif record.state not in ("exited", "crashed"):
                item["state"] = "stopped"
            else:
                item["state"] = record.state
        services.append(item)
    listening = listening_ports({pid for item in services for pid in item["members"]})
    for item in services:
        item["listening"] = sorted({p for pid in item["members"] for p in listening.get(pid, ())})
    supervisor = None
    if state is not None and state.supervisor is not None:
        supervisor = {
            "pid": state.supervisor.pid,
            "run_id": state.run_id,
            "started_at": state.started_at,
            "alive": alive,
        }
    return {
        "ok": True,
        "source": "state file and process scan",
        "problem": problem,
        "supervisor": supervisor,
        "ended": state.ended if state else None,
        "services": services,
        "time": time.time(),
    }
