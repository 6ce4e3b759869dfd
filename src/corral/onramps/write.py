"""Writing a drafted configuration: never over an existing one without ``force``, and only if
it loads (otherwise the files are put back as they were)."""

from __future__ import annotations

import re
from pathlib import Path

from corral.config.tomlfile import has_corral_table
from corral.errors import ConfigError, UsageError

_CORRAL_HEADER = re.compile(r"^\s*\[\[?\s*tool\s*\.\s*corral\b")
_ANY_HEADER = re.compile(r"^\s*\[")


def target(root: Path, *, pyproject: bool, force: bool) -> Path:
    """The file to write, after checking that nothing would be overwritten unasked."""
    corral_toml, project = root / "corral.toml", root / "pyproject.toml"
    configured = project.is_file() and has_corral_table(project)
    if pyproject:
        if not project.is_file():
            raise UsageError(
                "--pyproject: there is no pyproject.toml here", hint="drop --pyproject"
            )
        if corral_toml.is_file():
            raise UsageError(
                "corral.toml already configures this project", hint="remove it, or drop --pyproject"
            )
        if configured and not force:
            raise UsageError(
                "pyproject.toml already has a [tool.corral] table",
                hint="pass --force to replace it, or --dry-run to see the draft",
            )
        return project
    if configured:
        raise UsageError(
            "pyproject.toml already has a [tool.corral] table",
            hint="pass --pyproject --force to replace it",
        )
    if corral_toml.is_file() and not force:
        raise UsageError(
            "corral.toml exists", hint="pass --force to overwrite it, or --dry-run to see the draft"
        )
    return corral_toml


def write(path: Path, text: str) -> str | None:
    """Write ``text`` (into pyproject.toml: in place of its [tool.corral] tables) and return
    what the file held before (None: it did not exist)."""
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if path.name == "pyproject.toml":
        assert old is not None
        kept = without_corral_tables(old).rstrip("\n")
        text = f"{kept}\n\n{text}" if kept else text
    path.write_text(text, encoding="utf-8")
    return old


def restore(path: Path, old: str | None) -> None:
    if old is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(old, encoding="utf-8")


def without_corral_tables(text: str) -> str:
    """pyproject.toml's text without its ``[tool.corral...]`` tables."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if _ANY_HEADER.match(line):
            skipping = bool(_CORRAL_HEADER.match(line))
        if not skipping:
            kept.append(line)
    return "".join(kept)


def check_loads(root: Path, path: Path, old: str | None) -> None:
    """Load what was written; if it does not load, put the file back and say why."""
    from corral.config import load_project

    try:
        load_project(root)
    except ConfigError as exc:
        restore(path, old)
        raise UsageError(
            f"the drafted configuration does not load, so nothing was written: {exc.message}",
            hint="run corral init --dry-run, and write the file from it by hand",
        ) from None
