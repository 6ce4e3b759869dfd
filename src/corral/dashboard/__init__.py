"""``corral ui``: a live dashboard of one project's services, in the terminal (Textual).

A client like the CLI: everything it shows comes from the supervisor's status (or, when none
answers, the state file and a scan, as ``corral status``) and the services' logs; every key
calls the same operations as the commands. Quitting it, or killing it, stops nothing. Imported
only by ``corral ui``: Textual is the optional ``ui`` extra.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static

from corral.control import operations as control
from corral.dashboard.log_pane import LogPane
from corral.errors import CorralError
from corral.model import ProjectSpec
from corral.timefmt import format_elapsed

REFRESH = 1.0  # seconds between status reads
ACTION_TIMEOUT = 60.0
COLUMNS = ("service", "state", "pid", "ports", "up", "restarts", "cpu", "memory")


class TreeUsage:
    """CPU and memory of each service's whole process tree (its members, as status lists
    them). psutil's CPU figure is a difference between two reads, so the processes are kept."""

    def __init__(self) -> None:
        self.processes: dict[int, psutil.Process] = {}

    def of(self, pids: list[int]) -> tuple[float, int]:
        cpu, memory = 0.0, 0
        for pid in pids:
            process = self.processes.get(pid)
            try:
                if process is None:
                    process = self.processes[pid] = psutil.Process(pid)
                    process.cpu_percent()  # the first read only starts the interval
                cpu += process.cpu_percent()
                memory += process.memory_info().rss
            except psutil.Error:
                self.processes.pop(pid, None)
        return cpu, memory

    def forget_all_but(self, pids: set[int]) -> None:
        for pid in [pid for pid in self.processes if pid not in pids]:
            del self.processes[pid]


class Dashboard(App[str]):
    """Service list on top, the selected service's log below, the keys in the footer."""

    TITLE = "corral"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #services { height: auto; max-height: 50%; }
    #log { height: 1fr; border-top: solid $accent; }
    #message { height: 1; color: $text-muted; }
    #ask { display: none; }
    #ask.shown { display: block; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("s", "start", "start"),
        Binding("x", "stop", "stop"),
        Binding("r", "restart", "restart"),
        # the footer shows what fits in 80 columns; "?" lists every key
        Binding("R", "restart_all", "restart every service", show=False),
        Binding("a", "attach", "attach", tooltip="attach to a tty = true service (Ctrl-] back)"),
        Binding("slash", "filter", "filter", tooltip="show only log lines that match"),
        Binding("f", "find", "find in the log", show=False),
        Binding("n", "step(-1)", "the older match", show=False),
        Binding("N", "step(1)", "the newer match", show=False),
        Binding("d", "doctor", "doctor's report", show=False),
        Binding("question_mark", "keys", "keys"),
        Binding("q", "quit_leaving", "quit", tooltip="quit, leaving every service running"),
        Binding("ctrl+c", "quit_leaving", "quit too", show=False, priority=True),
        Binding("Q", "stop_all_and_quit", "stop+quit", tooltip="stop every service and quit"),
    ]

    def __init__(
        self,
        project: ProjectSpec,
        config_file: Path | None,
        first: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.first = first  # a status document already read (corral ui shows it while loading)
        self.project = project
        self.config_file = config_file
        self.usage = TreeUsage()
        self.services: list[dict[str, Any]] = []
        self.columns: list[Any] = []  # the table's column keys
        self.asking = "filter"  # what the input box is for: "filter" or "find"
        self.aside_shown = False  # the log pane shows doctor's report or the keys instead

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="services", cursor_type="row", zebra_stripes=True)
        self.columns = table.add_columns(*COLUMNS)
        yield table
        yield LogPane()
        yield Input(id="ask")
        yield Static("", id="message")
        yield Footer()

    def on_mount(self) -> None:
        if self.first is not None:
            self._show(self.first)
        else:
            self.refresh_status()
        self.set_interval(REFRESH, self.refresh_status)

    # ---- what is shown ---------------------------------------------------------------------

    def refresh_status(self) -> None:
        self.run_worker(self._read_status, thread=True, group="status", exclusive=True)

    def _read_status(self) -> None:
        try:
            document = control.status(self.project)
        except CorralError as exc:
            self.call_from_thread(self.say, f"status: {exc.message}")
            return
        self.call_from_thread(self._show, document)

    def _show(self, document: dict[str, Any]) -> None:
        previous = [item["name"] for item in self.services]
        self.services = document["services"]
        table = self.query_one(DataTable)
        members = {pid for item in self.services for pid in item["members"]}
        self.usage.forget_all_but(members)
        rows = {item["name"]: self._cells(item) for item in self.services}
        if list(rows) == previous:  # the same services: change cells in place (no flicker)
            for name, cells in rows.items():
                for column, value in zip(self.columns, cells, strict=True):
                    # a column widens for a longer value (pid 9999 -> 10000): never cut it
                    table.update_cell(name, column, value, update_width=True)
        else:
            row = table.cursor_row
            table.clear()
            for name, cells in rows.items():
                table.add_row(*cells, key=name)
            if rows:
                table.move_cursor(row=min(max(row, 0), len(rows) - 1))
        source = "" if document["source"] == "supervisor" else f"  ({document['source']})"
        self.sub_title = f"{self.project.name}{source}"
        self._show_log()

    def _cells(self, item: dict[str, Any]) -> list[str]:
        cpu, memory = self.usage.of(item["members"])
        up = ""
        if item.get("started_at") and item["state"] not in ("stopped", "exited", "crashed"):
            up = format_elapsed(time.time() - item["started_at"])
        stale = " *" if item.get("stale") else ""  # its code changed since it started
        ports = ",".join(str(p) for p in item.get("listening") or item.get("ports") or [])
        return [
            item["name"] + stale,
            item["state"],
            str(item["pid"] or ""),
            ports,
            up,
            str(item["restarts"]),
            f"{cpu:.0f}%" if item["members"] else "",
            f"{memory / 2**20:.0f} MiB" if item["members"] else "",
        ]

    def _show_log(self) -> None:
        from corral.paths import state_dir

        name = self.selected()
        if name is not None and not self.aside_shown:
            self.query_one(LogPane).show(state_dir(self.project.root), name)

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.services or table.cursor_row < 0:
            return None
        return self.services[min(table.cursor_row, len(self.services) - 1)]["name"]

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        if self.aside_shown:
            self.aside_shown = False
            self.query_one(LogPane).forget()
        self._show_log()

    def say(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    # ---- keys ------------------------------------------------------------------------------

    def action_start(self) -> None:
        self._operate("start", self.selected())

    def action_stop(self) -> None:
        self._operate("stop", self.selected())

    def action_restart(self) -> None:
        self._operate("restart", self.selected())

    def action_restart_all(self) -> None:
        self._operate("restart", None)

    def action_attach(self) -> None:
        """``corral attach`` in this terminal, the dashboard suspended until the detach key."""
        name = self.selected()
        spec = next((spec for spec in self.project.services if spec.name == name), None)
        if spec is None or not spec.tty:
            self.say(f"{name}: attach needs a service with tty = true")
            return
        command = [sys.executable, "-m", "corral", "attach", name, "-C", str(self.project.root)]
        with self.suspend():
            subprocess.run(command, check=False)
        self.say(f"detached from {name}")
        self.refresh_status()

    def action_filter(self) -> None:
        self._ask("filter", "filter the log (a regular expression; empty: all)")

    def action_find(self) -> None:
        self._ask("find", "find in the log (a regular expression; empty: none)")

    def action_step(self, direction: int) -> None:
        self.say(self.query_one(LogPane).step(direction))

    def _ask(self, purpose: str, placeholder: str) -> None:
        box = self.query_one("#ask", Input)
        self.asking, box.placeholder = purpose, placeholder
        box.value = ""  # a new question each time; Enter on an empty one undoes the last
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            pattern = re.compile(text) if text else None
        except re.error as exc:
            self.say(f"{self.asking}: invalid regular expression {text!r}: {exc}")
            return
        event.input.remove_class("shown")
        self.query_one(DataTable).focus()
        pane = self.query_one(LogPane)
        if self.asking == "find":
            self.say(pane.find(pattern))
            return
        pane.filter(pattern)
        self.say(f"log filtered by {text!r}" if text else "")
        self._show_log()

    def action_doctor(self) -> None:
        def work() -> None:
            from corral.control.doctor import diagnose

            report = diagnose(self.project)
            self.call_from_thread(self._show_doctor, report)

        self.say("doctor...")
        self.run_worker(work, thread=True, group="operations")

    def _show_doctor(self, report: dict[str, Any]) -> None:
        problems = report["problems"]
        lines = [f"doctor: {len(problems)} problem(s)" if problems else "doctor: no problems"]
        for problem in problems:
            lines += [f"  {problem['problem']}", f"    fix: {problem['fix']}"]
        self._show_aside(lines, "doctor's report in the log pane")

    def action_keys(self) -> None:
        names = {"slash": "/", "question_mark": "?", "ctrl+c": "Ctrl-C"}
        lines = ["keys:"] + [
            f"  {names.get(binding.key, binding.key):7} {binding.tooltip or binding.description}"
            for binding in self.BINDINGS
            if isinstance(binding, Binding)
        ]
        self._show_aside(lines, "the keys in the log pane (moving the selection shows the log)")

    def _show_aside(self, lines: list[str], message: str) -> None:
        """Lines in the log pane instead of the log, until the selection moves."""
        view = self.query_one(LogPane)
        view.clear()
        view.forget()
        for line in lines:
            view.write(line)
        self.aside_shown = True
        self.say(message)

    def action_quit_leaving(self) -> None:
        self.exit("left", message="services keep running (corral stop stops them)")

    def action_stop_all_and_quit(self) -> None:
        self.say("stopping everything...")
        self._operate("stop", None, then_exit=True)

    def _operate(self, verb: str, name: str | None, *, then_exit: bool = False) -> None:
        names = [name] if name is not None else None
        self.say(f"{verb} {name or 'all'}...")

        def work() -> None:
            try:
                if verb == "start":
                    control.start(self.project, self.config_file, names, ACTION_TIMEOUT)
                elif verb == "restart":
                    control.restart(self.project, self.config_file, names, ACTION_TIMEOUT)
                else:
                    control.stop(self.project, names)
            except CorralError as exc:
                self.call_from_thread(self.say, f"{verb} {name or 'all'}: {exc.message}")
                return
            if then_exit:
                self.call_from_thread(self.exit, "stopped", message="stopped every service")
                return
            self.call_from_thread(self.say, f"{verb} {name or 'all'}: done")
            self.call_from_thread(self.refresh_status)

        self.run_worker(work, thread=True, group="operations")


def run(
    project: ProjectSpec, config_file: Path | None, first: dict[str, Any] | None = None
) -> str | None:
    """Show the dashboard until the user quits; returns how it ended ("left" or "stopped")."""
    return Dashboard(project, config_file, first).run()
