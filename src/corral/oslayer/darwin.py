"""The few macOS calls the portable layer makes, through ctypes (only macOS imports this).

- ``peer_uid``: ``getpeereid()``; Python's ``socket`` has no ``SO_PEERCRED`` there.
- ``start_time_us``: the raw ``kinfo_proc.kp_proc.p_starttime`` (sysctl KERN_PROC_PID). psutil
  7.1 and later shift macOS ``create_time()`` after a clock step, relative to when each process
  imported psutil, so two corral processes would disagree about one process's identity.
- ``boot_session``: ``kern.bootsessionuuid``, which names this boot whatever the clock does
  (``psutil.boot_time()`` moves with clock steps).
- ``exit_watch``: a kqueue with ``EVFILT_PROC``/``NOTE_EXIT`` on one process, which the event
  loop watches like a pidfd: an exit wakes a stop or a tether at once instead of a poll.
- ``ForkWatch``: one kqueue with ``NOTE_FORK`` on every member the supervisor knows, so that a
  member's new child is recorded while it is still that member's child, before a double fork
  can hand it to launchd. (macOS has no ``NOTE_TRACK``: the event names the parent only.)

Every constant here is from the macOS SDK headers (<sys/sysctl.h>, <sys/proc.h>); the macOS CI
job runs tests/behaviour/oslayer/test_darwin.py against them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import select
import socket
import struct

CTL_KERN = 1
KERN_PROC = 14
KERN_PROC_PID = 1
KINFO_PROC_SIZE = 648  # sizeof(struct kinfo_proc) on 64-bit macOS (x86_64 and arm64)
TIMEVAL = struct.Struct("=qi")  # struct timeval: tv_sec (long), tv_usec (int), at offset 0


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.sysctl.argtypes = [
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.c_void_p,
        ctypes.c_size_t,
    ]
    libc.sysctlbyname.argtypes = [
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.c_void_p,
        ctypes.c_size_t,
    ]
    return libc


def _raise_errno() -> None:
    number = ctypes.get_errno()
    raise OSError(number, os.strerror(number))


def peer_uid(sock: socket.socket) -> int:
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if _libc().getpeereid(sock.fileno(), ctypes.byref(uid), ctypes.byref(gid)) != 0:
        _raise_errno()
    return uid.value


def start_time_us(pid: int) -> int | None:
    """When ``pid`` started, in microseconds since the epoch as the kernel recorded it, or None
    if there is no such process."""
    mib = (ctypes.c_int * 4)(CTL_KERN, KERN_PROC, KERN_PROC_PID, pid)
    buffer = ctypes.create_string_buffer(KINFO_PROC_SIZE)
    size = ctypes.c_size_t(KINFO_PROC_SIZE)
    if _libc().sysctl(mib, 4, buffer, ctypes.byref(size), None, 0) != 0:
        return None
    if size.value < TIMEVAL.size:  # no such pid: the kernel returns zero bytes
        return None
    seconds, micros = TIMEVAL.unpack_from(buffer.raw, 0)
    return seconds * 1_000_000 + micros


AIRPLAY_PORTS = (5000, 7000)
AIRPLAY = (
    "the macOS AirPlay Receiver (ControlCenter): turn it off in System Settings > General > "
    "AirDrop & Handoff, or set port_base to another range"
)


def system_listener(port: int, command: str) -> str | None:
    """What a listener we did not start is, when macOS itself is known to hold that port."""
    if port in AIRPLAY_PORTS and ("ControlCenter" in command or "AirPlay" in command):
        return AIRPLAY
    return None


def boot_session() -> str:
    size = ctypes.c_size_t(64)
    buffer = ctypes.create_string_buffer(size.value)
    if _libc().sysctlbyname(b"kern.bootsessionuuid", buffer, ctypes.byref(size), None, 0) != 0:
        _raise_errno()
    return buffer.value.decode()


def exit_watch(pid: int) -> select.kqueue | None:
    """A kqueue that turns readable when ``pid`` exits, or None if there is no such process
    (it exited already). The caller checks afterwards that ``pid`` is still the process it
    means: the pid could have been reused before the watch was set."""
    queue = select.kqueue()
    event = select.kevent(
        pid, select.KQ_FILTER_PROC, select.KQ_EV_ADD | select.KQ_EV_ONESHOT, select.KQ_NOTE_EXIT
    )
    try:
        queue.control([event], 0, 0)
    except OSError:  # ESRCH: gone already
        queue.close()
        return None
    return queue


class ForkWatch:
    """Which watched processes forked since the last look: one kqueue for all of them, which
    the supervisor's loop reads when it turns readable. A watch ends by itself at the exit."""

    BATCH = 256

    def __init__(self) -> None:
        self._queue = select.kqueue()

    def fileno(self) -> int:
        return self._queue.fileno()

    def watch(self, pid: int) -> bool:
        """Watch ``pid`` from now on; False if it is gone already."""
        event = select.kevent(
            pid,
            select.KQ_FILTER_PROC,
            select.KQ_EV_ADD | select.KQ_EV_CLEAR,
            select.KQ_NOTE_FORK | select.KQ_NOTE_EXIT,
        )
        try:
            self._queue.control([event], 0, 0)
        except OSError:  # ESRCH
            return False
        return True

    def forked(self) -> set[int]:
        """The watched pids that forked since the last call (never blocks)."""
        parents: set[int] = set()
        while True:
            events = self._queue.control(None, self.BATCH, 0)
            parents.update(e.ident for e in events if e.fflags & select.KQ_NOTE_FORK)
            if len(events) < self.BATCH:
                return parents

    def close(self) -> None:
        self._queue.close()
