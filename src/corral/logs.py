"""Service logs: files written directly by the services, a time index kept by the supervisor,
copy-and-truncate rotation, and bounded reads (tail, merge, follow).

A service's stdout and stderr are one O_APPEND file descriptor on ``logs/<service>.log``: writing
never blocks on a reader and keeps working if the supervisor dies. Lines carry no timestamps, so
the supervisor samples each file's size a few times a second and appends ``offset time`` to
``logs/<service>.idx``. A line's time is that of the first sample that saw it (a line written after
the last sample gets the file's modification time). Readers walk log and index backwards, so a
tail of a huge file reads only its end.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

BLOCK = 64 * 1024
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_KEEP = 3


@dataclass(frozen=True)
class LogLine:
    service: str
    time: float
    text: str


def log_dir(state_dir: Path) -> Path:
    return state_dir / "logs"


def log_path(state_dir: Path, service: str) -> Path:
    return log_dir(state_dir) / f"{service}.log"


def index_path(state_dir: Path, service: str) -> Path:
    return log_dir(state_dir) / f"{service}.idx"


def _rotated(path: Path, number: int) -> Path:
    return path if number == 0 else path.with_name(f"{path.name}.{number}")


def open_run_log(state_dir: Path, service: str) -> int:
    """An fd for a new run's stdout and stderr; the caller hands it to the child and closes it."""
    log_dir(state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    return os.open(log_path(state_dir, service), flags, 0o600)


def write_marker(state_dir: Path, service: str, text: str) -> None:
    """A line that shows people reading the file where runs begin and end (best effort: a full
    disk must not stop a service from starting; ``disk_problem`` reports it)."""
    try:
        fd = open_run_log(state_dir, service)
    except OSError:
        return
    try:
        os.write(fd, f"--- {text} ---\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def disk_problem(state_dir: Path, minimum: int = 1024 * 1024) -> str | None:
    """Why service output may be getting lost, when the logs' file system is (nearly) full."""
    try:
        usage = os.statvfs(log_dir(state_dir))
    except OSError:
        return None
    free = usage.f_bavail * usage.f_frsize
    if free >= minimum:
        return None
    return (
        f"the file system of {log_dir(state_dir)} has {free // 1024} KiB free: service "
        "output is being lost (services keep running)"
    )


class LogSampler:
    """Keeps the time index of each service's log and rotates logs that grew too big."""

    def __init__(
        self,
        state_dir: Path,
        services: Iterable[str],
        max_size: int = DEFAULT_MAX_SIZE,
        keep: int = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = state_dir
        self.max_size = max_size
        self.keep = keep
        self.clock = clock
        self.sizes: dict[str, int | None] = {}
        self.paths: dict[str, str] = {}  # built once: this runs twice a second, forever
        for name in services:
            self.add(name)

    def add(self, service: str) -> None:
        self.sizes.setdefault(service, None)
        self.paths.setdefault(service, str(log_path(self.state_dir, service)))

    def remove(self, service: str) -> None:
        self.sizes.pop(service, None)
        self.paths.pop(service, None)

    def sample(self) -> None:
        for service, last in self.sizes.items():
            try:
                info = os.stat(self.paths[service])
            except OSError:
                continue
            if info.st_size == last:
                continue
            if last is None:  # first look since we started: the file's mtime, at the latest now
                self._append(service, info.st_size, min(info.st_mtime, self.clock()))
            elif info.st_size < last:  # truncated by someone: the old index no longer applies
                index_path(self.state_dir, service).unlink(missing_ok=True)
                self._append(service, info.st_size, self.clock())
            else:
                self._append(service, info.st_size, self.clock())
            self.sizes[service] = info.st_size
            if info.st_size > self.max_size:
                self.rotate(service)

    def _append(self, service: str, offset: int, when: float) -> None:
        with open(index_path(self.state_dir, service), "a") as handle:
            handle.write(f"{offset} {when:.3f}\n")

    def rotate(self, service: str) -> None:
        """Copy the log to ``.1`` (shifting older copies) and truncate it in place: the service's
        descriptor cannot be reopened. Copying twice keeps the loss window to a few bytes."""
        log, index = log_path(self.state_dir, service), index_path(self.state_dir, service)
        for number in range(self.keep - 1, 0, -1):
            for path in (log, index):
                if _rotated(path, number).exists():
                    os.replace(_rotated(path, number), _rotated(path, number + 1))
        copied = _copy_all(log, _rotated(log, 1))
        os.truncate(log, 0)
        now = self.clock()
        self._append(service, copied, now)
        if index.exists():
            os.replace(index, _rotated(index, 1))
        self._append(service, 0, now)
        self.sizes[service] = 0


def _copy_all(source: Path, target: Path) -> int:
    import shutil  # rotation is rare: keep it out of the supervisor's start-up

    shutil.copyfile(source, target)
    with open(source, "rb") as reader, open(target, "ab") as writer:
        reader.seek(target.stat().st_size)
        shutil.copyfileobj(reader, writer)  # what was appended during the first copy
    return target.stat().st_size


def _backward_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(end offset, line) from the last line to the first, reading blocks from the end."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - a generator: closed by the with below
    except OSError:
        return
    with handle:
        position = handle.seek(0, os.SEEK_END)
        tail = b""
        end = position
        while position > 0:
            size = min(BLOCK, position)
            position -= size
            handle.seek(position)
            block = handle.read(size) + tail
            parts = block.split(b"\n")
            tail = parts.pop(0)
            for part in reversed(parts):
                yield end, part
                end -= len(part) + 1
        yield end, tail


class _Clock:
    """Times for lines met from the end backwards, from the index read backwards too."""

    def __init__(self, log: Path, index: Path) -> None:
        self.entries = _backward_lines(index)
        self.fallback = log.stat().st_mtime if log.exists() else time.time()
        self.current: tuple[int, float] | None = None
        self.previous = self._next()

    def _next(self) -> tuple[int, float] | None:
        for _end, raw in self.entries:
            parts = raw.split()
            if len(parts) == 2:
                return int(parts[0]), float(parts[1])
        return None

    def time_of(self, end: int) -> float:
        while self.previous is not None and self.previous[0] >= end:
            self.current, self.previous = self.previous, self._next()
        return self.current[1] if self.current is not None else self.fallback


def _service_lines(state_dir: Path, service: str) -> Iterator[LogLine]:
    """A service's lines, newest first, across the live file and its rotated copies."""
    log, index = log_path(state_dir, service), index_path(state_dir, service)
    for number in range(DEFAULT_KEEP + 8):
        path = _rotated(log, number)
        if not path.exists():
            if number:
                return
            continue
        clock = _Clock(path, _rotated(index, number))
        first = True
        for end, raw in _backward_lines(path):
            if first and not raw:
                first = False
                continue  # the empty piece after the final newline
            first = False
            yield LogLine(
                service, clock.time_of(end + (1 if raw else 0)), raw.decode(errors="replace")
            )


def tail(
    state_dir: Path,
    services: Sequence[str],
    lines: int = 100,
    since: float | None = None,
    grep: re.Pattern[str] | None = None,
) -> list[LogLine]:
    """The last ``lines`` lines (after the filters) of the services, merged in time order."""
    picked: list[tuple[float, int, int, LogLine]] = []
    for rank, service in enumerate(services):
        count = 0
        for line in _service_lines(state_dir, service):
            if since is not None and line.time < since:
                break
            if grep is not None and not grep.search(line.text):
                continue
            picked.append((line.time, rank, -count, line))
            count += 1
            if count >= lines:
                break
    picked.sort(key=lambda item: (item[0], item[1], item[2]))
    return [item[3] for item in picked[-lines:]] if lines > 0 else []


def last_lines(state_dir: Path, service: str, n: int = 20) -> list[str]:
    return [line.text for line in tail(state_dir, [service], n)]


def end_offsets(state_dir: Path, services: Iterable[str]) -> dict[str, int]:
    offsets = {}
    for service in services:
        try:
            offsets[service] = log_path(state_dir, service).stat().st_size
        except OSError:
            offsets[service] = 0
    return offsets


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
    """
    cursors = {name: _Cursor(log_path(state_dir, name), offsets.get(name, 0)) for name in services}
    return _follow(cursors, deadline, poll, stop)


def _follow(
    cursors: dict[str, _Cursor], deadline: float, poll: float, stop: Callable[[], bool] | None
) -> Iterator[LogLine]:
    while True:
        for service, cursor in cursors.items():
            for text in cursor.new_lines():
                yield LogLine(service, time.time(), text)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (stop is not None and stop()):
            return
        time.sleep(min(poll, remaining))


class _Cursor:
    """Where a follower is in one log. Copy-and-truncate keeps the log's inode, so a rotation
    shows as a new ``.1`` file: then the rest of the old content is read from there."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset
        self.partial = b""
        self.rotated = _inode(_rotated(path, 1))

    def new_lines(self) -> list[str]:
        data = b""
        rotated = _inode(_rotated(self.path, 1))
        if rotated != self.rotated:
            self.rotated = rotated
            data += _read_from(_rotated(self.path, 1), self.offset)
            self.offset = 0
        fresh = _read_from(self.path, self.offset)
        self.offset += len(fresh)
        chunks = (self.partial + data + fresh).split(b"\n")
        self.partial = chunks.pop()
        return [chunk.decode(errors="replace") for chunk in chunks]


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _read_from(path: Path, offset: int, limit: int = 16 * 1024 * 1024) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(limit)
    except OSError:
        return b""


def parse_since(text: str, now: float) -> float:
    """A duration ago ("10m", "1h30m"), an ISO 8601 time, or "HH:MM[:SS]" today (local time)."""
    from corral.config.durations import parse_duration

    value = text.strip()
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
        day = datetime.fromtimestamp(now).strftime("%Y-%m-%d")
        value = f"{day}T{value}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r}: use a duration (10m), a time (14:05) or ISO 8601"
        ) from None
    return moment.timestamp() if moment.tzinfo else moment.astimezone().timestamp()
