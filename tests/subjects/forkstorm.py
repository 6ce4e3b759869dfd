"""A fork storm for stop tests: every process ignores SIGTERM, leaves its session (setsid) and
forks again, until ``--limit`` processes exist (counted in ``--pidfile``, one line each); then
each sleeps. Bounded, so that a failing test cannot take the machine down."""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("storm: ready", flush=True)
    while _claim(args.pidfile, args.limit):
        if os.fork() == 0:
            os.setsid()
            with open(args.pidfile, "a") as handle:
                handle.write(f"{os.getpid()} storm\n")
            continue  # the child forks on, like its parent
        time.sleep(0.005)
    while True:
        time.sleep(3600)


def _claim(path: str, limit: int) -> bool:
    """Take one of the ``limit`` places (a counter under a lock, so the bound holds)."""
    with open(path + ".count", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        taken = len(handle.read())
        if taken >= limit:
            return False
        handle.write("x")
        return True


if __name__ == "__main__":
    main()
