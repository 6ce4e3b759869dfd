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

from corral import oslayer, protocol
from corral.errors import CorralError, ShuttingDown, UsageError
from corral.lifecycle import DOWN
from corral.paths import socket_path, state_dir, supervisor_log_path
from corral.reclaim import StopReport
from corral.state import ProjectState, write_state
from corral.supervisor import startup
from corral.supervisor.engine import Engine
from corral.supervisor.requests import ATTACHED, Requests
from corral.supervisor.session import Tethers, tied_to
from corral.supervisor.supervisor_log import log_line
from corral.supervisor.terminal import Terminal, TerminalClosed

IDLE_EXIT = float(os.environ.get("CORRAL_IDLE_EXIT", "600"))  # seconds; documented in README
TICK = 0.5  # housekeeping; also samples logs where write notifications are missing
SETTLED_TICK = 2.5  # when nothing needs a look that often (see _tick_interval)
HOUSEKEEPING = 5.0  # seconds between member, port and stale-code checks
READ_TIMEOUT = 5.0
REPLY_FLUSH = 2.0  # seconds the last replies get to reach their clients before the exit


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
        self.requests = Requests(self)

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
        startup.tell_launcher(self.ready_fd)
        self.ready_fd = None
        self.engine.events.emit("supervisor_started", pid=os.getpid(), run_id=self.engine.run_id)
        for line in self.engine.cleaned:
            self.engine.events.emit("orphans_cleaned", detail=line)
        ticker = asyncio.ensure_future(self._tick())
        self.engine.sampler.attach(asyncio.get_running_loop())  # log times from write events
        forks = self.engine.housekeeping.forks
        if forks is not None:  # macOS: a member's children recorded as it forks them
            asyncio.get_running_loop().add_reader(forks.fileno(), self._on_forks)
        await self.done.wait()
        ticker.cancel()
        await self.finish()
        await self._close()
        self.engine.sampler.detach()

    def _on_forks(self) -> None:
        try:
            self.engine.housekeeping.on_forks()
        except Exception as exc:  # a failed look must not kill the supervisor
            log_line(f"recording forked children failed: {exc!r}")

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

    async def finish(self) -> list[StopReport]:
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
            await asyncio.sleep(self._tick_interval())
            try:
                self.engine.sampler.sample_unwatched()
                now = self.engine.clock.monotonic()
                if now - last_refresh >= HOUSEKEEPING - 0.05:  # sleeps can end early
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

    def _tick_interval(self) -> float:
        """How long the tick may sleep. Services running with every log watched, every tether
        watched by the kernel, no lease and no failed write: nothing is polled, so the tick only
        paces housekeeping, and an idle supervisor wakes 0.4 times a second instead of twice."""
        engine = self.engine
        polled = (
            engine.sampler.has_unwatched()
            or self.tethers.needs_polling()
            or engine.state.lease
            or engine.save_problem is not None
            or not engine.busy()  # the idle exit, on time
        )
        return TICK if polled else SETTLED_TICK

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
        handler = getattr(self.requests, f"op_{op}", None)
        if handler is None:
            raise UsageError(f"unknown operation {op!r}")
        result: dict[str, Any] = await handler(message)
        return {**result, "ok": True}  # "ok" is the protocol's: the request was served

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


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
    except ValueError:  # the stream's limit: a request over protocol.MAX_MESSAGE
        log_line("refused a request over the protocol's size limit")
        raise protocol.too_large(protocol.SERVER_LIMIT) from None


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


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    if not startup.await_word(root):
        return 0  # prelaunched, and the launcher gave up: leave no trace
    ready_fd = startup.take_ready_fd()
    config_file = Path(argv[1]) if len(argv) > 1 and argv[1] else None
    try:
        project = startup.handed_over(root) or startup.load(root, config_file)
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
    orphans = startup.clean_orphans(project.root, project.project_id)
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
