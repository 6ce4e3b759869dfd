"""The portable layer's scans, through psutil: the markers in the environments of our processes
(where the OS shows them), the targets of their descriptors, their sockets and who listens on
a port. Re-exported by ``portable``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import psutil

from corral.oslayer.common import DARWIN, Listener, Orphan
from corral.oslayer.lifeline_file import LIFELINE_SUFFIX
from corral.oslayer.netdiag import bindable_everywhere

# On Linux, the environment of system binaries is treated as unreadable, as macOS hides it for
# every Apple-signed one (/bin/sh, zsh, env, sleep, ssh, the system ruby). The interpreter that
# runs corral and the test subjects stands in for a third-party runtime (Homebrew's,
# python.org's), whose environment macOS shows.
RESTRICTED = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/libexec/")


def _restricted(process: psutil.Process) -> bool:
    if DARWIN:  # pragma: no cover - the kernel hides those environments itself
        return False
    try:
        exe = process.exe()
    except psutil.Error:
        return False
    return exe.startswith(RESTRICTED) and not os.path.basename(exe).startswith("python")


def _environment(pid: int) -> dict[str, str] | None:
    """The environment of ``pid``, or None when it cannot be read."""
    try:
        process = psutil.Process(pid)
        return None if _restricted(process) else process.environ()
    except psutil.Error:
        return None


def read_markers(pid: int) -> dict[str, str] | None:
    environ = _environment(pid)
    if environ is None:
        return None
    return {k: v for k, v in environ.items() if k.startswith("CORRAL_")}


def unreadable_orphans() -> list[Orphan]:
    """Orphaned processes of ours whose environment is unreadable or empty: where markers
    cannot tell, these could be a run's escapees (``reclaim.unverified`` picks those that
    started after a run, in its directory, and reports them, never signals them)."""
    found = []
    for pid in _own_pids():
        if _environment(pid):
            continue
        try:
            process = psutil.Process(pid)
            if process.ppid() != 1:  # still below its parent, which a layer accounts for
                continue
            found.append(Orphan(pid, process.create_time(), os.path.realpath(process.cwd())))
        except (psutil.Error, OSError):
            continue
    return found


def _own_pids() -> list[int]:
    uid, me = os.getuid(), os.getpid()
    return [
        process.pid
        for process in psutil.process_iter(["uids"])
        if process.pid != me and process.info.get("uids") and process.info["uids"].real == uid
    ]


def scan_markers(uid: int | None = None) -> dict[int, dict[str, str]]:
    uid = os.getuid() if uid is None else uid
    found: dict[int, dict[str, str]] = {}
    for process in psutil.process_iter(["uids"]):
        uids = process.info.get("uids")
        if uids is None or uids.real != uid or process.pid == os.getpid():
            continue
        markers = read_markers(process.pid)
        if markers:
            found[process.pid] = markers
    return found


def fd_targets(pid: int) -> set[str]:
    """The regular files ``pid`` holds open (what psutil can see of its descriptors)."""
    try:
        return {item.path for item in psutil.Process(pid).open_files()}
    except psutil.Error:
        return set()


def scan_fd_holders(targets: set[str], pids: Iterable[int] | None = None) -> dict[str, set[int]]:
    """Which processes hold one of the files ``targets`` open (lifeline files: the open-file
    scan checks the uid, not code signing, so it sees Apple binaries too)."""
    holders: dict[str, set[int]] = {}
    if not targets:
        return holders
    for pid in pids if pids is not None else _own_pids():
        for target in fd_targets(pid) & targets:
            holders.setdefault(target, set()).add(pid)
    return holders


def scan_pipe_holders() -> dict[str, set[int]]:
    """Every lifeline file held by a process of ours -> holder pids (one pass serves every
    lifeline at once)."""
    holders: dict[str, set[int]] = {}
    for pid in _own_pids():
        for target in fd_targets(pid):
            if target.endswith(LIFELINE_SUFFIX):
                holders.setdefault(target, set()).add(pid)
    return holders


def listeners(ports: Iterable[int] | None = None) -> list[Listener]:
    """Listening TCP sockets (on ``ports`` when given). macOS lists only our own processes'
    sockets without root, one process at a time; Linux gives the whole table in one pass."""
    wanted = set(ports) if ports is not None else None
    if DARWIN:  # pragma: no cover
        connections = _per_process_connections()
    else:
        connections = [(c.pid, c) for c in psutil.net_connections(kind="tcp")]
    uids: dict[int, int] = {}
    found = []
    for pid, conn in connections:
        if conn.status != psutil.CONN_LISTEN or (
            wanted is not None and conn.laddr.port not in wanted
        ):
            continue
        owner = pid or 0  # a socket whose owner we may not see: no pid to look up later
        found.append(
            Listener(conn.laddr.port, conn.laddr.ip, conn.family, _uid(owner, uids), owner)
        )
    return found


def _per_process_connections() -> list[tuple[int, Any]]:  # pragma: no cover - macOS
    found = []
    for pid in _own_pids():
        try:
            found += [(pid, c) for c in psutil.Process(pid).net_connections(kind="tcp")]
        except psutil.Error:
            continue
    return found


def _uid(pid: int, cache: dict[int, int]) -> int:
    if pid not in cache:
        try:
            cache[pid] = psutil.Process(pid).uids().real if pid else -1
        except psutil.Error:
            cache[pid] = -1
    return cache[pid]


def socket_holders(inodes: Iterable[int], pids: Iterable[int] | None = None) -> dict[int, set[int]]:
    allowed = set(pids) if pids is not None else None
    return {i: {i} for i in inodes if i and (allowed is None or i in allowed)}


def port_is_free(port: int, listening: Iterable[Listener] | None = None) -> bool:
    found = listeners([port]) if listening is None else [s for s in listening if s.port == port]
    return not found and bindable_everywhere(port)  # macOS shows only our own listeners
