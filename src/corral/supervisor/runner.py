"""Spawning one run of a service with every containment layer the platform has.

Between fork and exec the child leads a session (so a process group) of its own, joins its
cgroup leaf and asks for SIGKILL when the supervisor dies. It inherits the markers in its
environment and the write end of the run's lifeline pipe; its stdout and stderr are the
service's log file (never a pipe: a writer must never block because nobody reads, nor die
because the supervisor did).

The supervisor forks and returns at once: it does not wait for the child to reach exec (as
``subprocess`` does), so ten services start side by side instead of one after another while
the machine is busy booting the first ones. What could make exec fail is checked before the
fork; anything else the child writes to the service's log before it exits with code 127.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corral import logs, markers, oslayer
from corral.markers import LIFELINE_FD
from corral.model import ProcessIdentity, RunRecord, ServiceSpec
from corral.supervisor.terminal import Terminal

MAX_FD = os.sysconf("SC_OPEN_MAX")  # closerange uses close_range(2) where it exists


class SpawnFailed(Exception):
    pass


@dataclass
class Run:
    """A live run: its record (what the state file keeps, shared with the service's record) and
    what only the supervisor holds while it lives."""

    record: RunRecord
    lifeline_fd: int  # read end, held by the supervisor: POLLHUP when every holder is gone
    log_offset: int  # where this run's output starts in the log (a logical offset: see logs)
    started_mono: float = field(default_factory=time.monotonic)
    handle: oslayer.ProcessHandle | None = field(default=None, repr=False)
    terminal: Terminal | None = field(default=None, repr=False)  # tty = true: the pty master
    exit_status: int | None = None  # raw wait status once the leader is reaped
    exited_at: float | None = None

    @property
    def identity(self) -> ProcessIdentity:
        assert self.record.leader is not None
        return self.record.leader

    @property
    def pid(self) -> int:
        return self.identity.pid

    @property
    def pgid(self) -> int:
        return self.record.pgid or self.pid

    @property
    def cgroup(self) -> Path | None:
        return Path(self.record.cgroup) if self.record.cgroup else None

    @property
    def started_at(self) -> float:
        return self.record.started_at or 0.0

    @property
    def leader_reaped(self) -> bool:
        return self.exit_status is not None

    def close(self) -> None:
        if self.terminal is not None:
            self.terminal.close()  # what the service wrote last reaches the log first
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.lifeline_fd >= 0:
            os.close(self.lifeline_fd)
            self.lifeline_fd = -1


def service_env(
    spec: ServiceSpec, base_env: dict[str, str], project_id: str, run_id: str, root: str = ""
) -> dict[str, str]:
    env = {key: value for key, value in base_env.items() if key != markers.ROLE}
    env.setdefault("PYTHONUNBUFFERED", "1")
    if spec.tty and env.get("TERM", "dumb") == "dumb":  # the caller's shell may have none
        env["TERM"] = "xterm-256color"
    env.update(spec.env)
    env["PWD"] = str(spec.cwd)  # as a shell sets it: a program exec'd without one sees its own
    env[markers.PROJECT] = project_id
    env[markers.SERVICE] = spec.name
    env[markers.RUN] = run_id
    env[markers.ROOT] = root
    return env


def spawn(
    spec: ServiceSpec,
    *,
    base_env: dict[str, str],
    project_id: str,
    run_id: str,
    state_dir: Path,
    cgroup: Path | None,
    gate: StartGate | None = None,
    started_by: dict[str, Any] | None = None,
) -> Run:
    env = service_env(spec, base_env, project_id, run_id, str(state_dir.parent))
    argv = spec.exec_argv
    executable = _executable(argv[0], env, spec.cwd)
    try:
        log_fd = logs.open_run_log(state_dir, spec.name)
    except OSError as exc:
        raise SpawnFailed(f"cannot open its log file: {exc.strerror}") from None
    log_offset = logs.logical_end(state_dir, spec.name)
    read_end, write_end, lifeline = oslayer.open_lifeline(state_dir)
    master, slave = _open_terminal(log_fd, spec.tty_size) if spec.tty else (-1, -1)
    child = _Child(executable, argv, env, spec.cwd, cgroup, log_fd, write_end, gate, slave)
    child.shell_skipped = argv != spec.argv  # a command string exec'd as its words
    try:
        pid = os.fork()
        if pid == 0:
            child.become()  # never returns
        # The child makes its own session (so its own group) as its first act; a group set
        # from here first would make that fail. Until then its pidfd reaches it.
    except OSError as exc:
        if read_end >= 0:
            os.close(read_end)
        if master >= 0:
            os.close(master)
            os.close(log_fd)
        raise SpawnFailed(f"cannot fork: {exc.strerror}") from None
    finally:
        os.close(write_end)
        if slave >= 0:
            os.close(slave)  # the child's alone now: its last holder's exit hangs up the master
        else:
            os.close(log_fd)  # a terminal's log fd is the supervisor's pump's from now on
    record = RunRecord(
        project_id,
        spec.name,
        run_id=run_id,
        pgid=pid,
        sid=pid,
        cgroup=str(cgroup) if cgroup else None,
        ports=spec.ports,
        stop_signal=spec.stop_signal,
        stop_timeout=spec.stop_timeout,
        started_by=started_by,
        cwd=str(spec.cwd),
    )
    record.lifeline = lifeline
    run = _describe_run(record, pid, read_end, log_offset)
    if master >= 0:
        run.terminal = Terminal(master, log_fd)
        run.terminal.attach()
    return run


def _open_terminal(log_fd: int, size: tuple[int, int]) -> tuple[int, int]:
    from corral.oslayer import terminal

    try:
        return terminal.open_pty(*size)
    except OSError as exc:
        os.close(log_fd)
        raise SpawnFailed(f"cannot open a terminal for it: {exc.strerror}") from None


def _executable(program: str, env: dict[str, str], cwd: Path) -> str:
    """The file exec will run, or SpawnFailed saying why there is none (before any fork)."""
    if "/" in program:
        path = program if os.path.isabs(program) else os.path.join(cwd, program)
        if not os.path.isfile(path):
            raise SpawnFailed(f"cannot run {program!r}: no such file (from {cwd})")
        if not os.access(path, os.X_OK):
            raise SpawnFailed(f"cannot run {program!r}: it is not executable")
        return program  # the child runs it from cwd, as a shell would
    import shutil  # loaded at the first spawn: the supervisor's start-up stays lean

    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise SpawnFailed(f"cannot run {program!r}: not found on the service's PATH")
    return os.path.abspath(found)  # a relative PATH entry means ours, not the service's cwd


class StartGate:
    """Holds the services spawned in one turn of the supervisor's loop just before exec, until
    the last of them is forked. Forking the supervisor is most of a spawn's cost, and paying it
    while the first services already boot on every core multiplies it; behind the gate the forks
    are quick, then all services boot side by side. A gate left shut by a dying supervisor opens
    by itself: its write end closes with the supervisor."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()  # close-on-exec

    def open(self) -> None:
        if self.write_end >= 0:
            os.close(self.write_end)
            os.close(self.read_end)
            self.write_end = self.read_end = -1

    def wait_in_child(self) -> None:
        os.close(self.write_end)  # every sibling forked before us holds a copy: close ours
        os.read(self.read_end, 1)  # end of file once the supervisor opens the gate


class _Child:
    """What the child does between fork and exec, kept to a few plain system calls. Running
    Python here is safe: the supervisor's only other threads (log rotation, https probes) hold
    no lock the child takes."""

    def __init__(
        self,
        executable: str,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        cgroup: Path | None,
        log_fd: int,
        lifeline: int,
        gate: StartGate | None,
        terminal: int = -1,
    ) -> None:
        self.executable, self.argv, self.env = executable, argv, env
        self.cwd, self.cgroup = str(cwd), cgroup
        self.log_fd, self.lifeline = log_fd, lifeline
        self.gate = gate
        self.terminal = terminal  # the pty slave, or -1: no terminal
        self.parent = os.getpid()
        self.shell_skipped = False  # set by spawn: see model.plain_words

    def become(self) -> None:
        try:
            self._setup()
            self._exec()
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(2, f"corral: cannot run {self.argv[0]!r}: {exc}\n".encode())
        finally:
            os._exit(127)

    def _setup(self) -> None:
        signal.set_wakeup_fd(-1)  # the supervisor's event loop wakeup socket is not ours
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)  # as exec would, and SIGPIPE as subprocess does
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(self.log_fd, 1)  # first: whatever fails below is told in the service's log
        os.dup2(self.log_fd, 2)
        if self.terminal >= 0:
            from corral.oslayer import terminal  # loaded by the supervisor before the fork

            self._write_started()  # straight to the log, before the terminal's output
            terminal.take_terminal(self.terminal)  # a new session, so a new group too
        else:
            os.setsid()  # a session of its own: what leaves the group but not the session is found
        if self.cgroup is not None:
            oslayer.cgroup_join(self.cgroup)
        oslayer.set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != self.parent:  # the supervisor died before prctl took effect
            os._exit(1)
        if self.gate is not None:
            self.gate.wait_in_child()
        os.chdir(self.cwd)
        if self.lifeline == LIFELINE_FD:  # the only descriptor it inherits beyond stdio
            os.set_inheritable(LIFELINE_FD, True)
        else:
            os.dup2(self.lifeline, LIFELINE_FD)  # dup2 makes it inheritable
        os.closerange(LIFELINE_FD + 1, max(MAX_FD, LIFELINE_FD + 1))
        if self.terminal < 0:
            self._write_started()

    def _exec(self) -> None:
        try:
            os.execve(self.executable, self.argv, self.env)
        except OSError as exc:
            # A script without a #! line: the shell we skipped would have run it as a shell
            # script, as execvp does (POSIX), so that is what happens.
            if exc.errno != errno.ENOEXEC or not self.shell_skipped:
                raise
            os.execve("/bin/sh", ["/bin/sh", self.executable, *self.argv[1:]], self.env)

    def _write_started(self) -> None:
        # Written here, so that it comes before anything the service writes (fd 1: its log).
        os.write(1, f"--- {logs.STARTED} {os.getpid()} ---\n".encode())


def _describe_run(record: RunRecord, pid: int, read_end: int, log_offset: int) -> Run:
    # The pidfs inode (Linux >= 6.9) makes the identity unique for the whole boot.
    identity = oslayer.identify(pid, with_inode=True) or ProcessIdentity(pid, 0, oslayer.boot_id())
    record.leader = identity
    record.members = [identity]
    record.started_at = time.time()
    return Run(record, read_end, log_offset, handle=oslayer.open_child(identity))


def exit_info(status: int, when: float) -> dict[str, Any]:
    """A wait status as records and events show it: the exit code or the signal's name."""
    if os.WIFSIGNALED(status):
        return {"code": None, "signal": signal.Signals(os.WTERMSIG(status)).name, "time": when}
    return {"code": os.waitstatus_to_exitcode(status), "signal": None, "time": when}


def describe_status(status: int) -> str:
    """A wait status in words, for the supervisor's log and the service's."""
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"
