"""``corral up``: run in the foreground, as foreman or Overmind do, through the same supervisor.

Output of every service is merged with aligned, coloured name prefixes and timestamps. Ctrl-C,
SIGTERM or SIGHUP (the terminal closed) stops everything with the full stop guarantees and prints
a summary; a second Ctrl-C makes the stop SIGKILL at once. The services are tethered to this
process, so even a SIGKILL of ``corral up`` stops them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode


class _Stopper:
    """Turns the first stop signal into a request, and the second into a hurry."""

    def __init__(self, project: Any) -> None:
        self.project = project
        self.requested: str | None = None
        self.hurried = False

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, number: int, _frame: object) -> None:
        if self.requested is None:
            self.requested = signal.Signals(number).name
            return
        if not self.hurried:
            self.hurried = True
            from corral import client
            from corral.paths import socket_path

            with contextlib.suppress(Exception):  # a supervisor already gone needs no hurry
                client.call(socket_path(self.project.project_id), {"op": "hurry"}, 2.0)


class _Gone:
    """Whether every service of this ``up`` was stopped by someone else (``corral stop`` from
    another shell, a tether's or lease's end): a look at the status once a second."""

    ALIVE = ("starting", "running", "ready", "backoff", "stopping")

    def __init__(self, project: Any, names: list[str]) -> None:
        self.project = project
        self.names = set(names)
        self.seen = False
        self.next_look = 0.0
        self.last: list[dict[str, Any]] = []

    def __call__(self) -> bool:
        import time

        from corral import control

        if time.monotonic() < self.next_look:
            return False
        self.next_look = time.monotonic() + 1.0
        services = control.status(self.project)["services"]
        ours = [s for s in services if s["name"] in self.names and s["state"] != "completed"]
        self.seen = bool(ours) and not any(s["state"] in self.ALIVE for s in ours)
        self.last = ours
        return self.seen

    def describe(self) -> str:
        stopped = [s["name"] for s in self.last if s["state"] == "stopped"]
        ended = [f"{s['name']} {s['state']}" for s in self.last if s["state"] != "stopped"]
        parts = [", ".join(ended)] if ended else []
        if stopped:
            parts.append(
                f"{', '.join(stopped)} stopped from elsewhere (corral stop, a tether or a lease)"
            )
        return "; ".join(parts)


def run_up(args: argparse.Namespace, out: Output) -> int:
    from corral import control, logs
    from corral.cli.cmd_logs import _Printer
    from corral.cli.cmd_services import _config_file, _print_stop_reports, report_start, selected
    from corral.paths import ensure_state_dir
    from corral.tether import resolve

    project = load_project_for(args)
    args.services = selected(project, args.services, args.excluded)
    names = args.services or [s.name for s in project.services if s.autostart]
    directory = ensure_state_dir(project.root)
    offsets = logs.end_offsets(directory, project.service_names)
    stopper = _Stopper(project)
    stopper.install()
    me = resolve(str(os.getpid()))
    session = {"tether": me.to_dict() if me else None}
    printer = _Printer(project.service_names, out, timestamps=not args.no_timestamp)
    gone = _Gone(project, names)
    following = logs.follow(
        directory,
        project.service_names,
        offsets,
        float("inf"),
        poll=0.05,
        stop=lambda: stopper.requested is not None or gone(),
    )
    result = control.start(
        project, _config_file(args), args.services, args.timeout, session=session
    )
    if result.get("failed"):
        stopper.requested = stopper.requested or "start failed"
        for line in following:  # what the services wrote so far: the failure's context
            printer.show(line)
        report_start(project.root, result, out)
    else:
        out.line(out.paint(f"corral up: {', '.join(names)} ready; Ctrl-C stops everything", "dim"))
        out.stdout.flush()
        for line in following:
            printer.show(line)
    if gone.seen:
        out.line(
            out.paint(f"corral up: {gone.describe()}; nothing is left running, exiting", "bold")
        )
        return ExitCode.FAILED
    out.line(
        out.paint(
            f"corral up: stopping everything ({stopper.requested}); Ctrl-C again to kill at once",
            "dim",
        )
    )
    out.stdout.flush()  # the stop below blocks: whoever watches must see this line now
    outcome = control.stop(project, None)
    _print_stop_reports(outcome.get("reports", []), out)
    ok = all(report["ok"] for report in outcome.get("reports", [])) and not result.get("failed")
    return ExitCode.OK if ok else ExitCode.FAILED
