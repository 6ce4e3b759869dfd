"""The parts of python-dotenv that corral.config.envfiles relies on beyond its documented API
(``dotenv.parser.parse_stream`` for line numbers of bad lines, ``dotenv.variables`` for
interpolation against corral's own layers). pyproject pins ``<2``; these tests catch a 1.x
release that changes them, before a user's .env is read wrongly."""

from __future__ import annotations

import io
from importlib.metadata import version
from pathlib import Path

import pytest

from corral.config.envfiles import read_env_file
from corral.errors import ConfigError


def test_the_installed_release_is_within_the_pin() -> None:
    major = int(version("python-dotenv").split(".")[0])
    assert major == 1, "envfiles.py uses python-dotenv's parser: check it before allowing 2.x"


def test_parse_stream_gives_bindings_with_errors_and_line_numbers() -> None:
    from dotenv.parser import parse_stream

    bindings = list(parse_stream(io.StringIO("A=1\n\nB='two'\nnot a line\n")))
    assert [(b.key, b.value, b.error) for b in bindings if b.key] == [
        ("A", "1", False),
        ("B", "two", False),
    ]
    bad = [b for b in bindings if b.error]
    assert len(bad) == 1
    assert bad[0].original.line == 4 and bad[0].original.string.strip() == "not a line"


def test_parse_variables_resolves_against_a_mapping() -> None:
    from dotenv.variables import parse_variables

    atoms = parse_variables("${A}-${MISSING:-fallback}-$literal")
    assert "".join(atom.resolve({"A": "a"}) for atom in atoms) == "a-fallback-$literal"


def test_read_env_file_keeps_its_documented_behaviour(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text('BASE=${HOME_DIR}/x\nREF=${BASE}/y\nQUOTED="a b"\nEMPTY=\nBARE\n')
    values = read_env_file(path, {"HOME_DIR": "/h"}, inherited={})
    assert values == {"BASE": "/h/x", "REF": "/h/x/y", "QUOTED": "a b", "EMPTY": ""}
    path.write_text("A=1\nthis is not valid\n")
    with pytest.raises(ConfigError) as caught:
        read_env_file(path, inherited={})
    assert caught.value.line == 2
