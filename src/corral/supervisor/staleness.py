"""Stale code: a running service whose files changed after it started.

A service's files are its ``watch`` globs (relative to its cwd) or, by default, the files git
tracks under its cwd plus untracked files git does not ignore. The git HEAD is recorded at each
start too: a HEAD that moved makes every service of the tree stale.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LIST_REFRESH = 30.0  # seconds between re-listing a service's files (stat checks are cheaper)
MAX_FILES = 20000
SKIP_DIRS = {".git", ".corral", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache"}


def git_head(directory: Path) -> str | None:
    """The commit HEAD points at, read from .git's files (no subprocess: this runs often)."""
    gitdir = _git_dir(directory)
    if gitdir is None:
        return None
    try:
        head = (gitdir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (gitdir / ref).exists():
            return (gitdir / ref).read_text().strip()
        for line in (gitdir / "packed-refs").read_text().splitlines():
            if line.endswith(f" {ref}"):
                return line.split()[0]
    except OSError:
        return None
    return None


def _git_dir(directory: Path) -> Path | None:
    for candidate in (directory, *directory.parents):
        dotgit = candidate / ".git"
        if dotgit.is_dir():
            return dotgit
        if dotgit.is_file():  # a worktree or submodule: "gitdir: PATH"
            text = dotgit.read_text().strip()
            if text.startswith("gitdir: "):
                return (candidate / text[8:]).resolve()
    return None


def code_files(cwd: Path, globs: tuple[str, ...]) -> list[Path]:
    if globs:
        found: set[Path] = set()
        for pattern in globs:
            found.update(path for path in cwd.glob(pattern) if path.is_file())
        return sorted(found)[:MAX_FILES]
    listed = _git_files(cwd)
    return listed if listed is not None else _walk(cwd)


def _git_files(cwd: Path) -> list[Path] | None:
    try:
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=cwd,
            capture_output=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    names = [name for name in result.stdout.decode(errors="replace").split("\0") if name]
    return [cwd / name for name in names[:MAX_FILES]]


def _walk(cwd: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirs, files in os.walk(cwd):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        found.extend(Path(directory) / name for name in files)
        if len(found) >= MAX_FILES:
            break
    return found


class Survey:
    """What one stale check of all services looks at, each thing once: the file lists (shared
    by services watching the same tree, refreshed every ``LIST_REFRESH`` seconds), each
    file's mtime, and the git HEAD. Ten services of one checkout cost one listing, not ten."""

    def __init__(self) -> None:
        self.lists: dict[tuple[Path, tuple[str, ...]], tuple[float, list[Path]]] = {}
        self.mtimes: dict[Path, float] = {}
        self.heads: dict[Path, str | None] = {}

    def begin(self) -> None:
        """A new check: files may have changed since the last one."""
        self.mtimes.clear()
        self.heads.clear()

    def files(self, cwd: Path, globs: tuple[str, ...]) -> list[Path]:
        listed = self.lists.get((cwd, globs))
        if listed is None or time.monotonic() - listed[0] > LIST_REFRESH:
            listed = self.lists[(cwd, globs)] = (time.monotonic(), code_files(cwd, globs))
        return listed[1]

    def mtime(self, path: Path) -> float:
        if path not in self.mtimes:
            self.mtimes[path] = _mtime(path)
        return self.mtimes[path]

    def head(self, root: Path) -> str | None:
        if root not in self.heads:
            self.heads[root] = git_head(root)
        return self.heads[root]


@dataclass
class Watched:
    cwd: Path
    globs: tuple[str, ...]
    started_at: float
    head: str | None

    def check(self, root: Path, survey: Survey | None = None) -> dict[str, object] | None:
        """What changed since the run started, or None when nothing did."""
        survey = survey or Survey()
        files = survey.files(self.cwd, self.globs)
        changed = [path for path in files if survey.mtime(path) > self.started_at]
        head = survey.head(root) if self.head is not None else None
        moved = self.head is not None and head is not None and head != self.head
        if not changed and not moved:
            return None
        names = [
            str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            for path in changed[:3]
        ]
        return {"files": len(changed), "first": names, "head_moved": moved}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def matches(path: Path, cwd: Path, globs: tuple[str, ...]) -> bool:
    """Whether a changed file belongs to a service: under its cwd and, if it has ``watch``
    globs, matching one of them (``**/`` may match no directory at all)."""
    import fnmatch

    if not path.is_relative_to(cwd):
        return False
    relative = str(path.relative_to(cwd))
    if not globs:
        return True
    return any(
        fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(relative, g.replace("**/", ""))
        for g in globs
    )
