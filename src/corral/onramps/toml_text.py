"""A ``Draft`` as commented TOML: ``corral.toml``, or ``[tool.corral]`` tables for pyproject."""

from __future__ import annotations

import json
import math

from corral.onramps.draft import Draft, Suggestion

HEADER = (
    "# corral's configuration, drafted by `corral init` from what this directory already had.",
    "# Every guess says where it came from: check them, then run `corral config` and",
    "# `corral start`. The keys are documented in corral's README (Configuration).",
)


def literal(value: object) -> str:
    """A TOML literal for the values a draft holds (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if math.isfinite(value) and value.is_integer() else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(str(k))} = {literal(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML literal for {value!r}")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def render(draft: Draft, *, pyproject: bool = False) -> str:
    prefix = "tool.corral." if pyproject else ""
    # In pyproject.toml the comments go under [tool.corral], so that replacing the table
    # (init --pyproject --force) replaces them too.
    lines = ["[tool.corral]"] if pyproject else []
    lines += HEADER
    lines += [f"# - {note}" for note in draft.notes]
    lines.append("")
    for setting in draft.settings:
        lines.append(f"{setting.key} = {literal(setting.value)}  # {setting.origin}")
    if draft.settings or pyproject:
        lines.append("")
    for service in draft.services:
        lines += _service(service, prefix)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _service(service: Suggestion, prefix: str) -> list[str]:
    body = [f"# from {service.origin}"]
    body += [f"# {note}" for note in service.notes]
    table = [f"[{prefix}services.{service.name}]"]
    if service.command is not None:
        table.append(f"command = {literal(service.command)}")
    if service.cwd:
        table.append(f"cwd = {literal(service.cwd)}")
    if service.port is not None:
        table.append(f"port = {service.port}  # {service.port_origin}")
    if service.ready is not None:
        table.append(f"ready = {literal(service.ready)}  # {service.ready_origin}")
    for key, value in service.options.items():
        origin = service.option_origins.get(key)
        table.append(f"{key} = {literal(value)}" + (f"  # from {origin}" if origin else ""))
    if service.commented:
        return [
            "# A suggestion only (remove the '# ' to use it):",
            *body,
            *(f"# {t}" for t in table),
        ]
    return [table[0], *body, *table[1:]]
