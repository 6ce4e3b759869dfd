"""Files are claims, not facts: the checks corral makes before it believes or writes anything on
disk (docs/design.md, "Trust").

- A directory corral keeps state in (``.corral/``, the runtime directory) must be a real
  directory (not a symlink), owned by the calling uid, and not writable by group or others.
  Another user who can write the project directory could otherwise plant one (or a symlink in
  one) and have corral, perhaps running as root, write or truncate files of their choosing.
- Files in it are opened relative to a descriptor of the verified directory, with
  ``O_NOFOLLOW | O_CLOEXEC``, so a directory swapped after the check cannot redirect them, and a
  file corral reads must be ours and not group/world writable either.

Each refusal is ``UnsafeState`` (exit 2): one line naming the path, the owner found and the fix.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from corral.errors import StateUnwritable, UnsafeState

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


def ensure_private_dir(path: Path, *, purpose: str, parents: bool = False) -> None:
    """Create ``path`` 0700 if it is missing; refuse it if it is not ours and private."""
    try:
        path.mkdir(mode=0o700, parents=parents)
    except FileExistsError:
        pass
    except OSError as exc:
        raise unwritable(path, purpose, exc) from None
    check_dir(path, os.lstat(path), purpose)


def unwritable(path: Path | str, purpose: str, exc: OSError) -> StateUnwritable:
    """The one-line error for state corral cannot write, with the fix for the usual causes."""
    import errno

    fixes = {
        errno.EROFS: "the filesystem is read-only: run corral from a writable checkout",
        errno.EACCES: f"make {Path(path).parent} writable for you",
        errno.EPERM: f"make {Path(path).parent} writable for you",
        errno.ENOSPC: "the disk is full: free some space",
        errno.EDQUOT: "your disk quota is used up: free some space",
    }
    hint = fixes.get(exc.errno or 0, "check the directory's permissions and free space")
    return StateUnwritable(f"cannot write {path} ({purpose}): {exc.strerror}", hint=hint)


def check_dir(path: Path | str, info: os.stat_result, purpose: str) -> None:
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeState(
            f"{path} ({purpose}) is not a directory but a "
            f"{'symbolic link' if stat.S_ISLNK(info.st_mode) else 'file'}",
            hint=f"remove it and try again: rm {path}",
        )
    _check_owner(
        f"{path} ({purpose})",
        path,
        info,
        "corral does not use state another user controls",
        "rm -r",
    )


def check_file(path: Path | str, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeState(f"{path} is not a regular file", hint=f"remove it: rm {path}")
    _check_owner(
        str(path), path, info, "corral does not act on a state file another user wrote", "rm"
    )


def _check_owner(what: str, path: Path | str, info: os.stat_result, why: str, remove: str) -> None:
    """Ours, and not writable by group or others: or ``UnsafeState`` naming the fix."""
    uid = os.getuid()
    if info.st_uid != uid:
        raise UnsafeState(
            f"{what} belongs to uid {info.st_uid}, not to you (uid {uid}): {why}",
            hint=f"run corral as its owner, or remove it (as its owner or root): {remove} {path}",
        )
    if info.st_mode & 0o022:
        raise UnsafeState(
            f"{what} is writable by group or others (mode {stat.S_IMODE(info.st_mode):o})",
            hint=f"chmod go-w {path}",
        )


class StateDir:
    """A verified directory, held open: everything in it is opened relative to the descriptor.

    ``create`` makes the directory (0700) if it is missing; otherwise a missing directory
    raises FileNotFoundError, which callers read as "no state".
    """

    def __init__(
        self, path: Path, *, create: bool = False, purpose: str = "corral's state"
    ) -> None:
        self.path = path
        if create:
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
        self.fd = os.open(path, DIRECTORY_FLAGS)
        try:
            check_dir(path, os.fstat(self.fd), purpose)
        except BaseException:
            os.close(self.fd)
            raise

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        return os.open(name, flags | FILE_FLAGS, mode, dir_fd=self.fd)

    def read(self, name: str, limit: int = 64 * 1024 * 1024) -> bytes | None:
        """The file's bytes, None when it does not exist; a file that is not ours is refused."""
        try:
            fd = self.open(name, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP: a symbolic link where a file belongs
            raise UnsafeState(
                f"{self.path / name} cannot be opened safely ({exc.strerror})",
                hint=f"remove it: rm {self.path / name}",
            ) from None
        try:
            check_file(self.path / name, os.fstat(fd))
            chunks = []
            size = 0
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break
            return b"".join(chunks)
        finally:
            os.close(fd)

    def write_atomic(self, name: str, data: bytes) -> None:
        """Replace ``name`` with ``data`` (temp file + rename, both relative to the directory)."""
        temporary = f".{name}.{os.getpid()}.tmp"
        fd = self.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self.fd)
            raise
        os.close(fd)
        os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> StateDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_private(directory: Path, name: str, data: bytes) -> None:
    """Write a small file in a directory just verified, without following links."""
    with StateDir(directory) as held:
        held.write_atomic(name, data)
