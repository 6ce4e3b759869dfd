"""Bad input (issue: trust nothing on disk, items 15-17): values that used to be accepted and then
broke later, or broke with a traceback, are one line naming the file, line and fix, exit 2, and
nothing starts. Each case is named after what it reproduces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corral.cli import main
from harness import ProjectDir

TOML = "corral.toml"

CASES = {
    "an_overflowing_stop_timeout": (
        "[services.web]\ncommand = 'x'\nstop_timeout = '99999999999999999h'\n",
        "corral.toml:3: services.web.stop_timeout: duration '99999999999999999h' is longer than "
        "the maximum of 30 days ('720h')",
    ),
    "a_5000_level_nested_toml": (
        "x = " + "[" * 5000 + "]" * 5000 + "\n",
        "corral.toml: invalid TOML: arrays or tables nested too deeply (flatten the value)",
    ),
    "a_5000_character_service_name": (
        f"[services.{'a' * 5000}]\ncommand = 'x'\n",
        f"corral.toml:1: services.{'a' * 5000}: service name 'aaaaaaaaaaaaaaaaaaaa'... is longer "
        "than 64 characters",
    ),
    "names_differing_only_in_case": (
        "[services.web]\ncommand = 'x'\n[services.Web]\ncommand = 'y'\n",
        "corral.toml:3: services.Web: service 'Web' differs from 'web' only in case "
        "(rename one of them)",
    ),
    "a_port_base_beyond_the_last_port": (
        "port_base = 65500\n[services.a]\ncommand = 'x'\n[services.b]\ncommand = 'y'\n",
        "corral.toml:1: services.b: port_base gives 'b' PORT 65600, beyond the last port (65535) "
        "(lower port_base, or give the service a port)",
    ),
    "a_zero_ttl": (
        "ttl = '0s'\n[services.web]\ncommand = 'x'\n",
        "corral.toml:1: ttl: must be more than 0 (leave the setting out for none)",
    ),
    "a_nul_byte_in_a_command": (
        '[services.web]\ncommand = "sleep\\u00001"\n',
        "corral.toml:2: services.web.command: the command contains a NUL byte",
    ),
    "a_nul_byte_in_an_env_value": (
        '[services.web]\ncommand = "x"\nenv = {A = "b\\u0000c"}\n',
        "corral.toml:3: services.web.env: the value of A contains a NUL byte",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_values_are_one_line_and_exit_2(
    case: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, message = CASES[case]
    (tmp_path / TOML).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"corral: error: {message}\n"
    assert not (tmp_path / ".corral").exists(), "a bad config must change nothing"


@pytest.mark.timeout(60)
def test_a_long_service_name_starts_nothing(corral_project) -> None:  # type: ignore[no-untyped-def]
    """It used to fail with a traceback and leave a supervisor running."""
    project: ProjectDir = corral_project()
    project.write(TOML, f"[services.{'a' * 5000}]\ncommand = 'sleep 60'\n")
    result = project.run("start", "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "config"
    for name in ("state.json", "supervisor.lock", "supervisor.log"):
        assert not (project.root / ".corral" / name).exists(), f"{name}: a supervisor started"
