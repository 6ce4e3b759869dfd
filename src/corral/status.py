"""The status document: one shape, whichever side answers. The supervisor builds it from what
it runs; a client whose supervisor does not answer builds it from the state file and a process
scan. Both go through these functions, so the keys are the same, and ``source`` says which.
docs/schemas/status.json is its one schema.
"""

from __future__ import annotations

import time
from typing import Any

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
) -> dict[str, Any]:
    """The whole document; fills in the ports each service's processes really listen on."""
    listening = listening_ports({pid for item in services for pid in item["members"]})
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
