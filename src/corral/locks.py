"""The project's two locks (``flock``, released by the kernel when the holder dies):
``.corral/spawn.lock`` serialises clients that may start a supervisor, and
``.corral/supervisor.lock`` is held by the guard and the supervisor for their whole life, which
makes "is a supervisor alive?" a question the kernel answers even for a hung supervisor."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from corral.errors import CorralError
from corral.paths import supervisor_lock_path


def supervisor_alive(root: Path) -> bool:
    """Whether a guard or supervisor holds the project's lock. The kernel drops the lock when its
    holders die, so this is right even for a supervisor that is stopped or hung."""
    try:
        fd = os.open(supervisor_lock_path(root), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def locked(path: Path, timeout: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CorralError(f"{path} stayed locked for {timeout:g}s") from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)
