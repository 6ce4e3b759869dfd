"""How long ``corral ui`` takes to show the service list: launched in a private 80x24 tmux pane
against a running project, the pane read every 10 ms until a service's row shows its state.

    python bench/ui.py [--rounds 5]

Needs tmux and the ui extra. The project (two ``sleep`` services in a temporary directory) is
started with ``corral start`` and stopped with ``corral stop`` at the end.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CORRAL = [str(Path(sys.executable).parent / "corral")]


def first_paint(root: Path) -> tuple[float, float]:
    """Seconds until a service's row shows its state, and until the dashboard's keys show."""
    base = ["tmux", "-L", f"corral-bench-{uuid.uuid4().hex[:8]}"]
    command = shlex.join([*CORRAL, "ui", "-C", str(root)])
    begun = time.monotonic()
    subprocess.run([*base, "new-session", "-d", "-x", "80", "-y", "24", command], check=True)
    row = None
    try:
        while time.monotonic() - begun < 10:
            screen = subprocess.run(
                [*base, "capture-pane", "-p"], capture_output=True, text=True
            ).stdout
            now = time.monotonic() - begun
            if row is None and any(
                line.split()[:2] == ["one", "ready"] for line in screen.splitlines()
            ):
                row = now
            if row is not None and "q quit" in screen:
                return row, now
            time.sleep(0.01)
        raise SystemExit("corral ui showed no dashboard within 10 s")
    finally:
        subprocess.run([*base, "kill-server"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "Procfile").write_text("one: sleep 600\ntwo: sleep 600\n")
        subprocess.run([*CORRAL, "start", "-C", str(root)], check=True, capture_output=True)
        try:
            samples = [first_paint(root) for _ in range(args.rounds)]
        finally:
            subprocess.run([*CORRAL, "stop", "-C", str(root)], capture_output=True)
    for what, figures in (
        ("services and states on screen", [row for row, _ in samples]),
        ("the dashboard's keys on screen", [keys for _, keys in samples]),
    ):
        low, mid, high = min(figures), statistics.median(figures), max(figures)
        print(f"| corral ui, {what} (2 services, 80x24) | {low:.2f} / {mid:.2f} / {high:.2f} s |")


if __name__ == "__main__":
    main()
