"""The MCP server, driven by the official SDK's client over stdio against a real project."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from harness import REPO, corral_command, free_port, pid_alive, port_free, service_toml, wait_until

mcp = pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

DEMO = REPO / "examples" / "demo"


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


DEBUGGEE = (
    "import time\n"
    "def handler():\n"
    "    value = 6\n"
    "    breakpoint()\n"
    "    print('request complete', flush=True)\n"
    "handler()\n"
    "time.sleep(3600)\n"
)


@pytest.mark.timeout(120)
def test_an_agent_answers_a_debugger_prompt_in_a_tty_service_over_mcp(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("app.py", DEBUGGEE)
    project.write("corral.toml", service_toml("web", [sys.executable, "app.py"], tty=True))  # type: ignore[arg-type]
    seen: dict = {}

    async def steps(session: ClientSession) -> None:
        started = await session.call_tool("start", {"timeout": 60})
        assert not started.is_error, started.content
        logs = {"services": ["web"], "grep": "Pdb"}
        for _ in range(100):  # the prompt may already be in the log: look there first
            found = await session.call_tool("logs", logs)
            if found.structured_content["lines"]:
                break
            await anyio.sleep(0.1)
        answer = await session.call_tool(
            "send", {"service": "web", "text": "p value * 7", "wait_for": r"^\d+$"}
        )
        assert not answer.is_error, answer.content
        seen["answer"] = answer.structured_content
        go_on = await session.call_tool(
            "send", {"service": "web", "text": "c", "wait_for": "request complete"}
        )
        seen["go_on"] = go_on.structured_content
        status = await session.call_tool("status", {})
        seen["pids"] = [p for s in status.structured_content["services"] for p in s["members"]]
        stopped = await session.call_tool("stop", {})
        assert not stopped.is_error, stopped.content
        assert all(report["ok"] for report in stopped.structured_content["reports"])

    anyio.run(session_run, project, steps)
    assert seen["answer"]["matched"] and seen["answer"]["line"] == "42", seen["answer"]
    assert seen["answer"]["bytes"] == len("p value * 7\r")
    assert seen["go_on"]["line"] == "request complete", seen["go_on"]
    assert seen["pids"] and not any(pid_alive(pid) for pid in seen["pids"])


GOLDEN = Path(__file__).resolve().parent / "golden" / "mcp_tools.json"
UPDATE = os.environ.get("CORRAL_UPDATE_GOLDEN") == "1"  # rewrite the golden file instead


def tool_document(tools) -> list[dict]:  # type: ignore[no-untyped-def]
    return [
        {
            "name": tool.name,
            "description": tool.description,
            "annotations": tool.annotations.model_dump(by_alias=True, exclude_none=True),
            "inputSchema": tool.input_schema,
        }
        for tool in sorted(tools, key=lambda tool: tool.name)
    ]


@pytest.mark.timeout(60)
def test_the_tool_list_is_described_annotated_and_matches_its_golden_file(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: sleep 60\n"})
    seen: dict = {}

    async def steps(session: ClientSession) -> None:
        seen["tools"] = tool_document((await session.list_tools()).tools)

    anyio.run(session_run, project, steps)
    tools = {tool["name"]: tool for tool in seen["tools"]}
    for name, tool in tools.items():
        assert {"readOnlyHint", "destructiveHint", "idempotentHint"} <= set(tool["annotations"])
        for param, schema in tool["inputSchema"].get("properties", {}).items():
            assert schema.get("description"), f"{name}.{param} has no description"
    assert "seconds" in tools["start"]["inputSchema"]["properties"]["timeout"]["description"]
    assert tools["status"]["annotations"]["readOnlyHint"] is True
    assert tools["stop"]["annotations"]["destructiveHint"] is True
    assert "services" in tools
    if UPDATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(seen["tools"], indent=2, sort_keys=True) + "\n")
    assert seen["tools"] == json.loads(GOLDEN.read_text()), "CORRAL_UPDATE_GOLDEN=1 rewrites it"


BAD_CALLS = [  # (tool, arguments, what the error must say), one or more per tool
    ("start", {"services": ["nope"]}, "[unknown_service] no service named 'nope'"),
    ("stop", {"services": ["nope"]}, "[unknown_service]"),
    ("restart", {"services": ["nope"]}, "[unknown_service]"),
    (
        "logs",
        {"services": ["nope"]},
        "[unknown_service] no service named 'nope' (hint: services: web",
    ),
    ("logs", {"since": "yesterday-ish"}, "[usage] since: cannot read 'yesterday-ish'"),
    ("logs", {"grep": "(unclosed"}, "[usage] grep: invalid regular expression '(unclosed'"),
    ("wait", {"services": ["web"], "log": "[bad"}, "[usage] log: invalid regular expression"),
    ("wait", {"log": "x"}, "[usage] log needs exactly one service"),
    ("wait", {}, "[not_running] no supervisor runs for this project (hint: the start tool)"),
    ("events", {"since": -1}, "[usage] since -1 is not a cursor"),
    ("events", {"service": "nope"}, "[unknown_service]"),
    ("port", {"ports": [99999]}, "[usage] port 99999 is out of range"),
    ("free", {"ports": [0]}, "[usage] port 0 is out of range"),
    ("send", {"service": "nope", "text": "x"}, "[unknown_service] no service named 'nope'"),
    ("send", {"service": "web", "text": "", "newline": False}, "[usage] nothing to send"),
    ("send", {"service": "web", "text": "x", "wait_for": "(x"}, "[usage] wait_for: invalid"),
    ("send", {"service": "web", "text": "x"}, "[not_running] no supervisor runs"),
]
BROKEN_CONFIG = ["services", "status", "doctor"]  # no arguments: their error is a bad config


@pytest.mark.timeout(90)
def test_each_tool_reports_bad_input_as_a_clear_error(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: sleep 60\n"})
    seen: dict = {}

    async def steps(session: ClientSession) -> None:
        for tool, arguments, _ in BAD_CALLS:
            result = await session.call_tool(tool, arguments)
            seen[(tool, str(arguments))] = (result.is_error, result.content[0].text)
        project.write("Procfile", "web sleep 60\n")  # every call reads the config anew
        for tool in BROKEN_CONFIG:
            result = await session.call_tool(tool, {})
            seen[tool] = (result.is_error, result.content[0].text)

    anyio.run(session_run, project, steps)
    for tool, arguments, expected in BAD_CALLS:
        is_error, text = seen[(tool, str(arguments))]
        assert is_error and expected in text, (tool, arguments, text)
    for tool in BROKEN_CONFIG:
        is_error, text = seen[tool]
        assert is_error and "[config] " in text and "Procfile:1: cannot read" in text, (tool, text)


@pytest.mark.timeout(90)
def test_services_lists_the_configuration_and_logs_come_without_terminal_escapes(
    corral_project,
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    script = "print('\\x1b[32mgreen\\x1b[0m ready', flush=True); import time; time.sleep(60)"
    project.write(
        "corral.toml",
        service_toml("web", f'{sys.executable} -c "{script}"', ready={"log": "ready"}),
    )
    seen: dict = {}

    async def steps(session: ClientSession) -> None:
        listed = await session.call_tool("services", {})
        seen["services"] = listed.structured_content["services"]
        started = await session.call_tool("start", {"timeout": 30})
        assert not started.is_error, started.content
        logs = await session.call_tool("logs", {"services": ["web"], "grep": "ready"})
        seen["lines"] = [line["text"] for line in logs.structured_content["lines"]]
        await session.call_tool("stop", {})

    anyio.run(session_run, project, steps)
    assert [s["name"] for s in seen["services"]] == ["web"]
    assert seen["services"][0]["ready"]["kind"] == "log"
    assert "green ready" in seen["lines"] and not any("\x1b" in t for t in seen["lines"])


def test_hints_name_tools_instead_of_commands() -> None:
    from corral.mcp_server import tool_hint

    assert tool_hint("see corral logs api", ["api"]) == "see the logs tool (services: api)"
    assert tool_hint("or corral stop to end it", ["api"]) == "or the stop tool to end it"
    assert tool_hint("try corral free 8000", []) == "try the free tool (ports: 8000)"
    assert tool_hint("corral start") == "the start tool"
    assert tool_hint("corral config --names") == "the services tool --names"
    assert tool_hint("run 'corral init' there") == "run 'corral init' there"
