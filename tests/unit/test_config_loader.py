"""Loading whole projects: discovery order, merging, environment layering, PORT, start order."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from corral.config import load_project
from corral.errors import ConfigError, ProjectNotFound
from corral.model import ProbeKind, RestartPolicy


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_discovery_walks_up_to_the_first_directory_with_a_config(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "outer: true\n", "app/Procfile": "inner: true\n"})
    deep = tmp_path / "app" / "src" / "pkg"
    deep.mkdir(parents=True)
    project = load_project(deep)
    assert project.root == (tmp_path / "app").resolve()
    assert project.service_names == ["inner"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"Procfile": "p: true\n", "Procfile.dev": "dev: true\n"}, ["dev"]),
        ({"Procfile": "p: true\n", "pyproject.toml": "[project]\nname='x'\n"}, ["p"]),
        ({"pyproject.toml": "[tool.corral.services.t]\ncommand='true'\n"}, ["t"]),
        ({"corral.toml": "[services.c]\ncommand='true'\n", "pyproject.toml": "[project]\n"}, ["c"]),
    ],
)
def test_which_files_configure_a_directory(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    assert load_project(write(tmp_path, files)).service_names == expected


def test_corral_toml_and_tool_corral_together_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"corral.toml": "", "pyproject.toml": "[tool.corral]\n"})
    with pytest.raises(ConfigError, match=r"both corral\.toml and pyproject\.toml"):
        load_project(tmp_path)


def test_no_project_anywhere_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match=r"no corral\.toml, pyproject\.toml"):
        load_project(tmp_path)


def test_explicit_file_wins_over_discovery(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "a: true\n", "other/Procfile.test": "b: true\n"})
    project = load_project(tmp_path, Path("other/Procfile.test"))
    assert project.service_names == ["b"]
    assert project.root == (tmp_path / "other").resolve()


def test_toml_adds_options_to_procfile_services_and_defines_its_own(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Procfile": "web: python -m http.server $PORT\nworker: python w.py\n",
            "corral.toml": (
                "[services.web]\nport = [8000, 8001]\nready = {http = 'http://localhost:8000/'}\n"
                "restart = 'on-failure'\nstop_signal = 'INT'\nstop_timeout = '500ms'\n"
                "[services.db]\ncommand = ['postgres', '-D', 'data']\nautostart = false\n"
                "[services.repl]\ncommand = 'python -i'\ntty = true\n"
            ),
        },
    )
    project = load_project(tmp_path)
    web = project.service("web")
    assert web.ports == (8000, 8001)
    assert web.ready is not None and web.ready.kind is ProbeKind.HTTP
    assert (web.restart, web.stop_signal, web.stop_timeout) == (RestartPolicy.ON_FAILURE, 2, 0.5)
    db = project.service("db")
    assert db.argv == ["postgres", "-D", "data"] and not db.autostart
    assert project.service("worker").argv == ["/bin/sh", "-c", "python w.py"]
    assert project.service("repl").tty and not web.tty


def test_start_order_puts_dependencies_first_and_keeps_file_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "corral.toml": (
                "[services.web]\ncommand='w'\ndepends_on=['api']\n"
                "[services.api]\ncommand='a'\ndepends_on=['db']\n"
                "[services.db]\ncommand='d'\n[services.log]\ncommand='l'\n"
            )
        },
    )
    assert load_project(tmp_path).service_names == ["db", "api", "web", "log"]


def test_port_follows_foreman_unless_a_port_is_declared(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Procfile": "a: x\nb: x\nc: x\n",
            "corral.toml": "port_base = 6000\n[services.b]\nport = 7000\n",
        },
    )
    project = load_project(tmp_path)
    assert [s.env["PORT"] for s in project.services] == ["6000", "7000", "6200"]


def test_environment_layers_in_documented_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".env": "A=dotenv\nB=dotenv\nC=dotenv\nD=dotenv\nPORT=1\n",
            "svc.env": "B=service-file\nC=service-file\nREF=${A}-ref\n",
            "corral.toml": (
                "[services.s]\ncommand='x'\nenv_file='svc.env'\nenv={C='table', N=3, F=true}\n"
            ),
        },
    )
    env = load_project(tmp_path).service("s").env
    assert env["A"] == "dotenv" and env["B"] == "service-file" and env["C"] == "table"
    assert env["REF"] == "dotenv-ref"
    # PORT in .env is the base (foreman's rule): the first service gets it
    assert (env["N"], env["F"], env["PORT"]) == ("3", "true", "1")


def test_project_env_file_list_replaces_the_default_dotenv(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".env": "A=default\n",
            "one.env": "A=one\nB=one\n",
            "two.env": "B=two\n",
            "corral.toml": "env_file = ['one.env', 'two.env']\n[services.s]\ncommand='x'\n",
        },
    )
    env = load_project(tmp_path).service("s").env
    assert (env["A"], env["B"]) == ("one", "two")


def test_project_identity_is_stable_per_path_and_differs_between_checkouts(tmp_path: Path) -> None:
    first = write(tmp_path / "one", {"Procfile": "a: x\n"})
    second = write(tmp_path / "two", {"Procfile": "a: x\n"})
    link = tmp_path / "link"
    link.symlink_to(first)
    assert load_project(first).project_id == load_project(link).project_id
    assert load_project(first).project_id != load_project(second).project_id


def test_cwd_is_resolved_against_the_root(tmp_path: Path) -> None:
    write(tmp_path, {"web/app.py": "", "corral.toml": "[services.w]\ncommand='x'\ncwd='web'\n"})
    assert load_project(tmp_path).service("w").cwd == (tmp_path / "web").resolve()


def test_project_settings_and_restart_limits(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "corral.toml": (
                "log_max_size = '512KB'\nlog_keep = 5\nsettle_time = '2s'\n"
                "[services.s]\ncommand='x'\nrestart_limit = 2\nrestart_window = '5m'\n"
            )
        },
    )
    project = load_project(tmp_path)
    assert project.settings.to_dict() == {
        "log_max_size": 512 * 1024,
        "log_keep": 5,
        "settle_time": 2.0,
        "tether": None,
        "ttl": None,
        "agent_allow": (),
    }
    service = project.service("s")
    assert (service.restart_limit, service.restart_window) == (2, 300.0)


def test_tether_and_ttl_in_the_config(tmp_path: Path) -> None:
    write(tmp_path, {"corral.toml": "tether = 'auto'\nttl = '30m'\n[services.s]\ncommand='x'\n"})
    settings = load_project(tmp_path).settings
    assert (settings.tether, settings.ttl) == ("auto", 1800.0)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("uvicorn app:app --port 8000", ["uvicorn", "app:app", "--port", "8000"]),
        ("./bin/server --bind=127.0.0.1", ["./bin/server", "--bind=127.0.0.1"]),
        ("python3  -m  http.server\t80", ["python3", "-m", "http.server", "80"]),
        ("echo $PORT", None),  # expansion
        ("python w.py > out.log", None),  # redirection
        ("make && make run", None),  # operators
        ("ls *.py", None),  # globbing
        ("serve 'a b'", None),  # quoting
        ("MODE=dev serve", None),  # an assignment
        ("cd web", None),  # a builtin runs in the shell
        ("exec serve", None),
        ("serve # the server", None),  # a comment
        ("~/bin/serve", None),  # tilde expansion
        ("serve\nother", None),  # two commands
        ("   ", None),
    ],
)
def test_a_plain_command_runs_without_the_shell(tmp_path: Path, command: str, words) -> None:  # type: ignore[no-untyped-def]
    loaded = load_project(write(tmp_path, {"corral.toml": "[services.s]\ncommand = 'x'\n"}))
    spec = dataclasses.replace(loaded.service("s"), command=command)
    assert spec.exec_argv == (words if words is not None else ["/bin/sh", "-c", command])
    assert spec.argv == ["/bin/sh", "-c", command]  # what exports and `corral config` show
