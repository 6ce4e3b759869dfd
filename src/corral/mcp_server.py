"""``corral mcp``: corral's operations as MCP tools over stdio, on the official ``mcp`` SDK.

Each tool calls the same ``control`` operations as the CLI and returns structured content;
failures are tool errors carrying the CLI's stable codes and hints. Services started here are
tethered to this server process unless the call asks for ``persistent``: when the agent goes
away and our stdin closes, we exit, and the supervisor stops them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral import control
from corral.errors import CorralError, StartFailed, UsageError

INSTRUCTIONS = (
    "corral runs this project's development services and stops every process they start. "
    "Recommended loop: start (returns when ready, or fails with a diagnosis), then events with "
    "the cursor from the last call to learn what happened, logs with since/grep for detail, "
    "wait for readiness after an edit. Every tool returns within its bound; none waits for input."
)
MAX_LINES = 1000
MAX_WAIT = 300.0


@dataclass
class _Context:
    directory: Path
    config_file: Path | None
    me: dict[str, Any]  # this server process, as a tether
    tool_error: type[Exception]

    def project(self) -> Any:
        from corral.config import load_project

        return load_project(self.directory, self.config_file)

    async def call(self, operation: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        import anyio

        try:
            return await anyio.to_thread.run_sync(operation)
        except CorralError as exc:
            hint = f" (hint: {exc.hint})" if exc.hint else ""
            raise self.tool_error(f"[{exc.code}] {exc.message}{hint}") from None


def build_server(directory: Path, config_file: Path | None) -> Any:
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        raise UsageError(
            "the MCP server needs the mcp extra", hint="pip install 'corral[mcp]'"
        ) from None
    from corral.tether import resolve

    me = resolve(str(os.getpid()))
    assert me is not None
    ctx = _Context(directory, config_file, me.to_dict(), ToolError)
    server = MCPServer(name="corral", instructions=INSTRUCTIONS)
    _add_lifecycle_tools(server, ctx)
    _add_read_tools(server, ctx)
    return server


def _bounded(timeout: float) -> float:
    return min(max(timeout, 0.0), MAX_WAIT)


def _add_lifecycle_tools(server: Any, ctx: _Context) -> None:
    @server.tool(
        description="Start services (default: all autostart ones) and their "
        "dependencies; returns when all are ready or as soon as one fails, with a "
        "diagnosis. Tethered to this MCP session unless persistent is true."
    )
    async def start(
        services: list[str] | None = None, timeout: float = 60.0, persistent: bool = False
    ) -> dict[str, Any]:
        session = {"tether": None if persistent else ctx.me}
        return await ctx.call(
            lambda: _start(ctx.project(), ctx.config_file, services, _bounded(timeout), session)
        )

    @server.tool(
        description="Stop services (default: all) and every process they started; "
        "verifies ports are free. The report says how each ended and what was swept."
    )
    async def stop(services: list[str] | None = None) -> dict[str, Any]:
        return await ctx.call(lambda: control.stop(ctx.project(), services))

    @server.tool(description="Stop, then start services (default: all).")
    async def restart(services: list[str] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        return await ctx.call(
            lambda: control.restart(ctx.project(), ctx.config_file, services, _bounded(timeout))
        )

    @server.tool(
        description="Free ports: stops this project's holders; a process corral did "
        "not start only with force=true, and then says exactly what it killed."
    )
    async def free(ports: list[int], force: bool = False) -> dict[str, Any]:
        return await ctx.call(lambda: {"ports": control.free(ctx.project(), ports, force)})


def _add_read_tools(server: Any, ctx: _Context) -> None:
    @server.tool(
        description="What runs: state, pid, uptime, restarts, listening ports, last "
        "exit, tether and lease of each service. Never blocks on a hung supervisor."
    )
    async def status() -> dict[str, Any]:
        return await ctx.call(lambda: control.status(ctx.project()))

    @server.tool(
        description="The last lines of service logs merged in time order; since is a "
        "duration ('5m') or a time; grep a regex; at most 1000 lines."
    )
    async def logs(
        services: list[str] | None = None,
        lines: int = 100,
        since: str | None = None,
        grep: str | None = None,
    ) -> dict[str, Any]:
        count = min(max(lines, 1), MAX_LINES)
        return await ctx.call(lambda: _logs(ctx.project(), services, count, since, grep))

    @server.tool(
        description="Wait (bounded, at most 300 s) until services are ready; with log, "
        "wait for a new log line of one service matching that regex instead."
    )
    async def wait(
        services: list[str] | None = None, timeout: float = 30.0, log: str | None = None
    ) -> dict[str, Any]:
        if log is None:
            return await ctx.call(lambda: control.wait(ctx.project(), services, _bounded(timeout)))
        if not services or len(services) != 1:
            raise ctx.tool_error("[usage] log needs exactly one service")
        return await ctx.call(
            lambda: control.wait_for_log(ctx.project(), services[0], log, _bounded(timeout))
        )

    @server.tool(
        description="Lifecycle events after a cursor (0 for all); returns the cursor to "
        "pass next time. How to learn what happened since you last looked."
    )
    async def events(
        since: int = 0, service: str | None = None, limit: int = 200
    ) -> dict[str, Any]:
        return await ctx.call(
            lambda: _events(ctx.project(), since, service, min(max(limit, 1), 1000))
        )

    @server.tool(
        description="Who holds each port (default: the declared ports): pid, command, "
        "user, and service and project when it is corral's."
    )
    async def port(ports: list[int] | None = None) -> dict[str, Any]:
        return await ctx.call(lambda: {"ports": control.port_report(ctx.project(), ports or [])})

    @server.tool(
        description="Everything that explains a broken setup, each problem with the "
        "command that fixes it. Changes nothing."
    )
    async def doctor() -> dict[str, Any]:
        from corral.doctor import diagnose

        return await ctx.call(lambda: diagnose(ctx.project()))


def _start(project, config_file, services, timeout, session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from corral.diagnosis import diagnose_failure

    result = control.start(project, config_file, services, timeout, session=session)
    failed = result.get("failed")
    if failed:
        diagnosis = diagnose_failure(project.root, result["services"], failed)
        raise StartFailed(
            diagnosis["summary"] + "; last log lines: " + " | ".join(diagnosis["log_tail"][-5:]),
            hint=diagnosis["hint"],
        )
    return result


def _logs(project, services, lines, since, grep) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import re
    import time

    from corral import logs
    from corral.paths import state_dir

    names = services or project.service_names
    moment = logs.parse_since(since, time.time()) if since else None
    pattern = re.compile(grep) if grep else None
    found = logs.tail(state_dir(project.root), names, lines=lines, since=moment, grep=pattern)
    return {"lines": [{"service": x.service, "time": x.time, "text": x.text} for x in found]}


def _events(project, since, service, limit) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from corral import events
    from corral.paths import state_dir

    found = events.read(state_dir(project.root), since, service, limit=limit)
    return {"events": found, "cursor": found[-1]["cursor"] if found else since}


def serve(directory: Path, config_file: Path | None) -> int:
    build_server(directory, config_file).run("stdio")
    return 0
