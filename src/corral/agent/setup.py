"""``corral agent setup`` and ``remove``: the hook settings of Claude Code
(``.claude/settings.json``) and a marked corral section in ``CLAUDE.md`` / ``AGENTS.md``.

Setup merges into what is there and never drops a key; running it again changes nothing (or
refreshes the section after a configuration change). Remove takes out exactly what setup put in:
our hook handlers (recognised by their command, ``... agent hook NAME``), the groups and event
lists only we filled, and the marked section. So that a file setup changed and nobody touched
since comes back byte for byte, setup keeps the file's earlier text in ``.corral/agent-setup.json``
(local state, like the rest of ``.corral/``); a file edited since is cleaned surgically instead.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.errors import ConfigError, UsageError

TARGETS = ("claude", "agents-md", "all")
SETTINGS = Path(".claude") / "settings.json"
HOOK_TIMEOUT = 10  # seconds: Claude Code's own bound; the hooks answer within about 1 s
HOOKS = (  # (event, matcher, hook name)
    ("SessionStart", None, "session-start"),
    ("SessionEnd", None, "session-end"),
    ("PreToolUse", "Bash", "pre-tool-use"),
)
OURS = re.compile(r"(^|[\s/'\"])corral['\"]?\s+(.*\s)?agent\s+hook\s+([a-z-]+)\s*$")
BEGIN = (
    "<!-- corral:begin (written by `corral agent setup`; `corral agent remove` takes it out) -->"
)
END = "<!-- corral:end -->"
SECTION = re.compile(r"<!-- corral:begin[^\n]*-->\n.*?<!-- corral:end -->\n?", re.DOTALL)
RECORD = "agent-setup.json"


@dataclass
class Change:
    path: Path  # relative to the project root
    before: str | None  # None: the file does not exist
    after: str | None  # None: the file is removed

    @property
    def action(self) -> str:
        if self.before == self.after:
            return "unchanged"
        if self.before is None:
            return "created"
        return "removed" if self.after is None else "updated"

    def diff(self) -> str:
        old = (self.before or "").splitlines(keepends=True)
        new = (self.after or "").splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{self.path}", f"b/{self.path}")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def files_for(target: str) -> list[Path]:
    if target not in TARGETS:
        raise UsageError(f"unknown agent {target!r}", hint="claude, agents-md or all")
    claude = [SETTINGS, Path("CLAUDE.md")]
    agents = [Path("AGENTS.md")]
    return {"claude": claude, "agents-md": agents, "all": claude + agents}[target]


def plan_setup(project: Any, target: str, program: str | None = None) -> list[Change]:
    """What setup would write, file by file (nothing is written here)."""
    command = program or hook_program()
    changes = []
    for relative in files_for(target):
        before = _read(project.root / relative)
        if relative == SETTINGS:
            after = _with_hooks(before, command, project.root / relative)
        else:
            after = _with_section(before, instructions(project))
        changes.append(Change(relative, before, after))
    return changes


def plan_remove(project: Any, target: str) -> list[Change]:
    record = _load_record(project.root)
    changes = []
    for relative in files_for(target):
        before = _read(project.root / relative)
        kept = record.get(str(relative))
        if before is not None and kept and kept.get("written") == before and "original" in kept:
            after = kept["original"]  # untouched since setup: back to the very same bytes
        elif relative == SETTINGS:
            after = _without_hooks(before, project.root / relative)
        else:
            after = _without_section(before)
        created = bool(kept) and "original" in kept and kept["original"] is None
        if created and after is not None and after.strip() in ("", "{}"):
            after = None  # setup created it, and nothing but ours was ever in it
        changes.append(Change(relative, before, after))
    return changes


def apply(project: Any, changes: list[Change], *, setup: bool) -> None:
    """Write the planned changes and keep the record that lets remove restore them."""
    record = _load_record(project.root)
    for change in changes:
        key = str(change.path)
        if setup:
            _remember(record, key, change)
        else:
            record.pop(key, None)
        if change.action == "unchanged":
            continue
        path = project.root / change.path
        if change.after is None:
            path.unlink()
            if change.path.parent != Path(".") and not any(path.parent.iterdir()):
                path.parent.rmdir()  # .claude/ with nothing left in it
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.corral.tmp")
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(change.after)
        os.replace(temporary, path)
    _save_record(project.root, record)


def _remember(record: dict[str, Any], key: str, change: Change) -> None:
    kept = record.get(key)
    if kept and kept.get("written") == change.before and "original" in kept:
        kept["written"] = change.after  # a refresh: the original stays the one from before
        return
    entry: dict[str, Any] = {"written": change.after}
    if change.before is None or not _has_ours(key, change.before):
        entry["original"] = change.before
    record[key] = entry


def _has_ours(key: str, text: str) -> bool:
    if key == str(SETTINGS):
        return "agent hook" in text
    return SECTION.search(text) is not None


# ---- .claude/settings.json -------------------------------------------------------------


def hook_program() -> str:
    """How the hooks name corral: ``corral`` when that is this installation on PATH, else the
    full path of this installation's entry point."""
    mine = Path(sys.executable).parent / "corral"
    found = shutil.which("corral")
    if found and (not mine.exists() or Path(found).resolve() == mine.resolve()):
        return "corral"
    return shlex.quote(str(mine)) if mine.exists() else "corral"


def _with_hooks(text: str | None, program: str, path: Path) -> str:
    settings = _parse_settings(text, path)
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise ConfigError(path, "'hooks' is not an object", hint="fix it, then run setup again")
    for event, matcher, name in HOOKS:
        command = f"{program} agent hook {name}"
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise ConfigError(path, f"hooks.{event} is not a list", hint="fix it and run again")
        handler = _find_ours(groups, name)
        if handler is not None:
            handler["command"] = command
            continue
        group: dict[str, Any] = {} if matcher is None else {"matcher": matcher}
        group["hooks"] = [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT}]
        groups.append(group)
    return _dump(settings, text)


def _without_hooks(text: str | None, path: Path) -> str | None:
    if text is None:
        return None
    settings = _parse_settings(text, path)
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return text
    touched = False
    for event in list(hooks):
        groups = hooks[event]
        if isinstance(groups, list):
            kept, removed = _without_ours(groups)
            if removed:
                touched = True
                if kept:
                    hooks[event] = kept
                else:
                    del hooks[event]
    if not touched:
        return text
    if not hooks:
        del settings["hooks"]
    return _dump(settings, text)


def _without_ours(groups: list[Any]) -> tuple[list[Any], bool]:
    """The matcher groups without our handlers (a group only we filled goes too)."""
    kept, removed = [], False
    for group in groups:
        handlers = group.get("hooks") if isinstance(group, dict) else None
        others = [h for h in handlers if _our_name(h) is None] if isinstance(handlers, list) else []
        if not isinstance(handlers, list) or len(others) == len(handlers):
            kept.append(group)
            continue
        removed = True
        if others:
            kept.append({**group, "hooks": others})
    return kept, removed


def _find_ours(groups: list[Any], name: str) -> dict[str, Any] | None:
    for group in groups:
        for handler in group.get("hooks", []) if isinstance(group, dict) else []:
            if _our_name(handler) == name:
                return handler  # type: ignore[no-any-return]
    return None


def _our_name(handler: Any) -> str | None:
    if not isinstance(handler, dict) or handler.get("type") != "command":
        return None
    match = OURS.search(str(handler.get("command", "")))
    return match.group(3) if match else None


def _parse_settings(text: str | None, path: Path) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise ConfigError(
            path, f"not valid JSON: {exc}", line=line, hint="fix it, then run again"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(path, "settings are not a JSON object", hint="fix it, then run again")
    return data


def _dump(data: dict[str, Any], original: str | None) -> str:
    """JSON in the style of the file it came from: indent, escapes, final newline."""
    indent: int | str | None = 2
    newline = True
    ascii_only = False
    if original:
        found = re.search(r"^\{\s*\n([ \t]+)\"", original)
        if found:
            spaces = found.group(1)
            indent = "\t" if spaces.startswith("\t") else len(spaces)
        elif "\n" not in original.strip():
            indent = None
        newline = original.endswith("\n")
        ascii_only = "\\u" in original
    text = json.dumps(data, indent=indent, ensure_ascii=ascii_only)
    return text + "\n" if newline else text


# ---- CLAUDE.md / AGENTS.md -------------------------------------------------------------


def instructions(project: Any) -> str:
    """The marked section: how to run this project's services with corral, and the rules."""
    lines = [
        BEGIN,
        "## Dev services: use corral",
        "",
        "This project's development services run under corral, which starts them in the",
        "background and stops every process they start. Services:",
        "",
    ]
    for spec in project.services:
        ports = ", ".join(str(p) for p in spec.ports)
        where = f", port {ports}" if ports else ""
        lines.append(f"- `{spec.name}`{where}: `{_shorten(spec.command_line)}`")
    lines += [
        "",
        "- Start: `corral start [SERVICE...]` returns once they are ready, or fails at once "
        "with the last log lines. `--tether auto` ties them to this session.",
        "- Check: `corral status` (state, ports, uptime, who started it, stale code), "
        "`corral events --since CURSOR`, `corral logs SERVICE --since 5m --grep ERROR`.",
        "- After an edit: `corral restart --stale`, or `corral wait SERVICE --log REGEX`.",
        "- Stop: `corral stop [SERVICE...]`; a port in the way: `corral free PORT`.",
        "- Debug: `corral doctor`.",
        "",
        "Rules:",
        "",
        "- Never run a service's command yourself (not in the foreground, not with `&` or "
        "`nohup`): use `corral start SERVICE`.",
        "- Never kill by port or by name (`lsof -ti :PORT | xargs kill`, `fuser -k`, "
        "`pkill -f`, `killall`): use `corral stop SERVICE` or `corral free PORT`.",
        "- Never `tail -f` a log: use `corral logs SERVICE -n 100` or "
        "`corral logs SERVICE -f --for 30s`.",
        END,
    ]
    return "\n".join(lines) + "\n"


def _with_section(text: str | None, section: str) -> str:
    if text is None or not text:
        return section
    if SECTION.search(text):
        return SECTION.sub(lambda _: section, text, count=1)
    if text.endswith("\n\n"):
        return text + section
    return text + ("\n" if text.endswith("\n") else "\n\n") + section


def _without_section(text: str | None) -> str | None:
    if text is None:
        return None
    found = SECTION.search(text)
    if found is None:
        return text
    before, after = text[: found.start()], text[found.end() :]
    if not after and before.endswith("\n\n"):
        before = before[:-1]  # the blank line setup put before the section
    return before + after


# ---- the record --------------------------------------------------------------------------


def _record_path(root: Path) -> Path:
    from corral.paths import state_dir

    return state_dir(root) / RECORD


def _load_record(root: Path) -> dict[str, Any]:
    try:
        data = json.loads(_record_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_record(root: Path, record: dict[str, Any]) -> None:
    from corral.paths import ensure_state_dir

    path = _record_path(root)
    if not record:
        path.unlink(missing_ok=True)
        return
    ensure_state_dir(root)
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def _read(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}", hint="fix its permissions") from None


def _shorten(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
