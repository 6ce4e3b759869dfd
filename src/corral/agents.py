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


def agent_environment() -> str | None:
    """The variable that says we run under a coding agent, if any."""
    return next((name for name in AGENT_VARIABLES if os.environ.get(name)), None)
