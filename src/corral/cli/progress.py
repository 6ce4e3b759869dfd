"""Live progress for ``corral start`` on a terminal: one line per service, redrawn in place while
the start request runs. Cosmetic only: the start request stays the authority on the result."""

from __future__ import annotations

import threading
from typing import Any

from corral.cli.render import Output


class Progress:
    def __init__(self, project: Any, services: list[str], out: Output, interval: float = 0.2):
        self.project = project
        self.names = services or [s.name for s in project.services if s.autostart]
        self.out = out
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.drawn = 0

    def __enter__(self) -> Progress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self._clear()

    def _run(self) -> None:
        from corral.control import operations as control

        while not self.stopped.wait(self.interval):
            try:
                status = control.status(self.project)
            except Exception:  # the supervisor may be starting: try again next tick
                continue
            if not self.stopped.is_set():
                self._draw([s for s in status["services"] if s["name"] in self.names])

    def _draw(self, services: list[dict[str, Any]]) -> None:
        self._clear()
        columns = _columns(self.out.stdout)
        shown = self.lines(services)
        for line in shown:
            self.out.stdout.write(line[:columns] + "\n")
        self.drawn = len(shown)
        self.out.stdout.flush()

    def lines(self, services: list[dict[str, Any]]) -> list[str]:
        width = max((len(s["name"]) for s in services), default=4)
        return [
            f"{s['name']:<{width}}  {s['state']}" + (f"  {s['note']}" if s.get("note") else "")
            for s in services
        ]

    def _clear(self) -> None:
        if self.drawn:
            self.out.stdout.write(f"\033[{self.drawn}F\033[J")
            self.out.stdout.flush()
            self.drawn = 0


class StopProgress(Progress):
    """While a stop runs: who is still being waited for, and when SIGKILL comes (counted from
    when this client first saw the service stopping, so a fraction of a second early)."""

    def __init__(self, project: Any, services: list[str], out: Output, interval: float = 0.25):
        super().__init__(project, services or project.service_names, out, interval)
        self.names = services or project.service_names
        self.seen: dict[str, float] = {}
        self.grace = {spec.name: spec.stop_timeout for spec in project.services}

    def lines(self, services: list[dict[str, Any]]) -> list[str]:
        import time

        now = time.monotonic()
        shown = []
        for service in services:
            if service["state"] != "stopping":
                continue
            name = service["name"]
            waited = now - self.seen.setdefault(name, now)
            left = self.grace.get(name, 0.0) - waited
            then = f"SIGKILL in {left:.0f}s" if left > 0 else "SIGKILL sent"
            shown.append(f"waiting for {name} to exit ({waited:.0f}s; {then})")
        return shown


def _columns(stream: Any) -> int:
    """Room on one terminal row, less one: a line that wraps would take two rows, and the
    redraw, which moves up one row per line, would leave the second behind."""
    import os

    try:
        return max(os.get_terminal_size(stream.fileno()).columns - 1, 20)
    except (OSError, ValueError, AttributeError):
        return 79
