"""Every corral project of this user with anything running or left behind.

Found two ways, so that a project is found even when its ``.corral/`` was deleted: a per-user
registry (each supervisor registers its project in the runtime directory) and a scan for the
environment markers that every corral process carries.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from corral import oslayer
from corral.model import MARKER_PROJECT, MARKER_ROOT, MARKER_SERVICE
from corral.paths import runtime_dir

ROLE = "CORRAL_ROLE"


def registry_dir() -> Path:
    directory = runtime_dir() / "projects"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory


def register(project_id: str, root: Path, name: str) -> None:
    path = registry_dir() / f"{project_id}.json"
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"id": project_id, "root": str(root), "name": name}))
    os.replace(temporary, path)


def registered() -> dict[str, dict[str, str]]:
    entries: dict[str, dict[str, str]] = {}
    for path in registry_dir().glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            entry = json.loads(path.read_text())
            entries[entry["id"]] = entry
    return entries


def forget(project_id: str) -> None:
    with contextlib.suppress(OSError):
        (registry_dir() / f"{project_id}.json").unlink()


def marked_processes() -> dict[str, dict[int, dict[str, str]]]:
    """project id -> pid -> markers, for every live process of ours carrying a project marker.

    When ``CORRAL_RUNTIME_DIR`` is set, only processes started under the same one count: it
    scopes ``ls`` and ``nuke`` (test suites and sandboxes use it to stay apart).
    """
    namespace = os.environ.get("CORRAL_RUNTIME_DIR")
    projects: dict[str, dict[int, dict[str, str]]] = {}
    for pid, markers in oslayer.scan_markers().items():
        project_id = markers.get(MARKER_PROJECT)
        if namespace is not None and markers.get("CORRAL_RUNTIME_DIR") != namespace:
            continue
        if project_id:
            projects.setdefault(project_id, {})[pid] = markers
    return projects


def projects() -> list[dict[str, Any]]:
    """One entry per project that has a live supervisor, processes, or a stale socket."""
    from corral.engine import listening_ports
    from corral.launch import supervisor_alive

    entries = registered()
    marked = marked_processes()
    result = []
    for project_id in sorted(set(entries) | set(marked)):
        processes = marked.get(project_id, {})
        root = entries.get(project_id, {}).get("root") or _root_from(processes)
        alive = bool(root) and supervisor_alive(Path(root))
        socket = runtime_dir() / f"{project_id}.sock"
        services: dict[str, list[int]] = {}
        for pid, markers in processes.items():
            if ROLE not in markers:
                services.setdefault(markers.get(MARKER_SERVICE, "?"), []).append(pid)
        if not alive and not services and not socket.exists():
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
            }
        )
    return result


def _root_from(processes: dict[int, dict[str, str]]) -> str | None:
    return next((m[MARKER_ROOT] for m in processes.values() if m.get(MARKER_ROOT)), None)
