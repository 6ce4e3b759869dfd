"""Spawning one run of a service with every containment layer the platform has.

Between fork and exec the child joins its own process group and cgroup leaf and asks for SIGKILL
when the supervisor dies. It inherits the markers in its environment and the write end of the
run's lifeline pipe; its stdout and stderr are the service's log file (never a pipe: a writer must
never block because nobody reads, nor die because the supervisor did).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from corral import logs, oslayer
from corral.model import (
    MARKER_PROJECT,
    MARKER_ROOT,
    MARKER_RUN,
    MARKER_SERVICE,
    ProcessIdentity,
    ServiceSpec,
)

ROLE_VARIABLE = "CORRAL_ROLE"  # set on the supervisor and guard only, never on services


class SpawnFailed(Exception):
    pass


@dataclass
class Run:
    service: str
    run_id: str
    identity: ProcessIdentity
    pgid: int
    cgroup: Path | None
    lifeline_fd: int  # read end, held by the supervisor: POLLHUP when every holder is gone
    lifeline: str  # "pipe:[inode]", how a scan recognises holders of the write end
    started_at: float
    log_offset: int  # where this run's output starts in the log file
    popen: subprocess.Popen[bytes] = field(repr=False)
    started_mono: float = field(default_factory=time.monotonic)
    handle: oslayer.ProcessHandle | None = field(default=None, repr=False)
    exit_status: int | None = None  # raw wait status once the leader is reaped
    exited_at: float | None = None

    @property
    def pid(self) -> int:
        return self.identity.pid

    @property
    def leader_reaped(self) -> bool:
        return self.exit_status is not None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.lifeline_fd >= 0:
            os.close(self.lifeline_fd)
            self.lifeline_fd = -1


def service_env(
    spec: ServiceSpec, base_env: dict[str, str], project_id: str, run_id: str, root: str = ""
) -> dict[str, str]:
    env = {key: value for key, value in base_env.items() if key != ROLE_VARIABLE}
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(spec.env)
    env[MARKER_PROJECT] = project_id
    env[MARKER_SERVICE] = spec.name
    env[MARKER_RUN] = run_id
    env[MARKER_ROOT] = root
    return env


def spawn(
    spec: ServiceSpec,
    *,
    base_env: dict[str, str],
    project_id: str,
    run_id: str,
    state_dir: Path,
    cgroup: Path | None,
) -> Run:
    env = service_env(spec, base_env, project_id, run_id, str(state_dir.parent))
    try:
        log_fd = logs.open_run_log(state_dir, spec.name)
    except OSError as exc:
        raise SpawnFailed(f"cannot open its log file: {exc.strerror}") from None
    log_offset = os.fstat(log_fd).st_size
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    os.set_inheritable(write_end, True)
    try:
        popen = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            pass_fds=(write_end,),
            close_fds=True,
            preexec_fn=_child_setup(cgroup),
        )
    except OSError as exc:
        os.close(read_end)
        raise SpawnFailed(f"cannot run {spec.argv[0]!r}: {exc.strerror or exc}") from None
    finally:
        os.close(write_end)
        os.close(log_fd)
    return _describe_run(spec, run_id, popen, cgroup, read_end, log_offset)


def _describe_run(
    spec: ServiceSpec,
    run_id: str,
    popen: subprocess.Popen[bytes],
    cgroup: Path | None,
    read_end: int,
    log_offset: int,
) -> Run:
    identity = oslayer.identify(popen.pid) or ProcessIdentity(popen.pid, 0, oslayer.boot_id())
    handle = oslayer.open_process(identity)
    return Run(
        service=spec.name,
        run_id=run_id,
        identity=identity,
        pgid=popen.pid,
        cgroup=cgroup,
        lifeline_fd=read_end,
        lifeline=oslayer.pipe_link(read_end),
        started_at=time.time(),
        log_offset=log_offset,
        popen=popen,
        handle=handle,
    )


def _child_setup(cgroup: Path | None):  # type: ignore[no-untyped-def]
    """What the child does between fork and exec (the supervisor is single-threaded, so running
    Python here is safe). A failure here aborts the spawn with an OSError in the parent."""
    parent = os.getpid()

    def setup() -> None:
        os.setpgid(0, 0)
        if cgroup is not None:
            oslayer.cgroup_join(cgroup)
        oslayer.set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != parent:  # the supervisor died before prctl took effect
            os._exit(1)

    return setup
