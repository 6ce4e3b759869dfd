"""An ``http://localhost`` probe connects without asyncio's thread pool (the supervisor runs no
threads; resolving a name would start the default executor)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import threading
from collections.abc import Callable
from typing import Any

from corral.supervisor.probes import HttpProbe


class NoThreads(concurrent.futures.ThreadPoolExecutor):
    """A default executor that refuses work: any use of the thread pool fails the probe."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the thread pool was asked to run {fn!r}")


def run_probe(url: str) -> Any:
    async def check() -> Any:
        asyncio.get_running_loop().set_default_executor(NoThreads())
        return await HttpProbe(url, timeout=5).check()

    return asyncio.run(check())


def test_http_localhost_probe_passes_without_the_thread_pool() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_probe(f"http://localhost:{server.server_port}/")
        assert result.passed, result.reason
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_localhost_probe_with_nothing_listening_is_refused() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_probe(f"http://localhost:{port}/")
    assert not result.passed and "refused" in result.reason, result.reason
