"""``corral init`` on the example projects and on the shapes it must recognise: the draft says
where every guess came from, loads, starts and stops cleanly; nothing is overwritten unasked."""

from __future__ import annotations

import json
import shutil

import pytest

from harness import REPO, ProjectDir, free_port, port_free

EXAMPLES = REPO / "examples"


def example(corral_project, name: str, ports: dict[int, int]) -> ProjectDir:  # type: ignore[no-untyped-def]
    """A copy of examples/NAME with its fixed ports replaced by free ones."""
    project = corral_project(name=name)
    shutil.copytree(EXAMPLES / name, project.root, dirs_exist_ok=True)
    for path in project.root.rglob("*"):
        if path.is_file() and path.suffix in ("", ".dev", ".json", ".js", ".yaml", ".py"):
            text = path.read_text()
            for old, new in ports.items():
                text = text.replace(str(old), str(new))
            path.write_text(text)
    return project


def init_start_stop(
    project: ProjectDir, expected: dict[str, int | None], oneshots: frozenset[str] = frozenset()
) -> str:
    """Run init, then start and stop what it wrote; returns the written corral.toml."""
    result = project.run("init")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("wrote corral.toml: "), result.stdout
    checked = project.run("check")
    assert checked.returncode == 0 and checked.stderr == "", checked.stdout + checked.stderr
    assert "corral.toml" in checked.stdout and ": valid (" in checked.stdout, checked.stdout
    config = json.loads(project.run("config", "--json").stdout)
    found = {s["name"]: (s["ports"][0] if s["ports"] else None) for s in config["services"]}
    assert found == expected
    started = project.run("start", "--json", timeout=60)
    assert started.returncode == 0, started.stdout + started.stderr
    states = {s["name"]: s["state"] for s in json.loads(started.stdout)["services"]}
    assert all(states[n] == ("completed" if n in oneshots else "ready") for n in states), states
    stopped = project.run("stop", "--json", timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert all(port_free(port) for port in expected.values() if port)
    return (project.root / "corral.toml").read_text()


@pytest.mark.timeout(90)
def test_procfile_example(corral_project) -> None:  # type: ignore[no-untyped-def]
    web = free_port()
    project = example(corral_project, "procfile", {8720: web})
    text = init_start_stop(project, {"web": web, "worker": None})
    assert f"port = {web}  # from the command's --port {web}" in text
    assert f"# from Procfile.dev:2: python3 server.py --port {web}" in text
    assert "command =" not in text  # the Procfile keeps the commands


@pytest.mark.timeout(90)
def test_npm_workspace_example(corral_project) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm and node are not installed here")
    web, admin = free_port(), free_port()
    project = example(corral_project, "npm-workspace", {8730: web, 8731: admin})
    text = init_start_stop(project, {"admin": admin, "web": web})
    assert f"port = {admin}  # from server.port in apps/admin/vite.config.js" in text
    assert "package-lock.json names npm" in text
    assert "package.json's own dev/start script is left out" in text
    assert "ui" not in json.loads(project.run("config", "--json").stdout)["services"]


@pytest.mark.timeout(90)
def test_process_compose_example(corral_project) -> None:  # type: ignore[no-untyped-def]
    api = free_port()
    project = example(corral_project, "process-compose", {8740: api})
    services = {"migrate": None, "api": api, "worker": None}
    text = init_start_stop(project, services, frozenset({"migrate"}))
    assert 'stop_signal = "SIGINT"  # from processes.worker.shutdown.signal' in text
    assert "oneshot = true  # from processes.api.depends_on.migrate.condition" in text
    assert 'ready = { log = "worker: waiting for jobs" }' in text


@pytest.mark.timeout(90)
def test_django_example(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = example(corral_project, "django", {})
    draft = project.run("init", "--dry-run")
    assert "port = 8000  # Django's default runserver port" in draft.stdout
    assert 'command = "python3 manage.py runserver 127.0.0.1:$PORT"' in draft.stdout
    assert not (project.root / "corral.toml").exists()
    result = project.run("init")
    assert result.returncode == 0, result.stderr
    # The test cannot count on 8000 being free: the one edit a user makes when it is not.
    port = free_port()
    path = project.root / "corral.toml"
    path.write_text(path.read_text().replace("8000", str(port)))
    started = project.run("start", timeout=60)
    assert started.returncode == 0, started.stdout + started.stderr
    assert not port_free(port)
    assert project.run("stop", timeout=60).returncode == 0
    assert port_free(port)


def test_never_overwrites_without_force(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: python3 -m http.server --port 8123\n"})
    assert project.run("init").returncode == 0
    first = (project.root / "corral.toml").read_text()
    project.write("corral.toml", first + "# my edit\n")
    again = project.run("init")
    assert again.returncode == 2
    assert again.stderr == (
        "corral: error: corral.toml exists (pass --force to overwrite it, or --dry-run to see "
        "the draft)\n"
    )
    assert (project.root / "corral.toml").read_text().endswith("# my edit\n")
    forced = project.run("init", "--force")
    assert forced.returncode == 0 and forced.stdout.startswith("updated corral.toml")
    assert (project.root / "corral.toml").read_text() == first


def test_pyproject_table(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {
            "pyproject.toml": '[project]\nname = "app"\n\n[tool.ruff]\nline-length = 99\n',
            "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'x')\n",
        }
    )
    assert project.run("init", "--pyproject").returncode == 0
    text = (project.root / "pyproject.toml").read_text()
    before = '[project]\nname = "app"\n\n[tool.ruff]\nline-length = 99\n'
    assert text.startswith(before + "\n[tool.corral]\n#")
    assert "[tool.corral.services.web]" in text
    assert project.run("config", "--names").stdout.split() == ["web"]
    refused = project.run("init", "--pyproject")
    assert refused.returncode == 2 and "already has a [tool.corral] table" in refused.stderr
    assert project.run("init").returncode == 2  # a corral.toml beside it would be an error
    assert project.run("init", "--pyproject", "--force").returncode == 0
    assert (project.root / "pyproject.toml").read_text() == text


def test_rails_bin_dev_and_docker_compose_suggestions(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {
            "Procfile.dev": "web: bin/rails server\ncss: bin/rails tailwindcss:watch\n",
            "bin/dev": '#!/usr/bin/env sh\nexport PORT="${PORT:-3000}"\n'
            'exec foreman start -f Procfile.dev "$@"\n',
            "config/routes.rb": 'get "up" => "rails/health#show", as: :rails_health_check\n',
            "docker-compose.yml": "services:\n  db:\n    image: postgres:16\n"
            "  sidekiq:\n    image: ruby:3.3\n    command: [bundle, exec, sidekiq]\n",
        }
    )
    draft = project.run("init", "--dry-run")
    assert draft.returncode == 0, draft.stderr
    lines = draft.stdout.splitlines()
    assert "port_base = 3000  # from bin/dev: PORT=3000" in lines
    assert "port = 3000  # bin/dev's PORT, which foreman gives the first Procfile line" in lines
    assert (
        'ready = { http = "http://127.0.0.1:3000/up" }  # Rails\' health check route /up '
        "(config/routes.rb)" in lines
    )
    assert "# [services.sidekiq]" in lines and '# command = "bundle exec sidekiq"' in lines
    assert not any("services.db" in line for line in lines)  # no command: no suggestion
    assert project.run("init").returncode == 0
    config = json.loads(project.run("config", "--json").stdout)
    assert [s["name"] for s in config["services"]] == ["web", "css"]
    assert [s["port_env"] for s in config["services"]] == [3000, 3100]


def test_pnpm_and_yarn_workspaces_name_their_package_manager(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {
            "package.json": '{"name": "mono", "scripts": {"dev": "turbo dev"}}',
            "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
            "pnpm-workspace.yaml": "packages:\n  - 'apps/*'\n  - '!apps/legacy'\n",
            "apps/site/package.json": '{"name": "site", "scripts": {"dev": "next dev -p 3001"}}',
            "apps/docs/package.json": '{"name": "docs", "scripts": {"dev": "vite"}}',
            "apps/docs/vite.config.ts": "export default defineConfig({ server: { port: 5175 } })",
        }
    )
    draft = project.run("init", "--dry-run").stdout
    assert 'command = "pnpm run dev"' in draft and 'cwd = "apps/site"' in draft
    assert "port = 3001  # from the command's -p 3001" in draft
    assert "port = 5175  # from server.port in apps/docs/vite.config.ts" in draft
    yarn = corral_project(
        {
            "package.json": '{"workspaces": {"packages": ["web"]}}',
            "yarn.lock": "",
            "web/package.json": '{"scripts": {"dev": "PORT=4001 node server.js"}}',
        }
    )
    draft = yarn.run("init", "--dry-run").stdout
    assert (
        'command = "yarn run dev"' in draft
        and "port = 4001  # from the command's PORT=4001" in draft
    )


def test_nothing_to_run_is_an_error(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"README.md": "nothing here\n"})
    result = project.run("init")
    assert result.returncode == 2 and "found nothing to run" in result.stderr
    assert not (project.root / "corral.toml").exists()
