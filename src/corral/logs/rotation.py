"""Rotation that keeps every byte while the service goes on appending to its log.

The service holds an ``O_APPEND`` descriptor on its live log, which nobody can reopen or
redirect. Rotation therefore never renames or truncates the live file: it copies the oldest
lines (at most ``log_max_size`` bytes, ending at a line end when one is near) to a new
``.log.1``, then gives their disk space back in place, at a block boundary, with
``COLLAPSE_RANGE`` (the rest of the file shifts down) or else ``PUNCH_HOLE`` (a hole stays).
Both hold the inode lock against the writer's appends, so no byte is lost or duplicated; the
live index's header records the new base and start (see ``files``). Where neither exists, the
old copy-then-truncate is the fallback: what is written between the last copy and the truncate
is lost, and the copy can exceed the size bound if the writer outruns it.

Runs in a thread of the supervisor, never on its event loop. ``lock`` keeps the index appends of
the loop out of the moment the index is rewritten.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import itertools
import os
import threading
from pathlib import Path

from corral.logs import files
from corral.oslayer import fsspace


class Release(enum.Enum):
    COLLAPSE = "collapse"
    PUNCH = "punch"
    TRUNCATE = "truncate"


class Rotator:
    def __init__(
        self,
        state_dir: Path,
        max_size: int,
        keep: int,
        lock: threading.Lock,
        headers: dict[str, files.Header],
    ) -> None:
        self.state_dir = state_dir
        self.max_size = max_size
        self.keep = keep
        self.lock = lock  # held while the index and ``headers`` change
        self.headers = headers  # each live log's header, as the sampler knows it
        self.release = Release.COLLAPSE  # the best this file system takes, learnt on the way

    def rotate(self, service: str) -> files.Header:
        """Move old lines out until the live log holds at most ``max_size`` bytes of its own;
        the live log's header afterwards."""
        log = files.log_path(self.state_dir, service)
        fd = os.open(log, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            header = files.read_header(files.index_path(self.state_dir, service))
            while os.fstat(fd).st_size - (header.start - header.base) > self.max_size:
                header = self._once(service, fd, header)
            return header
        finally:
            os.close(fd)

    def _once(self, service: str, fd: int, header: files.Header) -> files.Header:
        """One rotation: every chunk of at most ``max_size`` bytes that the live log holds
        beyond the last one becomes a rotated file (a writer faster than one chunk per rotation
        is caught up at once), and the file's space is given back in one operation."""
        log = files.log_path(self.state_dir, service)
        first = header.start - header.base
        size = os.fstat(fd).st_size
        bounds = [first]
        while size - bounds[-1] > self.max_size and self.release is not Release.TRUNCATE:
            bounds.append(_cut(fd, bounds[-1], size, self.max_size))
        if self.release is Release.TRUNCATE:
            bounds.append(size)
        pairs = list(itertools.pairwise(bounds))
        kept = pairs[max(0, len(pairs) - self.keep) :]  # older than the newest ``keep``: dropped
        fresh = [log.with_name(f".{log.name}.rotating.{n}") for n in range(len(kept))]
        targets: list[int] = []
        try:
            for path, (low, high) in zip(fresh, kept, strict=True):
                path.unlink(missing_ok=True)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                targets.append(os.open(path, flags, 0o600))
                fsspace.copy_range(fd, targets[-1], low, high - low)
            if self.release is Release.COLLAPSE:
                # A collapse first writes the whole file's dirty pages back, holding the inode
                # (the writer waits) while the live file grows: flush them first, unlocked.
                os.fdatasync(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)  # readers wait until the files agree again
            with self.lock:
                cut = bounds[-1]
                if self.release is Release.TRUNCATE and targets:  # what came, then the loss window
                    cut += fsspace.copy_range(fd, targets[-1], cut, os.fstat(fd).st_size - cut)
                    kept[-1] = (kept[-1][0], cut)
                base = self._release(fd, header, cut)
                new = files.Header(base, header.base + cut)
                self._shift(service, len(kept))
                for number, path in enumerate(reversed(fresh), start=1):
                    os.replace(path, files.rotated(log, number))
                logical = [(header.base + low, header.base + high) for low, high in kept]
                _split_index(files.index_path(self.state_dir, service), logical, new)
                self.headers[service] = new
            return new
        finally:
            for target in targets:
                os.close(target)
            for path in fresh:
                path.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _release(self, fd: int, header: files.Header, cut: int) -> int:
        """Give back the disk space of the live file's bytes below ``cut``; the new base."""
        block = fsspace.block_size(fd)
        length = cut // block * block
        if self.release is Release.COLLAPSE:
            if length >= os.fstat(fd).st_size:
                length -= block  # a collapse may not reach the end of the file
            if length <= 0:
                return header.base
            try:
                fsspace.collapse_start(fd, length)
                return header.base + length
            except fsspace.Unsupported:
                self.release = Release.PUNCH
        if self.release is Release.PUNCH:
            if length <= 0:
                return header.base
            try:
                fsspace.punch_start(fd, length)
                return header.base
            except fsspace.Unsupported:
                self.release = Release.TRUNCATE
                return header.base  # this once, the cut bytes stay until the next rotation
        os.ftruncate(fd, 0)
        return header.base + cut

    def _shift(self, service: str, count: int) -> None:
        """``.N`` becomes ``.N+count`` (log and index); those beyond ``keep`` are dropped."""
        log = files.log_path(self.state_dir, service)
        index = files.index_path(self.state_dir, service)
        for path in (log, index):
            for number in range(self.keep, 0, -1):
                with contextlib.suppress(FileNotFoundError):
                    if number + count > self.keep:
                        os.unlink(files.rotated(path, number))
                    else:
                        os.replace(files.rotated(path, number), files.rotated(path, number + count))


def _cut(fd: int, first: int, size: int, bound: int) -> int:
    """Where the rotated segment [first, cut) ends: the last line end within ``bound`` bytes,
    else the first within twice that, else ``bound`` bytes on (a line that long is split)."""
    high = min(size, first + bound)
    at = high
    while at > first:
        begin = max(first, at - 64 * 1024)
        found = os.pread(fd, at - begin, begin).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        at = begin
    at, limit = high, min(size, first + 2 * bound)
    while at < limit:
        found = os.pread(fd, min(64 * 1024, limit - at), at).find(b"\n")
        if found >= 0:
            return at + found + 1
        at += 64 * 1024
    return high


def _split_index(index: Path, kept: list[tuple[int, int]], new: files.Header) -> None:
    """Each rotated segment [low, high) (logical, oldest first; the newest becomes ``.idx.1``)
    gets its entries, and the first later one clipped to its end, so that its last lines keep
    their time; the live index keeps the rest, under the new header."""
    entries = _entries(index)
    for number, (low, high) in enumerate(reversed(kept), start=1):
        mine = [(offset, when) for offset, when in entries if low < offset <= high]
        later = [when for offset, when in entries if offset > high]
        if later:
            mine.append((high, later[0]))
        _write_index(files.rotated(index, number), files.Header(low, low), mine)
    _write_index(index, new, [(offset, when) for offset, when in entries if offset > new.start])


def _entries(index: Path) -> list[tuple[int, float]]:
    try:
        with open(index, "rb") as handle:
            lines = handle.read().split(b"\n")
    except OSError:
        return []
    return [entry for raw in lines if (entry := files.parse_entry(raw)) is not None]


def _write_index(path: Path, header: files.Header, entries: list[tuple[int, float]]) -> None:
    fresh = path.with_name(f".{path.name}.new")
    body = header.line() + "".join(f"{offset} {when:.3f}\n" for offset, when in entries)
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, body.encode())
    finally:
        os.close(fd)
    os.replace(fresh, path)
