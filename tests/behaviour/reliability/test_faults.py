"""Faults: damaged state, stale and deleted sockets, a full disk, supervisors killed at random."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import ProjectDir, hostile, pid_alive, read_pids, service_toml, wait_until


def two_services(project: ProjectDir):  # type: ignore[no-untyped-def]
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("a", hostile("--pidfile", str(pidfile)))
        + service_toml("b", hostile("--double-fork", "--pidfile", str(pidfile))),
    )
    return pidfile


def all_gone(pidfile) -> bool:  # type: ignore[no-untyped-def]
    return not any(pid_alive(pid) for pid in read_pids(pidfile))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_state_file_is_survived(corral_project, damage: str) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
    state = project.root / ".corral" / "state.json"
    text = state.read_text()
    state.write_text(
        {"garbage": "{not json at all", "truncated": text[: len(text) // 2], "empty": ""}[damage]
    )
    status = project.run("status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["ok"]
    assert project.run("stop").returncode == 0  # the supervisor still knows everything
    assert all_gone(pidfile)


@pytest.mark.timeout(60)
def test_a_damaged_state_file_with_a_dead_supervisor_still_stops_by_markers(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["guard"]["pid"], signal.SIGKILL)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")
    (project.root / ".corral" / "state.json").write_text("{")
    assert project.run("stop").returncode == 0
    wait_until(lambda: all_gone(pidfile), message="markers to find every process")


@pytest.mark.timeout(60)
def test_a_stale_socket_file_does_not_stop_a_start(corral_project, runtime_dir) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    import socket

    stale = runtime_dir / f"{project.id}.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(stale))  # bound, never listening, then closed: a stale socket file
    assert stale.exists()
    assert project.run("start").returncode == 0
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_the_socket_directory_deleted_under_a_running_supervisor(
    corral_project, runtime_dir
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    shutil.rmtree(runtime_dir)
    status = json.loads(project.run("status", "--json").stdout)
    assert status["source"] == "state file and process scan"  # answered, and says how
    assert {s["state"] for s in status["services"]} == {"ready"}
    assert status["supervisor"]["alive"] and "could not be asked" in status["problem"], status
    # the supervisor listens again where clients look (within its housekeeping period)
    wait_until(
        lambda: json.loads(project.run("status", "--json").stdout)["source"] == "supervisor",
        timeout=20,
        message="the supervisor to re-create its socket",
    )
    shutil.rmtree(runtime_dir)  # again, and now stop at once: the offline stop ends it all
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    result = project.run("stop")
    assert result.returncode == 0, result.stdout
    # the stop returns once the guard has exited, the supervisor before it: no waiting here
    assert not pid_alive(state["guard"]["pid"]) and not pid_alive(state["supervisor"]["pid"])
    wait_until(lambda: all_gone(pidfile), message="everything stopped")
    assert project.run("doctor").returncode == 0


@pytest.mark.timeout(60)
def test_a_supervisor_that_cannot_be_reached_is_never_called_not_running(
    corral_project, runtime_dir
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    supervisor = json.loads((project.root / ".corral" / "state.json").read_text())["supervisor"]
    os.kill(supervisor["pid"], signal.SIGSTOP)  # so that it cannot re-create its socket
    try:
        shutil.rmtree(runtime_dir)
        shown = project.run("status").stdout
        assert "no supervisor running" not in shown, shown
        assert f"the supervisor (pid {supervisor['pid']}) runs but could not be asked" in shown
        doctor = project.run("doctor").stdout
        assert "supervisor  alive" in doctor, doctor
        assert "not answering (no supervisor is listening on" in doctor, doctor
    finally:
        os.kill(supervisor["pid"], signal.SIGCONT)
    assert project.run("stop").returncode == 0
    wait_until(lambda: all_gone(pidfile), message="everything stopped")


CHATTY = """
import os, time
while True:  # writes forever, shrugging off ENOSPC as many servers do
    try:
        os.write(1, b"x" * 65535 + b"\\n")
    except OSError:
        pass
    time.sleep(0.01)
"""


@pytest.mark.timeout(90)
def test_a_full_disk_for_logs_keeps_services_running_and_is_reported(corral_project) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    project = corral_project()
    logs = project.root / ".corral" / "logs"
    logs.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(logs)],
        capture_output=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        project.write("chatty.py", CHATTY)
        project.write("corral.toml", service_toml("chatty", f"{sys.executable} chatty.py"))
        started = project.run("start")
        assert started.returncode == 0, started.stdout
        wait_until(lambda: shutil.disk_usage(logs).free < 8192, message="the tmpfs to fill up")
        status = json.loads(project.run("status", "--json").stdout)
        service = status["services"][0]
        assert service["state"] == "ready" and pid_alive(service["pid"]), status
        assert "output is being lost" in status["warnings"][0]
        assert "output is being lost" in project.run("doctor").stdout
        assert project.run("stop").returncode == 0
    finally:
        subprocess.run(["umount", "-l", str(logs)], capture_output=True, timeout=30)


@pytest.mark.timeout(240)
def test_sigkill_of_the_supervisor_at_random_points_leaves_nothing(corral_project) -> None:  # type: ignore[no-untyped-def]
    seed = int(os.environ.get("CORRAL_FAULT_SEED", random.randrange(2**32)))
    print(f"fault seed {seed} (rerun with CORRAL_FAULT_SEED={seed})")
    chance = random.Random(seed)
    project = corral_project()
    pidfile = two_services(project)
    for _round in range(24):
        operation = chance.choice(["start", "stop"])
        process = subprocess.Popen(
            [*__import__("harness").corral_command(), operation],
            cwd=project.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(chance.uniform(0, 0.4))
        state_file = project.root / ".corral" / "state.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
        supervisor = (state.get("supervisor") or {}).get("pid")
        if supervisor and pid_alive(supervisor):
            os.kill(supervisor, signal.SIGKILL)
        process.wait(timeout=60)
    result = project.run("stop", timeout=60)
    assert result.returncode == 0, f"seed {seed}: {result.stdout}"
    wait_until(lambda: all_gone(pidfile), timeout=20, message=f"nothing left (seed {seed})")


def test_doctor_finds_the_last_failure_a_supervisor_logged(tmp_path: Path) -> None:
    from corral.control.doctor import last_failure
    from corral.paths import supervisor_log_path

    log = supervisor_log_path(tmp_path)
    log.parent.mkdir(parents=True)
    log.write_text(
        "2026-12-03T10:00:00.000 supervisor[41] request failed: KeyError('old')\n"
        "2026-12-03T10:00:01.000 supervisor[42] listening on /run/x.sock\n"
        "2026-12-03T10:00:02.000 supervisor[42] connection failed: AttributeError('SO_PEERCRED')\n"
        "2026-12-03T10:00:03.000 supervisor[42] started web\n"
    )
    assert last_failure(tmp_path, 42) == "connection failed: AttributeError('SO_PEERCRED')"
    assert last_failure(tmp_path, 41) == "request failed: KeyError('old')"
    assert last_failure(tmp_path, 43) is None and last_failure(tmp_path / "none", 42) is None
