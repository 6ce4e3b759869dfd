"""The orphan story end to end: an agent session starts the project; it ends (the session-end
hook) or dies (SIGKILL, then the tether); a new session's brief tells what an untethered earlier
start left running, who started it, and that it runs code older than the last commit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from behaviour.agent.payloads import end_payload, run_hook, start_payload
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
import os, subprocess, sys, time
# like a coding agent: its session id is in the environment of every shell it runs
env = dict(os.environ, CORRAL_AGENT_SESSION=sys.argv[2], CLAUDECODE="1")
command = sys.argv[1] + " start " + sys.argv[3] + " >start.out 2>&1"
subprocess.run(["sh", "-c", command], check=True, env=env)
print("started", flush=True)
time.sleep(120)
"""
GIT = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


@pytest.fixture(autouse=True)
def no_outer_session(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CORRAL_AGENT_SESSION", "CLAUDE_PROJECT_DIR", "CLAUDE_ENV_FILE", "CLAUDECODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CORRAL_HOOK_BUDGET", "20")  # a safety net, not what is tested here


def project_with_two(corral_project) -> ProjectDir:  # type: ignore[no-untyped-def]
    project = corral_project()
    pids = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("a", hostile("--pidfile", str(pids) + ".a"))
        + service_toml("b", hostile("--double-fork", "--pidfile", str(pids) + ".b")),
    )
    project.write(".gitignore", "pids.*\n*.out\nagent.py\n")
    return project


def pids_of(project: ProjectDir, name: str) -> dict[int, str]:
    return read_pids(project.root / f"pids.{name}")


def dead(project: ProjectDir, name: str) -> bool:
    pids = pids_of(project, name)
    return bool(pids) and not any(pid_alive(pid) for pid in pids)


class Agent:
    """A session: a process tree with an agent-like parent that runs ``corral start``."""

    def __init__(self, project: ProjectDir, session: str, start_args: str) -> None:
        project.write("agent.py", AGENT)
        self.process = subprocess.Popen(
            [sys.executable, "agent.py", " ".join(corral_command()), session, start_args],
            cwd=project.root,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line == b"started\n", (project.root / "start.out").read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()


def services(project: ProjectDir) -> dict[str, dict]:  # type: ignore[type-arg]
    status = json.loads(project.run("status", "--json").stdout)
    return {s["name"]: s for s in status["services"]}


def events(project: ProjectDir) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(project.run("events", "--json").stdout)["events"]  # type: ignore[no-any-return]


@pytest.mark.timeout(90)
def test_session_end_stops_what_the_session_started_tethered_and_nothing_else(
    corral_project,  # type: ignore[no-untyped-def]
) -> None:
    project = project_with_two(corral_project)
    assert project.run("start", "a").returncode == 0  # by a person, untethered
    agent = Agent(project, "sess-one", "b --tether auto")
    try:
        wait_until(lambda: len(pids_of(project, "b")) == 2, message="b and its daemon")
        now = services(project)
        assert now["b"]["started_by"]["session"] == "sess-one"
        assert now["b"]["started_by"]["agent"] == "CLAUDECODE"
        assert now["b"]["started_by"]["tethered"] is True
        assert now["a"]["started_by"]["session"] is None
        assert now["a"]["started_by"]["tethered"] is False
        human = project.run("status").stdout
        assert "  b: started by agent session sess-one (CLAUDECODE) " in human
        assert "ago, tethered" in human and "  a: started by" not in human
        listed = json.loads(project.run("ls", "--json").stdout)["projects"]
        ours = next(p for p in listed if p["id"] == project.id)  # other tests' projects too
        assert ours["started_by"]["b"]["session"] == "sess-one"
        assert ours["started_by"]["a"]["session"] is None
        lines = project.run("ls").stdout.split(str(project.root), 1)[1].splitlines()
        assert "(started by agent session sess-one (CLAUDECODE) " in next(
            x for x in lines if x.startswith("    b: pid")
        )

        other = run_hook(project, "session-end", end_payload(project.root, "someone-else"))
        assert (other.returncode, other.stdout, other.stderr) == (0, "", "")
        assert services(project)["b"]["state"] == "ready"

        result = run_hook(project, "session-end", end_payload(project.root, "sess-one", "logout"))
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        wait_until(lambda: dead(project, "b"), timeout=15, message="b (and its daemon) to stop")
        assert services(project)["a"]["state"] == "ready"
        assert all(pid_alive(pid) for pid in pids_of(project, "a"))
        ended = [e for e in events(project) if e["kind"] == "agent_session_ended"]
        assert [(e["session"], e["reason"], e["stopping"]) for e in ended] == [
            ("sess-one", "logout", ["b"])
        ]
    finally:
        agent.kill()
    # the agent's process went away: its tether tied only what its start started (b); a, started
    # by a person, keeps running
    wait_until(
        lambda: any(e["kind"] == "tether_fired" for e in events(project)),
        timeout=15,
        message="the tether to fire",
    )
    assert services(project)["a"]["state"] == "ready"
    assert all(pid_alive(pid) for pid in pids_of(project, "a"))


@pytest.mark.timeout(90)
def test_without_the_hook_the_tether_leaves_nothing_running(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = project_with_two(corral_project)
    agent = Agent(project, "sess-two", "--tether auto")
    try:
        wait_until(lambda: len(pids_of(project, "b")) == 2, message="the services")
        assert services(project)["a"]["started_by"]["tethered"] is True
    finally:
        agent.kill()  # SIGKILL: no session-end hook runs
    wait_until(lambda: dead(project, "a") and dead(project, "b"), timeout=15, message="all gone")
    assert all(s["pid"] is None for s in services(project).values())


def git(project: ProjectDir, *args: str, **env: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=project.root,
        check=True,
        capture_output=True,
        timeout=30,
        env={**os.environ, **GIT, **env},
    )


@pytest.mark.timeout(90)
def test_a_new_session_learns_what_an_untethered_start_left_and_that_it_is_stale(
    corral_project,  # type: ignore[no-untyped-def]
) -> None:
    project = project_with_two(corral_project)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "first")
    agent = Agent(project, "sess-old", "")  # untethered
    wait_until(lambda: len(pids_of(project, "b")) == 2, message="the services")
    agent.kill()
    assert not dead(project, "a") and not dead(project, "b")  # they outlived the session

    project.write("app.py", "print('new code')\n")
    git(project, "add", "app.py")
    git(project, "commit", "-qm", "second", GIT_COMMITTER_DATE=f"@{int(time.time()) + 5} +0000")
    result = run_hook(project, "session-start", start_payload(project.root, "sess-new"))
    text = json.loads(result.stdout)["hookSpecificOutput"]["additionalContext"]
    assert text.startswith("corral: 2 service(s) of this project run now:")
    for name in ("a", "b"):
        line = next(x for x in text.splitlines() if x.startswith(f"- `{name}` ready"))
        assert "started by agent session sess-old (CLAUDECODE)" in line
        assert "untethered: it outlives the session that started it" in line
        assert "runs code older than the last commit" in line and f"`corral restart {name}`" in line

    # both daemons die: the next brief says what they left, and how to stop it
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["guard"]["pid"], signal.SIGKILL)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")
    result = run_hook(project, "session-start", start_payload(project.root, "sess-new", "clear"))
    text = json.loads(result.stdout)["hookSpecificOutput"]["additionalContext"]
    orphan = next(x for x in text.splitlines() if x.startswith("- `b` orphaned"))
    assert "started by agent session sess-old" in orphan
    assert "left running by a supervisor that died: `corral stop b` stops it" in orphan
    assert project.run("stop").returncode == 0
    assert dead(project, "b")


@pytest.mark.timeout(90)
def test_a_restart_for_a_file_change_keeps_who_started_the_service(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("app.py", "x = 1\n")
    project.write(
        "corral.toml",
        service_toml("web", hostile("--pidfile", str(project.root / "pids.web")), watch=["*.py"]),
    )
    agent = Agent(project, "sess-watch", "--tether auto")
    try:
        wait_until(lambda: len(pids_of(project, "web")) == 1, message="web")
        project.write("app.py", "x = 2\n")
        wait_until(
            lambda: (
                any(e["kind"] == "restart_for_change" for e in events(project))
                and services(project)["web"]["state"] == "ready"
                and len(pids_of(project, "web")) == 2
            ),
            timeout=30,
            message="the restart for the change",
        )
        started_by = services(project)["web"]["started_by"]
        assert (started_by["session"], started_by["tethered"]) == ("sess-watch", True)
    finally:
        agent.kill()
    wait_until(lambda: dead(project, "web"), timeout=15, message="the tether to stop web")


@pytest.mark.timeout(90)
def test_a_slow_stop_outlasts_the_hook_and_finishes_in_the_supervisor(
    corral_project,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORRAL_HOOK_BUDGET", "2")  # the stop takes 3 s at least
    project = corral_project()
    pidfile = project.root / "pids.web"
    project.write(
        "corral.toml",
        service_toml(
            "web", hostile("--ignore-signals", "--pidfile", str(pidfile)), stop_timeout="3s"
        ),
    )
    agent = Agent(project, "sess-slow", "--tether auto")
    try:
        wait_until(lambda: len(pids_of(project, "web")) == 1, message="web")
        result = run_hook(project, "session-end", end_payload(project.root, "sess-slow"))
        assert (result.returncode, result.stdout) == (0, "")
        assert (
            result.stderr == "corral: session-end hook: stopping web; the supervisor finishes it\n"
        )
        wait_until(lambda: dead(project, "web"), timeout=20, message="the stop to finish")
        # the event follows the exit (the stop verifies ports first): wait for it too
        wait_until(
            lambda: any(e["kind"] == "stopped" for e in events(project)),
            timeout=20,
            message="the stopped event",
        )
        stopped = [e for e in events(project) if e["kind"] == "stopped"]
        assert stopped and stopped[-1]["outcome"] == "killed"
    finally:
        agent.kill()
