"""The fast path of ``corral status``, ``start`` and ``stop``: when a supervisor answers, ask it
and render, without argparse and without loading the configuration. It is not a second client:
it finds the project, its id and socket with ``corral.paths`` and talks with ``corral.client``,
the same lean primitives the full path uses, and renders with the same functions.

Anything unusual (other arguments, ``-f``, service names, no answer within the bound, an error
reply) returns None and the full path runs, which also gives every error its proper message; a
start or stop that the supervisor did not finish is finished there (both are idempotent).
"""

from __future__ import annotations

import os
import sys

from corral import client, paths, protocol
from corral.errors import CorralError

COMMANDS = {"status": "status", "ps": "status", "start": "start", "stop": "stop"}


def fast_command(argv: list[str]) -> int | None:
    if len(argv) == 3 and argv[:2] == ["agent", "hook"]:  # run before every agent shell command
        from corral.agent.hooks import HANDLERS, run

        return run(argv[2], sys.stdin, sys.stdout, sys.stderr) if argv[2] in HANDLERS else None
    parsed = _parse(argv)
    if parsed is None:
        return None
    command, directory, want_json = parsed
    root = paths.find_root(directory)
    if root is None or not paths.runtime_directory_is_ours():
        if root is not None and command == "start":
            _prelaunch(root)
        return None
    if command == "stop":
        return _stop(root, want_json)
    if command == "start":
        return _start(root, want_json)
    reply = _ask(root, "status", protocol.PING_TIMEOUT)
    if reply is None:
        return None
    from corral.cli.cmd_status import print_status

    return print_status(reply, _output(want_json))


def _stop(root: str, want_json: bool) -> int | None:
    """Stop everything: a ping first (a hung supervisor is found within a second), whose answer
    also says how long the stop may take (the running services' own stop timeouts)."""
    if sys.stdout.isatty() and not want_json:
        return None  # the full path shows who is still being waited for
    pong = _ask(root, "ping", protocol.PING_TIMEOUT)
    if pong is None or not isinstance(pong.get("stop_bound"), int | float):
        return None
    reply = _ask(root, "stop", float(pong["stop_bound"]) + protocol.REPLY_MARGIN, services=None)
    if reply is None:
        return None
    from corral.cli.cmd_services import report_stop

    return report_stop(reply, _output(want_json))


def _start(root: str, want_json: bool) -> int | None:
    """Start everything through a running supervisor, which loads the configuration itself
    with this process's environment (it declines a tether or ttl: resolving those needs this
    process). Not on a terminal, where the full path shows progress; not with CORRAL_TETHER.
    With no supervisor, prelaunch one and let the full path go on."""
    if _ask(root, "ping", protocol.PING_TIMEOUT) is None:
        _prelaunch(root)
        return None
    if (sys.stdout.isatty() and not want_json) or os.environ.get("CORRAL_TETHER"):
        return None
    from corral.agents import starter

    timeout = protocol.DEFAULT_START_TIMEOUT
    reply = _ask(
        root,
        "start",
        timeout + protocol.REPLY_MARGIN,
        services=None,
        load=True,
        timeout=timeout,
        env=dict(os.environ),
        started_by=starter(),
    )
    if reply is None:
        return None
    from corral.cli.cmd_services import note_untethered_agent, report_start

    output = _output(want_json)
    if not output.json:
        note_untethered_agent()
    return report_start(root, reply, output)


def _prelaunch(root: str) -> None:
    """A cold start: the guard's and supervisor's start-up overlaps loading the configuration."""
    from corral.launch.prelaunch import prelaunch

    prelaunch(root, paths.project_id(root))


def _ask(root: str, op: str, bound: float, **fields: object) -> dict[str, object] | None:
    """The supervisor's successful reply within ``bound`` seconds, or None for any failure
    (the full path then runs and reports it)."""
    try:
        data = protocol.request(op, **fields)
        reply = client.exchange(paths.socket_file(paths.project_id(root)), data, bound)
    except CorralError:
        return None
    reply.pop("ok", None)
    return reply


def _output(want_json: bool):  # type: ignore[no-untyped-def]
    from corral.cli.render import Output

    return Output.standard(want_json)


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
        elif word in COMMANDS and command is None:
            command = COMMANDS[word]
        else:
            return None
    return (command, directory, want_json) if command else None
