"""A tether ties what its start started, nothing else; ``up`` notices when its services are
stopped from elsewhere, says so and exits."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from harness import ProjectDir, corral_command, hostile, pid_alive, service_toml, wait_until


def status_of(project: ProjectDir) -> dict:
    result = project.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def states(project: ProjectDir) -> dict[str, str]:
    return {s["name"]: s["state"] for s in status_of(project)["services"]}


def holder() -> subprocess.Popen[bytes]:
    """A process to tether to, which the test ends by closing its stdin."""
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )


def end(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


@pytest.mark.timeout(60)
def test_a_tether_applies_only_to_what_its_start_started(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("api", hostile()) + service_toml("extra", hostile(), autostart=False),
    )
    assert project.run("start").returncode == 0  # by hand, untethered
    api_pid = next(s["pid"] for s in status_of(project)["services"] if s["name"] == "api")
    first = holder()
    try:
        nothing = project.run("start", "--tether", str(first.pid))  # starts nothing: ties nothing
        assert nothing.returncode == 0, nothing.stdout + nothing.stderr
        assert status_of(project)["tether"] is None
    finally:
        end(first)
    second = holder()
    try:
        tied = project.run("start", "extra", "--tether", str(second.pid))
        assert tied.returncode == 0, tied.stdout + tied.stderr
        entry = next(s for s in status_of(project)["services"] if s["name"] == "extra")
        assert entry["started_by"]["tethered"] is True
        assert entry["started_by"]["tether_pid"] == second.pid
    finally:
        end(second)
    wait_until(lambda: states(project)["extra"] == "stopped", message="extra to stop")
    time.sleep(0.5)  # the supervisor would have exited by now if it were going to
    assert states(project)["api"] == "ready"
    assert pid_alive(api_pid)
    assert status_of(project)["source"] == "supervisor"
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_up_says_so_and_exits_when_its_services_are_stopped_from_elsewhere(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": f"web: {hostile()}\n"})
    up = subprocess.Popen(
        [*corral_command(), "up"],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if "corral up: web ready" in line:  # its start is done
                break
        assert project.run("stop").returncode == 0  # from another shell
        rest, _ = up.communicate(timeout=20)
        assert up.returncode == 1, rest
        assert "web stopped from elsewhere" in rest and "exiting" in rest
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
