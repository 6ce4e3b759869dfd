"""The argument parser: every command, its options and its help.

Handlers are named, not imported (``"cmd_services:run_start"``): building the parser then costs
no imports of the commands' modules, and ``corral.cli.main`` imports just the one it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import corral
from corral.cli import commands_run as run
from corral.cli import commands_tools as tools
from corral.cli.arguments import SHELLS, Parser

__all__ = ["SHELLS", "build_parser", "command_word"]

ALIASES = {"ps": "status"}  # command names whose parser another command's adder builds
# Each command's parser, in the order `corral --help` lists them.
ADDERS: dict[str, Callable[..., None]] = {
    "config": run.add_config,
    "start": run.add_start,
    "stop": run.add_stop,
    "restart": run.add_restart,
    "status": run.add_status,
    "logs": run.add_logs,
    "wait": run.add_wait,
    "send": run.add_send,
    "attach": run.add_attach,
    "ui": run.add_ui,
    "port": tools.add_port,
    "free": tools.add_free,
    "doctor": tools.add_doctor,
    "ls": tools.add_ls,
    "nuke": tools.add_nuke,
    "events": tools.add_events,
    "run": run.add_run,
    "mcp": tools.add_mcp,
    "agent": tools.add_agent,
    "up": run.add_up,
    "init": tools.add_init,
    "export": tools.add_export,
    "completion": tools.add_completion,
    "check": run.add_check,
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` (a command word, see ``command_word``) the top level
    and that one command: building all two dozen commands costs more than the one that runs."""
    parser = Parser(
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
    for add in ADDERS.values():
        add(commands)
    return parser


def _adder(name: str) -> Callable[..., None] | None:
    return ADDERS.get(ALIASES.get(name, name))


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
