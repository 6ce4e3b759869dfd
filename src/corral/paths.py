"""Where a project's identity and on-disk state come from."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

STATE_DIR_NAME = ".corral"


def canonical_root(root: Path) -> Path:
    return Path(os.path.realpath(root))


def project_id(root: Path) -> str:
    """Stable for one checkout, different for two checkouts: a hash of the canonical path."""
    from corral.digest import sha256_hex

    return sha256_hex(str(canonical_root(root)).encode("utf-8", "surrogateescape"))[:16]


def state_dir(root: Path) -> Path:
    return root / STATE_DIR_NAME


def launch_spec_path(root: Path) -> Path:
    """The resolved configuration a launcher hands to the supervisor it starts."""
    return state_dir(root) / "launch.json"


def ensure_state_dir(root: Path) -> Path:
    """Create ``.corral/`` with a ``.gitignore`` that hides it from git, and return it."""
    directory = state_dir(root)
    directory.mkdir(mode=0o700, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# corral's runtime state: logs, state file. Never commit it.\n*\n")
    return directory


class UnsafeRuntimeDir(Exception):
    pass


def runtime_dir() -> Path:
    """A private directory for sockets: short enough for the OS limit on socket paths (~104
    bytes) whatever the project path. ``CORRAL_RUNTIME_DIR`` overrides it."""
    override = os.environ.get("CORRAL_RUNTIME_DIR")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if override:
        directory = Path(override)
    elif xdg and len(xdg) < 60 and os.path.isdir(xdg):
        directory = Path(xdg) / "corral"
    else:
        directory = Path("/tmp") / f"corral-{os.getuid()}"
    _ensure_private(directory)
    return directory


def _ensure_private(directory: Path) -> None:
    """Create the directory 0700, or check that an existing one is ours and private."""
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=True)
    info = os.lstat(directory)
    import stat

    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UnsafeRuntimeDir(f"{directory} is not a directory owned by uid {os.getuid()}")
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)


def socket_path(project_id: str) -> Path:
    return runtime_dir() / f"{project_id}.sock"


def supervisor_lock_path(root: Path) -> Path:
    return state_dir(root) / "supervisor.lock"


def spawn_lock_path(root: Path) -> Path:
    return state_dir(root) / "spawn.lock"


def supervisor_log_path(root: Path) -> Path:
    return state_dir(root) / "supervisor.log"
