"""The supervisor's answers, one method per operation of the protocol (``op_NAME`` for
``{"op": "NAME"}``): each checks what the client sent, asks the engine, and returns the reply's
fields. The supervisor (its ``Host``) owns the socket, the shutdown and the tethers.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from corral.errors import Declined, UsageError
from corral.model import ProjectSpec, spec_from_dict
from corral.reclaim import StopReport
from corral.supervisor.engine import Engine
from corral.supervisor.supervisor_log import log_line

ATTACHED = "_attached"  # a reply's field (never sent) that turns the connection into a stream
PRELOAD_DELAY = 0.05  # seconds after answering a start: the configuration loader is imported then


class Host(Protocol):
    """What the answers need of the supervisor that serves them."""

    engine: Engine
    done: asyncio.Event  # set once the final stop began

    def request_shutdown(self, reason: str) -> None: ...
    def refuse_if_closing(self) -> None: ...
    def ensure_watcher(self) -> None: ...
    def set_tether(self, data: dict[str, Any] | None) -> None: ...
    async def finish(self) -> list[StopReport]: ...


class Requests:
    def __init__(self, host: Host) -> None:
        self.host = host

    async def op_ping(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "run_id": self.host.engine.run_id,
            "stop_bound": self.host.engine.stopping.stop_bound(),
            "closing": self.host.done.is_set(),
        }

    async def op_status(self, message: dict[str, Any]) -> dict[str, Any]:
        self.host.engine.touch()
        return self.host.engine.report.document()

    async def op_start(self, message: dict[str, Any]) -> dict[str, Any]:
        self.host.refuse_if_closing()
        session = {key: message.pop(key) for key in ("tether", "ttl") if key in message}
        self._adopt(message)
        wait = bool(message.get("wait", True))
        names = message.get("services") or None
        if self.host.engine.would_start(names):  # a start that starts nothing ties nothing
            self._adopt(session)
            message.update(session)
        if message.get("watch"):
            self.host.engine.watch(self.host.engine.resolve(names, with_dependencies=True))
        self.host.ensure_watcher()
        result = await self.host.engine.start(
            names, _timeout(message), wait, self._starter(message)
        )
        # A stop of everything that began while this start waited undid it: say so, and the
        # client waits for our exit and starts again (the later request wins, then this one).
        self.host.refuse_if_closing()
        if "corral.config" not in sys.modules:  # the next fast start loads the configuration
            asyncio.get_running_loop().call_later(PRELOAD_DELAY, _preload_config)
        return result

    async def op_wait(self, message: dict[str, Any]) -> dict[str, Any]:
        self.host.engine.touch()
        return await self.host.engine.wait(message.get("services") or None, _timeout(message))

    async def op_stop(self, message: dict[str, Any]) -> dict[str, Any]:
        names = message.get("services") or None
        if names is None or self.host.done.is_set():
            # Everything, or anything while everything is being stopped: the one final stop
            # (a stop of everything leaves nothing to supervise).
            self.host.request_shutdown("corral stop")
            reports = await self.host.finish()  # our last write to .corral/ comes before the reply
            if names is not None:
                reports = [r for r in reports if r.service in names]
            return {"reports": [r.to_dict() for r in reports]}
        self._adopt(message)
        reports = await self.host.engine.stop(names)
        return {"reports": [r.to_dict() for r in reports]}

    async def op_restart(self, message: dict[str, Any]) -> dict[str, Any]:
        self.host.refuse_if_closing()
        self._adopt(message)
        names = message.get("services") or None
        result = await self.host.engine.restart(names, _timeout(message), self._starter(message))
        self.host.refuse_if_closing()  # undone by a stop of everything meanwhile (see op_start)
        return result

    def _starter(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Who asked for this start (the client says), and whether what it starts is tied to
        a tether or a lease (we know): what an agent session's end may stop."""
        given = message.get("started_by")
        tether = message.get("tether")
        ttl = message.get("ttl")
        if not isinstance(given, dict):
            if not isinstance(tether, dict) and not ttl:
                return None
            given = {}  # still recorded: a tether's exit must find what it tied
        return {
            **{key: given.get(key) for key in ("agent", "session", "user")},
            "tethered": isinstance(tether, dict),  # this start's own tether, no one else's
            "tether_pid": int(tether["pid"]) if isinstance(tether, dict) else None,
            "leased": isinstance(ttl, int | float) and ttl > 0,
            "time": time.time(),
        }

    async def op_send(self, message: dict[str, Any]) -> dict[str, Any]:
        """Input for a tty service's terminal (``corral send``)."""
        name, text = message.get("service"), message.get("text")
        if not isinstance(name, str) or not isinstance(text, str):
            raise UsageError("send needs a service and a text")
        return {"service": name, "bytes": self.host.engine.send(name, text.encode())}

    async def op_attach(self, message: dict[str, Any]) -> dict[str, Any]:
        """After the reply the connection carries the terminal's bytes both ways (see _stream)."""
        name = message.get("service")
        if not isinstance(name, str):
            raise UsageError("attach needs a service")
        terminal = self.host.engine.terminal_of(name)
        size = message.get("size")
        if _is_size(size):
            terminal.resize(size[0], size[1])
        self.host.engine.touch()
        return {"service": name, ATTACHED: terminal}

    async def op_resize(self, message: dict[str, Any]) -> dict[str, Any]:
        """An attached client's window changed: the service's terminal follows."""
        name, size = message.get("service"), message.get("size")
        if not isinstance(name, str) or not _is_size(size):
            raise UsageError("resize needs a service and a size [columns, rows]")
        self.host.engine.terminal_of(name).resize(size[0], size[1])
        return {}

    async def op_event(self, message: dict[str, Any]) -> dict[str, Any]:
        """A client's entry in the event stream (the agent session-end hook's report): written
        here because the stream has one writer while a supervisor lives."""
        from corral.events import CLIENT_KINDS

        kind = message.get("kind")
        data = message.get("data")
        if kind not in CLIENT_KINDS or not isinstance(data, dict):
            raise UsageError(f"no client event of kind {kind!r}")
        event = self.host.engine.events.emit(str(kind), None, **data)
        return {"cursor": event["cursor"]}

    async def op_hurry(self, message: dict[str, Any]) -> dict[str, Any]:
        """Stops in progress SIGKILL now instead of waiting out their grace."""
        self.host.engine.stopping.hurry_stops()
        log_line("stop escalated: killing what is left now")
        return {}

    async def op_shutdown(self, message: dict[str, Any]) -> dict[str, Any]:
        self.host.request_shutdown(str(message.get("reason", "shutdown requested")))
        return {}

    def _adopt(self, message: dict[str, Any]) -> None:
        """Take the client's configuration and environment for what starts next."""
        if "tether" in message:
            tether = message["tether"]
            self.host.set_tether(tether if isinstance(tether, dict) else None)
        if "ttl" in message:
            ttl = message["ttl"]
            self.host.engine.set_lease(
                float(ttl) if isinstance(ttl, int | float) and ttl > 0 else None
            )
        env = message.get("env")
        env = {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else None
        if isinstance(message.get("project"), dict):
            self.host.engine.update_project(spec_from_dict(message["project"]))
        elif message.get("load"):
            self.host.engine.update_project(_reload(self.host.engine.project.root, env))
        if env is not None:
            self.host.engine.set_base_env(env)


def _is_size(size: object) -> bool:
    return isinstance(size, list) and len(size) == 2 and all(type(n) is int for n in size)


def _timeout(message: dict[str, Any]) -> float:
    value = message.get("timeout", 60)
    return float(value) if isinstance(value, int | float) else 60.0


def _preload_config() -> None:
    """Import the configuration loader while idle, for the fast starts to come (about 10 ms and
    70 KiB): a supervisor launched with a handed-over configuration has not needed it yet."""
    import corral.config  # noqa: F401


def _reload(root: Path, env: dict[str, str] | None) -> ProjectSpec:
    """The configuration as a client with environment ``env`` would resolve it: the CLI's fast
    path asks for this instead of parsing the files itself. A tether or ttl in it is declined:
    resolving those needs the client (a tether is one of its ancestors)."""
    from corral.config import load_project

    project = load_project(root, None, env)
    if project.settings.tether is not None or project.settings.ttl is not None:
        raise Declined("the configuration sets a tether or a ttl: send the resolved project")
    if project.warnings:  # the client's full path shows them
        raise Declined("the configuration has warnings: send the resolved project")
    log_line("configuration loaded for a client's start")
    return project
