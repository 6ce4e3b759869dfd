"""The supervisor's state file and status facts: written when something changed, never after
the last write of a stop, and a status from cached facts that still sees what changed."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from harness import ProjectDir, free_port, hostile, pid_alive, service_toml, wait_until

# Forks a worker after a pause; the worker listens on the port: neither exists at the first status.
LATE_LISTENER = """
import os, socket, sys, time
time.sleep(3.0)
if os.fork() == 0:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
time.sleep(600)
"""


def status_of(project: ProjectDir) -> dict:
    result = project.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def supervisor_pid(project: ProjectDir) -> int:
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    return int(state["supervisor"]["pid"])


@pytest.mark.timeout(90)
def test_a_project_deleted_right_after_stop_stays_deleted(corral_project) -> None:  # type: ignore[no-untyped-def]
    for count in (1, 40):
        project = corral_project()
        project.write(
            "corral.toml", "".join(service_toml(f"web{i}", "sleep 600") for i in range(count))
        )
        assert project.run("start").returncode == 0
        pid = supervisor_pid(project)
        assert project.run("stop").returncode == 0
        shutil.rmtree(project.root)
        wait_until(lambda: not pid_alive(pid), timeout=15, message="the supervisor to exit")  # noqa: B023
        assert not project.root.exists(), f"{project.root} was re-created after the stop"


@pytest.mark.timeout(90)
def test_nothing_in_the_project_changes_after_stop_returns(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    count = 200  # the old shutdown after the reply took longer, the more services
    project.write(
        "corral.toml", "".join(service_toml(f"web{i}", "sleep 600") for i in range(count))
    )
    assert project.run("start", timeout=60).returncode == 0
    pid = supervisor_pid(project)
    assert project.run("stop", timeout=60).returncode == 0
    before = files_of(project)
    wait_until(lambda: not pid_alive(pid), timeout=15, message="the supervisor to exit")
    assert files_of(project) == before


def files_of(project: ProjectDir) -> dict[str, tuple[int, int]]:
    """Every file below .corral/ with its size and modification time, but supervisor.log: the
    daemons' stdout, opened before, whose last lines (an fd's writes, which re-create nothing
    if the project is deleted) may come later."""
    return {
        str(path.relative_to(project.root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in (project.root / ".corral").rglob("*")
        if path.is_file() and path.name != "supervisor.log"
    }


@pytest.mark.timeout(60)
def test_status_sees_a_worker_that_starts_listening_after_an_earlier_status(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port = free_port()
    project.write("late.py", LATE_LISTENER)
    project.write("corral.toml", service_toml("web", f"{sys.executable} late.py {port}"))
    assert project.run("start").returncode == 0
    first = status_of(project)["services"][0]
    assert first["listening"] == []
    wait_until(
        lambda: status_of(project)["services"][0]["listening"] == [port],
        timeout=20,
        message=f"status to show the worker's port {port}",
    )
    assert len(status_of(project)["services"][0]["members"]) == len(first["members"]) + 1
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_reply_comes_after_the_state_file_says_it(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    assert state["services"]["web"]["state"] == "ready"
    assert project.run("stop", "web").returncode == 0
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    assert state["services"]["web"]["state"] == "stopped"
    assert project.run("stop").returncode == 0
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    assert state["ended"]["reason"] == "corral stop"
