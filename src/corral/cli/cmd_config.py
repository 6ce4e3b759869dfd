"""``corral config``: the resolved configuration, as text or JSON."""

from __future__ import annotations

import argparse
import signal

from corral.cli.render import Output, load_project_for
from corral.config.document import config_document
from corral.config.envfiles import masked
from corral.errors import display_path
from corral.model import ProjectSpec, ServiceSpec
from corral.timefmt import format_duration

TYPE_CHECKING = False  # not typing's: `typing` costs ~2 ms at start-up; only annotations use it
if TYPE_CHECKING:
    from typing import Any


def run_config(args: argparse.Namespace, out: Output) -> int:
    project = load_project_for(args)
    if args.quiet:
        return 0
    if args.names:
        for name in project.service_names:
            out.line(name)
        return 0
    running = running_differences(project)
    if out.json:
        document = config_document(project, args.show_secrets)
        for service in document["services"]:
            service["running_differs"] = running.get(service["name"])
        out.document(document)
    else:
        _print_project(project, args.show_secrets, out, running)
    return 0


def running_differences(project: ProjectSpec) -> dict[str, dict[str, Any]]:
    """service -> the settings its current run was started with that differ from this
    configuration (they apply from the next start), from the state file's run records."""
    from corral import oslayer
    from corral.errors import CorralError
    from corral.state import read_state
    from corral.status import config_changed

    try:
        state = read_state(project.root, oslayer.boot_id(), project.project_id)
    except CorralError:
        return {}
    if state is None:
        return {}
    differences = {}
    for spec in project.services:
        record = state.services.get(spec.name)
        run = record.run if record is not None and record.state not in _DOWN else None
        if run is None or run.leader is None:
            continue
        changed = config_changed(
            _settings(run.ports, run.stop_signal, run.stop_timeout),
            _settings(spec.ports, spec.stop_signal, spec.stop_timeout),
        )
        if changed:
            differences[spec.name] = changed
    return differences


_DOWN = ("stopped", "exited", "crashed", "completed")


def _settings(ports: tuple[int, ...], stop_signal: int, stop_timeout: float) -> dict[str, Any]:
    name = signal.Signals(stop_signal).name
    return {"ports": list(ports), "stop_signal": name, "stop_timeout": stop_timeout}


def run_check(args: argparse.Namespace, out: Output) -> int:
    """Validation only: the loader raises the one-line error (exit 2) on any mistake."""
    project = load_project_for(args)
    if out.json:
        out.document({"project": project.name, "services": project.service_names})
    else:
        files = ", ".join(display_path(path) for path in project.config_files)
        out.line(f"{files}: valid ({', '.join(project.service_names)})")
    return 0


def _print_project(
    project: ProjectSpec, show_secrets: bool, out: Output, running: dict[str, dict[str, Any]]
) -> None:
    files = ", ".join(display_path(path) for path in project.config_files)
    out.line(f"{out.paint(project.name, 'bold')}  (id {project.project_id})")
    out.line(f"  root       {project.root}")
    out.line(f"  config     {files}")
    if project.env_files:
        out.line(f"  env files  {', '.join(display_path(p) for p in project.env_files)}")
    out.line(f"  port base  {project.port_base}  ({_port_source(project.port_source)})")
    if project.port_offset_source != "none":
        out.line(
            f"  offset     +{project.port_offset} on every port (from {project.port_offset_source})"
        )
    out.line(f"  services   {len(project.services)}, in start order:")
    for spec in project.services:
        out.line()
        _print_service(spec, project, show_secrets, out)
        for key, values in running.get(spec.name, {}).items():
            out.line(
                out.paint(
                    f"  running     with {key} = {_shown(values['running'])} "
                    f"(the {_shown(values['configured'])} above applies from the next start)",
                    "yellow",
                )
            )


def _print_service(spec: ServiceSpec, project: ProjectSpec, show: bool, out: Output) -> None:
    cwd = spec.cwd.relative_to(project.root) if spec.cwd.is_relative_to(project.root) else spec.cwd
    ports = ", ".join(str(port) for port in spec.ports) or "none declared"
    rows = [
        ("command", spec.command_line + ("" if isinstance(spec.command, str) else "  (exec)")),
        ("cwd", str(cwd)),
        ("ports", f"{ports}  (PORT={spec.env['PORT']})"),
        ("ready", _describe_ready(spec)),
        ("depends on", ", ".join(spec.depends_on) or "-"),
        ("restart", str(spec.restart)),
        (
            "stop",
            f"{signal.Signals(spec.stop_signal).name}, SIGKILL after "
            f"{format_duration(spec.stop_timeout)}",
        ),
        ("watch", ", ".join(spec.watch) or "-"),
        ("autostart", "yes" if spec.autostart else "no"),
    ]
    out.line(f"{out.paint(spec.name, 'bold cyan')}  {out.paint(spec.defined_at, 'dim')}")
    for label, value in rows:
        out.line(f"  {label:<12}{value}")
    env = masked(spec.env, show)
    out.line("  env" + ("         (inherited environment only)" if not env else ""))
    for key in sorted(env):
        out.line(f"    {key}={env[key]}")


def _shown(value: object) -> str:
    if isinstance(value, float):
        return format_duration(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)


def _port_source(source: str) -> str:
    return {"default": "the default", "-p": "from -p"}.get(source, f"from {source}")


def _describe_ready(spec: ServiceSpec) -> str:
    if spec.oneshot:
        return "done when it exits 0 (oneshot)"
    if spec.ready is not None:
        return spec.ready.describe()
    if spec.ports:
        return "tcp on " + ", ".join(str(port) for port in spec.ports) + " (default)"
    return "up for a short settle time (no probe)"
