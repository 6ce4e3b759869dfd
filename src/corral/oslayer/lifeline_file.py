"""The portable layer's lifeline: a file each run holds open (with a shared lock) instead of a
pipe, since there are no /proc fd scans to find a pipe's holders. Re-exported by ``portable``."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LIFELINE_SUFFIX = ".lifeline"


def open_lifeline(state_dir: Path) -> tuple[int, int, str]:
    """A lifeline *file* under ``state_dir``/lifelines, opened with a shared ``flock``: the
    child inherits the descriptor (and with it the lock, which belongs to the open file), the
    supervisor keeps nothing. While any process of the run still holds it, an exclusive lock
    attempt fails (``lifeline_held``), and open-file scans name the holders. Returns (the fd the
    supervisor keeps, here -1; the fd the child inherits; the name the run records)."""
    directory = state_dir / "lifelines"
    directory.mkdir(mode=0o700, exist_ok=True)
    _sweep_lifelines(directory)
    path = directory / f"{os.urandom(8).hex()}{LIFELINE_SUFFIX}"
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return -1, fd, str(path)


def lifeline_held(name: str) -> bool:
    """Whether some process still holds the lifeline file ``name`` (whoever it is: the kernel
    answers, even for processes that scans cannot see)."""
    if not name.endswith(LIFELINE_SUFFIX):
        return False
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def release_lifeline(name: str) -> None:
    """Remove the lifeline file ``name`` once nothing holds it."""
    if name.endswith(LIFELINE_SUFFIX) and not lifeline_held(name):
        with contextlib.suppress(OSError):
            os.unlink(name)


def _sweep_lifelines(directory: Path) -> None:
    """Lifeline files nobody holds any more (runs that ended without a stop) go."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.endswith(LIFELINE_SUFFIX):
                release_lifeline(entry.path)
