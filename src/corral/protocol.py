"""The wire between clients and the supervisor: one JSON request and one JSON reply per
connection, each a single line. Error codes are stable: clients and ``--json`` show them."""

from __future__ import annotations

import json
from typing import Any

from corral.errors import CorralError, ExitCode

PROTOCOL_VERSION = 1
MAX_MESSAGE = 16 * 1024 * 1024

# Wire-level error codes; every code is listed in docs/json.md.
SUPERVISOR_UNAVAILABLE = "supervisor_unavailable"
SUPERVISOR_TIMEOUT = "supervisor_timeout"
PROTOCOL = "protocol"
INTERNAL = "internal"


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"unreadable message: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def reply_error(exc: CorralError) -> dict[str, Any]:
    return {"ok": False, "error": exc.to_dict(), "exit_code": int(exc.exit_code)}


def raise_for_reply(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply itself when it is a success; otherwise the error it carries, raised."""
    if reply.get("ok"):
        return reply
    error = reply.get("error") or {}
    exc = RemoteError(str(error.get("message", "the supervisor failed")), error.get("hint"))
    exc.code = str(error.get("code", INTERNAL))
    exc.exit_code = ExitCode(int(reply.get("exit_code", ExitCode.FAILED)))
    exc.reply = reply
    raise exc


class ProtocolError(CorralError):
    code = PROTOCOL


class RemoteError(CorralError):
    """An error the supervisor reported; code and exit code come from the reply."""

    reply: dict[str, Any]
