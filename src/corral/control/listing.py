"""``corral ls``: every corral project of this user with anything running or left behind, from
the per-user registry and a scan for corral's markers (so a project whose ``.corral/`` was
deleted is still found)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corral import registry
from corral.locks import supervisor_alive
from corral.markers import ROLE, ROOT, SERVICE
from corral.paths import runtime_dir
from corral.ports import listening_ports


def projects() -> list[dict[str, Any]]:
    """One entry per project that has a live supervisor, processes, or a stale socket."""
    entries = registry.registered()
    marked = registry.marked_processes()
    result = []
    for project_id in sorted(set(entries) | set(marked)):
        processes = marked.get(project_id, {})
        root = entries.get(project_id, {}).get("root") or _root_from(processes)
        alive = bool(root) and supervisor_alive(Path(root))
        socket = runtime_dir() / f"{project_id}.sock"
        services: dict[str, list[int]] = {}
        for pid, markers in processes.items():
            if ROLE not in markers:
                services.setdefault(markers.get(SERVICE, "?"), []).append(pid)
        if not alive and not services and not socket.exists():
            if project_id in entries:
                registry.forget(project_id)  # nothing of it is left: the entry is done with
            continue
        pids = {pid for group in services.values() for pid in group}
        ports = sorted({port for group in listening_ports(pids).values() for port in group})
        result.append(
            {
                "id": project_id,
                "root": root,
                "name": entries.get(project_id, {}).get("name"),
                "supervisor_alive": alive,
                "services": {k: sorted(v) for k, v in services.items()},
                "orphans": sorted(pids) if not alive else [],
                "ports": ports,
                "stale_socket": socket.exists() and not alive,
                "started_by": _started_by(root, project_id, set(services)),
            }
        )
    return result


def _started_by(root: str | None, project_id: str, names: set[str]) -> dict[str, Any]:
    """service -> who started its run (the state file's record), for the services found."""
    from corral import oslayer
    from corral.errors import UnsafeState
    from corral.state import read_state

    if not root:
        return {}
    try:
        state = read_state(Path(root), oslayer.boot_id(), project_id)
    except UnsafeState:
        return {}
    if state is None:
        return {}
    return {
        name: record.run.started_by
        for name, record in state.services.items()
        if name in names and record.run is not None and record.run.started_by
    }


def _root_from(processes: dict[int, dict[str, str]]) -> str | None:
    return next((m[ROOT] for m in processes.values() if m.get(ROOT)), None)
