"""The portable layer: what macOS gets, and what ``CORRAL_OSLAYER=portable`` gives on Linux.

No subreaper, no cgroups, no pidfd, no /proc: psutil for processes and sockets, identities
re-checked immediately before ``kill()`` (a small race Linux does not have), environment
markers read where the OS lets us. A ``Listener.inode`` here is the pid that owns the socket,
since sockets have no inode we could look up later. The macOS-only calls are in ``darwin``.

On Linux this layer imitates what macOS lacks, so that the path macOS takes is what CI runs:
no subreaper, no parent-death signal, no cgroup, no pidfd, and the peer credentials come from
one call behind ``peer_uid`` (as ``getpeereid`` does there).
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import sys
import time
from pathlib import Path

import psutil

from corral.model import ProcessIdentity
from corral.oslayer.common import (
    DARWIN,
    Capabilities,
    ForkWatch,
    Listener,
    Orphan,
    ProcStat,
    SignalOutcome,
)
from corral.oslayer.lifeline_file import lifeline_held, open_lifeline, release_lifeline
from corral.oslayer.psutil_scans import (
    fd_targets,
    listeners,
    port_is_free,
    read_markers,
    scan_fd_holders,
    scan_markers,
    scan_pipe_holders,
    socket_holders,
    unreadable_orphans,
)

if DARWIN:  # pragma: no cover - the macOS CI job runs this branch
    from corral.oslayer import darwin


@functools.cache
def boot_id() -> str:
    if DARWIN:  # pragma: no cover
        return darwin.boot_session()
    return str(int(psutil.boot_time()))  # Linux: btime moves only when the clock is set


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket."""
    if DARWIN:  # pragma: no cover
        return darwin.peer_uid(sock)
    # Linux has no getpeereid() in its C library: SO_PEERCRED, by number, so that nothing
    # outside this call needs the constant (Python on macOS does not define it).
    credentials = sock.getsockopt(socket.SOL_SOCKET, 17, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def _start_us(process: psutil.Process) -> int:
    if DARWIN:  # pragma: no cover - psutil's create_time moves with clock steps there
        raw = darwin.start_time_us(process.pid)
        if raw is None:
            raise psutil.NoSuchProcess(process.pid)
        return raw
    return int(process.create_time() * 1_000_000)


def system_listener(port: int, command: str) -> str | None:
    """What a port holder is when it is a known part of the system (the AirPlay Receiver)."""
    if DARWIN:  # pragma: no cover
        return darwin.system_listener(port, command)
    return None


def start_time(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch."""
    stat = read_stat(pid)
    return None if stat is None else stat.start / 1_000_000


def alive(stat: ProcStat) -> bool:
    """Whether a process read as ``stat`` still runs: a zombie never does here."""
    return stat.state != "Z"


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
                start=_start_us(process),
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


ESCAPES = (
    "a process that left the service's process tree (a double fork or setsid), closed its "
    "descriptors (the lifeline file) and has an environment that cannot be read (an Apple "
    "binary, or one started with env -i): without a subreaper or cgroup nothing here sees it"
)


def _verify(identity: ProcessIdentity) -> SignalOutcome:
    stat = read_stat(identity.pid)
    if stat is None or not alive(stat):  # a zombie has exited: a signal would do nothing
        return SignalOutcome.GONE
    if stat.start != identity.start:
        return SignalOutcome.REUSED
    if stat.uid != os.getuid():
        return SignalOutcome.DENIED
    return SignalOutcome.SENT


class ProcessHandle:
    """Without pidfds: the identity, re-checked before every signal. On macOS a kqueue
    (``EVFILT_PROC``) says when it exits, so ``fileno`` can be watched; elsewhere it is -1 and
    callers poll ``has_exited``."""

    def __init__(self, identity: ProcessIdentity) -> None:
        self.identity = identity
        self._exit_watch = darwin.exit_watch(identity.pid) if DARWIN else None  # pragma: no cover

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
        return self._exit_watch.fileno() if self._exit_watch is not None else -1

    def close(self) -> None:
        if self._exit_watch is not None:  # pragma: no cover - macOS
            self._exit_watch.close()
            self._exit_watch = None

    def __enter__(self) -> ProcessHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_process(identity: ProcessIdentity) -> ProcessHandle | None:
    handle = ProcessHandle(identity)
    if _verify(identity) is SignalOutcome.SENT:  # after the exit watch was set: it is the one
        return handle
    handle.close()
    return None


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


class ProcessTree:
    """Who is whose child, and who is in which session, read once per pass: psutil finds a
    process's children by listing every process, so a walk per service was most of the cost
    of stopping 200 of them. Built on first use, so never older than the pass that made it."""

    def __init__(self) -> None:
        self._by_parent: dict[int, list[int]] | None = None
        self._by_session: dict[int, list[int]] | None = None

    def children(self, pid: int, threads: int = 0) -> list[int]:
        if self._by_parent is None:
            table: dict[int, list[int]] = {}
            for process in psutil.process_iter(["ppid"]):
                parent = process.info.get("ppid")
                if parent is not None:
                    table.setdefault(parent, []).append(process.pid)
            self._by_parent = table
        return self._by_parent.get(pid, [])

    def session(self, sid: int) -> list[int]:
        """The processes whose session is ``sid``."""
        if self._by_session is None:
            table: dict[int, list[int]] = {}
            for pid in psutil.pids():
                try:
                    table.setdefault(os.getsid(pid), []).append(pid)
                except OSError:
                    continue
            self._by_session = table
        return self._by_session.get(sid, [])


def fork_watch() -> ForkWatch | None:
    """Fork events of known members (macOS kqueue); None where the platform has none, as on
    Linux, where this layer then finds children only by looking."""
    if DARWIN:  # pragma: no cover - the macOS CI job runs this branch
        return darwin.ForkWatch()
    return None


def reap(pid: int) -> int | None:
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return status if reaped else None


def list_pids() -> list[int]:
    return psutil.pids()


def pipe_link(fd: int) -> str:
    return f"pipe:[{os.fstat(fd).st_ino}]"


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
        platform=sys.platform,
        subreaper=False,
        pidfd=False,
        pidfs_inode=False,
        cgroup=None,
        cgroup_kill=False,
        proc_children=False,
        inet_diag=False,
        layer="portable",
    )


__all__ = [
    "ESCAPES",
    "Capabilities",
    "ForkWatch",
    "Listener",
    "Orphan",
    "ProcStat",
    "ProcessHandle",
    "ProcessTree",
    "SignalOutcome",
    "alive",
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
    "fork_watch",
    "identify",
    "lifeline_held",
    "list_pids",
    "listeners",
    "open_child",
    "open_lifeline",
    "open_process",
    "peer_uid",
    "pipe_link",
    "port_is_free",
    "project_cgroup",
    "read_markers",
    "read_stat",
    "reap",
    "release_lifeline",
    "safe_signal",
    "scan_fd_holders",
    "scan_markers",
    "scan_pipe_holders",
    "set_child_subreaper",
    "set_parent_death_signal",
    "socket_holders",
    "start_time",
    "system_listener",
    "unreadable_orphans",
]
