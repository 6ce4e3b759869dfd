"""Whether corral runs under a coding agent: the variables agents set in their shells. Kept
apart from ``tether`` (which needs dataclasses and the OS layer) for the CLI's fast path."""

from __future__ import annotations

import os

AGENT_VARIABLES = (
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CURSOR_AGENT",
    "CODEX_CLI",
    "AIDER",
    "GEMINI_CLI",
    "OPENCODE",
)


SESSION_VARIABLE = "CORRAL_AGENT_SESSION"  # exported by the session-start hook (corral.agent)


def agent_environment() -> str | None:
    """The variable that says we run under a coding agent, if any."""
    return next((name for name in AGENT_VARIABLES if os.environ.get(name)), None)


def starter() -> dict[str, str | None]:
    """Who asks for a start, as a start request carries it ("started_by"): the agent and its
    session when known, and the user. The supervisor adds whether it was tethered or leased."""
    return {
        "agent": agent_environment(),
        "session": os.environ.get(SESSION_VARIABLE) or None,
        "user": os.environ.get("USER") or os.environ.get("LOGNAME") or _login(),
    }


def _login() -> str | None:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return None
