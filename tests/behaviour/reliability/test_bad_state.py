"""Bad state around a project (issue: trust nothing on disk, items 16 and 19): a read-only
checkout, a runtime directory planted by another user, a foreign line in the event log and a
killed guard each end in one line with the fix (or a safe fallback), never a traceback, and
``doctor`` names them instead of saying "no problems found"."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import ProjectDir, hostile, pid_alive, service_toml, wait_until

ROOT_ONLY = pytest.mark.skipif(os.getuid() != 0, reason="needs root (a bind mount, a chown)")


@contextlib.contextmanager
def read_only_view(directory: Path, mountpoint: Path) -> Iterator[Path]:
    """``directory`` seen through a read-only bind mount (root ignores mode bits)."""
    mountpoint.mkdir()
    subprocess.run(["mount", "--bind", str(directory), str(mountpoint)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mountpoint)], check=True)
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)]).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)


@ROOT_ONLY
@pytest.mark.timeout(60)
def test_a_read_only_checkout_is_one_line_with_the_fix(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    source: ProjectDir = corral_project()
    source.write("corral.toml", service_toml("web", hostile()))
    with read_only_view(source.root, tmp_path / "ro") as view:
        project = ProjectDir(view, source.id)
        result = project.run("start", "--json")
        assert result.returncode == 2, result.stdout + result.stderr
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "state_unwritable"
        assert "Read-only file system" in error["message"] and "read-only" in error["hint"]
        doctor = project.run("doctor")
        assert "not writable" in doctor.stdout and "no problems found" not in doctor.stdout


@ROOT_ONLY
@pytest.mark.timeout(60)
def test_a_runtime_directory_planted_by_another_user_is_avoided(
    corral_project,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another local user can create /tmp/corral-UID first; corral falls back to a directory
    under the caller's home that nobody else can create."""
    shared_tmp = Path("/tmp") / f"ct-{os.getpid()}"  # short: socket paths have a length limit
    shared_tmp.mkdir(mode=0o1777)
    home = Path("/tmp") / f"ch-{os.getpid()}"
    home.mkdir(mode=0o700)
    try:
        planted = shared_tmp / f"corral-{os.getuid()}"
        planted.mkdir()
        os.chown(planted, 65534, 65534)
        monkeypatch.delenv("CORRAL_RUNTIME_DIR")
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
        env = {"TMPDIR": str(shared_tmp), "HOME": str(home)}
        project: ProjectDir = corral_project()
        project.write("corral.toml", service_toml("web", hostile()))
        started = project.run("start", env=env)
        assert started.returncode == 0, started.stderr
        assert (home / ".cache" / "corral" / "run" / f"{project.id}.sock").exists()
        assert not any(planted.iterdir()), "corral wrote into another user's directory"
        status = json.loads(project.run("status", "--json", env=env).stdout)
        assert status["source"] == "supervisor"
        assert project.run("stop", env=env).returncode == 0
    finally:
        shutil.rmtree(shared_tmp, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.timeout(60)
def test_a_foreign_line_in_the_event_log_is_skipped(corral_project) -> None:  # type: ignore[no-untyped-def]
    project: ProjectDir = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    with open(project.root / ".corral" / "events.jsonl", "a") as log:
        log.write('[1, 2, 3]\n"text"\n{"cursor": "9", "kind": 5}\n{"cursor": 10**9}\n')
    result = project.run("events", "--json")
    assert result.returncode == 0, result.stderr
    kinds = [event["kind"] for event in json.loads(result.stdout)["events"]]
    assert "ready" in kinds and all(isinstance(kind, str) for kind in kinds)
    assert project.run("events").returncode == 0
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_doctor_names_a_killed_guard(corral_project) -> None:  # type: ignore[no-untyped-def]
    project: ProjectDir = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    guard = json.loads((project.root / ".corral" / "state.json").read_text())["guard"]["pid"]
    assert "no problems found" in project.run("doctor").stdout
    os.kill(guard, signal.SIGKILL)
    wait_until(lambda: not pid_alive(guard), message="guard gone")
    doctor = project.run("doctor")
    assert f"the guard (pid {guard}) is gone" in doctor.stdout, doctor.stdout
    assert project.run("stop").returncode == 0


@ROOT_ONLY
@pytest.mark.timeout(90)
def test_a_full_disk_leaves_stop_status_and_logs_working(corral_project) -> None:  # type: ignore[no-untyped-def]
    """``.corral/`` on a full file system: a restart still ends ready, status says what cannot be
    written and how to fix it, logs read what was written, and stop stops everything."""
    project: ProjectDir = corral_project()
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("web", hostile("--pidfile", str(pidfile)))
        + service_toml("worker", hostile("--pidfile", str(pidfile))),
    )
    state = project.root / ".corral"
    state.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=700", "tmpfs", str(state)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        assert project.run("start").returncode == 0
        with open(state / "filler", "wb") as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        restarted = project.run("restart", "web", "--json")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        status = json.loads(project.run("status", "--json").stdout)
        assert {s["name"]: s["state"] for s in status["services"]} == {
            "web": "ready",
            "worker": "ready",
        }, status
        assert any("cannot write the state file" in w and "free" in w for w in status["warnings"])
        logs = project.run("logs", "-n", "5")
        assert logs.returncode == 0 and "ready" in logs.stdout, logs.stdout + logs.stderr
        stopped = project.run("stop", "--json")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        from harness import read_pids

        assert not any(pid_alive(pid) for pid in read_pids(pidfile)), "a service survived"
        log = (state / "supervisor.log").read_text()
        assert "Traceback" not in log, log[-2000:]
    finally:
        project.run("stop")
        if subprocess.run(["umount", str(state)]).returncode != 0:
            subprocess.run(["umount", "--lazy", str(state)], check=True)


def _sleeper_project(project: ProjectDir) -> Path:
    pidfile = project.root.parent / f"{project.root.name}.pids"  # outside: it survives a rm -rf
    project.write("corral.toml", service_toml("web", hostile("--pidfile", str(pidfile))))
    return pidfile


@pytest.mark.timeout(90)
def test_a_deleted_and_recreated_project_stops_cleanly(corral_project) -> None:  # type: ignore[no-untyped-def]
    project: ProjectDir = corral_project()
    pidfile = _sleeper_project(project)
    assert project.run("start").returncode == 0
    shutil.rmtree(project.root)
    project.root.mkdir()
    _sleeper_project(project)
    stopped = project.run("stop", "--json")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    from harness import read_pids

    assert not any(pid_alive(pid) for pid in read_pids(pidfile)), "a service survived"


@pytest.mark.timeout(90)
def test_a_renamed_project_is_stopped_from_its_new_place(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project: ProjectDir = corral_project(name="before")
    pidfile = _sleeper_project(project)
    assert project.run("start").returncode == 0
    moved = ProjectDir(tmp_path / "after", "")
    project.root.rename(moved.root)
    try:
        refused = moved.run("start")
        assert refused.returncode == 1 and "was moved from" in refused.stderr, refused.stderr
        stopped = moved.run("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "moved from" in stopped.stdout
        from harness import read_pids

        assert not any(pid_alive(pid) for pid in read_pids(pidfile)), "a service survived"
        assert moved.run("start").returncode == 0, "the moved checkout starts on its own"
        assert moved.run("stop").returncode == 0
    finally:
        moved.root.rename(project.root)


@pytest.mark.timeout(90)
def test_a_supervisor_whose_directory_moved_stops_everything(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project: ProjectDir = corral_project(name="before")
    pidfile = _sleeper_project(project)
    assert project.run("start").returncode == 0
    supervisor = json.loads((project.root / ".corral" / "state.json").read_text())["supervisor"]
    project.root.rename(tmp_path / "after")
    try:
        wait_until(lambda: not pid_alive(supervisor["pid"]), timeout=30, message="its exit")
        from harness import read_pids

        assert not any(pid_alive(pid) for pid in read_pids(pidfile)), "a service survived"
        log = (tmp_path / "after" / ".corral" / "supervisor.log").read_text()
        assert "was moved or removed" in log
    finally:
        (tmp_path / "after").rename(project.root)


@pytest.mark.timeout(60)
def test_the_registry_forgets_a_project_with_nothing_left(corral_project, runtime_dir) -> None:  # type: ignore[no-untyped-def]
    project: ProjectDir = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    entry = runtime_dir / "projects" / f"{project.id}.json"
    assert project.run("start").returncode == 0
    assert entry.exists(), "a running project is registered"
    assert project.run("stop").returncode == 0
    assert not entry.exists(), "a project with nothing left stays in the registry"
    entry.write_text(json.dumps({"id": project.id, "root": str(project.root), "name": "x"}))
    assert project.run("ls").returncode == 0
    assert not entry.exists(), "ls keeps an entry of a project with nothing left"
