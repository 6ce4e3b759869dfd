"""One supervisord configuration: a ``[program:x]`` per service, in a ``[group:project]``.

``stopasgroup`` and ``killasgroup`` make supervisord signal the whole process group, as corral
does first. supervisord has no dependencies: ``priority`` starts services in corral's start
order instead (lower first), without waiting for readiness.
"""

from __future__ import annotations

import shlex

from corral.errors import UsageError
from corral.model import ProjectSpec, RestartPolicy, ServiceSpec
from corral.onramps.export import Exported, Options
from corral.onramps.export.common import header, is_oneshot, signal_name, slug

_AUTORESTART = {
    RestartPolicy.NO: "false",
    RestartPolicy.ON_FAILURE: "unexpected",
    RestartPolicy.ALWAYS: "true",
}
FILE = "supervisord.conf"


def render(project: ProjectSpec, options: Options) -> list[Exported]:
    base = options.directory
    name = slug(project.name)
    sections = [
        header(project, "supervisord", ";")
        + f"; Run: supervisord -c {base / FILE}; then supervisorctl -c {base / FILE} status",
        f"[unix_http_server]\nfile={base / 'supervisor.sock'}\nchmod=0700",
        f"[supervisord]\nlogfile={base / 'supervisord.log'}\npidfile={base / 'supervisord.pid'}\n"
        f"childlogdir={base}",
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        f"[supervisorctl]\nserverurl=unix://{base / 'supervisor.sock'}",
    ]
    for priority, spec in enumerate(project.services, start=1):
        sections.append(_program(spec, priority * 10, base))
    programs = ",".join(slug(spec.name) for spec in project.services)
    sections.append(f"[group:{name}]\nprograms={programs}")
    return [Exported(FILE, "\n\n".join(sections) + "\n", private=True)]


def _program(spec: ServiceSpec, priority: int, base) -> str:  # type: ignore[no-untyped-def]
    lines = [
        f"[program:{slug(spec.name)}]",
        f"command={_percent(shlex.join(spec.argv))}",
        f"directory={_percent(str(spec.cwd))}",
        f"environment={_environment(spec)}" if spec.env else "",
        f"priority={priority}",
        f"autostart={'true' if spec.autostart else 'false'}",
        f"autorestart={_AUTORESTART[spec.restart]}",
        f"startretries={spec.restart_limit}",
        f"stopsignal={signal_name(spec.stop_signal).removeprefix('SIG')}",
        f"stopwaitsecs={max(1, round(spec.stop_timeout))}",
        *(["startsecs=0", "exitcodes=0"] if is_oneshot(spec) else []),  # done at exit 0
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={_percent(str(base / (slug(spec.name) + '.log')))}",
    ]
    if spec.depends_on:
        lines.append(
            f"; after {', '.join(spec.depends_on)} (by priority: not waiting for readiness)"
        )
    return "\n".join(line for line in lines if line)


def _environment(spec: ServiceSpec) -> str:
    """KEY="value",... as supervisord parses it: shlex without escapes, so a value is quoted
    with the quote character it does not contain, and % is doubled."""
    parts = []
    for key in sorted(spec.env):
        value = spec.env[key]
        quote = '"' if '"' not in value else "'"
        if quote in value or (value[:1] in "'\"" and value) or (value[-1:] in "'\"" and value):
            raise UsageError(
                f"service {spec.name!r}: supervisord's environment= cannot hold {key}'s value "
                "(it has both kinds of quote, or starts or ends with one)",
                hint="change the value, or export to another format",
            )
        parts.append(f"{key}={quote}{_percent(value)}{quote}")
    return ",".join(parts)


def _percent(text: str) -> str:
    return text.replace("%", "%%")  # supervisord expands %(name)s in every value
