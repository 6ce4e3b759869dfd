"""What a person sees in a real terminal: the start progress in an 80-column tmux pane, and
Ctrl-C typed into a pty (the terminal driver turns it into SIGINT for the foreground group)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path

import pytest

from harness import corral_command, hostile, service_toml, wait_until

# With its state and note, the progress line of this service is longer than 80 columns.
LONG_NAME = "a-service-with-a-name-long-enough-to-wrap-at-eighty-columns"


def gated(gate: Path) -> str:
    """A service whose ready line comes only once ``gate`` exists."""
    code = (
        "import os, time\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.02)\n"
        "print('ready now', flush=True); time.sleep(60)"
    )
    return f"{sys.executable} -c {shlex.quote(code)}"


class Tmux:
    """A private tmux server with one 80-column pane running ``command``."""

    def __init__(self, tmp_path: Path, command: str) -> None:
        conf = tmp_path / "tmux.conf"
        # scroll-on-clear off: tmux would move the screen into its history on each redraw
        # from the top row, which a terminal emulator does not do
        conf.write_text(
            "set -g remain-on-exit on\nset -g history-limit 5000\nset -g scroll-on-clear off\n"
        )
        self.base = ["tmux", "-L", f"corral-test-{uuid.uuid4().hex[:8]}", "-f", str(conf)]
        subprocess.run(
            [*self.base, "new-session", "-d", "-x", "80", "-y", "40", command],
            check=True,
            timeout=10,
        )

    def pane(self) -> str:
        found = subprocess.run(
            [*self.base, "capture-pane", "-p", "-S", "-"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return found.stdout

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], timeout=10)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.timeout(90)
def test_start_progress_leaves_no_stale_lines_at_80_columns(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    gate = project.root / "gate"
    project.write("corral.toml", service_toml(LONG_NAME, gated(gate), ready={"log": "ready now"}))
    command = shlex.join([*corral_command(), "start", "-C", str(project.root)])
    tmux = Tmux(tmp_path, f"{command}; echo START-DONE")
    try:
        wait_until(lambda: "starting" in tmux.pane(), timeout=30, message="the progress line")
        time.sleep(1.5)  # several redraws (every 0.2 s) while the service is not ready
        gate.touch()
        wait_until(lambda: "START-DONE" in tmux.pane(), timeout=30, message="the start to end")
        rows = [row for row in tmux.pane().splitlines() if row.startswith(LONG_NAME[:40])]
        assert len(rows) == 1, "\n".join(rows)  # the final report only: no redraw left behind
        assert "ready" in rows[0]
    finally:
        tmux.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.timeout(90)
def test_a_long_stop_shows_who_is_still_waited_for_and_the_sigkill_countdown(
    corral_project, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("stubborn", hostile("--ignore-signals"), stop_timeout="4s"),
    )
    assert project.run("start").returncode == 0
    command = shlex.join([*corral_command(), "stop", "-C", str(project.root)])
    tmux = Tmux(tmp_path, f"{command}; echo STOP-DONE")
    try:
        wait_until(
            lambda: "waiting for stubborn to exit" in tmux.pane(), timeout=20, message="the wait"
        )
        assert "SIGKILL in" in tmux.pane()
        wait_until(lambda: "STOP-DONE" in tmux.pane(), timeout=30, message="the stop to end")
        screen = tmux.pane()
        assert "waiting for" not in screen, screen  # cleared once the stop ended
        assert "SIGKILL" in screen, screen  # the report says how it ended
    finally:
        tmux.close()


def run_in_pty(argv: list[str], cwd: Path, until: bytes, timeout: float = 30) -> tuple[int, str]:
    """Run ``argv`` as a session leader on a new 80x24 pty; once ``until`` shows, type Ctrl-C.
    Returns its exit code (128 + signal if a signal ended it) and all it wrote. A child still
    running at ``timeout`` gets SIGABRT, so its output ends with where each thread was
    (faulthandler), and the test fails with that instead of hanging."""
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        try:
            os.chdir(cwd)
            # As a shell gives a foreground job: a runner that started the tests in the
            # background (``cmd &`` without job control) left SIGINT ignored, and Python keeps
            # an ignored SIGINT ignored.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execve(argv[0], argv, {**os.environ, "PYTHONFAULTHANDLER": "1"})
        finally:
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    output, typed, aborted = b"", False, False
    deadline = time.monotonic() + timeout
    try:
        while True:
            if not aborted and time.monotonic() >= deadline:
                os.kill(pid, signal.SIGABRT)  # the tracebacks go to the pty
                aborted, deadline = True, time.monotonic() + 5
            elif aborted and time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
                break
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not typed and until in output:
                os.write(master, b"\x03")  # Ctrl-C, as typed
                typed = True
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    code = os.waitstatus_to_exitcode(status)
    return (128 - code if code < 0 else code), output.decode(errors="replace")


@pytest.mark.timeout(60)
def test_ctrl_c_ends_logs_follow_quietly_with_130(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    code = "import time\nprint('hello from web', flush=True)\ntime.sleep(60)"
    project.write(
        "corral.toml",
        service_toml("web", f"{sys.executable} -c {shlex.quote(code)}", ready={"log": "hello"}),
    )
    assert project.run("start").returncode == 0
    status, output = run_in_pty([*corral_command(), "logs", "-f"], project.root, b"hello from web")
    assert status == 130, output
    assert "interrupted" not in output and "Traceback" not in output, output


@pytest.mark.timeout(60)
def test_ctrl_c_in_up_exits_130_after_stopping_everything(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    code = "import time\nprint('hello from web', flush=True)\ntime.sleep(60)"
    project.write(
        "corral.toml",
        service_toml("web", f"{sys.executable} -c {shlex.quote(code)}", ready={"log": "hello"}),
    )
    status, output = run_in_pty([*corral_command(), "up"], project.root, b"web ready in")
    assert status == 130, output
    assert "stopping everything (SIGINT)" in output and "stopped" in output, output
    assert "interrupted" not in output, output
