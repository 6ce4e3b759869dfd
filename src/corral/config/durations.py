"""Durations as people write them in config files: ``500ms``, ``10s``, ``2m``, ``1m30s``."""

from __future__ import annotations

import re

# The longest duration any setting accepts: longer ones overflow the event loop's timers and
# mean "never" in practice, which is better said by leaving the setting out.
MAX_DURATION = 30 * 24 * 3600.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+")


def parse_duration(value: object) -> float:
    """Seconds from a number (taken as seconds) or a string such as ``'1m30s'``.

    Raises ValueError with a message fit to show a user.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a duration such as '500ms', '10s' or '2m', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        else:
            raise ValueError(
                f"cannot read duration {value!r}: use a number with ms, s, m or h, e.g. '500ms'"
            )
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"duration must be a finite number of seconds >= 0, got {value!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {value!r} is longer than the maximum of 30 days ('720h')")
    return seconds
