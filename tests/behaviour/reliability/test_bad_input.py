"""Bad input ends in one clear line and exit code 2, with nothing started; the config loader
ends only in a result or a clean error, whatever it is fed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.config import load_project
from corral.errors import CorralError

BAD_ARGUMENTS = [
    (
        ["start", "--timeout", "10x"],
        "argument --timeout: cannot read duration '10x': use a number with ms, s, m or h, e.g. '500ms'",
    ),
    (["logs", "-n", "many"], "argument -n/--lines: invalid int value: 'many'"),
    (["port", "70000"], "argument PORT: port 70000 is out of range (1-65535)"),
    (["port", "http"], "argument PORT: 'http' is not a port number"),
    (["free"], "the following arguments are required: PORT"),
    (["events", "--since", "later"], "argument --since: invalid int value: 'later'"),
    (
        ["completion", "tcsh"],
        "argument SHELL: invalid choice: 'tcsh' (choose from 'bash', 'zsh', 'fish')",
    ),
    (
        ["frobnicate"],
        "argument COMMAND: invalid choice: 'frobnicate' (choose from 'config', 'start'",
    ),
    (["start", "nope"], "no service named 'nope' (services: web)"),
    (["stop", "nope"], "no service named 'nope' (services: web)"),
    (["logs", "nope"], "no service named 'nope' (services: web)"),
    (
        ["logs", "--grep", "("],
        "--grep: invalid regular expression '(': missing ), unterminated subpattern at position 0",
    ),
    (
        ["logs", "--since", "yesterday"],
        "--since: cannot read 'yesterday': use a duration (10m), a time (14:05) or ISO 8601",
    ),
    (
        ["wait", "web", "--log", "("],
        "--log: invalid regular expression '(': missing ), unterminated subpattern at position 0",
    ),
    (["wait", "web", "web2", "--log", "x"], "no service named 'web2' (services: web)"),
    (["start", "--tether", "someone"], "--tether: 'someone' is not a pid, 'auto' or 'none'"),
    (["start", "--tether", "1"], "--tether: never pid 1 (it does not exit) (use 'auto')"),
    (["run", "nope", "--", "true"], "no service named 'nope' (services: web)"),
    (["run"], "no command to run (corral run [SERVICE] -- COMMAND [ARGS...])"),
    (
        ["nuke"],
        "nuke stops every corral process of this user and needs a yes (run it on a terminal, or pass --yes)",
    ),
    (
        ["-C", "/nonexistent/dir", "status"],
        "/nonexistent/dir: no such directory (check the -C argument)",
    ),
    (["-f", "missing.toml", "config"], "{root}/missing.toml: no such file (check the -f argument)"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("args", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_one_line_and_exit_2(
    corral_project, args: list[str], message: str
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: sleep 60\n"})
    result = project.run(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("corral") and message.format(root=project.root) in last, last
    assert "Traceback" not in result.stderr
    assert not (project.root / ".corral" / "supervisor.lock").exists(), "something was started"


procfile_lines = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{0,6}:? ?[^\n\r]{0,20}", fullmatch=True),
    st.sampled_from(["# comment", "", "web: a", "web: b", ":", " : x"]),
)
toml_lines = st.one_of(
    st.sampled_from(
        [
            "[services.web]",
            "[services.a b]",
            "[tool.corral]",
            "command = 'x'",
            "command = 3",
            "command = []",
            "port = 70000",
            "port = [1, 1]",
            "port = 'x'",
            "ready = {tcp = 1}",
            "ready = {http = 'ftp://x'}",
            "ready = {log = '('}",
            "depends_on = ['web']",
            "depends_on = ['zzz']",
            "cwd = 'nowhere'",
            "env = {A = 1}",
            "env = {1 = 2}",
            "stop_timeout = '1s'",
            "stop_timeout = 'x'",
            "restart = 'always'",
            "env_file = 'x.env'",
            "name = 'n'",
            "port_base = 0",
            "watch = ['*.py']",
            "log_max_size = '1KB'",
            "ttl = -1",
            "[services.api]",
            "stop_signal = 'SIGKILL'",
            "stop_signal = 99",
            "x = ",
            "= 1",
            "[[a]]",
        ]
    ),
    st.from_regex(r"[a-z_]{1,10} = [^\n\r]{0,12}", fullmatch=True),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(procfile_lines, max_size=6),
    st.lists(toml_lines, max_size=10),
    st.sampled_from(["corral.toml", "pyproject.toml"]),
)
def test_the_config_loader_only_ever_ends_in_a_spec_or_a_clean_error(
    procfile: list[str], toml: list[str], toml_name: str
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        if procfile:
            (root / "Procfile").write_text("\n".join(procfile) + "\n")
        if toml:
            (root / toml_name).write_text("\n".join(toml) + "\n")
        try:
            project = load_project(root)
        except CorralError as error:
            message = error.render()
            assert message and "\n" not in message and "Traceback" not in message
            return
        assert project.services and all(spec.name for spec in project.services)
