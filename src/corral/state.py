"""The state file, ``.corral/state.json``: what a project's supervisor runs, readable by anyone
who comes later (a new shell, the guard, a client whose supervisor died).

Written atomically (temp file + rename) by one writer at a time: the supervisor while it lives,
then the guard or a recovering client. State from another boot describes processes that cannot
exist any more and is ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from corral.model import ProcessIdentity
from corral.paths import state_dir

STATE_VERSION = 1


@dataclass
class ServiceRecord:
    name: str
    state: str = "stopped"
    run_id: str | None = None
    leader: ProcessIdentity | None = None
    pgid: int | None = None
    cgroup: str | None = None
    lifeline: str | None = None  # "pipe:[inode]" of the run's lifeline pipe
    members: list[ProcessIdentity] = field(default_factory=list)  # every member ever seen
    ports: list[int] = field(default_factory=list)
    stop_signal: int = 15
    stop_timeout: float = 10.0
    started_at: float | None = None
    restarts: int = 0
    last_exit: dict[str, Any] | None = None  # {"code", "signal", "time"}
    note: str | None = None  # the latest diagnosis, e.g. why it crashed or a probe failed
    stale: dict[str, Any] | None = None  # {"files", "first", "head_moved"} when code changed

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["leader"] = _plain(self.leader)
        data["members"] = [member.to_dict() for member in self.members]
        return data


@dataclass
class ProjectState:
    project_id: str
    root: str
    boot_id: str
    version: int = STATE_VERSION
    run_id: str | None = None  # the supervisor instance token
    supervisor: ProcessIdentity | None = None
    guard: ProcessIdentity | None = None
    socket: str | None = None
    started_at: float | None = None
    services: dict[str, ServiceRecord] = field(default_factory=dict)
    ended: dict[str, Any] | None = None  # how the last supervisor ended: {"time", "reason", ...}
    tether: dict[str, Any] | None = None  # {"pid", "start", "command"}: stop all when it exits
    lease: float | None = None  # seconds without any client contact after which all stops

    def to_json(self) -> str:
        # Compact, so the C encoder does the work: the supervisor writes this on every change.
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["supervisor"] = _plain(self.supervisor)
        data["guard"] = _plain(self.guard)
        data["services"] = {name: record.to_dict() for name, record in self.services.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectState:
        values = _known(cls, data)
        for key in ("supervisor", "guard"):
            values[key] = _identity(values.get(key))
        values["services"] = {
            name: _service_record(item) for name, item in (data.get("services") or {}).items()
        }
        return cls(**values)


def state_path(root: Path) -> Path:
    return state_dir(root) / "state.json"


def read_state(root: Path, boot_id: str) -> ProjectState | None:
    """The recorded state, or None when there is none, it is unreadable, or from another boot."""
    try:
        data = json.loads(state_path(root).read_text())
        state = ProjectState.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if state.version != STATE_VERSION or state.boot_id != boot_id:
        return None
    return state


def write_state(root: Path, state: ProjectState) -> None:
    path = state_path(root)
    temporary = path.with_name(f".state.{os.getpid()}.tmp")
    with open(temporary, "w") as handle:
        handle.write(state.to_json())
    os.replace(temporary, path)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def _plain(identity: ProcessIdentity | None) -> dict[str, object] | None:
    return identity.to_dict() if identity is not None else None


def _identity(data: Any) -> ProcessIdentity | None:
    return ProcessIdentity.from_dict(data) if isinstance(data, dict) else None


def _service_record(data: dict[str, Any]) -> ServiceRecord:
    values = _known(ServiceRecord, data)
    values["leader"] = _identity(values.get("leader"))
    values["members"] = [ProcessIdentity.from_dict(item) for item in values.get("members") or []]
    return ServiceRecord(**values)
