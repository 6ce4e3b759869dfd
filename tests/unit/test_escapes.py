"""What ``corral logs`` shows of a line a service wrote on its terminal, without colour."""

from __future__ import annotations

import pytest

from corral.logs.escapes import strip


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("plain text\twith a tab", "plain text\twith a tab"),
        ("\x1b[1;31merror\x1b[0m: failed", "error: failed"),
        ("\x1b[38;5;208morange\x1b[m", "orange"),
        ("\x1b]0;window title\x07prompt $ ", "prompt $ "),
        ("\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b[2K\x1b[1Gbuilding", "building"),
        (" 10%\r 50%\r100% done", "100% done"),
        ("trailing return\r", "trailing return"),
        ("bell\x07 and backspace\x08", "bell and backspace"),
        ("\x1b(Bcharset", "charset"),
    ],
)
def test_strip_leaves_what_a_terminal_would_show(written: str, shown: str) -> None:
    assert strip(written) == shown
