"""``corral export FORMAT``: the resolved project as another process manager's configuration.

Each format is one module with ``render(project, options) -> list[Exported]``: pure text, so
that the golden tests read exactly what is written. ``write`` puts the files in a directory.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("systemd", "launchd", "supervisord", "procfile", "compose")


@dataclass(frozen=True)
class Exported:
    name: str  # file name inside the export directory
    text: str
    private: bool = False  # holds environment values (maybe secrets): mode 0600


@dataclass(frozen=True)
class Options:
    directory: Path  # where the files will live (units name their env files by full path)
    image: str | None = None  # compose: the image each service runs in


def render(format_name: str, project, options: Options) -> list[Exported]:  # type: ignore[no-untyped-def]
    module = importlib.import_module(f"corral.onramps.export.{format_name}")
    files: list[Exported] = module.render(project, options)
    return files


def write(directory: Path, files: list[Exported]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for item in files:
        path = directory / item.name
        path.write_text(item.text, encoding="utf-8")
        path.chmod(0o600 if item.private else 0o644)
        written.append(path)
    return written
