"""Logs of services run by a real supervisor: markers, diagnoses, merged order."""

from __future__ import annotations

import json
import sys

import pytest

from harness import service_toml


@pytest.mark.timeout(90)
def test_the_started_marker_comes_before_the_service_s_first_line(corral_project) -> None:  # type: ignore[no-untyped-def]
    """Regression: the supervisor wrote "started pid" after spawning, so a quick service's first
    line could come before it."""
    project = corral_project()
    script = "import time; print('first line', flush=True); time.sleep(60)"
    command = [sys.executable, "-c", script]
    project.write("corral.toml", service_toml("quick", command, ready={"log": "first line"}))
    for _ in range(3):  # each run, including restarts
        assert project.run("restart", "--json", timeout=60).returncode == 0
    lines = (project.root / ".corral/logs/quick.log").read_text().splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("--- corral: started pid")]
    firsts = [n for n, line in enumerate(lines) if line == "first line"]
    assert len(starts) == len(firsts) == 3
    assert all(start < first for start, first in zip(starts, firsts, strict=True))
    assert project.run("stop", timeout=60).returncode == 0


def output(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("--- corral:")]


@pytest.mark.timeout(90)
def test_a_start_failure_shows_the_log_of_this_run_only(corral_project) -> None:  # type: ignore[no-untyped-def]
    """Regression: the diagnosis's log tail mixed in earlier runs' output."""
    project = corral_project()
    script = (
        "import pathlib, sys; p = pathlib.Path('runs'); n = int(p.read_text() or 0) + 1 "
        "if p.exists() else 1; p.write_text(str(n)); print(f'run {n} failing', flush=True); "
        "sys.exit(3)"
    )
    project.write("corral.toml", service_toml("flaky", [sys.executable, "-c", script]))
    first = json.loads(project.run("start", "--json", timeout=60).stdout)
    assert output(first["diagnosis"]["log_tail"]) == ["run 1 failing"]
    second = json.loads(project.run("start", "--json", timeout=60).stdout)
    assert second["error"]["code"] == "start_failed"
    assert output(second["diagnosis"]["log_tail"]) == ["run 2 failing"]
    project.run("stop", timeout=60)


@pytest.mark.timeout(90)
def test_lines_of_two_services_100ms_apart_merge_in_the_order_written(corral_project) -> None:  # type: ignore[no-untyped-def]
    """Regression: lines were timed by 0.5 s samples, so lines of two services written 50 ms
    apart came out grouped by service. Two services take turns through files, 100 ms apart."""
    project = corral_project()
    turn = (
        "import pathlib, sys, time\n"
        "me, other, lines = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
        "for n in range(lines):\n"
        "    if me == 'b' or n:\n"
        "        flag = pathlib.Path(f'{other}{n if me == \"b\" else n - 1}')\n"
        "        while not flag.exists(): time.sleep(0.005)\n"
        "        time.sleep(0.1)\n"
        "    print(f'{me}{n}', flush=True)\n"
        "    pathlib.Path(f'{me}{n}').touch()\n"
        "time.sleep(60)\n"
    )
    project.write("turn.py", turn)
    project.write(
        "corral.toml",
        service_toml("a", [sys.executable, "turn.py", "a", "b", "4"])
        + service_toml("b", [sys.executable, "turn.py", "b", "a", "4"], ready={"log": "b3"}),
    )
    assert project.run("start", "--json", timeout=60).returncode == 0
    shown = json.loads(project.run("logs", "--json", "-n", "100", timeout=30).stdout)["lines"]
    texts = [line["text"] for line in shown if not line["text"].startswith("---")]
    assert texts == ["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3"]
    times = [line["time"] for line in shown if not line["text"].startswith("---")]
    assert times == sorted(times)
    assert project.run("stop", timeout=60).returncode == 0
