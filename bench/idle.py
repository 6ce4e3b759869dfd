"""Idle cost at 10 and 200 services: corral's supervisor and guard against supervisord.

    python bench/idle.py [--n 10 200] [--rounds 2] [--window 20] [--out FILE]

Both run the same tiny_http services (bench/tiny_http.c, built by bench/scale.py) and are left
alone: corral past its runs' settling time (corral.supervisor.housekeeping.SETTLING), supervisord
after its services listen. CPU time is read from each thread's schedstat (nanoseconds) over the
window; rounds alternate corral and supervisord so that the machine's drift weighs on both.
supervisord comes from bench/.peers (``python bench/run.py`` installs it there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from run import cpu_and_rss, free_ports, peer, supervisord, wait_ports
from scale import build_server, corral_idle

SUPERVISORD_SETTLE = 5.0  # seconds after every service listens


def supervisord_idle(server: str, count: int, window: float) -> float:
    ports = free_ports(count)
    with supervisord(ports, command=server) as conf:
        wait_ports(ports)
        pid = int((conf.parent / "d.pid").read_text())
        time.sleep(SUPERVISORD_SETTLE)
        before, _ = cpu_and_rss([pid])
        time.sleep(window)
        after, _ = cpu_and_rss([pid])
    return after - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not Path(peer("supervisord")).exists():
        print("bench/.peers has no supervisord: run python bench/run.py once", file=sys.stderr)
        return 1
    server, note = build_server()
    rows = [
        f"- service: {note}; {args.rounds} alternating rounds of {args.window:g} s; "
        "min / median / max, % of one core",
        "",
        "| N | corral (supervisor + guard) | supervisord | corral / supervisord |",
        "|---|---|---|---|",
    ]
    for count in args.n:
        ours, theirs = [], []
        for _ in range(args.rounds):
            cpu, _rss = corral_idle(server, count, args.window)
            ours.append(cpu / args.window * 100)
            theirs.append(supervisord_idle(server, count, args.window) / args.window * 100)
            print(f"N={count}: corral {ours[-1]:.3f}%, supervisord {theirs[-1]:.3f}%", flush=True)
        rows.append(
            f"| N={count} | {_spread(ours)} | {_spread(theirs)} | "
            f"{statistics.median(ours) / statistics.median(theirs):.2f}x |"
        )
    table = "\n".join(rows)
    print(table)
    if args.out is not None:
        with args.out.open("a") as handle:
            handle.write(table + "\n")
    return 0


def _spread(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f} %"


if __name__ == "__main__":
    sys.exit(main())
