"""Output: human text (coloured only on a TTY without NO_COLOR) or one JSON document."""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: start-up time matters here
if TYPE_CHECKING:  # kept out of start-up: `corral status` is on agents' hot path
    import argparse
    from typing import IO, Any

    from corral.errors import CorralError

_COLOURS = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


class Output:
    def __init__(self, json: bool, colour: bool, tty: bool, stdout: IO[str], stderr: IO[str]):
        self.json = json
        self.colour = colour
        self.tty = tty
        self.stdout = stdout
        self.stderr = stderr

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Output:
        return cls.standard(bool(getattr(args, "json", False)))

    @classmethod
    def for_words(cls, words: list[str]) -> Output:
        """For an error found while parsing: JSON if the words ask for it anywhere."""
        return cls.standard(
            "--json" in words[: words.index("--")] if "--" in words else "--json" in words
        )

    @classmethod
    def standard(cls, want_json: bool) -> Output:
        """On stdout and stderr; JSON when asked (or CORRAL_JSON=1); colour only on a terminal
        without NO_COLOR."""
        tty = sys.stdout.isatty()
        colour = tty and not os.environ.get("NO_COLOR")
        return cls(
            want_json or os.environ.get("CORRAL_JSON") == "1", colour, tty, sys.stdout, sys.stderr
        )

    def _write_json(self, document: dict[str, Any]) -> None:
        """Indented for a person at a terminal; otherwise compact, by json's C encoder (an
        indented document is encoded in pure Python: +12 ms for a status of 200 services)."""
        if self.tty:
            text = json.dumps(document, indent=2, default=str)
        else:
            text = json.dumps(document, separators=(",", ":"), default=str)
        self.stdout.write(text + "\n")

    def paint(self, text: str, style: str) -> str:
        if not self.colour:
            return text
        codes = ";".join(_COLOURS[name] for name in style.split())
        return f"\033[{codes}m{text}\033[0m"

    def line(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def document(self, payload: dict[str, Any]) -> None:
        self._write_json({"ok": True, **payload})

    def error(self, exc: CorralError, **fields: Any) -> None:
        if self.json:
            from corral.errors import error_document

            self._write_json(error_document(exc, **fields))
        else:
            print(f"corral: error: {exc.render()}", file=self.stderr)


def load_project_for(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The project the arguments select (``-C``, ``-f``)."""
    from pathlib import Path

    from corral.config import load_project

    file = Path(args.file) if getattr(args, "file", None) else None
    project = load_project(Path(args.directory), file, overrides=_overrides(args))
    for warning in project.warnings:
        print(f"corral: warning: {warning}", file=sys.stderr)
    return project


def _overrides(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """-p, -e and -m, where the command has them (paths as typed, from -C's directory)."""
    from pathlib import Path

    from corral.config import Overrides

    given = getattr(args, "env_file", None)
    files = None
    if given:
        names = [name for item in given for name in item.split(",") if name]
        files = tuple((Path(args.directory) / name).resolve() for name in names)
    return Overrides(
        port=getattr(args, "port", None),
        env_files=files,
        formation=getattr(args, "formation", None),
    )
