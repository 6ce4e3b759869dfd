"""The guard: a tiny process above the supervisor. ``python -m corral.launch.guard ROOT [CONFIG]``.

It detaches (fork; the launcher already gave it a new session), takes the project's supervisor
lock for life, becomes a subreaper and starts the supervisor as its child. When the supervisor
exits in order, so does the guard. When it dies any other way, its orphans are reparented here and
the guard stops everything the state file names (with the full reclaim), kills whatever else is
left below it, records why in the state file and the supervisor log, and exits.

Prelaunched (``CORRAL_HOLD_FD``, see ``corral.launch.prelaunch``) it starts the supervisor at
once, so that both interpreters start up while the launcher loads the configuration, and both hold,
touching nothing, until the launcher's word: then the guard takes the lock, hands it to the
supervisor with the word, and carries on as above. End-of-file instead means the launcher gave
up (a bad configuration, a supervisor already up): both exit without a trace.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import time

from corral.markers import HOLD_FD, OSLAYER, READY_FD, ROLE

HOLD_TIMEOUT = 60.0  # seconds a prelaunched guard waits for the word before giving up


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
    sys.stdout.write(
        f"{stamp}.{int(time.time() * 1000) % 1000:03d} guard[{os.getpid()}] {message}\n"
    )
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    root, config = argv[0], (argv[1] if len(argv) > 1 else "")
    if os.fork() > 0:
        os._exit(0)  # the launcher reaps this intermediate at once; the guard lives on detached
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    hold = _inherited_fd(HOLD_FD)
    if hold is not None:
        return _prelaunched(root, config, hold)
    lock_fd = _take_lock(_lock_path(root))
    if lock_fd is None:
        return 0  # another supervisor of this project is alive: it serves the clients
    _become_subreaper()
    supervisor = _start_supervisor(root, config, lock_fd, {})
    log(f"started supervisor pid {supervisor}")
    return _guard(root, supervisor)


def _prelaunched(root: str, config: str, hold: int) -> int:
    import _socket

    os.set_inheritable(hold, False)  # the launcher's word is for us, not the supervisor
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    supervisor = _start_supervisor(root, config, theirs.fileno(), {HOLD_FD: str(theirs.fileno())})
    theirs.close()
    _become_subreaper()  # after the fork, off the longer path: it forks nothing before the word
    lock_fd = _take_lock(_lock_path(root)) if _await_word(hold) else None
    if lock_fd is None:  # the launcher gave up, or another supervisor is alive
        ours.close()  # the supervisor sees end-of-file and exits, as we do
        _wait_for(supervisor)
        return 0
    _log_to(os.path.join(root, ".corral", "supervisor.log"))
    lock = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, lock_fd.to_bytes(4, sys.byteorder))
    try:
        ours.sendmsg([b"go"], [lock])  # the word, and the lock for the supervisor to hold too
    except OSError:
        log(f"supervisor pid {supervisor} {_describe(_wait_for(supervisor))} before it started")
        return 1
    finally:
        ours.close()  # lock_fd stays open: the guard holds the lock for life, as the supervisor
    log(f"started supervisor pid {supervisor} (prelaunched)")
    return _guard(root, supervisor)


def _guard(root: str, supervisor: int) -> int:
    signal.signal(signal.SIGTERM, lambda *_: _forward(supervisor, signal.SIGTERM))
    status = _wait_for(supervisor)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return 0
    reason = _describe(status)
    log(f"supervisor pid {supervisor} {reason}: stopping everything it left")
    from corral.reclaim.recovery import recover_after_supervisor_death

    recover_after_supervisor_death(root, f"supervisor {reason}", log)
    return 0


def _become_subreaper() -> None:
    """prctl(PR_SET_CHILD_SUBREAPER) with ctypes alone: the guard stays small (no corral
    modules are imported until the supervisor dies, hence the layer's switch read here too)."""
    if not sys.platform.startswith("linux") or os.environ.get(OSLAYER) == "portable":
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def _take_lock(path: str) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _lock_path(root: str) -> str:
    return os.path.join(root, ".corral", "supervisor.lock")


def _start_supervisor(root: str, config: str, passed: int, env: dict[str, str]) -> int:
    """Fork and exec the supervisor, which inherits ``passed``: the lock (it holds the lock too,
    for its whole life), or the socket a prelaunched one waits on for the word and the lock."""
    os.set_inheritable(passed, True)
    ready = _inherited_fd(READY_FD)
    pid = os.fork()
    if pid == 0:
        os.environ.update(env)
        os.environ[ROLE] = "supervisor"
        os.execv(sys.executable, [sys.executable, "-m", "corral.supervisor.daemon", root, config])
    os.set_inheritable(passed, False)
    if ready is not None:
        os.close(ready)  # only the supervisor may answer the launcher
    return pid


def _inherited_fd(variable: str) -> int | None:
    try:
        fd = int(os.environ.get(variable, ""))
        os.fstat(fd)
    except (ValueError, OSError):
        return None
    return fd


def _await_word(hold: int) -> bool:
    """True once the launcher says go; False at end-of-file or after ``HOLD_TIMEOUT``."""
    import select

    readable, _, _ = select.select([hold], [], [], HOLD_TIMEOUT)
    word = os.read(hold, 16) if readable else b""
    os.close(hold)
    os.environ.pop(HOLD_FD, None)
    return word.startswith(b"go")


def _log_to(path: str) -> None:
    """From now on stdout and stderr go to the supervisor log (a prelaunched guard had none)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _forward(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)  # our own unreaped child: the pid cannot have been reused


def _wait_for(supervisor: int) -> int:
    """Wait for the supervisor, reaping any orphan that lands here meanwhile."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == supervisor:
            return status
        log(f"reaped orphan pid {pid}")


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
