"""Linux: pidfd signals after identity checks, subreaper, /proc scans for markers and fds.

Ports are in ``netdiag``, cgroups in ``cgroups``; this module re-exports both so that callers see
one interface.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import socket
import struct
from collections.abc import Iterable

from corral.model import ProcessIdentity
from corral.oslayer.cgroups import (
    cgroup_base,
    cgroup_create,
    cgroup_join,
    cgroup_kill_all,
    cgroup_populated,
    cgroup_procs,
    cgroup_remove,
    cgroup_wait_empty,
    project_cgroup,
)
from corral.oslayer.common import (
    Capabilities,
    ForkWatch,
    Listener,
    Orphan,
    ProcStat,
    SignalOutcome,
)
from corral.oslayer.netdiag import inet_diag_works, listeners, port_is_free
from corral.oslayer.procfs import (
    fd_targets,
    list_pids,
    pipe_link,
    read_all,
    read_markers,
    scan_fd_holders,
    scan_markers,
    scan_pipe_holders,
    socket_holders,
)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


@functools.cache
def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def read_stat(pid: int) -> ProcStat | None:
    # os.open and one read: open() would add a buffer object, an ioctl, two seeks and a fstat,
    # and this runs for every member in every pass of a stop. The file has its process's owner.
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
        uid = os.fstat(fd).st_uid
    except OSError:
        return None
    finally:
        os.close(fd)
    if not data:
        return None
    head, _, tail = data.rpartition(b")")  # comm may hold spaces and parentheses
    fields = tail.split()
    comm = head.partition(b"(")[2].decode(errors="replace")
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        state=fields[0].decode(),
        start=int(fields[19]),
        comm=comm,
        uid=uid,
        threads=int(fields[17]),
    )


def start_time(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch."""
    stat = read_stat(pid)
    if stat is None:
        return None
    return _boot_time() + stat.start / os.sysconf("SC_CLK_TCK")


def _boot_time() -> float:
    with open("/proc/stat") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def alive(stat: ProcStat) -> bool:
    """A zombie is dead unless other threads of it still run (a main thread that called
    pthread_exit shows Z while the process lives on)."""
    if stat.state != "Z":
        return True
    try:
        return len(os.listdir(f"/proc/{stat.pid}/task")) > 1
    except OSError:
        return False


def system_listener(port: int, command: str) -> str | None:
    return None  # no port is known to be held by Linux itself


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket."""
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def identify(pid: int, *, with_inode: bool = False) -> ProcessIdentity | None:
    """The identity of a live process; ``with_inode`` adds its pidfs inode (one more syscall)."""
    stat = read_stat(pid)
    if stat is None:
        return None
    inode = _pidfs_inode(pid) if with_inode and capabilities().pidfs_inode else None
    return ProcessIdentity(pid, stat.start, boot_id(), inode)


def _pidfs_inode(pid: int) -> int | None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        return os.fstat(fd).st_ino
    finally:
        os.close(fd)


def cmdline(pid: int) -> str:
    raw = read_all(f"/proc/{pid}/cmdline")
    if raw is None:
        return ""
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    return " ".join(text.split())  # one line, whatever the arguments held (newlines, tabs)


def cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


class ProcessHandle:
    """A pidfd: it names one process for as long as it is open, whatever happens to the pid."""

    def __init__(self, fd: int, identity: ProcessIdentity) -> None:
        self.fd = fd
        self.identity = identity

    def signal(self, sig: int) -> bool:
        """Send ``sig``; False when the process has already exited."""
        try:
            signal.pidfd_send_signal(self.fd, sig)
        except ProcessLookupError:
            return False
        return True

    def has_exited(self) -> bool:
        return self.wait_exited(0)

    def wait_exited(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        return bool(readable)

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> ProcessHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_verified(identity: ProcessIdentity) -> tuple[int | None, SignalOutcome]:
    """A pidfd for ``identity``, opened first and verified second, so the check cannot race."""
    try:
        fd = os.pidfd_open(identity.pid)
    except ProcessLookupError:
        return None, SignalOutcome.GONE
    except OSError:
        return None, SignalOutcome.DENIED
    stat = read_stat(identity.pid)
    outcome = SignalOutcome.SENT
    if stat is None:
        outcome = SignalOutcome.GONE
    elif stat.start != identity.start or (
        identity.inode is not None and os.fstat(fd).st_ino != identity.inode
    ):
        outcome = SignalOutcome.REUSED
    elif stat.uid != os.getuid():
        outcome = SignalOutcome.DENIED  # never another user's process
    if outcome is not SignalOutcome.SENT:
        os.close(fd)
        return None, outcome
    return fd, outcome


def open_process(identity: ProcessIdentity) -> ProcessHandle | None:
    fd, _ = _open_verified(identity)
    return None if fd is None else ProcessHandle(fd, identity)


def open_child(identity: ProcessIdentity) -> ProcessHandle | None:
    """``open_process`` for a child of ours not yet reaped: its pid cannot have been reused, so
    there is nothing to verify."""
    try:
        return ProcessHandle(os.pidfd_open(identity.pid), identity)
    except OSError:
        return None


def safe_signal(identity: ProcessIdentity, sig: int) -> SignalOutcome:
    fd, outcome = _open_verified(identity)
    if fd is None:
        return outcome
    try:
        signal.pidfd_send_signal(fd, sig)
    except ProcessLookupError:
        return SignalOutcome.GONE
    except PermissionError:
        return SignalOutcome.DENIED
    finally:
        os.close(fd)
    return SignalOutcome.SENT


@functools.cache
def _libc():  # type: ignore[no-untyped-def]
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def set_child_subreaper() -> bool:
    return _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def set_parent_death_signal(sig: int) -> bool:
    return _libc().prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def children(pid: int, threads: int = 0) -> list[int]:
    """Children of ``pid`` from /proc/PID/task/*/children (a hint: exiting children may hide
    others for a moment, so callers confirm with other layers). ``threads`` is 1 when a stat
    just read says so: the one task is then the process itself, and the task list is not read."""
    found: list[int] = []
    try:
        tasks = [str(pid)] if threads == 1 else os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        listed = read_all(f"/proc/{pid}/task/{task}/children")
        if listed:
            found.extend(int(item) for item in listed.split())
    return found


def fork_watch() -> ForkWatch | None:
    """None: the subreaper and the cgroup keep every descendant without fork events."""
    return None


def reap(pid: int) -> int | None:
    """The wait status of our child ``pid`` if it has exited (reaping it), else None. A pid that
    is not our child (ECHILD) also gives None: someone else reaps it."""
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return status if reaped else None


class ProcessTree:
    """Who is whose child (read fresh from /proc for each process: the kernel's lists are
    cheap), and who is in which session (one pass over /proc, on first use)."""

    def __init__(self) -> None:
        self._by_session: dict[int, list[int]] | None = None

    def children(self, pid: int, threads: int = 0) -> list[int]:
        return children(pid, threads)

    def session(self, sid: int) -> list[int]:
        """The processes whose session is ``sid``."""
        if self._by_session is None:
            table: dict[int, list[int]] = {}
            for pid in list_pids():
                stat = read_stat(pid)
                if stat is not None:
                    table.setdefault(stat.sid, []).append(pid)
            self._by_session = table
        return self._by_session.get(sid, [])


def open_lifeline(state_dir: object) -> tuple[int, int, str]:
    """A lifeline pipe: the supervisor keeps the read end (POLLHUP once every holder of the
    write end is gone), the child inherits the write end, the run records "pipe:[inode]",
    which /proc fd scans find in every holder. Returns (kept fd, child's fd, name)."""
    read_end, write_end = os.pipe()  # close-on-exec, as Python makes every descriptor
    return read_end, write_end, pipe_link(read_end)


# Every environment of ours is readable here, and the subreaper and the cgroup see what left
# the tree; what still escapes (IPC spawns, the double crash without cgroup) is documented.
ESCAPES = "processes started through another daemon (tmux, docker, at), which no layer follows"


def unreadable_orphans() -> list[Orphan]:
    return []  # an orphan is the subreaper's child here, and in the cgroup: never unseen


def lifeline_held(name: str) -> bool:
    return False  # a pipe cannot be asked; the fd scans name its holders


def release_lifeline(name: str) -> None:
    pass  # a pipe leaves nothing behind


def cgroup_kill(path: object) -> bool:
    return cgroup_kill_all(path, _kill_members)  # type: ignore[arg-type]


def _kill_members(pids: Iterable[int]) -> None:
    for pid in pids:
        identity = identify(pid)
        if identity is not None:
            safe_signal(identity, signal.SIGKILL)


@functools.cache
def capabilities() -> Capabilities:
    pidfd = hasattr(os, "pidfd_open") and _pidfs_inode(os.getpid()) is not None
    base = cgroup_base()
    return Capabilities(
        platform="linux",
        subreaper=_libc().prctl(PR_GET_CHILD_SUBREAPER, _int_pointer(), 0, 0, 0) == 0,
        pidfd=pidfd,
        pidfs_inode=pidfd and _pidfs_inode(os.getpid()) != _pidfs_inode(os.getppid()),
        cgroup=base,
        cgroup_kill=base is not None and _has_cgroup_kill(base),
        proc_children=os.path.exists(f"/proc/self/task/{os.getpid()}/children"),
        inet_diag=inet_diag_works(),
    )


def _int_pointer():  # type: ignore[no-untyped-def]
    import ctypes

    return ctypes.byref(ctypes.c_int())


def _has_cgroup_kill(base: object) -> bool:
    from pathlib import Path

    probe = Path(str(base)) / f"corral-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        return (probe / "cgroup.kill").exists()
    finally:
        probe.rmdir()


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
