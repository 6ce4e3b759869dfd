"""Types (and the one platform test) shared by the platform implementations."""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

DARWIN = sys.platform == "darwin"  # the portable layer's macOS-only calls are in darwin


class SignalOutcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # the process no longer exists
    REUSED = "reused"  # the pid now names another process: nothing was sent
    DENIED = "denied"  # another user's process, or the kernel refused


class ProcStat(NamedTuple):
    """One process's line of /proc/PID/stat (or its equivalent). A named tuple, not a frozen
    dataclass: one is built per process per scan, and a tuple builds in a fifth of the time."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int  # clock ticks since boot (Linux); microseconds since the epoch elsewhere
    comm: str
    uid: int
    threads: int = 0  # how many it has, where the stat says (0: not known)


@dataclass(frozen=True)
class Listener:
    port: int
    address: str
    family: int
    uid: int
    inode: int


@dataclass(frozen=True)
class Capabilities:
    platform: str
    subreaper: bool
    pidfd: bool
    pidfs_inode: bool
    cgroup: Path | None
    cgroup_kill: bool
    proc_children: bool
    inet_diag: bool
    layer: str = "linux"  # which OS layer: "linux", or "portable" (macOS; CORRAL_OSLAYER)

    def layers(self) -> dict[str, bool]:
        return {
            "process groups": True,
            "subreaper": self.subreaper,
            "pidfd signals": self.pidfd,
            "pidfs identity": self.pidfs_inode,
            "cgroup v2": self.cgroup is not None,
            "cgroup.kill": self.cgroup_kill,
            "environment markers": True,
            "lifeline fd": True,  # a pipe on Linux, a locked file elsewhere
            "inet_diag ports": self.inet_diag,
        }


@dataclass(frozen=True)
class Orphan:
    """A process of ours that left every tree (its parent is init) and whose environment cannot
    be read: where no layer proves absence, a possible escapee of some run."""

    pid: int
    started: float  # seconds since the epoch
    cwd: str  # resolved


class ForkWatch(Protocol):
    """Fork events of the processes it watches, for a layer that can neither hold descendants
    (subreaper) nor contain them (cgroup): the supervisor reads a member's children as soon as
    it forks. Only macOS has one (``darwin.ForkWatch``)."""

    def fileno(self) -> int: ...
    def watch(self, pid: int) -> bool: ...
    def forked(self) -> set[int]: ...
    def close(self) -> None: ...
