"""The pre-tool-use hook: golden Claude Code payloads fed to the installed ``corral agent hook
pre-tool-use``; what must be denied is denied with the corral command to use, and everything
else passes with no output at all."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness import ProjectDir, corral_command, service_toml

WEB, API = 3417, 8127  # declared ports; nothing listens on them in these tests
CONFIG = (
    service_toml("web", "npm run dev", port=WEB, cwd="frontend")
    + service_toml("api", "python manage.py runserver 0.0.0.0:$PORT", port=API)
    + service_toml("puma", "ruby puma_server.rb")
    + service_toml("worker", ["python", "-m", "celery", "-A", "proj", "worker"])
    + '\n[agent]\nallow = ["npm run dev -- --inspect*"]\n'
)

DENIED = [  # (command, rule in the reason, corral command the reason names)
    ("npm run dev", "directly", "corral start web"),
    ("npm run dev &", "directly", "corral start web"),
    ("nohup npm run dev > dev.log 2>&1 &", "directly", "corral start web"),
    ("cd frontend && yarn dev", "directly", "corral start web"),
    ("pnpm run dev -- --port 3001", "directly", "corral start web"),
    ("PORT=3001 npx --yes npm run dev", "directly", "corral start web"),
    ("python manage.py runserver", "directly", "corral start api"),
    ("python3 manage.py runserver 8001 &", "directly", "corral start api"),
    ("./manage.py runserver 0.0.0.0:8127", "directly", "corral start api"),
    ("uv run python manage.py runserver", "directly", "corral start api"),
    ("ruby puma_server.rb", "directly", "corral start puma"),
    ("bundle exec ruby puma_server.rb &", "directly", "corral start puma"),
    ("celery -A proj worker --loglevel info", "directly", "corral start worker"),
    ("bash -c 'nohup python -m celery -A proj worker &'", "directly", "corral start worker"),
    (f"lsof -ti :{WEB} | xargs kill -9", "port", "corral stop web"),
    (f"kill -9 $(lsof -ti:{API})", "port", f"corral free {API}"),
    (f"kill `lsof -t -i tcp:{WEB}`", "port", "corral stop web"),
    (f"fuser -k {API}/tcp", "port", "corral stop api"),
    (f"npx kill-port {WEB}", "port", "corral stop web"),
    ("pkill -f 'manage.py runserver'", "by name", "corral stop api"),
    ("pkill -9 -f puma_server", "by name", "corral stop puma"),
    ("killall ruby", "by name", "corral stop puma"),
    (
        "ps aux | grep celery | grep -v grep | awk '{print $2}' | xargs kill",
        "by name",
        "corral stop worker",
    ),
    ("tail -f .corral/logs/web.log", "without end", "corral logs web"),
    ("tail -n 200 -F .corral/logs/api.log | grep ERROR", "without end", "corral logs api"),
]

PASSED = [
    "npm test",
    "npm run build",
    "npm install",
    "npm run dev -- --inspect=9229",  # the project's allow list
    "git status",
    "git commit -m 'kill -9 $(lsof -ti:3417)'",
    "corral start",
    "corral start web --tether auto",
    "corral logs web -n 100",
    "corral free 3417",
    "tail -n 100 .corral/logs/web.log",
    "tail -f /var/log/syslog",
    f"lsof -i :{WEB}",
    "lsof -ti :9 | xargs kill",
    "fuser 8127/tcp",
    "pkill -f pytest",
    "killall firefox",
    "python manage.py migrate",
    "python manage.py runserver --help",
    "celery -A proj inspect active",
    "echo 'npm run dev'",
    "grep -rn 'npm run dev' README.md",
    "python -c 'import this'",
    "pytest -x tests",
    "ls -la && make test",
    "cat 'unclosed",  # unparseable: not ours to judge
]


def hook(
    project: ProjectDir, payload: dict, env: dict | None = None
) -> subprocess.CompletedProcess[str]:  # type: ignore[type-arg]
    return subprocess.run(
        [*corral_command(), "agent", "hook", "pre-tool-use"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=project.root,
        env=env,
    )


def bash_payload(root: Path, command: str, **extra: object) -> dict:  # type: ignore[type-arg]
    return {
        "session_id": "0d6c2a1e-guard",
        "transcript_path": str(root / "transcript.jsonl"),
        "cwd": str(root),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "run it", **extra},
        "tool_use_id": "toolu_01",
    }


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRAL_HOOK_BUDGET", "20")  # the bound is a safety net, not tested here
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)


@pytest.fixture
def project(corral_project) -> ProjectDir:  # type: ignore[no-untyped-def]
    made = corral_project({"corral.toml": CONFIG})
    (made.root / "frontend").mkdir()
    return made


@pytest.mark.parametrize(("command", "rule", "suggested"), DENIED)
def test_a_direct_start_kill_or_endless_tail_is_denied_with_the_corral_command(
    project: ProjectDir, command: str, rule: str, suggested: str
) -> None:
    result = hook(project, bash_payload(project.root, command))
    assert result.returncode == 0 and result.stderr == ""
    answer = json.loads(result.stdout)
    assert list(answer) == ["hookSpecificOutput"]
    decision = answer["hookSpecificOutput"]
    assert decision["hookEventName"] == "PreToolUse"
    assert decision["permissionDecision"] == "deny"
    assert rule in decision["permissionDecisionReason"]
    assert suggested in decision["permissionDecisionReason"]


@pytest.mark.parametrize("command", PASSED)
def test_ordinary_commands_pass_untouched(project: ProjectDir, command: str) -> None:
    result = hook(project, bash_payload(project.root, command))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_run_in_background_is_named_in_the_reason(project: ProjectDir) -> None:
    payload = bash_payload(project.root, "npm run dev", run_in_background=True)
    reason = json.loads(hook(project, payload).stdout)["hookSpecificOutput"]
    assert "in the background does not change that" in reason["permissionDecisionReason"]


def test_other_tools_and_other_directories_pass(project: ProjectDir, tmp_path: Path) -> None:
    edit = {**bash_payload(project.root, ""), "tool_name": "Edit", "tool_input": {"file_path": "x"}}
    assert hook(project, edit).stdout == ""
    elsewhere = tmp_path / "not-a-project"
    elsewhere.mkdir()
    result = subprocess.run(
        [*corral_command(), "agent", "hook", "pre-tool-use"],
        input=json.dumps(bash_payload(elsewhere, "npm run dev")),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=elsewhere,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_broken_configuration_fails_open_with_one_line(project: ProjectDir) -> None:
    project.write("corral.toml", "[services.web\n")
    result = hook(project, bash_payload(project.root, "npm run dev"))
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.startswith("corral: pre-tool-use hook: corral.toml")
    assert result.stderr.count("\n") == 1


def test_unreadable_input_fails_open(project: ProjectDir) -> None:
    result = subprocess.run(
        [*corral_command(), "agent", "hook", "pre-tool-use"],
        input="{not json",
        capture_output=True,
        text=True,
        timeout=30,
        cwd=project.root,
    )
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "corral: pre-tool-use hook: the hook input is not JSON\n"


def test_the_allow_list_is_read_from_the_agent_table_and_checked(tmp_path: Path) -> None:
    from corral.config import load_project
    from corral.errors import ConfigError

    (tmp_path / "corral.toml").write_text(
        'name = "x"\n[agent]\nallow = ["npm run dev*"]\n[services.web]\ncommand = "npm run dev"\n'
    )
    assert load_project(tmp_path).settings.agent_allow == ("npm run dev*",)
    (tmp_path / "corral.toml").write_text(
        '[agent]\nalow = ["x"]\n[services.web]\ncommand = "npm run dev"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)
    assert "corral.toml:2" in caught.value.message and caught.value.hint == "did you mean 'allow'?"
