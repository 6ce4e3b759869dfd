"""``corral mcp``: corral's operations as MCP tools over stdio, on the official ``mcp`` SDK.

Each tool calls the same ``control`` operations as the CLI and returns structured content;
failures are tool errors carrying the CLI's stable codes and hints, with the hints naming tools
rather than CLI commands. Every parameter is described (durations in seconds) and every tool
carries read-only/destructive/idempotent annotations, so an agent needs no other documentation.
Services started here are tethered to this server process unless the call asks for
``persistent``: when the agent goes away and our stdin closes, we exit, and the supervisor stops
them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from corral.control import operations as control
from corral.control import port_ops
from corral.errors import CorralError, InternalError, StartFailed, UsageError, check_services

try:  # pydantic comes with the mcp extra; without it build_server says how to install it
    from pydantic import Field
except ImportError:  # pragma: no cover

    def Field(**_: Any) -> Any:  # type: ignore[no-redef]
        return None


INSTRUCTIONS = (
    "corral runs this project's development services and stops every process they start. "
    "Recommended loop: services to learn what is configured, start (returns when ready, or "
    "fails with a diagnosis), then events with the cursor from the last call to learn what "
    "happened, logs with since/grep for detail, wait for readiness after an edit. Every tool "
    "returns within its bound; none waits for input. Errors start with a stable [code]."
)
MAX_LINES = 1000
MAX_WAIT = 300.0
TOOLS = (
    "services", "status", "start", "stop", "restart", "logs", "wait", "events", "port", "free",
    "doctor", "send",
)  # fmt: skip
# A CLI command in a hint, with its plain arguments: `corral logs api`, `corral free 8000`.
_CLI_HINT = re.compile(r"'?\bcorral ([a-z]+)((?: [\w.]+(?![\w.-]*/))*)'?")
_TOOL_OF_COMMAND = {name: name for name in TOOLS} | {"config": "services", "ports": "port"}
# CSI sequences (colours, cursor moves), OSC sequences (titles, links) and lone ESC+char.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

Services = Annotated[
    list[str] | None,
    Field(description="Service names as the services tool lists them; omit for all."),
]
Timeout = Annotated[
    float,
    Field(
        description=f"Upper bound in seconds (at most {MAX_WAIT:.0f}); the call returns by then."
    ),
]


def tool_hint(hint: str | None, services: Iterable[str] = ()) -> str | None:
    """A CLI hint rewritten to name the tool that does the same (``corral logs api`` becomes
    ``the logs tool (services: api)``); commands with no tool (init, run) stay as they are.
    Only the words that are ``services`` (or port numbers, for port and free) become arguments:
    in ``or corral stop to end it`` the rest is prose."""
    if hint is None:
        return None
    known = set(services)

    def rewrite(match: re.Match[str]) -> str:
        tool = _TOOL_OF_COMMAND.get(match.group(1))
        if tool is None:
            return match.group(0)
        key = "ports" if tool in ("port", "free") else "services"
        words = match.group(2).split()
        args = []
        for word in words:
            if not (word.isdigit() if key == "ports" else word in known):
                break
            args.append(word)
        rest = " ".join(words[len(args) :])
        named = f"the {tool} tool" + (f" ({key}: {', '.join(args)})" if args else "")
        return named + (f" {rest}" if rest else "")

    return _CLI_HINT.sub(rewrite, hint)


def plain(text: str) -> str:
    """Log text without terminal escapes: an agent reads the words, not the colours."""
    return _ANSI.sub("", text)


@dataclass
class _Context:
    directory: Path
    config_file: Path | None
    me: dict[str, Any]  # this server process, as a tether
    tool_error: type[Exception]

    def project(self) -> Any:
        from corral.config import load_project

        return load_project(self.directory, self.config_file)

    def checked(self, services: list[str] | None) -> Any:
        """The project, after checking that every named service exists in it."""
        project = self.project()
        check_services(services or [], project.service_names)
        return project

    async def call(self, operation: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        import anyio

        try:
            return await anyio.to_thread.run_sync(operation)
        except CorralError as exc:
            raise self.error(exc) from None
        except Exception as exc:  # a bug: still say what it was, never a bare failure
            raise self.error(InternalError(f"{type(exc).__name__}: {exc}")) from None

    def error(self, exc: CorralError) -> Exception:
        try:  # service names tell arguments from prose in the hint
            names = self.project().service_names
        except Exception:  # a broken configuration: its own error is what is reported
            names = []
        hint = tool_hint(exc.hint, names)
        return self.tool_error(f"[{exc.code}] {exc.message}" + (f" (hint: {hint})" if hint else ""))


def build_server(directory: Path, config_file: Path | None) -> Any:
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        raise UsageError(
            "the MCP server needs the mcp extra", hint="pip install 'corral[mcp]'"
        ) from None
    from corral.control.tether import resolve

    me = resolve(str(os.getpid()))
    assert me is not None
    ctx = _Context(directory, config_file, me.to_dict(), ToolError)
    server = MCPServer(name="corral", instructions=INSTRUCTIONS)
    _add_lifecycle_tools(server, ctx)
    _add_read_tools(server, ctx)
    _add_port_tools(server, ctx)
    return server


def _hints(*, read_only: bool, destructive: bool = False, idempotent: bool = True) -> Any:
    from mcp.types import ToolAnnotations

    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,  # only this machine's processes and ports
    )


def _bounded(timeout: float) -> float:
    return min(max(timeout, 0.0), MAX_WAIT)


def _regex(text: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise UsageError(f"{what}: invalid regular expression {text!r}: {exc}") from None


def _ports(ports: list[int]) -> list[int]:
    for port in ports:
        if not 1 <= port <= 65535:
            raise UsageError(f"port {port} is out of range", hint="a TCP port is 1 to 65535")
    return ports


def _add_lifecycle_tools(server: Any, ctx: _Context) -> None:
    @server.tool(
        description="Start services (default: all autostart ones) and their dependencies; "
        "returns when all are ready or as soon as one fails, with a diagnosis. Already running "
        "services are left as they are. Tethered to this MCP session unless persistent is true.",
        annotations=_hints(read_only=False),
    )
    async def start(
        services: Services = None,
        timeout: Timeout = 60.0,
        persistent: Annotated[
            bool,
            Field(description="Keep the services running after this MCP session ends."),
        ] = False,
    ) -> dict[str, Any]:
        session = {"tether": None if persistent else ctx.me}
        return await ctx.call(
            lambda: _start(ctx.checked(services), ctx.config_file, services, timeout, session)
        )

    @server.tool(
        description="Stop services (default: all) and every process they started; verifies "
        "their ports are free. The report says how each ended and what was swept.",
        annotations=_hints(read_only=False, destructive=True),
    )
    async def stop(services: Services = None) -> dict[str, Any]:
        return await ctx.call(lambda: control.stop(ctx.checked(services), services))

    @server.tool(
        description="Stop, then start services (default: all), with the services that "
        "depend on them; returns when they are ready again.",
        annotations=_hints(read_only=False, destructive=True, idempotent=False),
    )
    async def restart(services: Services = None, timeout: Timeout = 60.0) -> dict[str, Any]:
        return await ctx.call(
            lambda: control.restart(
                ctx.checked(services), ctx.config_file, services, _bounded(timeout)
            )
        )

    @server.tool(
        description="Type text into a service's terminal (only services with tty = true): "
        "answer a debugger prompt (pry, byebug, pdb) or a question it asks. Enter is pressed "
        "after the text unless newline is false. With wait_for, then wait for a line of its "
        "output after the input that matches (its echo excepted).",
        annotations=_hints(read_only=False, idempotent=False),
    )
    async def send(
        service: Annotated[str, Field(description="The tty service to type into.")],
        text: Annotated[str, Field(description="What to type (at most 64 KiB).")],
        newline: Annotated[bool, Field(description="Press Enter after the text.")] = True,
        wait_for: Annotated[
            str | None,
            Field(description="A Python regular expression a line of its output must match."),
        ] = None,
        timeout: Timeout = 10.0,
    ) -> dict[str, Any]:
        return await ctx.call(
            lambda: _send(ctx.checked([service]), service, text, newline, wait_for, timeout)
        )


def _add_read_tools(server: Any, ctx: _Context) -> None:
    read_only = _hints(read_only=True)

    @server.tool(
        description="The configured services: command, working directory, ports and PORT, "
        "readiness probe, dependencies, restart policy, env (secrets masked). Reads the "
        "configuration only; status says what runs.",
        annotations=read_only,
    )
    async def services() -> dict[str, Any]:
        from corral.config.document import config_document

        return await ctx.call(lambda: config_document(ctx.project()))

    @server.tool(
        description="What runs: state, pid, uptime, restarts, listening ports, last exit, "
        "tether and lease of each service. Never blocks on a hung supervisor.",
        annotations=read_only,
    )
    async def status() -> dict[str, Any]:
        return await ctx.call(lambda: control.status(ctx.project()))

    @server.tool(
        description="The last lines of service logs merged in time order, without terminal "
        "escapes; each line has its service and the time it was written (Unix seconds).",
        annotations=read_only,
    )
    async def logs(
        services: Services = None,
        lines: Annotated[int, Field(description=f"How many lines, 1 to {MAX_LINES}.")] = 100,
        since: Annotated[
            str | None,
            Field(
                description="Only lines after this: a duration ago ('30s', '5m', '1h30m'), "
                "a time today ('14:05'), or ISO 8601."
            ),
        ] = None,
        grep: Annotated[
            str | None, Field(description="Only lines matching this Python regular expression.")
        ] = None,
    ) -> dict[str, Any]:
        count = min(max(lines, 1), MAX_LINES)
        return await ctx.call(lambda: _logs(ctx.checked(services), services, count, since, grep))

    @server.tool(
        description=f"Wait (at most {MAX_WAIT:.0f} s) until services are ready; with log, wait "
        "for a new log line of one service matching that regex instead.",
        annotations=read_only,
    )
    async def wait(
        services: Services = None,
        timeout: Timeout = 30.0,
        log: Annotated[
            str | None,
            Field(
                description="A Python regular expression: wait for a line written after "
                "this call that matches it (needs exactly one service)."
            ),
        ] = None,
    ) -> dict[str, Any]:
        return await ctx.call(lambda: _wait(ctx.checked(services), services, timeout, log))

    @server.tool(
        description="Lifecycle events (started, ready, exited, restarted, stopped...) after a "
        "cursor; returns the cursor to pass next time. How to learn what happened since you "
        "last looked.",
        annotations=read_only,
    )
    async def events(
        since: Annotated[
            int, Field(description="The cursor a previous events call returned; 0 for all.")
        ] = 0,
        service: Annotated[
            str | None, Field(description="Only this service's events (and project-wide ones).")
        ] = None,
        limit: Annotated[
            int, Field(description="At most this many (the newest), 1 to 1000.")
        ] = 200,
    ) -> dict[str, Any]:
        return await ctx.call(
            lambda: _events(
                ctx.checked([service] if service else None),
                since,
                service,
                min(max(limit, 1), 1000),
            )
        )

    @server.tool(
        description="Everything that explains a broken setup, each problem with its fix. "
        "Changes nothing.",
        annotations=read_only,
    )
    async def doctor() -> dict[str, Any]:
        from corral.control.doctor import diagnose

        return await ctx.call(lambda: diagnose(ctx.project()))


def _add_port_tools(server: Any, ctx: _Context) -> None:
    @server.tool(
        description="Who holds each port (default: the declared ports): pid, command, user, "
        "and service and project when it is corral's.",
        annotations=_hints(read_only=True),
    )
    async def port(
        ports: Annotated[
            list[int] | None, Field(description="TCP ports (1-65535); omit for the declared ones.")
        ] = None,
    ) -> dict[str, Any]:
        return await ctx.call(
            lambda: {"ports": port_ops.port_report(ctx.project(), _ports(ports or []))}
        )

    @server.tool(
        description="Free ports: stops this project's services holding them; a process "
        "corral did not start is killed only with force=true, and the report says exactly "
        "what was killed.",
        annotations=_hints(read_only=False, destructive=True),
    )
    async def free(
        ports: Annotated[list[int], Field(description="TCP ports to free (1-65535).")],
        force: Annotated[
            bool,
            Field(
                description="Also kill processes corral did not start (another checkout's "
                "server, a stray process): ask the user first."
            ),
        ] = False,
    ) -> dict[str, Any]:
        return await ctx.call(lambda: {"ports": port_ops.free(ctx.project(), _ports(ports), force)})


def _start(project, config_file, services, timeout, session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from corral.control.diagnosis import diagnose_failure

    result = control.start(project, config_file, services, _bounded(timeout), session=session)
    failed = result.get("failed")
    if failed:
        diagnosis = diagnose_failure(project.root, result["services"], failed)
        tail = " | ".join(plain(line) for line in diagnosis["log_tail"][-5:])
        raise StartFailed(
            diagnosis["summary"] + "; last log lines: " + tail, hint=diagnosis["hint"]
        )
    return result


def _logs(project, services, lines, since, grep) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import time

    from corral import logs
    from corral.paths import state_dir

    names = services or project.service_names
    try:
        moment = logs.parse_since(since, time.time()) if since else None
    except ValueError as exc:
        raise UsageError(f"since: {exc}") from None
    pattern = _regex(grep, "grep") if grep else None
    found = logs.tail(state_dir(project.root), names, lines=lines, since=moment, grep=pattern)
    return {"lines": [{"service": x.service, "time": x.time, "text": plain(x.text)} for x in found]}


def _wait(project, services, timeout, log) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    if log is None:
        return control.wait(project, services, _bounded(timeout))
    if not services or len(services) != 1:
        raise UsageError("log needs exactly one service", hint="pass services: [NAME]")
    _regex(log, "log")
    found = control.wait_for_log(project, services[0], log, _bounded(timeout))
    return found | {"line": plain(found["line"]) if found["line"] is not None else None}


def _send(project, service, text, newline, wait_for, timeout) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from corral.cli.cmd_send import ENTER, STDIN_LIMIT

    typed = text + (ENTER if newline else "")
    if not typed:
        raise UsageError("nothing to send", hint="pass text, or newline: true for Enter")
    if len(typed.encode()) > STDIN_LIMIT:
        raise UsageError(f"text: more than {STDIN_LIMIT} bytes", hint="send less at once")
    if wait_for is not None:
        _regex(wait_for, "wait_for")
    found = control.send(project, service, typed, wait_for, _bounded(timeout))
    if found.get("line") is not None:
        found["line"] = plain(found["line"])
    return found


def _events(project, since, service, limit) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from corral import events
    from corral.paths import state_dir

    if since < 0:
        raise UsageError(f"since {since} is not a cursor", hint="0, or a cursor events returned")
    found = events.read(state_dir(project.root), since, service, limit=limit)
    return {"events": found, "cursor": found[-1]["cursor"] if found else since}


def serve(directory: Path, config_file: Path | None) -> int:
    build_server(directory, config_file).run("stdio")
    return 0
