"""The supervisor as agents meet it: no TTY, pipes that must close, concurrent callers, a hung
daemon, a flood of output, a stranger's pid planted in the state file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import (
    ProjectDir,
    corral_command,
    hostile,
    pid_alive,
    read_pids,
    wait_until,
)


def two_services(project: ProjectDir) -> Path:
    pidfile = project.root / "pids"
    project.write(
        "Procfile",
        f"one: {hostile('--pidfile', str(pidfile))}\ntwo: {hostile('--pidfile', str(pidfile))}\n",
    )
    return pidfile


def supervisor_pid(project: ProjectDir) -> int:
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    return int(state["supervisor"]["pid"])


@pytest.mark.timeout(60)
def test_start_with_piped_output_reaches_eof_when_the_command_exits(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    process = subprocess.Popen(
        [*corral_command(), "start"],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # communicate() returns only at EOF on both pipes: a daemon holding them would hang here.
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert b"one" in out and b"two" in out
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_concurrent_starts_give_one_supervisor_and_one_copy_of_each_service(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    results: list[subprocess.CompletedProcess[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(project.run("start", timeout=60)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0] * 6, [r.stderr for r in results]
    wait_until(lambda: len(read_pids(pidfile)) >= 2, message="both services")
    time.sleep(0.5)  # a duplicate start, if there were one, would have recorded its pid by now
    assert sorted(read_pids(pidfile).values()) == ["main", "main"]
    status = json.loads(project.run("status", "--json").stdout)
    assert status["source"] == "supervisor"
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_status_answers_within_its_bound_when_the_supervisor_is_stopped(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    assert project.run("start").returncode == 0
    supervisor = supervisor_pid(project)
    os.kill(supervisor, signal.SIGSTOP)
    try:
        begun = time.monotonic()
        result = project.run("status", "--json", timeout=20)
        took = time.monotonic() - begun
        document = json.loads(result.stdout)
        assert result.returncode == 0
        assert document["source"] == "state file and process scan"
        assert "did not answer" in document["problem"]
        assert {s["name"]: s["state"] for s in document["services"]} == {
            "one": "ready",
            "two": "ready",
        }
        assert took < 15, "status must not wait for a hung supervisor"
    finally:
        os.kill(supervisor, signal.SIGCONT)
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(120)
def test_a_service_writing_100_mb_with_nobody_reading_is_never_blocked(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    size = 100 * 1024 * 1024
    project.write("Procfile", f"flood: {hostile('--flood', str(size))}\n")
    project.write("corral.toml", "log_max_size = '1GB'\n")
    assert project.run("start").returncode == 0
    log = project.root / ".corral" / "logs" / "flood.log"

    def tail() -> bytes:
        with open(log, "rb") as handle:
            handle.seek(max(0, log.stat().st_size - 4096))
            return handle.read()

    wait_until(lambda: b"flood: done" in tail(), timeout=90, message="the 100 MB writer to finish")
    assert log.stat().st_size >= size
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_stop_never_signals_a_foreign_pid_planted_in_the_state_file(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    unmarked = {k: v for k, v in os.environ.items() if k != "CORRAL_TEST_TOKEN"}
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], env=unmarked
    )
    try:
        assert project.run("start").returncode == 0
        project.run("stop", "one")
        state_file = project.root / ".corral" / "state.json"
        state = json.loads(state_file.read_text())
        planted = {"pid": stranger.pid, "start": 12345, "boot_id": state["boot_id"], "inode": None}
        state["services"]["one"]["run"]["members"].append(planted)
        state["services"]["one"]["run"]["leader"] = planted
        state["services"]["one"]["run"]["pgid"] = stranger.pid
        # Kill the supervisor so that stop must work from the planted state file.
        guard = state["guard"]["pid"]
        os.kill(guard, signal.SIGKILL)
        os.kill(state["supervisor"]["pid"], signal.SIGKILL)
        wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")
        state_file.write_text(json.dumps(state))
        result = project.run("stop")
        assert stranger.poll() is None, "the stranger was killed"
        assert pid_alive(stranger.pid)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.timeout(60)
def test_restart_replaces_the_run(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 2, message="both services")
    before = set(read_pids(pidfile))
    result = project.run("restart", "one")
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the new run")
    after = {pid for pid in read_pids(pidfile) if pid_alive(pid)}
    assert len(after) == 2 and len(after & before) == 1
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_logs_are_merged_with_prefixes_and_bounded_when_following(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    assert project.run("start").returncode == 0
    logs = project.run("logs")
    assert logs.returncode == 0
    assert "one | main: ready" in logs.stdout and "two | main: ready" in logs.stdout
    begun = time.monotonic()
    followed = project.run("logs", "-f", "--for", "1s", "one", timeout=20)
    assert followed.returncode == 0 and time.monotonic() - begun < 15
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_unknown_service_is_a_usage_error_that_starts_nothing(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    result = project.run("start", "three")
    assert result.returncode == 2
    assert result.stderr == "corral: error: no service named 'three' (services: one, two)\n"
    assert not (project.root / ".corral" / "supervisor.lock").exists()
