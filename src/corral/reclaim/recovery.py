"""Stopping what a dead supervisor left behind, from the state file and every scan layer.

Used by the guard right after its supervisor died, and by clients that find a project whose
supervisor and guard are both gone (layer G in docs/design.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from corral import oslayer
from corral.reclaim import StopReport, reclaim
from corral.state import ProjectState, read_state, write_state


async def reclaim_all(
    state: ProjectState, names: Iterable[str] | None = None, exclude: Iterable[int] = ()
) -> list[StopReport]:
    """Stop the named services (all when ``names`` is None or empty) from their records; when
    all stop, the project's cgroup goes too."""
    names = list(names or [])
    excluded = set(exclude)
    began = time.monotonic()  # every run here is older: one scan can serve all their stops
    reports = list(
        await asyncio.gather(
            *(reclaim(run, exclude=excluded, since=began) for run in state.runs(names))
        )
    )
    if not names:  # an empty list means "all" as much as None does
        root = oslayer.project_cgroup(state.project_id)
        if root is not None:
            oslayer.cgroup_remove(root)
    return reports


def recover_after_supervisor_death(root: str, reason: str, log: Callable[[str], None]) -> None:
    state = read_state(Path(root), oslayer.boot_id())
    reports: list[StopReport] = []
    if state is not None:
        reports = asyncio.run(reclaim_all(state, exclude={os.getpid()}))
    leftovers = _kill_own_children()
    _reap_all(deadline=time.monotonic() + 2.0)
    stopped = sum(r.members for r in reports) + leftovers
    failed = [r.service for r in reports if not r.ok]
    log(
        f"stopped {stopped} process(es) left by the supervisor"
        + (f"; failed: {failed}" if failed else "")
    )
    if state is None:
        return
    for record in state.services.values():
        if record.state not in ("stopped", "exited", "crashed", "completed"):
            record.state = "stopped"
            record.note = f"stopped by the guard: {reason}"
    from corral.events import EventLog

    EventLog(Path(root) / ".corral").emit(
        "supervisor_exited", reason=reason, by="guard", stopped=stopped, incomplete=failed
    )
    state.ended = {
        "time": time.time(),
        "reason": reason,
        "by": "guard",
        "stopped": stopped,
        "incomplete": failed,
    }
    write_state(Path(root), state)
    if state.socket:
        with contextlib.suppress(OSError):
            os.unlink(state.socket)


def _kill_own_children() -> int:
    """Orphans reparented to us that no layer attributed to a service: ours all the same."""
    count = 0
    for pid in oslayer.children(os.getpid()):
        identity = oslayer.identify(pid)
        if identity is not None and oslayer.safe_signal(identity, signal.SIGKILL).name == "SENT":
            count += 1
    return count


def _reap_all(deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)
