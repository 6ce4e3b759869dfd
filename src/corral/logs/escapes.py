"""Terminal escapes in log lines: kept in the file as the service wrote them (a service on a
terminal colours its output), and taken out for readers that are not a terminal."""

from __future__ import annotations

import re

# CSI (colours, cursor moves), OSC (titles, links; ended by BEL or ST), other two-byte escapes,
# and the C0 controls a terminal acts on instead of showing (tab is kept).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)
_ANY = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")  # the usual line has none: one scan


def strip(text: str) -> str:
    """``text`` as a terminal would leave it to read: escapes out, and of a line redrawn with
    carriage returns (a progress bar) its last drawing."""
    if _ANY.search(text) is None:
        return text
    text = _ESCAPES.sub("", text)
    if "\r" in text:
        parts = [part for part in text.split("\r") if part]
        text = parts[-1] if parts else ""
    return text
