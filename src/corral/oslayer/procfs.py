"""Linux's /proc scans: every process of a user, the markers in their environments, the targets
of their file descriptors (pipes, sockets), read without signalling anyone. Re-exported by
``linux``."""

from __future__ import annotations

import os
from collections.abc import Iterable

from corral import markers

MARKER_PREFIX = markers.PREFIX.encode()


def list_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _own_pids(uid: int | None) -> Iterable[int]:
    uid = os.getuid() if uid is None else uid
    for pid in list_pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                yield pid
        except OSError:
            continue


def scan_markers(uid: int | None = None) -> dict[int, dict[str, str]]:
    """Every process of ``uid`` (default: ours) carrying CORRAL_* variables, with them."""
    me = os.getpid()
    found: dict[int, dict[str, str]] = {}
    for pid in _own_pids(uid):
        if pid == me:
            continue
        data = read_all(f"/proc/{pid}/environ")
        if data and MARKER_PREFIX in data:
            found[pid] = _markers(data)
    return found


def read_markers(pid: int) -> dict[str, str] | None:
    data = read_all(f"/proc/{pid}/environ")
    return None if data is None else _markers(data)


READ_SIZE = 1 << 16


def read_all(path: str) -> bytes | None:
    """The whole of a /proc (or cgroupfs) file, None if it cannot be read. Plain os calls: these
    files are read by the thousand in a stop, and open() adds a buffer, a seek and a fstat.
    A read shorter than asked is the end: these files (seq_file, environ, cmdline) fill what
    is asked for as long as they have more, so most take one read, not two."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = [os.read(fd, READ_SIZE)]
        while len(chunks[-1]) == READ_SIZE:
            chunks.append(os.read(fd, READ_SIZE))
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _markers(data: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    if MARKER_PREFIX not in data:
        return found
    for item in data.split(b"\0"):
        if item.startswith(MARKER_PREFIX):
            key, _, value = item.partition(b"=")
            found[key.decode(errors="replace")] = value.decode(errors="replace")
    return found


def fd_targets(pid: int) -> set[str]:
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    targets = set()
    for name in names:
        try:
            targets.add(os.readlink(f"/proc/{pid}/fd/{name}"))
        except OSError:
            continue
    return targets


def scan_fd_holders(targets: set[str], pids: Iterable[int] | None = None) -> dict[str, set[int]]:
    """Which processes hold an fd whose link reads as one of ``targets`` ("pipe:[N]", ...)."""
    holders: dict[str, set[int]] = {}
    if not targets:
        return holders
    for pid in pids if pids is not None else _own_pids(None):
        for target in fd_targets(pid) & targets:
            holders.setdefault(target, set()).add(pid)
    return holders


def scan_pipe_holders() -> dict[str, set[int]]:
    """Every pipe held by a process of ours, as "pipe:[N]" -> holder pids (one pass serves
    every lifeline at once)."""
    holders: dict[str, set[int]] = {}
    for pid in _own_pids(None):
        for target in fd_targets(pid):
            if target.startswith("pipe:"):
                holders.setdefault(target, set()).add(pid)
    return holders


def pipe_link(fd: int) -> str:
    return f"pipe:[{os.fstat(fd).st_ino}]"


def socket_holders(inodes: Iterable[int], pids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """inode -> pids holding that socket (only ``pids`` when given: a targeted scan)."""
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    found = scan_fd_holders(set(wanted), pids)
    return {wanted[target]: pids_ for target, pids_ in found.items()}
