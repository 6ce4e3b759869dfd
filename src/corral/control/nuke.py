"""``corral nuke``: stop every process of this user that carries corral's identity, in every
project, and remove stale sockets and state. Never a process without corral identity (markers,
or a recorded identity that still matches), never another user's."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

from corral import markers as marker_names
from corral import oslayer, registry
from corral.errors import UnsafeState
from corral.model import ProcessIdentity
from corral.paths import project_id as project_id_of
from corral.paths import runtime_dir
from corral.state import read_state, write_state

GRACE = 3.0
ROUNDS = 5


def targets() -> dict[int, dict[str, Any]]:
    """pid -> what we know of it, for every process with corral identity."""
    found: dict[int, dict[str, Any]] = {}
    known = registry.registered()
    for project_id, processes in registry.marked_processes().items():
        for pid, markers in processes.items():
            if not nameable(project_id, markers, known):
                continue
            found[pid] = {
                "project": project_id,
                "service": markers.get(marker_names.SERVICE),
                "role": markers.get(marker_names.ROLE),
                "found_by": "marker",
            }
    for entry in registry.registered().values():
        state = _state_of(entry)
        for identity, service in _recorded(state):
            current = oslayer.identify(identity.pid)
            if (
                current is not None
                and current.start == identity.start
                and identity.pid not in found
            ):
                found[identity.pid] = {
                    "project": entry["id"],
                    "service": service,
                    "role": None,
                    "found_by": "recorded identity",
                }
    for pid, info in found.items():
        info["command"] = oslayer.cmdline(pid)
        info["identity"] = oslayer.identify(pid)
    return {
        pid: info for pid, info in found.items() if info["identity"] is not None and _alive(info)
    }


def nameable(project_id: str, markers: dict[str, str], known: dict[str, Any]) -> bool:
    """A marker counts only for a project corral can name: one its registry lists, or one
    whose root (carried beside the id) hashes to that id. Any other CORRAL_PROJECT_ID value
    was copied or invented, and nuke leaves its carrier alone."""
    if project_id in known:
        return True
    root = markers.get(marker_names.ROOT)
    return bool(root) and project_id_of(root) == project_id


def unnameable() -> list[dict[str, Any]]:
    """The carriers of a project marker that ``targets`` leaves alone, to say so."""
    known = registry.registered()
    return [
        {"pid": pid, "project": project_id, "command": oslayer.cmdline(pid)}
        for project_id, processes in registry.marked_processes().items()
        for pid, markers in processes.items()
        if not nameable(project_id, markers, known)
    ]


def _state_of(entry: dict[str, str]) -> Any:
    """A registered project's state, when it is one we may act on (ours, and that project's)."""
    try:
        return read_state(Path(entry["root"]), oslayer.boot_id(), entry["id"])
    except UnsafeState:
        return None


def _recorded(state: Any) -> list[tuple[ProcessIdentity, str | None]]:
    if state is None:
        return []
    pairs = [(i, None) for i in (state.supervisor, state.guard) if i is not None]
    for record in state.services.values():
        if record.run is not None:
            pairs += [(identity, record.name) for identity in record.run.members]
    return pairs


def nuke(found: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """SIGTERM all, wait, SIGKILL what is left (re-discovering each round); then clean up."""
    for info in found.values():
        oslayer.safe_signal(info["identity"], signal.SIGTERM)
        oslayer.safe_signal(info["identity"], signal.SIGCONT)
    _wait_gone(found, GRACE)
    killed: set[int] = set()
    for _ in range(ROUNDS):
        left = {pid: info for pid, info in {**found, **targets()}.items() if _alive(info)}
        if not left:
            break
        for pid, info in left.items():
            if oslayer.safe_signal(info["identity"], signal.SIGKILL).name == "SENT":
                killed.add(pid)
        found.update(left)
        _wait_gone(left, 1.0)
    for project_id in {info["project"] for info in found.values()}:
        _clean_project(project_id)
    survivors = {pid: info for pid, info in targets().items()}
    return {
        "stopped": sorted(found),
        "killed": sorted(killed),
        "survivors": sorted(survivors),
        "sockets_removed": _remove_stale_sockets(),
        "skipped": unnameable(),
    }


def _alive(info: dict[str, Any]) -> bool:
    identity = info["identity"]
    stat = oslayer.read_stat(identity.pid)
    return stat is not None and stat.start == identity.start and stat.state != "Z"


def _wait_gone(found: dict[int, dict[str, Any]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(info) for info in found.values()) and time.monotonic() < deadline:
        time.sleep(0.02)


def _clean_project(project_id: str) -> None:
    cgroup = oslayer.project_cgroup(project_id)
    if cgroup is not None and cgroup.exists():
        oslayer.cgroup_kill(cgroup)
        oslayer.cgroup_wait_empty(cgroup, 2.0)
        oslayer.cgroup_remove(cgroup)
    entry = registry.registered().get(project_id)
    if entry is None:
        return
    state = _state_of(entry)
    if state is not None:
        for record in state.services.values():
            record.state = "stopped"
        state.ended = {"time": time.time(), "reason": "corral nuke", "by": "nuke"}
        with contextlib.suppress(OSError):
            write_state(Path(entry["root"]), state)


def _remove_stale_sockets() -> list[str]:
    from corral import client

    removed = []
    for sock in runtime_dir().glob("*.sock"):
        if client.ping(sock, timeout=0.3) is None:
            with contextlib.suppress(OSError):
                sock.unlink()
                removed.append(str(sock))
    return removed
