"""Other POSIX systems (macOS): the best psutil allows.

No subreaper, no cgroups, no pidfd: identities are re-checked immediately before ``kill()`` (a
small race Linux does not have), environment markers are read where the OS lets us, and there is
no lifeline fd scan. On this platform a ``Listener.inode`` is the pid that owns the socket, since
sockets have no inode we could look up later.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from corral.model import ProcessIdentity
from corral.oslayer.common import Capabilities, Listener, ProcStat, SignalOutcome
from corral.oslayer.netdiag import _bindable


@functools.cache
def boot_id() -> str:
    return str(int(psutil.boot_time()))


def read_stat(pid: int) -> ProcStat | None:
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            return ProcStat(
                pid=pid,
                ppid=process.ppid(),
                pgid=os.getpgid(pid),
                sid=os.getsid(pid),
                state=_state(process.status()),
                start=int(process.create_time() * 1_000_000),
                comm=process.name(),
                uid=process.uids().real,
            )
    except (psutil.Error, OSError):
        return None


def _state(status: str) -> str:
    return {"zombie": "Z", "stopped": "T", "sleeping": "S", "running": "R"}.get(status, "S")


def identify(pid: int, *, with_inode: bool = False) -> ProcessIdentity | None:
    stat = read_stat(pid)
    return None if stat is None else ProcessIdentity(pid, stat.start, boot_id())


def cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def cwd(pid: int) -> str | None:
    try:
        return psutil.Process(pid).cwd()
    except psutil.Error:
        return None


def read_markers(pid: int) -> dict[str, str] | None:
    try:
        environ = psutil.Process(pid).environ()
    except psutil.Error:
        return None
    return {k: v for k, v in environ.items() if k.startswith("CORRAL_")}


def _verify(identity: ProcessIdentity) -> SignalOutcome:
    stat = read_stat(identity.pid)
    if stat is None:
        return SignalOutcome.GONE
    if stat.start != identity.start:
        return SignalOutcome.REUSED
    if stat.uid != os.getuid():
        return SignalOutcome.DENIED
    return SignalOutcome.SENT


class ProcessHandle:
    """Without pidfds: the identity, re-checked before every signal."""

    def __init__(self, identity: ProcessIdentity) -> None:
        self.identity = identity

    def signal(self, sig: int) -> bool:
        return safe_signal(self.identity, sig) is SignalOutcome.SENT

    def has_exited(self) -> bool:
        return _verify(self.identity) is not SignalOutcome.SENT

    def wait_exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.has_exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass

    def __enter__(self) -> ProcessHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_process(identity: ProcessIdentity) -> ProcessHandle | None:
    return ProcessHandle(identity) if _verify(identity) is SignalOutcome.SENT else None


def open_child(identity: ProcessIdentity) -> ProcessHandle | None:
    return ProcessHandle(identity)  # an unreaped child of ours: nothing to verify


def safe_signal(identity: ProcessIdentity, sig: int) -> SignalOutcome:
    outcome = _verify(identity)
    if outcome is not SignalOutcome.SENT:
        return outcome
    try:
        os.kill(identity.pid, sig)
    except ProcessLookupError:
        return SignalOutcome.GONE
    except PermissionError:
        return SignalOutcome.DENIED
    return SignalOutcome.SENT


def set_child_subreaper() -> bool:
    return False


def set_parent_death_signal(sig: int) -> bool:
    return False


def children(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def reap(pid: int) -> int | None:
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return status if reaped else None


def list_pids() -> list[int]:
    return psutil.pids()


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
    return set()


def scan_fd_holders(targets: set[str], pids: Iterable[int] | None = None) -> dict[str, set[int]]:
    return {}  # no portable way to name pipe inodes held by other processes


def scan_pipe_holders() -> dict[str, set[int]]:
    return {}  # see scan_fd_holders


def pipe_link(fd: int) -> str:
    return f"pipe:[{os.fstat(fd).st_ino}]"


def listeners(ports: Iterable[int] | None = None) -> list[Listener]:
    wanted = set(ports) if ports is not None else None
    found = []
    for process in psutil.process_iter(["uids"]):
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        for conn in connections:
            if conn.status == psutil.CONN_LISTEN and (wanted is None or conn.laddr.port in wanted):
                uid = process.info["uids"].real if process.info.get("uids") else -1
                found.append(
                    Listener(conn.laddr.port, conn.laddr.ip, conn.family, uid, process.pid)
                )
    return found


def socket_holders(inodes: Iterable[int], pids: Iterable[int] | None = None) -> dict[int, set[int]]:
    allowed = set(pids) if pids is not None else None
    return {i: {i} for i in inodes if allowed is None or i in allowed}


def port_is_free(port: int, listening: Iterable[Listener] | None = None) -> bool:
    import socket

    found = listeners([port]) if listening is None else [s for s in listening if s.port == port]
    return not found and all(
        _bindable(family, address, port)
        for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"))
    )


def cgroup_base() -> Path | None:
    return None


def cgroup_create(path: Path) -> None:
    raise OSError("cgroups are a Linux feature")


def cgroup_join(path: Path) -> None:
    pass


def cgroup_procs(path: Path | str) -> list[int]:
    return []


def cgroup_populated(path: Path | str) -> bool:
    return False


def cgroup_kill(path: object) -> bool:
    return False


def cgroup_wait_empty(path: Path | str, timeout: float) -> bool:
    return True


def cgroup_remove(path: Path | str) -> None:
    pass


def project_cgroup(project_id: str) -> Path | None:
    return None


@functools.cache
def capabilities() -> Capabilities:
    return Capabilities(
        platform="darwin",
        subreaper=False,
        pidfd=False,
        pidfs_inode=False,
        cgroup=None,
        cgroup_kill=False,
        proc_children=False,
        inet_diag=False,
    )


__all__ = [
    "Capabilities",
    "Listener",
    "ProcStat",
    "ProcessHandle",
    "SignalOutcome",
    "boot_id",
    "capabilities",
    "cgroup_base",
    "cgroup_create",
    "cgroup_join",
    "cgroup_kill",
    "cgroup_populated",
    "cgroup_procs",
    "cgroup_remove",
    "cgroup_wait_empty",
    "children",
    "cmdline",
    "cwd",
    "fd_targets",
    "identify",
    "list_pids",
    "listeners",
    "open_child",
    "open_process",
    "pipe_link",
    "port_is_free",
    "project_cgroup",
    "read_markers",
    "read_stat",
    "reap",
    "safe_signal",
    "scan_fd_holders",
    "scan_markers",
    "scan_pipe_holders",
    "set_child_subreaper",
    "set_parent_death_signal",
    "socket_holders",
]
