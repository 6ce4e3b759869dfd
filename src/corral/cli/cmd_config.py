"""``corral config``: the resolved configuration, as text or JSON."""

from __future__ import annotations

import argparse
import signal

from corral.cli.render import Output, load_project_for
from corral.config.document import config_document
from corral.config.envfiles import masked
from corral.errors import display_path
from corral.model import ProjectSpec, ServiceSpec, format_duration


def run_config(args: argparse.Namespace, out: Output) -> int:
    project = load_project_for(args)
    if args.quiet:
        return 0
    if args.names:
        for name in project.service_names:
            out.line(name)
        return 0
    if out.json:
        out.document(config_document(project, args.show_secrets))
    else:
        _print_project(project, args.show_secrets, out)
    return 0


def run_check(args: argparse.Namespace, out: Output) -> int:
    """Validation only: the loader raises the one-line error (exit 2) on any mistake."""
    project = load_project_for(args)
    if out.json:
        out.document({"project": project.name, "services": project.service_names})
    else:
        files = ", ".join(display_path(path) for path in project.config_files)
        out.line(f"{files}: valid ({', '.join(project.service_names)})")
    return 0


def _print_project(project: ProjectSpec, show_secrets: bool, out: Output) -> None:
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
