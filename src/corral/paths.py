"""Where a project is and where its files live: the project root, its id, ``.corral/``, the
runtime directory and the socket.

Two spellings of one answer: the ``*_file``/``find_root``/``runtime_directory`` functions work
on strings with ``os.path`` (the fast path of ``corral status`` must not import pathlib), and the
``Path``-returning functions the rest of corral uses are built on them. Only the Path functions
create directories, and each checks that what it creates or finds is ours (see ``trust``).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

STATE_DIR_NAME = ".corral"
# What makes a directory a project root, in discovery order (corral.config.discover says how
# they combine). A pyproject.toml counts when it has a [tool.corral] table.
CONFIG_NAMES = (
    "corral.toml",
    "Procfile.dev",
    "Procfile",
    "process-compose.yaml",
    "process-compose.yml",
)
PYPROJECT = "pyproject.toml"
GITIGNORE = b"# corral's runtime state: logs, state file. Never commit it.\n*\n"
SOCKET_DIR_LIMIT = 60  # longer runtime directories would push socket paths past ~104 bytes


# ---- strings: the fast path's primitives ---------------------------------------------------


def find_root(start: str) -> str | None:
    """The nearest directory from ``start`` upward that holds a configuration, canonical."""
    current = os.path.realpath(start)
    while True:
        if is_root_candidate(current):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def is_root_candidate(directory: str) -> bool:
    if any(os.path.isfile(os.path.join(directory, name)) for name in CONFIG_NAMES):
        return True
    pyproject = os.path.join(directory, PYPROJECT)
    return os.path.isfile(pyproject) and _mentions_corral(pyproject)


def _mentions_corral(path: str) -> bool:
    """A cheap text test; the configuration loader parses the table for real."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "[tool.corral" in handle.read()
    except OSError:
        return False


def project_id(root: str | os.PathLike[str]) -> str:
    """Stable for one checkout, different for two checkouts: a hash of the canonical path."""
    from corral.digest import sha256_hex

    canonical = os.path.realpath(root)
    return sha256_hex(canonical.encode("utf-8", "surrogateescape"))[:16]


def state_file(root: str | os.PathLike[str], name: str) -> str:
    return os.path.join(root, STATE_DIR_NAME, name)


def runtime_directory() -> str:
    """A private directory for sockets, short enough for the OS limit on socket paths whatever
    the project path (``CORRAL_RUNTIME_DIR`` overrides it). Not created here."""
    override = os.environ.get("CORRAL_RUNTIME_DIR")
    if override:
        return override
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and len(xdg) < SOCKET_DIR_LIMIT and os.path.isdir(xdg):
        return os.path.join(xdg, "corral")
    shared = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"corral-{os.getuid()}")
    if not _planted(shared):
        return shared
    # Another user made our directory in the shared /tmp first (we cannot remove it there):
    # fall back to one under our home, which nobody else can create for us.
    home = os.path.join(os.path.expanduser("~"), ".cache", "corral", "run")
    return home if len(home) < SOCKET_DIR_LIMIT else shared


def _planted(path: str) -> bool:
    """Whether ``path`` exists but is not a directory of ours (one lstat, on the hot path)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    import stat

    return not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()


def socket_file(project_id: str) -> str:
    return os.path.join(runtime_directory(), f"{project_id}.sock")


def runtime_directory_is_ours() -> bool:
    """Whether the runtime directory exists, is a directory and belongs to us (the fast path
    talks to no socket in a directory someone else controls)."""
    try:
        info = os.lstat(runtime_directory())
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


# ---- Path objects, for everything else ----------------------------------------------------


def canonical_root(root: Path) -> Path:
    from pathlib import Path

    return Path(os.path.realpath(root))


def state_dir(root: Path) -> Path:
    return root / STATE_DIR_NAME


def launch_spec_path(root: Path) -> Path:
    """The resolved configuration a launcher hands to the supervisor it starts."""
    return state_dir(root) / "launch.json"


def supervisor_lock_path(root: Path) -> Path:
    return state_dir(root) / "supervisor.lock"


def spawn_lock_path(root: Path) -> Path:
    return state_dir(root) / "spawn.lock"


def supervisor_log_path(root: Path) -> Path:
    return state_dir(root) / "supervisor.log"


def ensure_state_dir(root: Path) -> Path:
    """Create ``.corral/`` (0700, with a ``.gitignore`` that hides it from git), or check that
    the existing one is ours and private; return it."""
    from corral import trust

    directory = state_dir(root)
    trust.ensure_private_dir(directory, purpose="corral's state directory")
    ignore = directory / ".gitignore"
    if not ignore.exists():
        trust.write_private(
            directory, ".gitignore", b"# corral's runtime state. Never commit it.\n*\n"
        )
    return directory


def runtime_dir() -> Path:
    """``runtime_directory()``, created 0700 if missing, and checked to be ours and private."""
    from pathlib import Path

    from corral import trust

    directory = Path(runtime_directory())
    trust.ensure_private_dir(directory, purpose="corral's runtime directory", parents=True)
    return directory


def socket_path(project_id: str) -> Path:
    return runtime_dir() / f"{project_id}.sock"
