"""What a new supervisor does before it serves: wait for the guard's word when prelaunched, take
the launcher's pipe and the configuration it handed over, and stop what an earlier supervisor of
the project left running. Called once, by ``daemon.main``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path

from corral import markers, oslayer
from corral.model import ProjectSpec, spec_from_dict
from corral.paths import launch_spec_path, supervisor_log_path
from corral.state import ProjectState
from corral.supervisor.supervisor_log import log_line


def _anything_left(previous: ProjectState) -> bool:
    """One cheap look (records, markers, lifelines, cgroups) before the full per-service sweep."""
    from corral.reclaim import same_process

    runs = previous.runs()
    if any(same_process(m) for r in runs for m in r.members):
        return True
    recorded = {(previous.project_id, r.service, r.run_id) for r in runs}
    if any(
        (m.get(markers.PROJECT), m.get(markers.SERVICE), m.get(markers.RUN)) in recorded
        and markers.ROLE not in m
        for m in oslayer.scan_markers().values()
    ):
        return True
    lifelines = {r.lifeline for r in runs if r.lifeline}
    holders = oslayer.scan_fd_holders(lifelines) if lifelines else {}
    if any(pid != os.getpid() for pids in holders.values() for pid in pids):
        return True
    cgroup = oslayer.project_cgroup(previous.project_id)
    return cgroup is not None and cgroup.exists() and bool(oslayer.cgroup_procs(cgroup))


def clean_orphans(root: Path, project_id: str) -> list[str]:
    """Stop what an earlier supervisor of this project left running (its state file says what),
    before anything new starts. Returns one line per service that had survivors."""
    from corral.reclaim.recovery import reclaim_all
    from corral.state import read_state

    previous = read_state(root, oslayer.boot_id(), project_id)
    if previous is None or not _anything_left(previous):
        return []
    reports = asyncio.run(reclaim_all(previous, exclude={os.getpid(), os.getppid()}))
    lines = []
    for report in reports:
        if report.members:
            pids = ", ".join(str(pid) for pid in report.pids)
            lines.append(
                f"{report.service}: stopped {report.members} orphaned process(es) "
                f"left by an earlier supervisor (pid {pids})"
            )
            log_line(lines[-1])
    return lines


def await_word(root: Path) -> bool:
    """A prelaunched supervisor (corral.launch.prelaunch) holds here, its imports done, until the
    guard sends the word with the project lock (kept open for life, as the guard keeps it);
    then supervisor.log becomes its stdout and stderr. False at end-of-file: no word."""
    value = os.environ.pop(markers.HOLD_FD, "")
    if not value:
        return True  # launched the ordinary way
    with socket.socket(fileno=int(value)) as channel:
        try:
            word, fds, _flags, _address = socket.recv_fds(channel, 16, 1)
        except OSError:
            return False
    if not word.startswith(b"go") or not fds:
        return False
    os.set_inheritable(fds[0], False)
    log = os.open(supervisor_log_path(root), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return True


def take_ready_fd() -> int | None:
    """The launcher's pipe (see corral.launch.launcher): ours alone, never a service's."""
    value = os.environ.pop(markers.READY_FD, "")
    try:
        fd = int(value)
        os.set_inheritable(fd, False)
    except (ValueError, OSError):
        return None
    return fd


def tell_launcher(fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, b"listening\n")
    os.close(fd)


def handed_over(root: Path) -> ProjectSpec | None:
    """The configuration the launcher resolved moments ago (``launch.json``): taking it spares
    the supervisor parsing it again, and importing the parsers at all."""
    path = launch_spec_path(root)
    try:
        data = json.loads(path.read_text())
        path.unlink()
        project = spec_from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return project if project.root == root else None


def load(root: Path, config_file: Path | None) -> ProjectSpec:
    from corral.config import load_project

    return load_project(root, config_file)
