"""Talking to a project's supervisor over its Unix socket: the one client, used by the full
path and the fast path alike. Every call is bounded; every failure to talk is
``SupervisorUnavailable`` (with its cause) or ``SupervisorTimeout``, never a bare OSError.

Lean on purpose: the C socket module (``socket.py`` would import enum, selectors and more), no
pathlib, no typing at run time. Framing belongs to ``corral.protocol``.
"""

from __future__ import annotations

import _socket
import os
import time

from corral import protocol
from corral.errors import ProtocolError, SupervisorTimeout, SupervisorUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONNECT_TIMEOUT = 1.0  # a supervisor that does not accept within a second is not answering

# Sockets whose supervisor let a request time out in this process, and when: one command does
# not wait on a hung supervisor twice (the fast path, then the full path), which would double
# its bound. Forgotten after a while, for the long-lived clients (MCP server, `corral up`).
_silent: dict[str, float] = {}
SILENT_MEMORY = 5.0


def call(path: str | os.PathLike[str], message: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request and return the reply (raising the error it carries)."""
    op = str(message.get("op", ""))
    fields = {key: value for key, value in message.items() if key != "op"}
    return exchange(path, protocol.request(op, **fields), timeout)


def exchange(path: str | os.PathLike[str], data: bytes, timeout: float) -> dict[str, Any]:
    """Send framed ``data`` and return the decoded, successful reply."""
    line = _round_trip(os.fspath(path), data, timeout)
    return protocol.raise_for_reply(protocol.decode(line))


def _round_trip(path: str, data: bytes, timeout: float) -> bytes:
    if time.monotonic() - _silent.get(path, float("-inf")) < SILENT_MEMORY:
        raise SupervisorTimeout("the supervisor did not answer a moment ago")
    try:
        return _send_and_read(path, data, timeout)
    except SupervisorTimeout:
        _silent[path] = time.monotonic()
        raise


def _send_and_read(path: str, data: bytes, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(min(CONNECT_TIMEOUT, timeout))
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            raise SupervisorUnavailable(f"no supervisor is listening on {path}") from None
        except TimeoutError:
            raise SupervisorTimeout(f"the supervisor did not accept within {timeout:g}s") from None
        except OSError as exc:
            raise SupervisorUnavailable(f"cannot connect to {path}: {exc.strerror}") from None
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(data)
        except TimeoutError:
            raise SupervisorTimeout(f"the supervisor did not read within {timeout:g}s") from None
        except OSError as exc:  # a broken pipe here is the supervisor's, not our stdout's
            raise SupervisorUnavailable(
                f"the supervisor closed the connection before reading the request ({exc})"
            ) from None
        return read_line(sock, deadline, timeout)
    finally:
        sock.close()


def read_line(sock: Any, deadline: float, timeout: float) -> bytes:
    """One framed message from ``sock``, at most ``protocol.MAX_MESSAGE`` bytes, by ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SupervisorTimeout(f"the supervisor did not answer within {timeout:g}s")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise SupervisorTimeout(f"the supervisor did not answer within {timeout:g}s") from None
        except OSError as exc:
            raise SupervisorUnavailable(f"the supervisor closed the connection: {exc}") from None
        if not chunk:
            raise SupervisorUnavailable("the supervisor closed the connection without answering")
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)
        if size > protocol.MAX_MESSAGE:
            raise protocol.too_large(size)


def ping(path: str | os.PathLike[str], timeout: float = 0.5) -> dict[str, Any] | None:
    """The supervisor's answer to a ping, or None if nobody answers in time."""
    try:
        return call(path, {"op": "ping"}, timeout)
    except (SupervisorUnavailable, SupervisorTimeout, ProtocolError):
        return None
