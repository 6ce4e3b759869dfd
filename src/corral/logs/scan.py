"""Reading a log file backwards in large blocks, with bytes operations only.

Every byte is read at most twice (a line longer than a block is walked once to find its start,
then its head is read), and memory stays within a few blocks whatever the line length: a line is
shown and matched up to ``LINE_LIMIT`` bytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from corral.logs.words import required_words

FIRST_BLOCK = 64 * 1024  # a tail of short lines needs one read of this size
BLOCK = 1024 * 1024  # blocks then double up to this
LINE_LIMIT = 64 * 1024  # bytes of one line shown and matched
# Constructs whose match can depend on text beyond the line: searched line by line instead.
CONTEXT = ("(?=", "(?!", "(?<", "(?>", "\\A", "\\Z", "\\z", "*+", "++", "?+", "}+")


@dataclass(frozen=True)
class Chunk:
    """Whole lines of a file, [start, end): ``data[first:]`` (``data`` is read from file position
    ``start - first``), or ``data`` None for one line longer than a block. ``first`` spares
    copying a block to drop its partial first line."""

    start: int
    end: int
    data: bytes | None
    first: int = 0


@dataclass(frozen=True)
class Span:
    """One line: its first byte, where its text ends (before the newline), its end (after it)."""

    start: int
    stop: int
    end: int


def chunks_backward(fd: int, lo: int, hi: int) -> Iterator[Chunk]:
    """The lines of [lo, hi) in chunks, last chunk first."""
    end, size = hi, FIRST_BLOCK
    while end > lo:
        begin = max(lo, end - size)
        data = os.pread(fd, end - begin, begin)
        if len(data) < end - begin:
            return  # truncated under us: what was there is gone
        size = min(size * 2, BLOCK)
        if begin == lo:
            yield Chunk(begin, end, data)
            return
        cut = data.find(b"\n")
        if 0 <= cut < len(data) - 1:
            yield Chunk(begin + cut + 1, end, data, cut + 1)
            end = begin + cut + 1
            continue
        start = line_start(fd, lo, begin)  # one line fills the whole block
        yield Chunk(start, end, None)
        end = start


def line_start(fd: int, lo: int, position: int) -> int:
    """Where the line holding the byte before ``position`` begins (not before ``lo``)."""
    while position > lo:
        begin = max(lo, position - BLOCK)
        at = os.pread(fd, position - begin, begin).rfind(b"\n")
        if at >= 0:
            return begin + at + 1
        position = begin
    return lo


def spans_backward(data: bytes, first: int = 0) -> Iterator[Span]:
    """The lines of ``data[first:]``, last first (positions in ``data``)."""
    high = len(data)
    while high > first:
        stop = high - 1 if data[high - 1] == 10 else high
        start = max(first, data.rfind(b"\n", first, stop) + 1)
        yield Span(start, stop, high)
        high = start


def long_line(fd: int, chunk: Chunk) -> tuple[Span, bytes]:
    """The span of a chunk that is one long line, and its first ``LINE_LIMIT`` bytes."""
    newline = os.pread(fd, 1, chunk.end - 1) == b"\n"
    stop = chunk.end - 1 if newline else chunk.end
    return Span(chunk.start, stop, chunk.end), os.pread(
        fd, min(LINE_LIMIT, stop - chunk.start), chunk.start
    )


def show(raw: bytes, length: int) -> str:
    """A line's text as shown (``raw`` holds its start, ``length`` is its whole length):
    decoded, and cut, saying so, past ``LINE_LIMIT`` bytes."""
    text = raw[:LINE_LIMIT].decode(errors="replace")
    return text if length <= LINE_LIMIT else f"{text}… [cut: the line has {length} bytes]"


class Matcher:
    """Finds the lines of a chunk that a regular expression matches, without decoding the rest.

    A line matches when the pattern matches its (decoded) text. Candidates are found in the whole
    chunk at once: by byte searches for the words every match contains (``words``), else by the
    pattern (made multi-line) on the decoded chunk; each candidate's line is then checked on its
    own. The chunk-wide search
    finds every line the pattern matches because a match inside a line is also a match inside
    the chunk at the same place, unless the pattern looks around or is anchored to the string's
    ends (``CONTEXT``): such patterns are checked on every line.
    """

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        source = pattern.pattern
        words = required_words(pattern)
        self.words = [_Literal(word) for word in words] if words else None
        self.wide: re.Pattern[str] | None = None
        if self.words is None and not any(mark in source for mark in CONTEXT):
            self.wide = re.compile(source, pattern.flags | re.MULTILINE)

    def matches(self, raw: bytes) -> bool:
        return self.pattern.search(raw[:LINE_LIMIT].decode(errors="replace")) is not None

    def spans(self, data: bytes, first: int = 0) -> list[Span]:
        """The matching lines of ``data[first:]``, first to last (positions in ``data``)."""
        if self.words is not None:
            return self._verified(data, first, _any([word.finder(data) for word in self.words]))
        if self.wide is None:
            return self._verified(data, first, lambda at: at if at < len(data) else -1)
        if data.isascii():
            text, wide = data.decode("ascii"), self.wide
            return self._verified(data, first, lambda at: _found(wide.search(text, at)))
        return self._unicode_spans(data, first)

    def _verified(self, data: bytes, first: int, find: Callable[[int], int]) -> list[Span]:
        found, at, size = [], first, len(data)
        while at <= size:
            hit = find(at)
            if hit < 0:
                break
            start = max(first, data.rfind(b"\n", first, hit) + 1) if hit < size else hit
            stop = data.find(b"\n", hit)
            stop = size if stop < 0 else stop
            if (start < stop or hit < size) and self.matches(data[start:stop]):
                found.append(Span(start, stop, min(stop + 1, size)))
            at = stop + 1
        return found

    def _unicode_spans(self, data: bytes, first: int) -> list[Span]:
        """As ``spans`` for a chunk with non-ASCII bytes: characters are not bytes there, so a
        candidate's line is found by counting newlines from the previous one."""
        assert self.wide is not None
        text = data[first:].decode(errors="replace")
        found: list[Span] = []
        char_at, byte_at = 0, first  # the start of one line, in characters and in bytes
        search_from = 0
        while (hit := self.wide.search(text, search_from)) is not None:
            line = text.rfind("\n", 0, hit.start()) + 1 if hit.start() < len(text) else len(text)
            for _ in range(text.count("\n", char_at, line)):
                byte_at = data.index(b"\n", byte_at) + 1
            char_at = line
            stop = data.find(b"\n", byte_at)
            stop = len(data) if stop < 0 else stop
            if byte_at < len(data) and self.matches(data[byte_at:stop]):
                found.append(Span(byte_at, stop, min(stop + 1, len(data))))
            following = text.find("\n", hit.start())
            if following < 0:
                break
            search_from = following + 1
        return found


class _Literal:
    """A byte search for a word. ``bytes.find`` runs at about 1 GB/s, a search for one byte at
    several: where one of the word's bytes is rare in the text (a word that is not there, say),
    that byte is searched for and the word checked around each hit."""

    RARE = 1 / 4096  # of the text: below this, the one-byte search pays

    def __init__(self, word: bytes) -> None:
        self.word = word
        self.anchor: tuple[int, bytes] | None = None
        self.chosen = False

    def finder(self, data: bytes) -> Callable[[int], int]:
        if not self.chosen:  # the first chunk's byte counts choose, once
            self.chosen = True
            if len(self.word) > 1 and data:
                lowest = min(set(self.word), key=lambda byte: data.count(bytes([byte])))
                self.anchor = (self.word.index(lowest), bytes([lowest]))
        word = self.word
        if self.anchor is None or data.count(self.anchor[1]) > len(data) * self.RARE:
            return lambda at: data.find(word, at)
        shift, byte = self.anchor

        def find(at: int) -> int:
            while (hit := data.find(byte, at + shift)) >= 0:
                if data.startswith(word, hit - shift):
                    return hit - shift
                at = hit - shift + 1
            return -1

        return find


def _any(finders: list[Callable[[int], int]]) -> Callable[[int], int]:
    """The first hit of any of the finders at or after a position."""
    if len(finders) == 1:
        return finders[0]
    known = [-2] * len(finders)  # each finder's last answer: still right for any later start

    def find(at: int) -> int:
        for number, finder in enumerate(finders):
            if known[number] != -1 and known[number] < at:
                known[number] = finder(at)
        hits = [hit for hit in known if hit >= 0]
        return min(hits) if hits else -1

    return find


def _found(match: re.Match[str] | None) -> int:
    return -1 if match is None else match.start()
