"""``corral restart api`` stops what depends on api first, and starts all of it again."""

from __future__ import annotations

import json

import pytest

from harness import ProjectDir, hostile, pid_alive, service_toml


def status_of(project: ProjectDir) -> dict[str, dict]:
    result = project.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


@pytest.mark.timeout(60)
def test_restart_brings_back_every_dependent_it_stopped_in_order(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("api", hostile())
        + service_toml("web", hostile(), depends_on=["api"])
        + service_toml("admin", hostile(), depends_on=["web"], autostart=False)
        + service_toml("worker", hostile()),
    )
    assert project.run("start").returncode == 0
    assert project.run("start", "admin").returncode == 0
    before = status_of(project)
    restarted = project.run("restart", "api")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "restarted with them (they depend on them): web, admin" in restarted.stdout
    after = status_of(project)
    for name in ("api", "web", "admin"):
        assert after[name]["state"] == "ready", after[name]
        assert after[name]["pid"] != before[name]["pid"]
        assert not pid_alive(before[name]["pid"])
    assert after["worker"]["pid"] == before["worker"]["pid"]  # not a dependent: untouched
    document = json.loads(project.run("restart", "web", "--json").stdout)
    assert document["dependents"] == ["admin"]
    assert [r["service"] for r in document["reports"]] == ["web", "admin"]
    started = [s["name"] for s in document["services"]]
    assert started.index("web") < started.index("admin")
    assert project.run("stop").returncode == 0
