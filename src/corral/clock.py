"""The supervisor's clocks, injected so tests can drive time by hand.

``monotonic`` measures intervals and deadlines (restart windows, idle and lease time, caches);
``time`` is wall time, for what records and events show a person. The engine takes a ``Clock``
in its constructor: ``SYSTEM`` in the supervisor, a ``ManualClock`` in tests that replay
histories without processes.
"""

from __future__ import annotations

import time as _time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def time(self) -> float: ...


class SystemClock:
    """The process's clocks. Its ``monotonic`` is the timeline ``runner`` and ``reclaim`` stamp
    runs and scans on, which the engine compares its own readings with: an engine that spawns
    or stops real processes runs on this one."""

    def monotonic(self) -> float:
        return _time.monotonic()

    def time(self) -> float:
        return _time.time()


SYSTEM = SystemClock()


class ManualClock:
    """A clock that moves only when told to (``advance``): for tests of timing decisions."""

    def __init__(self, start: float = 1000.0, wall: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall - start

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock does not go back")
        self.now += seconds
