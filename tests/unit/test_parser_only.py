"""A command's parser built alone (the full path's start-up) parses and helps exactly as the
whole parser does."""

from __future__ import annotations

import argparse

import pytest

from corral.cli.parser import build_parser, command_word


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_a_command_built_alone_has_the_same_help(name: str) -> None:
    alone = build_parser(name)
    action = next(a for a in alone._actions if isinstance(a, argparse._SubParsersAction))
    assert name in action.choices and len(set(map(id, action.choices.values()))) == 1
    assert action.choices[name].format_help() == _commands()[name].format_help()


@pytest.mark.parametrize(
    ("words", "word"),
    [
        (["logs", "web", "-n", "5"], "logs"),
        (["-C", "logs", "config"], "config"),
        (["--json", "-f", "x.toml", "stop", "a"], "stop"),
        (["-Cdir", "ps"], "ps"),
        (["--help"], None),
        (["-h", "logs"], None),
        (["--version"], None),
        (["no-such-command"], None),
        ([], None),
    ],
)
def test_the_command_word(words: list[str], word: str | None) -> None:
    assert command_word(words) == word


def test_the_same_words_parse_to_the_same_namespace() -> None:
    words = ["-C", "/tmp", "logs", "web", "-n", "5", "--json"]
    assert build_parser(command_word(words)).parse_args(words) == build_parser().parse_args(words)
