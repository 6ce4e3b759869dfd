"""``corral port`` and ``corral free``: who holds a port, and freeing it. A holder from this
project is stopped through the supervisor or by its markers; another's only with ``force``, and
then it is named in the result."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from corral import client, oslayer
from corral.control.operations import status, stop
from corral.paths import socket_path

if TYPE_CHECKING:
    from corral.model import ProjectSpec


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
