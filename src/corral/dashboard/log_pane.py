"""The dashboard's log pane: one service's log, followed as it grows, scrolled back by the user,
filtered by a regular expression, and searched (matches highlighted, ``n``/``N`` step between
them). Lines come from the log files through ``corral.logs``, as ``corral logs -f`` reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual.widgets import RichLog

from corral import logs
from corral.logs.escapes import strip

LOG_LINES = 200  # read when a log is first shown
KEEP_LINES = 1000  # kept while following; beyond it the oldest go
RELOAD_BEHIND = 1024 * 1024  # bytes: a log that ran this far ahead is read again from its end


class LogPane(RichLog):
    def __init__(self) -> None:
        super().__init__(id="log", wrap=False, markup=False)
        self.shown: tuple[str, str | None] | None = None  # (service, filter) on screen
        self.cursor: logs.Cursor | None = None
        self.texts: list[str] = []  # the lines on screen, escapes stripped
        self.grep: re.Pattern[str] | None = None  # the filter: only matching lines are shown
        self.search: re.Pattern[str] | None = None  # highlighted; n and N step between matches
        self.at: int | None = None  # the index of the match the search is at

    # ---- following ---------------------------------------------------------------------------

    def show(self, state_dir: Path, service: str) -> None:
        """Show ``service``'s log: read on where the screen ends, or from the end if the service,
        the filter or the place in the log changed."""
        key = (service, self.grep.pattern if self.grep else None)
        behind = self.cursor is not None and (
            logs.logical_end(state_dir, service) - self.cursor.offset > RELOAD_BEHIND
        )
        if key != self.shown or self.cursor is None or behind:
            self._load(state_dir, service, key)
            return
        fresh = [strip(line) for line in self.cursor.lines() if self._passes(line)]
        if fresh:
            self._append(fresh)

    def forget(self) -> None:
        """The pane showed something else (doctor's report): read the log again next time."""
        self.shown = None

    def filter(self, grep: re.Pattern[str] | None) -> None:
        self.grep = grep
        self.shown = None

    def _passes(self, line: str) -> bool:
        return self.grep is None or self.grep.search(line) is not None

    def _load(self, state_dir: Path, service: str, key: tuple[str, str | None]) -> None:
        found, end = logs.tail_to_end(state_dir, service, LOG_LINES, self.grep)
        self.shown, self.cursor = key, logs.Cursor(state_dir, service, end)
        self.texts = [strip(line.text) for line in found]
        self.at = None
        self._render_all(follow=True)

    def _append(self, fresh: list[str]) -> None:
        following = self.is_vertical_scroll_end or not self.texts
        self.texts += fresh
        if len(self.texts) > KEEP_LINES:  # trim in one step, well below the limit
            self.texts = self.texts[-KEEP_LINES // 2 :]
            self.at = None
            self._render_all(follow=following)
            return
        for text in fresh:
            self.write(self._styled(text), scroll_end=following)

    def _render_all(self, follow: bool) -> None:
        top = self.scroll_y
        self.clear()
        for text in self.texts:
            self.write(self._styled(text), scroll_end=False)
        if follow:
            self.scroll_end(animate=False, immediate=False)
        else:
            self.scroll_to(y=top, animate=False)

    def _styled(self, text: str) -> str | Text:
        if self.search is None or self.search.search(text) is None:
            return text
        styled = Text(text)
        styled.highlight_regex(self.search, style="reverse")
        return styled

    # ---- searching ---------------------------------------------------------------------------

    def find(self, search: re.Pattern[str] | None) -> str:
        """Highlight ``search``'s matches and go to the newest; says what it found."""
        self.search, self.at = search, None
        # Following would scroll to the end after the next refresh, away from the match.
        self._render_all(follow=search is None)
        if search is None:
            return ""
        return self.step(-1)

    def step(self, direction: int) -> str:
        """Go to the next older (-1) or newer (+1) match; says which of how many it is."""
        if self.search is None:
            return "no search: press f to search the log"
        matches = [n for n, text in enumerate(self.texts) if self.search.search(text)]
        if not matches:
            return f"no line matches {self.search.pattern!r}"
        if self.at is None:
            self.at = matches[-1] if direction < 0 else matches[0]
        else:
            older = [n for n in matches if n < self.at]
            newer = [n for n in matches if n > self.at]
            if direction < 0:
                self.at = older[-1] if older else matches[-1]  # past the oldest: round again
            else:
                self.at = newer[0] if newer else matches[0]
        self.scroll_to(y=max(0, self.at - self.size.height // 2), animate=False)
        return (
            f"match {matches.index(self.at) + 1} of {len(matches)} for "
            f"{self.search.pattern!r} (n: older, N: newer)"
        )
