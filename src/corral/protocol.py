"""The wire between clients and the supervisor, and the only code that frames it: one JSON
request and one JSON reply per connection, each a single line of at most ``MAX_MESSAGE`` bytes.
Both ends enforce the bound: ``encode`` refuses to send more, ``read_line`` (client) and the
server's stream limit (``SERVER_LIMIT``) refuse to read more, each with a one-line error.

Lean on purpose (the fast path of ``corral status`` imports it): json and nothing heavy.
"""

from __future__ import annotations

import json

from corral.errors import CorralError, InternalError, ProtocolError, RemoteError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOL_VERSION = 1
MAX_MESSAGE = 16 * 1024 * 1024  # bytes per line, newline included; documented in docs/design.md
SERVER_LIMIT = MAX_MESSAGE  # the asyncio stream limit the supervisor reads requests with
DEFAULT_START_TIMEOUT = 60.0  # seconds a start waits for readiness unless told otherwise
REPLY_MARGIN = 10.0  # a client waits this much beyond an operation's own bound for its reply
PING_TIMEOUT = 1.0  # a supervisor that does not answer a ping within this is not answering
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


class MessageTooLarge(ProtocolError):
    pass


def encode(message: dict[str, Any]) -> bytes:
    """One framed message; a message over ``MAX_MESSAGE`` is refused before it is sent."""
    data = _ENCODER.encode(message).encode("utf-8", "surrogateescape") + b"\n"
    if len(data) > MAX_MESSAGE:
        raise MessageTooLarge(
            f"a message of {len(data)} bytes is over the protocol's limit of {MAX_MESSAGE} bytes",
            hint="a very large environment or .env file; trim it",
        )
    return data


def request(op: str, **fields: Any) -> bytes:
    return encode({"v": PROTOCOL_VERSION, "op": op, **fields})


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"unreadable message: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def too_large(size: int) -> MessageTooLarge:
    return MessageTooLarge(
        f"a message of more than {size} bytes is over the protocol's limit of {MAX_MESSAGE}",
        hint="a very large environment or .env file; trim it",
    )


def reply_error(exc: CorralError) -> dict[str, Any]:
    return {"ok": False, "error": exc.to_dict(), "exit_code": int(exc.exit_code)}


def reply_internal(exc: BaseException) -> dict[str, Any]:
    return reply_error(InternalError(f"internal error: {exc!r}"))


def raise_for_reply(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply itself when it is a success; otherwise the error it carries, raised."""
    if reply.get("ok"):
        return reply
    error = reply.get("error")
    if not isinstance(error, dict):
        error = {}
    code = reply.get("exit_code", 1)
    raise RemoteError(error, int(code) if isinstance(code, int) else 1, reply)
