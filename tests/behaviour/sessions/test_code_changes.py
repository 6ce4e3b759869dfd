"""Stale code and watch mode: the services run what is on disk, or say that they do not."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from harness import ProjectDir, hostile, read_pids, service_toml, wait_until


def git(project: ProjectDir, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=project.root,
        check=True,
        capture_output=True,
        timeout=30,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
            "HOME": str(project.root),
            "PATH": "/usr/bin:/bin",
        },
    )


def services(project: ProjectDir) -> dict[str, dict]:
    document = json.loads(project.run("status", "--json").stdout)
    return {item["name"]: item for item in document["services"]}


@pytest.mark.timeout(90)
def test_a_touched_file_makes_only_its_service_stale_and_restart_stale_restarts_only_it(
    corral_project,
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write("api/app.py", "print('api')\n")
    project.write("web/app.py", "print('web')\n")
    project.write(
        "corral.toml",
        service_toml("api", hostile("--pidfile", str(pidfile)), cwd="api")
        + service_toml("web", hostile("--pidfile", str(pidfile)), cwd="web"),
    )
    project.write(".gitignore", ".corral/\npids\n")
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "start")
    assert project.run("start").returncode == 0
    before = services(project)
    time.sleep(0.05)  # a modification time strictly after the start
    project.write("api/app.py", "print('api v2')\n")
    wait_until(
        lambda: services(project)["api"]["stale"] is not None,
        timeout=15,
        message="api to be marked stale",
    )
    status = services(project)
    assert status["api"]["stale"]["first"] == ["api/app.py"] and status["web"]["stale"] is None
    assert "api/app.py" in project.run("status").stdout
    result = project.run("restart", "--stale", "--json")
    assert result.returncode == 0, result.stdout
    after = services(project)
    assert after["api"]["pid"] != before["api"]["pid"]
    assert after["web"]["pid"] == before["web"]["pid"]
    assert after["api"]["stale"] is None
    assert project.run("restart", "--stale").stdout == "nothing is stale\n"
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_watch_restarts_once_per_burst_of_edits(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write("src/a.py", "")
    project.write(
        "corral.toml",
        service_toml("app", hostile("--pidfile", str(pidfile)), watch=["src/**/*.py"]),
    )
    assert project.run("start").returncode == 0
    first = services(project)["app"]["pid"]
    time.sleep(0.5)  # the watcher is up once the start returned; give it its first scan
    for n in range(5):
        project.write(f"src/burst{n}.py", f"# {n}\n")
    log = project.root / ".corral" / "supervisor.log"
    wait_until(lambda: "app: restarting" in log.read_text(), timeout=20, message="a restart")
    wait_until(lambda: services(project)["app"]["state"] == "ready", message="the new run")
    time.sleep(1.5)  # longer than the debounce: a second restart for the same burst would show
    assert log.read_text().count("app: restarting") == 1
    assert services(project)["app"]["pid"] != first
    project.write("src/notes.txt", "not python\n")
    time.sleep(1.5)
    assert log.read_text().count("app: restarting") == 1, "a file outside the globs restarted it"
    assert project.run("stop").returncode == 0
    assert len(read_pids(pidfile)) == 2
