"""The fast path of ``corral status``: when a supervisor answers, ask it and render, without
argparse, without loading the configuration and with the fewest imports. Anything unusual
(other arguments, ``-f``, no answer within the bound) returns None and the full path runs, which
also gives every error its proper message. ``corral status`` is on agents' hot path."""

from __future__ import annotations

import os
import sys

CONFIG_NAMES = ("corral.toml", "Procfile.dev", "Procfile")
TIMEOUT = 1.0


def fast_status(argv: list[str]) -> int | None:
    parsed = _parse(argv)
    if parsed is None:
        return None
    directory, want_json = parsed
    root = _project_root(directory)
    reply = _ask(root) if root else None
    if reply is None:
        return None
    from corral.cli.cmd_status import print_status
    from corral.cli.render import Output

    tty = sys.stdout.isatty()
    out = Output(
        want_json or os.environ.get("CORRAL_JSON") == "1",
        tty and not os.environ.get("NO_COLOR"),
        tty,
        sys.stdout,
        sys.stderr,
    )
    reply.pop("ok", None)
    return print_status(reply, out)


def _parse(argv: list[str]) -> tuple[str, bool] | None:
    directory, want_json, command = ".", False, None
    words = iter(argv)
    for word in words:
        if word == "-C":
            directory = next(words, "")
            if not directory:
                return None
        elif word == "--json":
            want_json = True
        elif word in ("status", "ps") and command is None:
            command = word
        else:
            return None
    return (directory, want_json) if command else None


def _project_root(directory: str) -> str | None:
    current = os.path.realpath(directory)
    while True:
        if any(os.path.isfile(os.path.join(current, name)) for name in CONFIG_NAMES):
            return current
        pyproject = os.path.join(current, "pyproject.toml")
        if os.path.isfile(pyproject) and _mentions_corral(pyproject):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _mentions_corral(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "[tool.corral" in handle.read()
    except OSError:
        return False


def _ask(root: str) -> dict[str, object] | None:
    import _socket  # the C module: socket.py would import enum, selectors and more
    import json

    from corral.digest import sha256_hex

    project_id = sha256_hex(root.encode("utf-8", "surrogateescape"))[:16]
    directory = _runtime_dir()
    try:
        if directory is None or os.lstat(directory).st_uid != os.getuid():
            return None
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(TIMEOUT)
            sock.connect(os.path.join(directory, f"{project_id}.sock"))
            sock.sendall(b'{"v":1,"op":"status"}\n')
            data = _read_reply(sock)
        finally:
            sock.close()
        reply = json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    return reply if isinstance(reply, dict) and reply.get("ok") else None


def _read_reply(sock) -> bytes:  # type: ignore[no-untyped-def]
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


def _runtime_dir() -> str | None:
    """The same directory as ``corral.paths.runtime_dir``, without creating it."""
    if os.environ.get("CORRAL_RUNTIME_DIR"):
        return os.environ["CORRAL_RUNTIME_DIR"]
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and len(xdg) < 60 and os.path.isdir(xdg):
        return os.path.join(xdg, "corral")
    return f"/tmp/corral-{os.getuid()}"
