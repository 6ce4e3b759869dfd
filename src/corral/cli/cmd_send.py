"""``corral send``: input for a tty service's terminal, from a shell without one (an agent's)."""

from __future__ import annotations

import argparse
import sys

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode, UsageError, check_services

STDIN_LIMIT = 64 * 1024
ENTER = "\r"  # what the Enter key sends: the terminal turns it into a newline for the program


def run_send(args: argparse.Namespace, out: Output) -> int:
    from corral.control import operations as control

    project = load_project_for(args)
    check_services([args.service], project.service_names)
    text = _text(args)
    pattern = _pattern(args.wait_for)
    result = control.send(project, args.service, text, pattern, args.timeout)
    matched = result.get("matched", True)
    if out.json:
        out.document({**result, "ok": matched})
    elif pattern is None:
        out.line(f"{args.service}: sent {result['bytes']} bytes")
    elif matched:
        out.line(f"{args.service} | {result['line']}")
    else:
        out.line(f"no line of {args.service} matched {pattern!r} within {args.timeout:g}s")
    return ExitCode.OK if matched else ExitCode.FAILED


def _text(args: argparse.Namespace) -> str:
    if args.stdin:
        if args.text:
            raise UsageError("give TEXT or --stdin, not both", hint="corral send web --stdin < f")
        data = sys.stdin.buffer.read(STDIN_LIMIT + 1)
        if len(data) > STDIN_LIMIT:
            raise UsageError(f"--stdin: more than {STDIN_LIMIT} bytes", hint="send less at once")
        return data.decode(errors="replace")
    if not args.text and args.no_newline:
        raise UsageError("nothing to send", hint="corral send web 'c'")
    return " ".join(args.text) + ("" if args.no_newline else ENTER)


def _pattern(text: str | None) -> str | None:
    if text is None:
        return None
    import re

    try:
        re.compile(text)
    except re.error as exc:
        raise UsageError(f"--wait-for: invalid regular expression {text!r}: {exc}") from None
    return text
