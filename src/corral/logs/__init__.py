"""Service logs: files written directly by the services, a time index kept by the supervisor,
rotation that keeps every byte, and bounded reads (tail, grep, since, follow).

A service's stdout and stderr are one O_APPEND file descriptor on ``logs/<service>.log``: writing
never blocks on a reader and keeps working if the supervisor dies. Lines carry no timestamps, so
the supervisor appends ``offset time`` to ``logs/<service>.idx`` as the file grows (``sampler``).
Readers walk log and index backwards (``reader``, ``scan``), so a tail of a huge file reads only
its end. ``files`` says how the files are laid out.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from corral.logs.files import DEFAULT_KEEP, index_path, log_dir, log_path, logical_end
from corral.logs.follow import Cursor, end_offsets, follow
from corral.logs.reader import LogLine, last_lines, tail, tail_to_end
from corral.logs.reader import run_lines as _run_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from corral.logs.sampler import DEFAULT_MAX_SIZE, LogSampler

STARTED = "corral: started pid"  # the marker a run's first line carries (see runner)

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_MAX_SIZE",
    "STARTED",
    "Cursor",
    "LogLine",
    "LogSampler",
    "disk_problem",
    "end_offsets",
    "follow",
    "index_path",
    "last_lines",
    "log_dir",
    "log_path",
    "logical_end",
    "open_run_log",
    "parse_since",
    "run_lines",
    "tail",
    "tail_to_end",
    "write_marker",
]


def __getattr__(name: str) -> object:
    """The supervisor's side (sampler, rotation: asyncio, threads, the OS layer) loads only when
    asked for, which ``corral logs`` never does."""
    if name in ("LogSampler", "DEFAULT_MAX_SIZE"):
        from corral.logs import sampler

        return getattr(sampler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_lines(state_dir: Path, service: str, n: int = 20) -> list[str]:
    """The last ``n`` lines of the service's latest run (not of the runs before it)."""
    return _run_lines(state_dir, service, f"--- {STARTED} ", n)


def open_run_log(state_dir: Path, service: str) -> int:
    """An fd for a new run's stdout and stderr; the caller hands it to the child and closes it."""
    log_dir(state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
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
