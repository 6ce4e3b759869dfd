"""The fast path of `corral status` answers exactly as the full path does, or steps aside."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from corral.digest import sha256_hex
from corral.fastpath import _parse, _project_root
from corral.paths import project_id
from harness import hostile, pid_alive, service_toml, wait_until


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
        (["status", "-f", "x"], None),
        (["status", "web"], None),
        (["stop", "web"], None),
        (["stop", "--hurry"], None),
        (["logs"], None),
        ([], None),
    ],
)
def test_only_plain_status_and_stop_take_the_fast_path(argv: list[str], parsed: object) -> None:
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
