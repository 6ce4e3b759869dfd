"""Procfiles as foreman, honcho and Overmind read them: ``name: command`` per line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from corral.errors import ConfigError

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
_LINE = re.compile(r"^([A-Za-z0-9_-]+):[ \t]*(.*)$")


@dataclass(frozen=True)
class ProcfileEntry:
    name: str
    command: str
    line: int


def parse_procfile(text: str, path: Path) -> list[ProcfileEntry]:
    """Entries in file order. Blank lines and lines starting with ``#`` are skipped."""
    entries: list[ProcfileEntry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(
                path,
                f"cannot read {_shorten(line)!r}",
                line=number,
                hint="each line must be 'name: command', the name of letters, digits, _ and -",
            )
        name, command = match.group(1), match.group(2).strip()
        if not command:
            raise ConfigError(
                path, f"service {name!r} has no command", line=number, hint="write 'name: command'"
            )
        if name in seen:
            raise ConfigError(
                path,
                f"service {name!r} is defined twice (first on line {seen[name]})",
                line=number,
                hint="rename or remove one of them",
            )
        seen[name] = number
        entries.append(ProcfileEntry(name, command, number))
    return entries


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
