"""supervisor.log: one line per thing the supervisor did or found, stamped, with its pid."""

from __future__ import annotations

import os
import sys
import time


def log_line(message: str) -> None:
    """One line in supervisor.log (our stdout, opened O_APPEND by the launcher)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
    millis = int(time.time() * 1000) % 1000
    sys.stdout.write(f"{stamp}.{millis:03d} supervisor[{os.getpid()}] {message}\n")
    sys.stdout.flush()
