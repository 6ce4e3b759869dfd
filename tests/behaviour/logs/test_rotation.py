"""Rotation under a writer that does not stop: every byte kept, in order, once; files bounded."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corral import logs
from corral.logs import files
from corral.logs.rotation import Release

MiB = 1024 * 1024
# Numbered 100-byte lines, written in 64 KiB pieces at about 100 MB/s, so that rotations
# happen while it writes.
WRITER = """
import os, sys, time
total = int(sys.argv[1])
body = b"".join(b"%09d " % n + b"x" * 89 + b"\\n" for n in range(total // 100))
view, begun, done = memoryview(body), time.monotonic(), 0
while view:
    written = os.write(1, view[:65536])
    view, done = view[written:], done + written
    ahead = done / 100e6 - (time.monotonic() - begun)
    if ahead > 0:
        time.sleep(ahead)
"""


def expected(total: int) -> bytes:
    return b"".join(b"%09d " % n + b"x" * 89 + b"\n" for n in range(total // 100))


def kept_bytes(state: Path, service: str) -> bytes:
    """Everything the log's files hold, oldest first, read without corral's readers: the rotated
    files whole, then the live file from its header's start."""
    log, index = logs.log_path(state, service), logs.index_path(state, service)
    numbers = sorted(
        (int(path.name.rsplit(".", 1)[1]) for path in log.parent.glob(f"{log.name}.*")),
        reverse=True,
    )
    data = b"".join(files.rotated(log, number).read_bytes() for number in numbers)
    header = files.read_header(index)
    return data + log.read_bytes()[header.start - header.base :]


def flood(state: Path, service: str, total: int, max_size: int, release: Release) -> None:
    """Run a writer of ``total`` bytes beside a sampler on an event loop, as the supervisor
    does (write notifications, rotation in threads), until the log has settled."""

    async def main() -> None:
        sampler = logs.LogSampler(state, [service], max_size=max_size, keep=200)
        sampler.rotator.release = release
        fd = logs.open_run_log(state, service)
        sampler.attach(asyncio.get_running_loop())
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(total)], stdout=fd)
        os.close(fd)
        try:
            deadline = time.monotonic() + 60
            while child.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            sampler.sample()  # the tick's sample: whatever a notification did not bring
            while sampler.rotating and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        finally:
            sampler.detach()
            if child.poll() is None:
                child.kill()
            child.wait()
        assert child.returncode == 0

    asyncio.run(main())


@pytest.mark.parametrize("release", [Release.COLLAPSE, Release.PUNCH])
def test_rotation_under_a_fast_writer_keeps_every_byte_once(
    tmp_path: Path, release: Release
) -> None:
    """Regression: copy-then-truncate lost 16 MB of one 100 MB write, and rotated copies grew
    to 7x log_max_size."""
    total = 40 * MiB
    flood(tmp_path, "fast", total, MiB, release)
    assert kept_bytes(tmp_path, "fast") == expected(total)
    rotated = list(tmp_path.glob("logs/fast.log.*"))
    assert len(rotated) >= 20
    for path in rotated:
        assert path.stat().st_size <= 2 * MiB, path
    for path in (tmp_path / "logs").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    live = logs.log_path(tmp_path, "fast").stat()
    if release is Release.COLLAPSE:  # the live file itself stays small, not just its blocks
        assert live.st_size <= 3 * MiB
    assert live.st_blocks * 512 <= 3 * MiB  # disk use, holes excluded
    # corral's own readers agree: the last line, and a cursor reading from the first byte
    assert logs.tail(tmp_path, ["fast"], lines=1)[0].text.startswith(f"{total // 100 - 1:09d}")
    cursor = logs.Cursor(tmp_path, "fast", 0)
    read = b""
    while piece := cursor.read():
        read += piece
    assert read == expected(total)[-len(read) :] and len(read) > total // 2


def test_rotation_keeps_log_keep_files_and_disk_use_bounded(tmp_path: Path) -> None:
    sampler = logs.LogSampler(tmp_path, ["k"], max_size=64 * 1024, keep=2)
    fd = logs.open_run_log(tmp_path, "k")
    try:
        for _ in range(40):
            os.write(fd, b"y" * 99 + b"\n" * 1 + (b"z" * 99 + b"\n") * 99)
            sampler.sample()
    finally:
        os.close(fd)
    names = sorted(path.name for path in (tmp_path / "logs").iterdir())
    assert names == ["k.idx", "k.idx.1", "k.idx.2", "k.log", "k.log.1", "k.log.2"]
    used = sum(path.stat().st_blocks * 512 for path in (tmp_path / "logs").iterdir())
    assert used <= 6 * 64 * 1024 + 8 * 4096


def test_rotation_falls_back_to_copy_and_truncate(tmp_path: Path) -> None:
    """Where the file system can neither collapse nor punch, the old way still rotates."""
    sampler = logs.LogSampler(tmp_path, ["t"], max_size=1000, keep=3)
    sampler.rotator.release = Release.TRUNCATE
    fd = logs.open_run_log(tmp_path, "t")
    try:
        for n in range(30):
            os.write(fd, b"%05d\n" % n * 20)
            sampler.sample()
    finally:
        os.close(fd)
    assert logs.log_path(tmp_path, "t").stat().st_size <= 1000
    texts = [line.text for line in logs.tail(tmp_path, ["t"], lines=40)]
    assert texts == [f"{n:05d}" for n in range(28, 30) for _ in range(20)]


def test_a_tmpfs_log_is_rotated_by_punching_holes(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm (tmpfs) here")
    import tempfile

    with tempfile.TemporaryDirectory(dir=shm) as directory:
        state = Path(directory)
        flood(state, "shm", 8 * MiB, MiB, Release.COLLAPSE)
        assert kept_bytes(state, "shm") == expected(8 * MiB)
        # tmpfs has no COLLAPSE_RANGE: the rotator learnt to punch instead (the size stays)
        assert logs.log_path(state, "shm").stat().st_size >= 7 * MiB


@pytest.mark.parametrize("keep", [50, 3])
def test_a_burst_far_past_the_bound_is_split_into_bounded_files_at_once(
    tmp_path: Path, keep: int
) -> None:
    """Regression: a 500 MB burst became one 500 MB rotated copy of a "10 MB" log."""
    sampler = logs.LogSampler(tmp_path, ["b"], max_size=100 * 1024, keep=keep)
    fd = logs.open_run_log(tmp_path, "b")
    try:
        os.write(fd, expected(2 * MiB))
        sampler.sample()  # one look, one rotation
    finally:
        os.close(fd)
    rotated = list(tmp_path.glob("logs/b.log.*"))
    assert len(rotated) == min(keep, 20)
    assert all(path.stat().st_size <= 100 * 1024 for path in rotated)
    live = logs.log_path(tmp_path, "b")
    header = files.read_header(logs.index_path(tmp_path, "b"))
    assert live.stat().st_size - (header.start - header.base) <= 100 * 1024
    data = kept_bytes(tmp_path, "b")
    assert expected(2 * MiB).endswith(data)
    assert len(data) == (2 * MiB // 100 * 100 if keep == 50 else len(data))
    assert len(data) > min(keep, 20) * 99 * 1024


def test_detach_lets_a_rotation_under_way_finish(tmp_path: Path) -> None:
    """The supervisor detaches just before it exits: a rotation cut short there would leave the
    index's header behind the collapsed log."""

    async def main() -> logs.LogSampler:
        sampler = logs.LogSampler(tmp_path, ["d"], max_size=MiB, keep=100)
        fd = logs.open_run_log(tmp_path, "d")
        try:
            os.write(fd, expected(40 * MiB))
        finally:
            os.close(fd)
        sampler.attach(asyncio.get_running_loop())
        sampler.sample()  # starts the rotation in a thread
        assert sampler.threads
        sampler.detach()
        return sampler

    sampler = asyncio.run(main())
    assert not any(thread.is_alive() for thread in sampler.threads)
    assert kept_bytes(tmp_path, "d") == expected(40 * MiB)
    assert len(list(tmp_path.glob("logs/d.log.*"))) == 40
