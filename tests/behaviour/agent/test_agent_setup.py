"""``corral agent setup`` merges into what is there; ``remove`` restores it byte for byte;
``--dry-run`` prints the diff and writes nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import ProjectDir, check_schema, service_toml

EXISTING_SETTINGS = """{
    "permissions": {
        "allow": ["Bash(npm test)", "Read(./src/**)"]
    },
    "env": {"FOO": "bär"},
    "hooks": {
        "PreToolUse": [
            {
                "matcher": "Bash",
                "hooks": [{"type": "command", "command": "./scripts/audit.sh"}]
            }
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
    }
}
"""
EXISTING_CLAUDE_MD = "# Shop\n\nRun `make test` before committing.\n"


def make(corral_project) -> ProjectDir:  # type: ignore[no-untyped-def]
    return corral_project(
        {
            "corral.toml": service_toml("web", "npm run dev", port=3417)
            + service_toml("worker", "python worker.py"),
            ".claude/settings.json": EXISTING_SETTINGS,
            "CLAUDE.md": EXISTING_CLAUDE_MD,
        }
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".corral" not in p.parts
    }


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_setup_keeps_everything_and_remove_restores_it_byte_for_byte(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = make(corral_project)
    before = snapshot(project.root)
    out = ok(project.run("agent", "setup"))
    assert "updated .claude/settings.json" in out and "created AGENTS.md" in out
    settings = json.loads((project.root / ".claude/settings.json").read_text())
    assert settings["permissions"] == {"allow": ["Bash(npm test)", "Read(./src/**)"]}
    assert settings["env"] == {"FOO": "bär"}
    assert settings["hooks"]["Stop"] == [
        {"hooks": [{"type": "command", "command": "notify-send done"}]}
    ]
    pre = settings["hooks"]["PreToolUse"]
    assert pre[0]["hooks"] == [{"type": "command", "command": "./scripts/audit.sh"}]
    assert pre[1]["matcher"] == "Bash"
    assert pre[1]["hooks"][0]["command"].endswith("agent hook pre-tool-use")
    for event, name in (("SessionStart", "session-start"), ("SessionEnd", "session-end")):
        assert settings["hooks"][event][0]["hooks"][0]["command"].endswith(f"agent hook {name}")
    claude_md = (project.root / "CLAUDE.md").read_text()
    assert claude_md.startswith(EXISTING_CLAUDE_MD)
    assert "`web`, port 3417: `npm run dev`" in claude_md and "`worker`" in claude_md
    assert "Never kill by port or by name" in claude_md
    assert (project.root / "AGENTS.md").read_text() == claude_md[len(EXISTING_CLAUDE_MD) + 1 :]
    # the file keeps its four-space indentation and its non-ASCII text
    assert '\n    "permissions"' in (project.root / ".claude/settings.json").read_text()
    assert "bär" in (project.root / ".claude/settings.json").read_text()

    written = snapshot(project.root)
    assert ok(project.run("agent", "setup")) == "already up to date\n"  # idempotent
    assert snapshot(project.root) == written

    ok(project.run("agent", "remove"))
    assert snapshot(project.root) == before
    assert not (project.root / "AGENTS.md").exists()


def test_remove_after_the_user_edited_the_files_takes_out_only_corral(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = make(corral_project)
    ok(project.run("agent", "setup", "claude"))
    assert not (project.root / "AGENTS.md").exists()
    settings_path = project.root / ".claude/settings.json"
    settings = json.loads(settings_path.read_text())
    settings["model"] = "opus"
    settings_path.write_text(json.dumps(settings, indent=4) + "\n")
    with open(project.root / "CLAUDE.md", "a") as handle:
        handle.write("\nA note added after setup.\n")

    ok(project.run("agent", "remove", "claude"))
    left = json.loads(settings_path.read_text())
    assert left == {**json.loads(EXISTING_SETTINGS), "model": "opus"}
    text = (project.root / "CLAUDE.md").read_text()
    assert "corral:begin" not in text and "A note added after setup." in text
    assert text.startswith(EXISTING_CLAUDE_MD)


def test_dry_run_prints_the_diff_and_writes_nothing(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = make(corral_project)
    before = snapshot(project.root)
    out = ok(project.run("agent", "setup", "--dry-run"))
    assert "--- a/.claude/settings.json\n+++ b/.claude/settings.json\n" in out
    assert '+        "SessionStart": [' in out
    assert "+++ b/CLAUDE.md" in out and "+<!-- corral:begin" in out
    assert "--- a/AGENTS.md" in out
    assert snapshot(project.root) == before
    assert not (project.root / ".corral").exists()

    ok(project.run("agent", "setup"))
    assert ok(project.run("agent", "remove", "--dry-run")).count("-<!-- corral:begin") == 2
    assert (project.root / "AGENTS.md").exists()


def test_setup_in_a_bare_project_creates_and_remove_deletes(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: python -m http.server $PORT\n"})
    before = snapshot(project.root)
    document = json.loads(ok(project.run("agent", "setup", "--json")))
    check_schema("agent", document)
    assert {f["path"]: f["action"] for f in document["files"]} == {
        ".claude/settings.json": "created",
        "CLAUDE.md": "created",
        "AGENTS.md": "created",
    }
    assert json.loads((project.root / ".claude/settings.json").read_text())["hooks"]
    removed = json.loads(ok(project.run("agent", "remove", "--json", "--dry-run")))
    check_schema("agent", removed)
    assert {f["action"] for f in removed["files"]} == {"removed"}
    ok(project.run("agent", "remove"))
    assert snapshot(project.root) == before
    assert not (project.root / ".claude").exists()


def test_broken_settings_are_reported_and_left_alone(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = make(corral_project)
    project.write(".claude/settings.json", '{"hooks": {,}}\n')
    result = project.run("agent", "setup")
    assert result.returncode == 2
    assert result.stderr.startswith("corral: error: .claude/settings.json:1: not valid JSON")
    assert (project.root / ".claude/settings.json").read_text() == '{"hooks": {,}}\n'
    assert (project.root / "CLAUDE.md").read_text() == EXISTING_CLAUDE_MD
