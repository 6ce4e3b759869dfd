"""A compose file that runs each service's command inside one image (``--image``).

The project root is bind-mounted at ``/app`` and each service works in its cwd below it; its
environment comes from an env file beside the compose file; declared ports are published on
loopback. Dependencies wait for the container to start (compose's ``service_started``): corral's
probes have no portable compose form without knowing what the image contains.

Written as YAML by hand, every scalar JSON-quoted (JSON strings are YAML), so that exporting
needs no YAML library.
"""

from __future__ import annotations

import json
import os

from corral.errors import UsageError
from corral.model import ProjectSpec, RestartPolicy, ServiceSpec
from corral.onramps.export import Exported, Options
from corral.onramps.export.common import (
    env_file_name,
    env_file_text,
    header,
    is_oneshot,
    signal_name,
)
from corral.timefmt import format_duration

MOUNT = "/app"
_RESTART = {
    RestartPolicy.NO: "no",
    RestartPolicy.ON_FAILURE: "on-failure",
    RestartPolicy.ALWAYS: "always",
}


def render(project: ProjectSpec, options: Options) -> list[Exported]:
    if not options.image:
        raise UsageError(
            "export compose needs the image the services run in",
            hint="pass --image, e.g. --image python:3.12-slim",
        )
    lines = [
        header(project, "compose").rstrip("\n"),
        f"name: {_q(project.name.lower())}",
        "services:",
    ]
    files: list[Exported] = []
    for spec in project.services:
        env_name = env_file_name(project, spec)
        lines += _service(project, spec, options.image, env_name)
        files.append(Exported(env_name, env_file_text(spec.env), private=True))
    return [Exported("compose.yaml", "\n".join(lines) + "\n"), *files]


def _service(project: ProjectSpec, spec: ServiceSpec, image: str, env_name: str) -> list[str]:
    relative = os.path.relpath(spec.cwd, project.root)
    workdir = MOUNT if relative == "." else f"{MOUNT}/{relative}"
    lines = [
        f"  {_q(spec.name)}:",
        f"    image: {_q(image)}",
        f"    command: {_q(spec.argv)}",
        f"    working_dir: {_q(workdir)}",
        f"    volumes: [{_q(f'{project.root}:{MOUNT}')}]",
        f"    env_file: [{_q(env_name)}]",
        f"    restart: {_q(_RESTART[spec.restart])}",
        f"    stop_signal: {_q(signal_name(spec.stop_signal))}",
        f"    stop_grace_period: {_q(format_duration(spec.stop_timeout))}",
    ]
    if spec.ports:
        published = [f"127.0.0.1:{port}:{port}" for port in spec.ports]
        lines.append(f"    ports: {_q(published)}")
    if spec.depends_on:
        lines.append("    depends_on:")
        for name in spec.depends_on:
            done = is_oneshot(project.service(name))
            condition = "service_completed_successfully" if done else "service_started"
            lines += [f"      {_q(name)}:", f"        condition: {_q(condition)}"]
    if not spec.autostart:
        lines.append('    profiles: ["manual"]  # not started by a plain `docker compose up`')
    return lines


def _q(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
