"""Project state lives in .corral/, which corral keeps out of git by itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

from corral.paths import ensure_state_dir, project_id


def test_state_dir_is_created_private_and_git_ignored(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    state = ensure_state_dir(tmp_path)
    (state / "logs").mkdir()
    (state / "logs" / "web.log").write_text("x\n")
    assert state == tmp_path / ".corral" and (state.stat().st_mode & 0o777) == 0o700
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert status.stdout == ""
    assert ensure_state_dir(tmp_path) == state  # idempotent


def test_project_id_is_a_short_stable_hash(tmp_path: Path) -> None:
    assert project_id(tmp_path) == project_id(tmp_path / "." / "")
    assert len(project_id(tmp_path)) == 16
