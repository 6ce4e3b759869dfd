"""Load: many services, many projects, many concurrent callers; one supervisor each, no doubles."""

from __future__ import annotations

import json
import threading

import pytest

from harness import hostile, pid_alive, read_pids, service_toml, wait_until


@pytest.mark.timeout(180)
def test_fifty_services_in_one_project(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        "".join(service_toml(f"s{i}", hostile("--pidfile", str(pidfile))) for i in range(50)),
    )
    result = project.run("start", "--timeout", "120s", timeout=150)
    assert result.returncode == 0, result.stdout[-2000:]
    wait_until(lambda: len(read_pids(pidfile)) == 50, timeout=30, message="fifty services")
    status = json.loads(project.run("status", "--json").stdout)
    assert [s["state"] for s in status["services"]] == ["ready"] * 50
    assert project.run("stop", timeout=120).returncode == 0
    assert not any(pid_alive(pid) for pid in read_pids(pidfile))


@pytest.mark.timeout(240)
def test_twenty_projects_at_once(corral_project) -> None:  # type: ignore[no-untyped-def]
    projects = []
    for _ in range(20):
        project = corral_project()
        project.write(
            "corral.toml", service_toml("web", hostile("--pidfile", str(project.root / "pids")))
        )
        projects.append(project)
    results: dict[int, int] = {}

    def start(index: int) -> None:
        results[index] = projects[index].run("start", timeout=120).returncode

    threads = [threading.Thread(target=start, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(results.values()) == [0] * 20
    listed = json.loads(projects[0].run("ls", "--json").stdout)["projects"]
    assert {str(p.root) for p in projects} <= {item["root"] for item in listed}
    for project in projects:
        assert project.run("stop", timeout=60).returncode == 0
        assert len(read_pids(project.root / "pids")) == 1


@pytest.mark.timeout(240)
def test_twenty_concurrent_starts_and_stops_in_one_project(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("a", hostile("--pidfile", str(pidfile)))
        + service_toml("b", hostile("--pidfile", str(pidfile))),
    )
    codes: list[int] = []

    def call(operation: str) -> None:
        codes.append(project.run(operation, timeout=120).returncode)

    threads = [
        threading.Thread(target=call, args=("start" if i % 2 else "stop",)) for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(code in (0, 1) for code in codes), codes
    alive = [pid for pid in read_pids(pidfile) if pid_alive(pid)]
    assert len(alive) <= 2, f"a service runs twice: {alive}"
    assert project.run("stop", timeout=60).returncode == 0
    assert not any(pid_alive(pid) for pid in read_pids(pidfile))
