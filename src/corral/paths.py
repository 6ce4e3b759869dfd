"""Where a project's identity and on-disk state come from."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

STATE_DIR_NAME = ".corral"


def canonical_root(root: Path) -> Path:
    return Path(os.path.realpath(root))


def project_id(root: Path) -> str:
    """Stable for one checkout, different for two checkouts: a hash of the canonical path."""
    digest = hashlib.sha256(str(canonical_root(root)).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:16]


def state_dir(root: Path) -> Path:
    return root / STATE_DIR_NAME


def ensure_state_dir(root: Path) -> Path:
    """Create ``.corral/`` with a ``.gitignore`` that hides it from git, and return it."""
    directory = state_dir(root)
    directory.mkdir(mode=0o700, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# corral's runtime state: logs, state file. Never commit it.\n*\n")
    return directory
