"""``corral port`` (who holds a port) and ``corral free`` (free it, never a stranger's without
``--force``)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode


def run_port(args: argparse.Namespace, out: Output) -> int:
    from corral.control import port_ops

    project = load_project_for(args)
    rows = port_ops.port_report(project, args.ports)
    if out.json:
        out.document({"ports": rows})
        return ExitCode.OK
    if not rows:
        out.line("this project declares no ports; name some: corral port PORT...")
    for row in rows:
        declared = f" (declared by {row['declared_by']})" if row["declared_by"] else ""
        if not row["holders"]:
            out.line(f"{row['port']}{declared}: free")
        for holder in row["holders"]:
            out.line(f"{row['port']}{declared}: {_holder_line(holder)}")
    return ExitCode.OK


def _holder_line(holder: dict[str, Any]) -> str:
    addresses = ", ".join(holder["addresses"])
    if holder["pid"] is None:
        return f"held by a process of user {holder['user']} on {addresses} (pid not visible)"
    text = f"pid {holder['pid']} ({holder['command'][:70]}) on {addresses}, user {holder['user']}"
    if holder.get("started_at"):
        text += f", since {time.strftime('%H:%M:%S', time.localtime(holder['started_at']))}"
    if holder.get("service"):
        owner = (
            "this project"
            if holder.get("ours")
            else (holder.get("project_root") or "another corral project")
        )
        text += f"; service {holder['service']} of {owner}"
    return text


def run_free(args: argparse.Namespace, out: Output) -> int:
    from corral.control import port_ops

    project = load_project_for(args)
    results = port_ops.free(project, args.ports, args.force)
    ok = all(r["free"] and not r["refused"] for r in results)
    if out.json:
        out.document({"ports": results, "ok": ok})
        return ExitCode.OK if ok else ExitCode.FAILED
    for result in results:
        port = result["port"]
        for holder in result["stopped"]:
            out.line(f"{port}: {holder['how']}: pid {holder['pid']} ({holder['command'][:60]})")
        for holder in result["killed"]:
            what = "killed" if holder.get("killed") else "could NOT kill"
            out.line(
                f"{port}: {what} a process corral did not start (--force): {_who(holder)}: "
                f"{holder['outcome']}"
            )
        for holder in result["refused"]:
            hint = holder.get("stop_command") or f"corral free {port} --force"
            out.line(
                f"{port}: NOT freed: held by {_who(holder)}, which corral did not start; "
                f"to free it: {hint}"
            )
        if not result["refused"]:
            out.line(f"{port}: {'free' if result['free'] else 'STILL HELD'}")
    return ExitCode.OK if ok else ExitCode.FAILED


def _who(holder: dict[str, Any]) -> str:
    """A holder as a person can act on it; a pid the kernel hides from us is said so."""
    user = holder.get("user") or f"uid {holder.get('uid')}"
    if holder.get("pid") is None:
        return f"a process of user {user} (corral does not look into other users' processes)"
    return f"pid {holder['pid']} ({(holder.get('command') or '')[:60]}) of user {user}"
