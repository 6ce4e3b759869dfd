"""``corral status`` (alias ``ps``): one line per service, from the supervisor or, when it does not
answer, from the state file and a process scan (and it says which)."""

from __future__ import annotations

import time

from corral.control.diagnosis import describe_exit
from corral.timefmt import format_elapsed

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from corral.cli.render import Output

NO_PROBE = "no probe"  # the note of a service made ready by the settle time (readiness.NO_PROBE)
STATE_STYLE = {
    "ready": "green",
    "running": "yellow",
    "starting": "cyan",
    "stopping": "cyan",
    "backoff": "yellow",
    "exited": "red",
    "crashed": "red bold",
    "orphaned": "magenta bold",
    "stopped": "dim",
    "completed": "green",
}


def run_status(args: argparse.Namespace, out: Output) -> int:
    from corral.cli.render import load_project_for
    from corral.control import operations as control

    project = load_project_for(args)
    result = control.status(project)
    code = print_status(result, out)
    return check_status(result) if args.check else code


AS_WANTED = ("ready", "completed", "stopped")  # what status --check accepts


def check_status(result: dict[str, Any]) -> int:
    """``status --check``: 1 if a service is in any other state (crashed, exited, backoff,
    running with a failed probe, orphaned, still starting or stopping), each named on stderr."""
    import sys

    wrong = [s for s in result["services"] if s["state"] not in AS_WANTED]
    for service in wrong:
        why = f" ({describe_exit(service['last_exit'])})" if service.get("last_exit") else ""
        print(f"corral: {service['name']} is {service['state']}{why}", file=sys.stderr)
    return 1 if wrong else 0


def print_status(result: dict[str, Any], out: Output) -> int:
    if out.json:
        out.document({key: value for key, value in result.items() if key != "ok"})
        return 0
    _print_header(result, out)
    for warning in result.get("warnings") or []:
        out.line(out.paint(f"warning: {warning}", "yellow"))
    rows = [_row(service, out) for service in result["services"]]
    headers = ["NAME", "STATE", "PID", "UPTIME", "STARTED", "RESTARTS", "PORTS", "LAST EXIT"]
    _print_table(headers, rows, out)
    for service in result["services"]:
        if service.get("note") and service["note"] != NO_PROBE:
            out.line(f"  {service['name']}: {service['note']}")
        starter = starter_line(service.get("started_by")) if service.get("pid") else None
        if starter:
            out.line(f"  {service['name']}: {starter}")
        stale = service.get("stale")
        if stale:
            moved = "; git HEAD moved" if stale["head_moved"] else ""
            out.line(
                out.paint(
                    f"  {service['name']}: stale: {stale['files']} file(s) changed since "
                    f"it started ({', '.join(stale['first'])}){moved}; corral restart --stale",
                    "yellow",
                )
            )
    return 0


def _print_header(result: dict[str, Any], out: Output) -> None:
    supervisor = result.get("supervisor")
    if result["source"] == "supervisor":
        up = format_elapsed(time.time() - (supervisor.get("started_at") or time.time()))
        out.line(
            out.paint(f"supervisor pid {supervisor['pid']}, up {up}; {_session(result)}", "dim")
        )
        return
    problem = result.get("problem")
    if problem:
        out.line(out.paint(f"{problem}; showing the state file and a process scan", "yellow"))
    else:
        out.line(
            out.paint("no supervisor running; showing the state file and a process scan", "dim")
        )
    ended = result.get("ended")
    if ended and ended.get("by") == "guard":
        out.line(out.paint(f"the last supervisor ended abnormally: {ended['reason']}", "yellow"))


def _session(result: dict[str, Any]) -> str:
    tether, lease = result.get("tether"), result.get("lease")
    parts = []
    if tether:
        parts.append(f"tethered to pid {tether['pid']} ({tether['command'][:40]})")
    if lease:
        ttl, left = format_elapsed(lease["ttl"]), format_elapsed(lease["expires_in"])
        parts.append(f"lease {ttl}, expires in {left}")
    return ", ".join(parts) or "untethered: services run until 'corral stop'"


def starter_line(started_by: dict[str, Any] | None) -> str | None:
    """ "started by agent session ... (AGENT) 46m ago, tethered", for starts an agent made."""
    if not started_by or not (started_by.get("agent") or started_by.get("session")):
        return None
    who = f"agent session {started_by['session']}" if started_by.get("session") else "an agent"
    agent = f" ({started_by['agent']})" if started_by.get("agent") else ""
    when = started_by.get("time")
    ago = f" {format_elapsed(time.time() - when)} ago" if isinstance(when, int | float) else ""
    tie = "tethered" if started_by.get("tethered") else "leased" if started_by.get("leased") else ""
    return f"started by {who}{agent}{ago}, {tie or 'untethered'}"


def state_text(service: dict[str, Any]) -> str:
    """The state as a person reads it: ``completed (exit 0) 3s ago`` for a finished oneshot."""
    state = service["state"]
    last_exit = service.get("last_exit")
    if state == "completed" and last_exit:
        when = last_exit.get("time")
        ago = f" {format_elapsed(time.time() - when)} ago" if isinstance(when, int | float) else ""
        return f"completed ({describe_exit(last_exit).replace('code ', '')}){ago}"
    if state == "ready" and service.get("note") == NO_PROBE:
        state = "ready (no probe)"  # it stayed up for the settle time: that is all we know
    return state + (" (stale)" if service.get("stale") else "")


def _row(service: dict[str, Any], out: Output) -> list[str]:
    state = state_text(service)
    started = service.get("started_at")
    running = service.get("pid") is not None
    declared = set(service.get("ports") or [])
    listening = service.get("listening") or []
    ports = ",".join(str(p) for p in listening) or ("-" if not declared else "(none yet)")
    last_exit = service.get("last_exit")
    return [
        service["name"],
        out.paint(state, STATE_STYLE.get(service["state"], "")),
        str(service["pid"]) if running else "-",
        format_elapsed(time.time() - started) if running and started else "-",
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if running and started else "-",
        str(service.get("restarts", 0)),
        ports if running else (",".join(str(p) for p in sorted(declared)) or "-"),
        describe_exit(last_exit) if last_exit else "-",
    ]


def _print_table(headers: list[str], rows: list[list[str]], out: Output) -> None:
    visible = len  # without colour every character shows
    if out.colour:
        import re

        def visible(text: str) -> int:
            return len(re.sub(r"\033\[[0-9;]*m", "", text))

    widths = [max(visible(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [cell + " " * (widths[i] - visible(cell)) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    out.line("\n".join(lines))  # one write for the table, not one per service
