"""Readiness probes. Each ``check`` answers (passed, why-not) once; the engine polls it.

- tcp: something in the service's own process tree listens on the port. A listener that belongs
  to another process does not count, and the reason names it.
- http: GET on a loopback URL answers with a status below 400.
- log: a regex matches the service's output written since this run started.
- cmd: a command exits 0.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from corral import oslayer, ports
from corral.model import ProbeKind, ReadyProbe


@dataclass
class ProbeResult:
    passed: bool
    reason: str = ""


class TcpProbe:
    """Passes when each port is held by the service: by its ``leader`` (the usual case, asked
    first: one process's descriptors), a holder found by the cheap layers (``members``), or one
    that ``claims`` recognises as the run's (markers, lifeline)."""

    def __init__(
        self,
        ports: Collection[int],
        members: Callable[[], set[int]],
        claims: Callable[[int], bool] | None = None,
        leader: int | None = None,
    ) -> None:
        self.ports = tuple(ports)
        self.members = members
        self.claims = claims
        self.leader = leader  # an unreaped child of ours while the probe runs: never reused

    async def check(self) -> ProbeResult:
        for port in self.ports:
            result = self._check_port(port)
            if not result.passed:
                return result
        return ProbeResult(True)

    def _check_port(self, port: int) -> ProbeResult:
        sockets = [item for item in _listening_now() if item.port == port]
        if not sockets:
            return ProbeResult(False, f"nothing listens on port {port} (connection refused)")
        if self.leader is not None:
            held = oslayer.socket_holders([s.inode for s in sockets], [self.leader])
            if any(self.leader in held.get(s.inode, ()) for s in sockets):
                return ProbeResult(True)
        members = self.members()
        holders = oslayer.socket_holders([s.inode for s in sockets], members)
        if any(holders.get(s.inode, set()) & members for s in sockets):
            return ProbeResult(True)
        everyone = oslayer.socket_holders([s.inode for s in sockets])
        owners = sorted({pid for s in sockets for pid in everyone.get(s.inode, set())})
        if self.claims is not None and any(self.claims(pid) for pid in owners):
            return ProbeResult(True)
        if owners:
            who = ", ".join(f"pid {pid} ({oslayer.cmdline(pid)[:60]})" for pid in owners)
        else:
            who = f"a process of uid {sockets[0].uid}"
        return ProbeResult(False, f"port {port} is held by {who}, not by this service")


def _listening_now() -> list[oslayer.Listener]:
    return ports.listeners_this_turn()  # the tcp probes polling in one turn share a dump


class HttpProbe:
    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout

    async def check(self) -> ProbeResult:
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            status = await asyncio.wait_for(self._get(host, port, path, parts.scheme), self.timeout)
        except (OSError, TimeoutError) as exc:
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
            return ProbeResult(False, f"GET {self.url}: {reason or type(exc).__name__}")
        if status < 400:
            return ProbeResult(True)
        return ProbeResult(False, f"GET {self.url}: HTTP {status}")

    async def _get(self, host: str, port: int, path: str, scheme: str) -> int:
        request = _request(host, path)
        reader, writer = await _connect(host, port)
        try:
            if scheme == "https":
                line = await _tls_exchange(reader, writer, host, request)
            else:
                writer.write(request)
                await writer.drain()
                line = await reader.readline()
        finally:
            writer.close()
        return _status(line)


LOOPBACK = ("127.0.0.1", "::1")


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``localhost`` is the loopback (RFC 6761), tried as addresses: asyncio would resolve the
    name in its thread pool, and the supervisor runs no threads. An address literal needs no
    resolving; any other name still goes through asyncio's resolver."""
    if host.lower().rstrip(".") != "localhost" and not host.lower().endswith(".localhost"):
        return await asyncio.open_connection(host, port)
    refused: OSError = ConnectionRefusedError(f"nothing listens on localhost:{port}")
    for address in LOOPBACK:
        try:
            return await asyncio.open_connection(address, port)
        except OSError as exc:  # not listening on this one: the other loopback may be
            refused = exc
    raise refused


def _request(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: corral\r\n\r\n".encode()


def _status(line: bytes) -> int:
    match = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})", line)
    if match is None:
        raise OSError(f"not an HTTP response: {line[:40]!r}")
    return int(match.group(1))


async def _tls_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, request: bytes
) -> bytes:
    """Send ``request`` over TLS on a plain connection and return the first response line.

    The supervisor's asyncio runs without OpenSSL (corral.supervisor.daemon), so TLS is spoken here
    through memory buffers, on the loop's thread: no worker thread, which would make forking
    the services unsafe. ``ssl`` is imported only when a project has an https probe."""
    import ssl

    context = ssl._create_unverified_context()  # loopback dev servers: self-signed
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=host)

    async def drive(step: Any, *args: Any) -> Any:
        while True:
            try:
                result = step(*args)
            except ssl.SSLWantReadError:
                result = None  # it needs bytes from the server first
            if outgoing.pending:
                writer.write(outgoing.read())
                await writer.drain()
            if result is not None:
                return result
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("the server closed the TLS connection")
            incoming.write(data)

    await drive(lambda: tls.do_handshake() or True)
    await drive(tls.write, request)
    line = b""
    while b"\n" not in line and len(line) < 65536:
        chunk = await drive(tls.read, 65536)
        if not chunk:
            break
        line += chunk
    return line.split(b"\n", 1)[0]


class LogProbe:
    """Scans the service's output from the run's first byte: ``read`` returns what came since
    its last call (a ``logs.Cursor``, which knows rotation)."""

    def __init__(self, pattern: str, read: Callable[[], bytes]) -> None:
        self.pattern = re.compile(pattern)
        self.read = read
        self.pending = b""

    async def check(self) -> ProbeResult:
        try:
            data = self.read()
        except OSError as exc:
            return ProbeResult(False, f"cannot read the log: {exc.strerror}")
        text = self.pending + data
        lines = text.split(b"\n")
        self.pending = lines.pop()[-65536:]
        for line in [*lines, self.pending]:
            if self.pattern.search(line.decode(errors="replace")):
                return ProbeResult(True)
        return ProbeResult(False, f"log line matching {self.pattern.pattern!r} not seen yet")


class CmdProbe:
    """Runs ``/bin/sh -c COMMAND``; the engine supplies how (it owns child reaping)."""

    def __init__(
        self, command: str, run: Callable[[str, float], asyncio.Future[int]], timeout: float = 5.0
    ) -> None:
        self.command = command
        self.run = run
        self.timeout = timeout

    async def check(self) -> ProbeResult:
        try:
            code = await self.run(self.command, self.timeout)
        except TimeoutError:
            return ProbeResult(False, f"{self.command!r} did not finish within {self.timeout:g}s")
        except OSError as exc:
            return ProbeResult(False, f"cannot run {self.command!r}: {exc.strerror}")
        if code == 0:
            return ProbeResult(True)
        return ProbeResult(False, f"{self.command!r} exited with code {code}")


Probe = TcpProbe | HttpProbe | LogProbe | CmdProbe


def default_probe(ready: ReadyProbe | None, ports: tuple[int, ...]) -> ReadyProbe | None:
    """A service that declares ports and no probe gets a tcp probe on its ports."""
    if ready is not None or not ports:
        return ready
    return ReadyProbe(ProbeKind.TCP, ports[0])
