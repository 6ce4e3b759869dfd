"""How long ``corral stop`` takes to end a fork storm, with and without the cgroup layer.

    python bench/forkstorm.py [--limit 700] [--runs 3]

The service (tests/subjects/forkstorm.py) ignores SIGTERM; each of its processes leaves its
session and forks on until about ``--limit`` exist. ``stop_timeout`` is 1 s, so everything past
that is corral finding and killing them: with ``cgroup.kill`` (where cgroup v2 is writable) and
with ``CORRAL_CGROUP=off``, where members are frozen (SIGSTOP) as scans find them, then killed.
The stop is asked for while the storm still grows. Goal (issue: trust nothing on disk, item
10): under 10 s at 700 processes without cgroups. Reports min/median/max and what was left.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SCRIPT = Path(sys.executable).parent / "corral"
CORRAL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "corral"]
STORM = Path(__file__).resolve().parent.parent / "tests" / "subjects" / "forkstorm.py"


def one_stop(limit: int, cgroup: bool) -> tuple[float, int, int]:
    """(seconds for the stop, processes the storm made, processes left after it)."""
    with tempfile.TemporaryDirectory(prefix="corral-storm-") as directory:
        root = Path(directory)
        pidfile = root / "pids"
        command = f"{sys.executable} {STORM} --pidfile {pidfile} --limit {limit}"
        (root / "corral.toml").write_text(
            f"[services.storm]\ncommand = {command!r}\nstop_timeout = '1s'\n"
        )
        env = {**os.environ, **({} if cgroup else {"CORRAL_CGROUP": "off"})}
        run = {"cwd": root, "env": env, "stdin": subprocess.DEVNULL, "capture_output": True}
        subprocess.run([*CORRAL, "start"], check=True, timeout=60, **run)  # type: ignore[call-overload]
        time.sleep(0.2)  # still growing
        begun = time.monotonic()
        subprocess.run([*CORRAL, "stop"], timeout=600, **run)  # type: ignore[call-overload]
        took = time.monotonic() - begun
        pids = [int(line.split()[0]) for line in pidfile.read_text().splitlines()]
        left = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
        return took, len(pids), len(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=700)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for cgroup in (True, False):
        results = [one_stop(args.limit, cgroup) for _ in range(args.runs)]
        times = [r[0] for r in results]
        made = max(r[1] for r in results)
        left = max(r[2] for r in results)
        label = "with cgroup.kill" if cgroup else "CORRAL_CGROUP=off"
        print(
            f"{label:>18}: stop {min(times):.2f} / {statistics.median(times):.2f} / "
            f"{max(times):.2f} s (min/median/max), up to {made} processes, {left} left"
        )


if __name__ == "__main__":
    main()
