"""Small named validators, one per kind of value. Each returns the converted value or raises
ValueError with a message that says what was expected; the loader adds file and line."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterable
from urllib.parse import urlsplit

from corral.config.durations import parse_duration
from corral.model import ProbeKind, ReadyProbe, RestartPolicy

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class UnknownKey(ValueError):
    def __init__(self, key: str, known: Iterable[str]) -> None:
        known = sorted(known)
        import difflib  # only on the error path

        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        self.key = key
        self.hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        super().__init__(f"unknown key {key!r}")


def check_keys(table: dict[str, object], known: Iterable[str]) -> None:
    known = set(known)
    for key in table:
        if key not in known:
            raise UnknownKey(key, known)


def describe(value: object) -> str:
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    kinds |= {list: "list", dict: "table"}
    kind = kinds.get(type(value), type(value).__name__)
    shown = repr(value) if not isinstance(value, list | dict) else ""
    return f"{kind} {shown}".strip()


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {describe(value)}")
    return value


def as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {describe(value)}")
    return value


TTY_COLUMNS = (20, 1000)
TTY_ROWS = (5, 500)


def as_tty_size(value: object) -> tuple[int, int]:
    """``"120x40"``: columns by rows."""
    match = re.fullmatch(r"(\d+)x(\d+)", value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected COLUMNSxROWS such as "120x40", got {describe(value)}')
    columns, rows = int(match[1]), int(match[2])
    if not (TTY_COLUMNS[0] <= columns <= TTY_COLUMNS[1] and TTY_ROWS[0] <= rows <= TTY_ROWS[1]):
        raise ValueError(
            f"{columns}x{rows} is out of range (columns {TTY_COLUMNS[0]}-{TTY_COLUMNS[1]}, "
            f"rows {TTY_ROWS[0]}-{TTY_ROWS[1]})"
        )
    return columns, rows


MAX_NAME = 64


def as_name(value: object) -> str:
    text = as_str(value)
    if len(text) > MAX_NAME:
        raise ValueError(f"service name {text[:20]!r}... is longer than {MAX_NAME} characters")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError(f"{text!r} is not a valid service name (letters, digits, _ and -)")
    return text


def _no_nul(text: str, what: str) -> str:
    # execve cannot pass a NUL byte: the command would fail at every start, not at load.
    if "\0" in text:
        raise ValueError(f"{what} contains a NUL byte")
    return text


def as_port(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a port number (1-65535), got {describe(value)}")
    if not 1 <= value <= 65535:
        raise ValueError(f"port {value} is out of range (1-65535)")
    return value


def as_ports(value: object) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise ValueError("expected a port or a list of ports, got an empty list")
    ports = tuple(as_port(item) for item in items)
    duplicates = sorted({port for port in ports if ports.count(port) > 1})
    if duplicates:
        raise ValueError(f"port {duplicates[0]} is listed twice")
    return ports


def as_str_list(value: object, *, allow_single: bool = False) -> tuple[str, ...]:
    if allow_single and isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        expected = "a string or a list of strings" if allow_single else "a list of strings"
        raise ValueError(f"expected {expected}, got {describe(value)}")
    return tuple(value)


def as_agent_allow(value: object) -> tuple[str, ...]:
    """The ``[agent]`` table: ``allow``, shell commands (globs) the agent guard lets through."""
    if not isinstance(value, dict):
        raise ValueError(
            f'expected a table such as {{allow = ["npm run dev"]}}, got {describe(value)}'
        )
    check_keys(value, ("allow",))
    return as_str_list(value.get("allow", []))


def as_command(value: object) -> str | tuple[str, ...]:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("the command is empty")
        return _no_nul(value, "the command")
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        if not value[0]:
            raise ValueError("the program (first item of the command list) is empty")
        return tuple(_no_nul(item, "the command") for item in value)
    raise ValueError(
        f"expected a string (run by /bin/sh -c) or a non-empty list of strings (exec'd), "
        f"got {describe(value)}"
    )


def as_env(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of NAME = value, got {describe(value)}")
    env: dict[str, str] = {}
    for key, item in value.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{key!r} is not a valid environment variable name")
        if isinstance(item, bool):
            env[key] = "true" if item else "false"
        elif isinstance(item, int | float | str):
            env[key] = _no_nul(str(item), f"the value of {key}")
        else:
            raise ValueError(f"{key}: expected a string or number, got {describe(item)}")
    return env


def as_duration(value: object) -> float:
    return parse_duration(value)


def as_positive_duration(value: object) -> float:
    """A duration where 0 would silently mean something else (``ttl = "0s"`` is not "none")."""
    seconds = parse_duration(value)
    if seconds == 0:
        raise ValueError("must be more than 0 (leave the setting out for none)")
    return seconds


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1024,
    "k": 1024,
    "mb": 1024**2,
    "m": 1024**2,
    "gb": 1024**3,
    "g": 1024**3,
}


def as_size(value: object) -> int:
    """Bytes from an integer or a string such as '10MB', '512KB' (binary units)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        if match and match.group(2).lower() in _SIZE_UNITS:
            size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
            if size > 0:
                return size
    raise ValueError(f"expected a size such as '10MB' or '512KB', got {describe(value)}")


def as_positive_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number of at least 1, got {describe(value)}")
    return value


def as_tether(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return str(value)
    if value in ("auto", "none"):
        return str(value)
    raise ValueError(f"expected 'auto', 'none' or a pid, got {describe(value)}")


def as_signal(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return int(signal.Signals(value))
        except ValueError:
            raise ValueError(f"{value} is not a signal number") from None
    if isinstance(value, str):
        name = value.strip().upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name in signal.Signals.__members__:
            return int(signal.Signals[name])
        raise ValueError(f"unknown signal {value!r} (e.g. 'SIGTERM', 'SIGINT', 'SIGQUIT')")
    raise ValueError(f"expected a signal name such as 'SIGTERM', got {describe(value)}")


def as_restart(value: object) -> RestartPolicy:
    choices = [policy.value for policy in RestartPolicy]
    if value is False:
        return RestartPolicy.NO
    if isinstance(value, str) and value in choices:
        return RestartPolicy(value)
    raise ValueError(
        f"expected one of {', '.join(repr(c) for c in choices)}, got {describe(value)}"
    )


PROBE_KEYS = ("tcp", "http", "log", "cmd", "timeout", "interval")


def as_probe(value: object) -> ReadyProbe:
    if not isinstance(value, dict):
        raise ValueError(
            f"expected a table such as {{tcp = 8000}}, {{http = URL}}, {{log = REGEX}} or "
            f"{{cmd = COMMAND}}, got {describe(value)}"
        )
    check_keys(value, PROBE_KEYS)
    kinds = [kind for kind in ProbeKind if kind.value in value]
    if len(kinds) != 1:
        raise ValueError("give exactly one of tcp, http, log or cmd")
    kind = kinds[0]
    target = _PROBE_TARGET[kind](value[kind.value])
    timeout = parse_duration(value.get("timeout", 30))
    interval = parse_duration(value.get("interval", 0.1))
    if interval <= 0:
        raise ValueError("interval must be greater than 0")
    return ReadyProbe(kind, target, timeout, interval)


def _probe_http(value: object) -> str:
    url = as_str(value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// URL")
    if parts.hostname not in LOOPBACK_HOSTS and not parts.hostname.startswith("127."):
        raise ValueError(f"{url!r} is not on loopback (use localhost, 127.0.0.1 or [::1])")
    return url


def _probe_log(value: object) -> str:
    pattern = as_str(value)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


def _probe_cmd(value: object) -> str:
    command = as_str(value)
    if not command.strip():
        raise ValueError("the probe command is empty")
    return command


_PROBE_TARGET = {
    ProbeKind.TCP: as_port,
    ProbeKind.HTTP: _probe_http,
    ProbeKind.LOG: _probe_log,
    ProbeKind.CMD: _probe_cmd,
}
