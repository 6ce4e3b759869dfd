"""``corral ui`` in a real terminal: a private tmux server, 80x24, keys sent with send-keys and
the screen read with capture-pane. Everything it shows is checked against ``corral status``."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from harness import corral_command, pid_alive, wait_until

pytest.importorskip("textual")
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

PROCFILE = (
    "web: python3 -c 'import time; print(\"web up\", flush=True); time.sleep(3600)'\n"
    "worker: sh -c 'while true; do echo tick; sleep 1; done'\n"
)


class Pane:
    """One 80x24 tmux pane running ``command``, then printing its exit code."""

    def __init__(self, tmp_path: Path, command: str) -> None:
        conf = tmp_path / "tmux.conf"
        conf.write_text("set -g remain-on-exit on\n")
        self.base = ["tmux", "-L", f"corral-ui-{uuid.uuid4().hex[:8]}", "-f", str(conf)]
        line = f"{command}; echo UI-EXIT=$?; sleep 60"
        subprocess.run(
            [*self.base, "new-session", "-d", "-x", "80", "-y", "24", line], check=True, timeout=10
        )

    def screen(self) -> str:
        found = subprocess.run(
            [*self.base, "capture-pane", "-p"], capture_output=True, text=True, timeout=10
        )
        return found.stdout

    def until(self, predicate, timeout: float, message: str) -> None:  # type: ignore[no-untyped-def]
        """``wait_until``, failing with the screen as it was."""
        wait_until(predicate, timeout=timeout, message=message, detail=self.screen)

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", *keys], check=True, timeout=10)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], timeout=10)


def ui_command(root: Path) -> str:
    return shlex.join([*corral_command(), "ui", "-C", str(root)])


def pids(project) -> dict[str, int]:  # type: ignore[no-untyped-def]
    document = json.loads(project.run("status", "--json").stdout)
    return {s["name"]: s["pid"] for s in document["services"]}


def row(screen: str, name: str) -> list[str]:
    found = [line.split() for line in screen.splitlines() if line.split()[:1] == [name]]
    return found[0] if found else []


@pytest.mark.timeout(90)
def test_the_dashboard_shows_restarts_and_quits_leaving_services_running(
    corral_project, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": PROCFILE})
    assert project.run("start", timeout=60).returncode == 0
    before = pids(project)
    pane = Pane(tmp_path, ui_command(project.root))
    try:
        expected = ["worker", "ready", str(before["worker"])]
        pane.until(
            lambda: row(pane.screen(), "worker")[:3] == expected and "q quit" in pane.screen(),
            timeout=30,
            message="the service list and the keys",
        )
        screen = pane.screen()
        assert row(screen, "web")[:3] == ["web", "ready", str(before["web"])], screen
        assert "web up" in screen  # the selected (first) service's log
        assert "q quit" in screen and "Q stop+quit" in screen  # every key shown fits 80 columns
        pane.keys("Down")
        pane.until(lambda: "tick" in pane.screen(), timeout=20, message="the worker's log")
        pane.keys("r")
        wait_until(
            lambda: pids(project)["worker"] not in (None, before["worker"]),
            timeout=30,
            message="the worker restarted from the keyboard",
        )
        after = pids(project)["worker"]
        pane.until(
            lambda: row(pane.screen(), "worker")[2:3] == [str(after)],
            timeout=20,
            message="the new pid on screen",
        )
        assert not pid_alive(before["worker"]) and pids(project)["web"] == before["web"]
        pane.keys("q")
        pane.until(lambda: "UI-EXIT=0" in pane.screen(), timeout=20, message="the ui to quit")
        assert "services keep running" in pane.screen()
        assert pids(project) == {"web": before["web"], "worker": after}  # quitting stops nothing
    finally:
        pane.close()
    assert project.run("stop").returncode == 0


SLOW_TEXTUAL = """\
import importlib.abc, sys, time


class Slow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "textual":
            time.sleep(4)  # a very slow disk: the dashboard's library takes 4 s to load
        return None


sys.meta_path.insert(0, Slow())
"""


@pytest.mark.timeout(90)
def test_the_services_are_on_screen_while_the_dashboard_loads(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": PROCFILE})
    assert project.run("start", timeout=60).returncode == 0
    started = pids(project)
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_TEXTUAL)
    # CORRAL_JSON=1 (as an agent's shell may set it) must not turn the screen into JSON
    command = f"env CORRAL_JSON=1 PYTHONPATH={shlex.quote(str(slow))} {ui_command(project.root)}"
    pane = Pane(tmp_path, command)
    try:
        pane.until(lambda: "loading the dashboard" in pane.screen(), 20, "the plain table")
        screen = pane.screen()
        for name, pid in started.items():  # corral status's table: "ready (no probe)  PID"
            assert row(screen, name)[:2] == [name, "ready"] and str(pid) in row(screen, name)
        assert "q quit" not in screen  # the dashboard itself is still loading
        pane.until(lambda: "q quit" in pane.screen(), 30, "the dashboard")
        assert "loading the dashboard" not in pane.screen()
        pane.keys("q")
        pane.until(lambda: "UI-EXIT=0" in pane.screen(), 20, "the ui to quit")
    finally:
        pane.close()
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(90)
def test_shift_q_stops_everything_and_quits(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": PROCFILE})
    assert project.run("start", timeout=60).returncode == 0
    started = pids(project)
    pane = Pane(tmp_path, ui_command(project.root))
    try:
        pane.until(
            lambda: row(pane.screen(), "web")[1:2] == ["ready"],
            timeout=30,
            message="the service list",
        )
        pane.keys("Q")
        pane.until(lambda: "UI-EXIT=0" in pane.screen(), timeout=40, message="the ui to quit")
        assert "stopped every service" in pane.screen()
    finally:
        pane.close()
    assert not any(pid_alive(pid) for pid in started.values())


def test_without_a_terminal_ui_exits_2_with_a_hint(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": PROCFILE})
    result = project.run("ui")
    assert result.returncode == 2 and result.stdout == ""
    assert "ui needs a terminal" in result.stderr and "corral status" in result.stderr


PROMPTER = (
    "import sys\n"
    "while True:\n"
    "    answer = input('your name? ')\n"
    "    print(f'hello {answer}', flush=True)\n"
)


@pytest.mark.timeout(90)
def test_filter_doctor_and_attaching_in_place(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("ask.py", PROMPTER)
    project.write(
        "corral.toml",
        '[services.ask]\ncommand = "python3 ask.py"\ntty = true\n\n'
        '[services.web]\ncommand = "python3 -c \'import time; print(\\"web up\\", flush=True); '
        "time.sleep(3600)'\"\n",
    )
    assert project.run("start", timeout=60).returncode == 0
    asker = pids(project)["ask"]
    pane = Pane(tmp_path, ui_command(project.root))
    try:
        pane.until(lambda: "your name?" in pane.screen(), timeout=30, message="ask's log")
        pane.keys("Down")
        pane.until(lambda: "web up" in pane.screen(), timeout=20, message="web's log")
        pane.keys("/")
        pane.until(lambda: "filter the log" in pane.screen(), timeout=20, message="the filter box")
        pane.keys("nothing-like-this", "Enter")
        pane.until(lambda: "web up" not in pane.screen(), timeout=20, message="the filter")
        pane.keys("/")
        pane.until(lambda: "filter the log" in pane.screen(), timeout=20, message="an empty box")
        pane.keys("Enter")  # an empty filter shows everything again
        pane.until(lambda: "web up" in pane.screen(), timeout=20, message="the filter cleared")
        pane.keys("d")
        pane.until(lambda: "doctor:" in pane.screen(), timeout=30, message="doctor's report")
        pane.keys("Up", "a")  # ask: attach in place, type a line, detach with Ctrl-]
        pane.until(lambda: "Ctrl-]" in pane.screen(), timeout=20, message="the attach banner")
        pane.keys("Ada", "Enter")
        pane.until(lambda: "hello Ada" in pane.screen(), timeout=20, message="the answer")
        pane.keys("C-]")
        pane.until(lambda: "detached from ask" in pane.screen(), timeout=20, message="the ui")
        assert pids(project)["ask"] == asker  # detaching leaves it running
        pane.keys("q")
        pane.until(lambda: "UI-EXIT=0" in pane.screen(), timeout=20, message="the ui to quit")
    finally:
        pane.close()
    assert project.run("stop").returncode == 0


CHATTY = (
    "import time\n"
    "for n in range(30): print(f'filler {n}')\n"
    "print('needle one')\n"
    "for n in range(30, 60): print(f'filler {n}')\n"
    "print('needle two')\n"
    "for n in range(60, 90): print(f'filler {n}')\n"
    "n = 0\n"
    "while True:\n"
    "    n += 1; print(f'tick {n}', flush=True); time.sleep(0.2)\n"
)


@pytest.mark.timeout(90)
def test_searching_the_log_steps_between_matches_and_holds_the_place(
    corral_project, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "chatty: python3 -u chatty.py\n"})
    project.write("chatty.py", CHATTY)
    assert project.run("start", timeout=60).returncode == 0
    pane = Pane(tmp_path, ui_command(project.root))
    try:
        pane.until(lambda: "tick 3" in pane.screen(), 30, "the log, followed")
        assert "needle" not in pane.screen()  # the pane follows the end of the log
        pane.keys("f")
        pane.until(lambda: "find in the log" in pane.screen(), 20, "the find box")
        pane.keys("needle", "Enter")
        pane.until(lambda: "match 2 of 2" in pane.screen(), 20, "the newest match")
        ticks = project.run("logs", "chatty").stdout.count("tick")
        wait_until(  # the view stays on the match as lines arrive (it once jumped to the end)
            lambda: project.run("logs", "chatty").stdout.count("tick") > ticks + 1, 30, "ticks"
        )
        assert "needle two" in pane.screen(), pane.screen()
        pane.keys("n")
        pane.until(lambda: "match 1 of 2" in pane.screen(), 20, "the older match")
        screen = pane.screen()
        assert "needle one" in screen and "needle two" not in screen
        ticks = [line for line in screen.splitlines() if "tick" in line]
        wait_until(lambda: "tick 25" in project.run("logs", "chatty").stdout, 30, "more ticks")
        assert "needle one" in pane.screen()  # new lines did not move the view away
        assert [line for line in pane.screen().splitlines() if "tick" in line] == ticks
        pane.keys("N")
        pane.until(lambda: "match 2 of 2" in pane.screen(), 20, "the newer match")
        pane.keys("f")
        pane.until(lambda: "find in the log" in pane.screen(), 20, "the find box again")
        pane.keys("Enter")  # no search: the pane follows the end again
        pane.until(lambda: "needle" not in pane.screen(), 20, "the end of the log")
        pane.keys("?")
        pane.until(lambda: "the older match" in pane.screen(), 20, "every key listed")
        pane.keys("q")
        pane.until(lambda: "UI-EXIT=0" in pane.screen(), 20, "the ui to quit")
    finally:
        pane.close()
    assert project.run("stop").returncode == 0
