"""Every misbehaving service is stopped completely: no process left, ports free, and the stop
report says what it had to do. Real processes, real sockets; each test bounded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness import (
    PORTABLE,
    ProjectDir,
    free_port,
    hostile,
    pid_alive,
    port_free,
    read_pids,
    service_toml,
    wait_until,
)


def start_ok(project: ProjectDir, *args: str) -> dict:
    result = project.run("start", "--json", *args, timeout=60)
    document = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    return document


def stop_ok(project: ProjectDir, *args: str) -> dict:
    result = project.run("stop", "--json", *args, timeout=60)
    document = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    return document


def assert_all_gone(pidfile: Path, ports: tuple[int, ...] = ()) -> None:
    pids = read_pids(pidfile)
    assert pids, "the subject recorded no pids"
    alive = {pid: role for pid, role in pids.items() if pid_alive(pid)}
    assert not alive, f"still alive after stop: {alive}"
    for port in ports:
        assert port_free(port), f"port {port} still held"


@pytest.mark.timeout(60)
def test_well_behaved_server_is_stopped_and_its_port_freed(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("web", hostile("--listen", str(port), "--pidfile", str(pidfile)), port=port),
    )
    started = start_ok(project)
    assert [s["state"] for s in started["services"]] == ["ready"]
    wait_until(lambda: not port_free(port), message="the server to listen")
    report = stop_ok(project)["reports"][0]
    assert report["outcome"] == "exited" and report["signal"] == "SIGTERM"
    assert report["swept"] == [] and report["survivors"] == [] and report["ports_held"] == []
    assert_all_gone(pidfile, (port,))


@pytest.mark.timeout(60)
def test_service_ignoring_term_int_hup_is_killed_after_its_timeout(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "stubborn",
            hostile("--ignore-signals", "--listen", str(port), "--pidfile", str(pidfile)),
            port=port,
            stop_timeout="1s",
        ),
    )
    start_ok(project)
    wait_until(lambda: not port_free(port), message="the server to listen")
    report = stop_ok(project)["reports"][0]
    assert report["outcome"] == "killed"
    assert report["elapsed"] >= 1.0
    assert_all_gone(pidfile, (port,))


@pytest.mark.timeout(60)
def test_shell_wrapper_that_does_not_forward_signals(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    # sh runs the server as a child (not exec), then waits; SIGTERM reaches the whole group.
    server = hostile("--listen", str(port), "--pidfile", str(pidfile))
    command = f"echo $$ wrapper >> {pidfile}; {server}; echo after"
    project.write("corral.toml", service_toml("wrapped", command, port=port))
    start_ok(project)
    wait_until(lambda: not port_free(port), message="the grandchild to listen")
    report = stop_ok(project)["reports"][0]
    assert report["ok"] and report["outcome"] in ("exited", "killed")
    assert_all_gone(pidfile, (port,))


@pytest.mark.timeout(60)
def test_double_forked_setsid_daemon_is_swept(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "daemon",
            hostile("--double-fork", "--listen", str(port), "--pidfile", str(pidfile)),
            port=port,
        ),
    )
    start_ok(project)
    wait_until(
        lambda: "daemon" in read_pids(pidfile).values() and not port_free(port),
        message="the daemon to listen",
    )
    daemon_pid = next(pid for pid, role in read_pids(pidfile).items() if role == "daemon")
    report = stop_ok(project)["reports"][0]
    swept = {item["pid"]: item for item in report["swept"]}
    assert daemon_pid in swept, report
    assert {"marker", "cgroup", "lifeline"} & set(swept[daemon_pid]["layers"])
    assert_all_gone(pidfile, (port,))


@pytest.mark.timeout(60)
def test_env_scrubbed_daemon_is_still_found(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "scrubbed",
            hostile(
                "--double-fork", "--scrub-env", "--listen", str(port), "--pidfile", str(pidfile)
            ),
            port=port,
        ),
    )
    start_ok(project)
    wait_until(
        lambda: "daemon" in read_pids(pidfile).values() and not port_free(port),
        message="the daemon to listen",
    )
    report = stop_ok(project)["reports"][0]
    assert report["ok"], report
    assert_all_gone(pidfile, (port,))


@pytest.mark.timeout(60)
def test_setsid_child_holding_the_port(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "escaper",
            hostile("--setsid-child", "--listen", str(port), "--pidfile", str(pidfile)),
            port=port,
        ),
    )
    start_ok(project)
    wait_until(lambda: not port_free(port), message="the setsid child to listen")
    report = stop_ok(project)["reports"][0]
    child = next(pid for pid, role in read_pids(pidfile).items() if role == "setsid-child")
    assert child in [item["pid"] for item in report["swept"]]
    assert_all_gone(pidfile, (port,))


@pytest.mark.timeout(60)
def test_nohup_background_then_wait_shell(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    server = hostile("--listen", str(port), "--pidfile", str(pidfile))
    command = f"echo $$ shell >> {pidfile}; nohup {server} > /dev/null 2>&1 & wait"
    project.write("corral.toml", service_toml("nohupped", command, port=port))
    start_ok(project)
    wait_until(lambda: not port_free(port), message="the nohup'd server to listen")
    stop_ok(project)
    assert_all_gone(pidfile, (port,))


@pytest.mark.timeout(60)
def test_slow_stopper_is_allowed_to_finish(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "slow", hostile("--slow-stop", "3", "--pidfile", str(pidfile)), stop_timeout="10s"
        ),
    )
    start_ok(project)
    wait_until(lambda: read_pids(pidfile), message="the subject to start")
    report = stop_ok(project)["reports"][0]
    assert report["outcome"] == "exited", report
    assert 3.0 <= report["elapsed"] < 10.0
    log = (project.root / ".corral" / "logs" / "slow.log").read_text()
    assert "main: done" in log
    assert_all_gone(pidfile)


@pytest.mark.timeout(60)
def test_crash_on_start_is_reported_with_exit_code_and_log_lines(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        "settle_time = '5s'\n" + service_toml("broken", hostile("--crash", "3")),
    )  # the crash comes before "ready" even on a loaded machine
    result = project.run("start", timeout=60)
    assert result.returncode == 1
    assert "start failed: broken is exited (exit code 3)" in result.stdout
    assert "  | crash: cannot open the database" in result.stdout
    as_json = json.loads(project.run("start", "--json", timeout=60).stdout)
    assert as_json["ok"] is False and as_json["error"]["code"] == "start_failed"
    assert as_json["diagnosis"]["exit"]["code"] == 3
    assert "crash: starting up" in as_json["diagnosis"]["log_tail"]


def test_a_service_inherits_only_stdio_and_its_lifeline(corral_project) -> None:  # type: ignore[no-untyped-def]
    """No descriptor of the supervisor (its lock, sockets, other services' logs) leaks in."""
    project = corral_project()
    script = (
        "import os, time; print('fds', sorted(int(n) for n in os.listdir('/proc/self/fd')), "
        "os.readlink('/proc/self/fd/3'), flush=True); time.sleep(60)"
    )
    project.write(
        "corral.toml",
        service_toml("one", [sys.executable, "-c", script], ready={"log": "fds"})
        + service_toml("two", [sys.executable, "-c", script], ready={"log": "fds"}),
    )
    assert project.run("start").returncode == 0
    for name in ("one", "two"):
        line = (project.root / ".corral" / "logs" / f"{name}.log").read_text()
        line = next(text for text in line.splitlines() if text.startswith("fds"))
        # 0-3, plus the one os.listdir itself opened; 3 is the lifeline (a pipe on Linux, a
        # locked file under .corral/lifelines with the portable layer)
        lifeline = f"{project.root.resolve()}/.corral/lifelines/" if PORTABLE else "pipe:["
        assert line.startswith(f"fds [0, 1, 2, 3, 4] {lifeline}"), line
    assert project.run("stop").returncode == 0


def test_a_program_that_cannot_run_is_reported_before_anything_starts(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("not-executable.sh", "#!/bin/sh\necho hi\n")
    project.write(
        "corral.toml",
        service_toml("missing", ["no-such-program-anywhere", "--flag"])
        + service_toml("plain", ["./not-executable.sh"], autostart=False),
    )
    result = project.run("start", "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert (
        "cannot run 'no-such-program-anywhere': not found on the service's PATH"
        in (document["diagnosis"]["note"])
    )
    result = project.run("start", "--json", "plain")
    assert result.returncode == 1
    assert (
        "cannot run './not-executable.sh': it is not executable"
        in (json.loads(result.stdout)["diagnosis"]["note"])
    )
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_spawn_that_fails_after_the_fork_says_why_in_the_services_log(corral_project) -> None:  # type: ignore[no-untyped-def]
    """The child's own failures (here: its cwd vanished before a restart) go to its log."""
    project = corral_project()
    (project.root / "work").mkdir()
    project.write(
        "corral.toml",
        service_toml(
            "svc",
            [sys.executable, "-c", "import time; time.sleep(1); raise SystemExit(3)"],
            cwd="work",
            restart="on-failure",
        ),
    )
    assert project.run("start").returncode == 0
    (project.root / "work").rmdir()
    log = project.root / ".corral" / "logs" / "svc.log"
    wait_until(
        lambda: "corral: cannot run" in log.read_text() and "No such file" in log.read_text(),
        timeout=20,
        message="the failed spawn to be explained in the service's log",
    )
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_the_group_gets_the_stop_signal_once(corral_project) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM goes to the process group, and its members get no second copy: some servers take
    a second one as "stop now, not gracefully"."""
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile("--slow-stop", "0.5")))
    start_ok(project)
    report = stop_ok(project)["reports"][0]
    assert report["outcome"] == "exited", report
    log = (project.root / ".corral" / "logs" / "web.log").read_text()
    assert log.count("main: stopping slowly") == 1, log
    assert "main: done" in log


def test_a_plain_command_leads_its_run_and_shell_syntax_keeps_the_shell(corral_project) -> None:  # type: ignore[no-untyped-def]
    """``sleep 30`` is exec'd as it is (the program leads the run, no shell in between, PWD
    its cwd as a shell would set it); a command with shell syntax still runs under /bin/sh."""
    import psutil

    project = corral_project()
    (project.root / "work").mkdir()
    project.write(
        "corral.toml",
        service_toml("plain", "sleep 30", cwd="work")
        + service_toml("shelled", 'echo "pwd=$PWD mode=$MODE"; exec sleep 30', env={"MODE": "x"}),
    )
    document = start_ok(project)
    services = {service["name"]: service for service in document["services"]}
    leader = psutil.Process(services["plain"]["pid"])
    assert leader.cmdline() == ["sleep", "30"] and services["plain"]["members"] == [leader.pid]
    assert leader.environ()["PWD"] == str((project.root / "work").resolve())
    wait_until(
        lambda: "mode=x" in (project.root / ".corral/logs/shelled.log").read_text(),
        message="the shell expanded the variable",
    )
    log = (project.root / ".corral/logs/shelled.log").read_text()
    assert f"pwd={project.root.resolve()} mode=x" in log, log
    assert project.run("stop").returncode == 0
    assert not pid_alive(leader.pid)


def test_a_plain_command_naming_a_script_without_a_shebang_runs_it_with_sh(corral_project) -> None:  # type: ignore[no-untyped-def]
    """``./serve.sh`` with no ``#!`` line: sh -c ran it as a shell script, so it still is."""
    project = corral_project()
    project.write("serve.sh", 'echo "script ran as $0"\nexec sleep 30\n', mode=0o755)
    project.write("corral.toml", service_toml("script", "./serve.sh"))
    start_ok(project)
    log = project.root / ".corral/logs/script.log"
    wait_until(lambda: "script ran as ./serve.sh" in log.read_text(), message="the script ran")
    assert project.run("stop").returncode == 0
