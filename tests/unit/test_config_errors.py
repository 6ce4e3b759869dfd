"""Bad configurations: each gives exactly one line naming file, line and fix, and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.cli import main

TOML = "corral.toml"
BAD_CONFIGS = [
    (
        {"Procfile": "web python app.py\n"},
        "Procfile:1: cannot read 'web python app.py' (each line must be 'name: command', the name of "
        "letters, digits, _ and -)",
    ),
    (
        {"Procfile": "web: a\nweb: b\n"},
        "Procfile:2: service 'web' is defined twice (first on line 1) (rename or remove one of them)",
    ),
    (
        {TOML: "[services.web]\ncomand = 'x'\n"},
        "corral.toml:2: services.web: unknown key 'comand' (did you mean 'command'?)",
    ),
    (
        {TOML: "nmae = 'x'\n[services.web]\ncommand = 'x'\n"},
        "corral.toml:1: unknown key 'nmae' (did you mean 'name'?)",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nready = {tcp = 80, timout = '1s'}\n"},
        "corral.toml:3: services.web.ready: unknown key 'timout' (did you mean 'timeout'?)",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nport = 'http'\n"},
        "corral.toml:3: services.web.port: expected a port number (1-65535), got string 'http'",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nport = 70000\n"},
        "corral.toml:3: services.web.port: port 70000 is out of range (1-65535)",
    ),
    (
        {
            TOML: "[services.a]\ncommand = 'x'\nport = 8000\n[services.b]\ncommand = 'y'\nport = 8000\n"
        },
        "corral.toml:6: services.b.port: port 8000 is also claimed by service 'a' "
        "(give each port to one service)",
    ),
    (
        {
            TOML: "[services.web]\ncommand = 'x'\ndepends_on = ['dbb']\n[services.db]\ncommand = 'y'\n"
        },
        "corral.toml:3: services.web.depends_on: unknown service 'dbb' (did you mean 'db'?)",
    ),
    (
        {
            TOML: "[services.a]\ncommand = 'x'\ndepends_on = ['b']\n"
            "[services.b]\ncommand = 'y'\ndepends_on = ['a']\n"
        },
        "corral.toml:3: services.a.depends_on: dependency cycle: a -> b -> a "
        "(remove one of these depends_on)",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\ncwd = 'frontend'\n"},
        "corral.toml:3: services.web.cwd: directory 'frontend' does not exist (resolved to "
        "{root}/frontend) (create it or fix cwd)",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nstop_timeout = '10 s'\n"},
        "corral.toml:3: services.web.stop_timeout: cannot read duration '10 s': use a number with "
        "ms, s, m or h, e.g. '500ms'",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nrestart = 'sometimes'\n"},
        "corral.toml:3: services.web.restart: expected one of 'no', 'on-failure', 'always', got "
        "string 'sometimes'",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nstop_signal = 'SIGFOO'\n"},
        "corral.toml:3: services.web.stop_signal: unknown signal 'SIGFOO' (e.g. 'SIGTERM', 'SIGINT', "
        "'SIGQUIT')",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nready = {tcp = 80, http = 'http://localhost/'}\n"},
        "corral.toml:3: services.web.ready: give exactly one of tcp, http, log or cmd",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nready = {http = 'http://example.com/'}\n"},
        "corral.toml:3: services.web.ready: 'http://example.com/' is not on loopback (use localhost, "
        "127.0.0.1 or [::1])",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nready = {log = '(unclosed'}\n"},
        "corral.toml:3: services.web.ready: invalid regular expression '(unclosed': missing ), "
        "unterminated subpattern at position 0",
    ),
    (
        {TOML: "[services.web]\nport = 80\n"},
        "corral.toml:1: services.web: service 'web' has no command (add command = \"...\" or a line "
        "'web: ...' to a Procfile)",
    ),
    (
        {TOML: "[services.web]\ncommand = 3\n"},
        "corral.toml:2: services.web.command: expected a string (run by /bin/sh -c) or a non-empty "
        "list of strings (exec'd), got integer 3",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nenv = {PORT = [1]}\n"},
        "corral.toml:3: services.web.env: PORT: expected a string or number, got list",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nautostart = 'yes'\n"},
        "corral.toml:3: services.web.autostart: expected true or false, got string 'yes'",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\ntty = 1\n"},
        "corral.toml:3: services.web.tty: expected true or false, got integer 1",
    ),
    (
        {TOML: "[services.web]\ncommand = 'x'\nenv_file = 'missing.env'\n"},
        "corral.toml:3: services.web.env_file: env file '{root}/missing.env' does not exist "
        "(create it or remove it from env_file)",
    ),
    (
        {TOML: "[services.web\ncommand = 'x'\n"},
        "corral.toml:1: invalid TOML: Expected ']' at the end of a table declaration",
    ),
    (
        {TOML: "[services.'bad name']\ncommand = 'x'\n"},
        "corral.toml:1: services.bad name: 'bad name' is not a valid service name (letters, digits, "
        "_ and -)",
    ),
    (
        {"Procfile": "web: x\n", TOML: "[services.web]\ncommand = 'y'\n"},
        "corral.toml:2: services.web.command: service 'web' already has a command in "
        "{root}/Procfile:1 (remove one of the two)",
    ),
    (
        {
            TOML: "port_base = 5000\n[services.a]\ncommand = 'x'\n[services.b]\ncommand = 'y'\n"
            "port = 5000\n"
        },
        "corral.toml:2: services.a: PORT 5000 given to 'a' by port_base is declared by service 'b' "
        "(set port_base, or give 'a' a port)",
    ),
    (
        {TOML: "name = 'x'\n"},
        "corral.toml: defines no services (add 'name: command' lines or [services.NAME] tables)",
    ),
    (
        {"pyproject.toml": "[tool.corral]\nservices = 3\n"},
        "pyproject.toml:2: tool.corral.services: expected a table, got integer 3",
    ),
    (
        {".env": "GOOD=1\nthis is not valid\n", "Procfile": "a: x\n"},
        ".env:2: cannot parse 'this is not valid' (write NAME=value)",
    ),
]


@pytest.mark.parametrize(("files", "message"), BAD_CONFIGS)
def test_bad_config_is_one_clear_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    message: str,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 2
    captured = capsys.readouterr()
    root = str(tmp_path.resolve())
    assert captured.err == f"corral: error: {message.format(root=root)}\n"
    assert captured.out == ""
    assert not (tmp_path / ".corral").exists(), "a bad config must change nothing"


def test_bad_config_as_json_carries_code_message_and_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    (tmp_path / TOML).write_text("[services.web]\ncomand = 'x'\n")
    monkeypatch.chdir(tmp_path)
    assert main(["config", "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "ok": False,
        "error": {
            "code": "config",
            "message": "corral.toml:2: services.web: unknown key 'comand'",
            "hint": "did you mean 'command'?",
        },
    }
