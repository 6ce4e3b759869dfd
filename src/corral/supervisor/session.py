"""Tethers, supervisor side: the processes that starts tied their services to.

A start with a tether (``--tether PID``, ``auto``, MCP) ties what *that start started* to the
process, and nothing else: each tether is watched on its own (a pidfd, or polled where there is
none), and when one exits, the services started under it stop. Services someone else started,
untethered or under another tether, keep running; the supervisor exits only when nothing is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from corral import oslayer
from corral.model import ProcessIdentity


class Tethers:
    def __init__(self, on_exit: Callable[[dict[str, Any]], None]) -> None:
        self.on_exit = on_exit  # called once per tether that exited, with its data
        self.watched: dict[int, tuple[oslayer.ProcessHandle, dict[str, Any]]] = {}

    def add(self, data: dict[str, Any]) -> bool:
        """Watch the process ``data`` names (pid and start time). False if it is gone already
        (``on_exit`` has been called)."""
        pid = int(data["pid"])
        if pid in self.watched:
            return True
        identity = ProcessIdentity(pid, int(data["start"]), oslayer.boot_id())
        handle = oslayer.open_process(identity)
        if handle is None:
            self.on_exit(data)
            return False
        self.watched[pid] = (handle, data)
        if handle.fileno() >= 0:
            asyncio.get_running_loop().add_reader(handle.fileno(), self._fired, pid)
        return True

    def needs_polling(self) -> bool:
        return any(handle.fileno() < 0 for handle, _data in self.watched.values())

    def poll(self) -> None:
        """For platforms without pidfd: look at each tether (the supervisor's tick calls this)."""
        for pid, (handle, _data) in list(self.watched.items()):
            if handle.fileno() < 0 and handle.has_exited():
                self._fired(pid)

    def latest(self) -> dict[str, Any] | None:
        """The newest tether still watched, as the status shows it."""
        return next(reversed(self.watched.values()))[1] if self.watched else None

    def _fired(self, pid: int) -> None:
        handle, data = self.watched.pop(pid)
        if handle.fileno() >= 0:
            asyncio.get_running_loop().remove_reader(handle.fileno())
        handle.close()
        self.on_exit(data)

    def close(self) -> None:
        for pid in list(self.watched):
            handle, _data = self.watched.pop(pid)
            if handle.fileno() >= 0:
                asyncio.get_running_loop().remove_reader(handle.fileno())
            handle.close()


def tied_to(services: Any, key: str, value: object) -> list[str]:
    """The names of the running services whose current start was made with ``key`` (in its
    ``started_by``) equal to ``value``: what a tether's exit or a lease's expiry stops."""
    from corral.lifecycle import ALIVE, State

    names = []
    for name, service in services.items():
        asked = service.requested_by or {}
        alive = service.state in ALIVE or service.state is State.BACKOFF
        if alive and asked.get(key) == value:
            names.append(name)
    return names
