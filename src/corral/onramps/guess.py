"""Ports and readiness probes guessed from commands and framework files, each with its origin.

Only what is written plainly counts: a flag in a command (``--port 5175``, ``-p 3001``,
``PORT=4000``, ``runserver 127.0.0.1:8000``) or a numeric literal at ``server.port`` in a Vite or
Next config. Nothing is evaluated; what is not found is left to ``PORT``.
"""

from __future__ import annotations

import re
from pathlib import Path

from corral.onramps.draft import Suggestion

_FLAGS = (
    (re.compile(r"(?:^|\s)--port[= ](\d{2,5})\b"), "--port {}"),
    (re.compile(r"(?:^|\s)-p[= ]?(\d{2,5})\b"), "-p {}"),
    (re.compile(r"\bPORT=(\d{2,5})\b"), "PORT={}"),
    (re.compile(r"\brunserver\s+(?:[\w.]+:)?(\d{2,5})\b"), "runserver {}"),
    (re.compile(r"\bhttp\.server\s+(\d{2,5})\b"), "http.server {}"),
)
_SERVER_PORT = re.compile(r"\bserver\s*:\s*\{[^{}]*?\bport\s*:\s*(\d{2,5})\b", re.DOTALL)
CONFIG_FILES = (
    "vite.config.js",
    "vite.config.ts",
    "vite.config.mjs",
    "vite.config.mts",
    "next.config.js",
    "next.config.mjs",
    "next.config.ts",
)


def port_in_command(command: str) -> tuple[int, str] | None:
    """The port a command names with a flag, and the flag as written."""
    for pattern, shown in _FLAGS:
        match = pattern.search(command)
        if match and 1 <= int(match.group(1)) <= 65535:
            return int(match.group(1)), shown.format(match.group(1))
    return None


def port_in_config(directory: Path) -> tuple[int, str] | None:
    """``server: { port: N }`` in a Vite or Next config file of ``directory``, and its name."""
    for name in CONFIG_FILES:
        path = directory / name
        if not path.is_file():
            continue
        try:
            match = _SERVER_PORT.search(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if match and 1 <= int(match.group(1)) <= 65535:
            return int(match.group(1)), name
    return None


def add_port(service: Suggestion, command: str, directory: Path, relative: str = "") -> None:
    """Give ``service`` the port its command or config names, with where it was found."""
    found = port_in_command(command)
    if found is not None:
        service.port, service.port_origin = found[0], f"from the command's {found[1]}"
        return
    found = port_in_config(directory)
    if found is not None:
        where = f"{relative}/" if relative else ""
        service.port, service.port_origin = found[0], f"from server.port in {where}{found[1]}"


def add_probe(service: Suggestion, health_path: str | None = None, why: str = "") -> None:
    """A readiness probe for a service with a port: http where the framework has an obvious
    health path, tcp otherwise."""
    if service.port is None:
        return
    if health_path:
        service.ready = {"http": f"http://127.0.0.1:{service.port}{health_path}"}
        service.ready_origin = why
    else:
        service.ready = {"tcp": service.port}
        service.ready_origin = "ready once something of this service listens on its port"


def dedupe_ports(services: list[Suggestion]) -> None:
    """A port claimed twice would be a configuration error: the later service leaves it to PORT
    and says why."""
    owners: dict[int, str] = {}
    for service in services:
        if service.port is None or service.commented:
            continue
        if service.port in owners:
            service.notes.append(
                f"{service.port_origin}: port {service.port} is already {owners[service.port]}'s,"
                " so it is left to PORT here"
            )
            service.port, service.ready = None, None
            continue
        owners[service.port] = service.name
