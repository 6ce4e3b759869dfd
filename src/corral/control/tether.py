"""Tethers: tie a project's services to a process (a coding agent, a terminal) so that they stop
within a second of its exit.

``auto`` picks the nearest ancestor of the calling ``corral`` that is not a shell or a wrapper:
agents run each command in a fresh, short-lived shell, so tethering to the direct parent would
stop everything at once. PID 1 and long-lived daemons are never chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from corral import oslayer
from corral.errors import UsageError

SHELLS_AND_WRAPPERS = {
    "sh",
    "bash",
    "zsh",
    "dash",
    "fish",
    "ksh",
    "mksh",
    "tcsh",
    "csh",
    "ash",
    "busybox",
    "env",
    "timeout",
    "nohup",
    "time",
    "xargs",
    "npx",
    "npm",
    "pnpm",
    "yarn",
    "uv",
    "uvx",
    "pipx",
    "poetry",
    "corral",
    "script",
    "stdbuf",
    "nice",
    "setsid",
}
NEVER = {
    "init",
    "systemd",
    "launchd",
    "sshd",
    "tmux: server",
    "screen",
    "SCREEN",
    "containerd-shim",
}


@dataclass(frozen=True)
class Tether:
    pid: int
    start: int
    command: str

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "start": self.start, "command": self.command}


def resolve(choice: str | None) -> Tether | None:
    """``auto``, ``none`` or a pid, as given by --tether, CORRAL_TETHER or the config."""
    if choice is None or choice == "none":
        return None
    if choice == "auto":
        return _auto()
    try:
        pid = int(choice)
    except ValueError:
        raise UsageError(f"--tether: {choice!r} is not a pid, 'auto' or 'none'") from None
    tether = _tether_of(pid)
    if tether is None:
        raise UsageError(f"--tether: no process {pid}", hint="give a live pid, 'auto' or 'none'")
    if pid == 1:
        raise UsageError("--tether: never pid 1 (it does not exit)", hint="use 'auto'")
    return tether


def refuse_self(tether: Tether) -> None:
    """A tether the user names must outlive this command: ``bash -c 'corral start --tether
    $$'`` names corral itself (bash exec'd its one command), which exits when the start returns,
    and everything would stop with it. (``up`` and the MCP server tether to themselves on
    purpose: they stay.)"""
    if tether.pid == os.getpid():
        raise UsageError(
            f"--tether: pid {tether.pid} is this corral command itself (the shell exec'd it), "
            "which exits when the start returns",
            hint="use --tether auto, or the pid of a process that outlives this command",
        )


def alive(tether: dict[str, Any]) -> bool:
    """Whether the tethered process (as ``Tether.to_dict`` gave it) still runs."""
    stat = oslayer.read_stat(int(tether["pid"]))
    return stat is not None and stat.start == tether["start"] and stat.state not in ("Z", "X")


def _tether_of(pid: int) -> Tether | None:
    stat = oslayer.read_stat(pid)
    if stat is None or stat.state in ("Z", "X"):  # exited, not yet reaped: gone all the same
        return None
    return Tether(pid, stat.start, oslayer.cmdline(pid)[:120] or stat.comm)


def _auto() -> Tether:
    pid = os.getppid()
    seen = 0
    while pid > 1 and seen < 64:
        stat = oslayer.read_stat(pid)
        if stat is None:
            break
        name = _program(stat.comm, pid)
        if name in NEVER:
            break
        if name not in SHELLS_AND_WRAPPERS:
            return Tether(pid, stat.start, oslayer.cmdline(pid)[:120] or stat.comm)
        pid, seen = stat.ppid, seen + 1
    leader = os.getsid(0)
    stat = oslayer.read_stat(leader) if leader > 1 else None
    if stat is None or stat.comm in NEVER:
        raise UsageError("--tether auto: found no ancestor to tether to", hint="pass --tether PID")
    return Tether(leader, stat.start, oslayer.cmdline(leader)[:120] or stat.comm)


def _program(comm: str, pid: int) -> str:
    """The program's name: a login shell's comm starts with '-'; an interpreter running a
    script (``python -m corral``) is named by its command line."""
    name = comm.lstrip("-")
    if name.startswith("python") or name == "node":
        argv = oslayer.cmdline(pid).split()
        if len(argv) > 2 and argv[1] == "-m":
            return argv[2]
        if len(argv) > 1:
            return os.path.basename(argv[1])
    return name


def check_outlived(tethered: dict[str, Any] | None) -> None:
    """A tether that exited while the start ran has already taken its services with it."""
    if tethered and not alive(tethered):
        raise UsageError(
            f"--tether: process {tethered['pid']} exited before the start returned, so the "
            "services tethered to it stop with it",
            hint="tether to a process that outlives this command (--tether auto)",
        )
