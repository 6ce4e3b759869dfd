"""The supervisor's side of a service's terminal (``tty = true``): it holds the pty master,
copies everything the service writes there into the service's log, and writes input to it.

The log stays the one file every reader knows (same time index, rotation and bounds): the pump
appends to it as the service itself would without a terminal. Only the line discipline's CR
before each LF is dropped (a terminal needs it, a log file does not); colour and other escapes
are kept, and readers strip them (see ``corral.logs.escapes``). Unlike a service writing its log
directly, a terminal service depends on the supervisor reading: if the supervisor dies, the
master closes and the service gets SIGHUP (it also gets SIGKILL from its death signal).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os

READ_SIZE = 65536
BATCH = 32  # reads per wakeup of the loop at most, so a busy writer cannot starve the rest
RECENT = 64 * 1024  # bytes of raw output kept for a client that connects later
REPLAY = 16 * 1024  # of which an attaching client is shown the end (about a screen or more)
SLOW_CLIENT = 1024 * 1024  # bytes queued for a watcher that does not read: it is dropped


class TerminalClosed(Exception):
    pass


class Terminal:
    def __init__(self, master: int, log_fd: int) -> None:
        self.master, self.log_fd = master, log_fd
        self.recent = bytearray()
        self.carry_cr = False  # the last chunk ended in CR: its LF may open the next one
        self.loop: asyncio.AbstractEventLoop | None = None
        self.hung_up = False  # every holder of the slave is gone
        self.watchers: set[asyncio.StreamWriter] = set()  # attached clients (corral attach)

    def attach(self) -> None:
        """Read the master from the running loop (none in some unit tests: read on close)."""
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.loop.add_reader(self.master, self._readable)

    def _readable(self) -> None:
        for _ in range(BATCH):  # a pty read gives at most a few KiB: drain more per wakeup
            got = self._pump_once()
            if got < 0:
                self._detach()
            if got <= 0:
                return

    def _pump_once(self) -> int:
        """Copy one read's worth to the log: the bytes read (0: nothing yet), -1 once the
        terminal has nothing more to say."""
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return 0
        except OSError as exc:  # EIO: the last slave descriptor closed
            if exc.errno != errno.EIO:
                self._log(f"corral: terminal read failed: {exc.strerror}\n".encode())
            self.hung_up = True
            return -1
        if not data:
            self.hung_up = True
            return -1
        self._keep(data)
        self._log(self._as_log(data))
        self._show(data)
        return len(data)

    def _as_log(self, data: bytes) -> bytes:
        if self.carry_cr and not data.startswith(b"\n"):
            data = b"\r" + data
        self.carry_cr = data.endswith(b"\r")
        if self.carry_cr:
            data = data[:-1]
        return data.replace(b"\r\n", b"\n")

    def _keep(self, data: bytes) -> None:
        self.recent += data
        if len(self.recent) > RECENT:
            del self.recent[: len(self.recent) - RECENT]

    def _log(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a full disk: the log's own problem report says so
            os.write(self.log_fd, data)

    def write(self, data: bytes) -> None:
        """Input, as if typed (the terminal echoes it, so it shows in the log too)."""
        if self.master < 0 or self.hung_up:
            raise TerminalClosed("the service's terminal is closed")
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                raise TerminalClosed("the service is not reading its terminal") from None
            except OSError as exc:
                raise TerminalClosed(f"cannot write to its terminal: {exc.strerror}") from None
            view = view[written:]

    def _show(self, data: bytes) -> None:
        for watcher in list(self.watchers):
            transport = watcher.transport
            if transport.is_closing() or transport.get_write_buffer_size() > SLOW_CLIENT:
                self.watchers.discard(watcher)
                watcher.close()
            else:
                watcher.write(data)

    def watch(self, writer: asyncio.StreamWriter) -> None:
        """Show ``writer`` the end of the recent output, then everything from now on."""
        writer.write(bytes(self.recent[-REPLAY:]))
        self.watchers.add(writer)

    def unwatch(self, writer: asyncio.StreamWriter) -> None:
        self.watchers.discard(writer)

    def resize(self, columns: int, rows: int) -> None:
        """The window of the client that attached (the kernel tells the foreground group)."""
        from corral.oslayer import terminal

        if self.master >= 0 and 0 < columns < 10000 and 0 < rows < 10000:
            with contextlib.suppress(OSError):
                terminal.set_window_size(self.master, columns, rows)

    def _detach(self) -> None:
        if self.loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self.loop.remove_reader(self.master)
            self.loop = None
        for watcher in self.watchers:
            watcher.close()  # the client sees the end of the stream: the terminal is gone
        self.watchers.clear()

    def close(self) -> None:
        """At the run's end: log what is still buffered, then let go of both descriptors."""
        if self.master < 0:
            return
        self._detach()
        for _ in range(64):  # bounded: a surviving writer cannot hold the supervisor here
            if self._pump_once() <= 0:
                break
        if self.carry_cr:
            self._log(b"\r")
        os.close(self.master)
        os.close(self.log_fd)
        self.master = self.log_fd = -1
