"""What every format needs from a service: names, its shell command, its dependency order."""

from __future__ import annotations

import re
import signal

from corral.model import ProjectSpec, ServiceSpec


def slug(text: str) -> str:
    """A name safe in unit names, labels and section names."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "project"


def argv(spec: ServiceSpec) -> list[str]:
    """The program and its arguments, as corral runs them (a string under /bin/sh -c)."""
    return spec.argv


def signal_name(number: int) -> str:
    return signal.Signals(number).name


def header(project: ProjectSpec, format_name: str, comment: str = "#") -> str:
    files = ", ".join(path.name for path in project.config_files)
    return (
        f"{comment} Written by `corral export {format_name}` from {project.name} ({files}).\n"
        f"{comment} Regenerate it after changing the configuration, or edit it freely.\n"
    )


def env_file_text(env: dict[str, str]) -> str:
    """KEY='value' lines that systemd's EnvironmentFile, docker compose and dotenv all read the
    same way: single quotes keep a value literal (no ``$`` expansion) in all three."""
    lines = []
    for key in sorted(env):
        value = env[key]
        if "'" in value or "\n" in value:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'{key}="{escaped}"')
        else:
            lines.append(f"{key}='{value}'")
    return "\n".join(lines) + ("\n" if lines else "")


def env_file_name(project: ProjectSpec, spec: ServiceSpec) -> str:
    return f"{slug(project.name)}-{slug(spec.name)}.env"


def is_oneshot(spec: ServiceSpec) -> bool:
    """A service that runs to completion (a release or migrate step), where the model has them."""
    return bool(getattr(spec, "oneshot", False))
