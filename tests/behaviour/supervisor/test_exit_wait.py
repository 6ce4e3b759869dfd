"""Waiting for a stop's members to exit: the kernel wakes the wait (pidfds), so it ends when
the last member exits, not at its bound; and a hurry ends it at once. Real processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from corral import oslayer
from corral.reclaim import Member
from corral.reclaim.stop import _until_exited
from harness import pid_alive

LONG = 120.0  # the wait's bound: far beyond the test's timeout, so only a wake-up ends it


def _member(pid: int) -> Member:
    identity = oslayer.identify(pid)
    assert identity is not None
    return Member(identity, pid, {"test"})


@pytest.mark.timeout(20)
def test_the_wait_ends_when_the_last_member_exits() -> None:
    quick = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    slower = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    try:
        members = [_member(quick.pid), _member(slower.pid)]
        asyncio.run(_until_exited(members, LONG))
        assert slower.poll() is not None or not _running(slower.pid)
    finally:
        for child in (quick, slower):
            child.kill()
            child.wait()


@pytest.mark.timeout(20)
def test_a_member_that_is_not_our_child_wakes_the_wait_too() -> None:
    """Most members of a stop are grandchildren, reparented: a pidfd still says when they exit
    (or, without pidfds, the poll). The orphan must not hold the captured pipes (``run`` would
    wait for it), and must still run when the wait begins, or the test proves nothing."""
    sleeper = f"{sys.executable} -c 'import time; time.sleep(1.5)' >/dev/null 2>&1 </dev/null"
    shell = subprocess.run(
        ["sh", "-c", f"{sleeper} & echo $!"], capture_output=True, text=True, timeout=10
    )
    orphan = int(shell.stdout.split()[0])
    try:
        assert _running(orphan), "the orphan exited before the wait began"
        asyncio.run(_until_exited([_member(orphan)], LONG))
        assert not _running(orphan)
    finally:
        if pid_alive(orphan):
            oslayer.safe_signal(_member(orphan).identity, 9)


@pytest.mark.timeout(20)
def test_a_hurry_ends_the_wait_at_once() -> None:
    stubborn = subprocess.Popen(["sleep", "60"])
    try:

        async def wait_hurried() -> None:
            hurry = asyncio.Event()
            asyncio.get_running_loop().call_later(0.2, hurry.set)
            await _until_exited([_member(stubborn.pid)], LONG, hurry)

        asyncio.run(wait_hurried())
        assert stubborn.poll() is None  # still running: the wait gave up, it did not see an exit
    finally:
        stubborn.kill()
        stubborn.wait()


def _running(pid: int) -> bool:
    """Alive and not a zombie (our own exited children stay zombies until reaped)."""
    stat = oslayer.read_stat(pid)
    return stat is not None and stat.state != "Z"
