"""Services with ``tty = true``: a real pseudo-terminal held by the supervisor, its output in the
service's log, and every containment layer kept. Real processes; each test bounded."""

from __future__ import annotations

import json
import sys
import termios

import pytest

from harness import (
    ProjectDir,
    free_port,
    hostile,
    pid_alive,
    port_free,
    read_pids,
    service_toml,
    wait_until,
)

TERMINAL_CHECK = (
    "import os, sys, time\n"
    "tty = sys.stdin.isatty() and sys.stdout.isatty() and sys.stderr.isatty()\n"
    "size = os.get_terminal_size(1) if tty else None\n"
    "print(f'isatty={tty} size={size.columns if size else 0}x{size.lines if size else 0}')\n"
    "lead = os.getsid(0) == os.getpgid(0) == os.getpid() and os.tcgetpgrp(0) == os.getpid()\n"
    "print(f'leads its session and terminal: {lead}')\n"
    "print(('\\x1b[31mred\\x1b[0m' if tty else 'plain') + ' line', flush=True)\n"
    "time.sleep(3600)\n"
)


def start_ok(project: ProjectDir, *args: str) -> dict:
    result = project.run("start", "--json", *args, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def logs_text(project: ProjectDir, *args: str) -> str:
    result = project.run("logs", "web", *args, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.timeout(60)
def test_tty_service_has_a_terminal_and_its_output_reaches_the_log(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("check.py", TERMINAL_CHECK)
    project.write(
        "corral.toml",
        service_toml("web", [sys.executable, "check.py"], tty=True),  # type: ignore[arg-type]
    )
    start_ok(project)
    wait_until(lambda: "line" in logs_text(project), message="the service's output in its log")
    raw = logs_text(project, "--color=always")
    assert "isatty=True size=120x40" in raw
    assert "leads its session and terminal: True" in raw
    assert "\x1b[31mred\x1b[0m line" in raw  # the terminal's colour, as written
    assert "\r" not in raw  # the line discipline's CR before LF is not in the log
    plain = logs_text(project)
    assert "red line" in plain and "\x1b" not in plain
    document = json.loads(project.run("--json", "logs", "web", "--color=always").stdout)
    assert "red line" in [line["text"] for line in document["lines"]]
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_tty_size_sets_the_terminals_size(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("check.py", TERMINAL_CHECK)
    command = [sys.executable, "check.py"]
    project.write("corral.toml", service_toml("web", command, tty=True, tty_size="200x50"))  # type: ignore[arg-type]
    start_ok(project)
    wait_until(lambda: "line" in logs_text(project), message="the service's output in its log")
    assert "isatty=True size=200x50" in logs_text(project)
    assert project.run("stop").returncode == 0


@pytest.mark.parametrize("size", ["120", "10x40", "120x40x2", "wide"])
def test_a_bad_tty_size_names_the_file_line_and_format(corral_project, size) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", "sleep 60", tty=True, tty_size=size))
    result = project.run("start")
    assert result.returncode == 2 and result.stdout == ""
    assert "corral.toml:4" in result.stderr and "tty_size" in result.stderr, result.stderr
    assert "120x40" in result.stderr or "out of range" in result.stderr, result.stderr


@pytest.mark.timeout(60)
def test_tty_service_ignoring_sighup_that_double_forks_is_stopped(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    command = hostile(
        "--double-fork", "--ignore-signals", "--listen", str(port), "--pidfile", str(pidfile)
    )
    project.write("corral.toml", service_toml("web", command, tty=True, stop_timeout="1s"))
    start_ok(project)
    wait_until(
        lambda: "daemon" in read_pids(pidfile).values() and not port_free(port),
        message="the daemon to listen",
    )
    wait_until(lambda: "daemon: ready" in logs_text(project), message="output through the pty")
    result = project.run("stop", "--json", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)["reports"][0]
    assert report["ok"], report
    alive = {pid: role for pid, role in read_pids(pidfile).items() if pid_alive(pid)}
    assert not alive, f"still alive after stop: {alive}"
    assert port_free(port)


@pytest.mark.timeout(60)
def test_tty_leader_ignoring_every_signal_is_killed_after_its_grace(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    pidfile = project.root / "pids"
    command = hostile("--ignore-signals", "--pidfile", str(pidfile))
    project.write("corral.toml", service_toml("web", command, tty=True, stop_timeout="0.5s"))
    start_ok(project)
    wait_until(lambda: "main: ready" in logs_text(project), message="output through the pty")
    result = project.run("stop", "--json", timeout=60)
    report = json.loads(result.stdout)["reports"][0]
    assert result.returncode == 0 and report["ok"], report
    assert report["outcome"] == "killed", report  # SIGTERM and the hang-up were both ignored
    assert not any(pid_alive(pid) for pid in read_pids(pidfile))


PROMPTER = (
    "import sys\n"
    "while True:\n"
    "    answer = input('your name? ')\n"
    "    print(f'hello {answer} (terminal: {sys.stdin.isatty()})', flush=True)\n"
)

DEBUGGEE = (
    "import time\n"
    "def handler():\n"
    "    value = 6\n"
    "    breakpoint()\n"
    "    print('request complete', flush=True)\n"
    "handler()\n"
    "time.sleep(3600)\n"
)


@pytest.mark.timeout(60)
def test_send_reaches_a_program_reading_a_line_from_its_terminal(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("ask.py", PROMPTER)
    project.write("corral.toml", service_toml("web", [sys.executable, "ask.py"], tty=True))  # type: ignore[arg-type]
    start_ok(project)
    wait_until(lambda: "your name?" in logs_text(project), message="the prompt")
    sent = project.run("send", "web", "Ada", "Lovelace", "--wait-for", "hello", "--json")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    document = json.loads(sent.stdout)
    assert document["line"] == "hello Ada Lovelace (terminal: True)"
    assert document["bytes"] == len("Ada Lovelace\r")
    plain = project.run("send", "web", "Grace")
    assert plain.returncode == 0 and "sent 6 bytes" in plain.stdout
    wait_until(lambda: "hello Grace" in logs_text(project), message="the second answer")
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_send_answers_a_debugger_prompt(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("app.py", DEBUGGEE)
    project.write("corral.toml", service_toml("web", [sys.executable, "app.py"], tty=True))  # type: ignore[arg-type]
    start_ok(project)
    wait_until(lambda: "(Pdb)" in logs_text(project), message="the pdb prompt")
    answer = project.run("send", "web", "p value * 7", "--wait-for", r"^\d+$", "--json")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert json.loads(answer.stdout)["line"] == "42"
    go_on = project.run("send", "web", "c", "--wait-for", "request complete")
    assert go_on.returncode == 0 and "request complete" in go_on.stdout, go_on.stdout
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_send_refuses_a_service_without_a_terminal_or_not_running(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("web", hostile()) + service_toml("idle", hostile(), tty=True, autostart=False),
    )
    start_ok(project)
    refused = project.run("send", "web", "hello", "--json")
    assert refused.returncode == 2
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "no_terminal" and "tty = true" in error["hint"]
    idle = project.run("send", "idle", "x", "--json")
    assert idle.returncode == 1 and json.loads(idle.stdout)["error"]["code"] == "not_running"
    unknown = project.run("send", "nope", "x")
    assert unknown.returncode == 2 and "no service named 'nope'" in unknown.stderr
    assert project.run("stop").returncode == 0


class _Pty:
    """``corral attach`` run on a terminal of the test's own, read and typed into from here."""

    def __init__(self, project: ProjectDir, *args: str) -> None:
        import os
        import subprocess

        from harness import corral_command

        self.master, slave = os.openpty()
        self.saved = termios.tcgetattr(slave)
        self.slave = slave
        self.seen = b""
        self.process = subprocess.Popen(
            [*corral_command(), *args],
            cwd=project.root,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )

    def read_until(self, wanted: bytes, timeout: float = 10.0) -> bytes:
        import os
        import select
        import time

        deadline = time.monotonic() + timeout
        while wanted not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {wanted!r} in {self.seen[-2000:]!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        return self.seen

    def type(self, keys: bytes) -> None:
        import os

        os.write(self.master, keys)

    def close(self) -> tuple[int, bool]:
        """The client's exit code, and whether it left the terminal as it found it."""
        import os
        import subprocess

        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()  # our own child, by its handle
            code = self.process.wait(timeout=10)
        restored = termios.tcgetattr(self.slave) == self.saved
        os.close(self.master)
        os.close(self.slave)
        return code, restored


@pytest.mark.timeout(60)
def test_attach_drives_a_debugger_detaches_and_restores_the_terminal(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("app.py", DEBUGGEE)
    project.write("corral.toml", service_toml("web", [sys.executable, "app.py"], tty=True))  # type: ignore[arg-type]
    start_ok(project)
    wait_until(lambda: "(Pdb)" in logs_text(project), message="the pdb prompt")
    attached = _Pty(project, "attach", "web")
    try:
        attached.read_until(b"Ctrl-] detaches")
        attached.read_until(b"(Pdb)")  # the recent output, replayed
        attached.type(b"p value * 7\r")
        attached.read_until(b"42")
        attached.type(b"c\r")
        attached.read_until(b"request complete")
        attached.type(b"\x1d")
        attached.read_until(b"detached")
    finally:
        code, restored = attached.close()
    assert code == 0 and restored
    status = json.loads(project.run("status", "--json").stdout)["services"][0]
    assert status["state"] in ("running", "ready"), status
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_the_detach_key_can_be_another_control_key(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    reader = "import os\nprint('ready', flush=True)\nwhile True:\n    line = os.read(0, 100)\n"
    project.write("read.py", reader + "    print('got', repr(line), flush=True)\n")
    project.write("corral.toml", service_toml("web", [sys.executable, "-u", "read.py"], tty=True))  # type: ignore[arg-type]
    start_ok(project)
    wait_until(lambda: "ready" in logs_text(project), message="the reader")
    attached = _Pty(project, "attach", "web", "--detach-key", "ctrl-q")
    try:
        attached.read_until(b"Ctrl-q detaches")
        # At once (keys typed as raw mode begins are not lost); Ctrl-] is just a key now.
        attached.type(b"A\x1dB\r")
        wait_until(lambda: "got b'A\\x1dB\\n'" in logs_text(project), message="the line")
        attached.type(b"\x11")
        attached.read_until(b"detached")
    finally:
        code, restored = attached.close()
    assert code == 0 and restored
    bad = project.run("attach", "web", "--detach-key", "q")
    assert bad.returncode == 2 and "not a control key" in bad.stderr, bad.stderr
    assert project.run("stop").returncode == 0


QUITTER = (
    "import sys\n"
    "print('type quit', flush=True)\n"
    "while input('> ') != 'quit':\n"
    "    pass\n"
    "print('bye', flush=True)\n"
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ending", ["service exits", "supervisor killed", "SIGTERM", "SIGHUP"])
def test_attach_restores_the_terminal_however_it_ends(corral_project, ending: str) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal

    project = corral_project()
    project.write("quit.py", QUITTER)
    project.write("corral.toml", service_toml("web", [sys.executable, "quit.py"], tty=True))  # type: ignore[arg-type]
    start_ok(project)
    wait_until(lambda: "type quit" in logs_text(project), message="the prompt")
    attached = _Pty(project, "attach", "web")
    try:
        attached.read_until(b"Ctrl-] detaches")
        attached.read_until(b"> ")
        assert termios.tcgetattr(attached.slave) != attached.saved  # raw mode while attached
        if ending == "service exits":
            attached.type(b"quit\r")
            attached.read_until(b"terminal closed")
        elif ending == "supervisor killed":
            state = json.loads((project.root / ".corral" / "state.json").read_text())
            os.kill(state["supervisor"]["pid"], signal.SIGKILL)
            attached.read_until(b"terminal closed")
        else:
            attached.process.send_signal(getattr(signal, ending))
            attached.read_until(f"{ending}: detached".encode())
    finally:
        code, restored = attached.close()
    assert restored, ending
    assert code == (0 if ending in ("service exits", "supervisor killed") else 1), ending
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_attach_without_a_terminal_or_to_a_plain_service_says_what_to_do(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("web", hostile(), tty=True) + service_toml("plain", hostile()),
    )
    start_ok(project)
    agent = project.run("attach", "web")  # no terminal, as in an agent's shell
    assert agent.returncode == 2 and "corral send web" in agent.stderr, agent.stderr
    attached = _Pty(project, "attach", "plain")
    try:
        attached.read_until(b"tty = true")
    finally:
        code, restored = attached.close()
    assert code == 2 and restored
    assert project.run("stop").returncode == 0


WINDOW = (
    "import os, signal, time\n"
    "def show(*_):\n"
    "    size = os.get_terminal_size(1)\n"
    "    print(f'window {size.columns}x{size.lines}', flush=True)\n"
    "signal.signal(signal.SIGWINCH, show)\n"
    "show()\n"
    "while True:\n"
    "    time.sleep(1)\n"
)


@pytest.mark.timeout(60)
def test_attach_gives_the_service_the_window_size_and_follows_it(corral_project) -> None:  # type: ignore[no-untyped-def]
    import fcntl
    import signal
    import struct

    project = corral_project()
    project.write("window.py", WINDOW)
    project.write("corral.toml", service_toml("web", [sys.executable, "window.py"], tty=True))  # type: ignore[arg-type]
    start_ok(project)
    wait_until(lambda: "window 120x40" in logs_text(project), message="the default size")
    attached = _Pty(project, "attach", "web")
    fcntl.ioctl(attached.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        attached.read_until(b"Ctrl-] detaches")
        attached.read_until(b"window 100x30")  # the attached window's size, at attach
        fcntl.ioctl(attached.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        attached.process.send_signal(signal.SIGWINCH)  # as its terminal would
        attached.read_until(b"window 160x50")
        attached.type(b"\x1d")
        attached.read_until(b"detached")
    finally:
        code, restored = attached.close()
    assert code == 0 and restored
    assert project.run("stop").returncode == 0
