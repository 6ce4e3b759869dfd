"""Following logs as they grow: a cursor per service at a logical offset (see ``files``), woken
by write notifications where the platform has them, else by a timer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from corral.logs import files, scan
from corral.logs.reader import LogLine

READ_LIMIT = 16 * 1024 * 1024  # bytes read per log per wake-up


class Cursor:
    """Where a reader is in one service's log; rotation moves bytes, not their offsets, so the
    cursor reads on from the rotated file when its bytes moved there."""

    def __init__(self, state_dir: Path, service: str, offset: int) -> None:
        self.state_dir = state_dir
        self.service = service
        self.offset = offset
        self.partial = b""  # the line in progress, up to scan.LINE_LIMIT bytes of it
        self.length = 0  # the whole length of the line in progress

    def read(self, blocking: bool = True) -> bytes:
        """The bytes written since the last read (up to ``READ_LIMIT``); empty when there are
        none, or when ``blocking`` is false and a rotation holds the files this instant."""
        try:
            with files.segments(
                self.state_dir, self.service, rotated=False, blocking=blocking
            ) as found:
                if not found:
                    return b""
                live = found[0]
                if self.offset > live.end:  # truncated by someone: read on from its start
                    self.offset = live.header.start
                if self.offset >= live.header.start:
                    return self._read_from(found)
        except BlockingIOError:
            return b""
        with files.segments(self.state_dir, self.service, blocking=blocking) as found:
            return self._read_from(found)  # what moved to rotated files first

    def _read_from(self, found: list[files.Segment]) -> bytes:
        pieces, room = [], READ_LIMIT
        for segment in reversed(found):  # oldest first
            low = max(self.offset, segment.header.start)
            if low >= segment.end or room <= 0:
                continue
            piece = os.pread(segment.fd, min(room, segment.end - low), low - segment.header.base)
            self.offset = low + len(piece)
            room -= len(piece)
            pieces.append(piece)
        return b"".join(pieces)

    def lines(self) -> list[str]:
        """The lines completed since the last call (a line's first ``LINE_LIMIT`` bytes)."""
        *complete, rest = self.read().split(b"\n")
        shown = []
        for piece in complete:
            self._extend(piece)
            shown.append(scan.show(self.partial, self.length))
            self.partial, self.length = b"", 0
        self._extend(rest)
        return shown

    def _extend(self, piece: bytes) -> None:
        room = scan.LINE_LIMIT - len(self.partial)
        if room > 0 and piece:
            self.partial += piece[:room]
        self.length += len(piece)


def end_offsets(state_dir: Path, services: Iterable[str]) -> dict[str, int]:
    return {service: files.logical_end(state_dir, service) for service in services}


def follow(
    state_dir: Path,
    services: Iterable[str],
    offsets: dict[str, int],
    deadline: float,
    poll: float = 0.1,
    stop: Callable[[], bool] | None = None,
) -> Iterator[LogLine]:
    """New complete lines appended after ``offsets``, until ``deadline`` (time.monotonic()).

    Where each log stands (including its rotation) is taken now, not at the first ``next()``.
    A write wakes the follower at once where the platform notifies writes; ``poll`` bounds the
    wait otherwise, and for logs that do not exist yet.
    """
    cursors = {name: Cursor(state_dir, name, offsets.get(name, 0)) for name in services}
    return _follow(state_dir, cursors, deadline, poll, stop)


def _follow(
    state_dir: Path,
    cursors: dict[str, Cursor],
    deadline: float,
    poll: float,
    stop: Callable[[], bool] | None,
) -> Iterator[LogLine]:
    from corral.oslayer import fsnotify

    watcher = fsnotify.watcher()
    try:
        while True:
            if watcher is not None:  # before reading: a write in between is then notified
                for service in set(cursors) - watcher.watched():
                    watcher.watch(str(files.log_path(state_dir, service)), service)
            for service, cursor in cursors.items():
                for text in cursor.lines():
                    yield LogLine(service, time.time(), text)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (stop is not None and stop()):
                return
            if watcher is None:
                time.sleep(min(poll, remaining))
            elif watcher.wait(min(poll, remaining)):
                watcher.changed()
    finally:
        if watcher is not None:
            watcher.close()
