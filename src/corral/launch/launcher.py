"""Starting a project's supervisor when none runs: at most one, whoever asks at the same time."""

from __future__ import annotations

import json
import os
import select
import time
from pathlib import Path
from typing import Any

from corral import client
from corral.errors import CorralError
from corral.launch import prelaunch
from corral.locks import locked, supervisor_alive
from corral.markers import READY_FD
from corral.model import ProjectSpec, spec_to_dict
from corral.paths import (
    ensure_state_dir,
    launch_spec_path,
    socket_path,
    spawn_lock_path,
    supervisor_log_path,
)

START_TIMEOUT = 15.0
SPAWN_ATTEMPTS = 3
EXIT_GRACE = 2.0  # seconds a supervisor that closed its socket gets to finish exiting


def ensure_supervisor(project: ProjectSpec, config_file: Path | None) -> Path:
    """The socket of the project's supervisor, starting one (under a lock) if none runs; a
    guard prelaunched for it (``corral.launch.prelaunch``) is given the word, or let go."""
    try:
        return _ensure_supervisor(project, config_file)
    finally:
        prelaunch.abandon()


def _ensure_supervisor(project: ProjectSpec, config_file: Path | None) -> Path:
    sock = socket_path(project.project_id)
    if client.ping(sock):
        return sock
    ensure_state_dir(project.root)
    with locked(spawn_lock_path(project.root), START_TIMEOUT):
        if client.ping(sock):
            return sock
        frozen = frozen_supervisor(project)
        if frozen is not None:
            raise frozen
        _refuse_if_moved(project)
        for _ in range(SPAWN_ATTEMPTS):
            if supervisor_alive(project.root):
                # Another supervisor holds the lock: one starting up (answering soon), or one
                # finishing a stop of everything (gone soon). Then launch ours.
                if _wait_until_answering(project, sock):
                    return sock
                continue
            ready = _spawn_guard(project, config_file)
            try:
                if _await_ready(ready):
                    return sock
            finally:
                os.close(ready)
            if client.ping(sock):
                return sock
            # No word: our supervisor failed, or found another holding the lock that may have
            # exited since. Try again; a supervisor that cannot start fails every time.
        raise _did_not_start(project)


def _spawn_guard(project: ProjectSpec, config_file: Path | None) -> int:
    """Start guard and supervisor (or release the prelaunched ones); returns the read end of
    the pipe on which the supervisor says it listens (one line), or closes its end without a
    word when it cannot start."""
    _hand_over(project)
    if config_file is None:
        ready = prelaunch.release(str(project.root))
        if ready is not None:
            return ready
    log = os.open(supervisor_log_path(project.root), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    ready_read, ready_write = os.pipe()
    try:
        intermediate = prelaunch.spawn_guard(
            str(project.root),
            project.project_id,
            str(config_file or ""),
            log,
            {READY_FD: ready_write},
        )
    except BaseException:
        os.close(ready_read)
        raise
    finally:
        os.close(log)
        os.close(ready_write)
    intermediate.wait(timeout=START_TIMEOUT)  # it forks the guard and exits at once
    return ready_read


def _hand_over(project: ProjectSpec) -> None:
    """Write the resolved configuration for the new supervisor, which then need not parse it."""
    path = launch_spec_path(project.root)
    temporary = path.with_name(f".launch.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(spec_to_dict(project)))
    os.replace(temporary, path)


def _await_ready(ready: int) -> bool:
    """True once the supervisor says it listens; False if the pipe closed without that (it
    failed, or found another supervisor holding the lock): the caller then asks the socket."""
    deadline = time.monotonic() + START_TIMEOUT
    poller = select.poll()
    poller.register(ready, select.POLLIN)
    while (remaining := deadline - time.monotonic()) > 0:
        if poller.poll(remaining * 1000):
            return bool(os.read(ready, 64))
    return False


def _wait_until_answering(project: ProjectSpec, sock: Path) -> bool:
    """True once the lock holder answers; False once it has let go of the lock (it exited).
    A holder that does neither within ``START_TIMEOUT`` did not start."""
    deadline = time.monotonic() + START_TIMEOUT
    delay = 0.005
    while time.monotonic() < deadline:
        if client.ping(sock, timeout=1.0):
            return True
        if not supervisor_alive(project.root):
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    raise _did_not_start(project)


def moved_checkout(project: ProjectSpec) -> dict[str, Any] | None:
    """The state of the supervisor still running for this checkout under its old path, when the
    directory was moved (renamed) while it ran; else None. The proof is the kernel's: this
    directory's supervisor lock is held, yet the state file names another root that is gone (a
    copy's lock is a new file that nobody holds, so a copy never matches)."""
    import json

    from corral import oslayer
    from corral.model import ProcessIdentity
    from corral.state import read_state

    if read_state(project.root, oslayer.boot_id(), project.project_id) is not None:
        return None
    if not supervisor_alive(project.root):
        return None
    try:
        data = json.loads((project.root / ".corral" / "state.json").read_bytes())
        old_root, old_id = str(data["root"]), str(data["project_id"])
        supervisor = ProcessIdentity.from_dict(data["supervisor"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if old_id == project.project_id or Path(old_root).exists():
        return None
    return {"root": old_root, "project_id": old_id, "supervisor": supervisor}


def _refuse_if_moved(project: ProjectSpec) -> None:
    moved = moved_checkout(project)
    if moved is not None:
        raise CorralError(
            f"this checkout was moved from {moved['root']} while its supervisor (pid "
            f"{moved['supervisor'].pid}) ran; it cannot start here until that one has stopped",
            hint="corral stop (it ends the supervisor of the old path), then corral start",
        )


def frozen_supervisor(project: ProjectSpec) -> CorralError | None:
    """The error for a supervisor that holds its lock but is stopped (SIGSTOP): it cannot
    answer, and waiting for it would only run out the clock. None when that is not the case."""
    from corral import oslayer
    from corral.errors import SupervisorUnavailable
    from corral.state import read_state

    if not supervisor_alive(project.root):
        return None
    state = read_state(project.root, oslayer.boot_id(), project.project_id)
    pid = state.supervisor.pid if state is not None and state.supervisor else None
    stat = oslayer.read_stat(pid) if pid else None
    if stat is None or stat.state != "T":
        return None
    return SupervisorUnavailable(
        f"the supervisor (pid {pid}) is stopped (SIGSTOP) and cannot answer",
        hint=f"kill -CONT {pid} to resume it, or corral stop to end it",
    )


def _did_not_start(project: ProjectSpec) -> CorralError:
    return CorralError(
        "the supervisor did not start", hint=f"see {supervisor_log_path(project.root)}"
    )


def await_exit(project: ProjectSpec, bound: float, *, closing_ok: bool = False) -> bool:
    """Wait (bounded) until the project's supervisor lets go of its lock, or a supervisor
    answers on its socket: one not closing (a new one, launched by a concurrent start), or,
    with ``closing_ok``, any. True once that is so, False at the bound."""
    sock = socket_path(project.project_id)
    deadline = time.monotonic() + bound
    delay = 0.005
    while supervisor_alive(project.root):
        pong = client.ping(sock, timeout=0.2) if sock.exists() else None
        if pong is not None and (closing_ok or not pong.get("closing")):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True
