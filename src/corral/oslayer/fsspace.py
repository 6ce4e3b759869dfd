"""Giving a file's disk space back in place, while another process keeps appending to it.

``fallocate(2)`` on Linux: COLLAPSE_RANGE removes the file's first bytes and shifts the rest down
(ext4, XFS); PUNCH_HOLE frees them and leaves a hole of the same length (also tmpfs and btrfs).
Both hold the inode lock, so an ``O_APPEND`` writer's bytes all land after the change: nothing
is lost. Elsewhere neither exists and the callers fall back (see ``corral.logs.rotation``).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
# What a file system without the operation (or a range it will not take) answers.
UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL, errno.EPERM}


class Unsupported(OSError):
    """This file system (or platform) cannot do that to this file."""


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only when a log is rotated: not on the start-up path

    libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(libc, "fallocate64", None) or getattr(libc, "fallocate", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int

    def call(fd: int, mode: int, offset: int, length: int) -> int:
        if function(fd, mode, offset, length) == 0:
            return 0
        return ctypes.get_errno()

    return call


def _allocate(fd: int, mode: int, length: int) -> None:
    call = _fallocate()
    if call is None:
        raise Unsupported(errno.ENOSYS, "fallocate is not available here")
    code = call(fd, mode, 0, length)
    if code in UNSUPPORTED:
        raise Unsupported(code, os.strerror(code))
    if code:
        raise OSError(code, os.strerror(code))


def collapse_start(fd: int, length: int) -> None:
    """Remove the first ``length`` bytes (a multiple of ``block_size``, short of the end)."""
    _allocate(fd, FALLOC_FL_COLLAPSE_RANGE, length)


def punch_start(fd: int, length: int) -> None:
    """Free the first ``length`` bytes' blocks; they read as zeros, the size stays."""
    _allocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, length)


def block_size(fd: int) -> int:
    return os.fstat(fd).st_blksize or 4096


def copy_range(source: int, target: int, offset: int, length: int) -> int:
    """Append ``length`` bytes of ``source`` from ``offset`` to ``target``; the bytes copied."""
    done = 0
    copier = getattr(os, "copy_file_range", None)
    while done < length:
        want = min(length - done, 8 * 1024 * 1024)
        count = 0
        if copier is not None:
            try:
                count = copier(source, target, want, offset + done)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                copier = None
        if copier is None:
            data = os.pread(source, want, offset + done)
            count = len(data)
            view = memoryview(data)
            while view:
                view = view[os.write(target, view) :]
        if count == 0:
            break  # the source is shorter than asked
        done += count
    return done
