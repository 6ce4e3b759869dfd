"""Pure data shared by every layer: the resolved project and its services.

Nothing here does I/O. Specs are frozen: once loaded, a configuration never changes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class RestartPolicy(enum.StrEnum):
    NO = "no"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"


class ProbeKind(enum.StrEnum):
    TCP = "tcp"
    HTTP = "http"
    LOG = "log"
    CMD = "cmd"


@dataclass(frozen=True)
class ReadyProbe:
    """How to tell that a service is ready. ``target`` is a port, URL, regex or command."""

    kind: ProbeKind
    target: int | str
    timeout: float = 30.0
    interval: float = 0.1

    def describe(self) -> str:
        return f"{self.kind} {self.target} (timeout {format_duration(self.timeout)})"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    command: str | tuple[str, ...]  # a string runs under /bin/sh -c; a tuple is exec'd directly
    cwd: Path
    env: dict[str, str]  # what corral adds on top of the caller's environment (files, env, PORT)
    ports: tuple[int, ...] = ()
    ready: ReadyProbe | None = None
    depends_on: tuple[str, ...] = ()
    restart: RestartPolicy = RestartPolicy.NO
    stop_signal: int = 15
    stop_timeout: float = 10.0
    watch: tuple[str, ...] = ()
    autostart: bool = True
    restart_limit: int = 5  # exits within restart_window that mark the service crashed
    restart_window: float = 60.0
    defined_at: str = ""  # "file:line" where the service was first named, for messages

    @property
    def argv(self) -> list[str]:
        if isinstance(self.command, str):
            return ["/bin/sh", "-c", self.command]
        return list(self.command)

    @property
    def command_line(self) -> str:
        if isinstance(self.command, str):
            return self.command
        import shlex

        return shlex.join(self.command)


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    root: Path
    project_id: str
    config_files: tuple[Path, ...]
    services: tuple[ServiceSpec, ...]  # in start order: dependencies before dependents
    env_files: tuple[Path, ...] = ()
    port_base: int = 5000
    settings: dict[str, object] = field(default_factory=dict)

    def service(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def service_names(self) -> list[str]:
        return [spec.name for spec in self.services]


@dataclass(frozen=True)
class ProcessIdentity:
    """A process named so that PID reuse cannot fool us: pid plus start time in one boot.

    ``start`` is in kernel clock ticks since boot on Linux (field 22 of /proc/PID/stat) and in
    microseconds since the epoch elsewhere. ``inode`` is the pidfs inode (Linux >= 6.9), unique
    per boot, when known.
    """

    pid: int
    start: int
    boot_id: str = ""
    inode: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"pid": self.pid, "start": self.start, "boot_id": self.boot_id, "inode": self.inode}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProcessIdentity:
        inode = data.get("inode")
        return cls(
            pid=int(data["pid"]),  # type: ignore[call-overload]
            start=int(data["start"]),  # type: ignore[call-overload]
            boot_id=str(data.get("boot_id") or ""),
            inode=int(inode) if inode is not None else None,  # type: ignore[call-overload]
        )


def format_duration(seconds: float) -> str:
    """The shortest spelling that ``parse_duration`` reads back to the same value."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def spec_to_dict(project: ProjectSpec) -> dict[str, object]:
    """A JSON-safe form of a resolved project, as a client sends it to the supervisor."""
    return {
        "name": project.name,
        "root": str(project.root),
        "project_id": project.project_id,
        "config_files": [str(p) for p in project.config_files],
        "env_files": [str(p) for p in project.env_files],
        "port_base": project.port_base,
        "settings": project.settings,
        "services": [_service_to_dict(spec) for spec in project.services],
    }


def spec_from_dict(data: dict[str, Any]) -> ProjectSpec:
    return ProjectSpec(
        name=data["name"],
        root=Path(data["root"]),
        project_id=data["project_id"],
        config_files=tuple(Path(p) for p in data["config_files"]),
        services=tuple(_service_from_dict(item) for item in data["services"]),
        env_files=tuple(Path(p) for p in data["env_files"]),
        port_base=data["port_base"],
        settings=dict(data.get("settings") or {}),
    )


def _service_to_dict(spec: ServiceSpec) -> dict[str, object]:
    data = {f.name: getattr(spec, f.name) for f in fields(spec)}
    data["command"] = spec.command if isinstance(spec.command, str) else list(spec.command)
    data["cwd"] = str(spec.cwd)
    data["ready"] = (
        None
        if spec.ready is None
        else {f.name: getattr(spec.ready, f.name) for f in fields(spec.ready)}
    )
    data["restart"] = str(spec.restart)
    return data


def _service_from_dict(data: dict[str, Any]) -> ServiceSpec:
    values = dict(data)
    command = values["command"]
    values["command"] = command if isinstance(command, str) else tuple(command)
    values["cwd"] = Path(values["cwd"])
    ready = values.get("ready")
    values["ready"] = (
        None if ready is None else ReadyProbe(**{**ready, "kind": ProbeKind(ready["kind"])})
    )
    values["restart"] = RestartPolicy(values["restart"])
    for key in ("ports", "depends_on", "watch"):
        values[key] = tuple(values[key])
    known = {f.name for f in fields(ServiceSpec)}
    return ServiceSpec(**{k: v for k, v in values.items() if k in known})
