"""systemd user units: one ``.service`` per service and a ``.target`` that wants them all.

``KillMode=control-group`` gives systemd what corral's containment does by hand: every process
of the service is stopped, however it detached. Dependencies become ``Requires=`` + ``After=``
(systemd orders starts; it has no readiness probes, so a probe is left as a comment).
"""

from __future__ import annotations

from corral.model import ProjectSpec, RestartPolicy, ServiceSpec
from corral.onramps.export import Exported, Options
from corral.onramps.export.common import (
    env_file_name,
    env_file_text,
    header,
    is_oneshot,
    signal_name,
    slug,
)
from corral.timefmt import format_duration

_RESTART = {
    RestartPolicy.NO: "no",
    RestartPolicy.ON_FAILURE: "on-failure",
    RestartPolicy.ALWAYS: "always",
}


def unit_name(project: ProjectSpec, service: str) -> str:
    return f"{slug(project.name)}-{slug(service)}.service"


def render(project: ProjectSpec, options: Options) -> list[Exported]:
    files: list[Exported] = []
    for spec in project.services:
        env_name = env_file_name(project, spec)
        files.append(
            Exported(unit_name(project, spec.name), _unit(project, spec, options, env_name))
        )
        files.append(Exported(env_name, env_file_text(spec.env), private=True))
    files.append(Exported(f"{slug(project.name)}.target", _target(project)))
    return files


def _unit(project: ProjectSpec, spec: ServiceSpec, options: Options, env_name: str) -> str:
    target = f"{slug(project.name)}.target"
    needs = " ".join(unit_name(project, name) for name in spec.depends_on)
    lines = [
        header(project, "systemd").rstrip("\n"),
        "[Unit]",
        f"Description={project.name}: {spec.name}",
        f"PartOf={target}",
    ]
    if needs:
        lines += [f"Requires={needs}", f"After={needs}"]
    lines += [
        f"StartLimitIntervalSec={_seconds(spec.restart_window)}",
        f"StartLimitBurst={spec.restart_limit}",
        "",
        "[Service]",
        # A oneshot is done when it exits 0, and stays "active" so that Requires= holds.
        *(["Type=oneshot", "RemainAfterExit=yes"] if is_oneshot(spec) else ["Type=simple"]),
        f"WorkingDirectory={spec.cwd}",
        f"EnvironmentFile={options.directory / env_name}",
        f"ExecStart={_exec_line(spec.argv)}",
        "KillMode=control-group",
        f"KillSignal={signal_name(spec.stop_signal)}",
        f"TimeoutStopSec={_seconds(spec.stop_timeout)}",
        f"Restart={_RESTART[spec.restart]}",
    ]
    if spec.restart is not RestartPolicy.NO:
        lines.append("RestartSec=1")
    if spec.ready is not None:
        lines.append(f"# corral's readiness probe ({spec.ready.describe()}) has no systemd form")
    if spec.autostart:
        lines += ["", "[Install]", f"WantedBy={target}"]
    return "\n".join(lines) + "\n"


def _target(project: ProjectSpec) -> str:
    wanted = " ".join(unit_name(project, s.name) for s in project.services if s.autostart)
    lines = [
        header(project, "systemd").rstrip("\n"),
        "# Install: copy these files to ~/.config/systemd/user/, then",
        "#   systemctl --user daemon-reload && "
        f"systemctl --user enable --now {slug(project.name)}.target",
        "[Unit]",
        f"Description={project.name}: every service",
        f"Wants={wanted}",
        "",
        "[Install]",
        "WantedBy=default.target",
    ]
    return "\n".join(lines) + "\n"


def _exec_line(words: list[str]) -> str:
    """Words quoted as systemd reads ExecStart=: double quotes with C escapes; ``$`` and ``%``
    doubled so that systemd passes them through (the shell then expands ``$PORT``)."""
    return " ".join(_quote(word) for word in words)


def _quote(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    plain = escaped and all(c.isalnum() or c in "/._-+=:," for c in escaped)
    return escaped if plain else f'"{escaped}"'


def _seconds(value: float) -> str:
    text = format_duration(value)
    return text  # systemd reads the same suffixes: ms, s, m (minutes), h
