"""Every error corral reports: classes that carry data, their stable codes, their exit codes,
and the one place where an error becomes a document (``error_document``).

Messages are rendered here (``CorralError.render``); the CLI maps every error to an exit code in
one place (``corral.cli``). ``code`` is a stable identifier used on the wire, in ``--json`` and in
MCP tool errors; docs/json.md lists them all, and a test checks that the two agree.

This module is on the fast path of ``corral status``: it imports nothing at module level.
"""

from __future__ import annotations

TYPE_CHECKING = False  # pathlib and typing are left out of the fast path's start-up
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


class ExitCode:
    """Exit codes (plain ints: ``enum`` would cost the fast path a few milliseconds)."""

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


# ---- bad input: exit 2, nothing changed ---------------------------------------------------


class UsageError(CorralError):
    code = "usage"
    exit_code = ExitCode.USAGE


class ProjectNotFound(UsageError):
    code = "no_project"


class UnknownService(UsageError):
    code = "unknown_service"


class UnsafeState(UsageError):
    """A state directory or file that corral will not trust (owner, mode, or another project)."""

    code = "unsafe_state"


class StateUnwritable(UsageError):
    """corral cannot create or write its state (read-only filesystem, permissions, full disk)."""

    code = "state_unwritable"


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


# ---- the operation was attempted and failed: exit 1 ---------------------------------------


class NoTerminal(UsageError):
    """``send`` (or ``attach``) to a service that runs without a terminal."""

    code = "no_terminal"


class StartFailed(CorralError):
    code = "start_failed"


class NotReady(CorralError):
    code = "not_ready"


class NothingRunning(CorralError):
    code = "not_running"


class SupervisorUnavailable(CorralError):
    code = "supervisor_unavailable"


class SupervisorTimeout(CorralError):
    code = "supervisor_timeout"


class ProtocolError(CorralError):
    code = "protocol"


class Declined(CorralError):
    """A request the client must make in full (its fast path cannot do what is asked)."""

    code = "declined"


class ShuttingDown(CorralError):
    """The supervisor is stopping everything before it exits; it starts nothing more."""

    code = "shutting_down"


class InternalError(CorralError):
    code = "internal"


class RemoteError(CorralError):
    """An error the supervisor reported; code and exit code come from its reply."""

    def __init__(self, error: dict[str, object], exit_code: int, reply: dict[str, object]):
        super().__init__(str(error.get("message", "the supervisor failed")), _hint(error))
        self.code = str(error.get("code", InternalError.code))
        self.exit_code = exit_code
        self.reply = reply


def _hint(error: dict[str, object]) -> str | None:
    hint = error.get("hint")
    return None if hint is None else str(hint)


def all_codes() -> dict[str, int]:
    """code -> exit code of every error class above (docs/json.md documents each one)."""
    found: dict[str, int] = {}
    stack: list[type[CorralError]] = [CorralError]
    while stack:
        cls = stack.pop()
        if cls is not RemoteError:
            found[cls.code] = cls.exit_code
        stack.extend(cls.__subclasses__())
    return found


def error_document(exc: CorralError, **fields: object) -> dict[str, object]:
    """The one shape of a failure, for ``--json``, the wire and MCP: ``{"ok": false, "error":
    {code, message, hint}}``, with the command's own ``fields`` beside it."""
    return {**fields, "ok": False, "error": exc.to_dict()}


def unknown_service(name: str, known: Iterable[str]) -> UnknownService:
    """The error for a service name the configuration does not define."""
    return UnknownService(f"no service named {name!r}", hint=f"services: {', '.join(known)}")


def check_services(names: Iterable[str], known: Iterable[str]) -> None:
    """Raise ``UnknownService`` for the first of ``names`` not among ``known``."""
    known = list(known)
    for name in names:
        if name not in known:
            raise unknown_service(name, known)


def display_path(path: Path | str) -> str:
    """A path as a user would type it: relative to the current directory when inside it."""
    from pathlib import Path

    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
