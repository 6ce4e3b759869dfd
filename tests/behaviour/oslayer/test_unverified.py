"""Honest stops: where no layer can prove absence (the portable layer), an escape corral cannot
see is reported as ``not_verified`` with what could escape, never as ``ok``; an escape that a
portable layer does see (the lifeline file) is swept as usual. Runs in both layers."""

from __future__ import annotations

import json
import os
import sys

import psutil

from harness import PORTABLE, ProjectDir, hostile, pid_alive, read_pids, wait_until


def stop_json(project: ProjectDir) -> tuple[int, dict]:
    result = project.run("stop", "--json", timeout=60)
    return result.returncode, json.loads(result.stdout)


def test_a_double_forked_daemon_with_no_fds_and_no_environment(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    flags = ("--pidfile", str(pidfile), "--double-fork", "--scrub-env", "--close-fds")
    project.write("Procfile", f"web: {hostile(*flags)}\n")
    assert project.run("start", timeout=60).returncode == 0
    wait_until(lambda: "daemon" in read_pids(pidfile).values(), message="the daemon")
    daemon = next(pid for pid, role in read_pids(pidfile).items() if role == "daemon")
    code, document = stop_json(project)
    (report,) = document["reports"]
    try:
        if PORTABLE:  # nothing follows it there: said so, and the daemon was not signalled
            assert code == 1 and report["ok"] is False and document["ok"] is False
            assert report["outcome"] == "not_verified", report
            assert daemon in [s["pid"] for s in report["unverified"]["suspects"]], report
            assert "closed its descriptors" in report["unverified"]["could_escape"]
            assert pid_alive(daemon)
        else:  # the subreaper (and the cgroup, where there is one) caught it
            assert code == 0 and report["ok"] is True, report
            assert report["unverified"] is None
            assert daemon in [s["pid"] for s in report["swept"]], report
            assert not pid_alive(daemon)
    finally:
        if pid_alive(daemon):
            psutil.Process(daemon).kill()


def test_a_double_forked_daemon_that_kept_the_session_is_swept(corral_project) -> None:  # type: ignore[no-untyped-def]
    """It left the process group and the tree, closed every descriptor and emptied its
    environment, but never called setsid: the session its service leads still holds it."""
    project = corral_project()
    pidfile = project.root / "pids"
    flags = ("--pidfile", str(pidfile), "--double-fork", "--keep-session")
    project.write("Procfile", f"web: {hostile(*flags, '--scrub-env', '--close-fds')}\n")
    assert project.run("start", timeout=60).returncode == 0
    wait_until(lambda: "daemon" in read_pids(pidfile).values(), message="the daemon")
    daemon = next(pid for pid, role in read_pids(pidfile).items() if role == "daemon")
    try:
        assert os.getpgid(daemon) != os.getsid(daemon)  # out of the group, in the session
        code, document = stop_json(project)
        (report,) = document["reports"]
        assert code == 0 and report["ok"] is True and report["unverified"] is None, report
        swept = {s["pid"]: s["layers"] for s in report["swept"]}
        assert "session" in swept.get(daemon, []), report
        assert not pid_alive(daemon)
    finally:
        if pid_alive(daemon):
            psutil.Process(daemon).kill()


def test_an_orphaned_system_binary_that_kept_the_lifeline_is_swept(corral_project) -> None:  # type: ignore[no-untyped-def]
    """Like ``ssh -f``: a system binary (whose environment macOS hides, and the portable layer
    hides on Linux) double-forked away from the service; the lifeline finds it."""
    project = corral_project()
    sleeper = project.root / "sleeper"
    escape = (
        "import os, sys\n"
        "if os.fork(): sys.exit()\n"
        "os.setsid()\n"
        "if os.fork(): sys.exit()\n"
        f"open({str(sleeper)!r}, 'w').write(str(os.getpid()))\n"
        "os.execv('/bin/sleep', ['sleep', '300'])\n"
    )
    script = project.write("escape.py", escape)
    project.write("Procfile", f"web: sh -c '{sys.executable} {script}; exec {hostile()}'\n")
    assert project.run("start", timeout=60).returncode == 0
    wait_until(lambda: sleeper.exists() and sleeper.read_text().strip(), message="the sleeper")
    pid = int(sleeper.read_text())
    assert psutil.Process(pid).ppid() != os.getpid()
    code, document = stop_json(project)
    (report,) = document["reports"]
    assert code == 0 and report["ok"] is True and report["unverified"] is None, report
    swept = {s["pid"]: s["layers"] for s in report["swept"]}
    assert pid in swept, report
    if PORTABLE:
        assert "lifeline" in swept[pid], report
    assert not pid_alive(pid)
