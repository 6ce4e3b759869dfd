"""``corral up``: foreground, merged output, Ctrl-C stops everything, a second Ctrl-C at once."""

from __future__ import annotations

import json
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import corral_command, hostile, pid_alive, read_pids, service_toml


def start_up(project, *options: str) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [*corral_command(), "up", *options],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never came; got {lines}")


@pytest.mark.timeout(60)
def test_up_merges_output_and_ctrl_c_stops_everything_with_a_summary(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml("one", hostile("--pidfile", str(pidfile)))
        + service_toml("two", hostile("--double-fork", "--pidfile", str(pidfile))),
    )
    up = start_up(project)
    lines = Lines(up)
    try:
        lines.expect("Ctrl-C stops everything")
        lines.expect("corral up: one, two ready")
        if not any("two | parent: ready" in line for line in lines.seen):
            lines.expect("two | parent: ready")
        assert any("one | main: ready" in line for line in lines.seen), lines.seen
        status = json.loads(project.run("status", "--json").stdout)  # another shell sees it
        assert {s["state"] for s in status["services"]} == {"ready"}
        up.send_signal(signal.SIGINT)
        rest = lines.rest()
        assert up.returncode == 130, rest  # as honcho: interrupted, even when all went well
        assert "stopping everything (SIGINT)" in rest and "stopped: exited after SIGTERM" in rest
        assert "swept pid" in rest  # the double-forked daemon of two
        assert not any(pid_alive(pid) for pid in read_pids(pidfile))
    finally:
        lines.close()


@pytest.mark.timeout(60)
def test_a_second_ctrl_c_kills_at_once(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "stubborn", hostile("--ignore-signals", "--pidfile", str(pidfile)), stop_timeout="60s"
        ),
    )
    up = start_up(project)
    try:
        read_until(up, "corral up: stubborn ready")
        up.send_signal(signal.SIGINT)
        read_until(up, "Ctrl-C again to kill at once")
        begun = time.monotonic()
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=30)
        assert time.monotonic() - begun < 20, "the second Ctrl-C must not wait out the 60 s grace"
        assert "killed with SIGKILL" in rest
        assert not any(pid_alive(pid) for pid in read_pids(pidfile))
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()


class Lines:
    """The output of a running ``corral up``, read by a thread so every wait is bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.queue.put(line)
        self.queue.put(None)

    def expect(self, marker: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"{marker!r} not within {timeout}s; got {self.seen}") from None
            if line is None:
                raise AssertionError(f"{marker!r} never came; up ended; got {self.seen}")
            self.seen.append(line)
            if marker in line:
                return line

    def rest(self, timeout: float = 30.0) -> str:
        """Everything after what was read, once ``up`` exited (within ``timeout``)."""
        self.process.wait(timeout=timeout)
        found = []
        while (line := self.queue.get(timeout=timeout)) is not None:
            found.append(line)
        self.seen += found
        self.close()
        return "".join(found)

    def close(self) -> None:
        """Kill ``up`` if it still runs, reap it and close its pipe (the reader then ends)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


def gated_service(gate: Path) -> str:
    """Prints a line at once, and its ready line only once ``gate`` exists."""
    code = (
        "import os, sys, time; print('early line', flush=True); "
        f"[time.sleep(0.02) for _ in iter(lambda: os.path.exists({str(gate)!r}), True)]; "
        "print('ready now', flush=True); time.sleep(60)"
    )
    return f"{sys.executable} -c {shlex.quote(code)}"


def stamp_of(line: str) -> float:
    """The seconds since midnight (local) of an ``HH:MM:SS.mmm name | text`` line."""
    hours, minutes, seconds = line.split()[0].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def seconds_today() -> float:
    now = time.localtime()
    return now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec + time.time() % 1


@pytest.mark.timeout(60)
def test_up_shows_lines_before_anything_is_ready_with_the_time_they_were_written(
    corral_project,
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    gate = project.root / "gate"
    project.write(
        "corral.toml", service_toml("web", gated_service(gate), ready={"log": "ready now"})
    )
    up = start_up(project)
    lines = Lines(up)
    try:
        early = lines.expect("web | early line")  # while web is not ready yet
        assert not gate.exists() and not any("ready in" in line for line in lines.seen)
        time.sleep(1.0)  # so that the time shown differs from when the gate opened
        opened = seconds_today()
        gate.touch()
        assert stamp_of(early) < opened - 0.5, (early, opened)  # written then, not shown later
        for marker in ("web | ready now", "corral up: web ready in"):  # in either order
            if not any(marker in line for line in lines.seen):
                lines.expect(marker)
        up.send_signal(signal.SIGINT)
        rest = lines.rest()
        assert up.returncode == 130, rest
    finally:
        lines.close()


def probe_fails(project) -> Path:  # type: ignore[no-untyped-def]
    pidfile = project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "web",
            hostile("--pidfile", str(pidfile)),
            ready={"log": "never printed", "timeout": "1s"},
        )
        + service_toml("worker", hostile("--pidfile", str(pidfile))),
    )
    return pidfile


@pytest.mark.timeout(60)
def test_a_failed_probe_is_reported_and_the_stack_keeps_running(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = probe_fails(project)
    up = start_up(project)
    lines = Lines(up)
    try:
        lines.expect("corral up: web not ready")
        lines.expect("web failed; the others keep running")
        status = json.loads(project.run("status", "--json").stdout)
        states = {s["name"]: s["state"] for s in status["services"]}
        assert states == {"web": "running", "worker": "ready"}, states
        assert up.poll() is None
        pids = read_pids(pidfile)
        assert pids and all(pid_alive(pid) for pid in pids)
        up.send_signal(signal.SIGINT)
        rest = lines.rest()
        assert up.returncode == 130, rest
        assert not any(pid_alive(pid) for pid in read_pids(pidfile))
    finally:
        lines.close()


@pytest.mark.timeout(60)
def test_exit_on_failure_stops_everything_when_a_probe_fails(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = probe_fails(project)
    up = start_up(project, "--exit-on-failure")
    try:
        output, _ = up.communicate(timeout=40)
        assert up.returncode == 1, output
        assert "web failed; stopping everything" in output
        assert read_pids(pidfile) and not any(pid_alive(pid) for pid in read_pids(pidfile))
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()


@pytest.mark.timeout(60)
def test_a_ctrl_c_while_up_is_still_starting_leaves_nothing_running(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    project.write("corral.toml", service_toml("web", hostile("--pidfile", str(pidfile))))
    up = start_up(project)
    lines = Lines(up)
    try:
        lines.expect("corral up: starting web")  # before the start request was even sent
        up.send_signal(signal.SIGINT)
        rest = lines.rest()
        assert up.returncode == 130, rest
        assert "stopping everything (SIGINT)" in rest
        status = json.loads(project.run("status", "--json").stdout)
        assert {s["state"] for s in status["services"]} <= {"stopped", "not running"}, status
        assert not any(pid_alive(pid) for pid in read_pids(pidfile))
    finally:
        lines.close()


@pytest.mark.timeout(60)
def test_up_shows_what_services_print_while_they_stop(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile("--slow-stop", "0.5")))
    up = start_up(project)
    lines = Lines(up)
    try:
        lines.expect("corral up: web ready")
        up.send_signal(signal.SIGINT)
        rest = lines.rest()
        assert up.returncode == 130, rest
        assert "web | main: stopping slowly" in rest and "web | main: done" in rest, rest
        assert rest.index("main: done") < rest.index("stopped"), rest  # before the summary
    finally:
        lines.close()
