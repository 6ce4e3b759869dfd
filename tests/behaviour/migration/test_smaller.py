"""The smaller gaps: run in the caller's directory, status --check, a service ready without a
probe says so and its crash is loud, a failed start names what it left running."""

from __future__ import annotations

import json
import sys

import pytest

from harness import ProjectDir, hostile, service_toml, wait_until


def crasher(after: float) -> str:
    return f'{sys.executable} -c "import time; time.sleep({after}); raise SystemExit(1)"'


def late(after: float) -> str:
    """Prints 'listening' after a while, then sleeps: ready by a log probe, late."""
    body = f"import time; time.sleep({after}); print('listening', flush=True); time.sleep(3600)"
    return f'{sys.executable} -c "{body}"'


def status_of(project: ProjectDir) -> dict[str, dict]:
    result = project.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def test_run_without_a_service_runs_where_it_was_typed(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: true\n"})
    frontend = project.root / "frontend"
    frontend.mkdir()
    pwd = [sys.executable, "-c", "import os; print(os.getcwd())"]
    ran = project.run("run", "--", *pwd, cwd=frontend)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == str(frontend)
    ran = project.run("-C", "frontend", "run", "--", *pwd)
    assert ran.stdout.strip() == str(frontend)
    in_service = project.run("run", "web", "--", *pwd, cwd=frontend)  # a service's own cwd
    assert in_service.stdout.strip() == str(project.root)


@pytest.mark.timeout(60)
def test_a_crash_after_ready_without_probe_is_loud_and_fails_status_check(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": f"web: {hostile()}\nflaky: {crasher(2.5)}\n"})
    assert project.run("status", "--check").returncode == 0  # nothing runs: nothing is wrong
    started = project.run("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "ready (no probe)" in started.stdout
    assert project.run("status", "--check").returncode == 0
    wait_until(lambda: status_of(project)["flaky"]["state"] == "exited", message="the crash")
    note = status_of(project)["flaky"]["note"]
    assert "after it was reported ready without a probe" in note and "ready probe" in note
    checked = project.run("status", "--check")
    assert checked.returncode == 1
    assert "corral: flaky is exited (exit code 1)" in checked.stderr
    assert "web" not in checked.stderr
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_failed_start_names_the_services_it_left_running(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("api", hostile())
        + service_toml("flaky", crasher(0.8))  # ready at 0.5 s, dead at 0.8 s
        + service_toml("slow", late(2.0), ready={"log": "listening"}),
    )
    started = project.run("start")
    assert started.returncode == 1, started.stdout + started.stderr
    assert "start failed: flaky is exited (exit code 1)" in started.stdout
    assert "left running: api, slow (corral stop stops them)" in started.stdout
    assert project.run("stop").returncode == 0
    document = json.loads(project.run("start", "--json").stdout)
    assert document["failed"] == "flaky" and document["left_running"] == ["api", "slow"]
    assert project.run("stop").returncode == 0
