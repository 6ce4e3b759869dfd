"""``corral logs``: the last lines of the services' logs, merged in time order; ``-f`` follows
them, until interrupted on a terminal and for a bounded time otherwise (never hanging an agent)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import UsageError, check_services

FOLLOW_DEFAULT_WITHOUT_TTY = 30.0
PALETTE = ["cyan", "magenta", "green", "yellow", "blue"]


def run_logs(args: argparse.Namespace, out: Output) -> int:
    from corral import logs
    from corral.config.durations import parse_duration
    from corral.paths import state_dir

    project = load_project_for(args)
    names = args.services or project.service_names
    check_services(names, project.service_names)
    since = _since(args.since)
    grep = _grep(args.grep)
    directory = state_dir(project.root)
    lines = logs.tail(directory, names, lines=args.lines, since=since, grep=grep)
    printer = _Printer(names, out, args.timestamps)
    if not out.json:
        for line in lines:
            printer.show(line)
    followed: list[Any] = []
    if args.follow or args.duration:
        bound = parse_duration(args.duration) if args.duration else None
        if bound is None and not sys.stdout.isatty():
            bound = FOLLOW_DEFAULT_WITHOUT_TTY
            print(
                f"corral: following for {bound:g}s (no terminal; --for sets the bound)",
                file=sys.stderr,
            )
        deadline = time.monotonic() + (bound if bound is not None else float("inf"))
        offsets = logs.end_offsets(directory, names)
        for line in logs.follow(directory, names, offsets, deadline):
            if grep is None or grep.search(line.text):
                followed.append(line) if out.json else printer.show(line)
    if out.json:
        out.document({"lines": [_as_dict(line) for line in [*lines, *followed]]})
    return 0


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    from corral import logs

    try:
        return logs.parse_since(text, time.time())
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


def _grep(text: str | None) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise UsageError(f"--grep: invalid regular expression {text!r}: {exc}") from None


def _as_dict(line: Any) -> dict[str, Any]:
    return {"service": line.service, "time": line.time, "text": line.text}


class _Printer:
    def __init__(self, names: list[str], out: Output, timestamps: bool) -> None:
        self.out = out
        self.width = max(len(name) for name in names)
        self.colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
        self.timestamps = timestamps

    def show(self, line: Any) -> None:
        prefix = self.out.paint(f"{line.service:<{self.width}} |", self.colours[line.service])
        if self.timestamps:
            stamp = time.strftime("%H:%M:%S", time.localtime(line.time))
            prefix = f"{stamp}.{int(line.time * 1000) % 1000:03d} {prefix}"
        self.out.line(f"{prefix} {line.text}")
        self.out.stdout.flush()
