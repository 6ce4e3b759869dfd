"""Why a service is not as wanted, for people and agents: the summary, the exit, the probe's
reason and the last log lines, as ``start``, ``wait`` and the MCP tools report it.

``corral status`` (the fast path) imports this module: nothing heavy at module level.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


def describe_exit(exit_info: dict[str, Any]) -> str:
    if exit_info.get("signal"):
        return f"killed by {exit_info['signal']}"
    return f"exit code {exit_info.get('code')}"


def diagnose_failure(root: str | Path, services: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Why a service is not ready: state, exit, probe reason, the last 20 lines its latest run
    wrote (earlier runs' output would mislead)."""
    from pathlib import Path

    from corral import logs  # on the error path only: status imports this module too
    from corral.paths import state_dir

    service = next(s for s in services if s["name"] == name)
    exit_info = service.get("last_exit")
    summary = f"{name} is {service['state']}"
    if exit_info:
        summary += f" ({describe_exit(exit_info)})"
    if service.get("note"):
        summary += f": {service['note']}"
    never_ran = service["state"] == "stopped" and (service.get("note") or "").startswith(
        "not started"
    )
    lines = [] if never_ran else logs.run_lines(state_dir(Path(root)), name, 20)
    return {
        "service": name,
        "state": service["state"],
        "exit": exit_info,
        "note": service.get("note"),
        "summary": summary,
        "log_tail": lines,
        "hint": f"see corral logs {name}",
    }
