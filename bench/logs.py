"""Logs: tail, grep and follow against the standard tools, and rotation under a fast writer.

    python bench/logs.py [--quick] [--write]

- ``logs -n 100`` and ``--grep`` on a 200 MB log against ``tail -n 100`` and ``grep | tail``,
  interleaved rounds (min/median/max), as the CLI and as the library call (the CLI's extra is
  Python's start-up and the command's fixed cost);
- ``logs -f`` latency (write to line seen) against ``tail -F``;
- rotation: a writer of numbered lines at 100 MB/s with ``log_max_size`` 10 MB, each way of
  releasing space, and the old one (copy-and-truncate on the 0.5 s tick): bytes lost, the
  largest rotated and live files, the writer's longest write, the event loop's longest stall.

``--write`` puts the figures into bench/RESULTS.md (its "Logs" section). Every process started
here is ended by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from corral import logs  # noqa: E402
from corral.logs.rotation import Release  # noqa: E402

_SCRIPT = Path(sys.executable).parent / "corral"
CORRAL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "corral"]
MB = 1000 * 1000
rows: list[tuple[str, str, str, str]] = []  # (what, figure, goal, met)


def record(what: str, figure: str, goal: str = "", met: str = "") -> None:
    rows.append((what, figure, goal, met))
    print(f"{what:<52} {figure:<40} {goal:<22} {met}", flush=True)


def spread(values: list[float], unit: float = 1000.0, suffix: str = "ms") -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low * unit:.1f} / {mid * unit:.1f} / {high * unit:.1f} {suffix}"


def timed(action: Callable[[], object]) -> float:
    begun = time.perf_counter()
    action()
    return time.perf_counter() - begun


# ---- tail and grep ------------------------------------------------------------------------


def make_project(root: Path, size: int) -> Path:
    """A project whose service ``big`` has a log of ``size`` bytes and an index."""
    (root / "corral.toml").write_text('[services.big]\ncommand = "sleep 1"\n')
    state = root / ".corral"
    (state / "logs").mkdir(parents=True)
    os.chmod(state, 0o700)
    log = logs.log_path(state, "big")
    line_count, written, entries = 0, 0, []
    now = time.time() - 3600
    with open(log, "wb") as handle:
        while written < size:
            batch = []
            for _ in range(10000):
                level = "ERROR" if line_count % 1000 == 7 else "INFO"
                batch.append(
                    f"2026-12-02 12:00:00,{line_count % 1000:03d} {level} worker {line_count} "
                    f"handled /api/items/{line_count % 977} in {line_count % 300}ms\n".encode()
                )
                line_count += 1
            data = b"".join(batch)
            handle.write(data)
            written += len(data)
            entries.append(f"{written} {now + len(entries) * 0.5:.3f}\n")
    logs.index_path(state, "big").write_text("".join(entries))
    return log


def bench_reads(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        log = make_project(root, 200 * MB)
        state = root / ".corral"
        cases = [
            ("-n 100", [], f"tail -n 100 {log}", None),
            ("--grep ERROR", ["--grep", "ERROR"], f"grep ERROR {log} | tail -n 100", "ERROR"),
            (
                "--grep (no match)",
                ["--grep", "NOSUCHWORD"],
                f"grep NOSUCHWORD {log} | tail -n 100",
                "NOSUCHWORD",
            ),
            (
                "--grep 'timeout|refused' (no match)",
                ["--grep", "timeout|refused"],
                f"grep -E 'timeout|refused' {log} | tail -n 100",
                "timeout|refused",
            ),
            (
                "--grep 'worker 1[0-9]+ handled /api/items/5 ' (regex)",
                ["--grep", "worker 1[0-9]+ handled /api/items/5 "],
                f"grep -E 'worker 1[0-9]+ handled /api/items/5 ' {log} | tail -n 100",
                "worker 1[0-9]+ handled /api/items/5 ",
            ),
        ]
        base = timed_runs(rounds, lambda: subprocess.run([sys.executable, "-c", "pass"]))
        record("python -c pass (the floor of any CLI in Python)", spread(base))
        for label, flags, shell, pattern in cases:
            cli, peer, library = [], [], []
            grep = re.compile(pattern) if pattern else None
            for _ in range(rounds):  # interleaved: the same machine state for each
                peer.append(
                    timed(lambda s=shell: subprocess.run(s, shell=True, stdout=subprocess.DEVNULL))
                )
                command = [*CORRAL, "-C", str(root), "logs", "-n", "100", *flags]
                cli.append(timed(lambda c=command: subprocess.run(c, stdout=subprocess.DEVNULL)))
                library.append(timed(lambda g=grep: logs.tail(state, ["big"], lines=100, grep=g)))
            tool = shell.split()[0] if "|" not in shell else shell.split()[0] + " | tail"
            goal = "≤ 3x " + tool
            ratio_lib = statistics.median(library) / statistics.median(peer)
            ratio_cli = statistics.median(cli) / statistics.median(peer)
            record(f"logs {label}: {tool} (200 MB)", spread(peer))
            record(
                f"logs {label}: library call",
                spread(library) + f" ({ratio_lib:.1f}x)",
                goal,
                "met" if ratio_lib <= 3 else "not met",
            )
            record(
                f"logs {label}: corral CLI",
                spread(cli) + f" ({ratio_cli:.1f}x)",
                goal,
                "met" if ratio_cli <= 3 else "not met (start-up)",
            )


def timed_runs(rounds: int, action: Callable[[], object]) -> list[float]:
    return [timed(action) for _ in range(rounds)]


# ---- follow latency -----------------------------------------------------------------------

STAMPER = """
import os, sys, time
for n in range(int(sys.argv[1])):
    os.write(1, f"{time.time_ns()}\\n".encode())
    time.sleep(0.05)
"""


def bench_follow(lines: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory)
        fd = logs.open_run_log(state, "f")
        offsets = logs.end_offsets(state, ["f"])
        tail = subprocess.Popen(
            ["tail", "-n", "0", "-F", str(logs.log_path(state, "f"))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        peer: list[float] = []

        def read_tail() -> None:
            assert tail.stdout is not None
            for raw in tail.stdout:
                peer.append(time.time_ns() - int(raw))

        reader = threading.Thread(target=read_tail, daemon=True)
        reader.start()
        time.sleep(0.3)
        writer = subprocess.Popen([sys.executable, "-c", STAMPER, str(lines)], stdout=fd)
        os.close(fd)
        ours: list[float] = []
        deadline = time.monotonic() + lines * 0.05 + 10
        for line in logs.follow(state, ["f"], offsets, deadline, poll=0.1):
            ours.append(time.time_ns() - int(line.text))
            if len(ours) >= lines:
                break
        writer.wait()
        time.sleep(0.2)
        tail.terminate()
        tail.wait()
        reader.join(timeout=5)
    record("logs -f latency: tail -F", spread([v / 1e9 for v in peer]))
    median = statistics.median(ours) / 1e6
    record(
        "logs -f latency: corral (min/median/max)",
        spread([v / 1e9 for v in ours]),
        "≤ 10 ms",
        "met" if max(ours) / 1e6 <= 10 else f"median {median:.1f} ms; max not met",
    )


# ---- rotation -----------------------------------------------------------------------------

WRITER = """
import os, sys, time
total, rate = int(sys.argv[1]), float(sys.argv[2])
line = lambda n: b"%09d " % n + b"x" * 89 + b"\\n"
body = b"".join(line(n) for n in range(total // 100))
view, begun, done, longest = memoryview(body), time.monotonic(), 0, 0.0
while view:
    before = time.monotonic()
    written = os.write(1, view[:65536])
    longest = max(longest, time.monotonic() - before)
    view, done = view[written:], done + written
    ahead = done / rate - (time.monotonic() - begun)
    if ahead > 0:
        time.sleep(ahead)
sys.stderr.write(f"{longest}\\n")
"""


def kept(state: Path, service: str) -> bytes:
    log = logs.log_path(state, service)
    numbers = sorted(
        (int(p.name.rsplit(".", 1)[1]) for p in log.parent.glob(f"{log.name}.*")), reverse=True
    )
    from corral.logs import files

    data = b"".join(files.rotated(log, n).read_bytes() for n in numbers)
    header = files.read_header(logs.index_path(state, service))
    return data + log.read_bytes()[header.start - header.base :]


def rotation_run(total: int, release: Release, event_driven: bool) -> dict[str, float]:
    max_size = 10 * 1024 * 1024
    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory)
        result: dict[str, float] = {}

        async def main() -> None:
            sampler = logs.LogSampler(state, ["w"], max_size=max_size, keep=1000)
            sampler.rotator.release = release
            fd = logs.open_run_log(state, "w")
            loop = asyncio.get_running_loop()
            if event_driven:
                sampler.attach(loop)
            child = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(total), str(100 * MB)],
                stdout=fd,
                stderr=subprocess.PIPE,
            )
            os.close(fd)
            live_max = lag = 0.0
            last_tick = time.monotonic()
            while child.poll() is None:
                before = time.monotonic()
                await asyncio.sleep(0.001)
                lag = max(lag, time.monotonic() - before - 0.001)
                live_max = max(live_max, logs.log_path(state, "w").stat().st_blocks * 512)
                if time.monotonic() - last_tick >= 0.5:  # the supervisor's tick
                    last_tick = time.monotonic()
                    before = time.monotonic()
                    sampler.sample()
                    lag = max(lag, time.monotonic() - before)
            sampler.sample()
            while sampler.rotating:
                await asyncio.sleep(0.01)
            sampler.detach()
            assert child.stderr is not None
            result["write_max"] = float(child.stderr.read() or 0)
            child.stderr.close()
            result["live_max"] = live_max
            result["lag"] = lag

        asyncio.run(main())
        data = kept(state, "w")
        numbers = {int(raw[:9]) for raw in data.split(b"\n") if len(raw) >= 9 and raw[:9].isdigit()}
        result["lost_lines"] = total // 100 - len(numbers)
        result["lost_bytes"] = max(0, total // 100 * 100 - len(data))
        result["rotated_max"] = max(
            (p.stat().st_size for p in state.glob("logs/w.log.*")), default=0
        )
        result["rotations"] = len(list(state.glob("logs/w.log.*")))
    return result


def bench_rotation(total: int) -> None:
    ways = [
        ("collapse range, on write notifications (default)", Release.COLLAPSE, True),
        ("punch hole, on write notifications (tmpfs, btrfs)", Release.PUNCH, True),
        ("copy and truncate, on write notifications (fallback)", Release.TRUNCATE, True),
        ("copy and truncate on the 0.5 s tick (before)", Release.TRUNCATE, False),
    ]
    for label, release, event_driven in ways:
        got = rotation_run(total, release, event_driven)
        lost = int(got["lost_bytes"]) + int(got["lost_lines"]) * 100
        record(
            f"rotation at 100 MB/s, {total // MB} MB: {label}",
            f"lost {int(got['lost_lines'])} lines; {int(got['rotations'])} rotations",
            "0 bytes lost",
            "met" if lost == 0 else "not met",
        )
        bound = 2 * 10 * 1024 * 1024
        record(
            f"  largest rotated file / live file on disk ({label.split(',')[0]})",
            f"{got['rotated_max'] / MB:.1f} MB / {got['live_max'] / MB:.1f} MB",
            "≤ 2x log_max_size (21 MB)",
            "met" if max(got["rotated_max"], got["live_max"]) <= bound else "not met",
        )
        record(
            f"  writer's longest write / loop's longest stall ({label.split(',')[0]})",
            f"{got['write_max'] * 1000:.1f} ms / {got['lag'] * 1000:.1f} ms",
        )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe in a table cell would end the cell


def write_results() -> None:
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# corral benchmark results\n"
    begin, end = "<!-- logs: begin -->", "<!-- logs: end -->"
    table = [
        begin,
        "## Logs (bench/logs.py)",
        "",
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        "min / median / max over interleaved rounds.",
        "",
        "| what | figure | goal | met |",
        "|---|---|---|---|",
        *[
            f"| {_cell(what)} | {_cell(figure)} | {_cell(goal)} | {met} |"
            for what, figure, goal, met in rows
        ],
        end,
    ]
    if begin in text:
        text = text[: text.index(begin)] + "\n".join(table) + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(table) + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--only", choices=["reads", "follow", "rotation"])
    args = parser.parse_args()
    if args.only in (None, "reads"):
        bench_reads(3 if args.quick else 7)
    if args.only in (None, "follow"):
        bench_follow(40 if args.quick else 200)
    if args.only in (None, "rotation"):
        bench_rotation((100 if args.quick else 300) * MB)
    if args.write:
        write_results()


if __name__ == "__main__":
    main()
