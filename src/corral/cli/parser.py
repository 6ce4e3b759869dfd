"""The argument parser: every command, its options and its help.

Handlers are named, not imported (``"cmd_services:run_start"``): building the parser then costs
no imports of the commands' modules, and ``corral.cli.main`` imports just the one it runs.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import corral
from corral.errors import UsageError
from corral.protocol import DEFAULT_START_TIMEOUT

SHELLS = ("bash", "zsh", "fish")  # what `corral completion` can write


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting: its errors become one line,
    or one JSON document with --json, like every other error (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=_habit_hint(message) or f"see: {self.prog} --help")


# Options of foreman, honcho and Overmind that corral spells differently: typed from habit, they
# get the corral way as the hint of the usage error.
HABITS = {
    "-c": "for copies use -m web=2 (foreman's and honcho's concurrency); for a process that "
    "may exit, oneshot = true in corral.toml (Overmind's can-die)",
    "--concurrency": "use -m/--formation web=2,worker=3",
    "--can-die": "oneshot = true in corral.toml (a Procfile line named release is one)",
    "-d": "use -C DIR",
    "--root": "use -C DIR",
    "--app-root": "use -C DIR",
    "--procfile": "use -f FILE",
    "-t": "a shutdown timeout is stop_timeout in corral.toml; --timeout bounds the wait for "
    "readiness",
    "-l": "name them: corral start web worker",
    "--processes": "name them: corral start web worker",
    "-x": "use --except NAME",
    "--ignored-processes": "use --except NAME",
    "-r": 'restart = "on-failure" (or "always") in corral.toml',
    "--auto-restart": 'restart = "on-failure" (or "always") in corral.toml',
    "-D": "corral start runs in the background; corral up in the foreground",
    "--daemonize": "corral start runs in the background; corral up in the foreground",
    "--no-color": "set NO_COLOR=1 (corral uses colour only on a terminal)",
    "--no-colour": "set NO_COLOR=1 (corral uses colour only on a terminal)",
    "-b": "PORT steps by 100 per service, as foreman's; a fixed one is port = N in corral.toml",
    "--port-step": "PORT steps by 100 per service; a fixed one is port = N in corral.toml",
    "-s": "corral's socket is per project and needs no option",
    "--socket": "corral's socket is per project and needs no option",
}


def _habit_hint(message: str) -> str | None:
    """``unrecognized arguments: -c web=2`` -> the corral equivalent of ``-c``, if it has one."""
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return None
    for word in message[len(prefix) :].split():
        option = word.partition("=")[0]
        if option in HABITS:
            return f"{option} is foreman's, honcho's or Overmind's: {HABITS[option]}"
    return None


def _common(json_output: bool = True, short_file: bool = True) -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    common = _Parser(add_help=False)
    group = common.add_argument_group("project selection")
    group.add_argument(
        "-C",
        dest="directory",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="run as if started in DIR (the project is found from there upward)",
    )
    group.add_argument(
        *(["-f"] if short_file else []),
        "--file",
        dest="file",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="use this configuration file (corral.toml, pyproject.toml or a Procfile)",
    )
    if json_output:
        common.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print one JSON document on stdout (also: CORRAL_JSON=1)",
        )
    return common


ALIASES = {"ps": "status"}  # command names whose parser another command's adder builds


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` (a command word, see ``command_word``) the top level
    and that one command: building all two dozen commands costs more than the one that runs."""
    parser = _Parser(
        prog="corral",
        description="Run a project's development services, and stop every process they start.",
        epilog="Run 'corral COMMAND --help' for a command's options. Exit codes: 0 ok, "
        "1 the operation failed, 2 bad usage or configuration (nothing was changed).",
    )
    parser.add_argument("--version", action="version", version=f"corral {corral.__version__}")
    parser.add_argument(
        "-C", dest="directory", metavar="DIR", default=".", help="run as if started in DIR"
    )
    parser.add_argument(
        "-f",
        "--file",
        dest="file",
        metavar="FILE",
        default=None,
        help="use this configuration file",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON document on stdout (also after the command)"
    )
    parser.set_defaults(handler=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    adder = _adder(only) if only is not None else None
    if adder is not None:
        adder(commands)
        return parser
    _add_config(commands)
    _add_start(commands)
    _add_stop(commands)
    _add_restart(commands)
    _add_status(commands)
    _add_logs(commands)
    _add_wait(commands)
    _add_send(commands)
    _add_attach(commands)
    _add_ui(commands)
    _add_port(commands)
    _add_free(commands)
    _add_doctor(commands)
    _add_ls(commands)
    _add_nuke(commands)
    _add_events(commands)
    _add_run(commands)
    _add_mcp(commands)
    _add_agent(commands)
    _add_up(commands)
    _add_init(commands)
    _add_export(commands)
    _add_completion(commands)
    _add_check(commands)
    return parser


def _formation(text: str) -> dict[str, int]:
    from corral.config.formation import parse_formation
    from corral.errors import CorralError

    try:
        return parse_formation(text)
    except CorralError as exc:
        raise argparse.ArgumentTypeError(exc.render()) from None


def _add_foreman_options(command: argparse.ArgumentParser, *, formation: bool = True) -> None:
    """The options people bring from foreman, honcho and Overmind, with the same letters."""
    group = command.add_argument_group("as in foreman and honcho")
    group.add_argument(
        "-p",
        "--port",
        type=_port_number,
        metavar="PORT",
        help="PORT base (default: PORT from the env files or environment, then port_base, "
        "then 5000; +100 per service)",
    )
    group.add_argument(
        "-e",
        "--env-file",
        dest="env_file",
        action="append",
        metavar="FILE",
        help="read this .env file instead of the project's (repeatable; FILE1,FILE2 too)",
    )
    if formation:
        group.add_argument(
            "-m",
            "--formation",
            type=_formation,
            metavar="NAME=N,...",
            help="copies of each service: web=2 runs web.1 and web.2 (PORT +1 each); "
            "css=0 leaves css out; all=N sets the default",
        )


def _add_except(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--except",
        dest="excluded",
        action="append",
        metavar="SERVICE",
        help="start every autostart service but these (repeatable; a,b too)",
    )


def _adder(name: str) -> Callable[..., None] | None:
    adder = globals().get(f"_add_{ALIASES.get(name, name)}")
    return adder if callable(adder) else None


def command_word(words: list[str]) -> str | None:
    """The command that ``words`` name, when their parser alone will do: None for the top
    level's own help or version, a word that names no command, or nothing to go on."""
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("-C", "-f", "--file"):
            skip = True  # its value follows
        elif word in ("-h", "--help", "--version", "--"):
            return None
        elif not word.startswith("-"):
            return word if _adder(word) is not None else None
    return None


def _duration(text: str) -> float:
    from corral.config.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_start(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "start",
        parents=[_common()],
        help="start services in the background (and their dependencies)",
        description="Start the named services (default: every autostart service) and the "
        "services they depend on, through the project's supervisor, which is started if needed "
        "and runs detached from this shell. Returns once every service is ready, or as soon as "
        "one fails (exit 1, with its last log lines). Starting what already runs changes nothing.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "--timeout",
        type=_duration,
        default=DEFAULT_START_TIMEOUT,
        metavar="DURATION",
        help="bound on the whole wait for readiness (default 60s)",
    )
    command.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the services are spawned, without waiting for readiness",
    )
    _add_except(command)
    _add_foreman_options(command)
    _add_session_options(command)
    command.add_argument(
        "--watch",
        action="store_true",
        help="restart each service when its files change (its watch globs, "
        "or what git tracks under its cwd)",
    )
    command.set_defaults(handler="cmd_services:run_start")


def _add_session_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--tether",
        metavar="PID|auto|none",
        help="stop everything within a second of this process's exit; 'auto' is the nearest "
        "ancestor that is not a shell, e.g. your coding agent (also: CORRAL_TETHER)",
    )
    command.add_argument(
        "--ttl",
        type=_duration,
        metavar="DURATION",
        help="a lease: stop everything when no corral command touched the project for "
        "DURATION (0 clears it)",
    )


def _add_stop(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "stop",
        parents=[_common()],
        help="stop services and every process they started",
        description="Stop the named services (default: all, and the supervisor with them), "
        "dependents first. Each gets its stop signal, then SIGKILL after its stop_timeout; then "
        "every process of the service found by any means (process group, subreaper tree, cgroup, "
        "environment markers, lifeline fd, recorded identities) is swept, and declared ports are "
        "verified free. Prints how each service ended; exits 1 if anything survived.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.set_defaults(handler="cmd_services:run_stop")


def _add_restart(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "restart",
        parents=[_common()],
        help="stop, then start services",
        description="Stop the named services (default: all) with the same guarantees as "
        "'corral stop', then start them as 'corral start' does.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "--timeout",
        type=_duration,
        default=DEFAULT_START_TIMEOUT,
        metavar="DURATION",
        help="bound on the wait for readiness after the restart (default 60s)",
    )
    command.add_argument(
        "--stale",
        action="store_true",
        help="restart only the services whose code changed since they started",
    )
    _add_foreman_options(command)
    command.set_defaults(handler="cmd_services:run_restart")


def _add_status(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "status",
        aliases=["ps"],
        parents=[_common()],
        help="show what runs: state, pid, uptime, ports, last exit",
        description="One line per service: state, pid, uptime and start time, restarts, the TCP "
        "ports its processes listen on, and its last exit. Answers within about a second even "
        "when the supervisor is hung or gone (then from the state file and a process scan).",
    )
    command.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if any service is not as wanted (anything but ready, completed or "
        "stopped), naming each on stderr: for scripts",
    )
    command.set_defaults(handler="cmd_status:run_status")


def _add_logs(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "logs",
        parents=[_common(short_file=False)],
        help="show (or follow) service logs, merged in time order",
        description="The last lines of the services' logs (default: all services), merged in "
        "time order with a name prefix. -f follows until interrupted on a terminal; without a "
        "terminal it stops after --for (default 30s) so that it never hangs.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "-n", "--lines", type=int, default=100, metavar="N", help="how many lines (default 100)"
    )
    command.add_argument(
        "--since",
        metavar="WHEN",
        help="only lines since a duration ago (10m) or a time (14:05, ISO 8601)",
    )
    command.add_argument("--grep", metavar="REGEX", help="only lines matching REGEX")
    command.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    command.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="follow for this long, then exit 0 (implies -f)",
    )
    command.add_argument(
        "-t",
        "--timestamps",
        action="store_true",
        help="prefix each line with the time corral saw it",
    )
    command.add_argument(
        "--color",
        "--colour",
        dest="color",
        choices=("auto", "always", "never"),
        default="auto",
        help="keep the services' own colours and terminal escapes (auto: on a terminal "
        "without NO_COLOR; --json never has them)",
    )
    command.set_defaults(handler="cmd_logs:run_logs")


def _add_config(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "config",
        parents=[_common()],
        help="show the resolved configuration",
        description="Show the services corral would run, in start order, with their commands, "
        "working directories, ports, readiness probes, dependencies and environment. Values of "
        "variables that look secret (TOKEN, SECRET, PASSWORD, KEY, ...) are masked.",
    )
    command.add_argument(
        "--show-secrets", action="store_true", help="show the values of secret-looking variables"
    )
    command.add_argument(
        "--names", action="store_true", help="only the service names, one per line"
    )
    command.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing: only validate (exit 0 or 2)"
    )
    _add_foreman_options(command)
    command.set_defaults(handler="cmd_config:run_config")


def _add_check(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "check",
        parents=[_common()],
        help="validate the configuration (as 'foreman check' does)",
        description="Load and validate the configuration: exit 0 with one line naming the "
        "services, or exit 2 with the one-line error (file, line, fix). Starts nothing.",
    )
    _add_foreman_options(command)
    command.set_defaults(handler="cmd_config:run_check")


def _add_wait(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "wait",
        parents=[_common()],
        help="wait (bounded) until services are ready, or for a new log line",
        description="Wait until the named services (default: all that run) are ready; exit 0 "
        "then, or 1 at once when one fails, or 1 at the timeout, with a diagnosis. With --log "
        "REGEX, wait for a new line of SERVICE matching REGEX (e.g. 'compiled successfully' "
        "after an edit).",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "--timeout",
        type=_duration,
        default=DEFAULT_START_TIMEOUT,
        metavar="DURATION",
        help="give up after this long (default 60s)",
    )
    command.add_argument("--log", metavar="REGEX", help="wait for a new log line matching REGEX")
    command.set_defaults(handler="cmd_wait:run_wait")


def _add_send(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "send",
        parents=[_common()],
        help="type a line into a tty service's terminal",
        description="Write TEXT (the words joined by spaces) and Enter to the terminal of a "
        "service with tty = true, as if typed there: answer a prompt, or type 'c' at a debugger. "
        "The terminal echoes it into the service's log. With --wait-for REGEX, wait (bounded) for "
        "a line of its output after the input that matches, and print it.",
    )
    command.add_argument("service", metavar="SERVICE")
    command.add_argument("text", nargs="*", metavar="TEXT")
    command.add_argument(
        "-n", "--no-newline", action="store_true", help="do not press Enter after the text"
    )
    command.add_argument(
        "--stdin", action="store_true", help="send standard input as it is (at most 64 KiB)"
    )
    command.add_argument("--wait-for", metavar="REGEX", help="then wait for an output line")
    command.add_argument(
        "--timeout",
        type=_duration,
        default=10.0,
        metavar="DURATION",
        help="how long --wait-for waits (default 10s)",
    )
    command.set_defaults(handler="cmd_send:run_send")


def _add_attach(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "attach",
        parents=[_common()],
        help="connect your terminal to a tty service's terminal (Ctrl-] detaches)",
        description="Connect this terminal to the terminal of a service with tty = true: its "
        "recent output is shown again, every key goes to it, and Ctrl-] detaches, leaving it "
        "running. The terminal is restored however the session ends. Without a terminal, use "
        "corral send.",
    )
    command.add_argument("service", metavar="SERVICE")
    command.add_argument(
        "--detach-key",
        default=os.environ.get("CORRAL_DETACH_KEY", "ctrl-]"),
        metavar="KEY",
        help="the control key that detaches (default ctrl-], or $CORRAL_DETACH_KEY)",
    )
    command.set_defaults(handler="cmd_attach:run_attach")


def _add_ui(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "ui",
        parents=[_common()],
        help="a live dashboard: every service, its resources and its log (needs corral[ui])",
        description="Every service with its state, pid, ports, uptime, restarts, and the CPU "
        "and memory of its whole process tree; the selected service's log below. Keys: up and "
        "down select, s start, x stop, r restart, R restart all, a attach (tty services), / "
        "filter the log, d doctor, q quit (services keep running), Q stop everything and quit. "
        "Needs a terminal and the ui extra.",
    )
    command.set_defaults(handler="cmd_ui:run_ui")


def _port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (1-65535)")
    return port


def _add_port(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "port",
        parents=[_common()],
        help="who holds a port (default: every declared port)",
        description="For each port (default: the project's declared ports): who listens on it "
        "(pid, command line, user, addresses), and which service and project if it is corral's. "
        "Read from the kernel's own tables: no lsof, no root. Only listening sockets count.",
    )
    command.add_argument("ports", nargs="*", type=_port_number, metavar="PORT")
    command.set_defaults(handler="cmd_ports:run_port")


def _add_free(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "free",
        parents=[_common()],
        help="free ports held by this project (others only with --force)",
        description="Stop whatever of this project holds each port. A holder corral did not "
        "start is never touched (exit 1, naming it) unless --force, and then the output says "
        "exactly what was killed. Verifies each port is free afterwards.",
    )
    command.add_argument("ports", nargs="+", type=_port_number, metavar="PORT")
    command.add_argument(
        "--force",
        action="store_true",
        help="also kill holders corral did not start (never another user's)",
    )
    command.set_defaults(handler="cmd_ports:run_free")


def _add_doctor(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "doctor",
        parents=[_common()],
        help="explain a broken setup, with the command that fixes each problem",
        description="Project, config, supervisor (alive, answering, stale socket or state), each "
        "service's process tree, declared ports and their holders, processes of the project in "
        "no service's tree, last log lines of failed services, and the containment layers this "
        "machine offers. Changes nothing; always finishes within its bound.",
    )
    command.set_defaults(handler="cmd_doctor:run_doctor")


def _add_ls(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "ls",
        parents=[_common()],
        help="every corral project of this user with anything running",
        description="Every corral project of this user with anything running or left behind: "
        "root, whether its supervisor is alive, running services, orphans and ports. Found from "
        "a per-user registry and a scan for corral's markers, so a project whose .corral/ was "
        "deleted is still found.",
    )
    command.set_defaults(handler="cmd_machine:run_ls")


def _add_nuke(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "nuke",
        parents=[_common()],
        help="stop every corral process of this user, in every project",
        description="Stop every process of this user that carries corral's identity (markers "
        "or a recorded identity), in every project, and remove stale sockets and state. Never "
        "touches a process corral did not start, nor another user's. On a terminal it lists "
        "what it will stop and asks; without one it needs --yes (and exits 2 at once without).",
    )
    command.add_argument("--yes", action="store_true", help="do not ask")
    command.set_defaults(handler="cmd_machine:run_nuke")


def _add_events(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "events",
        parents=[_common()],
        help="lifecycle events since a cursor (what happened since you last looked)",
        description="Every lifecycle event (starting, ready, exited with code or signal, "
        "restarting, crashed, stop requested, stopped and how, escapee swept, port bound, tether "
        "fired, lease expired, stale detected) with a cursor that only grows. The last line "
        "tells the cursor to continue from. --follow is bounded without a terminal.",
    )
    command.add_argument(
        "--since", type=int, default=0, metavar="CURSOR", help="only events after this cursor"
    )
    command.add_argument("--service", metavar="NAME", help="only this service's events")
    command.add_argument(
        "-n",
        "--limit",
        type=int,
        default=1000,
        metavar="N",
        help="at most the newest N events (default 1000)",
    )
    command.add_argument("--follow", action="store_true", help="keep printing new events")
    command.add_argument(
        "--for",
        dest="duration",
        type=_duration,
        metavar="DURATION",
        help="follow for this long, then exit 0 (implies --follow)",
    )
    command.set_defaults(handler="cmd_events:run_events")


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "run",
        parents=[_common(json_output=False)],
        help="run a one-off command with the project's (or a service's) environment and PORT",
        description="Run COMMAND with the project's environment (env files, PORT=port_base), or "
        "with SERVICE's environment, PORT and cwd, as 'foreman run' does. The command replaces "
        "corral, so its exit code is corral's. Example: corral run api -- python manage.py migrate",
    )
    _add_foreman_options(command, formation=False)
    command.add_argument("words", nargs=argparse.REMAINDER, metavar="[SERVICE] -- COMMAND ...")
    command.set_defaults(handler="cmd_run:run_run")


def _add_mcp(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "mcp",
        parents=[_common(json_output=False)],
        help="run an MCP server over stdio for coding agents",
        description="Serve corral's operations (status, start, stop, restart, logs, wait, "
        "events, port, free, doctor) as MCP tools over stdio. Services started through it are "
        "tethered to it (they stop when the agent goes away) unless a call asks for persistent. "
        "Register it with: claude mcp add corral -- corral mcp",
    )
    command.set_defaults(handler="cmd_mcp:run_mcp")


def _add_agent(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "agent",
        help="set up coding agents to use corral (hooks, CLAUDE.md, AGENTS.md)",
        description="Put corral into a coding agent's lifecycle: 'setup' writes Claude Code "
        "hooks into .claude/settings.json and a marked corral section into CLAUDE.md and "
        "AGENTS.md (merging, never clobbering); 'remove' takes exactly that out again; 'hook' "
        "is what the agent runs (JSON on stdin, answers within a second, never blocks).",
    )
    actions = command.add_subparsers(title="actions", metavar="ACTION")
    for name, handler, text in (
        ("setup", "cmd_agent:run_setup", "write the hooks and the instructions"),
        ("remove", "cmd_agent:run_remove", "take out what setup wrote"),
    ):
        action = actions.add_parser(name, parents=[_common()], help=text, description=text)
        action.add_argument(
            "target",
            nargs="?",
            default="all",
            choices=("claude", "agents-md", "all"),
            help="claude: .claude/settings.json and CLAUDE.md; agents-md: AGENTS.md; "
            "all (default): both",
        )
        action.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
        action.set_defaults(handler=handler)
    hook = actions.add_parser(
        "hook",
        parents=[_common(json_output=False)],
        help="run an agent hook (reads the agent's JSON on stdin)",
        description="Run by the agent, not by you: reads the hook's JSON input on stdin, "
        "prints the documented JSON answer (if any) and always exits 0 within about a second.",
    )
    hook.add_argument("hook", choices=("session-start", "session-end", "pre-tool-use"))
    hook.set_defaults(handler="cmd_agent:run_hook")


def _add_init(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "init",
        help="draft a commented corral.toml from what the project already has",
        description="Look at the project (-C DIR, default here): Procfile.dev/Procfile, a Rails "
        "bin/dev, package.json dev/start scripts and workspaces, Django's manage.py, "
        "process-compose.yaml, docker compose services (as commented suggestions), and write a "
        "corral.toml whose every guess (ports, probes) says where it came from. Never "
        "overwrites a configuration without --force; the result is loaded before it is kept.",
    )
    command.add_argument(
        "-C", dest="directory", metavar="DIR", default=argparse.SUPPRESS, help="the project"
    )
    command.add_argument("--dry-run", action="store_true", help="print the draft, write nothing")
    command.add_argument("--force", action="store_true", help="replace an existing configuration")
    command.add_argument(
        "--pyproject", action="store_true", help="write [tool.corral] into pyproject.toml"
    )
    command.set_defaults(handler="cmd_init:run_init")


EXPORT_FORMATS = ("systemd", "launchd", "supervisord", "procfile", "compose")


def _add_export(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "export",
        parents=[_common(json_output=False)],
        help="write the services for systemd, launchd, supervisord, a Procfile or compose",
        description="Write the resolved configuration for another process manager, into DIR "
        "(default: corral-export/FORMAT in the project): systemd user units and a target, "
        "launchd plists, one supervisord config, a Procfile with its .env, or a compose file "
        "running each command in --image. For moving a project to a server or containers: "
        "corral itself is for one machine's development services.",
    )
    command.add_argument(
        "format", choices=EXPORT_FORMATS, metavar="FORMAT", help=", ".join(EXPORT_FORMATS)
    )
    command.add_argument("dir", nargs="?", metavar="DIR", help="where to write the files")
    command.add_argument(
        "--image", metavar="IMAGE", help="compose: the image each service runs in (required)"
    )
    command.set_defaults(handler="cmd_export:run_export")


def _add_up(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "up",
        parents=[_common(json_output=False)],
        help="run in the foreground with merged output; Ctrl-C stops everything",
        description="Start services in the foreground, as foreman or Overmind do: merged output "
        "with aligned name prefixes and timestamps. Ctrl-C, SIGTERM or SIGHUP stops everything "
        "with the full stop guarantees and a summary; a second Ctrl-C kills at once. It runs "
        "through the project's supervisor, so 'corral status' and 'corral logs' work from "
        "another shell.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "--timeout",
        type=_duration,
        default=DEFAULT_START_TIMEOUT,
        metavar="DURATION",
        help="bound on the wait for readiness (default 60s)",
    )
    command.add_argument(
        "--no-timestamp",
        action="store_true",
        help="no time on each line (as foreman and honcho without -t)",
    )
    command.add_argument(
        "--exit-on-failure",
        action="store_true",
        help="stop everything when a service does not get ready (default: report it, keep the "
        "others running)",
    )
    _add_except(command)
    _add_foreman_options(command)
    command.set_defaults(handler="cmd_up:run_up")


def _add_completion(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script for SHELL. bash: corral completion bash > "
        "~/.local/share/bash-completion/completions/corral; zsh: save it as _corral in your "
        "$fpath; fish: corral completion fish > ~/.config/fish/completions/corral.fish",
    )
    command.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    command.set_defaults(handler="completion:run_completion")
