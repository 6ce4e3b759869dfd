"""``corral doctor``: one bounded dump of everything that explains a broken setup."""

from __future__ import annotations

import argparse

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode


def run_doctor(args: argparse.Namespace, out: Output) -> int:
    from corral.control.doctor import diagnose

    project = load_project_for(args)
    report = diagnose(project)
    if out.json:
        out.document(report)
        return ExitCode.OK
    info = report["project"]
    out.line(
        out.paint(f"project {info['name']}", "bold") + f"  id {info['id']}  root {info['root']}"
    )
    out.line(f"  config      {', '.join(info['config_files'])}")
    sup = report["supervisor"]
    if sup["answering"]:
        answering = f"answering in {sup['latency_ms']} ms"
    else:
        answering = f"not answering ({sup['reason']})" if sup["alive"] else "not answering"
    out.line(
        f"  supervisor  {'alive' if sup['alive'] else 'not running'}, pid {sup['pid'] or '-'}, "
        f"{answering}; socket {sup['socket']} ({'present' if sup['socket_exists'] else 'absent'})"
    )
    if sup.get("logged"):
        out.line(f"  its log     {sup['logged']}")
    layers = ", ".join(f"{name} {'yes' if on else 'no'}" for name, on in report["layers"].items())
    out.line(f"  layers      {layers}")
    for service in report["services"]:
        out.line()
        out.line(
            f"{out.paint(service['name'], 'bold cyan')}: {service['state']}"
            + (f" ({service['note']})" if service.get("note") else "")
        )
        for process in service["tree"]:
            out.line(
                f"    pid {process['pid']:<7} ppid {process['ppid']:<7} pgid {process['pgid']:<7} "
                f"{process['state']}  {process['command'][:70]}"
            )
        for port, holders in service["port_holders"].items():
            who = (
                "; ".join(f"pid {h['pid']} ({(h['command'] or '')[:40]})" for h in holders)
                or "free"
            )
            out.line(f"    port {port}: {who}")
        for line in service.get("log_tail") or []:
            out.line(f"    | {line}")
    if report["orphans"]:
        out.line()
        out.line("processes of this project in no service's tree:")
        for process in report["orphans"]:
            out.line(f"    pid {process['pid']} ({process['command'][:70]})")
    out.line()
    if not report["problems"]:
        out.line(out.paint("no problems found", "green"))
    for problem in report["problems"]:
        out.line(out.paint(f"problem: {problem['problem']}", "yellow"))
        out.line(f"    fix: {problem['fix']}")
    return ExitCode.OK
