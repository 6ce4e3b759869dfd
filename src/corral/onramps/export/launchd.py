"""launchd agents (macOS): one property list per service, for ~/Library/LaunchAgents.

launchd has no dependencies between jobs and no readiness probes: both are left to the
services, and launchd always stops a job with SIGTERM. ``KeepAlive`` follows the restart
policy; output goes to /tmp/LABEL.log.
"""

from __future__ import annotations

import plistlib

from corral.model import ProjectSpec, RestartPolicy, ServiceSpec
from corral.onramps.export import Exported, Options
from corral.onramps.export.common import slug


def label(project: ProjectSpec, spec: ServiceSpec) -> str:
    return f"dev.corral.{slug(project.name)}.{slug(spec.name)}"


def render(project: ProjectSpec, options: Options) -> list[Exported]:
    return [
        Exported(f"{label(project, spec)}.plist", _plist(project, spec), private=True)
        for spec in project.services
    ]


def _plist(project: ProjectSpec, spec: ServiceSpec) -> str:
    job: dict[str, object] = {
        "Label": label(project, spec),
        "ProgramArguments": spec.argv,
        "WorkingDirectory": str(spec.cwd),
        "EnvironmentVariables": dict(sorted(spec.env.items())),
        "RunAtLoad": spec.autostart,
        "KeepAlive": _keep_alive(spec.restart),
        "ExitTimeOut": max(1, round(spec.stop_timeout)),
        "ProcessType": "Interactive",
        "StandardOutPath": f"/tmp/{label(project, spec)}.log",
        "StandardErrorPath": f"/tmp/{label(project, spec)}.log",
    }
    return plistlib.dumps(job, sort_keys=False).decode("utf-8")


def _keep_alive(policy: RestartPolicy) -> object:
    if policy is RestartPolicy.ALWAYS:
        return True
    if policy is RestartPolicy.ON_FAILURE:
        return {"SuccessfulExit": False}  # relaunch only after a non-zero exit
    return False
