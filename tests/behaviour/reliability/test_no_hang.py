"""No command hangs: stdin closed, stdout and stderr pipes, a timeout; with the supervisor
stopped (SIGSTOP) too. Every command exits and closes its pipes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from harness import corral_command, hostile, pid_alive, service_toml

COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["ps"],
    ["config"],
    ["logs"],
    ["logs", "-f"],
    ["events"],
    ["events", "--follow", "--for", "1s"],
    ["port"],
    ["doctor"],
    ["ls"],
    ["wait", "--timeout", "2s"],
    ["nuke"],
    ["free", "1"],
    ["--help"],
    ["--version"],
    ["run", "--", "true"],
    ["completion", "bash"],
]


def run_bounded(project, args: list[str], bound: float) -> float:  # type: ignore[no-untyped-def]
    begun = time.monotonic()
    process = subprocess.Popen(
        [*corral_command(), *args],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.communicate(timeout=bound)  # returns only at EOF on both pipes
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"corral {' '.join(args)} did not finish within {bound:g}s")
    return time.monotonic() - begun


@pytest.mark.timeout(300)
def test_every_command_exits_and_closes_its_pipes(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    for args in COMMANDS:
        run_bounded(project, args, 45)
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(300)
def test_read_commands_stay_bounded_with_the_supervisor_stopped(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    supervisor = json.loads((project.root / ".corral" / "state.json").read_text())["supervisor"][
        "pid"
    ]
    os.kill(supervisor, signal.SIGSTOP)
    try:
        for args in (
            ["status"],
            ["ps", "--json"],
            ["doctor"],
            ["logs"],
            ["events"],
            ["port"],
            ["ls"],
            ["wait", "--timeout", "1s"],
            ["start", "--timeout", "2s"],
            ["stop", "web"],
        ):
            run_bounded(project, args, 60)
        # regression: an offline stop once killed the hung supervisor, which holds the read
        # end of each lifeline pipe (same inode as the services' write end)
        assert pid_alive(supervisor), "a stop killed the supervisor it could not reach"
    finally:
        os.kill(supervisor, signal.SIGCONT)
    assert project.run("stop").returncode in (0, 1)
