"""The parsers of the commands that run services and look at them: start, stop, restart, status,
logs, config, check, wait, send, attach, ui, up and run."""

from __future__ import annotations

import argparse
import os

from corral.cli.arguments import (
    add_except,
    add_foreman_options,
    add_session_options,
    common_options,
    duration,
)
from corral.protocol import DEFAULT_START_TIMEOUT


def add_start(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "start",
        parents=[common_options()],
        help="start services in the background (and their dependencies)",
        description="Start the named services (default: every autostart service) and the "
        "services they depend on, through the project's supervisor, which is started if needed "
        "and runs detached from this shell. Returns once every service is ready, or as soon as "
        "one fails (exit 1, with its last log lines). Starting what already runs changes nothing.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "--timeout",
        type=duration,
        default=DEFAULT_START_TIMEOUT,
        metavar="DURATION",
        help="bound on the whole wait for readiness (default 60s)",
    )
    command.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the services are spawned, without waiting for readiness",
    )
    add_except(command)
    add_foreman_options(command)
    add_session_options(command)
    command.add_argument(
        "--watch",
        action="store_true",
        help="restart each service when its files change (its watch globs, "
        "or what git tracks under its cwd)",
    )
    command.set_defaults(handler="cmd_services:run_start")


def add_stop(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "stop",
        parents=[common_options()],
        help="stop services and every process they started",
        description="Stop the named services (default: all, and the supervisor with them), "
        "dependents first. Each gets its stop signal, then SIGKILL after its stop_timeout; then "
        "every process of the service found by any means (process group, subreaper tree, cgroup, "
        "environment markers, lifeline fd, recorded identities) is swept, and declared ports are "
        "verified free. Prints how each service ended; exits 1 if anything survived.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.set_defaults(handler="cmd_services:run_stop")


def add_restart(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "restart",
        parents=[common_options()],
        help="stop, then start services",
        description="Stop the named services (default: all) with the same guarantees as "
        "'corral stop', then start them as 'corral start' does.",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "--timeout",
        type=duration,
        default=DEFAULT_START_TIMEOUT,
        metavar="DURATION",
        help="bound on the wait for readiness after the restart (default 60s)",
    )
    command.add_argument(
        "--stale",
        action="store_true",
        help="restart only the services whose code changed since they started",
    )
    add_foreman_options(command)
    command.set_defaults(handler="cmd_services:run_restart")


def add_status(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "status",
        aliases=["ps"],
        parents=[common_options()],
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


def add_logs(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "logs",
        parents=[common_options(short_file=False)],
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


def add_config(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "config",
        parents=[common_options()],
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
    add_foreman_options(command)
    command.set_defaults(handler="cmd_config:run_config")


def add_check(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "check",
        parents=[common_options()],
        help="validate the configuration (as 'foreman check' does)",
        description="Load and validate the configuration: exit 0 with one line naming the "
        "services, or exit 2 with the one-line error (file, line, fix). Starts nothing.",
    )
    add_foreman_options(command)
    command.set_defaults(handler="cmd_config:run_check")


def add_wait(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "wait",
        parents=[common_options()],
        help="wait (bounded) until services are ready, or for a new log line",
        description="Wait until the named services (default: all that run) are ready; exit 0 "
        "then, or 1 at once when one fails, or 1 at the timeout, with a diagnosis. With --log "
        "REGEX, wait for a new line of SERVICE matching REGEX (e.g. 'compiled successfully' "
        "after an edit).",
    )
    command.add_argument("services", nargs="*", metavar="SERVICE")
    command.add_argument(
        "--timeout",
        type=duration,
        default=DEFAULT_START_TIMEOUT,
        metavar="DURATION",
        help="give up after this long (default 60s)",
    )
    command.add_argument("--log", metavar="REGEX", help="wait for a new log line matching REGEX")
    command.set_defaults(handler="cmd_wait:run_wait")


def add_send(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "send",
        parents=[common_options()],
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
        type=duration,
        default=10.0,
        metavar="DURATION",
        help="how long --wait-for waits (default 10s)",
    )
    command.set_defaults(handler="cmd_send:run_send")


def add_attach(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "attach",
        parents=[common_options()],
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


def add_ui(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "ui",
        parents=[common_options()],
        help="a live dashboard: every service, its resources and its log (needs corral[ui])",
        description="Every service with its state, pid, ports, uptime, restarts, and the CPU "
        "and memory of its whole process tree; the selected service's log below. Keys: up and "
        "down select, s start, x stop, r restart, R restart all, a attach (tty services), / "
        "filter the log, d doctor, q quit (services keep running), Q stop everything and quit. "
        "Needs a terminal and the ui extra.",
    )
    command.set_defaults(handler="cmd_ui:run_ui")


def add_up(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "up",
        parents=[common_options(json_output=False)],
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
        type=duration,
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
    add_except(command)
    add_foreman_options(command)
    command.set_defaults(handler="cmd_up:run_up")


def add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "run",
        parents=[common_options(json_output=False)],
        help="run a one-off command with the project's (or a service's) environment and PORT",
        description="Run COMMAND with the project's environment (env files, PORT=port_base), or "
        "with SERVICE's environment, PORT and cwd, as 'foreman run' does. The command replaces "
        "corral, so its exit code is corral's. Example: corral run api -- python manage.py migrate",
    )
    add_foreman_options(command, formation=False)
    command.add_argument("words", nargs=argparse.REMAINDER, metavar="[SERVICE] -- COMMAND ...")
    command.set_defaults(handler="cmd_run:run_run")
