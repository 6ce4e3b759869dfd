"""Across sessions: tethers, leases, orphans after both daemons died."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness import (
    ProjectDir,
    corral_command,
    hostile,
    pid_alive,
    read_pids,
    service_toml,
    wait_until,
)

AGENT = """
import subprocess, sys, time
# like a coding agent: each command runs in a fresh, short-lived shell
subprocess.run(["sh", "-c", sys.argv[1] + " start --tether auto >start.out 2>&1"], check=True)
print("started", flush=True)
time.sleep(120)
"""


def two_services(project: ProjectDir) -> tuple:  # type: ignore[type-arg]
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("a", hostile("--pidfile", str(pidfile)))
        + service_toml("b", hostile("--double-fork", "--pidfile", str(pidfile))),
    )
    return pidfile, project


def all_dead(pidfile) -> bool:  # type: ignore[no-untyped-def]
    pids = read_pids(pidfile)
    return bool(pids) and not any(pid_alive(pid) for pid in pids)


@pytest.mark.timeout(60)
def test_killing_the_agent_session_stops_everything_tethered_to_it(corral_project) -> None:  # type: ignore[no-untyped-def]
    pidfile, project = two_services(corral_project())
    project.write("agent.py", AGENT)
    agent = subprocess.Popen(
        [sys.executable, "agent.py", " ".join(corral_command())],
        cwd=project.root,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert agent.stdout is not None and agent.stdout.readline() == b"started\n"
        wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
        status = json.loads(project.run("status", "--json").stdout)
        assert status["tether"]["pid"] == agent.pid, (project.root / "start.out").read_text()
        os.killpg(agent.pid, signal.SIGKILL)  # the agent's whole session dies at once
        agent.wait()
        wait_until(lambda: all_dead(pidfile), timeout=15, message="tethered services to stop")
        log = (project.root / ".corral" / "supervisor.log").read_text()
        assert f"tether pid {agent.pid}" in log and "exited" in log
    finally:
        agent.stdout.close()  # type: ignore[union-attr]
        if agent.poll() is None:
            os.killpg(agent.pid, signal.SIGKILL)
            agent.wait()


@pytest.mark.timeout(60)
def test_untethered_services_outlive_their_shell_and_say_so(corral_project) -> None:  # type: ignore[no-untyped-def]
    _, project = two_services(corral_project())
    result = project.run("start", env={"CLAUDECODE": "1"})
    assert result.returncode == 0
    assert "not tethered: they will outlive this session" in result.stderr
    human = project.run("status").stdout
    assert "untethered: services run until 'corral stop'" in human
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_lease_expires_when_no_command_touches_the_project(corral_project) -> None:  # type: ignore[no-untyped-def]
    pidfile, project = two_services(corral_project())
    assert project.run("start", "--ttl", "1500ms").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
    wait_until(lambda: all_dead(pidfile), timeout=20, message="the lease to expire")
    log = (project.root / ".corral" / "supervisor.log").read_text()
    assert "lease expired: no corral command for 1.5s" in log


@pytest.mark.timeout(60)
def test_orphans_after_both_daemons_die_are_shown_stopped_and_cleaned(corral_project) -> None:  # type: ignore[no-untyped-def]
    pidfile, project = two_services(corral_project())
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["guard"]["pid"], signal.SIGKILL)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")
    # pdeathsig takes the direct children; the double-forked daemon is orphaned
    daemon = next(pid for pid, role in read_pids(pidfile).items() if role == "daemon")
    assert pid_alive(daemon)
    begun = time.monotonic()
    status = json.loads(project.run("status", "--json").stdout)
    assert time.monotonic() - begun < 10
    states = {s["name"]: s["state"] for s in status["services"]}
    assert (
        states["b"] == "orphaned"
        and daemon in next(s for s in status["services"] if s["name"] == "b")["members"]
    )
    again = project.run("start")
    assert again.returncode == 0
    cleaned = next(line for line in again.stdout.splitlines() if line.startswith("cleaned up: b:"))
    assert (
        "orphaned process(es) left by an earlier supervisor" in cleaned and str(daemon) in cleaned
    )
    assert not pid_alive(daemon)
    assert project.run("stop").returncode == 0
    assert all_dead(pidfile)


@pytest.mark.timeout(60)
def test_stop_without_a_supervisor_stops_orphans_with_a_report(corral_project) -> None:  # type: ignore[no-untyped-def]
    pidfile, project = two_services(corral_project())
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["guard"]["pid"], signal.SIGKILL)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    result = project.run("stop", "--json")
    document = json.loads(result.stdout)
    assert result.returncode == 0 and document["source"] == "state file"
    swept = [item["pid"] for report in document["reports"] for item in report["swept"]]
    daemon = next(pid for pid, role in read_pids(pidfile).items() if role == "daemon")
    assert daemon in swept
    wait_until(lambda: all_dead(pidfile), message="everything to be gone")


def foreign_sleeper() -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=env)


@pytest.mark.timeout(60)
def test_nuke_without_a_tty_and_without_yes_exits_2_and_stops_nothing(corral_project) -> None:  # type: ignore[no-untyped-def]
    pidfile, project = two_services(corral_project())
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
    begun = time.monotonic()
    result = project.run("nuke", timeout=20)
    assert result.returncode == 2 and time.monotonic() - begun < 10
    assert "needs a yes" in result.stderr and "--yes" in result.stderr
    assert all(pid_alive(pid) for pid in read_pids(pidfile))
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_nuke_yes_stops_two_projects_and_leaves_a_foreign_process_alone(corral_project) -> None:  # type: ignore[no-untyped-def]
    first_pids, first = two_services(corral_project())
    second_pids, second = two_services(corral_project())
    stranger = foreign_sleeper()
    try:
        assert first.run("start").returncode == 0 and second.run("start").returncode == 0
        wait_until(
            lambda: len(read_pids(first_pids)) == 3 and len(read_pids(second_pids)) == 3,
            message="both projects",
        )
        listed = json.loads(first.run("ls", "--json").stdout)["projects"]
        roots = {item["root"] for item in listed}
        assert {str(first.root), str(second.root)} <= roots
        result = first.run("nuke", "--yes", "--json", timeout=60)
        document = json.loads(result.stdout)
        assert result.returncode == 0 and document["survivors"] == []
        assert all_dead(first_pids) and all_dead(second_pids)
        assert stranger.poll() is None, "nuke killed a process corral did not start"
        after = json.loads(first.run("ls", "--json").stdout)["projects"]
        assert not {str(first.root), str(second.root)} & {item["root"] for item in after}
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.timeout(60)
def test_ls_finds_a_project_whose_state_dir_was_deleted(corral_project, runtime_dir) -> None:  # type: ignore[no-untyped-def]
    import shutil

    pidfile, project = two_services(corral_project())
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="the services")
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["guard"]["pid"], signal.SIGKILL)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")
    shutil.rmtree(project.root / ".corral")
    shutil.rmtree(runtime_dir / "projects")
    listed = json.loads(project.run("ls", "--json").stdout)["projects"]
    entry = next(item for item in listed if item["id"] == project.id)
    assert entry["root"] == str(project.root) and not entry["supervisor_alive"]
    assert entry["orphans"]
    result = project.run("nuke", "--yes")
    assert result.returncode == 0
    wait_until(lambda: all_dead(pidfile), message="everything gone")
