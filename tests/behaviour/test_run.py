"""``corral run``: one-off commands with the project's or a service's environment."""

from __future__ import annotations


def test_run_uses_the_project_environment_and_returns_the_exit_code(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: x\nworker: y\n", ".env": "GREETING=hi\n"})
    result = project.run("run", "--", "sh", "-c", 'echo "$GREETING $PORT"; exit 3')
    assert (result.returncode, result.stdout) == (3, "hi 5000\n")


def test_run_with_a_service_gets_its_port_env_and_cwd(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {
            "corral.toml": (
                "[services.api]\ncommand = 'x'\nport = 8123\ncwd = 'api'\nenv = {MODE = 'dev'}\n"
            ),
            "api/marker": "",
        }
    )
    result = project.run("run", "api", "--", "sh", "-c", 'echo "$PORT $MODE"; ls')
    assert result.returncode == 0 and result.stdout == "8123 dev\nmarker\n"
    without_dashes = project.run("run", "api", "sh", "-c", "echo $PORT")
    assert without_dashes.stdout == "8123\n"


def test_run_errors_are_one_line_with_exit_2(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: x\n"})
    assert project.run("run", "nope", "--", "true").stderr == (
        "corral: error: no service named 'nope' (services: web)\n"
    )
    missing = project.run("run", "--", "no-such-command-here")
    assert missing.returncode == 2 and "command not found" in missing.stderr
    empty = project.run("run")
    assert empty.returncode == 2 and "no command to run" in empty.stderr
