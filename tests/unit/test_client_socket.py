"""A supervisor socket that drops the connection: the client says ``supervisor_unavailable``
with its cause. A BrokenPipeError on the socket must never reach the CLI's entry point, which
takes one for stdout's reader going away and exits 0."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral import client
from corral.errors import SupervisorUnavailable


@contextlib.contextmanager
def dropping_server(path: Path) -> Iterator[Path]:
    """A Unix socket at ``path`` whose server accepts each connection and resets it unread."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return  # the socket was shut down: the test is over
            # linger 0: the close is a reset, so a client's send fails rather than buffers
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(5)
        path.unlink(missing_ok=True)


def test_a_send_to_a_closed_connection_is_supervisor_unavailable(runtime_dir: Path) -> None:
    payload = b'{"op": "ping", "pad": "' + b"x" * (4 << 20) + b'"}\n'  # beyond any buffer
    with dropping_server(runtime_dir / "drop.sock") as path, pytest.raises(SupervisorUnavailable):
        client.exchange(path, payload, timeout=5)
