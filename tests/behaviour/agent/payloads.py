"""Golden hook inputs, shaped as Claude Code sends them, and a runner for the installed hook."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness import ProjectDir, corral_command


def run_hook(
    project: ProjectDir,
    name: str,
    payload: dict,
    env: dict | None = None,  # type: ignore[type-arg]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*corral_command(), "agent", "hook", name],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=project.root,
        env={**os.environ, **(env or {})},
    )


def start_payload(root: Path, session: str, source: str = "startup") -> dict:  # type: ignore[type-arg]
    return {
        "session_id": session,
        "transcript_path": str(root / "t.jsonl"),
        "cwd": str(root),
        "hook_event_name": "SessionStart",
        "source": source,
        "model": "claude-sonnet-4-5",
    }


def end_payload(root: Path, session: str, reason: str = "other") -> dict:  # type: ignore[type-arg]
    return {
        "session_id": session,
        "transcript_path": str(root / "t.jsonl"),
        "cwd": str(root),
        "permission_mode": "default",
        "hook_event_name": "SessionEnd",
        "reason": reason,
    }
