"""More ways for a service to escape, and the stop that catches it anyway."""

from __future__ import annotations

import json
import sys

import pytest

from harness import (
    SUBJECTS,
    free_port,
    hostile,
    pid_alive,
    port_free,
    read_pids,
    service_toml,
    wait_until,
)


def stop_report(project) -> dict:  # type: ignore[no-untyped-def]
    result = project.run("stop", "--json", timeout=60)
    assert result.returncode == 0, result.stdout
    return json.loads(result.stdout)["reports"][0]


@pytest.mark.timeout(60)
def test_a_three_deep_chain_of_shells(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    inner = hostile("--listen", str(port), "--pidfile", str(pidfile))
    command = f'sh -c "sh -c \\"sh -c \'{inner}\'\\""'
    project.write("corral.toml", service_toml("deep", command, port=port))
    assert project.run("start").returncode == 0, project.run("logs").stdout
    wait_until(lambda: not port_free(port), message="the innermost server")
    assert stop_report(project)["ok"]
    assert not any(pid_alive(pid) for pid in read_pids(pidfile)) and port_free(port)


FORKER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("forking", flush=True)
while True:  # many short-lived setsid'd children, also while being stopped
    if os.fork() == 0:
        os.setsid()
        time.sleep(0.05)
        os._exit(0)
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    time.sleep(0.005)
"""


@pytest.mark.timeout(60)
def test_a_service_forking_short_lived_children_while_stopped(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("forker.py", FORKER)
    project.write(
        "corral.toml", service_toml("forker", f"{sys.executable} forker.py", stop_timeout="1s")
    )
    assert project.run("start").returncode == 0
    report = stop_report(project)
    assert report["ok"] and report["outcome"] == "killed"
    status = json.loads(project.run("status", "--json").stdout)
    assert status["services"][0]["members"] == []


LEADER_EXITS = """
import os, signal, sys, time
child = os.fork()
if child == 0:  # stays in the group, ignores SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(sys.argv[1], "a").write(f"{os.getpid()} member\\n")
    time.sleep(600)
    os._exit(0)
open(sys.argv[1], "a").write(f"{os.getpid()} leader\\n")
time.sleep(600)  # the leader exits on SIGTERM (default action)
"""


@pytest.mark.timeout(60)
def test_the_group_leader_exits_first_while_the_rest_ignores_sigterm(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write("leader.py", LEADER_EXITS)
    project.write(
        "corral.toml",
        service_toml("group", f"{sys.executable} leader.py {pidfile}", stop_timeout="1s"),
    )
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 2, message="leader and member")
    report = stop_report(project)
    # waiting covered the whole group, not just the leader: the member was killed after 1 s
    assert report["outcome"] == "killed" and report["elapsed"] >= 1.0
    assert not any(pid_alive(pid) for pid in read_pids(pidfile))


@pytest.mark.timeout(120)
def test_a_fork_storm_without_cgroups_is_stopped(corral_project) -> None:  # type: ignore[no-untyped-def]
    """Issue "trust nothing on disk", item 10: without the cgroup layer, processes that leave
    their session and fork on while SIGTERM is ignored are frozen as they are found, then
    killed; nothing is left (bench/forkstorm.py measures how long it takes)."""
    project = corral_project()
    pidfile = project.root / "storm.pids"
    storm = SUBJECTS / "forkstorm.py"
    project.write(
        "corral.toml",
        service_toml(
            "storm",
            f"{sys.executable} {storm} --pidfile {pidfile} --limit 300",
            stop_timeout="1s",
        ),
    )
    env = {"CORRAL_CGROUP": "off"}
    assert project.run("start", env=env).returncode == 0
    stopped = project.run("stop", "--json", env=env, timeout=90)
    assert stopped.returncode == 0, stopped.stdout[-2000:] + stopped.stderr
    left = [pid for pid in read_pids(pidfile) if pid_alive(pid)]
    assert not left, f"{len(left)} storm processes survived the stop"
