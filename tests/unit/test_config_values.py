"""Durations and Procfiles: examples plus properties that must hold for any input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.config.durations import parse_duration
from corral.config.procfile import parse_procfile
from corral.errors import ConfigError
from corral.timefmt import format_duration

PATH = Path("Procfile")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("10s", 10),
        ("2m", 120),
        ("1h", 3600),
        ("1m30s", 90),
        ("1.5s", 1.5),
        ("3", 3),
        (7, 7),
        (0.25, 0.25),
        (" 2s ", 2),
        ("0s", 0),
    ],
)
def test_durations_read_as_people_write_them(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "10 s", "s", "10x", "-1s", "1e3s", "ten", True, None, [1]])
def test_bad_durations_say_what_to_write(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(bad)


@given(st.integers(min_value=0, max_value=10**8))
def test_format_then_parse_gives_the_same_duration(millis: int) -> None:
    seconds = millis / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(), st.none(), st.booleans()))
def test_durations_either_parse_to_a_finite_non_negative_number_or_raise_value_error(
    value: object,
) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return
    assert 0 <= seconds < float("inf")


def test_procfile_reads_names_commands_and_lines() -> None:
    text = "# services\n\nweb: python -m http.server $PORT\n  worker:python w.py  \nw-2_x: a: b\n"
    entries = parse_procfile(text, PATH)
    assert [(e.name, e.command, e.line) for e in entries] == [
        ("web", "python -m http.server $PORT", 3),
        ("worker", "python w.py", 4),
        ("w-2_x", "a: b", 5),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("web python app.py\n", "Procfile:1: cannot read 'web python app.py'"),
        ("ok: a\nbad name: x\n", "Procfile:2: cannot read 'bad name: x'"),
        ("web:\n", "Procfile:1: service 'web' has no command"),
        ("web: a\n\nweb: b\n", "Procfile:3: service 'web' is defined twice (first on line 1)"),
    ],
)
def test_bad_procfile_lines_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_procfile(text, PATH)
    assert caught.value.message == message


names = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
commands = st.from_regex(r"[^\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]{1,40}", fullmatch=True).filter(
    lambda c: c.strip() != ""
)


@given(st.lists(st.tuples(names, commands), max_size=8, unique_by=lambda item: item[0]))
def test_procfile_round_trips_any_valid_entries(items: list[tuple[str, str]]) -> None:
    text = "".join(f"{name}: {command}\n# comment\n\n" for name, command in items)
    entries = parse_procfile(text, PATH)
    assert [(e.name, e.command) for e in entries] == [(n, c.strip()) for n, c in items]
    assert [e.line for e in entries] == [1 + 3 * i for i in range(len(items))]


@given(st.text(max_size=200))
def test_procfile_parser_only_ever_returns_entries_or_raises_config_error(text: str) -> None:
    try:
        entries = parse_procfile(text, PATH)
    except ConfigError as exc:
        assert exc.message.startswith("Procfile:")
        return
    assert len({entry.name for entry in entries}) == len(entries)
