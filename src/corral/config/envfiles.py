"""``.env`` files (python-dotenv) and the rules for showing environment values."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from corral.errors import ConfigError

_SECRET = re.compile(r"TOKEN|SECRET|PASSW(OR)?D|KEY|CREDENTIAL|PRIVATE|AUTH", re.IGNORECASE)
MASK = "********"


def read_env_file(
    path: Path,
    context: Mapping[str, str] | None = None,
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Variables of one .env file, parsed by python-dotenv.

    ``${VAR}`` and ``${VAR:-default}`` are expanded against the inherited environment (this
    process's unless ``inherited`` is given), then
    ``context`` (the layers read before this file), then this file's earlier lines. A line
    python-dotenv cannot parse is an error naming the line (dotenv itself only logs it).
    """
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream
    from dotenv.variables import parse_variables

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            path, "env file does not exist", hint="create it or remove env_file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read env file: {exc}") from None
    import io

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise ConfigError(
                path,
                f"cannot parse {binding.original.string.strip()[:60]!r}",
                line=binding.original.line,
                hint="write NAME=value",
            )
    known: dict[str, str | None] = {**(os.environ if inherited is None else inherited)}
    known.update(context or {})
    resolved: dict[str, str] = {}
    for key, value in dotenv_values(stream=io.StringIO(text), interpolate=False).items():
        if value is None:  # a bare NAME line sets nothing
            continue
        resolved[key] = "".join(atom.resolve(known) for atom in parse_variables(value))
        known[key] = resolved[key]
    return resolved


def is_secret(name: str) -> bool:
    return _SECRET.search(name) is not None


def masked(env: dict[str, str], show_secrets: bool = False) -> dict[str, str]:
    if show_secrets:
        return dict(env)
    return {key: (MASK if is_secret(key) else value) for key, value in env.items()}
