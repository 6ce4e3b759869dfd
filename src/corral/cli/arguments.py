"""What the commands' parsers share: the parser class whose errors are one line (with the corral
spelling of a foreman, honcho or Overmind option typed from habit), the options every command
accepts, and the option types and groups several commands use."""

from __future__ import annotations

import argparse

from corral.errors import UsageError

SHELLS = ("bash", "zsh", "fish")  # what `corral completion` can write
EXPORT_FORMATS = ("systemd", "launchd", "supervisord", "procfile", "compose")

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


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting: its errors become one line,
    or one JSON document with --json, like every other error (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=habit_hint(message) or f"see: {self.prog} --help")


def habit_hint(message: str) -> str | None:
    """``unrecognized arguments: -c web=2`` -> the corral equivalent of ``-c``, if it has one."""
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return None
    for word in message[len(prefix) :].split():
        option = word.partition("=")[0]
        if option in HABITS:
            return f"{option} is foreman's, honcho's or Overmind's: {HABITS[option]}"
    return None


def common_options(json_output: bool = True, short_file: bool = True) -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    common = Parser(add_help=False)
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


def formation_type(text: str) -> dict[str, int]:
    from corral.config.formation import parse_formation
    from corral.errors import CorralError

    try:
        return parse_formation(text)
    except CorralError as exc:
        raise argparse.ArgumentTypeError(exc.render()) from None


def add_foreman_options(command: argparse.ArgumentParser, *, formation: bool = True) -> None:
    """The options people bring from foreman, honcho and Overmind, with the same letters."""
    group = command.add_argument_group("as in foreman and honcho")
    group.add_argument(
        "-p",
        "--port",
        type=port_number,
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
            type=formation_type,
            metavar="NAME=N,...",
            help="copies of each service: web=2 runs web.1 and web.2 (PORT +1 each); "
            "css=0 leaves css out; all=N sets the default",
        )


def add_except(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--except",
        dest="excluded",
        action="append",
        metavar="SERVICE",
        help="start every autostart service but these (repeatable; a,b too)",
    )


def duration(text: str) -> float:
    from corral.config.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_session_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--tether",
        metavar="PID|auto|none",
        help="stop everything within a second of this process's exit; 'auto' is the nearest "
        "ancestor that is not a shell, e.g. your coding agent (also: CORRAL_TETHER)",
    )
    command.add_argument(
        "--ttl",
        type=duration,
        metavar="DURATION",
        help="a lease: stop everything when no corral command touched the project for "
        "DURATION (0 clears it)",
    )


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (1-65535)")
    return port
