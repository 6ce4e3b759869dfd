"""``corral up``: run in the foreground, as foreman or Overmind do, through the same supervisor.

Output of every service is merged with aligned, coloured name prefixes and the time each line was
written, from the first byte: the start runs in a thread while this one follows the logs, and
readiness (or a failed probe) is reported inline from the event stream. A service that does not
get ready is reported and the others keep running, unless ``--exit-on-failure``. Ctrl-C, SIGTERM
or SIGHUP (the terminal closed) stops everything with the full stop guarantees, prints a summary
and exits 128 + the signal (130 for Ctrl-C); a second Ctrl-C makes the stop SIGKILL at once. The
services are tethered to this process, so even a SIGKILL of ``corral up`` stops them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode

LAUNCH_BOUND = 30.0  # seconds a stop waits for a start's spawn request to be answered


class _Stopper:
    """Turns the first stop signal into a request, and the second into a hurry."""

    def __init__(self, project: Any) -> None:
        self.project = project
        self.requested: str | None = None
        self.signal = 0  # the stop signal received, if any (the exit code is 128 + it)
        self.hurried = False

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, number: int, _frame: object) -> None:
        if self.requested is None:
            self.requested = signal.Signals(number).name
            self.signal = number
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

        from corral.control import operations as control

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


class _Start:
    """The start in a thread, so that output flows while it waits for readiness: first the
    request that spawns (quick), then the wait for readiness. A stop waits for the first part
    only: a stop sent before the spawn would be undone by it."""

    def __init__(self, launch: Callable[[], dict[str, Any]], settle: Callable[..., Any]) -> None:
        import threading

        self.launch = launch
        self.settle = settle
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.launched = threading.Event()
        self.thread = threading.Thread(target=self._run, name="corral-up-start", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            started = self.launch()
            self.launched.set()
            names = [s["name"] for s in started["services"]]
            waited = {} if started.get("failed") else self.settle(names)
            failed = started.get("failed") or waited.get("failed")
            self.result = {**started, **waited, "failed": failed}
        except BaseException as exc:  # re-raised in the main thread, which reports it
            self.error = exc
        finally:
            self.launched.set()

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()


class _Readiness:
    """Inline lifecycle lines (``web ready in 1.2s``) from the events written since ``up`` began;
    read at most every ``EVERY`` seconds."""

    EVERY = 0.1

    def __init__(self, directory: Any, names: list[str], out: Output) -> None:
        from corral import events

        self.directory = directory
        self.names = set(names)
        self.out = out
        self.cursor = events.last_cursor(directory)
        self.began: dict[str, float] = {}
        self.next_look = 0.0

    def poll(self) -> None:
        import time

        from corral import events

        if time.monotonic() < self.next_look:
            return
        self.next_look = time.monotonic() + self.EVERY
        for event in events.read(self.directory, self.cursor, limit=0):
            self.cursor = event["cursor"]
            if event.get("service") in self.names:
                self._show(event)

    def _show(self, event: dict[str, Any]) -> None:
        name, kind = event["service"], event["kind"]
        if kind == "starting":
            self.began[name] = event["time"]
        elif kind == "ready":
            took = event["time"] - self.began.get(name, event["time"])
            self.out.line(self.out.paint(f"corral up: {name} ready in {took:.1f}s", "green"))
        elif kind == "probe_failed":
            reason = event.get("reason") or "readiness probe failed"
            self.out.line(self.out.paint(f"corral up: {name} not ready: {reason}", "bold red"))
        elif kind in ("exited", "crashed"):
            detail = _exit_detail(event) if kind == "exited" else "crashed: restarts used up"
            self.out.line(self.out.paint(f"corral up: {name} {detail}", "yellow"))
        else:
            return
        self.out.stdout.flush()


def _exit_detail(event: dict[str, Any]) -> str:
    if event.get("signal"):
        return f"exited (signal {event['signal']})"
    return f"exited (exit code {event.get('code')})"


def run_up(args: argparse.Namespace, out: Output) -> int:
    from corral import logs
    from corral.cli.cmd_logs import _Printer
    from corral.cli.cmd_services import _config_file, selected
    from corral.control import operations as control
    from corral.control.tether import resolve
    from corral.paths import ensure_state_dir

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
    watch = _Watch(project, names, out, _Readiness(directory, names, out), args.exit_on_failure)
    out.line(out.paint(f"corral up: starting {', '.join(names)}; Ctrl-C stops everything", "dim"))
    out.stdout.flush()
    watch.start = _Start(
        lambda: control.start(
            project, _config_file(args), args.services, args.timeout, wait=False, session=session
        ),
        lambda names: control.wait(project, names, args.timeout),
    )
    following = logs.follow(
        directory,
        project.service_names,
        offsets,
        float("inf"),
        poll=0.05,
        stop=lambda: stopper.requested is not None or watch.tick(),
    )
    for line in following:
        printer.show(line)
    # where the logs stand now: what the services print while they stop is shown after the stop
    watch.offsets = logs.end_offsets(directory, project.service_names)
    return _finish(project, stopper, watch, printer, out)


class _Watch:
    """What ``up`` looks at between lines: inline readiness, the start's outcome once it comes,
    and whether its services were stopped from elsewhere."""

    def __init__(
        self, project: Any, names: list[str], out: Output, readiness: _Readiness, strict: bool
    ) -> None:
        self.project = project
        self.names = names
        self.out = out
        self.readiness = readiness
        self.strict = strict  # --exit-on-failure
        self.start: _Start | None = None
        self.reported = False
        self.failed = False
        self.gone = _Gone(project, names)
        self.offsets: dict[str, int] = {}

    def tick(self) -> bool:
        """True when ``up`` should stop following."""
        self.readiness.poll()
        if self.start is None or not self.start.done:
            return False
        if not self.reported:
            self.reported = True
            if self.start.error is not None:
                raise self.start.error
            self._report(self.start.result or {})
            if self.failed and self.strict:
                return True
        return self.gone()

    def _report(self, result: dict[str, Any]) -> None:
        from corral.cli.cmd_services import report_start

        self.readiness.next_look = 0.0
        self.readiness.poll()  # the ready lines come before the summary
        if result.get("failed"):
            self.failed = True
            report_start(self.project.root, result, self.out)
            then = "stopping everything" if self.strict else "the others keep running"
            self.out.line(self.out.paint(f"corral up: {result['failed']} failed; {then}", "bold"))
        else:
            self.out.line(self.out.paint(f"corral up: {', '.join(self.names)} ready", "dim"))
        self.out.stdout.flush()


def _finish(project: Any, stopper: _Stopper, watch: _Watch, printer: Any, out: Output) -> int:
    from corral.cli.cmd_services import _print_stop_reports
    from corral.control import operations as control

    if watch.gone.seen and stopper.requested is None:
        out.line(
            out.paint(
                f"corral up: {watch.gone.describe()}; nothing is left running, exiting", "bold"
            )
        )
        return ExitCode.FAILED
    reason = stopper.requested or "start failed"
    if watch.start is not None:
        watch.start.launched.wait(LAUNCH_BOUND)
    out.line(
        out.paint(f"corral up: stopping everything ({reason}); Ctrl-C again to kill at once", "dim")
    )
    out.stdout.flush()  # the stop below blocks: whoever watches must see this line now
    if out.tty:
        from corral.cli.progress import StopProgress

        with StopProgress(project, [], out):
            outcome = control.stop(project, None)
    else:
        outcome = control.stop(project, None)
    _show_shutdown_output(project, watch.offsets, printer)
    _print_stop_reports(outcome.get("reports", []), out)
    ok = all(report["ok"] for report in outcome.get("reports", []))
    if not ok or (watch.failed and stopper.signal == 0):
        return ExitCode.FAILED
    return 128 + stopper.signal if stopper.signal else ExitCode.OK


def _show_shutdown_output(project: Any, offsets: dict[str, int], printer: Any) -> None:
    """The lines the services wrote while they stopped ("shutting down...", a last error)."""
    import time

    from corral import logs
    from corral.paths import state_dir

    directory = state_dir(project.root)
    for line in logs.follow(directory, project.service_names, offsets, time.monotonic()):
        printer.show(line)
