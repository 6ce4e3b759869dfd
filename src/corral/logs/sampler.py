"""The time index of each service's log, and when to rotate it.

Each time a log grows, ``sample`` appends ``offset time`` (logical offset, see ``files``) to its
index. Inside the supervisor, ``attach`` has write notifications (``oslayer.fsnotify``) call it
within milliseconds of each write, at most once per ``RESOLUTION`` per log, so a line's time is
when it was written, to ``RESOLUTION``; the supervisor's tick samples as well, for platforms
without notifications and files that could not be watched. A log past ``max_size`` is rotated
in a thread (``rotation``), at once rather than at the next tick, so it stays near its bound
even under a fast writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from corral.logs import files
from corral.logs.rotation import Rotator

if TYPE_CHECKING:  # the module loads ctypes: only once the supervisor attaches
    from corral.oslayer.fsnotify import Watcher

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
RESOLUTION = 0.005  # seconds: at most one index entry per log per this
RETRY = 0.01  # seconds: when rotation held the index, sample again after this


class LogSampler:
    """Keeps the time index of each service's log and rotates logs that grew too big."""

    def __init__(
        self,
        state_dir: Path,
        services: Iterable[str],
        max_size: int = DEFAULT_MAX_SIZE,
        keep: int = files.DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = state_dir
        self.clock = clock
        # Guards the index files and ``headers``: the loop's appends, a rotation's rewrite.
        self.lock = threading.Lock()
        self.headers: dict[str, files.Header] = {}
        self.rotator = Rotator(state_dir, max_size, keep, self.lock, self.headers)
        self.ends: dict[str, int | None] = {}  # logical end last indexed; None: not looked yet
        self.paths: dict[str, str] = {}  # built once: this runs on every write, forever
        self.rotating: set[str] = set()
        self.threads: list[threading.Thread] = []  # rotations under way (joined at detach)
        self.loop: asyncio.AbstractEventLoop | None = None  # set by attach: rotate in threads
        self.watcher: Watcher | None = None
        self.last: dict[str, float] = {}  # monotonic time of each log's last sample
        self.later: set[str] = set()  # samples scheduled after RESOLUTION or RETRY
        for name in services:
            self.add(name)

    @property
    def max_size(self) -> int:
        return self.rotator.max_size

    @max_size.setter
    def max_size(self, value: int) -> None:
        self.rotator.max_size = value

    @property
    def keep(self) -> int:
        return self.rotator.keep

    @keep.setter
    def keep(self, value: int) -> None:
        self.rotator.keep = value

    def add(self, service: str) -> None:
        self.ends.setdefault(service, None)
        self.paths.setdefault(service, str(files.log_path(self.state_dir, service)))
        if service not in self.headers:
            self.headers[service] = files.read_header(files.index_path(self.state_dir, service))
        self._watch(service)

    def began(self, service: str) -> None:
        """A run of the service was just spawned (its log file exists now)."""
        self.sample([service])

    def remove(self, service: str) -> None:
        for table in (self.ends, self.paths, self.headers, self.last):
            table.pop(service, None)
        if self.watcher is not None:
            self.watcher.forget(service)

    # ---- sampling --------------------------------------------------------------------------

    def sample(self, services: Iterable[str] | None = None) -> None:
        """Index what the logs (default: all) gained since the last look; rotate big ones."""
        for service in list(self.ends) if services is None else services:
            if service not in self.ends:
                continue
            self._watch(service)  # before looking: a write in between is then notified
            if not self.lock.acquire(blocking=False):  # a rotation is rewriting the index
                self._later(service, RETRY)
                continue
            try:
                too_big = self._sample_one(service)
            finally:
                self.lock.release()
            if too_big:
                self._rotate_soon(service)

    def has_unwatched(self) -> bool:
        """Whether some log is looked at by the tick alone."""
        watcher = self.watcher
        if watcher is None or watcher.overflowed:
            return bool(self.ends)
        return any(not watcher.watching(s) for s in self.ends)

    def sample_unwatched(self) -> None:
        """The supervisor's tick: index the logs no write notification covers (no watcher on
        this platform, a log that could not be watched, or notifications lost to an overflow).
        A watched log is sampled on its writes, so an idle supervisor does not stat every
        log twice a second."""
        watcher = self.watcher
        if watcher is None or watcher.overflowed:
            if watcher is not None:
                watcher.overflowed = False
            self.sample()
            return
        self.sample([s for s in self.ends if not watcher.watching(s)])

    def _sample_one(self, service: str) -> bool:
        """Index one log's growth; whether it is now too big."""
        try:
            size = os.stat(self.paths[service]).st_size
        except OSError:
            return False
        header = self.headers[service]
        end, last = header.base + size, self.ends[service]
        self.last[service] = time.monotonic()
        if end == last:
            return False
        if last is None:  # first look since we started: the file's mtime, at the latest now
            when = min(os.stat(self.paths[service]).st_mtime, self.clock())
        elif end < last:  # truncated by someone: the old index no longer applies
            header = self.headers[service] = files.Header()
            files.index_path(self.state_dir, service).unlink(missing_ok=True)
            end, when = size, self.clock()
        else:
            when = self.clock()
        self._append(service, end, when)
        self.ends[service] = end
        return end - header.start > self.max_size

    def _append(self, service: str, offset: int, when: float) -> None:
        path = files.index_path(self.state_dir, service)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, f"{offset} {when:.3f}\n".encode())
        finally:
            os.close(fd)

    # ---- rotation --------------------------------------------------------------------------

    def _rotate_soon(self, service: str) -> None:
        if service in self.rotating:
            return
        if self.loop is None:  # no event loop to keep free (tests, tools): rotate now
            self.rotate(service)
            return
        self.rotating.add(service)
        thread = threading.Thread(target=self._rotate_in_thread, args=(service,), daemon=True)
        self.threads = [*(t for t in self.threads if t.is_alive()), thread]
        thread.start()

    def _rotate_in_thread(self, service: str) -> None:
        try:
            self.rotate(service)
        except OSError as exc:
            print(f"rotating the log of {service} failed: {exc}", flush=True)
        finally:
            loop = self.loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._rotated, service)

    def _rotated(self, service: str) -> None:
        self.rotating.discard(service)
        self.sample([service])  # what came during the rotation; rotates again if need be

    def rotate(self, service: str) -> None:
        self.rotator.rotate(service)  # updates ``headers`` under the lock

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until no rotation runs (for callers outside the loop)."""
        deadline = time.monotonic() + timeout
        while self.rotating and time.monotonic() < deadline:
            time.sleep(0.005)

    # ---- write notifications (inside the supervisor) ---------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sample on write notifications from now on, and rotate in threads."""
        from corral.oslayer import fsnotify

        self.loop = loop
        watcher = fsnotify.watcher()
        if watcher is None:
            return  # the tick samples alone
        self.watcher = watcher
        for service in self.ends:
            self._watch(service)
        loop.add_reader(watcher.fileno(), self._notified)

    def detach(self, timeout: float = 5.0) -> None:
        """Stop watching; let rotations under way finish (one cut short at exit would leave
        the index behind its log)."""
        watcher, self.watcher = self.watcher, None
        if watcher is not None and self.loop is not None:
            self.loop.remove_reader(watcher.fileno())
            watcher.close()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _watch(self, service: str) -> None:
        watcher = self.watcher
        if watcher is not None and not watcher.watching(service):
            watcher.watch(self.paths[service], service)

    def _notified(self) -> None:
        if self.watcher is None:
            return
        now = time.monotonic()
        changed = self.watcher.changed()
        if self.watcher.overflowed:  # some writes were not told: look at every log now
            self.watcher.overflowed = False
            self.sample()
            return
        for service in changed:
            wait = self.last.get(service, float("-inf")) + RESOLUTION - now
            if wait > 0:
                self._later(service, wait)
            else:
                self.sample([service])

    def _later(self, service: str, delay: float) -> None:
        if self.loop is None or service in self.later:
            return
        self.later.add(service)
        self.loop.call_later(delay, self._sample_later, service)

    def _sample_later(self, service: str) -> None:
        self.later.discard(service)
        self.sample([service])
