"""The supervisor's log sampling with write notifications (inotify): a watched log is indexed on
its writes, the tick looks only at the logs nothing watches, and a notification queue that
overflowed makes the sampler look at every log. Real files, a real inotify instance."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from corral import logs
from corral.logs import files

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")


def write(state: Path, service: str, text: str) -> None:
    fd = logs.open_run_log(state, service)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def index_lines(state: Path, service: str) -> int:
    path = files.index_path(state, service)
    return len(path.read_text().splitlines()) if path.exists() else 0


async def settle() -> None:
    for _ in range(20):  # the notification's reader runs on a later loop turn
        await asyncio.sleep(0.01)


def test_the_tick_leaves_watched_logs_to_their_notifications(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int, int, bool]:
        write(tmp_path, "watched", "")
        sampler = logs.LogSampler(tmp_path, ["watched", "late"])  # late: no file yet
        sampler.attach(asyncio.get_running_loop())
        try:
            assert sampler.watcher is not None
            assert sampler.watcher.watching("watched") and not sampler.watcher.watching("late")
            assert sampler.has_unwatched()  # the supervisor's tick keeps its fast pace
            sampler.sample()
            before = index_lines(tmp_path, "watched")
            sampler.loop = None  # no reader turn happens in between: only the tick looks
            write(tmp_path, "watched", "one\n")
            write(tmp_path, "late", "first\n")
            sampler.sample_unwatched()
            after_tick = index_lines(tmp_path, "watched")
            late_watched = sampler.watcher.watching("late") and not sampler.has_unwatched()
            sampler.loop = asyncio.get_running_loop()
            await settle()
            return before, after_tick, index_lines(tmp_path, "watched"), late_watched
        finally:
            sampler.detach()

    before, after_tick, after_notification, late_watched = asyncio.run(scenario())
    assert after_tick == before  # the tick did not look at the watched log
    assert after_notification == before + 1  # its write notification did
    assert index_lines(tmp_path, "late") == 1 and late_watched


def test_an_overflowed_queue_makes_the_sampler_look_at_every_log(tmp_path: Path) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"an inotify queue of {limit} events takes too long to overflow")
    services = ["a", "b"]
    for service in services:
        write(tmp_path, service, "")
    sampler = logs.LogSampler(tmp_path, services)

    async def scenario() -> bool:
        loop = asyncio.get_running_loop()
        sampler.attach(loop)
        try:
            assert sampler.watcher is not None
            loop.remove_reader(sampler.watcher.fileno())  # let the queue fill
            sampler.sample()
            paths = [files.log_path(tmp_path, s) for s in services]
            fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
            try:
                for _ in range(limit // 2 + 10):  # alternating: the kernel cannot merge them
                    for fd in fds:
                        os.write(fd, b"x\n")
            finally:
                for fd in fds:
                    os.close(fd)
            sampler.watcher.changed()  # what the reader would do
            overflowed = sampler.watcher.overflowed
            loop.add_reader(sampler.watcher.fileno(), sampler._notified)
            write(tmp_path, "a", "tail\n")  # wakes the reader
            await settle()
            return overflowed
        finally:
            sampler.detach()

    assert asyncio.run(scenario())
    # Every log was looked at after the overflow: both indexes end at their file's end.
    for service in services:
        size = files.log_path(tmp_path, service).stat().st_size
        last = files.index_path(tmp_path, service).read_text().splitlines()[-1]
        assert int(last.split()[0]) == size, service
