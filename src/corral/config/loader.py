"""From files on disk to a validated ``ProjectSpec``: the configuration pipeline.

discover -> parse (Procfile, TOML) -> merge -> validate each value -> environment and PORT ->
cross-checks (dependencies, ports) -> start order. Every failure is a ``ConfigError`` naming the
file and, where it can be found, the line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from corral.config import values as v
from corral.config.checks import check_case_clashes, check_dependencies, check_ports, start_order
from corral.config.compose import ComposeSource, load_compose
from corral.config.context import Context, RawService, T
from corral.config.discover import Discovered, discover
from corral.config.envfiles import read_env_file
from corral.config.formation import apply_formation
from corral.config.offset import as_port_offset, shift_probe
from corral.config.procfile import parse_procfile
from corral.config.tomlfile import TomlSource, load_toml
from corral.errors import ConfigError
from corral.model import (
    DEFAULT_LOG_KEEP,
    DEFAULT_LOG_MAX_SIZE,
    DEFAULT_PORT_BASE,
    DEFAULT_RESTART_LIMIT,
    DEFAULT_RESTART_WINDOW,
    DEFAULT_SETTLE_TIME,
    DEFAULT_STOP_SIGNAL,
    DEFAULT_STOP_TIMEOUT,
    DEFAULT_TTY_SIZE,
    ProjectSettings,
    ProjectSpec,
    ServiceSpec,
)
from corral.paths import canonical_root, project_id

PROJECT_KEYS = (
    "name",
    "env_file",
    "port_base",
    "services",
    "log_max_size",
    "log_keep",
    "settle_time",
    "tether",
    "ttl",
    "agent",
    "port_offset",
)
SERVICE_KEYS = (
    "command",
    "cwd",
    "env",
    "env_file",
    "port",
    "ready",
    "depends_on",
    "restart",
    "stop_signal",
    "stop_timeout",
    "watch",
    "autostart",
    "restart_limit",
    "restart_window",
    "oneshot",
    "tty",
    "tty_size",
)
ONESHOT_NAMES = ("release",)  # Procfile names that run to completion (Heroku's release phase)
PORT_STEP = 100  # foreman's spacing of PORT between services


@dataclass(frozen=True)
class Overrides:
    """What the command line says on top of the files (foreman's and honcho's options):
    ``-p`` the PORT base, ``-e`` env files in place of the project's, ``-m`` the formation."""

    port: int | None = None
    env_files: tuple[Path, ...] | None = None
    formation: dict[str, int] | None = None


def load_project(
    start: Path,
    explicit_file: Path | None = None,
    inherited: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
) -> ProjectSpec:
    """The project's resolved configuration. ``inherited`` is the environment that .env files
    expand against: this process's unless given (the supervisor passes its client's)."""
    overrides = overrides or Overrides()
    found = discover(start, explicit_file)
    ctx = Context(found, canonical_root(found.root), _load_source(found), inherited)
    if found.procfile is not None:
        ctx.procfile = parse_procfile(_read(found.procfile), found.procfile)
    table = ctx.source.data if ctx.source else {}
    _check_keys(ctx, (), table, PROJECT_KEYS)
    name = ctx.read((), table, "name", v.as_str, ctx.root.name)
    env_files = _project_env_files(ctx, table, overrides)
    base_env: dict[str, str] = {}
    for path in env_files:
        base_env.update(read_env_file(path, base_env, ctx.inherited))
    port_base, port_source = _port_base(ctx, table, base_env, overrides.port)
    offset, offset_source = _port_offset(ctx, table)
    settings = ProjectSettings(
        log_max_size=ctx.read((), table, "log_max_size", v.as_size, DEFAULT_LOG_MAX_SIZE),
        log_keep=ctx.read((), table, "log_keep", v.as_positive_int, DEFAULT_LOG_KEEP),
        settle_time=ctx.read((), table, "settle_time", v.as_duration, DEFAULT_SETTLE_TIME),
        tether=ctx.read((), table, "tether", v.as_tether, None),
        ttl=ctx.read((), table, "ttl", v.as_positive_duration, None),
        agent_allow=ctx.read((), table, "agent", v.as_agent_allow, ()),
    )
    raw = _merge_services(ctx, table)
    specs = [_service(ctx, item, base_env, port_base, offset) for item in raw]
    check_dependencies(ctx, specs)
    specs = apply_formation(specs, overrides.formation)
    check_ports(ctx, specs)
    return ProjectSpec(
        name=name,
        root=ctx.root,
        project_id=project_id(ctx.root),
        config_files=found.files,
        services=tuple(start_order(specs)),
        env_files=tuple(env_files),
        port_base=port_base,
        port_source=port_source,
        port_offset=offset,
        port_offset_source=offset_source,
        settings=settings,
        warnings=_warnings(ctx.source),
    )


def _project_env_files(ctx: Context, table: dict[str, object], overrides: Overrides) -> list[Path]:
    if overrides.env_files is None:
        return _env_files(ctx, (), table, default_dotenv=True)
    for path in overrides.env_files:  # -e FILE: in place of env_file (or .env), as foreman
        if not path.is_file():
            raise ConfigError(path, "env file does not exist", hint="fix the path given to -e")
    return list(overrides.env_files)


def _port_base(
    ctx: Context, table: dict[str, object], base_env: dict[str, str], flag: int | None
) -> tuple[int, str]:
    """foreman's, honcho's and Overmind's rule: ``-p``, then ``PORT`` (the env files', else the
    environment's), then ``port_base``, then 5000. Returns the base and where it came from."""
    if flag is not None:
        return flag, "-p"
    inherited = os.environ if ctx.inherited is None else ctx.inherited
    for source, env in (("env file", base_env), ("environment", inherited)):
        text = env.get("PORT")
        if text:
            try:
                return v.as_port(int(text)), f"PORT in the {source}"
            except ValueError:
                raise ConfigError(
                    ctx.found.files[0],
                    f"PORT={text!r} in the {source} is not a port number (1-65535)",
                    hint="fix PORT, unset it, or give the base with -p",
                ) from None
    if "port_base" in table:
        return ctx.read((), table, "port_base", v.as_port, DEFAULT_PORT_BASE), "port_base"
    return DEFAULT_PORT_BASE, "default"


def _warnings(source: TomlSource | ComposeSource | None) -> tuple[str, ...]:
    warning = source.warning() if isinstance(source, ComposeSource) else None
    return (warning,) if warning else ()


def _load_source(found: Discovered) -> TomlSource | ComposeSource | None:
    if found.compose is not None:
        return load_compose(found.compose)
    if found.toml is None:
        return None
    return load_toml(found.toml, pyproject=found.toml.name == "pyproject.toml")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None


def _check_keys(
    ctx: Context, keys: tuple[str, ...], table: dict[str, object], known: tuple[str, ...]
) -> None:
    try:
        v.check_keys(table, known)
    except v.UnknownKey as exc:
        raise ctx.error(keys, str(exc), exc.hint, at=(*keys, exc.key)) from None


def _env_files(
    ctx: Context, keys: tuple[str, ...], table: dict[str, object], *, default_dotenv: bool
) -> list[Path]:
    names = ctx.read(keys, table, "env_file", lambda x: v.as_str_list(x, allow_single=True), None)
    if names is None:
        dotenv = ctx.root / ".env"
        return [dotenv] if default_dotenv and dotenv.is_file() else []
    paths = [ctx.root / name for name in names]
    for path in paths:
        if not path.is_file():
            raise ctx.error(
                (*keys, "env_file"),
                f"env file {str(path)!r} does not exist",
                "create it or remove it from env_file",
            )
    return paths


def _merge_services(ctx: Context, table: dict[str, object]) -> list[RawService]:
    """Procfile services in Procfile order, then services only the TOML file defines."""
    services = ctx.read((), table, "services", _as_table, {})
    raw: list[RawService] = []
    procfile_path = ctx.found.procfile
    for entry in ctx.procfile:
        options = _options(ctx, services, entry.name)
        if "command" in options:
            raise ctx.error(
                ("services", entry.name, "command"),
                f"service {entry.name!r} already has a command in {procfile_path}:{entry.line}",
                "remove one of the two",
            )
        where = f"{_relative(procfile_path, ctx.root)}:{entry.line}"
        raw.append(RawService(entry.name, len(raw), entry.command, options, where, True))
    named = {entry.name for entry in ctx.procfile}
    for service_name in services:
        if service_name in named:
            continue
        options = _options(ctx, services, service_name)
        command = ctx.read(("services", service_name), options, "command", v.as_command, None)
        if command is None:
            raise ctx.error(
                ("services", service_name),
                f"service {service_name!r} has no command",
                f"add command = \"...\" or a line '{service_name}: ...' to a Procfile",
            )
        assert ctx.source is not None
        line = ctx.source.line_of("services", service_name)
        path = _relative(ctx.source.path, ctx.root)
        where = f"{path}:{line}" if line else path
        raw.append(RawService(service_name, len(raw), command, options, where))
    check_case_clashes(ctx, raw)
    if not raw:
        raise ConfigError(
            ctx.found.files[0],
            "defines no services",
            hint="add 'name: command' lines or [services.NAME] tables",
        )
    return raw


def _relative(path: Path | None, root: Path) -> str:
    assert path is not None
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _as_table(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table, got {v.describe(value)}")
    return value


def _options(ctx: Context, services: dict[str, object], name: str) -> dict[str, object]:
    keys = ("services", name)
    try:
        v.as_name(name)
    except ValueError as exc:
        raise ctx.error(keys, str(exc)) from None
    options = ctx.read(("services",), services, name, _as_table, {})
    _check_keys(ctx, keys, options, SERVICE_KEYS)
    return options


def _port_offset(ctx: Context, table: dict[str, object]) -> tuple[int, str]:
    """Added to every port of the project (declared ports, PORT, tcp and http probes), so that a
    second checkout runs beside the first: ``CORRAL_PORT_OFFSET``, else ``port_offset``."""
    inherited = os.environ if ctx.inherited is None else ctx.inherited
    text = inherited.get("CORRAL_PORT_OFFSET", "")
    if text:
        if not text.isdigit() or not 0 <= int(text) < 65535:
            raise ConfigError(
                ctx.found.files[0],
                f"CORRAL_PORT_OFFSET={text!r} is not a whole number from 0 to 65534",
                hint="fix or unset CORRAL_PORT_OFFSET",
            )
        return int(text), "CORRAL_PORT_OFFSET"
    if "port_offset" in table:
        return ctx.read((), table, "port_offset", as_port_offset, 0), "port_offset"
    return 0, "none"


def _shifted(
    ctx: Context, keys: tuple[str, ...], ports: tuple[int, ...], offset: int
) -> tuple[int, ...]:
    if any(port + offset > 65535 for port in ports):
        raise ctx.error(
            (*keys, "port"),
            f"port {max(ports)} + port offset {offset} is over 65535",
            "use a smaller port offset",
        )
    return tuple(port + offset for port in ports)


def _service(
    ctx: Context, raw: RawService, base_env: dict[str, str], port_base: int, offset: int = 0
) -> ServiceSpec:
    keys = ("services", raw.name)
    opts = raw.options

    def read(key: str, validator: Callable[[object], T], default: T) -> T:
        return ctx.read(keys, opts, key, validator, default)

    ports = _shifted(ctx, keys, read("port", v.as_ports, ()), offset)
    env = dict(base_env)
    for path in _env_files(ctx, keys, opts, default_dotenv=False):
        env.update(read_env_file(path, env, ctx.inherited))
    env["PORT"] = str(ports[0] if ports else port_base + offset + raw.index * PORT_STEP)
    env.update(read("env", v.as_env, {}))
    assert raw.command is not None
    return ServiceSpec(
        name=raw.name,
        command=raw.command,
        cwd=_cwd(ctx, keys, read("cwd", v.as_str, None)),
        env=env,
        ports=ports,
        ready=shift_probe(read("ready", v.as_probe, None), offset),
        depends_on=read("depends_on", v.as_str_list, ()),
        restart=read("restart", v.as_restart, v.RestartPolicy.NO),
        stop_signal=read("stop_signal", v.as_signal, DEFAULT_STOP_SIGNAL),
        stop_timeout=read("stop_timeout", v.as_duration, DEFAULT_STOP_TIMEOUT),
        watch=read("watch", v.as_str_list, ()),
        autostart=read("autostart", v.as_bool, True),
        restart_limit=read("restart_limit", v.as_positive_int, DEFAULT_RESTART_LIMIT),
        restart_window=read("restart_window", v.as_duration, DEFAULT_RESTART_WINDOW),
        oneshot=_oneshot(ctx, raw),
        tty=read("tty", v.as_bool, False),
        tty_size=read("tty_size", v.as_tty_size, DEFAULT_TTY_SIZE),
        defined_at=raw.defined_at,
    )


def _oneshot(ctx: Context, raw: RawService) -> bool:
    """``oneshot = true``, or by convention a Procfile line named ``release``. A oneshot is done
    when it exits 0, so a readiness probe or ``restart = "always"`` makes no sense for it."""
    keys = ("services", raw.name)
    default = raw.from_procfile and raw.name in ONESHOT_NAMES
    oneshot = ctx.read(keys, raw.options, "oneshot", v.as_bool, default)
    if not oneshot:
        return False
    if "ready" in raw.options:
        raise ctx.error(
            (*keys, "ready"),
            f"oneshot service {raw.name!r} is done when it exits 0: it takes no ready probe",
            "remove ready, or set oneshot = false",
        )
    if raw.options.get("restart") == "always":
        raise ctx.error(
            (*keys, "restart"),
            f'oneshot service {raw.name!r} cannot restart = "always"',
            'use restart = "on-failure" or "no"',
        )
    return True


def _cwd(ctx: Context, keys: tuple[str, ...], cwd: str | None) -> Path:
    if cwd is None:
        return ctx.root
    path = (ctx.root / cwd).resolve()
    if not path.is_dir():
        raise ctx.error(
            (*keys, "cwd"),
            f"directory {cwd!r} does not exist (resolved to {path})",
            "create it or fix cwd",
        )
    return path
