"""The resolved configuration as a document: ``corral config --json`` and the MCP ``services``
tool show the same fields."""

from __future__ import annotations

import signal

from corral.config.envfiles import masked
from corral.model import ProjectSpec, ServiceSpec

TYPE_CHECKING = False  # not typing's: `typing` costs ~2 ms at start-up; only annotations use it
if TYPE_CHECKING:
    from typing import Any


def config_document(project: ProjectSpec, show_secrets: bool = False) -> dict[str, Any]:
    return {
        "project": {
            "name": project.name,
            "id": project.project_id,
            "root": str(project.root),
            "config_files": [str(path) for path in project.config_files],
            "env_files": [str(path) for path in project.env_files],
            "port_base": project.port_base,
            "port_source": project.port_source,
            "port_offset": project.port_offset,
            "port_offset_source": project.port_offset_source,
        },
        "services": [_service_document(spec, show_secrets) for spec in project.services],
        "warnings": list(project.warnings),
    }


def _service_document(spec: ServiceSpec, show_secrets: bool) -> dict[str, Any]:
    probe = spec.ready
    return {
        "name": spec.name,
        "command": spec.command if isinstance(spec.command, str) else list(spec.command),
        "argv": spec.argv,
        "cwd": str(spec.cwd),
        "ports": list(spec.ports),
        "port_env": int(spec.env["PORT"]),
        "ready": None
        if probe is None
        else {
            "kind": str(probe.kind),
            "target": probe.target,
            "timeout": probe.timeout,
            "interval": probe.interval,
        },
        "depends_on": list(spec.depends_on),
        "restart": str(spec.restart),
        "stop_signal": signal.Signals(spec.stop_signal).name,
        "stop_timeout": spec.stop_timeout,
        "watch": list(spec.watch),
        "autostart": spec.autostart,
        "oneshot": spec.oneshot,
        "env": masked(spec.env, show_secrets),
        "defined_at": spec.defined_at,
    }
