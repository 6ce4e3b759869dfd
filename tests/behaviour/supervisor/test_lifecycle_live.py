"""Promises that need a live supervisor: the guard, restart policies, the demo, idle exit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import urllib.request

import pytest

from harness import (
    REPO,
    ProjectDir,
    free_port,
    hostile,
    pid_alive,
    port_free,
    read_pids,
    service_toml,
    wait_until,
)

DEMO = REPO / "examples" / "demo"


def state_of(project: ProjectDir) -> dict:
    return json.loads((project.root / ".corral" / "state.json").read_text())


def status_of(project: ProjectDir) -> dict:
    result = project.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.timeout(60)
def test_guard_stops_everything_when_the_supervisor_is_killed(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    web = hostile("--listen", str(port), "--pidfile", str(pidfile))
    daemon = hostile("--double-fork", "--ignore-signals", "--pidfile", str(pidfile))
    project.write(
        "corral.toml",
        service_toml("web", web, port=port) + service_toml("daemon", daemon, stop_timeout="1s"),
    )
    assert project.run("start").returncode == 0
    wait_until(lambda: len(read_pids(pidfile)) == 3, message="three processes")
    state = state_of(project)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    wait_until(
        lambda: not any(pid_alive(p) for p in read_pids(pidfile)),
        timeout=20,
        message="the guard to stop every process",
    )
    wait_until(lambda: not pid_alive(state["guard"]["pid"]), message="the guard to exit")
    assert port_free(port)
    log = (project.root / ".corral" / "supervisor.log").read_text()
    assert "was killed by SIGKILL: stopping everything it left" in log
    status = status_of(project)
    assert status["ended"]["by"] == "guard" and "SIGKILL" in status["ended"]["reason"]
    assert {s["state"] for s in status["services"]} == {"stopped"}
    human = project.run("status").stdout
    assert "the last supervisor ended abnormally: supervisor was killed by SIGKILL" in human


@pytest.mark.timeout(90)
def test_on_failure_restarts_with_backoff_until_crashed(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        (
            f"[services.flaky]\ncommand = {json.dumps(hostile('--crash', '4'))}\n"
            "restart = 'on-failure'\nrestart_limit = 3\nrestart_window = '60s'\n"
        ),
    )
    result = project.run("start", "--json")
    assert result.returncode == 1  # it exits during start: start fails fast, restarts go on
    wait_until(
        lambda: status_of(project)["services"][0]["state"] == "crashed",
        timeout=30,
        message="the service to be marked crashed",
    )
    flaky = status_of(project)["services"][0]
    assert flaky["restarts"] == 2 and flaky["last_exit"]["code"] == 4
    log = (project.root / ".corral" / "logs" / "flaky.log").read_text()
    assert log.count("crash: starting up") == 3
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_always_restarts_a_service_that_exits_cleanly(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        (
            f"[services.once]\ncommand = {json.dumps(hostile('--crash', '0'))}\n"
            "restart = 'always'\nrestart_limit = 2\n"
        ),
    )
    project.run("start")
    wait_until(
        lambda: status_of(project)["services"][0]["state"] == "crashed",
        timeout=30,
        message="the service to be marked crashed",
    )
    assert status_of(project)["services"][0]["restarts"] == 1
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_the_demo_starts_ready_serves_and_stops_clean(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    shutil.copytree(DEMO, project.root, dirs_exist_ok=True)
    api, frontend = free_port(), free_port()
    config = (project.root / "corral.toml").read_text()
    config = config.replace("8710", str(api)).replace("8711", str(frontend))
    (project.root / "corral.toml").write_text(config)
    result = project.run("start", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    states = {s["name"]: s["state"] for s in status_of(project)["services"]}
    assert states == {"api": "ready", "worker": "ready", "frontend": "ready"}
    with urllib.request.urlopen(f"http://127.0.0.1:{api}/", timeout=5) as response:
        assert json.loads(response.read())["greeting"] == "hello from the demo"
    with urllib.request.urlopen(f"http://127.0.0.1:{frontend}/", timeout=5) as response:
        assert b"corral demo frontend" in response.read()
    frontend_status = next(s for s in status_of(project)["services"] if s["name"] == "frontend")
    assert frontend_status["listening"] == [frontend]  # held by the grandchild, found in the tree
    stopped = project.run("stop", "--json")
    assert stopped.returncode == 0, stopped.stdout
    assert port_free(api) and port_free(frontend)


@pytest.mark.timeout(60)
def test_socket_is_private_and_the_supervisor_exits_when_idle(corral_project, runtime_dir) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", "[services.quick]\ncommand = 'true'\nautostart = true\n")
    result = project.run("start", env={"CORRAL_IDLE_EXIT": "1"})
    assert result.returncode == 1  # 'true' exits at once: not ready
    sockets = list(runtime_dir.glob("*.sock"))
    assert len(sockets) == 1
    assert stat.S_IMODE(runtime_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(sockets[0].stat().st_mode) == 0o600
    supervisor = state_of(project)["supervisor"]["pid"]
    wait_until(lambda: not pid_alive(supervisor), timeout=20, message="the idle supervisor to exit")
    assert not sockets[0].exists()
    assert (
        "idle for 1s with nothing running"
        in (project.root / ".corral" / "supervisor.log").read_text()
    )


@pytest.mark.timeout(90)
def test_a_running_service_keeps_the_stop_settings_it_was_started_with(corral_project) -> None:  # type: ignore[no-untyped-def]
    """After stop_timeout is edited under a running service, its stop still goes by the value
    it was started with (the state file says so too), status shows both, and a restart takes
    the new one."""
    import json

    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile(), stop_timeout="4s"))
    assert project.run("start").returncode == 0
    project.write("corral.toml", service_toml("web", hostile(), stop_timeout="1s"))
    config = json.loads(project.run("config", "--json").stdout)  # before any command adopts it
    differs = config["services"][0]["running_differs"]
    assert differs == {"stop_timeout": {"running": 4.0, "configured": 1.0}}, config
    assert "running     with stop_timeout = 4s" in project.run("config").stdout
    assert project.run("start").returncode == 0  # adopts the edited configuration
    status = json.loads(project.run("status", "--json").stdout)
    changed = status["services"][0]["config_changed"]
    assert changed == {"stop_timeout": {"running": 4.0, "configured": 1.0}}, status
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    assert state["services"]["web"]["run"]["stop_timeout"] == 4.0
    assert project.run("restart", "web").returncode == 0
    status = json.loads(project.run("status", "--json").stdout)
    assert status["services"][0]["config_changed"] is None
    assert (
        json.loads(project.run("config", "--json").stdout)["services"][0]["running_differs"] is None
    )
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    assert state["services"]["web"]["run"]["stop_timeout"] == 1.0
    assert project.run("stop").returncode == 0
