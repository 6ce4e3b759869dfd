"""Pure data shared by every layer: the resolved project and its services.

Nothing here does I/O. Specs are frozen: once loaded, a configuration never changes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from pathlib import Path

from corral.timefmt import format_duration

TYPE_CHECKING = False  # not typing's: `typing` costs ~2 ms at start-up; only annotations use it
if TYPE_CHECKING:
    from typing import Any

# Defaults written once: the configuration loader, the state file and reclaim all use these.
DEFAULT_STOP_SIGNAL = 15  # SIGTERM
DEFAULT_STOP_TIMEOUT = 10.0
DEFAULT_TTY_SIZE = (120, 40)  # a tty service's terminal, in columns and rows
DEFAULT_SETTLE_TIME = 0.5
DEFAULT_PORT_BASE = 5000
DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_LOG_KEEP = 3
DEFAULT_RESTART_LIMIT = 5
DEFAULT_RESTART_WINDOW = 60.0


# A command string made of these characters alone means the same to /bin/sh as its words split
# on blanks: no quoting, expansion, globbing, redirection, operator or comment.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,:@+= \t")
# Words sh runs itself (keywords and dash's and bash's builtins): such a command keeps its shell.
_SHELL_BUILTINS = (
    ". : [ alias bg break builtin case cd chdir command continue do done echo elif else esac eval"
    " exec exit export false fc fg fi for getopts hash if in jobs kill let local printf pwd read"
    " readonly return set shift source test then times trap true type ulimit umask unalias unset"
    " until wait while"
)
_SHELL_WORDS = frozenset(_SHELL_BUILTINS.split())


def plain_words(command: str) -> list[str] | None:
    """The words of ``command`` when sh would run them as one plain program with arguments
    (``uvicorn app:app --port 8000``), else None. Such a command is exec'd without the shell:
    one exec instead of three (sh, its fork, the program), and the program is the run's leader,
    so the stop signal reaches it, not a shell that may not pass it on."""
    if not set(command) <= _PLAIN:
        return None
    words = command.split()
    if not words or "=" in words[0] or words[0] in _SHELL_WORDS:
        return None
    return words


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
    stop_signal: int = DEFAULT_STOP_SIGNAL
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    watch: tuple[str, ...] = ()
    autostart: bool = True
    restart_limit: int = DEFAULT_RESTART_LIMIT  # exits within restart_window: crashed
    restart_window: float = DEFAULT_RESTART_WINDOW
    oneshot: bool = False  # runs to completion: exit 0 is success (e.g. a release step)
    tty: bool = False  # on a pseudo-terminal the supervisor holds (corral.supervisor.terminal)
    tty_size: tuple[int, int] = DEFAULT_TTY_SIZE  # that terminal's columns and rows, until attached
    defined_at: str = ""  # "file:line" where the service was first named, for messages

    @property
    def argv(self) -> list[str]:
        if isinstance(self.command, str):
            return ["/bin/sh", "-c", self.command]
        return list(self.command)

    @property
    def exec_argv(self) -> list[str]:
        """What corral execs for a run: ``argv``, without the shell when it adds nothing."""
        if isinstance(self.command, str):
            words = plain_words(self.command)
            if words is not None:
                return words
        return self.argv

    @property
    def command_line(self) -> str:
        if isinstance(self.command, str):
            return self.command
        import shlex

        return shlex.join(self.command)


@dataclass(frozen=True)
class ProjectSettings:
    """Project-wide options (corral.toml's top level), typed, with their defaults."""

    log_max_size: int = DEFAULT_LOG_MAX_SIZE
    log_keep: int = DEFAULT_LOG_KEEP
    settle_time: float = DEFAULT_SETTLE_TIME
    tether: str | None = None  # "auto", "none" or a pid, as written
    ttl: float | None = None
    agent_allow: tuple[str, ...] = ()  # [agent] allow: commands the agent guard lets through

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    root: Path
    project_id: str
    config_files: tuple[Path, ...]
    services: tuple[ServiceSpec, ...]  # in start order: dependencies before dependents
    env_files: tuple[Path, ...] = ()
    port_base: int = DEFAULT_PORT_BASE
    port_source: str = "default"  # where port_base came from: -p, PORT, port_base or default
    port_offset: int = 0  # added to every port (a second checkout): see the README
    port_offset_source: str = "none"  # CORRAL_PORT_OFFSET, port_offset or none
    settings: ProjectSettings = field(default_factory=ProjectSettings)
    warnings: tuple[str, ...] = ()  # what the loader could not honour, each one line

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


@dataclass
class RunRecord:
    """One run of a service, as the state file keeps it and a stop needs it: what finds its
    processes by every layer (leader, group, cgroup, lifeline, every member ever seen, the
    markers it carries: project, service, run id) and how it is stopped (ports, stop signal
    and timeout), fixed when it was spawned. A configuration edited since applies to the next
    run, never to this one's stop. Reclaim needs nothing else."""

    project_id: str
    service: str
    run_id: str | None = None
    leader: ProcessIdentity | None = None
    pgid: int | None = None
    sid: int | None = None  # the session its leader made (every service leads one)
    cgroup: str | None = None
    lifeline: str | None = None  # "pipe:[inode]" of its lifeline pipe, or its lifeline file
    members: list[ProcessIdentity] = field(default_factory=list)
    ports: tuple[int, ...] = ()
    stop_signal: int = DEFAULT_STOP_SIGNAL
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    started_at: float | None = None
    started_by: dict[str, Any] | None = None  # who asked: agent, session, tethered
    cwd: str | None = None  # where it started (escapes the OS layer cannot prove are looked for)

    @classmethod
    def for_spec(cls, project_id: str, spec: ServiceSpec) -> RunRecord:
        """What a stop knows of a service with no recorded run: its markers and ports."""
        return cls(
            project_id,
            spec.name,
            ports=spec.ports,
            stop_signal=spec.stop_signal,
            stop_timeout=spec.stop_timeout,
        )

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["leader"] = self.leader.to_dict() if self.leader is not None else None
        data["members"] = [member.to_dict() for member in self.members]
        data["ports"] = list(self.ports)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        leader = values.get("leader")
        values["leader"] = ProcessIdentity.from_dict(leader) if isinstance(leader, dict) else None
        values["members"] = [ProcessIdentity.from_dict(m) for m in values.get("members") or []]
        values["ports"] = tuple(int(port) for port in values.get("ports") or ())
        values["sid"] = values.get("sid") if type(values.get("sid")) is int else None
        values["stop_signal"] = int(values.get("stop_signal", DEFAULT_STOP_SIGNAL))
        values["stop_timeout"] = float(values.get("stop_timeout", DEFAULT_STOP_TIMEOUT))
        return cls(**values)


def spec_to_dict(project: ProjectSpec) -> dict[str, object]:
    """A JSON-safe form of a resolved project, as a client sends it to the supervisor."""
    return {
        "name": project.name,
        "root": str(project.root),
        "project_id": project.project_id,
        "config_files": [str(p) for p in project.config_files],
        "env_files": [str(p) for p in project.env_files],
        "port_base": project.port_base,
        "port_source": project.port_source,
        "port_offset": project.port_offset,
        "port_offset_source": project.port_offset_source,
        "settings": project.settings.to_dict(),
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
        port_source=str(data.get("port_source", "default")),
        port_offset=int(data.get("port_offset", 0)),
        port_offset_source=str(data.get("port_offset_source", "none")),
        settings=ProjectSettings.from_dict(dict(data.get("settings") or {})),
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
    if "tty_size" in values:
        values["tty_size"] = tuple(values["tty_size"])
    known = {f.name for f in fields(ServiceSpec)}
    return ServiceSpec(**{k: v for k, v in values.items() if k in known})
