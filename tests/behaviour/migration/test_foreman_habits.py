"""What people type from foreman, honcho and Overmind: the PORT base rule (-p, then PORT from
the env files or the environment, then port_base, then 5000), -e, -m, --except, up
--no-timestamp, corral check, and a hint naming corral's way for their other options."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from harness import (
    ProjectDir,
    corral_command,
    free_port,
    hostile,
    pid_alive,
    port_free,
    service_toml,
)

LISTEN = f"{hostile()} --listen $PORT"
PRINT_ENV = [sys.executable, "-c", "import os; print('env', os.environ['A'], os.environ['B'])"]


def ports_of(project: ProjectDir, *args: str, env: dict[str, str] | None = None) -> dict[str, int]:
    result = project.run("config", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return {s["name"]: s["port_env"] for s in json.loads(result.stdout)["services"]}


def status_of(project: ProjectDir) -> dict[str, dict]:
    result = project.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def test_the_port_base_comes_from_p_then_port_then_port_base(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: true\nworker: true\n"})
    unset = {"PORT": ""}
    assert ports_of(project, env=unset) == {"web": 5000, "worker": 5100}
    project.write("corral.toml", "port_base = 6000\n")
    assert ports_of(project, env=unset) == {"web": 6000, "worker": 6100}
    assert ports_of(project, env={"PORT": "4000"}) == {"web": 4000, "worker": 4100}
    project.write(".env", "PORT=3000\n")  # the env files' PORT wins over the shell's
    assert ports_of(project, env={"PORT": "4000"}) == {"web": 3000, "worker": 3100}
    assert ports_of(project, "-p", "7000", env={"PORT": "4000"}) == {"web": 7000, "worker": 7100}
    shown = project.run("config", env={"PORT": "4000"}).stdout
    assert "port base  3000  (from PORT in the env file)" in shown
    project.write(".env", "PORT=http\n")
    bad = project.run("check")
    assert bad.returncode == 2 and "PORT='http' in the env file is not a port number" in bad.stderr


@pytest.mark.timeout(60)
def test_a_started_service_listens_on_the_port_from_the_environment(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": f"web: {LISTEN}\n"})
    port = free_port()
    started = project.run("start", env={"PORT": str(port)})
    assert started.returncode == 0, started.stdout + started.stderr
    assert status_of(project)["web"]["listening"] == [port]
    assert project.run("stop").returncode == 0
    assert port_free(port)


def test_env_files_given_with_e_replace_the_project_s_and_apply_in_order(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {"Procfile": "web: true\n", ".env": "A=dotenv\n", "a.env": "A=1\n", "b.env": "A=2\nB=3\n"}
    )
    ran = project.run("run", "-e", "a.env", "-e", "b.env", "--", *PRINT_ENV)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "env 2 3"
    comma = project.run("config", "--json", "-e", "a.env,b.env", "--show-secrets")
    env = json.loads(comma.stdout)["services"][0]["env"]
    assert env["A"] == "2" and env["B"] == "3"
    missing = project.run("check", "-e", "nope.env")
    assert missing.returncode == 2 and "nope.env" in missing.stderr


@pytest.mark.timeout(60)
def test_a_formation_runs_copies_one_port_apart_and_leaves_out_a_zero(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": f"web: {LISTEN}\nworker: {hostile()}\n"})
    base = free_port()
    started = project.run("start", "-m", "web=2,worker=0", "-p", str(base))
    assert started.returncode == 0, started.stdout + started.stderr
    services = status_of(project)
    assert services["web.1"]["listening"] == [base]
    assert services["web.2"]["listening"] == [base + 1]
    assert "worker" not in services or services["worker"]["state"] == "stopped"
    pids = [services["web.1"]["pid"], services["web.2"]["pid"]]
    worker = project.run("start", "worker")  # without -m: the copies stay supervised
    assert worker.returncode == 0, worker.stdout + worker.stderr
    services = status_of(project)
    assert services["web.2"]["state"] == "ready" and services["worker"]["state"] == "ready"
    shown = project.run("logs")  # each copy has its own log
    assert re.search(r"^web\.1 +\| main: ready", shown.stdout, re.M), shown.stdout
    assert re.search(r"^web\.2 +\| main: ready", shown.stdout, re.M), shown.stdout
    assert "web.1" not in project.run("logs", "web.2").stdout
    one = project.run("stop", "web.2")  # a copy by name, without -m
    assert one.returncode == 0, one.stdout + one.stderr
    assert status_of(project)["web.2"]["state"] == "stopped"
    stopped = project.run("stop")  # no -m: the copies are still stopped
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(pid_alive(pid) for pid in pids)
    bad = project.run("start", "-m", "web=two")
    assert bad.returncode == 2 and "NAME=COUNT" in bad.stderr


@pytest.mark.timeout(60)
def test_start_names_and_except_choose_what_starts(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("api", hostile())
        + service_toml("web", hostile(), depends_on=["api"])
        + service_toml("css", hostile()),
    )
    started = project.run("start", "--except", "css")
    assert started.returncode == 0, started.stdout + started.stderr
    services = status_of(project)
    assert services["api"]["state"] == services["web"]["state"] == "ready"
    assert services["css"]["state"] == "stopped"
    needed = project.run("start", "--except", "api")
    assert needed.returncode == 2 and "'web' depends on it" in needed.stderr
    assert project.run("start", "css").returncode == 0
    assert status_of(project)["css"]["state"] == "ready"
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_up_without_timestamps_prints_the_name_first(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": f"web: {hostile()}\n"})
    up = subprocess.Popen(
        [*corral_command(), "up", "--no-timestamp"],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert up.stdout is not None
        lines = []
        for line in up.stdout:
            lines.append(line)
            if "main: ready" in line:
                break
        assert any(line.startswith("web | main: ready") for line in lines), lines
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=30)
        assert up.returncode == 130, rest  # Ctrl-C: 128 + SIGINT, as honcho
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()


def test_check_validates_and_names_the_services(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: true\nworker: true\n"})
    good = project.run("check")
    assert good.returncode == 0 and "valid (web, worker)" in good.stdout
    assert project.run("config", "--quiet").stdout == ""
    project.write("Procfile", "web: true\nthis is not a line\n")
    bad = project.run("check")
    assert bad.returncode == 2 and re.search(r"Procfile:2", bad.stderr), bad.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["start", "-c", "web=2"], "-m web=2"),
        (["start", "--concurrency", "web=2"], "-m/--formation"),
        (["start", "-x", "css"], "--except NAME"),
        (["up", "-D"], "corral start runs in the background"),
        (["start", "-d", "app"], "-C DIR"),
        (["start", "--no-color"], "NO_COLOR=1"),
        (["start", "--can-die", "release"], "oneshot = true"),
    ],
)
def test_options_from_other_tools_get_the_corral_equivalent(
    corral_project, words, expected
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: true\n"})
    result = project.run(*words)
    assert result.returncode == 2
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    as_json = json.loads(project.run(*words, "--json").stdout)
    assert as_json["error"]["code"] == "usage" and expected in as_json["error"]["hint"]
