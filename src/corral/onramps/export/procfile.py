"""Back to a plain ``Procfile`` and ``.env``, as foreman, honcho and Overmind read them.

What every service shares goes into ``.env``; what differs (its own variables, a declared
port, a cwd) is written on its line (``PORT=8000 cd api && ...``), since a Procfile has no other
place for it. Dependencies and probes have no Procfile form.
"""

from __future__ import annotations

import os
import shlex

from corral.model import ProjectSpec, ServiceSpec
from corral.onramps.export import Exported, Options
from corral.onramps.export.common import env_file_text, header


def render(project: ProjectSpec, options: Options) -> list[Exported]:
    shared = _shared_env(project)
    lines = [header(project, "procfile").rstrip("\n")]
    for spec in project.services:
        lines.append(f"{spec.name}: {_line(project, spec, shared)}")
    return [
        Exported("Procfile", "\n".join(lines) + "\n"),
        Exported(".env", env_file_text(shared), private=True),
    ]


def _shared_env(project: ProjectSpec) -> dict[str, str]:
    """The variables every service has with the same value (PORT aside: foreman assigns it)."""
    first, *rest = [spec.env for spec in project.services]
    return {
        key: value
        for key, value in first.items()
        if key != "PORT" and all(env.get(key) == value for env in rest)
    }


def _line(project: ProjectSpec, spec: ServiceSpec, shared: dict[str, str]) -> str:
    own = {k: v for k, v in spec.env.items() if k != "PORT" and shared.get(k) != v}
    if spec.ports:
        own["PORT"] = spec.env["PORT"]
    assignments = " ".join(f"{key}={shlex.quote(own[key])}" for key in sorted(own))
    command = spec.command if isinstance(spec.command, str) else shlex.join(spec.command)
    if spec.cwd != project.root:
        command = f"cd {shlex.quote(os.path.relpath(spec.cwd, project.root))} && {command}"
    if assignments:
        # Assignments before `cd a && b` would only reach `cd`: export them for the line.
        prefix = "export " if " && " in command or ";" in command else ""
        return f"{prefix}{assignments}; {command}" if prefix else f"{assignments} {command}"
    return command
