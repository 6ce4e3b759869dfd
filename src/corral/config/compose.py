"""``process-compose.yaml`` read as a corral configuration.

The file is translated into the table a ``corral.toml`` would hold (``services.NAME.command``,
``cwd``, ``env``, ``ready``, ...), so every value then goes through the same validators as a
TOML file's. What the translation cannot honour (``is_daemon``, ``log_location``, a
``shutdown.command``, ...) is collected into one warning naming each key: never dropped in
silence. Messages name the process-compose key (``processes.web.working_dir``) and its line.

PyYAML is an optional extra (``corral[yaml]``), imported only here, and only when a project is
configured by process-compose: other projects never pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corral.config.compose_keys import Translator
from corral.errors import ConfigError

COMPOSE_NAMES = ("process-compose.yaml", "process-compose.yml")


@dataclass
class ComposeSource:
    """The translated table plus what messages need: where each key was written (``lines``)
    and what it is called in the YAML file (``names``), both keyed by corral's key path."""

    path: Path
    data: dict[str, object]
    text: str = field(repr=False)
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    names: dict[tuple[str, ...], str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def line_of(self, *keys: str) -> int | None:
        path = tuple(keys)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def key_name(self, *keys: str) -> str:
        path = tuple(keys)
        while path:
            if path in self.names:
                return self.names[path]
            path = path[:-1]
        return ".".join(keys)

    def error(
        self,
        keys: tuple[str, ...],
        message: str,
        hint: str | None = None,
        *,
        at: tuple[str, ...] | None = None,
    ) -> ConfigError:
        where = self.key_name(*keys)
        text = f"{where}: {message}" if where else message
        return ConfigError(self.path, text, line=self.line_of(*(at or keys)), hint=hint)

    def warning(self) -> str | None:
        """The one line that names every key corral cannot honour, or None."""
        if not self.warnings:
            return None
        return (
            f"{self.path.name}: corral cannot honour {', '.join(self.warnings)} "
            "(ignored; see README, process-compose.yaml)"
        )


def find_compose(directory: Path) -> Path | None:
    return next((directory / n for n in COMPOSE_NAMES if (directory / n).is_file()), None)


def load_compose(path: Path) -> ComposeSource:
    text = _read(path)
    document, key_lines = _parse(path, text)
    source = ComposeSource(path, {}, text)
    Translator(source, key_lines).project(document)
    return source


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from None


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "process-compose.yaml",
            "reading process-compose files needs PyYAML",
            hint="pip install 'corral[yaml]'",
        ) from None
    return yaml


def _parse(path: Path, text: str) -> tuple[object, dict[tuple[str, ...], int]]:
    """The document, and the line of every mapping key by its path (for messages)."""
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, f"invalid YAML: {problem}", line=line) from None
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _collect_lines(yaml, node, (), lines)
    return document, lines


def _collect_lines(yaml: Any, node: Any, path: tuple[str, ...], out: dict) -> None:  # type: ignore[type-arg]
    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode):
            here = (*path, str(key.value))
            out.setdefault(here, key.start_mark.line + 1)
            _collect_lines(yaml, value, here, out)
