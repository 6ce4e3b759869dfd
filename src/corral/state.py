"""The state file, ``.corral/state.json``: what a project's supervisor runs, readable by anyone
who comes later (a new shell, the guard, a client whose supervisor died).

Written atomically (temp file + rename) by one writer at a time: the supervisor while it lives,
then the guard or a recovering client. State from another boot describes processes that cannot
exist any more and is ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from corral.errors import UnsafeState
from corral.model import ProcessIdentity, RunRecord
from corral.paths import state_dir
from corral.trust import StateDir

STATE_VERSION = 2  # 2: a service's run is one RunRecord


@dataclass
class ServiceRecord:
    """A service as the state file keeps it: its state and history, and its last run."""

    name: str
    state: str = "stopped"
    run: RunRecord | None = None  # the current run, or the last one (later sweeps use it)
    restarts: int = 0
    last_exit: dict[str, Any] | None = None  # {"code", "signal", "time"}
    note: str | None = None  # the latest diagnosis, e.g. why it crashed or a probe failed
    stale: dict[str, Any] | None = None  # {"files", "first", "head_moved"} when code changed

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["run"] = self.run.to_dict() if self.run is not None else None
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

    def runs(self, names: list[str] | None = None) -> list[RunRecord]:
        """The recorded runs of the named services (all when None or empty); a service with
        no run recorded still gets one, from which markers and ports find leftovers."""
        wanted = set(names) if names else set(self.services)
        return [
            record.run or RunRecord(self.project_id, name, run_id=self.run_id)
            for name, record in self.services.items()
            if name in wanted
        ]


STATE_FILE = "state.json"


def state_path(root: Path) -> Path:
    return state_dir(root) / STATE_FILE


def read_state(root: Path, boot_id: str, project_id: str | None = None) -> ProjectState | None:
    """The recorded state, or None when there is none, it is unreadable, it is from another
    boot, or it describes another project (``project_id`` given: a copied checkout, a restored
    backup, a bind mount carry the original's state file, which must never be acted on here).

    A ``.corral/`` or state file that another user owns, or that group or others may write, is
    refused (``UnsafeState``): a planted file must not make corral signal anything."""
    raw = _read_raw(root)
    if raw is None:
        return None
    try:
        state = ProjectState.from_dict(json.loads(raw))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if state.version != STATE_VERSION or state.boot_id != boot_id:
        return None
    if project_id is not None and not _describes(state, root, project_id):
        return None
    return state


def foreign_state(root: Path, project_id: str) -> str | None:
    """Why the state file here is not this project's, if it is another's (to report it once)."""
    try:
        raw = _read_raw(root)
        data = json.loads(raw) if raw is not None else None
    except (ValueError, UnsafeState):
        return None
    if not isinstance(data, dict) or data.get("project_id") in (None, project_id):
        return None
    return (
        f"{state_path(root)} belongs to another checkout (project id {data.get('project_id')}, "
        f"root {data.get('root')}): ignored; it was copied or moved here, and only that checkout's "
        "corral acts on it"
    )


def _describes(state: ProjectState, root: Path, project_id: str) -> bool:
    return state.project_id == project_id and state.root == str(root)


def _read_raw(root: Path) -> bytes | None:
    try:
        held = StateDir(state_dir(root))
    except (FileNotFoundError, NotADirectoryError):
        return None
    with held:
        return held.read(STATE_FILE)


def write_state(root: Path, state: ProjectState) -> None:
    """Atomically, relative to the verified ``.corral/`` (see corral.trust)."""
    with StateDir(state_dir(root)) as held:
        held.write_atomic(STATE_FILE, state.to_json().encode())


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def _plain(identity: ProcessIdentity | None) -> dict[str, object] | None:
    return identity.to_dict() if identity is not None else None


def _identity(data: Any) -> ProcessIdentity | None:
    return ProcessIdentity.from_dict(data) if isinstance(data, dict) else None


def _service_record(data: dict[str, Any]) -> ServiceRecord:
    values = _known(ServiceRecord, data)
    run = values.get("run")
    values["run"] = RunRecord.from_dict(run) if isinstance(run, dict) else None
    return ServiceRecord(**values)
