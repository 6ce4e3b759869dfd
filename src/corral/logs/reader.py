"""The last lines of services' logs, merged in time order, after optional filters.

A service's log is read from its end backwards (``scan``), segment after segment, and only until
enough lines are found: a tail of a huge log reads only its end, a ``--since`` reads only what is
newer, and a ``--grep`` reads until it has found enough matches. Only lines that are returned
are decoded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from corral.logs import files, scan


@dataclass(frozen=True)
class LogLine:
    service: str
    time: float
    text: str


class _Clock:
    """Times of lines met from the end backwards: the index, read backwards too. A line's time
    is that of the first index entry at or past its end (else the file's modification time)."""

    def __init__(self, segment: files.Segment) -> None:
        self.fallback = segment.mtime
        self.current: tuple[int, float] | None = None
        self.entries = _entries_backward(segment.index)
        self.previous = next(self.entries, None)

    def time_of(self, end: int) -> float:
        while self.previous is not None and self.previous[0] >= end:
            self.current, self.previous = self.previous, next(self.entries, None)
        return self.current[1] if self.current is not None else self.fallback

    def close(self) -> None:
        self.entries.close()


def _entries_backward(index: Path) -> Iterator[tuple[int, float]]:
    try:
        fd = os.open(index, files.READ_FLAGS)
    except OSError:
        return
    try:
        for chunk in scan.chunks_backward(fd, 0, os.fstat(fd).st_size):
            if chunk.data is None:
                continue  # not an index line
            for span in scan.spans_backward(chunk.data, chunk.first):
                entry = files.parse_entry(chunk.data[span.start : span.stop])
                if entry is not None:
                    yield entry
    finally:
        os.close(fd)


def _floor(segment: files.Segment, since: float) -> int:
    """A file position before which every line is older than ``since``."""
    for offset, when in _entries_backward(segment.index):
        if when < since:
            position = min(segment.size, offset - segment.header.base)
            return scan.line_start(segment.fd, segment.first, max(segment.first, position))
    return segment.first


def _segment_lines(
    service: str, segment: files.Segment, since: float | None, matcher: scan.Matcher | None
) -> Iterator[LogLine]:
    """The segment's lines (those the matcher accepts), newest first, none older than since."""
    low = segment.first
    if since is not None and matcher is not None:
        low = max(low, _floor(segment, since))  # a grep would otherwise read it all
    clock = _Clock(segment)
    base = segment.header.base
    try:
        for chunk in scan.chunks_backward(segment.fd, low, segment.size):
            for span, raw in _chunk_lines(segment.fd, chunk, matcher):
                when = clock.time_of(base + chunk.start + span.end)
                if since is not None and when < since:
                    return
                yield LogLine(service, when, scan.show(raw, span.stop - span.start))
    finally:
        clock.close()


def _chunk_lines(
    fd: int, chunk: scan.Chunk, matcher: scan.Matcher | None
) -> Iterator[tuple[scan.Span, bytes]]:
    """A chunk's lines, last first, as spans relative to the chunk's start, with their bytes."""
    if chunk.data is None:
        span, raw = scan.long_line(fd, chunk)
        if matcher is None or matcher.matches(raw):
            yield scan.Span(0, span.stop - chunk.start, span.end - chunk.start), raw
        return
    data, first = chunk.data, chunk.first
    if matcher is None:
        spans: Iterable[scan.Span] = scan.spans_backward(data, first)
    else:
        spans = reversed(matcher.spans(data, first))
    for span in spans:  # relative to the chunk's start
        line = scan.Span(span.start - first, span.stop - first, span.end - first)
        yield line, data[span.start : min(span.stop, span.start + scan.LINE_LIMIT)]


def service_tail(
    state_dir: Path,
    service: str,
    lines: int,
    since: float | None = None,
    matcher: scan.Matcher | None = None,
) -> list[LogLine]:
    """Up to ``lines`` of one service's newest lines (after the filters), newest first."""
    if lines <= 0:
        return []
    with files.segments(state_dir, service) as segments:
        return _newest(service, segments, lines, since, matcher)


def tail_to_end(
    state_dir: Path, service: str, lines: int, grep: re.Pattern[str] | None = None
) -> tuple[list[LogLine], int]:
    """One service's last ``lines`` lines (oldest first), and the logical offset they end at:
    a ``follow.Cursor`` from there reads on without a line lost or shown twice."""
    matcher = scan.Matcher(grep) if grep is not None else None
    with files.segments(state_dir, service) as segments:
        found = _newest(service, segments, lines, None, matcher) if lines > 0 else []
        end = segments[0].end if segments else 0
    return found[::-1], end


def _newest(
    service: str,
    segments: list[files.Segment],
    lines: int,
    since: float | None,
    matcher: scan.Matcher | None,
) -> list[LogLine]:
    found: list[LogLine] = []
    for number, segment in enumerate(segments):
        if number and since is not None and segment.mtime < since:
            break  # a rotated file was last written before any line we want
        for line in _segment_lines(service, segment, since, matcher):
            found.append(line)
            if len(found) >= lines:
                return found
    return found


def tail(
    state_dir: Path,
    services: Sequence[str],
    lines: int = 100,
    since: float | None = None,
    grep: re.Pattern[str] | None = None,
) -> list[LogLine]:
    """The last ``lines`` lines (after the filters) of the services, merged in time order."""
    matcher = scan.Matcher(grep) if grep is not None else None
    picked: list[tuple[float, int, int, LogLine]] = []
    for rank, service in enumerate(services):
        newest = service_tail(state_dir, service, lines, since, matcher)
        picked += [(line.time, rank, -count, line) for count, line in enumerate(newest)]
    picked.sort(key=lambda item: (item[0], item[1], item[2]))
    return [item[3] for item in picked[-lines:]] if lines > 0 else []


def last_lines(state_dir: Path, service: str, n: int = 20) -> list[str]:
    return [line.text for line in tail(state_dir, [service], n)]


def run_lines(state_dir: Path, service: str, marker: str, n: int = 20) -> list[str]:
    """The last ``n`` lines of the latest run: those after its first line, ``marker``."""
    newest = service_tail(state_dir, service, n + 1)
    shown = []
    for line in newest:
        if line.text.startswith(marker):
            break
        shown.append(line.text)
    return shown[:n][::-1]
