"""Error classes that carry data, and the exit codes they map to.

Messages are rendered in one place (``CorralError.render``); the CLI maps every error to an exit
code in one place (``corral.cli``). ``code`` is a stable identifier used on the wire and in JSON.
"""

from __future__ import annotations

from enum import IntEnum

TYPE_CHECKING = False  # pathlib and typing are left out of the fast path's start-up
if TYPE_CHECKING:
    from pathlib import Path


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation was attempted and did not succeed
    USAGE = 2  # bad arguments, configuration or state: nothing was started or changed


class CorralError(Exception):
    """An expected failure: shown as one line, never as a traceback."""

    code = "failed"
    exit_code = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


class UsageError(CorralError):
    code = "usage"
    exit_code = ExitCode.USAGE


class ProjectNotFound(UsageError):
    code = "no_project"


class ConfigError(UsageError):
    """A problem in a configuration file, located as precisely as the format allows."""

    code = "config"

    def __init__(
        self, path: Path | str, message: str, *, line: int | None = None, hint: str | None = None
    ) -> None:
        from pathlib import Path

        where = f"{display_path(path)}:{line}" if line else display_path(path)
        super().__init__(f"{where}: {message}", hint)
        self.path = Path(path)
        self.line = line


def display_path(path: Path | str) -> str:
    """A path as a user would type it: relative to the current directory when inside it."""
    from pathlib import Path

    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
