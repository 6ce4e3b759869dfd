"""The README's foreman/honcho/Overmind -> corral table: every corral command it shows parses."""

from __future__ import annotations

import re
import shlex

import pytest

from corral.cli.parser import build_parser
from harness import REPO

README = REPO / "README.md"


def corral_examples() -> list[str]:
    text = README.read_text()
    section = text.split("## Coming from foreman, honcho or Overmind", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    examples = []
    for row in rows[1:]:  # the header is not an example
        corral_cell = row.rstrip(" |").rsplit(" | ", 1)[1]
        examples += re.findall(r"`(corral [^`]*)`", corral_cell)
    return examples


def test_the_table_has_a_corral_example_on_most_rows() -> None:
    assert len(corral_examples()) >= 20


@pytest.mark.parametrize("example", corral_examples())
def test_every_corral_example_in_the_table_parses(example: str) -> None:
    words = shlex.split(example)[1:]
    words = [w.replace("DIR", "/tmp").replace("...", "true") for w in words]
    args = build_parser().parse_args(words)  # a usage error raises
    assert args.handler is not None
