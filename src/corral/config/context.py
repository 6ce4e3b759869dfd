"""What the configuration pipeline carries while it reads one project: where it was found, the
parsed sources, and the one way a bad value becomes a ``ConfigError`` pointing at its key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from corral.config import values as v
from corral.config.compose import ComposeSource
from corral.config.discover import Discovered
from corral.config.procfile import ProcfileEntry
from corral.config.tomlfile import TomlSource
from corral.errors import ConfigError

T = TypeVar("T")


@dataclass
class RawService:
    name: str
    index: int  # position in file order, which PORT follows
    command: str | tuple[str, ...] | None
    options: dict[str, object]
    defined_at: str
    from_procfile: bool = False


@dataclass
class Context:
    found: Discovered
    root: Path
    source: TomlSource | ComposeSource | None
    inherited: Mapping[str, str] | None = None
    procfile: list[ProcfileEntry] = field(default_factory=list)

    def read(
        self,
        keys: tuple[str, ...],
        table: dict[str, object],
        key: str,
        validator: Callable[[object], T],
        default: T,
    ) -> T:
        if key not in table:
            return default
        try:
            return validator(table[key])
        except v.UnknownKey as exc:  # inside a nested table such as ready = {...}
            raise self.error((*keys, key), str(exc), exc.hint, at=(*keys, key, exc.key)) from None
        except ValueError as exc:
            raise self.error((*keys, key), str(exc)) from None

    def error(
        self,
        keys: tuple[str, ...],
        message: str,
        hint: str | None = None,
        *,
        at: tuple[str, ...] | None = None,
    ) -> ConfigError:
        if self.source is None:  # Procfile-only projects have no TOML keys to point at
            return ConfigError(self.found.files[0], message, hint=hint)
        return self.source.error(keys, message, hint, at=at)
