"""The fast path of ``corral status``, ``start`` and ``stop``: when a supervisor answers, ask it
and render, without argparse, without loading the configuration and with the fewest imports.
Anything unusual (other arguments, ``-f``, service names, no answer within the bound, an error
reply) returns None and the full path runs, which also gives every error its proper message; a
start or stop that the supervisor did not finish is finished there (both are idempotent).
``corral status`` is on agents' hot path, ``start`` is timed to readiness, and ``stop`` is what
a SIGTERM-ignoring service is waited out with."""

from __future__ import annotations

import os
import sys

CONFIG_NAMES = ("corral.toml", "Procfile.dev", "Procfile")
TIMEOUT = 1.0
START_TIMEOUT = 60.0  # the full path's default --timeout
START_MARGIN = 10.0  # beyond it, for the reply (control.MARGIN)


STATUS = b'{"v":1,"op":"status"}\n'
PING = b'{"v":1,"op":"ping"}\n'
STOP = b'{"v":1,"op":"stop","services":null}\n'


def fast_command(argv: list[str]) -> int | None:
    parsed = _parse(argv)
    if parsed is None:
        return None
    command, directory, want_json = parsed
    root = _project_root(directory)
    if root is None:
        return None
    if command == "stop":
        return _stop(root, want_json)
    if command == "start":
        return _start(root, want_json)
    reply = _ask(root, STATUS, TIMEOUT)
    if reply is None:
        return None
    from corral.cli.cmd_status import print_status

    return print_status(reply, _output(want_json))


def _stop(root: str, want_json: bool) -> int | None:
    bound = _stop_bound(root)
    if bound is None or _ask(root, PING, TIMEOUT) is None:
        return None
    reply = _ask(root, STOP, bound)
    if reply is None:
        return None
    from corral.cli.cmd_services import report_stop

    return report_stop(reply, _output(want_json))


def _start(root: str, want_json: bool) -> int | None:
    """Start everything through a running supervisor, which loads the configuration itself
    with this process's environment (it declines a tether or ttl: resolving those needs this
    process). Not on a terminal, where the full path shows progress; not with CORRAL_TETHER.
    With no supervisor, prelaunch one and let the full path go on."""
    if _ask(root, PING, TIMEOUT) is None:  # cold: the full path launches a supervisor
        from corral.prelaunch import prelaunch

        prelaunch(root, _project_id(root))  # its start-up overlaps loading the configuration
        return None
    if (sys.stdout.isatty() and not want_json) or os.environ.get("CORRAL_TETHER"):
        return None
    import json

    request = {"v": 1, "op": "start", "services": None, "load": True, "timeout": START_TIMEOUT}
    request["env"] = dict(os.environ)
    encoded = json.dumps(request).encode("utf-8", "surrogateescape") + b"\n"
    reply = _ask(root, encoded, START_TIMEOUT + START_MARGIN)
    if reply is None:
        return None
    from corral.cli.cmd_services import note_untethered_agent, report_start

    output = _output(want_json)
    if not output.json:
        note_untethered_agent()
    return report_start(root, reply, output)


def _stop_bound(root: str) -> float | None:
    """How long a stop may take: the recorded stop timeouts, as the full path counts them."""
    import json

    try:
        with open(os.path.join(root, ".corral", "state.json"), "rb") as handle:
            services = json.load(handle)["services"].values()
        return sum(float(s.get("stop_timeout", 10.0)) for s in services) + 15.0
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _output(want_json: bool):  # type: ignore[no-untyped-def]
    from corral.cli.render import Output

    tty = sys.stdout.isatty()
    return Output(
        want_json or os.environ.get("CORRAL_JSON") == "1",
        tty and not os.environ.get("NO_COLOR"),
        tty,
        sys.stdout,
        sys.stderr,
    )


def _parse(argv: list[str]) -> tuple[str, str, bool] | None:
    directory, want_json, command = ".", False, None
    words = iter(argv)
    for word in words:
        if word == "-C":
            directory = next(words, "")
            if not directory:
                return None
        elif word == "--json":
            want_json = True
        elif word in ("status", "ps", "start", "stop") and command is None:
            command = "status" if word == "ps" else word
        else:
            return None
    return (command, directory, want_json) if command else None


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


def _ask(root: str, request: bytes, timeout: float) -> dict[str, object] | None:
    import _socket  # the C module: socket.py would import enum, selectors and more
    import json

    project_id = _project_id(root)
    directory = _runtime_dir()
    try:
        if directory is None or os.lstat(directory).st_uid != os.getuid():
            return None
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(TIMEOUT)
            sock.connect(os.path.join(directory, f"{project_id}.sock"))
            sock.settimeout(timeout)
            sock.sendall(request)
            data = _read_reply(sock)
        finally:
            sock.close()
        reply = json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    if not isinstance(reply, dict) or not reply.pop("ok", False):
        return None
    return reply


def _project_id(root: str) -> str:
    """``corral.paths.project_id`` of a canonical root, without pathlib."""
    from corral.digest import sha256_hex

    return sha256_hex(root.encode("utf-8", "surrogateescape"))[:16]


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
