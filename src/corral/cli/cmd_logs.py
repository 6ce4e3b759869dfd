"""``corral logs``: the last lines of the services' logs, merged in time order; ``-f`` follows
them, until interrupted on a terminal and for a bounded time otherwise (never hanging an agent)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import UsageError

FOLLOW_DEFAULT_WITHOUT_TTY = 30.0
PALETTE = ["cyan", "magenta", "green", "yellow", "blue"]


def with_copies(names: list[str], log_dir: Any) -> list[str]:
    """The services and the copies of them a formation ran (``web.1``, ``web.2``: they have
    logs of their own), in the services' order."""
    import re

    found = {p.name[: -len(".log")] for p in log_dir.glob("*.*.log")} if log_dir.is_dir() else set()
    result = []
    for name in names:
        copies = sorted(
            (n for n in found if re.fullmatch(re.escape(name) + r"\.\d+", n)),
            key=lambda n: int(n.rsplit(".", 1)[1]),
        )
        result += [name, *copies]
    return result


def run_logs(args: argparse.Namespace, out: Output) -> int:
    try:
        return _run_logs(args, out)
    except KeyboardInterrupt:  # how a follow on a terminal ends: quietly, as tail -f
        if args.follow or args.duration:
            return 130
        raise


def _run_logs(args: argparse.Namespace, out: Output) -> int:
    from corral import logs
    from corral.cli.cmd_services import check_names
    from corral.config.durations import parse_duration
    from corral.paths import state_dir

    project = load_project_for(args)
    directory = state_dir(project.root)
    names = args.services or with_copies(project.service_names, logs.log_dir(directory))
    check_names(project, names)
    since = _since(args.since)
    grep = _grep(args.grep)
    lines = logs.tail(directory, names, lines=args.lines, since=since, grep=grep)
    printer = _Printer(names, out, args.timestamps, _keeps_escapes(args.color, out))
    if not out.json:
        for line in lines:
            printer.show(line)
    followed: list[Any] = []
    interrupted = False
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
        try:
            for line in logs.follow(directory, names, offsets, deadline):
                if grep is None or grep.search(line.text):
                    followed.append(line) if out.json else printer.show(line)
        except KeyboardInterrupt:  # still print what was followed, then end as interrupted
            interrupted = True
    if out.json:
        out.document({"lines": [_as_dict(line) for line in [*lines, *followed]]})
    return 130 if interrupted else 0


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


def _keeps_escapes(choice: str, out: Output) -> bool:
    """Whether the services' terminal escapes (colour, cursor moves) go out as written: to a
    terminal that shows colour, or when asked; never in JSON."""
    if out.json:
        return False
    return choice == "always" or (choice == "auto" and out.colour)


def _as_dict(line: Any) -> dict[str, Any]:
    from corral.logs.escapes import strip

    return {"service": line.service, "time": line.time, "text": strip(line.text)}


class _Printer:
    def __init__(
        self, names: list[str], out: Output, timestamps: bool, escapes: bool | None = None
    ) -> None:
        self.out = out
        self.escapes = out.colour if escapes is None else escapes  # as --color=auto
        self.width = max(len(name) for name in names)
        self.colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
        self.timestamps = timestamps

    def show(self, line: Any) -> None:
        prefix = self.out.paint(f"{line.service:<{self.width}} |", self.colours[line.service])
        if self.timestamps:
            stamp = time.strftime("%H:%M:%S", time.localtime(line.time))
            prefix = f"{stamp}.{int(line.time * 1000) % 1000:03d} {prefix}"
        text = line.text
        if not self.escapes:
            from corral.logs.escapes import strip  # imported once, by the first line

            text = strip(text)
        self.out.line(f"{prefix} {text}")
        self.out.stdout.flush()
