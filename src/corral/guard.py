"""The guard: a tiny process above the supervisor. ``python -m corral.guard ROOT [CONFIG]``.

It detaches (fork; the launcher already gave it a new session), takes the project's supervisor
lock for life, becomes a subreaper and starts the supervisor as its child. When the supervisor
exits in order, so does the guard. When it dies any other way, its orphans are reparented here and
the guard stops everything the state file names (with the full reclaim), kills whatever else is
left below it, records why in the state file and the supervisor log, and exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import time

ROLE = "CORRAL_ROLE"
READY_FD = "CORRAL_READY_FD"  # see corral.launch


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
    lock_fd = _take_lock(os.path.join(root, ".corral", "supervisor.lock"))
    if lock_fd is None:
        return 0  # another supervisor of this project is alive: it serves the clients
    _become_subreaper()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    supervisor = _start_supervisor(root, config, lock_fd)
    signal.signal(signal.SIGTERM, lambda *_: _forward(supervisor, signal.SIGTERM))
    status = _wait_for(supervisor)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return 0
    reason = _describe(status)
    log(f"supervisor pid {supervisor} {reason}: stopping everything it left")
    from corral.recovery import recover_after_supervisor_death

    recover_after_supervisor_death(root, f"supervisor {reason}", log)
    return 0


def _become_subreaper() -> None:
    """prctl(PR_SET_CHILD_SUBREAPER) with ctypes alone: the guard stays small (no corral
    modules are imported until the supervisor dies)."""
    if not sys.platform.startswith("linux"):
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


def _start_supervisor(root: str, config: str, lock_fd: int) -> int:
    os.set_inheritable(lock_fd, True)  # the supervisor holds the lock too, for its whole life
    ready = _ready_fd()
    pid = os.fork()
    if pid == 0:
        os.environ[ROLE] = "supervisor"
        os.execv(sys.executable, [sys.executable, "-m", "corral.daemon", root, config])
    os.set_inheritable(lock_fd, False)
    if ready is not None:
        os.close(ready)  # only the supervisor may answer the launcher
    log(f"started supervisor pid {pid}")
    return pid


def _ready_fd() -> int | None:
    try:
        fd = int(os.environ.get(READY_FD, ""))
        os.fstat(fd)
    except (ValueError, OSError):
        return None
    return fd


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
