"""The installed ``corral`` command, run as a user or an agent runs it: no TTY, no stdin."""

from __future__ import annotations

import json
import shutil

import corral
from harness import REPO, ProjectDir

DEMO = REPO / "examples" / "demo"


def demo_copy(corral_project) -> ProjectDir:  # type: ignore[no-untyped-def]
    project = corral_project()
    shutil.copytree(DEMO, project.root, dirs_exist_ok=True)
    return project


def test_version_and_help(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    version = project.run("--version")
    assert (version.returncode, version.stdout) == (0, f"corral {corral.__version__}\n")
    helped = project.run("--help")
    assert helped.returncode == 0 and "config" in helped.stdout and "Exit codes" in helped.stdout
    config_help = project.run("config", "--help")
    assert config_help.returncode == 0 and "--show-secrets" in config_help.stdout


def test_no_command_prints_help_and_exits_2(corral_project) -> None:  # type: ignore[no-untyped-def]
    result = corral_project().run()
    assert result.returncode == 2 and "usage: corral" in result.stderr


def test_unknown_command_exits_2(corral_project) -> None:  # type: ignore[no-untyped-def]
    result = corral_project().run("frobnicate")
    assert result.returncode == 2 and "invalid choice: 'frobnicate'" in result.stderr


def test_config_shows_the_demo_in_start_order(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = demo_copy(corral_project)
    result = project.run("config")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"demo  (id {project.id})"
    heads = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert heads == ["demo", "api", "worker", "frontend"]
    assert "    DEMO_API_TOKEN=********" in lines
    assert "not-a-real-token" not in result.stdout
    shown = project.run("config", "--show-secrets")
    assert "    DEMO_API_TOKEN=not-a-real-token" in shown.stdout.splitlines()


def test_config_json_is_one_document(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = demo_copy(corral_project)
    result = project.run("config", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["project"]["id"] == project.id
    services = {s["name"]: s for s in document["services"]}
    assert list(services) == ["api", "worker", "frontend"]
    assert services["api"]["ports"] == [8710] and services["api"]["port_env"] == 8710
    assert services["api"]["ready"]["kind"] == "http"
    assert services["worker"]["depends_on"] == ["api"]
    assert services["frontend"]["env"]["DEMO_API_TOKEN"] == "********"


def test_corral_json_env_makes_json_the_default(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = demo_copy(corral_project)
    result = project.run("config", env={"CORRAL_JSON": "1"})
    assert json.loads(result.stdout)["ok"] is True


def test_dash_c_finds_the_project_from_elsewhere(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = demo_copy(corral_project)
    result = project.run("-C", str(project.root / "frontend"), "config", "--json", cwd=tmp_path)
    assert json.loads(result.stdout)["project"]["root"] == str(project.root.resolve())


def test_missing_project_is_a_one_line_error(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    result = project.run("config")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("corral: error: no corral")
    assert "Traceback" not in result.stderr


def test_python_dash_m_corral_works(corral_project) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "corral", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.stdout == f"corral {corral.__version__}\n"
