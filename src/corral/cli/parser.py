"""The argument parser: every command, its options and its help."""

from __future__ import annotations

import argparse

import corral


def _common(json_output: bool = True) -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("project selection")
    group.add_argument(
        "-C",
        dest="directory",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="run as if started in DIR (the project is found from there upward)",
    )
    group.add_argument(
        "-f",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    parser.set_defaults(handler=None, json=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_config(commands)
    return parser


def _add_config(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from corral.cli.cmd_config import run_config

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
    command.set_defaults(handler=run_config)
