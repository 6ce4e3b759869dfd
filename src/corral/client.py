"""Talking to a project's supervisor over its Unix socket. Every call is bounded."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from corral import protocol
from corral.errors import CorralError


class SupervisorUnavailable(CorralError):
    code = protocol.SUPERVISOR_UNAVAILABLE


class SupervisorTimeout(CorralError):
    code = protocol.SUPERVISOR_TIMEOUT


def call(path: Path, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request and return the reply (raising the error it carries)."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise SupervisorUnavailable(f"no supervisor is listening on {path}") from None
        except TimeoutError:
            raise SupervisorTimeout(f"the supervisor did not accept within {timeout:g}s") from None
        sock.sendall(protocol.encode({"v": protocol.PROTOCOL_VERSION, **message}))
        reply = _read_line(sock, deadline, timeout)
    return protocol.raise_for_reply(protocol.decode(reply))


def _read_line(sock: socket.socket, deadline: float, timeout: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SupervisorTimeout(f"the supervisor did not answer within {timeout:g}s")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise SupervisorTimeout(f"the supervisor did not answer within {timeout:g}s") from None
        except ConnectionError as exc:
            raise SupervisorUnavailable(f"the supervisor closed the connection: {exc}") from None
        if not chunk:
            raise SupervisorUnavailable("the supervisor closed the connection without answering")
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


def ping(path: Path, timeout: float = 0.5) -> dict[str, Any] | None:
    """The supervisor's answer to a ping, or None if nobody answers in time."""
    try:
        return call(path, {"op": "ping"}, timeout)
    except (SupervisorUnavailable, SupervisorTimeout, protocol.ProtocolError):
        return None
