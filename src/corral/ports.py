"""The port ledger: who holds a port, and whether that someone is ours.

A holder is described by what the kernel lets us see: pid, user, command line, cwd, start time,
and, when it carries corral markers, the service and project it belongs to, with the exact
command that stops it. Only LISTEN sockets count: a client connected to a port does not hold it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from corral import markers as marker_names
from corral import oslayer


@dataclass
class Holder:
    pid: int | None
    uid: int
    addresses: list[str] = field(default_factory=list)
    user: str = ""
    command: str = ""
    cwd: str | None = None
    started_at: float | None = None
    project_id: str | None = None
    project_root: str | None = None
    service: str | None = None
    system: str | None = None  # what it is, when the OS itself holds the port (AirPlay)

    def is_ours(self, project_id: str) -> bool:
        return self.project_id == project_id

    def describe(self) -> str:
        if self.pid is None:
            return f"a process of user {self.user or self.uid} (pid hidden from us)"
        text = f"pid {self.pid} ({self.command[:80]}) of user {self.user or self.uid}"
        if self.cwd:
            text += f", cwd {self.cwd}"
        if self.started_at:
            text += (
                f", started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.started_at))}"
            )
        if self.project_id:
            where = self.project_root or f"project id {self.project_id}"
            text += f"; it is service {self.service!r} of corral project {where}"
        if self.system:
            text += f"; it is {self.system}"
        return text

    def stop_command(self) -> str | None:
        if self.project_root and self.service:
            return f"corral -C {self.project_root} stop {self.service}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "stop_command": self.stop_command()}


def listening_ports(pids: set[int]) -> dict[int, set[int]]:
    """pid -> TCP ports it listens on, for the given processes (a targeted fd scan)."""
    if not pids:
        return {}
    sockets = oslayer.listeners()
    holders = oslayer.socket_holders([item.inode for item in sockets], pids)
    result: dict[int, set[int]] = {}
    for item in sockets:
        for pid in holders.get(item.inode, set()) & pids:
            result.setdefault(pid, set()).add(item.port)
    return result


_latest_listeners: tuple[float, list[oslayer.Listener]] = (float("-inf"), [])


def listeners_since(newer_than: float) -> list[oslayer.Listener]:
    """The latest dump of every listening socket if it began after ``newer_than`` (monotonic),
    else a new one: the tcp probes polling in one turn of the loop, and the stops that finish
    together, share one dump."""
    global _latest_listeners
    if _latest_listeners[0] <= newer_than:
        taken = time.monotonic()
        _latest_listeners = (taken, oslayer.listeners())
    return _latest_listeners[1]


_turn_listeners: list[oslayer.Listener] | None = None


def listeners_this_turn() -> list[oslayer.Listener]:
    """One dump of every listening socket per turn of the running event loop: the port claims
    of services starting together, and the tcp probes that poll in the same turn, share it
    (a dump of 200 listeners per service was most of a start's port work)."""
    global _turn_listeners
    if _turn_listeners is None:
        import asyncio

        _turn_listeners = oslayer.listeners()
        asyncio.get_running_loop().call_soon(_forget_turn)
    return _turn_listeners


def _forget_turn() -> None:
    global _turn_listeners
    _turn_listeners = None


def holders(port: int) -> list[Holder]:
    """Everyone listening on ``port``, one entry per process (addresses merged)."""
    sockets = oslayer.listeners([port])
    owners = oslayer.socket_holders([item.inode for item in sockets])
    by_pid: dict[int | None, Holder] = {}
    for item in sockets:
        for pid in sorted(owners.get(item.inode, set())) or [None]:
            holder = by_pid.get(pid) or by_pid.setdefault(pid, _describe(pid, item.uid, port))
            holder.addresses.append(f"{_bracket(item.address)}:{item.port}")
    return list(by_pid.values())


def _describe(pid: int | None, uid: int, port: int) -> Holder:
    holder = Holder(pid=pid, uid=uid, user=_user(uid))
    if pid is None:
        return holder
    holder.command = oslayer.cmdline(pid)
    holder.system = oslayer.system_listener(port, holder.command)
    holder.cwd = oslayer.cwd(pid)
    holder.started_at = oslayer.start_time(pid)
    markers = oslayer.read_markers(pid) or {}
    holder.project_id = markers.get(marker_names.PROJECT)
    holder.project_root = markers.get(marker_names.ROOT)
    holder.service = markers.get(marker_names.SERVICE)
    return holder


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def socket_states(port: int) -> dict[str, int]:
    """TCP sockets on ``port`` that are not listening, by state (e.g. ``TIME_WAIT``): what
    holds a port when no process listens on it. Only on the error path (psutil reads every
    connection of the machine)."""
    import psutil

    states: dict[str, int] = {}
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return states
    for connection in connections:
        if connection.laddr and connection.laddr.port == port and connection.status != "LISTEN":
            states[connection.status] = states.get(connection.status, 0) + 1
    return states
