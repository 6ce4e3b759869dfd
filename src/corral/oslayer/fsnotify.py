"""Being told when files are written: inotify on Linux (through ctypes: the standard library has
no binding), so that the log index gets a line's time within milliseconds of its write and a
follower sees it at once. ``watcher()`` answers None where there is no such facility; callers
then look at the files on a timer.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import select
import struct
import sys

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
WRITES = IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF
EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        return None
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


class Watcher:
    """Watches for writes to files; ``fileno()`` turns readable when one was written."""

    def __init__(self, libc: ctypes.CDLL, fd: int) -> None:
        self.libc = libc
        self.fd = fd
        self.keys: dict[int, str] = {}  # watch descriptor -> the caller's name for the file
        self.descriptors: dict[str, int] = {}  # and back: asked once per file per sample
        self.overflowed = False  # the kernel dropped events: every file may have been written

    def fileno(self) -> int:
        return self.fd

    def watch(self, path: str, key: str) -> bool:
        """Watch ``path`` (it must exist) under the name ``key``; False if it cannot be."""
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), WRITES)
        if wd < 0:
            return False
        self.keys[wd] = key
        self.descriptors[key] = wd
        return True

    def forget(self, key: str) -> None:
        wd = self.descriptors.pop(key, None)
        if wd is not None:
            self.libc.inotify_rm_watch(self.fd, wd)
            self.keys.pop(wd, None)

    def watching(self, key: str) -> bool:
        return key in self.descriptors

    def watched(self) -> set[str]:
        return set(self.descriptors)

    def changed(self) -> set[str]:
        """The keys of the files written since the last call (never blocks). A file deleted or
        moved is no longer watched: its key is returned and dropped. If the kernel's queue
        overflowed, ``overflowed`` is set: the caller must look at every file."""
        found: set[str] = set()
        while True:
            try:
                data = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return found
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            at = 0
            while at + EVENT.size <= len(data):
                wd, mask, _cookie, length = EVENT.unpack_from(data, at)
                at += EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    self.overflowed = True
                key = self.keys.get(wd)
                if key is None:
                    continue
                found.add(key)
                if mask & IN_IGNORED:
                    self.keys.pop(wd, None)
                    if self.descriptors.get(key) == wd:
                        del self.descriptors[key]

    def wait(self, timeout: float) -> bool:
        """Block until a watched file is written or ``timeout`` seconds pass."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        return bool(ready)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def watcher() -> Watcher | None:
    """A new watcher, or None where files cannot be watched (the caller polls)."""
    libc = _libc()
    if libc is None:
        return None
    fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        return None  # e.g. the per-user limit of inotify instances is reached
    return Watcher(libc, fd)
