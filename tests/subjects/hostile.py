"""A test subject that misbehaves on request, to prove that corral stops it anyway.

Every process it becomes appends "<pid> <role>" to --pidfile, so a test knows exactly which
processes must be gone afterwards. It prints "ready" once set up, then sleeps.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time


def record(args: argparse.Namespace, role: str) -> None:
    if args.pidfile:
        with open(args.pidfile, "a") as handle:
            handle.write(f"{os.getpid()} {role}\n")


def ignore_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def serve(args: argparse.Namespace, role: str) -> None:
    """The body every variant ends in: maybe listen, say ready, sleep until told otherwise."""
    record(args, role)
    if args.ignore_signals:
        ignore_signals()
    if args.slow_stop:

        def slow(*_: object) -> None:
            print(f"{role}: stopping slowly", flush=True)
            time.sleep(args.slow_stop)
            print(f"{role}: done", flush=True)
            os._exit(0)

        signal.signal(signal.SIGTERM, slow)
    listener = None
    if args.listen:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", args.listen))
        listener.listen()
    print(f"{role}: ready", flush=True)
    while True:
        time.sleep(3600)


def daemonize(args: argparse.Namespace) -> None:
    """Classic double fork: the service's own process sleeps on; the daemon escapes its group
    (and its session, unless ``--keep-session``: a new group only, as ``setpgid`` makes)."""
    if os.fork() == 0:
        if args.keep_session:
            os.setpgid(0, 0)
        else:
            os.setsid()
        if os.fork() == 0:
            if args.close_fds:  # the lifeline too: only stdio stays
                os.closerange(3, 4096)
            if args.scrub_env:
                os.execve(sys.executable, [sys.executable, __file__, *_body_args(args)], {})
            serve(args, "daemon")
        time.sleep(args.linger)  # a slow daemonizer: its middle process outlives the fork
        os._exit(0)
    record(args, "parent")
    print("parent: ready", flush=True)
    while True:
        time.sleep(3600)


def setsid_child(args: argparse.Namespace) -> None:
    if os.fork() == 0:
        os.setsid()
        serve(args, "setsid-child")
    record(args, "parent")
    while True:
        time.sleep(3600)


def _body_args(args: argparse.Namespace) -> list[str]:
    out = ["--role", "daemon", *(["--pidfile", args.pidfile] if args.pidfile else [])]
    if args.listen:
        out += ["--listen", str(args.listen)]
    if args.ignore_signals:
        out.append("--ignore-signals")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pidfile")
    parser.add_argument("--role", default="main", help="what this process calls itself")
    parser.add_argument("--listen", type=int)
    parser.add_argument("--ignore-signals", action="store_true")
    parser.add_argument("--slow-stop", type=float, default=0)
    parser.add_argument("--double-fork", action="store_true")
    parser.add_argument("--setsid-child", action="store_true")
    parser.add_argument("--scrub-env", action="store_true")
    parser.add_argument("--keep-session", action="store_true", help="the double fork: no setsid")
    parser.add_argument("--linger", type=float, default=0, help="the double fork's middle waits")
    parser.add_argument("--close-fds", action="store_true", help="the daemon closes fds >= 3")
    parser.add_argument("--crash", type=int)
    parser.add_argument("--flood", type=int, help="write this many bytes to stdout first")
    args = parser.parse_args()
    if args.flood:
        chunk = b"x" * 1023 + b"\n"
        for _ in range(args.flood // len(chunk)):
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        print("flood: done", flush=True)
    if args.crash is not None:
        print("crash: starting up", flush=True)
        print("crash: cannot open the database", file=sys.stderr, flush=True)
        sys.exit(args.crash)
    if args.double_fork:
        daemonize(args)
    elif args.setsid_child:
        setsid_child(args)
    else:
        serve(args, args.role)


if __name__ == "__main__":
    main()
