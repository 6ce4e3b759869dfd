"""Pseudo-terminals: the few POSIX calls a service on a terminal needs (Linux and macOS alike).

The supervisor opens the pair and keeps the master; the child makes the slave its controlling
terminal as the leader of a new session. Loaded only for services with ``tty = true``.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios


def open_pty(columns: int, rows: int) -> tuple[int, int]:
    """A (master, slave) pair, both close-on-exec, the window already ``columns`` x ``rows``.
    The master is non-blocking: the supervisor's event loop reads and writes it."""
    master, slave = os.openpty()
    set_window_size(master, columns, rows)
    os.set_blocking(master, False)
    return master, slave


def set_window_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def window_size(fd: int) -> tuple[int, int]:
    rows, columns, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return columns, rows


def take_terminal(slave: int) -> None:
    """In the child, before exec: lead a new session (which is also a new process group, so
    killpg of the leader's pid reaches it as for any service) with ``slave`` as its controlling
    terminal, on stdin, stdout and stderr."""
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
