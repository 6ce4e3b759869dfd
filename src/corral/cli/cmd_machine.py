"""Commands about every project of this user: ``corral ls`` and ``corral nuke``."""

from __future__ import annotations

import argparse
import sys

from corral.cli.cmd_status import starter_line
from corral.cli.render import Output
from corral.errors import ExitCode, UsageError


def run_ls(args: argparse.Namespace, out: Output) -> int:
    from corral.control import listing

    projects = listing.projects()
    if out.json:
        out.document({"projects": projects})
        return ExitCode.OK
    if not projects:
        out.line("no corral project of this user has anything running")
    for item in projects:
        supervisor = "supervisor alive" if item["supervisor_alive"] else "NO SUPERVISOR"
        out.line(
            out.paint(item["root"] or f"(unknown root, id {item['id']})", "bold")
            + f"  {supervisor}"
        )
        for service, pids in sorted(item["services"].items()):
            starter = starter_line(item.get("started_by", {}).get(service))
            who = f" ({starter})" if starter else ""
            out.line(f"    {service}: pid {', '.join(str(p) for p in pids)}{who}")
        if item["orphans"]:
            out.line(
                out.paint(
                    f"    {len(item['orphans'])} orphaned process(es): "
                    f"corral -C {item['root']} stop",
                    "yellow",
                )
            )
        if item["ports"]:
            out.line(f"    listening on {', '.join(str(p) for p in item['ports'])}")
        if item["stale_socket"]:
            out.line("    stale socket (fix: corral nuke, or corral stop in the project)")
    return ExitCode.OK


def run_nuke(args: argparse.Namespace, out: Output) -> int:
    from corral.control import nuke

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not args.yes and not interactive:
        raise UsageError(
            "nuke stops every corral process of this user and needs a yes",
            hint="run it on a terminal, or pass --yes",
        )
    found = nuke.targets()
    if not found:
        skipped = nuke.unnameable()
        if out.json:
            empty: dict[str, list[object]] = {"stopped": [], "killed": [], "survivors": []}
            out.document({**empty, "sockets_removed": [], "skipped": skipped})
        else:
            out.line("nothing to stop: no process of this user carries corral's identity")
            _say_skipped(out, skipped)
        return ExitCode.OK
    if not args.yes:
        for pid, info in sorted(found.items()):
            what = info["role"] or info["service"] or "?"
            out.line(f"  pid {pid:<7} {what:<12} {info['command'][:80]}")
        answer = input(f"stop these {len(found)} process(es)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            out.line("nothing stopped")
            return ExitCode.OK
    result = nuke.nuke(found)
    if out.json:
        out.document({**result, "ok": not result["survivors"]})
    else:
        for pid in result["stopped"]:
            info = found.get(pid, {})
            how = "killed" if pid in result["killed"] else "stopped"
            out.line(f"{how} pid {pid} ({(info.get('command') or '')[:80]})")
        for sock in result["sockets_removed"]:
            out.line(f"removed stale socket {sock}")
        _say_skipped(out, result["skipped"])
        if result["survivors"]:
            out.line(out.paint(f"STILL ALIVE: {result['survivors']}", "red bold"))
        else:
            out.line(f"nothing of corral is left running ({len(result['stopped'])} stopped)")
    return ExitCode.FAILED if result["survivors"] else ExitCode.OK


def _say_skipped(out: Output, skipped: list[dict[str, object]]) -> None:
    for item in skipped:
        out.line(
            f"left alone: pid {item['pid']} carries CORRAL_PROJECT_ID={item['project']} of no "
            f"project corral can name ({str(item['command'])[:60]})"
        )
