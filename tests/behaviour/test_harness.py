"""The harness itself: the leak check must catch a leak, and must not see one where none is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import harness

HARNESS = Path(harness.__file__)

LEAKING_TEST = """
import os, subprocess, sys

def test_leaks_a_process(corral_project):
    project = corral_project()
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, "CORRAL_PROJECT_ID": project.id},
        start_new_session=True,
    )
    open(os.environ["PID_FILE"], "w").write(str(child.pid))
"""

CLEAN_TEST = """
import os, subprocess, sys

def test_cleans_up(corral_project):
    project = corral_project()
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, "CORRAL_PROJECT_ID": project.id},
    )
    child.kill()
    child.wait()
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.timeout(60)
def test_leak_check_fails_a_leaking_test_and_kills_the_leak(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(HARNESS.read_text())
    pytester.makepyfile(test_inner=LEAKING_TEST)
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("PID_FILE", str(pid_file))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test leaked 1 process(es), now killed: pid *time.sleep(120)*"])
    assert not _alive(int(pid_file.read_text()))


@pytest.mark.timeout(60)
def test_leak_check_passes_a_test_that_cleans_up(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(HARNESS.read_text())
    pytester.makepyfile(test_inner=CLEAN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_every_test_gets_a_token_that_children_inherit(leak_guard) -> None:  # type: ignore[no-untyped-def]
    assert os.environ["CORRAL_TEST_TOKEN"] == leak_guard.token
