"""``corral up``: foreground, merged output, Ctrl-C stops everything, a second Ctrl-C at once."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from harness import corral_command, hostile, pid_alive, read_pids, service_toml


def start_up(project) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [*corral_command(), "up"],
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
    try:
        lines = read_until(up, "Ctrl-C stops everything")
        lines += read_until(up, "parent: ready")
        text = "".join(lines)
        assert "one | main: ready" in text and "two | parent: ready" in text
        status = json.loads(project.run("status", "--json").stdout)  # another shell sees it
        assert {s["state"] for s in status["services"]} == {"ready"}
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=30)
        assert up.returncode == 0, rest
        assert "stopping everything (SIGINT)" in rest and "stopped: exited after SIGTERM" in rest
        assert "swept pid" in rest  # the double-forked daemon of two
        assert not any(pid_alive(pid) for pid in read_pids(pidfile))
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()


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
        read_until(up, "Ctrl-C stops everything")
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
