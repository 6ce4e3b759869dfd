"""The brief a new agent session reads: what runs in this project (state, ports, uptime, who
started it and when, whether it is tied to a session), what is stale (started before the last
commit, or files changed since), what a dead supervisor left behind, what crashed since the last
look, and the commands to use. Nothing at all when there is nothing to say.

Built from the same operations as ``corral status`` and ``corral events``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

CURSOR_FILE = "agent-cursor"  # in .corral/: the last event cursor a session was told about
FRESH = 24 * 3600.0  # without a cursor, crashes this recent are news
MAX_NEWS = 5
GIT_TIMEOUT = 0.3
TROUBLE = {"crashed", "probe_failed", "tether_fired", "lease_expired"}


def compose(project: Any, session: str | None = None, now: float | None = None) -> str | None:
    from corral.control import operations as control

    now = time.time() if now is None else now
    status = control.status(project)
    running = [s for s in status["services"] if s.get("pid") is not None]
    lines = []
    if running:
        commit = last_commit(project.root)
        lines.append(f"corral: {len(running)} service(s) of this project run now:")
        for service in running:
            lines.append("- " + _describe(service, session, commit, now))
    news = _news(project.root, now)
    if news:
        lines.append("Since the last look:")
        lines += [f"- {line}" for line in news]
    if not lines:
        return None
    lines.append(
        "Use `corral start SERVICE` (returns once ready), `corral status`, `corral logs SERVICE "
        "-n 100`, `corral stop SERVICE`; never run a service's command yourself, nor kill by "
        "port or name (`corral free PORT`)."
    )
    return "\n".join(lines)


def _describe(service: dict[str, Any], session: str | None, commit: Any, now: float) -> str:
    name = service["name"]
    ports = service.get("listening") or service.get("ports") or []
    parts = [f"`{name}` {service['state']}, pid {service['pid']}"]
    if ports:
        parts.append("port " + ",".join(str(p) for p in ports))
    started = service.get("started_at")
    if started:
        parts.append(f"up {_ago(now - started)}")
    parts.append(_who(service.get("started_by"), session, now))
    text = ", ".join(parts)
    if service["state"] == "orphaned":
        text += f"; left running by a supervisor that died: `corral stop {name}` stops it"
    if commit is not None and started and commit[1] > started:
        text += (
            f"; runs code older than the last commit ({commit[0][:10]}, "
            f"{_ago(now - commit[1])} ago): `corral restart {name}`"
        )
    elif service.get("stale"):
        stale = service["stale"]
        text += (
            f"; stale: {stale.get('files', 0)} file(s) changed since it started: "
            f"`corral restart --stale`"
        )
    return text


def _who(started_by: dict[str, Any] | None, session: str | None, now: float) -> str:
    if not started_by:
        return "started by an unknown caller"
    when = started_by.get("time")
    ago = f" {_ago(now - when)} ago" if isinstance(when, int | float) else ""
    if started_by.get("session") and started_by["session"] == session:
        who = "this session"
    elif started_by.get("session"):
        agent = f" ({started_by['agent']})" if started_by.get("agent") else ""
        who = f"agent session {started_by['session'][:12]}{agent}"
    elif started_by.get("agent"):
        who = f"an agent ({started_by['agent']}, no session id)"
    else:
        who = f"user {started_by.get('user') or 'unknown'}"
    tie = "tethered" if started_by.get("tethered") else "leased" if started_by.get("leased") else ""
    tie = tie or "untethered: it outlives the session that started it"
    return f"started by {who}{ago} ({tie})"


def _news(root: Path, now: float) -> list[str]:
    """Crashes and other trouble since the cursor the last brief saw (then moved on)."""
    from corral import events
    from corral.paths import state_dir

    directory = state_dir(root)
    if not directory.is_dir():
        return []
    cursor_path = directory / CURSOR_FILE
    try:
        since: int | None = int(cursor_path.read_text().strip())
    except (OSError, ValueError):
        since = None
    found = events.read(directory, since or 0, limit=0)
    if found:
        cursor_path.write_text(f"{found[-1]['cursor']}\n")
    news = []
    for event in found:
        if since is None and now - float(event.get("time", 0)) > FRESH:
            continue
        line = _trouble(event, now)
        if line:
            news.append(line)
    return news[-MAX_NEWS:]


def _trouble(event: dict[str, Any], now: float) -> str | None:
    kind, name = event.get("kind"), event.get("service")
    ago = f"{_ago(now - float(event.get('time', now)))} ago"
    if kind == "exited" and (event.get("code") or event.get("signal")):
        how = (
            f"killed by {event['signal']}" if event.get("signal") else f"exit code {event['code']}"
        )
        return f"`{name}` exited ({how}) {ago}: `corral logs {name} -n 50`"
    if kind not in TROUBLE:
        return None
    if kind == "crashed":
        return f"`{name}` crashed (restarted too often) {ago}: `corral logs {name} -n 50`"
    if kind == "probe_failed":
        return f"`{name}` never got ready ({event.get('reason')}) {ago}"
    if kind == "tether_fired":
        return f"everything stopped {ago}: the process it was tethered to exited"
    return f"everything stopped {ago}: its lease expired"


def last_commit(root: Path) -> tuple[str, float] | None:
    """The commit HEAD points at and its commit time."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%H %ct"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = result.stdout.split()
    if result.returncode != 0 or len(words) != 2 or not words[1].isdigit():
        return None
    return words[0], float(words[1])


def _ago(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} days"
