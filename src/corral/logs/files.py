"""Where a service's log lives on disk, and how its bytes are numbered.

Every byte a service ever wrote to its log has a *logical offset* that never changes: rotation
moves bytes out of the live file, but not their numbers. A log is a list of segments, newest
first: the live ``<service>.log`` and the rotated ``<service>.log.1`` ... Each has an index
(``.idx``, ``.idx.1`` ...): a header ``@ BASE START`` (the logical offset of the file's first
byte, and where the segment's own lines begin: bytes before START, if any, are already in the
previous segment) and lines ``OFFSET TIME``: every byte below OFFSET (logical) had been written
by TIME. An index without a header has BASE = START = 0 (files written before the header).

Readers hold a shared ``flock`` on the live file while they read; rotation holds it exclusively
while it moves segments, so a reader never sees a half-done rotation.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER_MAX = 128  # bytes: the header line is short; anything longer is not a header
DEFAULT_KEEP = 3
SCAN_ROTATED = 1000  # rotated files readers look for at most: they stop at the first missing
READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW


def log_dir(state_dir: Path) -> Path:
    return state_dir / "logs"


def log_path(state_dir: Path, service: str) -> Path:
    return log_dir(state_dir) / f"{service}.log"


def index_path(state_dir: Path, service: str) -> Path:
    return log_dir(state_dir) / f"{service}.idx"


def rotated(path: Path, number: int) -> Path:
    return path if number == 0 else path.with_name(f"{path.name}.{number}")


_numbered = rotated  # for functions whose parameter shadows the name


@dataclass(frozen=True)
class Header:
    base: int = 0  # logical offset of the file's first byte
    start: int = 0  # logical offset where this segment's own lines begin

    def line(self) -> str:
        return f"@ {self.base} {self.start}\n"


def read_header(index: Path) -> Header:
    try:
        fd = os.open(index, READ_FLAGS)
    except OSError:
        return Header()
    try:
        head = os.pread(fd, HEADER_MAX, 0)
    finally:
        os.close(fd)
    return parse_header(head)


def parse_header(head: bytes) -> Header:
    if not head.startswith(b"@ "):
        return Header()
    parts = head.split(b"\n", 1)[0].split()
    try:
        return Header(int(parts[1]), int(parts[2]))
    except (IndexError, ValueError):
        return Header()


def parse_entry(raw: bytes) -> tuple[int, float] | None:
    parts = raw.split()
    if len(parts) != 2 or raw.startswith(b"@"):
        return None
    try:
        return int(parts[0]), float(parts[1])
    except ValueError:
        return None


@dataclass
class Segment:
    """One file of a log, open for reading: its bytes [first, size) are its own lines."""

    fd: int
    index: Path
    header: Header
    size: int  # of the file, in bytes
    mtime: float

    @property
    def first(self) -> int:
        """The file position of the segment's first own byte."""
        return max(0, min(self.header.start - self.header.base, self.size))

    @property
    def end(self) -> int:
        """The logical offset just past the segment's last byte."""
        return self.header.base + self.size


def open_segment(log: Path, index: Path) -> Segment | None:
    try:
        fd = os.open(log, READ_FLAGS)
    except OSError:
        return None
    info = os.fstat(fd)
    return Segment(fd, index, read_header(index), info.st_size, info.st_mtime)


@contextlib.contextmanager
def segments(
    state_dir: Path, service: str, rotated: bool = True, blocking: bool = True
) -> Iterator[list[Segment]]:
    """The log's segments, newest first (only the live one unless ``rotated``), consistent with
    each other: a shared lock on the live file holds rotation off while the caller reads. Not
    ``blocking``: BlockingIOError if a rotation holds the lock."""
    log, index = log_path(state_dir, service), index_path(state_dir, service)
    found: list[Segment] = []
    live = open_segment(log, index)
    try:
        if live is not None:
            found.append(live)
            fcntl.flock(live.fd, fcntl.LOCK_SH | (0 if blocking else fcntl.LOCK_NB))
            live.header = read_header(index)  # now that rotation cannot change it
            live.size = os.fstat(live.fd).st_size
        for number in range(1, SCAN_ROTATED if rotated else 1):
            segment = open_segment(_numbered(log, number), _numbered(index, number))
            if segment is None:
                break
            found.append(segment)
        yield found
    finally:
        for segment in found:
            os.close(segment.fd)  # closing the live file's descriptor releases the lock


def logical_end(state_dir: Path, service: str) -> int:
    """The logical offset just past the live log's last byte (0 if there is none)."""
    live = open_segment(log_path(state_dir, service), index_path(state_dir, service))
    if live is None:
        return 0
    try:
        fcntl.flock(live.fd, fcntl.LOCK_SH)
        return read_header(live.index).base + os.fstat(live.fd).st_size
    finally:
        os.close(live.fd)
