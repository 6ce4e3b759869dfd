"""``corral attach``: the caller's terminal connected to a tty service's terminal, through the
supervisor's socket, until the detach key (the service keeps running)."""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import (
    ExitCode,
    NothingRunning,
    SupervisorUnavailable,
    UsageError,
    check_services,
)

DETACH = "ctrl-]"  # as telnet's escape
CONTROL_KEYS = "@abcdefghijklmnopqrstuvwxyz[\\]^_"  # ctrl-@ is 0x00 ... ctrl-_ is 0x1f


def detach_byte(name: str) -> bytes:
    """The byte a control key sends: ``ctrl-]`` is 0x1d. Raises UsageError for anything else
    (a printable key would be typed into the service, never detach)."""
    text = name.strip().lower()
    key = next((text[len(p) :] for p in ("ctrl-", "ctrl+", "^") if text.startswith(p)), "")
    # Not the keys that also are Backspace, Tab, Enter, Esc or NUL: typing would detach.
    if len(key) != 1 or key not in CONTROL_KEYS or key in "@hijm[":
        raise UsageError(
            f"--detach-key: {name!r} is not a control key that can detach",
            hint="for example --detach-key ctrl-] (the default) or ctrl-q",
        )
    return bytes([CONTROL_KEYS.index(key)])


CONNECT_TIMEOUT = 5.0


class _Ended(Exception):
    """The client was told to end (SIGHUP, SIGTERM): the terminal is restored on the way out."""


def run_attach(args: argparse.Namespace, out: Output) -> int:
    from corral import protocol
    from corral.paths import socket_path

    detach = detach_byte(args.detach_key)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "attach needs a terminal",
            hint=f"without one, type into the service with: corral send {args.service} TEXT",
        )
    project = load_project_for(args)
    check_services([args.service], project.service_names)
    size = os.get_terminal_size(sys.stdout.fileno())
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(os.fspath(socket_path(project.project_id)))
        except OSError:
            raise NothingRunning("no supervisor runs here", hint="corral start") from None
        message = {"service": args.service, "size": [size.columns, size.lines]}
        sock.sendall(protocol.request("attach", **message))
        rest = _reply(sock)
        label = args.detach_key.strip().replace("ctrl-", "Ctrl-").replace("ctrl+", "Ctrl-")
        print(
            f"corral: attached to {args.service}; {label} detaches (the service keeps running)",
            file=sys.stderr,
            flush=True,
        )
        code = ExitCode.OK
        previous = signal.signal(signal.SIGWINCH, _follow_size(project, args.service))
        try:
            reason = _relay(sock, rest, detach)
        except _Ended as ended:
            reason, code = f"{ended}: detached; the service keeps running", ExitCode.FAILED
        finally:
            signal.signal(signal.SIGWINCH, previous)
    finally:
        sock.close()
    print(f"\r\ncorral: {reason}", file=sys.stderr, flush=True)
    return code


def _follow_size(project: Any, service: str) -> Any:
    """A SIGWINCH handler: the service's terminal takes this window's new size (one short
    request of its own; a supervisor that does not answer just leaves the size as it was)."""
    from corral import client
    from corral.errors import CorralError
    from corral.paths import socket_path

    path = socket_path(project.project_id)

    def resized(_signum: int, _frame: object) -> None:
        size = os.get_terminal_size(sys.stdout.fileno())
        message = {"op": "resize", "service": service, "size": [size.columns, size.lines]}
        with contextlib.suppress(CorralError, OSError):
            client.call(path, message, 2.0)

    return resized


def _reply(sock: socket.socket) -> bytes:
    """Read the supervisor's answer line (raising the error it carries); what follows it on the
    connection is already the terminal's output."""
    from corral import protocol

    data = b""
    while b"\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise SupervisorUnavailable("the supervisor closed the connection")
        data += piece
    line, rest = data.split(b"\n", 1)
    protocol.raise_for_reply(protocol.decode(line + b"\n"))
    return rest


def _relay(sock: socket.socket, first: bytes, detach: bytes) -> str:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    sock.settimeout(None)
    with _raw(stdin):
        os.write(stdout, first)
        while True:
            ready, _, _ = select.select([stdin, sock], [], [])
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    return "the service's terminal closed (it exited, or the supervisor did)"
                os.write(stdout, data)
            if stdin in ready:
                keys = os.read(stdin, 4096)
                if not keys:
                    return "end of input: detached"
                head, found, _ = keys.partition(detach)
                if head:
                    sock.sendall(head)
                if found:
                    return "detached; the service keeps running"


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    """Raw mode for the session, and the terminal restored exactly on every way out (detach,
    the service's end, the supervisor's loss, an error, SIGHUP or SIGTERM)."""
    import termios
    import tty

    saved = termios.tcgetattr(fd)

    def end(signum: int, _frame: object) -> None:
        raise _Ended(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, end) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        tty.setraw(fd, termios.TCSANOW)  # not TCSAFLUSH: keys typed already still count
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
