"""Log files, the time index, rotation and bounded reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corral import logs


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(state: Path, service: str, text: str) -> None:
    fd = logs.open_run_log(state, service)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def test_lines_get_the_time_of_the_first_sample_that_saw_them(tmp_path: Path) -> None:
    clock = Clock()
    sampler = logs.LogSampler(tmp_path, ["a", "b"], clock=clock)
    write(tmp_path, "a", "a1\na2\n")
    write(tmp_path, "b", "")
    sampler.sample()  # first look: the file's mtime
    clock.now = 1001
    write(tmp_path, "b", "b1\n")
    sampler.sample()
    clock.now = 1002
    write(tmp_path, "a", "a3\n")
    sampler.sample()
    merged = logs.tail(tmp_path, ["a", "b"])
    assert [(line.service, line.text) for line in merged] == [
        ("a", "a1"),
        ("a", "a2"),
        ("b", "b1"),
        ("a", "a3"),
    ]
    assert [line.time for line in merged][-2:] == [1001, 1002]
    assert [line.text for line in logs.tail(tmp_path, ["a", "b"], since=1001.5)] == ["a3"]
    assert [line.text for line in logs.tail(tmp_path, ["a", "b"], grep=re.compile("2"))] == ["a2"]
    assert [line.text for line in logs.tail(tmp_path, ["a", "b"], lines=2)] == ["b1", "a3"]


def test_rotation_keeps_old_files_and_tail_reads_across_them(tmp_path: Path) -> None:
    clock = Clock()
    sampler = logs.LogSampler(tmp_path, ["a"], max_size=30, keep=2, clock=clock)
    for n in range(12):
        clock.now += 1
        write(tmp_path, "a", f"line {n:02d}\n")
        sampler.sample()
    names = sorted(path.name for path in (tmp_path / "logs").iterdir())
    assert names == ["a.idx", "a.idx.1", "a.idx.2", "a.log", "a.log.1", "a.log.2"]
    texts = [line.text for line in logs.tail(tmp_path, ["a"], lines=8)]
    assert texts == [f"line {n:02d}" for n in range(4, 12)]
    times = [line.time for line in logs.tail(tmp_path, ["a"], lines=8)]
    assert times == sorted(times)


def test_tail_of_a_big_file_returns_its_last_lines(tmp_path: Path) -> None:
    body = "".join(f"{n:08d} {'x' * 90}\n" for n in range(500_000))  # about 50 MB
    write(tmp_path, "big", body)
    lines = logs.tail(tmp_path, ["big"], lines=100)
    assert [line.text[:8] for line in lines] == [f"{n:08d}" for n in range(499_900, 500_000)]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.text(alphabet="abc xyz", max_size=8), max_size=5), max_size=8),
    st.integers(min_value=1, max_value=30),
)
def test_tail_returns_exactly_the_last_lines_in_order(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[str]], k: int
) -> None:
    state = tmp_path_factory.mktemp("prop")
    clock = Clock()
    sampler = logs.LogSampler(state, ["s"], clock=clock)
    written: list[str] = []
    for batch in batches:
        write(state, "s", "".join(f"{text}\n" for text in batch))
        written += batch
        clock.now += 1
        sampler.sample()
    assert [line.text for line in logs.tail(state, ["s"], lines=k)] == written[-k:]


def test_follow_yields_new_lines_from_a_live_writer_and_stops_at_its_deadline(
    tmp_path: Path,
) -> None:
    write(tmp_path, "w", "old\n")
    offsets = logs.end_offsets(tmp_path, ["w"])
    fd = logs.open_run_log(tmp_path, "w")
    script = "import sys, time\nfor n in range(3):\n    print(f'new {n}', flush=True)\n"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=fd)
    os.close(fd)
    child.wait(timeout=30)
    begun = time.monotonic()
    seen = [line.text for line in logs.follow(tmp_path, ["w"], offsets, time.monotonic() + 0.5)]
    assert seen == ["new 0", "new 1", "new 2"]
    assert time.monotonic() - begun < 5


def test_follow_continues_across_a_rotation(tmp_path: Path) -> None:
    sampler = logs.LogSampler(tmp_path, ["r"], max_size=10)
    write(tmp_path, "r", "")
    offsets = logs.end_offsets(tmp_path, ["r"])
    following = logs.follow(tmp_path, ["r"], offsets, time.monotonic())
    write(tmp_path, "r", "before rotation\n")
    sampler.sample()  # over 10 bytes: copied to r.log.1 and truncated
    write(tmp_path, "r", "after\n")
    seen = [line.text for line in following]
    assert seen == ["before rotation", "after"]


def test_a_writer_with_nobody_reading_is_never_blocked(tmp_path: Path) -> None:
    fd = logs.open_run_log(tmp_path, "flood")
    script = (
        "import sys\nchunk = b'y' * 1048575 + b'\\n'\n"
        "for _ in range(100): sys.stdout.buffer.write(chunk)"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=fd)
    os.close(fd)
    assert child.wait(timeout=60) == 0
    assert logs.log_path(tmp_path, "flood").stat().st_size == 100 * 1024 * 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", 990.0),
        ("1m30s", 910.0),
        ("500ms", 999.5),
        (
            "2026-11-24T10:00:00+00:00",
            datetime.fromisoformat("2026-11-24T10:00:00+00:00").timestamp(),
        ),
    ],
)
def test_since_reads_durations_and_times(text: str, expected: float) -> None:
    assert logs.parse_since(text, 1000.0) == pytest.approx(expected)


def test_since_reads_a_clock_time_today() -> None:
    now = time.time()
    expected = datetime.now().replace(hour=9, minute=30, second=0, microsecond=0).timestamp()
    assert logs.parse_since("09:30", now) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["yesterday", "10 parsecs", "25:99", ""])
def test_bad_since_says_what_to_write(bad: str) -> None:
    with pytest.raises(ValueError, match="use a duration"):
        logs.parse_since(bad, 1000.0)


def naive_tail(lines: list[str], k: int, pattern: re.Pattern[str] | None = None) -> list[str]:
    kept = [line for line in lines if pattern is None or pattern.search(line)]
    return kept[-k:]


def test_a_huge_line_is_read_once_and_shown_cut(tmp_path: Path) -> None:
    """Regression: one 80 MB line made ``logs -n 2`` take 52 s and 262 MB (the backward reader
    copied the growing line at every block)."""
    import tracemalloc

    huge = 20 * 1024 * 1024
    write(tmp_path, "one", "before\n" + "z" * huge + "\nafter\n")
    tracemalloc.start()
    try:
        found = logs.tail(tmp_path, ["one"], lines=3)
        grepped = logs.tail(tmp_path, ["one"], lines=3, grep=re.compile("z+"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # a few blocks, not the line
    assert [line.text[:6] for line in found] == ["before", "zzzzzz", "after"]
    assert found[1].text.endswith(f"[cut: the line has {huge} bytes]")
    assert len(found[1].text) < 70 * 1024
    assert [line.text[:3] for line in grepped] == ["zzz"]


LINE = st.text(alphabet="aZ 1é\t✓x", max_size=12)
PATTERNS = ["a", "Z1", "é", "✓x", "a|1", "^a", "x$", r"\d", r"a\s", "(?<=a)Z", "^$", "a.x", "(?i)z"]
PATTERNS += ["(a|é)x", "1+Z", "(?=a)a", "a\\Z", "(?i:Z)a", "[aZ]1", "é{2}", "x(a|Z)*1"]


@settings(max_examples=150, deadline=None)  # each pattern, many line sets and chunk sizes
@given(
    st.lists(LINE, max_size=40),
    st.sampled_from(PATTERNS),
    st.integers(min_value=1, max_value=10),
    st.sampled_from([16, 64, 4096]),
)
def test_grep_finds_exactly_the_lines_a_line_by_line_search_finds(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[str],
    pattern: str,
    k: int,
    block: int,
) -> None:
    from corral.logs import scan

    state = tmp_path_factory.mktemp("grep")
    write(state, "g", "".join(f"{line}\n" for line in lines))
    regex = re.compile(pattern)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan, "FIRST_BLOCK", block)  # chunk edges fall everywhere
        patch.setattr(scan, "BLOCK", block)
        found = [line.text for line in logs.tail(state, ["g"], lines=k, grep=regex)]
        plain = [line.text for line in logs.tail(state, ["g"], lines=k)]
    assert found == naive_tail(lines, k, regex)
    assert plain == naive_tail(lines, k)


def test_since_with_grep_reads_only_lines_newer_than_since(tmp_path: Path) -> None:
    clock = Clock()
    sampler = logs.LogSampler(tmp_path, ["s"], clock=clock)
    for n in range(30):
        clock.now = 1000.0 + n
        write(tmp_path, "s", f"{'ERROR' if n % 3 == 0 else 'info'} {n}\n")
        sampler.sample()
    grep = re.compile("ERROR")
    found = logs.tail(tmp_path, ["s"], lines=100, since=1020.0, grep=grep)
    assert [line.text for line in found] == ["ERROR 21", "ERROR 24", "ERROR 27"]
    recent = logs.tail(tmp_path, ["s"], since=1027.5)
    assert [line.text for line in recent] == ["info 28", "info 29"]


def test_follow_wakes_on_a_write_not_on_its_timer(tmp_path: Path) -> None:
    """With a 60 s poll, a line still arrives at once: the follower is woken by the write."""
    import queue
    import threading

    write(tmp_path, "w", "")
    offsets = logs.end_offsets(tmp_path, ["w"])
    following = logs.follow(tmp_path, ["w"], offsets, time.monotonic() + 60, poll=60)
    got: queue.Queue[str] = queue.Queue()

    def run() -> None:
        for line in following:
            got.put(line.text)
            return

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    time.sleep(0.2)  # let it reach its wait (a write before that is read anyway)
    write(tmp_path, "w", "wake up\n")
    assert got.get(timeout=20) == "wake up"
    reader.join(timeout=20)


def test_follow_cuts_a_huge_line_and_goes_on(tmp_path: Path) -> None:
    write(tmp_path, "h", "")
    offsets = logs.end_offsets(tmp_path, ["h"])
    write(tmp_path, "h", "q" * (3 * 1024 * 1024) + "\nnext\n")
    seen = [line.text for line in logs.follow(tmp_path, ["h"], offsets, time.monotonic())]
    assert len(seen) == 2 and seen[1] == "next"
    assert seen[0].endswith(f"[cut: the line has {3 * 1024 * 1024} bytes]")
