"""The supervisor process of one project: ``python -m corral.supervisor.daemon ROOT [CONFIG]``.

Started by the guard (``corral.launch.guard``), never directly. It serves the control socket,
runs the engine on one asyncio loop, reaps every child (its own and reparented orphans), samples
logs, records members, saves the state file, and exits when stopped, when told to shut down, or
after ``IDLE_EXIT`` seconds with nothing running and no client contact.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and "asyncio" not in sys.modules:
    # asyncio loads OpenSSL at import (4 MiB resident, for life) though the supervisor only
    # needs it for https probes, which import it on their own (corral.supervisor.probes). Hide it
    # while asyncio loads; asyncio then serves plain sockets, which is all we ask of it.
    sys.modules["ssl"] = None  # type: ignore[assignment]
    import asyncio

    del sys.modules["ssl"]

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from corral import markers, oslayer, protocol
from corral.errors import CorralError, Declined, ShuttingDown, UsageError
from corral.lifecycle import DOWN
from corral.model import ProjectSpec, spec_from_dict
from corral.paths import launch_spec_path, socket_path, state_dir, supervisor_log_path
from corral.reclaim import StopReport
from corral.state import ProjectState, write_state
from corral.supervisor.engine import Engine
from corral.supervisor.session import Tethers, tied_to
from corral.supervisor.terminal import Terminal, TerminalClosed

IDLE_EXIT = float(os.environ.get("CORRAL_IDLE_EXIT", "600"))  # seconds; documented in README
TICK = 0.5  # housekeeping; also samples logs where write notifications are missing
HOUSEKEEPING = 5.0  # seconds between member, port and stale-code checks
READ_TIMEOUT = 5.0
REPLY_FLUSH = 2.0  # seconds the last replies get to reach their clients before the exit
ATTACHED = "_attached"  # a reply's field (never sent) that turns the connection into a stream
PRELOAD_DELAY = 0.05  # seconds after answering a start: the configuration loader is imported then


def log_line(message: str) -> None:
    """One line in supervisor.log (our stdout, opened O_APPEND by the launcher)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
    millis = int(time.time() * 1000) % 1000
    sys.stdout.write(f"{stamp}.{millis:03d} supervisor[{os.getpid()}] {message}\n")
    sys.stdout.flush()


class Supervisor:
    def __init__(self, engine: Engine, sock: Path, ready_fd: int | None = None) -> None:
        self.engine = engine
        self.socket_path = sock
        self.done = asyncio.Event()
        self.exit_reason = "stopped"
        self.server: asyncio.AbstractServer | None = None
        self.tethers = Tethers(self._tether_fired)
        self.watcher: subprocess.Popen[bytes] | None = None
        self.watching: list[str] = []
        self.ready_fd = ready_fd  # told "listening" once we are
        # The one shutdown (a stop of everything), shared by whoever asks while it runs (a
        # `corral stop`, a tether, the lease, a signal): the socket stays open until it is over
        # and its state written, so nobody starts a second, competing stop from the state file.
        self.finishing: asyncio.Task[list[StopReport]] | None = None
        self.handlers: set[asyncio.Task[None]] = set()
        self.root_identity = _identity_of(engine.project.root)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.engine.reap)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                sig, self.request_shutdown, f"received {signal.Signals(sig).name}"
            )
        loop.add_signal_handler(signal.SIGHUP, lambda: None)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # we hold the supervisor lock: any old socket is stale
        await self._listen()
        self.engine.save()
        log_line(f"listening on {self.socket_path}")
        _tell_launcher(self.ready_fd)
        self.ready_fd = None
        self.engine.events.emit("supervisor_started", pid=os.getpid(), run_id=self.engine.run_id)
        for line in self.engine.cleaned:
            self.engine.events.emit("orphans_cleaned", detail=line)
        ticker = asyncio.ensure_future(self._tick())
        self.engine.sampler.attach(asyncio.get_running_loop())  # log times from write events
        await self.done.wait()
        ticker.cancel()
        await self._finish()
        await self._close()
        self.engine.sampler.detach()

    async def _listen(self) -> None:
        old_umask = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(
                self._handle, path=str(self.socket_path), limit=protocol.SERVER_LIMIT
            )
        finally:
            os.umask(old_umask)

    async def _heal_socket(self) -> None:
        """Someone removed our socket (or its directory): listen again where clients look."""
        if self.socket_path.exists() or self.done.is_set():
            return
        from corral.paths import runtime_dir

        runtime_dir()  # re-creates the directory, private
        if self.server is not None:
            self.server.close()
        await self._listen()
        log_line(f"the socket was removed; listening again on {self.socket_path}")

    def request_shutdown(self, reason: str) -> None:
        if not self.done.is_set():
            self.exit_reason = reason
            self.done.set()

    def ensure_watcher(self) -> None:
        """Run the file watcher over the directories of the auto-restarted services."""
        directories = self.engine.housekeeping.watch_directories()
        if directories == self.watching and (self.watcher is None or self.watcher.poll() is None):
            return
        self.stop_watcher()
        self.watching = directories
        if not directories:
            return
        self.watcher = subprocess.Popen(
            [sys.executable, "-m", "corral.supervisor.watcher", *directories],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        self.engine.adopt_helper(self.watcher)
        assert self.watcher.stdout is not None
        os.set_blocking(self.watcher.stdout.fileno(), False)
        asyncio.get_running_loop().add_reader(self.watcher.stdout.fileno(), self._on_watcher)
        log_line(f"watching {', '.join(directories)} (pid {self.watcher.pid})")

    def _on_watcher(self) -> None:
        assert self.watcher is not None and self.watcher.stdout is not None
        data = self.watcher.stdout.read() or b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.watcher.stdout.fileno())
            return
        for line in data.splitlines():
            try:
                self.engine.housekeeping.on_changes(json.loads(line))
            except ValueError:
                continue

    def stop_watcher(self) -> None:
        if self.watcher is None:
            return
        assert self.watcher.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.watcher.stdout.fileno())
        if self.watcher.returncode is None:
            self.watcher.terminate()  # our unreaped child: its pid is still ours
            with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
                self.watcher.wait(timeout=2)
        self.watcher.stdout.close()
        self.watcher = None

    async def _finish(self) -> list[StopReport]:
        """Shut down once, whoever asks first: the loop, or a stop of everything, which replies
        only after it (so that its client returns after our last write to the project)."""
        if self.finishing is None:
            self.finishing = asyncio.ensure_future(self._shutdown())
        return await asyncio.shield(self.finishing)

    async def _shutdown(self) -> list[StopReport]:
        log_line(f"shutting down: {self.exit_reason}")
        self.stop_watcher()
        self.tethers.close()
        reports = await self.engine.shutdown()
        survivors = [r.service for r in reports if not r.ok]
        self.engine.seal({"time": time.time(), "reason": self.exit_reason, "incomplete": survivors})
        if not survivors:  # nothing left for ls or nuke to find; before the stop's reply
            from corral import registry

            registry.forget(self.engine.project.project_id)
        return reports

    async def _close(self) -> None:
        """Stop listening once the shutdown is over and its state written, and let the replies
        already being written reach their clients (bounded)."""
        if self.server is not None:
            self.server.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        current = asyncio.current_task()
        pending = [task for task in self.handlers if task is not current]
        if pending:
            await asyncio.wait(pending, timeout=REPLY_FLUSH)

    def _check_root(self) -> None:
        """A project directory moved or removed under us leaves services nobody can reach by
        the project's path (its id is a hash of it): stop them and exit, saying why, rather than
        run on out of reach. (A stop already asked for from the new place shares this one.)"""
        if self.root_identity is None or self.done.is_set():
            return
        if _identity_of(self.engine.project.root) != self.root_identity:
            self.request_shutdown(
                f"the project directory {self.engine.project.root} was moved or removed"
            )

    def refuse_if_closing(self) -> None:
        if self.done.is_set():
            raise ShuttingDown(
                f"the supervisor is shutting down ({self.exit_reason})",
                hint="start again once it has exited (corral start waits for that by itself)",
            )

    async def _tick(self) -> None:
        last_refresh = 0.0
        while True:
            await asyncio.sleep(TICK)
            try:
                self.engine.sampler.sample()
                now = self.engine.clock.monotonic()
                if now - last_refresh >= HOUSEKEEPING:
                    self._check_root()
                    await self._heal_socket()
                    self.engine.housekeeping.refresh_members()
                    self.engine.housekeeping.check_stale()
                    last_refresh = now
                self.engine.save()
            except Exception as exc:  # a failed tick must not kill the supervisor
                log_line(f"tick failed: {exc!r}")
            idle = self.engine.idle_for()
            lease = self.engine.state.lease
            if lease and idle > lease and not self.done.is_set():
                self._lease_expired(lease)
            elif not self.engine.busy() and idle > IDLE_EXIT:
                self.request_shutdown(f"idle for {IDLE_EXIT:g}s with nothing running")
            self.tethers.poll()  # platforms without pidfd: polled here

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
            task.add_done_callback(self.handlers.discard)
        try:
            if not _same_user(writer):
                return
            try:
                line = await _read_request(reader)
            except CorralError as exc:
                reply = protocol.reply_error(exc)
            else:
                reply = await self._serve(line)
            attached = reply.pop(ATTACHED, None)
            self._save_before_reply()
            writer.write(protocol.encode(reply))
            await writer.drain()
            if attached is not None:
                await _stream(attached, reader, writer)
        except (TimeoutError, ConnectionError):
            pass
        except Exception as exc:  # said where doctor looks; the client sees the connection close
            log_line(f"connection failed: {exc!r}")
        finally:
            writer.close()

    def _save_before_reply(self) -> None:
        """What a client is told is on disk first (the engine's saves are coalesced), and
        after the last write of a shutdown nothing is written at all: a project directory
        deleted right after ``corral stop`` returns stays deleted."""
        if not self.engine.sealed:
            try:
                self.engine.save()
            except OSError as exc:  # a full disk or a removed .corral/: answer all the same
                log_line(f"cannot save the state file: {exc!r}")

    async def _serve(self, line: bytes) -> dict[str, Any]:
        try:
            return await self._dispatch(protocol.decode(line))
        except CorralError as exc:
            return protocol.reply_error(exc)
        except Exception as exc:  # report, never die, on a bad request
            log_line(f"request failed: {exc!r}")
            return protocol.reply_internal(exc)

    async def _dispatch(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise UsageError(f"unknown operation {op!r}")
        result: dict[str, Any] = await handler(message)
        return {**result, "ok": True}  # "ok" is the protocol's: the request was served

    async def op_ping(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "run_id": self.engine.run_id,
            "stop_bound": self.engine.stopping.stop_bound(),
            "closing": self.done.is_set(),
        }

    async def op_status(self, message: dict[str, Any]) -> dict[str, Any]:
        self.engine.touch()
        return self.engine.report.document()

    async def op_start(self, message: dict[str, Any]) -> dict[str, Any]:
        self.refuse_if_closing()
        session = {key: message.pop(key) for key in ("tether", "ttl") if key in message}
        self._adopt(message)
        wait = bool(message.get("wait", True))
        names = message.get("services") or None
        if self.engine.would_start(names):  # a start that starts nothing ties nothing
            self._adopt(session)
            message.update(session)
        if message.get("watch"):
            self.engine.watch(self.engine.resolve(names, with_dependencies=True))
        self.ensure_watcher()
        result = await self.engine.start(names, _timeout(message), wait, self._starter(message))
        # A stop of everything that began while this start waited undid it: say so, and the
        # client waits for our exit and starts again (the later request wins, then this one).
        self.refuse_if_closing()
        if "corral.config" not in sys.modules:  # the next fast start loads the configuration
            asyncio.get_running_loop().call_later(PRELOAD_DELAY, _preload_config)
        return result

    async def op_wait(self, message: dict[str, Any]) -> dict[str, Any]:
        self.engine.touch()
        return await self.engine.wait(message.get("services") or None, _timeout(message))

    async def op_stop(self, message: dict[str, Any]) -> dict[str, Any]:
        names = message.get("services") or None
        if names is None or self.done.is_set():
            # Everything, or anything while everything is being stopped: the one final stop
            # (a stop of everything leaves nothing to supervise).
            self.request_shutdown("corral stop")
            reports = await self._finish()  # our last write to .corral/ comes before the reply
            if names is not None:
                reports = [r for r in reports if r.service in names]
            return {"reports": [r.to_dict() for r in reports]}
        self._adopt(message)
        reports = await self.engine.stop(names)
        return {"reports": [r.to_dict() for r in reports]}

    async def op_restart(self, message: dict[str, Any]) -> dict[str, Any]:
        self.refuse_if_closing()
        self._adopt(message)
        names = message.get("services") or None
        result = await self.engine.restart(names, _timeout(message), self._starter(message))
        self.refuse_if_closing()  # undone by a stop of everything meanwhile (see op_start)
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
        return {"service": name, "bytes": self.engine.send(name, text.encode())}

    async def op_attach(self, message: dict[str, Any]) -> dict[str, Any]:
        """After the reply the connection carries the terminal's bytes both ways (see _stream)."""
        name = message.get("service")
        if not isinstance(name, str):
            raise UsageError("attach needs a service")
        terminal = self.engine.terminal_of(name)
        size = message.get("size")
        if _is_size(size):
            terminal.resize(size[0], size[1])
        self.engine.touch()
        return {"service": name, ATTACHED: terminal}

    async def op_resize(self, message: dict[str, Any]) -> dict[str, Any]:
        """An attached client's window changed: the service's terminal follows."""
        name, size = message.get("service"), message.get("size")
        if not isinstance(name, str) or not _is_size(size):
            raise UsageError("resize needs a service and a size [columns, rows]")
        self.engine.terminal_of(name).resize(size[0], size[1])
        return {}

    async def op_event(self, message: dict[str, Any]) -> dict[str, Any]:
        """A client's entry in the event stream (the agent session-end hook's report): written
        here because the stream has one writer while a supervisor lives."""
        from corral.events import CLIENT_KINDS

        kind = message.get("kind")
        data = message.get("data")
        if kind not in CLIENT_KINDS or not isinstance(data, dict):
            raise UsageError(f"no client event of kind {kind!r}")
        event = self.engine.events.emit(str(kind), None, **data)
        return {"cursor": event["cursor"]}

    async def op_hurry(self, message: dict[str, Any]) -> dict[str, Any]:
        """Stops in progress SIGKILL now instead of waiting out their grace."""
        self.engine.stopping.hurry_stops()
        log_line("stop escalated: killing what is left now")
        return {}

    async def op_shutdown(self, message: dict[str, Any]) -> dict[str, Any]:
        self.request_shutdown(str(message.get("reason", "shutdown requested")))
        return {}

    def set_tether(self, data: dict[str, Any] | None) -> None:
        """Watch ``data`` (pid and start time): when it exits, what was started under it stops.
        None ties nothing (a start that asked to persist)."""
        if data is None:
            return
        if self.tethers.add(data):
            self.engine.set_tether(data)  # the newest, as status shows it
            log_line(f"tethered to pid {data['pid']} ({data.get('command', '')})")

    def _tether_fired(self, data: dict[str, Any]) -> None:
        reason = f"tether pid {data.get('pid')} ({data.get('command', '')}) exited"
        if not self.done.is_set():
            self.engine.events.emit(
                "tether_fired", pid=data.get("pid"), command=data.get("command")
            )
        self.engine.set_tether(self.tethers.latest())
        self._stop_tied(tied_to(self.engine.services, "tether_pid", data.get("pid")), reason)

    def _lease_expired(self, lease: float) -> None:
        self.engine.events.emit("lease_expired", ttl=lease)
        self.engine.set_lease(None)
        reason = f"lease expired: no corral command for {lease:g}s"
        self._stop_tied(tied_to(self.engine.services, "leased", True), reason)

    def _stop_tied(self, names: list[str], reason: str) -> None:
        """Stop what a tether or lease tied, and exit if that leaves nothing running: services
        started by anyone else keep running."""
        others = [
            n for n, s in self.engine.services.items() if n not in names and s.state not in DOWN
        ]
        if not others:
            self.request_shutdown(reason)
            return
        log_line(
            f"{reason}: stopping {', '.join(names) or 'nothing'}; {', '.join(others)} "
            "keep running (not started under it)"
        )
        if names:
            self.engine.background(self.engine.stop(names, with_dependents=False))

    def _adopt(self, message: dict[str, Any]) -> None:
        """Take the client's configuration and environment for what starts next."""
        if "tether" in message:
            tether = message["tether"]
            self.set_tether(tether if isinstance(tether, dict) else None)
        if "ttl" in message:
            ttl = message["ttl"]
            self.engine.set_lease(float(ttl) if isinstance(ttl, int | float) and ttl > 0 else None)
        env = message.get("env")
        env = {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else None
        if isinstance(message.get("project"), dict):
            self.engine.update_project(spec_from_dict(message["project"]))
        elif message.get("load"):
            self.engine.update_project(_reload(self.engine.project.root, env))
        if env is not None:
            self.engine.set_base_env(env)


def _is_size(size: object) -> bool:
    return isinstance(size, list) and len(size) == 2 and all(type(n) is int for n in size)


async def _stream(terminal: Terminal, reader: asyncio.StreamReader, writer: Any) -> None:
    """An attached client: it sees the terminal's output, and what it sends is typed there,
    until either side closes."""
    terminal.watch(writer)
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                return
            terminal.write(data)
    except (TerminalClosed, ConnectionError):
        return
    finally:
        terminal.unwatch(writer)


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


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
    except ValueError:  # the stream's limit: a request over protocol.MAX_MESSAGE
        log_line("refused a request over the protocol's size limit")
        raise protocol.too_large(protocol.SERVER_LIMIT) from None


def _timeout(message: dict[str, Any]) -> float:
    value = message.get("timeout", 60)
    return float(value) if isinstance(value, int | float) else 60.0


def _same_user(writer: asyncio.StreamWriter) -> bool:
    sock: socket.socket = writer.get_extra_info("socket")
    uid = oslayer.peer_uid(sock)
    if uid != os.getuid():
        log_line(f"refused a client of uid {uid}")
        return False
    return True


def _identity_of(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _anything_left(previous: ProjectState) -> bool:
    """One cheap look (records, markers, lifelines, cgroups) before the full per-service sweep."""
    from corral.reclaim import same_process

    runs = previous.runs()
    if any(same_process(m) for r in runs for m in r.members):
        return True
    recorded = {(previous.project_id, r.service, r.run_id) for r in runs}
    if any(
        (m.get(markers.PROJECT), m.get(markers.SERVICE), m.get(markers.RUN)) in recorded
        and markers.ROLE not in m
        for m in oslayer.scan_markers().values()
    ):
        return True
    lifelines = {r.lifeline for r in runs if r.lifeline}
    holders = oslayer.scan_fd_holders(lifelines) if lifelines else {}
    if any(pid != os.getpid() for pids in holders.values() for pid in pids):
        return True
    cgroup = oslayer.project_cgroup(previous.project_id)
    return cgroup is not None and cgroup.exists() and bool(oslayer.cgroup_procs(cgroup))


def _clean_orphans(root: Path, project_id: str) -> list[str]:
    """Stop what an earlier supervisor of this project left running (its state file says what),
    before anything new starts. Returns one line per service that had survivors."""
    from corral.reclaim.recovery import reclaim_all
    from corral.state import read_state

    previous = read_state(root, oslayer.boot_id(), project_id)
    if previous is None or not _anything_left(previous):
        return []
    reports = asyncio.run(reclaim_all(previous, exclude={os.getpid(), os.getppid()}))
    lines = []
    for report in reports:
        if report.members:
            pids = ", ".join(str(pid) for pid in report.pids)
            lines.append(
                f"{report.service}: stopped {report.members} orphaned process(es) "
                f"left by an earlier supervisor (pid {pids})"
            )
            log_line(lines[-1])
    return lines


def _await_word(root: Path) -> bool:
    """A prelaunched supervisor (corral.launch.prelaunch) holds here, its imports done, until the
    guard sends the word with the project lock (kept open for life, as the guard keeps it);
    then supervisor.log becomes its stdout and stderr. False at end-of-file: no word."""
    value = os.environ.pop(markers.HOLD_FD, "")
    if not value:
        return True  # launched the ordinary way
    with socket.socket(fileno=int(value)) as channel:
        try:
            word, fds, _flags, _address = socket.recv_fds(channel, 16, 1)
        except OSError:
            return False
    if not word.startswith(b"go") or not fds:
        return False
    os.set_inheritable(fds[0], False)
    log = os.open(supervisor_log_path(root), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return True


def _take_ready_fd() -> int | None:
    """The launcher's pipe (see corral.launch.launcher): ours alone, never a service's."""
    value = os.environ.pop(markers.READY_FD, "")
    try:
        fd = int(value)
        os.set_inheritable(fd, False)
    except (ValueError, OSError):
        return None
    return fd


def _tell_launcher(fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, b"listening\n")
    os.close(fd)


def _handed_over(root: Path) -> ProjectSpec | None:
    """The configuration the launcher resolved moments ago (``launch.json``): taking it spares
    the supervisor parsing it again, and importing the parsers at all."""
    path = launch_spec_path(root)
    try:
        data = json.loads(path.read_text())
        path.unlink()
        project = spec_from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return project if project.root == root else None


def _load(root: Path, config_file: Path | None) -> ProjectSpec:
    from corral.config import load_project

    return load_project(root, config_file)


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    if not _await_word(root):
        return 0  # prelaunched, and the launcher gave up: leave no trace
    ready_fd = _take_ready_fd()
    config_file = Path(argv[1]) if len(argv) > 1 and argv[1] else None
    try:
        project = _handed_over(root) or _load(root, config_file)
    except CorralError as exc:
        log_line(f"cannot load the configuration: {exc.render()}")
        return 2
    oslayer.set_child_subreaper()
    guard_pid = os.getppid()
    state = ProjectState(
        project_id=project.project_id,
        root=str(project.root),
        boot_id=oslayer.boot_id(),
        run_id=os.urandom(16).hex(),  # uuid would import platform
        supervisor=oslayer.identify(os.getpid()),
        guard=oslayer.identify(guard_pid),
        socket=str(socket_path(project.project_id)),
        started_at=time.time(),
    )
    orphans = _clean_orphans(project.root, project.project_id)
    write_state(project.root, state)
    from corral import registry

    registry.register(project.project_id, project.root, project.name)
    engine = Engine(project, state=state, state_dir=state_dir(project.root), log=log_line)
    engine.cleaned.extend(orphans)
    log_line(f"supervising {project.name} ({project.root}), run {state.run_id}")
    supervisor = Supervisor(engine, Path(state.socket or ""), ready_fd)
    asyncio.run(supervisor.serve())
    log_line("exited")
    return 0


if __name__ == "__main__":
    assert supervisor_log_path  # the launcher points our stdout there
    sys.exit(main(sys.argv[1:]))
