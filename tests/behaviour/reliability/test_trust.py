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

from corral import oslayer
from corral.model import RunRecord
from corral.reclaim import trusted_cgroup
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


@pytest.mark.skipif(oslayer.project_cgroup("0" * 16) is None, reason="no writable cgroup v2 tree")
def test_a_cgroup_path_that_climbs_out_of_the_project_is_not_trusted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only a path inside the project's own cgroup directory is trusted, however it is spelt:
    one that starts there and climbs out with "..", or a symlink into it from elsewhere, is
    judged by where it leads."""
    project_id = "0" * 16
    base = oslayer.project_cgroup(project_id)
    assert base is not None
    inside = RunRecord(project_id, "web", cgroup=str(base / "web"))
    assert trusted_cgroup(inside) == base / "web"
    climbing = RunRecord(project_id, "web", cgroup=str(base / "web" / ".." / ".." / "other"))
    assert trusted_cgroup(climbing) is None
    link = tmp_path / "looks-like-ours"
    link.symlink_to(base.parent)
    through_link = str(link / base.name / "web")
    assert trusted_cgroup(RunRecord(project_id, "web", cgroup=through_link)) == base / "web"
    assert trusted_cgroup(RunRecord(project_id, "web", cgroup=str(link))) is None
    # the project's own directory holds every service's cgroup: no one run may claim it
    assert trusted_cgroup(RunRecord(project_id, "web", cgroup=str(base))) is None


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


def forged(**markers: str) -> subprocess.Popen[bytes]:
    """A process corral never started, carrying copied markers (an inherited or forged
    environment); it keeps the test's runtime directory so that ``nuke`` considers it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env["CORRAL_RUNTIME_DIR"] = os.environ["CORRAL_RUNTIME_DIR"]
    env.update(markers)
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env)


@pytest.mark.timeout(90)
def test_forged_markers_never_make_a_stranger_a_member(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    copied = {"CORRAL_PROJECT_ID": project.id, "CORRAL_SERVICE": "db"}
    strangers = [forged(**copied), forged(**copied, CORRAL_RUN_ID="0" * 32)]
    try:
        wait_until(lambda: all(pid_alive(s.pid) for s in strangers), message="strangers up")
        stopped = project.run("stop", "db", "--json")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        roles = {role: pid for pid, role in read_pids(pidfile).items()}
        assert not pid_alive(roles["db"])
        assert all(s.poll() is None for s in strangers), "a forged marker was stopped"
        doctor = project.run("doctor")
        assert "no run corral recorded" in doctor.stdout, doctor.stdout
        assert project.run("stop").returncode == 0
        assert all(s.poll() is None for s in strangers), "a forged marker was stopped"
    finally:
        for process in strangers:
            process.kill()
            process.wait()


@pytest.mark.timeout(90)
def test_nuke_leaves_markers_of_no_nameable_project_alone(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    two_services(project)
    assert project.run("start").returncode == 0
    invented = forged(CORRAL_PROJECT_ID="feedfacefeedface", CORRAL_SERVICE="web")
    lying_root = forged(CORRAL_PROJECT_ID="0123456789abcdef", CORRAL_PROJECT_ROOT=str(project.root))
    try:
        wait_until(lambda: pid_alive(invented.pid) and pid_alive(lying_root.pid), message="up")
        result = project.run("nuke", "--yes", "--json", timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        document = json.loads(result.stdout)
        assert invented.poll() is None and lying_root.poll() is None, "nuke killed a stranger"
        skipped = {item["pid"] for item in document["skipped"]}
        assert {invented.pid, lying_root.pid} <= skipped, document
        assert document["stopped"], "nuke stopped nothing of the real project"
    finally:
        for process in (invented, lying_root):
            process.kill()
            process.wait()


@pytest.mark.timeout(60)
def test_a_tether_to_the_corral_command_itself_is_refused(corral_project) -> None:  # type: ignore[no-untyped-def]
    """``bash -c 'corral start --tether $$'``: bash execs its single command, so $$ is corral."""
    import shlex

    project = corral_project()
    two_services(project)
    from harness import corral_command

    command = " ".join(shlex.quote(part) for part in corral_command())
    result = subprocess.run(
        ["bash", "-c", f"exec {command} start --tether $$"],
        cwd=project.root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is this corral command itself" in result.stderr
    assert not (project.root / ".corral" / "state.json").exists(), "something started"


@pytest.mark.timeout(60)
def test_a_tether_that_exits_during_the_start_is_reported(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", "settle_time = '8s'\n" + service_toml("web", hostile()))
    short = subprocess.Popen(["sleep", "3"])  # outlives the tether's resolution, not the start
    try:
        result = project.run("start", "--tether", str(short.pid))
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"process {short.pid} exited before the start returned" in result.stderr
    finally:
        short.wait()
    wait_until(
        lambda: (
            json.loads(project.run("status", "--json").stdout)["services"][0]["state"] == "stopped"
        ),
        message="the tether's exit stopped web",
    )


@pytest.mark.timeout(120)
def test_a_hung_supervisor_is_explained_and_stop_ends_it(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = two_services(project)
    assert project.run("start").returncode == 0
    state = state_of(project)
    supervisor, guard = state["supervisor"]["pid"], state["guard"]["pid"]
    os.kill(supervisor, signal.SIGSTOP)
    try:
        started = project.run("start", "--timeout", "5s", "--json", timeout=30)
        assert started.returncode == 1, started.stdout + started.stderr
        error = json.loads(started.stdout)["error"]
        assert (
            "stopped (SIGSTOP)" in error["message"] and f"kill -CONT {supervisor}" in error["hint"]
        )
        waited = project.run("wait", "--timeout", "1s", timeout=30)
        assert "stopped (SIGSTOP)" in waited.stderr, waited.stderr
        status = json.loads(project.run("status", "--json", timeout=30).stdout)
        assert "did not answer" in status["problem"]
        stopped = project.run("stop", "--json", timeout=60)
    except BaseException:
        os.kill(supervisor, signal.SIGCONT)
        raise
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(pid_alive(pid) for pid in read_pids(pidfile)), "a service survived"
    wait_until(lambda: not pid_alive(supervisor) and not pid_alive(guard), message="daemons gone")
