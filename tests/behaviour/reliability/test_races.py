"""Stops and starts that overlap (issue: trust nothing on disk, items 12 and 13). A supervisor
shutting itself down (tether, lease, a stop of everything) keeps answering until its one final
stop is over, so two stops never signal one process twice; a start that meets it waits for it
and then starts; a stop is idempotent."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from harness import ProjectDir, corral_command, hostile, service_toml, wait_until


def slow_project(project: ProjectDir, slow_stop: float) -> Path:
    project.write("corral.toml", service_toml("web", hostile("--slow-stop", str(slow_stop))))
    return project.root / ".corral" / "logs" / "web.log"


def state_of(project: ProjectDir, name: str = "web") -> str:
    document = json.loads(project.run("status", "--json").stdout)
    return next(s["state"] for s in document["services"] if s["name"] == name)


def corral(project: ProjectDir, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*corral_command(), *args],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


@pytest.mark.timeout(90)
def test_stops_during_a_tethered_shutdown_share_its_one_stop(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    log = slow_project(project, 2.0)
    tether = subprocess.Popen(["sleep", "300"])
    try:
        assert project.run("start", "--tether", str(tether.pid)).returncode == 0
    finally:
        tether.kill()
        tether.wait()
    wait_until(lambda: state_of(project) == "stopping", message="the tether's stop began")
    stops = [corral(project, "stop", "--json") for _ in range(3)]
    results = [finish(stop) for stop in stops]
    assert all(code == 0 for code, _ in results), results
    assert log.read_text().count("stopping slowly") == 1, "web was sent SIGTERM twice"
    status = json.loads(project.run("status", "--json").stdout)
    assert status["services"][0]["state"] == "stopped"
    assert "tether" in status["ended"]["reason"] and not status["ended"]["incomplete"], status


@pytest.mark.timeout(90)
def test_a_start_during_a_stop_waits_for_it_then_starts(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    slow_project(project, 1.5)
    assert project.run("start").returncode == 0
    first = json.loads(project.run("status", "--json").stdout)["services"][0]["pid"]
    stop = corral(project, "stop")
    wait_until(lambda: state_of(project) == "stopping", message="the stop began")
    started = project.run("start", "--json", timeout=60)
    assert started.returncode == 0, started.stdout + started.stderr
    assert finish(stop)[0] == 0
    document = json.loads(project.run("status", "--json").stdout)
    web = document["services"][0]
    assert web["state"] == "ready" and web["pid"] != first, document
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(150)
def test_concurrent_starts_and_stops_all_succeed(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    slow_project(project, 0.3)
    assert project.run("start").returncode == 0
    processes = []
    for _ in range(5):
        processes.append(("start", corral(project, "start")))
        processes.append(("stop", corral(project, "stop")))
        time.sleep(0.02)
    results = [(what, *finish(process, timeout=120)) for what, process in processes]
    failed = [(what, code, out) for what, code, out in results if code != 0]
    assert not failed, failed
    assert project.run("start").returncode == 0
    assert state_of(project) == "ready"
    assert project.run("stop").returncode == 0
    assert project.run("stop").returncode == 0, "a second stop must be a no-op"
    assert state_of(project) == "stopped"
