"""Starting a project's guard and supervisor before the configuration is loaded, held.

A cold ``corral start`` spends most of its time starting interpreters one after the other: this
process, then the guard, then the supervisor. When the fast path finds no supervisor, it spawns
the guard at once (the guard spawns the supervisor), so that both start up while this process
loads and checks the configuration. Both hold without touching anything (no file, no lock, no
log) until ``release`` gives the word. If it never comes (a bad configuration, another launcher
won the race, this process died), the held pipe reaches end-of-file and both exit without a
trace. See ``corral.launch.guard`` for the other side.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from corral.markers import HOLD_FD, PROJECT, READY_FD, ROLE

REAP_TIMEOUT = 5.0  # the intermediate process forks the guard and exits at once


class Held:
    """A guard started for ``root``, holding: ``word`` is our end of its hold pipe, ``ready``
    the read end of the pipe on which its supervisor will say it listens."""

    def __init__(self, root: str, process: subprocess.Popen[bytes], word: int, ready: int):
        self.root = root
        self.process = process
        self.word = word
        self.ready = ready

    def close(self) -> None:
        for fd in (self.word, self.ready):
            if fd >= 0:
                os.close(fd)
        self.word = self.ready = -1
        self.reap()

    def reap(self) -> None:
        # Past the bound it is left to init: in its own session, it does no harm.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=REAP_TIMEOUT)


_held: Held | None = None


def spawn_guard(
    root: str, project_id: str, config: str, output: int, fds: dict[str, int]
) -> subprocess.Popen[bytes]:
    """Start the guard for ``root`` detached (new session, stdin closed, ``output`` as stdout and
    stderr), passing it the descriptors ``fds`` under their variable names. Returns the
    intermediate process, which forks the guard and exits at once: the caller reaps it."""
    env = {**os.environ, ROLE: "guard", PROJECT: project_id}
    env.update({name: str(fd) for name, fd in fds.items()})
    return subprocess.Popen(
        [sys.executable, "-m", "corral.launch.guard", root, config],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        close_fds=True,
        pass_fds=tuple(fds.values()),
        start_new_session=True,
        cwd=root,
        env=env,
    )


def prelaunch(root: str, project_id: str) -> None:
    """Spawn the guard for ``root`` now, held until ``release``."""
    global _held
    abandon()
    word_read, word_write = os.pipe()
    ready_read, ready_write = os.pipe()
    fds = {READY_FD: ready_write, HOLD_FD: word_read}
    try:
        process = spawn_guard(root, project_id, "", subprocess.DEVNULL, fds)
    except OSError:
        os.close(word_write)
        os.close(ready_read)
        return  # the ordinary launch will try, and report what fails
    finally:
        os.close(word_read)
        os.close(ready_write)
    _held = Held(root, process, word_write, ready_read)


def release(root: str) -> int | None:
    """Give the held guard for ``root`` the word. Returns the read end of its ready pipe, or
    None when there is no such guard or it is gone (the caller then launches one itself)."""
    global _held
    held, _held = _held, None
    if held is None:
        return None
    if held.root != root:
        held.close()
        return None
    try:
        os.write(held.word, b"go\n")
    except OSError:  # it gave up waiting, or died
        held.close()
        return None
    ready, held.ready = held.ready, -1
    held.close()
    return ready


def abandon() -> None:
    """Let a held guard go: it and its supervisor exit without a trace."""
    global _held
    held, _held = _held, None
    if held is not None:
        held.close()
