"""The fast path of `corral status` answers exactly as the full path does, or steps aside."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from corral.cli.fastpath import _parse
from corral.digest import sha256_hex
from corral.launch import prelaunch
from corral.paths import find_root as _project_root
from corral.paths import project_id
from harness import hostile, marked_processes, pid_alive, service_toml, wait_until

FAST_START = "configuration loaded for a client's start"  # the supervisor's log says so


def test_it_derives_the_same_project_id_and_root(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: x\n")
    (tmp_path / "sub" / "deep").mkdir(parents=True)
    root = _project_root(str(tmp_path / "sub" / "deep"))
    assert root == str(tmp_path.resolve())
    # the built-in digest both use agrees with OpenSSL's
    assert sha256_hex(root.encode()) == hashlib.sha256(root.encode()).hexdigest()
    assert hashlib.sha256(root.encode()).hexdigest()[:16] == project_id(tmp_path)


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        (["status"], ("status", ".", False)),
        (["ps", "--json"], ("status", ".", True)),
        (["-C", "d", "status"], ("status", "d", False)),
        (["stop", "--json"], ("stop", ".", True)),
        (["start"], ("start", ".", False)),
        (["-C", "d", "start", "--json"], ("start", "d", True)),
        (["start", "web"], None),
        (["start", "--no-wait"], None),
        (["start", "--tether", "auto"], None),
        (["status", "-f", "x"], None),
        (["status", "web"], None),
        (["stop", "web"], None),
        (["stop", "--hurry"], None),
        (["logs"], None),
        ([], None),
    ],
)
def test_only_plain_status_start_and_stop_take_the_fast_path(
    argv: list[str], parsed: object
) -> None:
    assert _parse(argv) == parsed


@pytest.mark.timeout(60)
def test_fast_and_full_status_agree(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    fast = json.loads(project.run("status", "--json").stdout)
    full = json.loads(
        project.run("status", "--json", "--file", "corral.toml").stdout
    )  # -f: full path
    for document in (fast, full):
        document["services"][0].pop("stale", None)
        for service in document["services"]:
            service.pop("started_at", None)
    assert fast["services"] == full["services"] and fast["source"] == full["source"] == "supervisor"
    human = project.run("-C", str(project.root), "status").stdout
    assert human.splitlines()[1].split() == [
        "NAME",
        "STATE",
        "PID",
        "UPTIME",
        "STARTED",
        "RESTARTS",
        "PORTS",
        "LAST",
        "EXIT",
    ]
    assert project.run("stop").returncode == 0
    offline = json.loads(project.run("status", "--json").stdout)  # no supervisor: the full path
    assert offline["source"] == "state file and process scan"


HEAVY = ("corral.model", "corral.config", "corral.oslayer", "psutil", "asyncio", "dataclasses")


def test_the_status_fast_path_imports_nothing_heavy(corral_project) -> None:  # type: ignore[no-untyped-def]
    """`corral status` is on agents' hot path: its budget is a few modules past Python's own
    start-up (bench/RESULTS.md). Each of these costs milliseconds it does not need."""
    project = corral_project()
    project.write("corral.toml", service_toml("web", "sleep 600"))
    assert project.run("start").returncode == 0
    for words in (["status"], ["status", "--json"]):
        result = project.run(*words, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert result.returncode == 0, result.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
        assert "corral.cli.fastpath" in imported  # the fast path did answer
        assert sorted(imported & set(HEAVY)) == [], words
    assert project.run("stop").returncode == 0


def test_the_config_command_loads_without_typing() -> None:
    """`corral config`'s fixed cost (bench/scale.py: imports, parser, handler) is within 2 ms of
    its 25 ms goal, and `typing` alone costs that: the handler's modules use it only in
    annotations."""
    import subprocess
    import sys

    code = (
        "import sys; import corral.cli, corral.cli.fastpath, corral.cli.parser, corral.cli.render;"
        " import corral.cli.cmd_config; print('typing' in sys.modules)"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stdout + result.stderr


@pytest.mark.timeout(90)
def test_fast_and_full_stop_agree(corral_project) -> None:  # type: ignore[no-untyped-def]
    """The same reports, the same exit code, the supervisor gone and nothing left either way."""
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("web", hostile())
        + service_toml("stubborn", hostile("--ignore-signals"), stop_timeout="1s"),
    )
    config = (project.root / "corral.toml").read_text()
    documents = []
    for argv in (["stop", "--json"], ["stop", "--json", "--file", "corral.toml"]):  # fast, full
        project.write("corral.toml", config)
        assert project.run("start").returncode == 0
        if argv == ["stop", "--json"]:  # the fast path never reads the configuration: prove it
            project.write("corral.toml", config + "[broken\n")
        state = json.loads((project.root / ".corral" / "state.json").read_text())
        supervisor = int(state["supervisor"]["pid"])
        result = project.run(*argv)
        assert result.returncode == 0, result.stdout
        documents.append(json.loads(result.stdout))
        wait_until(lambda pid=supervisor: not pid_alive(pid), message="the supervisor to exit")
    fast, full = (
        {(r["service"], r["outcome"], r["ok"], r["signal"]) for r in d["reports"]}
        for d in documents
    )
    assert (
        fast
        == full
        == {("web", "exited", True, "SIGTERM"), ("stubborn", "killed", True, "SIGTERM")}
    )
    assert documents[0].keys() == documents[1].keys()


def _environ_of(project, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    status = json.loads(project.run("status", "--json").stdout)
    pid = next(s["pid"] for s in status["services"] if s["name"] == name)
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _supervisor_up_nothing_running(project):  # type: ignore[no-untyped-def]
    """A project with one service, started cold (the full path launches the supervisor), then
    that service stopped: the supervisor stays up for a fast start."""
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    assert project.run("stop", "web").returncode == 0
    return project


@pytest.mark.timeout(90)
def test_fast_start_uses_the_current_files_and_the_callers_environment(corral_project) -> None:  # type: ignore[no-untyped-def]
    """With a supervisor up, `corral start` has it load the configuration: an edit made since
    it started and a .env expanded against the caller's environment both take effect."""
    project = corral_project()
    project.write(".env", "GREETING=${WHO:-nobody} says hi\n")
    _supervisor_up_nothing_running(project)
    project.write("corral.toml", service_toml("web", hostile()) + service_toml("api", hostile()))
    result = project.run("start", "--json", env={"WHO": "alice"})
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["failed"] is None
    assert {s["name"]: s["state"] for s in document["services"]} == {
        "web": "ready",
        "api": "ready",
    }
    assert _environ_of(project, "api")["GREETING"] == "alice says hi"
    assert FAST_START in (project.root / ".corral" / "supervisor.log").read_text()
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_fast_start_with_a_broken_config_reports_it_and_starts_nothing(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = _supervisor_up_nothing_running(corral_project())
    project.write("corral.toml", service_toml("web", hostile()) + "port = 'x'\n")
    result = project.run("start")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("corral: error: corral.toml:3:"), result.stderr
    status = json.loads(project.run("status", "--json").stdout)
    assert [(s["name"], s["state"]) for s in status["services"]] == [("web", "stopped")]
    assert status["source"] == "supervisor"
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_fast_start_declines_a_configured_lease(corral_project) -> None:  # type: ignore[no-untyped-def]
    """A ttl (like a tether) is resolved by the client: the full path does it."""
    project = _supervisor_up_nothing_running(corral_project())
    project.write("corral.toml", 'ttl = "1h"\n' + service_toml("web", hostile()))
    result = project.run("start", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((project.root / ".corral" / "state.json").read_text())["lease"] == 3600
    assert FAST_START not in (project.root / ".corral" / "supervisor.log").read_text()
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_cold_start_prelaunches_the_supervisor(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    result = project.run("start")
    assert result.returncode == 0, result.stdout + result.stderr
    log = (project.root / ".corral" / "supervisor.log").read_text()
    assert "(prelaunched)" in log and "supervising" in log
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_cold_start_with_a_broken_config_leaves_no_trace(corral_project) -> None:  # type: ignore[no-untyped-def]
    """The prelaunched guard and supervisor exit when the configuration is refused: exit 2, no
    state directory, and no process left (the leak guard checks that after the test)."""
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()) + "port = 'x'\n")
    result = project.run("start")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("corral: error: corral.toml:3:"), result.stderr
    assert not (project.root / ".corral").exists()


@pytest.mark.timeout(60)
def test_a_held_guard_and_supervisor_let_go_exit_without_a_trace(corral_project) -> None:  # type: ignore[no-untyped-def]
    """Both really start (they carry the project's marker), hold without touching the project,
    and exit once abandoned."""
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    prelaunch.prelaunch(str(project.root), project.id)
    try:

        def both_up() -> bool:
            commands = marked_processes({project.id}, None).values()
            return {"corral.launch.guard", "corral.supervisor.daemon"} <= {
                c.split()[2] for c in commands
            }

        wait_until(both_up, message="the held guard and supervisor")
    finally:
        prelaunch.abandon()
    wait_until(
        lambda: not marked_processes({project.id}, None), message="the held processes to exit"
    )
    assert not (project.root / ".corral").exists()
