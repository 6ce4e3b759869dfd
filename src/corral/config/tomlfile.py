"""TOML configuration sources, with line numbers recovered for error messages.

tomllib reports positions only for syntax errors, so ``TomlSource.line_of`` finds where a key was
written by reading the text: the ``[table]`` header or the ``key =`` line inside it. It is a best
effort locator for messages, never used to read values. The text is read once into a map of
every written key path (see ``LineMap``): a file of 400 services is asked 400 times, and a scan
per question made loading quadratic.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from corral.errors import ConfigError

_TOKEN = re.compile(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)')
_KEY = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
)
_DECODE_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)")


@dataclass
class TomlSource:
    path: Path
    data: dict[str, object]  # the corral table: the whole file, or [tool.corral]
    prefix: tuple[str, ...]  # where that table sits in the file
    text: str = field(repr=False)
    lines: LineMap | None = field(default=None, repr=False, compare=False)  # built when asked

    def key_name(self, *keys: str) -> str:
        return ".".join((*self.prefix, *keys))

    def line_of(self, *keys: str) -> int | None:
        """The line where ``keys`` (below the corral table) is written, or its nearest parent."""
        if self.lines is None:
            self.lines = LineMap(self.text)
        path = (*self.prefix, *keys)
        while len(path) > len(self.prefix):
            found = self.lines.find(path)
            if found is not None:
                return found
            path = path[:-1]
        return None

    def error(
        self,
        keys: tuple[str, ...],
        message: str,
        hint: str | None = None,
        *,
        at: tuple[str, ...] | None = None,
    ) -> ConfigError:
        """An error about the value at ``keys``; ``at`` locates the line when it differs."""
        where = self.key_name(*keys)
        text = f"{where}: {message}" if where else message
        return ConfigError(self.path, text, line=self.line_of(*(at or keys)), hint=hint)


def load_toml(path: Path, *, pyproject: bool = False) -> TomlSource | None:
    """Read a corral TOML file; for ``pyproject.toml``, its ``[tool.corral]`` table or None."""
    text = _read_text(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _DECODE_POSITION.search(message)
        line = int(position.group(1)) if position else None
        reason = _DECODE_POSITION.sub("", message)
        raise ConfigError(path, f"invalid TOML: {reason}", line=line) from None
    except RecursionError:
        # tomllib recurses once per nesting level; thousands of levels exhaust the stack.
        raise ConfigError(
            path, "invalid TOML: arrays or tables nested too deeply", hint="flatten the value"
        ) from None
    if not pyproject:
        return TomlSource(path, document, (), text)
    tool = document.get("tool")
    table = tool.get("corral") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(path, "tool.corral must be a table", hint="write it as [tool.corral]")
    return TomlSource(path, table, ("tool", "corral"), text)


def has_corral_table(path: Path) -> bool:
    """Whether a pyproject.toml has a [tool.corral] table (cheap text test before parsing)."""
    text = _read_text(path)
    if "corral" not in text:
        return False
    return load_toml(path, pyproject=True) is not None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from None


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(next(g for g in m.groups() if g is not None) for m in _TOKEN.finditer(text))


class LineMap:
    """Where each key path is first written: as a ``[table]`` header or a ``key =`` line (the
    key lines also answer for what an inline table on them holds). One pass over the text."""

    def __init__(self, text: str) -> None:
        self.written: dict[tuple[str, ...], int] = {}  # headers and keys
        self.keys: dict[tuple[str, ...], int] = {}  # keys only: they may hold an inline table
        section: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                section = _split_key(stripped.strip("[]"))
                self.written.setdefault(section, number)
                continue
            match = _KEY.match(line)
            if match is not None:
                key_path = section + _split_key(match.group(1))
                self.written.setdefault(key_path, number)
                self.keys.setdefault(key_path, number)

    def find(self, path: tuple[str, ...]) -> int | None:
        """The line of ``path``, else the first key line above it (e.g. ``ready = {tcp = 80}``
        holding ``ready.tcp``), else None."""
        found = self.written.get(path)
        if found is not None:
            return found
        enclosing = [self.keys[path[:n]] for n in range(1, len(path)) if path[:n] in self.keys]
        return min(enclosing) if enclosing else None
