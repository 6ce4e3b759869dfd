"""supervisor.log: one line per thing the supervisor did or found, stamped, with its pid."""

from __future__ import annotations

import contextlib
import os
import time

_second: tuple[int, str] = (-1, "")  # the last second stamped, and its text


def log_line(message: str) -> None:
    """One line in supervisor.log (our stdout, opened O_APPEND by the launcher), written at once
    with one system call: nothing else in the supervisor buffers output on it."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:  # localtime and strftime once a second, not once a line
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(whole)))
    line = f"{_second[1]}.{int(now * 1000) % 1000:03d} supervisor[{os.getpid()}] {message}\n"
    with contextlib.suppress(OSError):  # a full disk must not break what is being logged
        os.write(1, line.encode(errors="replace"))
