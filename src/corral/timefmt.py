"""Spans of time written for people: an uptime or an age (``3m07s``), and a duration as the
configuration spells it (``500ms``, ``2m``). No imports: ``corral status``'s fast path uses it."""

from __future__ import annotations


def format_elapsed(seconds: float) -> str:
    """An uptime or an age, to the two largest units: 45s, 3m07s, 2h05m, 4d3h."""
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def format_duration(seconds: float) -> str:
    """The shortest spelling that ``parse_duration`` reads back to the same value."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"
