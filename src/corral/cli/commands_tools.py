"""The parsers of the other commands: port, free, doctor, ls, nuke, events, mcp, agent, init,
export and completion."""

from __future__ import annotations

import argparse

from corral.cli.arguments import EXPORT_FORMATS, SHELLS, common_options, duration, port_number


def add_port(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "port",
        parents=[common_options()],
        help="who holds a port (default: every declared port)",
        description="For each port (default: the project's declared ports): who listens on it "
        "(pid, command line, user, addresses), and which service and project if it is corral's. "
        "Read from the kernel's own tables: no lsof, no root. Only listening sockets count.",
    )
    command.add_argument("ports", nargs="*", type=port_number, metavar="PORT")
    command.set_defaults(handler="cmd_ports:run_port")


def add_free(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "free",
        parents=[common_options()],
        help="free ports held by this project (others only with --force)",
        description="Stop whatever of this project holds each port. A holder corral did not "
        "start is never touched (exit 1, naming it) unless --force, and then the output says "
        "exactly what was killed. Verifies each port is free afterwards.",
    )
    command.add_argument("ports", nargs="+", type=port_number, metavar="PORT")
    command.add_argument(
        "--force",
        action="store_true",
        help="also kill holders corral did not start (never another user's)",
    )
    command.set_defaults(handler="cmd_ports:run_free")


def add_doctor(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "doctor",
        parents=[common_options()],
        help="explain a broken setup, with the command that fixes each problem",
        description="Project, config, supervisor (alive, answering, stale socket or state), each "
        "service's process tree, declared ports and their holders, processes of the project in "
        "no service's tree, last log lines of failed services, and the containment layers this "
        "machine offers. Changes nothing; always finishes within its bound.",
    )
    command.set_defaults(handler="cmd_doctor:run_doctor")


def add_ls(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "ls",
        parents=[common_options()],
        help="every corral project of this user with anything running",
        description="Every corral project of this user with anything running or left behind: "
        "root, whether its supervisor is alive, running services, orphans and ports. Found from "
        "a per-user registry and a scan for corral's markers, so a project whose .corral/ was "
        "deleted is still found.",
    )
    command.set_defaults(handler="cmd_machine:run_ls")


def add_nuke(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "nuke",
        parents=[common_options()],
        help="stop every corral process of this user, in every project",
        description="Stop every process of this user that carries corral's identity (markers "
        "or a recorded identity), in every project, and remove stale sockets and state. Never "
        "touches a process corral did not start, nor another user's. On a terminal it lists "
        "what it will stop and asks; without one it needs --yes (and exits 2 at once without).",
    )
    command.add_argument("--yes", action="store_true", help="do not ask")
    command.set_defaults(handler="cmd_machine:run_nuke")


def add_events(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "events",
        parents=[common_options()],
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
        type=duration,
        metavar="DURATION",
        help="follow for this long, then exit 0 (implies --follow)",
    )
    command.set_defaults(handler="cmd_events:run_events")


def add_mcp(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "mcp",
        parents=[common_options(json_output=False)],
        help="run an MCP server over stdio for coding agents",
        description="Serve corral's operations (status, start, stop, restart, logs, wait, "
        "events, port, free, doctor) as MCP tools over stdio. Services started through it are "
        "tethered to it (they stop when the agent goes away) unless a call asks for persistent. "
        "Register it with: claude mcp add corral -- corral mcp",
    )
    command.set_defaults(handler="cmd_mcp:run_mcp")


def add_agent(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        action = actions.add_parser(name, parents=[common_options()], help=text, description=text)
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
        parents=[common_options(json_output=False)],
        help="run an agent hook (reads the agent's JSON on stdin)",
        description="Run by the agent, not by you: reads the hook's JSON input on stdin, "
        "prints the documented JSON answer (if any) and always exits 0 within about a second.",
    )
    hook.add_argument("hook", choices=("session-start", "session-end", "pre-tool-use"))
    hook.set_defaults(handler="cmd_agent:run_hook")


def add_init(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def add_export(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "export",
        parents=[common_options(json_output=False)],
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


def add_completion(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script for SHELL. bash: corral completion bash > "
        "~/.local/share/bash-completion/completions/corral; zsh: save it as _corral in your "
        "$fpath; fish: corral completion fish > ~/.config/fish/completions/corral.fish",
    )
    command.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    command.set_defaults(handler="completion:run_completion")
