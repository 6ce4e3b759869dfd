"""Shell completion scripts, generated from the parser: every command, real syntax."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from corral.cli.completion import commands
from corral.cli.parser import build_parser

SYNTAX_CHECK = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_names_every_command_and_option_and_parses(corral_project, shell: str) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: x\n"})
    result = project.run("completion", shell)
    assert result.returncode == 0
    for name in commands(build_parser()):
        assert name in result.stdout
    assert "tether" in result.stdout and "corral config --names" in result.stdout
    checker = SYNTAX_CHECK[shell]
    if shutil.which(checker[0]) is None:
        pytest.skip(f"{checker[0]} is not installed here: syntax not checked")
    script = project.write(f"completion.{shell}", result.stdout)
    checked = subprocess.run([*checker, str(script)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_bash_completes_commands_options_and_service_names(corral_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: x\nworker: y\n"})
    script = project.write("completion.bash", project.run("completion", "bash").stdout)
    from harness import corral_command

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "corral").symlink_to(corral_command()[0])
    probe = (
        f"source {script}; "
        "COMP_WORDS=(corral st); COMP_CWORD=1; _corral; echo ${COMPREPLY[@]}; "
        "COMP_WORDS=(corral stop ''); COMP_CWORD=2; _corral; echo ${COMPREPLY[@]}; "
        "COMP_WORDS=(corral start --te); COMP_CWORD=2; _corral; echo ${COMPREPLY[@]}"
    )
    result = subprocess.run(
        ["bash", "-c", probe],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    assert result.stdout.splitlines() == ["start status stop", "web worker", "--tether"]


def test_config_names_lists_services_in_start_order(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {"corral.toml": "[services.b]\ncommand='x'\ndepends_on=['a']\n[services.a]\ncommand='y'\n"}
    )
    assert project.run("config", "--names").stdout == "a\nb\n"
