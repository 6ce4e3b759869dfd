"""The hooks a coding agent runs (Claude Code's command hooks): ``corral agent hook
session-start|session-end|pre-tool-use``, each reading the agent's JSON on stdin.

Contract (see README, "Agents"):

- Every hook answers within about a second (a hard timer bounds all of it), never reads a
  terminal, and exits 0. If corral itself fails, the hook says so in one line on stderr and lets
  the agent carry on: a broken hook must never block the agent's work.
- session-start: appends ``export CORRAL_AGENT_SESSION=<session id>`` to the file named by
  ``CLAUDE_ENV_FILE`` (so the session's later ``corral start`` calls record it), and prints
  ``{"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": BRIEF}}``
  when there is something to tell; nothing otherwise.
- session-end: stops the services whose current run this session started tethered or leased,
  and nothing else; writes an ``agent_session_ended`` event; prints nothing on stdout.
- pre-tool-use: for a Bash command that ``corral.agent.commands`` denies, prints
  ``{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
  "permissionDecisionReason": REASON}}``; anything else passes with no output.

The same control operations as the CLI and the MCP server do the work (status, stop, events).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from corral.agents import SESSION_VARIABLE
from corral.errors import CorralError, ProjectNotFound

BUDGET = 0.9  # seconds for a whole hook, reading stdin included (CORRAL_HOOK_BUDGET overrides)
MAX_INPUT = 1024 * 1024


class OutOfTime(BaseException):
    """The hook's time is up. A BaseException, so that no ``except Exception`` holds it."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(name: str, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    """Run hook ``name``; always 0 (a denial is in the JSON on stdout)."""
    handler = HANDLERS[name]
    budget = _budget()
    try:
        with deadline(budget):
            payload = read_payload(stdin, budget)
            output, note = handler(payload, os.environ)
    except OutOfTime:
        output, note = None, f"no answer within {budget + 0.1:g}s; going on without corral"
    except ProjectNotFound:
        output, note = None, None  # not a corral project: nothing to say
    except CorralError as exc:
        output, note = None, exc.render()
    except Exception as exc:  # fail open: a broken corral must not block the agent
        output, note = None, f"failed ({type(exc).__name__}: {exc}); going on without corral"
    if output is not None:
        stdout.write(json.dumps(output) + "\n")
        stdout.flush()
    if note:
        stderr.write(f"corral: {name} hook: {note}\n")
    return 0


def _budget() -> float:
    try:
        value = float(os.environ.get("CORRAL_HOOK_BUDGET", BUDGET))
    except ValueError:
        return BUDGET
    return value if value > 0 else BUDGET


def read_payload(stdin: IO[str], budget: float = BUDGET) -> dict[str, Any]:
    """The agent's JSON on stdin; {} from a terminal (nobody will type it) or an empty stdin."""
    if stdin.isatty():
        return {}
    with contextlib.suppress(OSError, ValueError):
        select.select([stdin], [], [], budget)  # the deadline would end a wait that long
    text = stdin.read(MAX_INPUT)
    if not text.strip():
        return {}
    try:
        payload = json.loads(text)
    except ValueError:
        raise CorralError("the hook input is not JSON") from None
    if not isinstance(payload, dict):
        raise CorralError("the hook input is not a JSON object")
    return payload


def _project(payload: dict[str, Any], environ: Mapping[str, str]) -> Any:
    """The project the agent works in: its project directory, else the hook's cwd."""
    from corral.config import load_project

    directory = environ.get("CLAUDE_PROJECT_DIR") or payload.get("cwd") or os.getcwd()
    return load_project(Path(str(directory)))


Result = tuple[dict[str, Any] | None, str | None]


def session_start(payload: dict[str, Any], environ: Mapping[str, str]) -> Result:
    from corral.agent import brief

    session = _session(payload)
    note = _export_session(environ.get("CLAUDE_ENV_FILE"), session)
    try:
        project = _project(payload, environ)
    except ProjectNotFound:
        return None, note
    except CorralError as exc:  # a broken configuration is news for the agent, not a failure
        text = f"corral: this project's configuration does not load: {exc.render()}"
        return _context(text + " (`corral config` shows it once fixed)"), note
    text = brief.compose(project, session)
    return (_context(text) if text else None), note


def _context(text: str) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": text}}


def _export_session(env_file: str | None, session: str | None) -> str | None:
    """Let the session's later shell commands know its id (Claude Code sources this file)."""
    if not env_file or not session:
        return None
    try:
        with open(env_file, "a", encoding="utf-8") as handle:
            handle.write(f"export {SESSION_VARIABLE}={shlex.quote(session)}\n")
    except OSError as exc:
        return f"cannot write {env_file}: {exc.strerror}"
    return None


def session_end(payload: dict[str, Any], environ: Mapping[str, str]) -> Result:
    from corral.control import operations as control

    session = _session(payload)
    if session is None:
        return None, None
    project = _project(payload, environ)
    status = control.status(project)
    mine = [s["name"] for s in status["services"] if _ours(s, session)]
    if not mine:
        return None, None
    report = {"session": session, "reason": payload.get("reason"), "stopping": mine}
    _emit(project, status, report)
    try:
        result = control.stop(project, mine)
    except OutOfTime:
        return None, f"stopping {', '.join(mine)}; the supervisor finishes it"
    failed = [r["service"] for r in result.get("reports", []) if not r.get("ok")]
    if failed:
        return None, f"stopped {', '.join(mine)}, but not everything of {', '.join(failed)}"
    return None, None


def _ours(service: dict[str, Any], session: str) -> bool:
    """Started by ``session``, tethered or leased, and running now."""
    started_by = service.get("started_by") or {}
    return (
        service.get("pid") is not None
        and started_by.get("session") == session
        and bool(started_by.get("tethered") or started_by.get("leased"))
    )


def _emit(project: Any, status: dict[str, Any], data: dict[str, Any]) -> None:
    """The session's end in the event stream: through the supervisor while it lives (the
    stream's one writer), else written here."""
    from corral import client
    from corral.paths import socket_path, state_dir

    if status.get("source") == "supervisor":
        message = {"op": "event", "kind": "agent_session_ended", "data": data}
        with contextlib.suppress(CorralError):
            client.call(socket_path(project.project_id), message, 0.3)
            return
    from corral.events import EventLog

    if state_dir(project.root).is_dir():
        EventLog(state_dir(project.root)).emit("agent_session_ended", None, **data)


def pre_tool_use(payload: dict[str, Any], environ: Mapping[str, str]) -> Result:
    from corral.agent.commands import check, targets_of

    if payload.get("tool_name") != "Bash":
        return None, None
    tool_input = payload.get("tool_input") or {}
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    if not isinstance(command, str) or not command.strip():
        return None, None
    project = _project(payload, environ)
    allow = project.settings.agent_allow
    denial = check(command, targets_of(project), allow)
    if denial is None:
        return None, None
    reason = denial.reason
    if tool_input.get("run_in_background") and denial.rule == "direct_start":
        reason += " Running it in the background does not change that."
    decision = {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": reason,
    }
    return {"hookSpecificOutput": decision}, None


def _session(payload: dict[str, Any]) -> str | None:
    session = payload.get("session_id")
    return session if isinstance(session, str) and session else None


HANDLERS: dict[str, Callable[[dict[str, Any], Mapping[str, str]], Result]] = {
    "session-start": session_start,
    "session-end": session_end,
    "pre-tool-use": pre_tool_use,
}
