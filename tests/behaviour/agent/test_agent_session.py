"""The session-start and session-end hooks, fed golden Claude Code payloads on stdin through
the installed ``corral agent hook``: documented output, exit 0, bounded, failing open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from behaviour.agent.payloads import end_payload, run_hook, start_payload
from harness import hostile, service_toml

SOURCES = ["startup", "resume", "clear", "compact"]
REASONS = ["clear", "logout", "prompt_input_exit", "bypass_permissions_disabled", "other"]


@pytest.fixture(autouse=True)
def no_outer_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORRAL_AGENT_SESSION", raising=False)
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    monkeypatch.delenv("CLAUDE_ENV_FILE", raising=False)
    # the hooks' one-second bound is a safety net, measured in bench/hooks.py; on a loaded
    # machine it must not decide what these tests see
    monkeypatch.setenv("CORRAL_HOOK_BUDGET", "20")


def brief_of(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    return str(answer["hookSpecificOutput"]["additionalContext"])


@pytest.mark.parametrize("source", SOURCES)
def test_session_start_exports_the_session_id_and_says_nothing_when_nothing_runs(
    corral_project,
    tmp_path: Path,
    source: str,  # type: ignore[no-untyped-def]
) -> None:
    project = corral_project({"corral.toml": service_toml("web", hostile())})
    env_file = tmp_path / "session.env"
    env_file.write_text("export EARLIER=1\n")
    session = f"5f0e-{source}"
    result = run_hook(
        project,
        "session-start",
        start_payload(project.root, session, source),
        {"CLAUDE_ENV_FILE": str(env_file)},
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert env_file.read_text() == f"export EARLIER=1\nexport CORRAL_AGENT_SESSION={session}\n"
    assert not (project.root / ".corral").exists()  # nothing there: nothing written either


@pytest.mark.parametrize("reason", REASONS)
def test_session_end_with_nothing_of_the_session_running_does_nothing(
    corral_project,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    project = corral_project({"corral.toml": service_toml("web", hostile())})
    assert project.run("start").returncode == 0  # untethered, no session: not the hook's
    result = run_hook(project, "session-end", end_payload(project.root, "a-session", reason))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    status = json.loads(project.run("status", "--json").stdout)
    assert status["services"][0]["state"] == "ready"
    assert project.run("stop").returncode == 0


def test_the_brief_reports_a_crash_once_then_nothing(corral_project) -> None:  # type: ignore[no-untyped-def]
    # a settle time long enough that the crash comes before "ready" even on a loaded machine
    config = "settle_time = '5s'\n" + service_toml("job", hostile("--crash", "3"))
    project = corral_project({"corral.toml": config})
    assert project.run("start").returncode == 1
    text = brief_of(run_hook(project, "session-start", start_payload(project.root, "s1")))
    assert "Since the last look:" in text
    assert "`job` exited (exit code 3)" in text and "`corral logs job -n 50`" in text
    again = run_hook(project, "session-start", start_payload(project.root, "s2", "resume"))
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    project.run("stop")


def test_a_broken_configuration_is_news_for_the_session(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"corral.toml": '[services.web]\ncomand = "x"\n'})
    text = brief_of(run_hook(project, "session-start", start_payload(project.root, "s1")))
    assert text.startswith("corral: this project's configuration does not load: corral.toml:2")
    assert "did you mean 'command'?" in text


@pytest.mark.timeout(60)
def test_hooks_answer_and_fail_open_when_the_supervisor_hangs(corral_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CORRAL_HOOK_BUDGET")  # the real bound
    project = corral_project({"corral.toml": service_toml("web", hostile())})
    assert project.run("start").returncode == 0
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    supervisor = state["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGSTOP)
    try:
        for name, payload in (
            ("session-start", start_payload(project.root, "s1")),
            ("session-end", end_payload(project.root, "s1")),
        ):
            begun = time.monotonic()
            result = run_hook(project, name, payload)
            assert time.monotonic() - begun < 10  # a hang check; the bound itself is in bench
            assert (result.returncode, result.stdout) == (0, "")
            assert (
                result.stderr
                == f"corral: {name} hook: no answer within 1s; going on without corral\n"
            )
    finally:
        os.kill(supervisor, signal.SIGCONT)
    assert project.run("stop").returncode == 0
