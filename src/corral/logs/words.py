"""Words that every match of a regular expression contains: ``ERROR|WARN`` must contain
``ERROR`` or ``WARN``. A grep searches for them with fast byte searches and runs the expression
only on the lines that hold one.

The expression is read with the standard library's own parser (``re._parser``, private but
stable since 3.11); if it ever changes shape, ``required_words`` answers None and the grep falls
back to running the expression over whole blocks.
"""

from __future__ import annotations

import re
from typing import Any

Words = list[str]


def required_words(pattern: re.Pattern[str]) -> list[bytes] | None:
    """Words (as UTF-8) one of which is in the text of every match, or None if unknown."""
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern.pattern, pattern.flags)
        if parsed.state.flags & re.IGNORECASE:
            return None
        words = _Reader(_constants).sequence(list(parsed))
    except Exception:  # a parser of another shape: do without
        return None
    if not words or any("\ufffd" in word for word in words):
        return None
    return [word.encode() for word in words]


class _Reader:
    def __init__(self, constants: Any) -> None:
        self.c = constants

    def sequence(self, items: list[tuple[Any, Any]]) -> Words | None:
        """The best requirement of a sequence: its longest literal run, or the requirement of a
        group, alternation or repetition it must go through (judged by its shortest word)."""
        best: Words | None = None
        run: list[str] = []

        def consider(words: Words | None) -> None:
            nonlocal best
            if words and (best is None or _weight(words) > _weight(best)):
                best = words

        for op, value in items:
            if op is self.c.LITERAL:
                run.append(chr(value))
                continue
            if run:
                consider(["".join(run)])
                run = []
            consider(self._inner(op, value))
        if run:
            consider(["".join(run)])
        return best

    def _inner(self, op: Any, value: Any) -> Words | None:
        c = self.c
        if op is c.SUBPATTERN:
            _group, added, _removed, inner = value
            return None if added & re.IGNORECASE else self.sequence(list(inner))
        if op is c.ATOMIC_GROUP:
            return self.sequence(list(value))
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and value[0] >= 1:
            return self.sequence(list(value[2]))
        if op is c.BRANCH:
            branches = [self.sequence(list(branch)) for branch in value[1]]
            if all(branches):
                return [word for branch in branches for word in branch or []]
        return None


def _weight(words: Words) -> int:
    return min(len(word) for word in words)
