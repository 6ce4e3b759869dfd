"""cgroup v2: a leaf per service, joined between fork and exec; ``cgroup.kill`` ends a stop.

Used only where a cgroup v2 directory we may create children in exists (root without systemd,
or a delegated subtree). Everything here tolerates its absence.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from corral.oslayer.procfs import read_all


@functools.cache
def cgroup_base() -> Path | None:
    """Our own cgroup v2 directory, if we can create sub-cgroups in it. ``CORRAL_CGROUP=off``
    turns the layer off (to see, or test, what corral does where it is not available)."""
    if os.environ.get("CORRAL_CGROUP") == "off":
        return None
    mount = _cgroup2_mount()
    own = _own_cgroup()
    if mount is None or own is None:
        return None
    base = Path(mount) / own.lstrip("/")
    probe = base / f"corral-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return None
    control = base / "cgroup.subtree_control"
    if own != "/" and control.exists() and control.read_text().strip():
        return None  # controllers enabled here: our leaves could not hold processes
    return base


def _cgroup2_mount() -> str | None:
    try:
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                before, _, after = line.partition(" - ")
                if after.split(" ", 1)[0] == "cgroup2":
                    return before.split()[4]
    except OSError:
        return None
    return None


def _own_cgroup() -> str | None:
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        return None
    return None


def cgroup_create(path: Path) -> None:
    path.mkdir(exist_ok=True)


def cgroup_join(path: Path) -> None:
    """Move the calling process into ``path``. Safe between fork and exec (plain os calls);
    best effort: a failure leaves the process where it was and the other layers still hold."""
    try:
        fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY)
    except OSError:
        return
    try:
        os.write(fd, b"0")
    except OSError:
        pass
    finally:
        os.close(fd)


def cgroup_procs(path: Path | str) -> list[int]:
    """Every process in ``path`` and the cgroups below it."""
    found: list[int] = []
    pending = [os.fspath(path)]
    while pending:
        directory = pending.pop()
        listed = read_all(os.path.join(directory, "cgroup.procs")) or b""
        found.extend(int(pid) for pid in listed.split())
        try:
            links = os.stat(directory).st_nlink
        except OSError:
            continue
        # cgroupfs counts 2 links plus one per child cgroup: a leaf (every service's cgroup,
        # unless the service makes its own) is not listed, its 30-odd interface files unread.
        if links != 2:
            with contextlib.suppress(OSError), os.scandir(directory) as entries:
                pending.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
    return found


def cgroup_populated(path: Path | str) -> bool:
    try:
        with open(os.path.join(path, "cgroup.events")) as handle:
            return any(line.strip() == "populated 1" for line in handle)
    except OSError:
        return False


def cgroup_kill_all(path: Path | str, fallback: Callable[[Iterable[int]], None]) -> bool:
    """SIGKILL everything in the subtree atomically (Linux >= 5.14); otherwise kill each member
    through ``fallback``. True when ``cgroup.kill`` was used.

    ``cgroup.kill`` kills whatever is inside, whoever owns it: a cgroup that holds a process of
    another user gets ``fallback`` (which signals only our own processes) instead."""
    procs = cgroup_procs(path)
    if any(_owner(pid) not in (os.getuid(), None) for pid in procs):
        fallback(procs)
        return False
    try:
        fd = os.open(os.path.join(path, "cgroup.kill"), os.O_WRONLY)
    except FileNotFoundError:
        fallback(cgroup_procs(path))
        return False
    except OSError:
        return False
    try:
        os.write(fd, b"1")
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None  # gone already


def cgroup_wait_empty(path: Path | str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while cgroup_populated(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def cgroup_remove(path: Path | str) -> None:
    """Remove the subtree bottom-up; busy or missing directories are left alone."""
    for directory, _dirs, _files in os.walk(path, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def project_cgroup(project_id: str) -> Path | None:
    """Where a project's service cgroups live, when this machine lets us have cgroups: one
    directory per project id, directly below our own cgroup."""
    base = cgroup_base()
    return None if base is None else base / f"corral-{project_id}"
