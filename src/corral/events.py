"""The event stream: every lifecycle event as a JSON line with a cursor that only grows, in
``.corral/events.jsonl`` (rotated once it passes ``MAX_SIZE``). Agents ask for what happened
since the cursor they last saw, instead of reading whole logs.

Written by one process at a time (the supervisor, or the guard after it); read by anyone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_SIZE = 4 * 1024 * 1024

KINDS = (
    "supervisor_started",
    "supervisor_exited",
    "starting",
    "started",
    "ready",
    "probe_failed",
    "exited",
    "restarting",
    "crashed",
    "stop_requested",
    "stopped",
    "escapee_swept",
    "port_bound",
    "tether_fired",
    "lease_expired",
    "stale_detected",
    "orphans_cleaned",
    "restart_for_change",
    "agent_session_ended",
)
CLIENT_KINDS = ("agent_session_ended",)  # kinds a client may ask the supervisor to write


def events_path(state_dir: Path) -> Path:
    return state_dir / "events.jsonl"


class EventLog:
    def __init__(self, state_dir: Path, clock: Any = time.time) -> None:
        self.path = events_path(state_dir)
        self.clock = clock
        self.cursor = last_cursor(state_dir)
        self.problem: str | None = None  # why the last write failed (a full disk), until one works
        self._fd: int | None = None  # held between events: a start of 200 writes 600 of them

    def emit(self, kind: str, service: str | None = None, **data: Any) -> dict[str, Any]:
        if kind not in KINDS:  # readers (and docs/json.md) know only these
            raise ValueError(f"unknown event kind {kind!r}")
        self.cursor += 1
        event = {
            "cursor": self.cursor,
            "time": round(self.clock(), 3),
            "kind": kind,
            "service": service,
            **data,
        }
        line = json.dumps(event, default=str) + "\n"
        try:
            self._append(line.encode())
        except OSError as exc:
            # A full disk or a removed .corral/ must not break what emitted the event (a
            # start, a stop): the event is lost, and status says so until a write works.
            self.problem = f"cannot write {self.path}: {exc.strerror}"
        else:
            self.problem = None
        return event

    def _append(self, line: bytes) -> None:
        info = self._write(line)
        if info.st_nlink == 0:  # the file was removed (with .corral/, say): where readers look
            self._close()
            info = self._write(line)  # again, or OSError saying why it cannot be
        if info.st_size > MAX_SIZE:
            self._close()
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))

    def _write(self, line: bytes) -> os.stat_result:
        if self._fd is None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o600)
        try:
            os.write(self._fd, line)
            return os.fstat(self._fd)
        except OSError:
            self._close()
            raise

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def last_cursor(state_dir: Path) -> int:
    """The newest cursor on disk (the live file, else the rotated one), so that cursors keep
    growing across supervisors."""
    path = events_path(state_dir)
    for candidate in (path, path.with_name(path.name + ".1")):
        line = _last_line(candidate)
        if line:
            try:
                return int(json.loads(line)["cursor"])
            except (ValueError, KeyError, TypeError):
                continue
    return 0


def _last_line(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 65536))
            lines = handle.read().splitlines()
    except OSError:
        return None
    return lines[-1] if lines else None


def read(
    state_dir: Path, since: int = 0, service: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Events with a cursor above ``since`` (oldest first, at most ``limit``, the newest kept)."""
    found = [e for e in _all(state_dir) if e["cursor"] > since and _wanted(e, service)]
    return found[-limit:] if limit else found


def _wanted(event: dict[str, Any], service: str | None) -> bool:
    return service is None or event.get("service") in (service, None)


def _all(state_dir: Path) -> Iterator[dict[str, Any]]:
    path = events_path(state_dir)
    for candidate in (path.with_name(path.name + ".1"), path):
        try:
            with open(candidate, "rb") as handle:
                for raw in handle:
                    try:
                        event = json.loads(raw)
                    except ValueError:
                        continue  # a torn line from a crash: skip it
                    if _well_formed(event):
                        yield event  # anything else was not written by corral: skip it
        except OSError:
            continue


def _well_formed(event: object) -> bool:
    return (
        isinstance(event, dict)
        and type(event.get("cursor")) is int
        and isinstance(event.get("kind"), str)
        and isinstance(event.get("time"), int | float)
        and isinstance(event.get("service"), str | None)
    )


def follow(
    state_dir: Path, since: int, service: str | None, deadline: float, poll: float = 0.1
) -> Iterator[dict[str, Any]]:
    """New events as they are written, until ``deadline`` (time.monotonic())."""
    cursor = since
    while True:
        for event in read(state_dir, cursor, service, limit=0):
            cursor = event["cursor"]
            yield event
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(poll, remaining))
