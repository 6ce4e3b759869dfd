"""The engine constructed in this process, on a clock the test moves by hand: no supervisor,
no spawned services. What it decides from time (leases, idleness) follows the injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corral import oslayer
from corral.clock import ManualClock
from corral.model import ProjectSpec, RestartPolicy, ServiceSpec
from corral.paths import project_id
from corral.state import ProjectState
from corral.supervisor.engine import Engine


def make_engine(root: Path, clock: ManualClock, *services: ServiceSpec) -> Engine:
    pid = project_id(root)
    project = ProjectSpec(
        name="p", root=root, project_id=pid, config_files=(), services=tuple(services)
    )
    state = ProjectState(project_id=pid, root=str(root), boot_id=oslayer.boot_id())
    state_dir = root / ".corral"
    state_dir.mkdir(exist_ok=True)
    return Engine(project, state=state, state_dir=state_dir, log=lambda _line: None, clock=clock)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine(tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    spec = ServiceSpec("web", "true", tmp_path, {})
    made = make_engine(tmp_path, clock, spec)
    yield made
    if made.cgroup_root is not None:  # the engine made its project's cgroup: remove it
        oslayer.cgroup_remove(made.cgroup_root)


def test_lease_counts_down_on_the_injected_clock(engine: Engine, clock: ManualClock) -> None:
    engine.state.lease = 60.0
    engine.touch()
    clock.advance(45.5)
    assert engine.report.document()["lease"]["expires_in"] == 14.5
    engine.touch()  # any client contact starts the lease again
    assert engine.report.document()["lease"]["expires_in"] == 60.0


def test_events_carry_the_clocks_wall_time(engine: Engine, clock: ManualClock) -> None:
    clock.advance(2.0)
    event = engine.events.emit("supervisor_started", pid=1, run_id="r")
    assert event["time"] == round(clock.time(), 3)


# Seconds before each attempt (the first is the start), and what follows each failed spawn:
# restart_limit 3 within a 60 s window; backoff 0.5 s, doubling per exit in the window.
HISTORIES = {
    "three quick failures crash": ([0, 10, 10], ["backoff 0.5s", "backoff 1s", "crashed"]),
    "failures a window apart never crash": ([0, 70, 70, 70], ["backoff 0.5s"] * 4),
    "an old failure leaves the window": (
        [0, 10, 55, 10],
        ["backoff 0.5s", "backoff 1s", "backoff 1s", "backoff 1s"],
    ),
}


@pytest.mark.parametrize("gaps, expected", HISTORIES.values(), ids=HISTORIES.keys())
def test_a_service_that_cannot_spawn_backs_off_then_crashes_on_the_clock(
    tmp_path: Path, clock: ManualClock, gaps: list[float], expected: list[str]
) -> None:
    spec = ServiceSpec(
        "web",
        (str(tmp_path / "no-such-program"),),
        tmp_path,
        {},
        restart=RestartPolicy.ALWAYS,
        restart_limit=3,
        restart_window=60.0,
    )
    engine = make_engine(tmp_path, clock, spec)
    service = engine.services["web"]
    seen: list[str] = []

    async def attempts() -> None:
        for number, gap in enumerate(gaps):
            clock.advance(gap)
            if number == 0:
                await engine.start(["web"], 1.0, wait=False)
                for _ in range(100):  # the start proceeds on the loop's next turns
                    if not service.pending:
                        break
                    await asyncio.sleep(0)
            else:  # the backoff timer's work, at the clock's time instead of the loop's
                assert service.restart_timer is not None
                service.restart_timer.cancel()
                engine._restart_due(service)
            note = (service.record.note or "").removeprefix("restarting in ")
            seen.append(f"{service.state} {note}" if service.state == "backoff" else service.state)

    import asyncio

    asyncio.run(attempts())
    assert seen == expected


FORKER = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n    time.sleep(60)\n"
    "print('forked', flush=True)\ntime.sleep(60)\n"
)


def test_the_children_of_a_member_that_forked_are_recorded(
    tmp_path: Path, clock: ManualClock
) -> None:
    """What a fork event (macOS kqueue) leads to: the forking member's children are recorded as
    members, and a fork reported for a process that is no member records nothing."""
    import asyncio
    import subprocess
    import sys

    import psutil

    spec = ServiceSpec("web", (sys.executable, "-c", FORKER), tmp_path, {})
    engine = make_engine(tmp_path, clock, spec)
    service = engine.services["web"]
    stranger = subprocess.Popen([sys.executable, "-c", FORKER], stdout=subprocess.PIPE)

    async def scenario() -> tuple[set[int], set[int], set[int]]:
        await engine.start(["web"], 5.0, wait=False)
        for _ in range(500):
            if service.run is not None and psutil.Process(service.run.pid).children():
                break
            await asyncio.sleep(0.01)
        assert service.run is not None
        leader = service.run.pid
        child = {c.pid for c in psutil.Process(leader).children()}
        before = {m.pid for m in service.run.record.members}
        engine.housekeeping.record_children([stranger.pid])  # not ours: nothing recorded
        engine.housekeeping.record_children([leader])
        after = {m.pid for m in service.run.record.members}
        await engine.stop(["web"])
        return child, before, after

    try:
        assert stranger.stdout is not None and stranger.stdout.readline() == b"forked\n"
        strangers_child = {c.pid for c in psutil.Process(stranger.pid).children()}
        child, before, after = asyncio.run(scenario())
        assert len(child) == 1 and not child & before
        assert after == before | child
        assert not strangers_child & after
    finally:
        for process in [*psutil.Process(stranger.pid).children(), stranger]:
            process.kill()
        stranger.wait(timeout=10)
        assert stranger.stdout is not None
        stranger.stdout.close()
        if engine.cgroup_root is not None:
            oslayer.cgroup_remove(engine.cgroup_root)
