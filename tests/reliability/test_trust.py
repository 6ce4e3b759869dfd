"""Trust nothing on disk: copied, planted and foreign state, and a hung supervisor, must never
make corral signal a process it did not start (issue: copied, planted, full, vanished and hung
state). Each test is named after the case it reproduces."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ProjectDir, hostile, pid_alive, read_pids, service_toml, wait_until


def two_services(project: ProjectDir) -> Path:
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("web", hostile("--pidfile", str(pidfile), "--role", "web"))
        + service_toml("db", hostile("--pidfile", str(pidfile), "--role", "db")),
    )
    return pidfile


def stranger() -> subprocess.Popen[bytes]:
    """A process corral never started, carrying none of its markers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env)


def state_of(project: ProjectDir) -> dict:  # type: ignore[type-arg]
    return json.loads((project.root / ".corral" / "state.json").read_text())


def kill_daemons(project: ProjectDir) -> None:
    """SIGKILL guard and supervisor, so that what follows works from the state file alone."""
    state = state_of(project)
    for role in ("guard", "supervisor"):
        os.kill(state[role]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")


@pytest.mark.timeout(90)
def test_a_copied_project_never_stops_the_original(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    original = corral_project(name="original")
    pidfile = two_services(original)
    assert original.run("start").returncode == 0
    copy_root = tmp_path / "copy"
    shutil.copytree(original.root, copy_root, symlinks=True)
    copy = ProjectDir(copy_root, "")
    stopped = copy.run("stop", "db", "--json")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert all(r["members"] == 0 for r in json.loads(stopped.stdout)["reports"])
    status = json.loads(copy.run("status", "--json").stdout)
    assert all(s["state"] == "stopped" and not s["members"] for s in status["services"])
    assert any("belongs to another checkout" in w for w in status["warnings"]), status
    assert all(pid_alive(pid) for pid in read_pids(pidfile)), "the copy stopped the original"
    assert copy.run("stop").returncode == 0
    assert all(pid_alive(pid) for pid in read_pids(pidfile)), "the copy stopped the original"
    assert original.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_a_planted_cgroup_path_is_never_used(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A state file naming any directory as a service's cgroup (a plain cgroup.procs file
    listing a stranger) must not make a stop signal what it lists."""
    project = corral_project()
    two_services(project)
    victim = stranger()
    try:
        assert project.run("start").returncode == 0
        kill_daemons(project)
        fake = tmp_path / "fake-cgroup"
        fake.mkdir()
        (fake / "cgroup.procs").write_text(f"{victim.pid}\n")
        state = state_of(project)
        state["services"]["web"]["run"]["cgroup"] = str(fake)
        (project.root / ".corral" / "state.json").write_text(json.dumps(state))
        project.run("stop")
        assert victim.poll() is None, "a process listed in a planted cgroup was killed"
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.timeout(60)
def test_a_state_directory_others_may_write_is_refused(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    directory = project.root / ".corral"
    directory.mkdir()
    directory.chmod(0o777)
    result = project.run("start", "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "unsafe_state" and "chmod go-w" in error["hint"]
    assert sorted(os.listdir(directory)) == [], "corral wrote into a directory it refused"


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a directory to another user")
def test_a_state_directory_of_another_user_is_refused(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    directory = project.root / ".corral"
    directory.mkdir(mode=0o700)
    (directory / "logs").symlink_to("/etc")  # what an attacker would plant
    os.chown(directory, 65534, 65534)
    for command in (["start"], ["status"], ["stop"]):
        result = project.run(*command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "belongs to uid 65534" in result.stderr and "Traceback" not in result.stderr
    assert not (project.root / ".corral" / "supervisor.lock").exists()


@pytest.mark.timeout(90)
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a file to another user")
def test_a_state_file_of_another_user_is_never_acted_on(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    victim = stranger()
    try:
        assert project.run("start").returncode == 0
        kill_daemons(project)
        path = project.root / ".corral" / "state.json"
        state = json.loads(path.read_text())
        planted = {"pid": victim.pid, "start": _start(victim.pid), "boot_id": state["boot_id"]}
        state["services"]["web"]["run"]["members"].append({**planted, "inode": None})
        path.write_text(json.dumps(state))
        os.chown(path, 65534, 65534)
        result = project.run("stop")
        assert result.returncode == 2 and "belongs to uid 65534" in result.stderr, result.stderr
        assert victim.poll() is None
        path.unlink()
        assert project.run("stop").returncode == 0  # the markers still find the services
    finally:
        victim.kill()
        victim.wait()


def _start(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rpartition(")")[2].split()[19])


@pytest.mark.timeout(90)
def test_a_hung_supervisor_does_not_widen_a_stop(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    supervisor = state_of(project)["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGSTOP)
    try:
        result = project.run("stop", "db", "--json")
        roles = {role: pid for pid, role in read_pids(pidfile).items()}
        assert not pid_alive(roles["db"]), result.stdout
        assert pid_alive(roles["web"]), "stopping db also stopped web"
        status = json.loads(project.run("status", "--json").stdout)
        web = next(s for s in status["services"] if s["name"] == "web")
        assert roles["db"] not in web["members"] and supervisor not in web["members"]
    finally:
        os.kill(supervisor, signal.SIGCONT)
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_requests_over_64_kib_are_served(corral_project) -> None:  # type: ignore[no-untyped-def]
    """A large client environment (or .env) used to be dropped unanswered by the supervisor."""
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    big = {"CORRAL_BIG_VALUE": "x" * 100_000}
    project.write(".env", "".join(f"LINE_{i}=value{i}\n" for i in range(10_000)))
    first = project.run("start", env=big)
    assert first.returncode == 0, first.stdout + first.stderr
    again = project.run("start", "--json", env=big)  # the fast path, through a running one
    assert again.returncode == 0, again.stdout + again.stderr
    assert project.run("stop").returncode == 0
