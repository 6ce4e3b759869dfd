"""``corral start``, ``stop`` and ``restart``: ask the supervisor, then report what happened."""

from __future__ import annotations

from corral.cli.cmd_status import NO_PROBE, state_text
from corral.cli.render import Output, load_project_for
from corral.control.diagnosis import describe_exit, diagnose_failure
from corral.errors import CorralError, ExitCode, check_services

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the fast paths of start and stop render here
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any


def run_start(args: argparse.Namespace, out: Output) -> int:
    from corral.control import operations as control

    project = load_project_for(args)
    check_names(project, args.services)
    args.services = selected(project, args.services, args.excluded)
    session = session_options(args, project, out)
    if args.watch:
        session["watch"] = True
    if out.tty and not out.json and not args.no_wait:
        from corral.cli.progress import Progress

        with Progress(project, args.services, out):
            result = control.start(
                project, _config_file(args), args.services, args.timeout, session=session
            )
    else:
        result = control.start(
            project,
            _config_file(args),
            args.services,
            args.timeout,
            wait=not args.no_wait,
            session=session,
        )
    from corral.control import tether

    tether.check_outlived(session.get("tether"))
    return report_start(project.root, result, out)


def selected(project, names: list[str], excluded: list[str] | None) -> list[str]:  # type: ignore[no-untyped-def]
    """The services to start: those named (default: every autostart one) but the ``--except``
    ones (a name leaves out all its copies, web.1 and web.2). Leaving out a service that another
    one needs is a usage error: it would be started anyway as a dependency."""
    if not excluded:
        return names
    from corral.errors import UsageError

    def base(name: str) -> str:
        return name.partition(".")[0]  # a copy of a formation: web.2 is web's

    drop = {name for item in excluded for name in item.split(",") if name}
    check_services(drop, {*project.service_names, *map(base, project.service_names)})
    wanted = names or [spec.name for spec in project.services if spec.autostart]
    keep = [name for name in wanted if name not in drop and base(name) not in drop]
    if not keep:
        raise UsageError("--except leaves nothing to start", hint="corral config --names")
    needed: set[str] = set()
    for spec in reversed(project.services):  # start order: dependents after dependencies
        if spec.name in keep or spec.name in needed:
            needed.update(spec.depends_on)
    for name in sorted(needed):
        if name in drop or base(name) in drop:
            users = [s.name for s in project.services if name in s.depends_on]
            raise UsageError(
                f"--except {base(name)}: {users[0]!r} depends on it, so it would start anyway",
                hint=f"leave {users[0]} out too, or start {base(name)}",
            )
    return keep


def session_options(args: argparse.Namespace, project, out: Output) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Tether and lease for this start: flag, then CORRAL_TETHER, then the config."""
    import os

    from corral.control import tether

    session: dict[str, Any] = {}
    choice = args.tether or os.environ.get("CORRAL_TETHER") or project.settings.tether
    if choice is not None:
        resolved = tether.resolve(str(choice))
        if resolved is not None:
            tether.refuse_self(resolved)
        session["tether"] = resolved.to_dict() if resolved else None
    ttl = args.ttl if args.ttl is not None else project.settings.ttl
    if ttl is not None:
        session["ttl"] = ttl
    if choice is None and ttl is None and not out.json:
        note_untethered_agent()
    return session


def note_untethered_agent() -> None:
    """Under a coding agent, say that untethered services outlive its session."""
    import sys

    from corral.agents import agent_environment

    agent = agent_environment()
    if agent:
        print(
            f"corral: note: {agent} is set but these services are not tethered: they will "
            "outlive this session (to tie them to it: --tether auto, or CORRAL_TETHER=auto)",
            file=sys.stderr,
        )


def run_restart(args: argparse.Namespace, out: Output) -> int:
    from corral.control import operations as control

    project = load_project_for(args)
    check_names(project, args.services)
    if args.stale:
        stale = [s["name"] for s in control.status(project)["services"] if s.get("stale")]
        args.services = [name for name in stale if not args.services or name in args.services]
        if not args.services:
            if out.json:
                out.document({"reports": [], "services": [], "failed": None, "restarted": []})
            else:
                out.line("nothing is stale")
            return ExitCode.OK
    result = control.restart(project, _config_file(args), args.services, args.timeout)
    if not out.json:
        _print_stop_reports(result.get("reports", []), out)
    stop_ok = all(report["ok"] for report in result.get("reports", []))
    code = report_start(project.root, result, out)
    if result.get("dependents") and not out.json:
        out.line(f"restarted with them (they depend on them): {', '.join(result['dependents'])}")
    return code if stop_ok else ExitCode.FAILED


def run_stop(args: argparse.Namespace, out: Output) -> int:
    from corral.control import operations as control

    project = load_project_for(args)
    check_names(project, args.services)
    if out.tty and not out.json:
        from corral.cli.progress import StopProgress

        with StopProgress(project, args.services, out):
            result = control.stop(project, args.services)
        return report_stop(result, out)
    return report_stop(control.stop(project, args.services), out)


def report_stop(result: dict[str, Any], out: Output) -> int:
    """Print a stop's reports (also for the fast path); exit 1 unless everything stopped."""
    reports = result.get("reports", [])
    problem = result.get("problem")
    ok = all(report["ok"] for report in reports) and not problem
    if out.json:
        out.document({**_strip(result), "ok": ok})
    else:
        _print_stop_reports(reports, out)
        if result.get("note"):
            out.line(out.paint(str(result["note"]), "yellow"))
        if problem:
            out.line(out.paint(f"problem: {problem}", "red bold"))
    return ExitCode.OK if ok else ExitCode.FAILED


def _config_file(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pathlib import Path

    return (Path(args.directory) / args.file).resolve() if args.file else None


def check_names(project, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Unknown names are a usage error; ``web.2`` passes for a service ``web`` (a copy started
    with ``-m``, which the supervisor knows though this command was not given ``-m``)."""
    known = project.service_names
    copies = [n for n in names if n.partition(".")[0] in known and n.partition(".")[2].isdigit()]
    check_services([n for n in names if n not in copies], known)


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "ok"}


def report_start(root: str | Path, result: dict[str, Any], out: Output) -> int:
    """Print a start's outcome (also for the fast path); exit 1 with a diagnosis on failure."""
    failed = result.get("failed")
    diagnosis = diagnose_failure(root, result["services"], failed) if failed else None
    running = _left_running(result["services"], failed)
    if out.json:
        document = {**_strip(result), "ok": failed is None, "diagnosis": diagnosis}
        if failed:
            document["left_running"] = running
        if failed:
            document["error"] = {
                "code": "start_failed",
                "message": diagnosis["summary"],
                "hint": diagnosis["hint"],
            }
        out.document(document)
        return ExitCode.FAILED if failed else ExitCode.OK
    already = set(result.get("already_running", []))
    width = max((len(s["name"]) for s in result["services"]), default=4)
    for service in result["services"]:
        out.line(
            f"{out.paint(service['name'].ljust(width), 'bold')}  {_start_line(service, already)}"
        )
    for line in result.get("cleaned", []):
        out.line(out.paint(f"cleaned up: {line}", "yellow"))
    if failed:
        print_diagnosis(diagnosis, out, "start failed")
        if running:
            out.line(f"left running: {', '.join(running)} (corral stop stops them)")
        return ExitCode.FAILED
    return ExitCode.OK


def _left_running(services: list[dict[str, Any]], failed: str | None) -> list[str]:
    """What a failed start leaves running (it never stops what it started before the failure)."""
    if not failed:
        return []
    alive = ("starting", "running", "ready", "backoff")
    return [s["name"] for s in services if s["name"] != failed and s["state"] in alive]


def _start_line(service: dict[str, Any], already: set[str]) -> str:
    pid = f"pid {service['pid']}" if service.get("pid") else ""
    if service["name"] in already and service["state"] == "completed":
        return f"{state_text(service)}: unchanged (corral restart {service['name']} runs it again)"
    if service["name"] in already:
        return f"already running ({service['state']}, {pid}): unchanged"
    text = f"{state_text(service)}  {pid}".rstrip()
    note = service.get("note")
    return f"{text}  ({note})" if note and note != NO_PROBE else text


def print_diagnosis(diagnosis: dict[str, Any], out: Output, title: str) -> None:
    out.line()
    out.line(out.paint(f"{title}: {diagnosis['summary']}", "red bold"))
    if diagnosis["log_tail"]:
        out.line(f"last {len(diagnosis['log_tail'])} log lines of {diagnosis['service']}:")
        for line in diagnosis["log_tail"]:
            out.line(f"  | {line}")
    elif diagnosis["state"] != "stopped":  # a service that never ran has no log to show
        out.line(f"{diagnosis['service']} wrote nothing to its log.")


def _print_stop_reports(reports: list[dict[str, Any]], out: Output) -> None:
    width = max((len(r["service"]) for r in reports), default=4)
    for report in reports:
        name = out.paint(report["service"].ljust(width), "bold")
        out.line(f"{name}  {_stop_summary(report, out)}")
        for swept in report["swept"]:
            layers = ", ".join(swept["layers"])
            what = f"pid {swept['pid']} ({swept['command'][:60]})"
            out.line(f"{'':{width}}    swept {what}, found by {layers}")
        for survivor in report["survivors"]:
            out.line(
                f"{'':{width}}    STILL ALIVE: pid {survivor['pid']} ({survivor['command'][:60]})"
            )
        for held in report["ports_held"]:
            holders = _holders(held["holders"], held.get("states"))
            out.line(f"{'':{width}}    PORT {held['port']} STILL HELD: {holders}")
        for line in _unverified_lines(report.get("unverified")):
            out.line(f"{'':{width}}    {line}")


def _unverified_lines(unverified: dict[str, Any] | None) -> list[str]:
    if not unverified:
        return []
    lines = [f"could escape: {unverified['could_escape']}"]
    if unverified["lifeline_held"]:
        lines.append("its lifeline file is still held by a process no scan could name")
    for suspect in unverified["suspects"]:
        lines.append(f"possible escapee: pid {suspect['pid']} ({suspect['command'][:60]})")
    return lines


def _stop_summary(report: dict[str, Any], out: Output) -> str:
    outcome = report["outcome"]
    elapsed = f"{report['elapsed']:.2f}s"
    if outcome == "not_running":
        return "not running"
    if outcome == "exited":
        return out.paint(f"stopped: exited after {report['signal']} in {elapsed}", "green")
    if outcome == "killed":
        return out.paint(
            f"stopped: killed with SIGKILL after {elapsed} ({report['signal']} was not enough)",
            "yellow",
        )
    if outcome == "not_verified":
        return out.paint("NOT VERIFIED: what was found stopped; something may have escaped", "red")
    return out.paint("FAILED: not everything could be stopped", "red bold")


def _holders(holders: list[dict[str, Any]], states: dict[str, int] | None = None) -> str:
    if not holders and states:
        # No process listens: the kernel keeps the port for connections still closing.
        counts = ", ".join(f"{n} in {state}" for state, n in sorted(states.items()))
        clears = " (the kernel frees TIME_WAIT within 60 s)" if "TIME_WAIT" in states else ""
        return f"no process listens; {counts}{clears}"
    parts = []
    for holder in holders:
        if holder.get("pid"):
            parts.append(f"pid {holder['pid']} ({holder.get('command', '')[:60]})")
        else:
            parts.append(f"a process of uid {holder['uid']}")
    return "; ".join(parts) or "unknown holder"


__all__ = ["CorralError", "describe_exit", "run_restart", "run_start", "run_stop"]
