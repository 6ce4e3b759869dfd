"""``corral events``: what happened since a cursor; the last line tells where to continue."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode, check_services

FOLLOW_DEFAULT_WITHOUT_TTY = 30.0


def run_events(args: argparse.Namespace, out: Output) -> int:
    from corral import events
    from corral.paths import state_dir

    project = load_project_for(args)
    check_services([args.service] if args.service else [], project.service_names)
    directory = state_dir(project.root)
    found = events.read(directory, args.since, args.service, limit=args.limit)
    cursor = found[-1]["cursor"] if found else max(args.since, 0)
    if not out.json:
        for event in found:
            out.line(describe(event))
    if args.follow or args.duration is not None:
        bound = args.duration
        if bound is None and not sys.stdout.isatty():
            bound = FOLLOW_DEFAULT_WITHOUT_TTY
            print(
                f"corral: following for {bound:g}s (no terminal; --for sets the bound)",
                file=sys.stderr,
            )
        deadline = time.monotonic() + (bound if bound is not None else float("inf"))
        for event in events.follow(directory, cursor, args.service, deadline):
            cursor = event["cursor"]
            found.append(event) if out.json else out.line(describe(event))
    if out.json:
        out.document({"events": found, "cursor": cursor})
    else:
        out.line(
            out.paint(f"cursor {cursor} (continue with: corral events --since {cursor})", "dim")
        )
    return ExitCode.OK


def describe(event: dict[str, Any]) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(event["time"]))
    details = {k: v for k, v in event.items() if k not in ("cursor", "time", "kind", "service")}
    text = " ".join(f"{key}={value}" for key, value in details.items() if value is not None)
    who = f" {event['service']}" if event.get("service") else ""
    return f"{event['cursor']:>6} {stamp} {event['kind']}{who} {text}".rstrip()
