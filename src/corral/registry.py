"""The per-user registry of corral projects, and the processes that carry their markers.

Found two ways, so that a project is found even when its ``.corral/`` was deleted: a per-user
registry (each supervisor registers its project in the runtime directory) and a scan for the
environment markers that every corral process carries.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from corral import oslayer
from corral.markers import PROJECT
from corral.paths import runtime_dir


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
        project_id = markers.get(PROJECT)
        if namespace is not None and markers.get("CORRAL_RUNTIME_DIR") != namespace:
            continue
        if project_id:
            projects.setdefault(project_id, {})[pid] = markers
    return projects
