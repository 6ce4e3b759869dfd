"""The macOS calls of the portable layer (ctypes into libc), against the real kernel: run by the
macOS CI job, skipped elsewhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "darwin", reason="macOS system calls")


def test_getpeereid_names_our_uid() -> None:
    from corral.oslayer import darwin

    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert darwin.peer_uid(left) == os.getuid()


def test_the_raw_start_time_is_the_kernels_and_stays_put() -> None:
    from corral.oslayer import darwin, portable

    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = darwin.start_time_us(child.pid)
        assert start is not None and before - 1 <= start / 1_000_000 <= time.time() + 1
        assert darwin.start_time_us(child.pid) == start
        stat = portable.read_stat(child.pid)
        assert stat is not None and stat.start == start
    finally:
        child.kill()
        child.wait()
    assert darwin.start_time_us(child.pid) is None


def test_the_boot_session_is_a_uuid_that_does_not_change() -> None:
    from corral.oslayer import darwin

    first = darwin.boot_session()
    assert str(uuid.UUID(first)).upper() == first.upper()
    assert darwin.boot_session() == first


def test_a_process_handle_turns_readable_when_its_process_exits() -> None:
    """kqueue EVFILT_PROC/NOTE_EXIT: what lets a stop or a tether wake on an exit there."""
    import select

    from corral.oslayer import portable

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        identity = portable.identify(child.pid)
        assert identity is not None
        handle = portable.open_process(identity)
        assert handle is not None and handle.fileno() >= 0
        with handle:
            assert select.select([handle.fileno()], [], [], 0.2)[0] == []  # alive: not readable
            child.kill()
            assert select.select([handle.fileno()], [], [], 10)[0] == [handle.fileno()]
            child.wait(timeout=10)
            assert handle.has_exited()
        assert handle.fileno() == -1  # closed with the handle
        assert portable.open_process(identity) is None  # gone: nothing to watch
    finally:
        child.kill()
        child.wait(timeout=10)
