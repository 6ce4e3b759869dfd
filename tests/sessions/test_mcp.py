"""The MCP server, driven by the official SDK's client over stdio against a real project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import pytest

from harness import corral_command, free_port, pid_alive, port_free, wait_until

mcp = pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent.parent / "examples" / "demo"


def demo(corral_project):  # type: ignore[no-untyped-def]
    project = corral_project()
    shutil.copytree(DEMO, project.root, dirs_exist_ok=True)
    api, frontend = free_port(), free_port()
    config = (project.root / "corral.toml").read_text()
    (project.root / "corral.toml").write_text(
        config.replace("8710", str(api)).replace("8711", str(frontend))
    )
    return project, api, frontend


async def session_run(project, steps) -> None:  # type: ignore[no-untyped-def]
    command = corral_command()
    params = StdioServerParameters(
        command=command[0],
        args=[*command[1:], "mcp", "-C", str(project.root)],
        env=dict(os.environ),
    )
    with open(os.devnull, "w") as quiet:
        async with (
            stdio_client(params, errlog=quiet) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await steps(session)


@pytest.mark.timeout(120)
def test_an_agent_starts_waits_reads_logs_and_stops_the_demo_over_mcp(corral_project) -> None:  # type: ignore[no-untyped-def]
    project, api, frontend = demo(corral_project)
    seen: dict = {}

    async def steps(session: ClientSession) -> None:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools >= {
            "status",
            "start",
            "stop",
            "restart",
            "logs",
            "wait",
            "events",
            "port",
            "free",
            "doctor",
        }
        started = await session.call_tool("start", {"timeout": 60})
        assert not started.is_error, started.content
        assert [s["state"] for s in started.structured_content["services"]] == ["ready"] * 3
        waited = await session.call_tool("wait", {"timeout": 10})
        assert not waited.is_error
        logs = await session.call_tool("logs", {"services": ["api"], "grep": "listening"})
        assert any("api listening" in line["text"] for line in logs.structured_content["lines"])
        events = await session.call_tool("events", {"since": 0})
        assert events.structured_content["cursor"] > 0
        status = await session.call_tool("status", {})
        seen["pids"] = [p for s in status.structured_content["services"] for p in s["members"]]
        assert status.structured_content["tether"] is not None
        bad = await session.call_tool("start", {"services": ["nope"]})
        assert bad.is_error and "[unknown_service]" in bad.content[0].text
        stopped = await session.call_tool("stop", {})
        assert not stopped.is_error
        assert all(report["ok"] for report in stopped.structured_content["reports"])

    anyio.run(session_run, project, steps)
    assert seen["pids"] and not any(pid_alive(pid) for pid in seen["pids"])
    assert port_free(api) and port_free(frontend)


@pytest.mark.timeout(120)
def test_closing_the_client_stops_tethered_services(corral_project) -> None:  # type: ignore[no-untyped-def]
    project, api, frontend = demo(corral_project)
    seen: dict = {}

    async def steps(session: ClientSession) -> None:
        started = await session.call_tool("start", {"timeout": 60})
        assert not started.is_error, started.content
        status = await session.call_tool("status", {})
        seen["pids"] = [p for s in status.structured_content["services"] for p in s["members"]]

    anyio.run(session_run, project, steps)  # leaving the context closes the server's stdin
    wait_until(
        lambda: not any(pid_alive(pid) for pid in seen["pids"]),
        timeout=30,
        message="tethered services to stop after the client left",
    )
    assert port_free(api) and port_free(frontend)
