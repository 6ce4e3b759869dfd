"""The status document: one shape, whichever side answers. The supervisor builds it from what
it runs; a client whose supervisor does not answer builds it from the state file and a process
scan. Both go through these functions, so the keys are the same, and ``source`` says which.
docs/schemas/status.json is its one schema.
"""

from __future__ import annotations

import time
from typing import Any

from corral import oslayer
from corral.ports import listening_ports

SUPERVISOR = "supervisor"
OFFLINE = "state file and process scan"
# What a running service's run was started with, compared with the configuration now.
COMPARED = ("ports", "stop_signal", "stop_timeout")


def service_entry(
    name: str,
    state: str,
    *,
    ports: list[int] | tuple[int, ...] = (),
    pid: int | None = None,
    pgid: int | None = None,
    started_at: float | None = None,
    started_by: dict[str, Any] | None = None,
    restarts: int = 0,
    last_exit: dict[str, Any] | None = None,
    note: str | None = None,
    stale: dict[str, Any] | None = None,
    members: list[int] | None = None,
    log: str | None = None,
    config_changed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "state": state,
        "pid": pid,
        "pgid": pgid,
        "started_at": started_at,
        "started_by": started_by,
        "restarts": restarts,
        "ports": list(ports),
        "listening": [],
        "last_exit": last_exit,
        "note": note,
        "stale": stale,
        "members": sorted(members or []),
        "log": log,
        "config_changed": config_changed or None,
    }


def config_changed(running: dict[str, Any], configured: dict[str, Any]) -> dict[str, Any]:
    """For each compared setting that differs: what the run uses, and what is configured now
    (it applies from the next start)."""
    return {
        key: {"running": running[key], "configured": configured[key]}
        for key in COMPARED
        if running[key] != configured[key]
    }


def document(
    source: str,
    services: list[dict[str, Any]],
    *,
    supervisor: dict[str, Any] | None,
    problem: str | None = None,
    warnings: list[str] | None = None,
    ended: dict[str, Any] | None = None,
    tether: dict[str, Any] | None = None,
    lease: dict[str, Any] | None = None,
    owners: ListenerOwners | None = None,
) -> dict[str, Any]:
    """The whole document; fills in the ports each service's processes really listen on
    (through ``owners``, the supervisor's memory of who holds which socket, when given)."""
    pids = {pid for item in services for pid in item["members"]}
    listening = owners.listening(pids) if owners is not None else listening_ports(pids)
    for item in services:
        item["listening"] = sorted({p for pid in item["members"] for p in listening.get(pid, ())})
    return {
        "source": source,
        "problem": problem,
        "warnings": list(warnings or []),
        "supervisor": supervisor,
        "ended": ended,
        "tether": tether,
        "lease": lease,
        "services": services,
        "time": time.time(),
    }


class ListenerOwners:
    """Which of the given processes holds each listening socket, learned once per socket.

    One listener dump per status (a netlink request: cheap), and an fd scan only for sockets
    not seen before, and only of the processes not yet scanned for them: a status of 200
    services walks no fds unless something started listening. A socket's inode is unique while
    the socket lives; what is remembered of sockets that closed is forgotten at the next dump."""

    def __init__(self) -> None:
        self.owner: dict[int, set[int]] = {}  # inode -> the pids found holding it
        self.scanned: dict[int, set[int]] = {}  # inode -> the pids whose fds were looked at

    def listening(self, pids: set[int]) -> dict[int, set[int]]:
        """pid -> TCP ports it listens on, among ``pids``."""
        if not pids:
            return {}
        sockets = oslayer.listeners()
        live = {item.inode for item in sockets}
        for table in (self.owner, self.scanned):
            for inode in [inode for inode in table if inode not in live]:
                del table[inode]
        unscanned = {inode: pids - self.scanned.get(inode, set()) for inode in live}
        fresh = set().union(*unscanned.values()) if unscanned else set()
        if fresh:
            asked = [inode for inode, left in unscanned.items() if left]
            found = oslayer.socket_holders(asked, fresh)
            for inode in asked:
                self.scanned.setdefault(inode, set()).update(fresh)
                self.owner.setdefault(inode, set()).update(found.get(inode, set()))
        result: dict[int, set[int]] = {}
        for item in sockets:
            for pid in self.owner.get(item.inode, set()) & pids:
                result.setdefault(pid, set()).add(item.port)
        return result
