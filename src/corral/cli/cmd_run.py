"""``corral run [SERVICE] -- COMMAND...``: a one-off command with the project's environment (or a
service's, with its PORT and cwd), as ``foreman run`` does. The command replaces corral (exec),
so its exit code, signals and terminal are its own. It is not supervised and carries no markers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from corral.cli.render import Output, load_project_for
from corral.errors import UsageError, check_services


def run_run(args: argparse.Namespace, out: Output) -> int:
    project = load_project_for(args)
    service, command = _split(args.words, project.service_names)
    if not command:
        raise UsageError("no command to run", hint="corral run [SERVICE] -- COMMAND [ARGS...]")
    env = dict(os.environ)
    if service is None:
        env.update(_project_env(project))
        env["PORT"] = str(project.port_base)
        cwd = Path(args.directory).resolve()  # where it was typed: cd frontend && corral run
    else:
        spec = project.service(service)
        env.update(spec.env)
        cwd = spec.cwd
    out.stdout.flush()
    try:
        os.chdir(cwd)
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        raise UsageError(f"command not found: {command[0]!r}") from None
    except PermissionError:
        raise UsageError(f"not executable: {command[0]!r}") from None
    return 127  # not reached: exec replaced us


def _split(words: list[str], services: list[str]) -> tuple[str | None, list[str]]:
    if "--" in words:
        index = words.index("--")
        before, command = words[:index], words[index + 1 :]
        if len(before) > 1:
            raise UsageError(f"expected at most one SERVICE before --, got {before}")
        check_services(before, services)
        return (before[0] if before else None), command
    if len(words) > 1 and words[0] in services:
        return words[0], words[1:]
    return None, words


def _project_env(project) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from corral.config.envfiles import read_env_file

    env: dict[str, str] = {}
    for path in project.env_files:
        env.update(read_env_file(path, env))
    return env
