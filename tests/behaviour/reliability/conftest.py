"""The containment tests run twice: their subjects on pipes (the default) and on a terminal
(``tty = true``), which must not weaken any layer (a pty session leader, SIGHUP on close).

The terminal variant runs with the linux layer only: the pty is the supervisor's, the same on
both layers, while what differs between the layers (how members are found) is what the pipe
variant already covers on each; running it twice more would cost CI about 90 s."""

from __future__ import annotations

import pytest

import harness
from corral import oslayer

ON_A_TERMINAL_TOO = {"test_escapes", "test_faults", "test_races", "test_safety"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.rsplit(".", 1)[-1] in ON_A_TERMINAL_TOO and not oslayer.PORTABLE:
        metafunc.fixturenames.append("subject_terminal")
        metafunc.parametrize("subject_terminal", ["pipes", "tty"], indirect=True)


@pytest.fixture
def subject_terminal(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "tty":
        harness.SUBJECT_OPTIONS["tty"] = True
    try:
        yield request.param
    finally:
        harness.SUBJECT_OPTIONS.clear()
