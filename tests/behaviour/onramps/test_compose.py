"""process-compose.yaml as a corral configuration: files shaped like the ones process-compose's
documentation shows, loaded, started and stopped with real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from corral.config import load_project
from corral.errors import ConfigError
from corral.model import ProbeKind, RestartPolicy
from harness import REPO, free_port, hostile, port_free

PY = sys.executable
ROOT = REPO


def http_server(port: int) -> str:
    return f"{PY} -m http.server {port} --bind 127.0.0.1"


def quick_start(api: int) -> str:
    """The shape of process-compose's quick start: global environment, a server with an HTTP
    readiness probe and a restart policy, a client that waits for it to be healthy."""
    return f"""\
version: "0.5"

environment:
  - "GLOBAL_ENV_VAR=1"

processes:
  server:
    command: "{http_server(api)}"
    availability:
      restart: "always"
    readiness_probe:
      http_get:
        host: 127.0.0.1
        scheme: http
        path: "/"
        port: {api}
      initial_delay_seconds: 0
      period_seconds: 1
      timeout_seconds: 1
      success_threshold: 1
      failure_threshold: 3

  client:
    command: "{hostile()}"
    environment:
      - "LOCAL_ENV_VAR=1"
    depends_on:
      server:
        condition: process_healthy
"""


def test_quick_start_file_maps_onto_corral(tmp_path: Path) -> None:
    api = free_port()
    (tmp_path / "process-compose.yaml").write_text(quick_start(api))
    project = load_project(tmp_path)
    assert project.service_names == ["server", "client"]
    assert project.warnings == ()
    server, client = project.services
    assert server.ports == (api,) and server.restart is RestartPolicy.ALWAYS
    assert server.ready is not None and server.ready.kind is ProbeKind.HTTP
    assert server.ready.target == f"http://127.0.0.1:{api}/"
    assert client.depends_on == ("server",)
    assert client.env["GLOBAL_ENV_VAR"] == "1" and client.env["LOCAL_ENV_VAR"] == "1"
    assert server.defined_at == "process-compose.yaml:7"


@pytest.mark.timeout(60)
def test_quick_start_file_starts_and_stops(corral_project) -> None:  # type: ignore[no-untyped-def]
    api = free_port()
    project = corral_project({"process-compose.yaml": quick_start(api)})
    started = project.run("start", "--json", timeout=45)
    assert started.returncode == 0, started.stdout + started.stderr
    states = {s["name"]: s["state"] for s in json.loads(started.stdout)["services"]}
    assert states == {"server": "ready", "client": "ready"}
    assert not port_free(api)
    stopped = project.run("stop", timeout=45)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert port_free(api)


def test_log_line_readiness_exec_probe_and_shutdown(tmp_path: Path) -> None:
    (tmp_path / "process-compose.yaml").write_text(
        """\
processes:
  db:
    command: "echo 'database system is ready (1/2)'; sleep 60"
    ready_log_line: "is ready (1/2)"
    shutdown:
      signal: 2
      timeout_seconds: 3
  cache:
    command: "sleep 60"
    readiness_probe:
      exec:
        command: "test -e /"
  app:
    command: "sleep 60"
    disabled: true
    depends_on:
      db:
        condition: process_log_ready
      cache:
        condition: process_started
"""
    )
    db, cache, app = load_project(tmp_path).services
    assert db.ready is not None and db.ready.kind is ProbeKind.LOG
    assert db.ready.target == r"is ready \(1/2\)"  # a literal line, not a regex
    assert (db.stop_signal, db.stop_timeout) == (signal.SIGINT, 3.0)
    assert cache.ready is not None and (cache.ready.kind, cache.ready.target) == (
        ProbeKind.CMD,
        "test -e /",
    )
    assert app.autostart is False and app.depends_on == ("db", "cache")


def test_replicas_become_numbered_services(tmp_path: Path) -> None:
    (tmp_path / "process-compose.yaml").write_text(
        """\
processes:
  consumer:
    command: "sleep 60"
    replicas: 3
  producer:
    command: "sleep 60"
    depends_on:
      consumer:
        condition: process_started
"""
    )
    project = load_project(tmp_path)
    assert project.service_names == ["consumer-0", "consumer-1", "consumer-2", "producer"]
    assert [s.env["PC_REPLICA_NUM"] for s in project.services[:3]] == ["0", "1", "2"]
    assert project.service("producer").depends_on == ("consumer-0", "consumer-1", "consumer-2")


def test_every_key_it_cannot_honour_is_named_in_one_warning(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {
            "process-compose.yaml": """\
version: "0.5"
log_level: debug
log_location: /tmp/combined.log
x-defaults: &defaults
  availability:
    restart: on_failure
    backoff_seconds: 2
processes:
  nginx:
    command: "sleep 60"
    is_daemon: true
    shutdown:
      command: "echo stopping"
    liveness_probe:
      exec:
        command: "true"
  worker:
    <<: *defaults
    command: "sleep 60"
    log_location: ./worker.log
"""
        }
    )
    result = project.run("config", "--names")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["nginx", "worker"]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1, result.stderr
    for key in (
        "log_level",
        "log_location",
        "processes.nginx.is_daemon",
        "processes.nginx.shutdown.command",
        "processes.nginx.liveness_probe",
        "processes.worker.availability.backoff_seconds",
        "processes.worker.log_location",
    ):
        assert key in warnings[0]
    assert "x-defaults" not in warnings[0] and "version" not in warnings[0]
    document = json.loads(project.run("config", "--json").stdout)
    schema = json.loads((ROOT / "docs" / "schemas" / "config.json").read_text())
    jsonschema.validate(document, schema)
    assert document["warnings"] == [warnings[0].removeprefix("corral: warning: ")]
    loaded = load_project(project.root)
    assert loaded.service("worker").restart is RestartPolicy.ON_FAILURE  # from the anchor


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "processes:\n  web:\n    command: [unclosed\n",
            "process-compose.yaml:4: invalid YAML",
        ),
        (
            "processes:\n  web:\n    command: sleep 1\n    depends_on:\n      db:\n"
            "        condition: process_ready\n  db:\n    command: sleep 1\n",
            "process-compose.yaml:5: processes.web.depends_on.db: unknown condition "
            "'process_ready' (one of: process_started,",
        ),
        (
            "processes:\n  web:\n    command: sleep 1\n    working_dir: ./nowhere\n",
            "process-compose.yaml:4: processes.web.working_dir: directory './nowhere' does not "
            "exist",
        ),
        (
            "processes:\n  web:\n    command: sleep 1\n    depends_on:\n      db:\n"
            "        condition: process_started\n",
            "process-compose.yaml:4: processes.web.depends_on: unknown service 'db'",
        ),
        (
            "processes:\n  web:\n    command: sleep 1\n    shutdown:\n      signal: 99\n",
            "process-compose.yaml:5: processes.web.shutdown.signal: 99 is not a signal number",
        ),
        ("version: '0.5'\n", "process-compose.yaml: processes: expected a mapping"),
        (
            "processes:\n  web:\n    working_dir: .\n",
            'process-compose.yaml:2: processes.web: has no command (add command: "...")',
        ),
    ],
)
def test_mistakes_name_the_process_compose_key_and_line(
    corral_project, text: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"process-compose.yaml": text})
    result = project.run("config")
    assert result.returncode == 2
    assert result.stderr.startswith(f"corral: error: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_corral_files_come_first_and_f_names_a_yaml_file(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {
            "process-compose.yml": "processes:\n  pc:\n    command: sleep 1\n",
            "Procfile": "own: sleep 1\n",
        }
    )
    assert project.run("config", "--names").stdout.split() == ["own"]
    explicit = project.run("-f", "process-compose.yml", "config", "--names")
    assert explicit.stdout.split() == ["pc"], explicit.stderr
    (project.root / "Procfile").unlink()
    assert project.run("config", "--names").stdout.split() == ["pc"]


def test_without_pyyaml_the_error_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "process-compose.yaml").write_text("processes:\n  a:\n    command: sleep 1\n")
    code = (
        "import sys; sys.modules['yaml'] = None\n"  # as if PyYAML were not installed
        "from corral.cli import main\n"
        f"sys.exit(main(['-C', {str(tmp_path)!r}, 'config']))\n"
    )
    result = subprocess.run(
        [PY, "-c", code], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 2
    assert "needs PyYAML (pip install 'corral[yaml]')" in result.stderr


def test_other_projects_never_import_yaml(tmp_path: Path) -> None:
    (tmp_path / "corral.toml").write_text('[services.a]\ncommand = "sleep 1"\n')
    code = (
        "import sys\nfrom pathlib import Path\nfrom corral.config import load_project\n"
        f"load_project(Path({str(tmp_path)!r}))\n"
        "print('yaml' in sys.modules)\n"
    )
    result = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "False", result.stderr


def test_a_bad_value_is_a_config_error_in_process(tmp_path: Path) -> None:
    (tmp_path / "process-compose.yaml").write_text(
        "processes:\n  web:\n    command: sleep 1\n    replicas: 0\n"
    )
    with pytest.raises(ConfigError, match=r"process-compose.yaml:4: processes.web.replicas"):
        load_project(tmp_path)


@pytest.mark.timeout(60)
def test_completion_conditions_wait_for_a_oneshot(corral_project) -> None:  # type: ignore[no-untyped-def]
    """process-compose's serial start: a migration that must finish before the server."""
    api = free_port()
    project = corral_project(
        {
            "process-compose.yaml": f"""\
processes:
  migrate:
    command: "sleep 0.3 && echo migrated > migrated.txt"
  seed:
    command: "test -e migrated.txt && echo seeded"
    ready_log_line: "seeded"
    depends_on:
      migrate:
        condition: process_completed_successfully
  server:
    command: "test -e migrated.txt && exec {http_server(api)}"
    readiness_probe:
      http_get:
        port: {api}
    depends_on:
      seed:
        condition: process_completed
"""
        }
    )
    loaded = load_project(project.root)
    assert [s.name for s in loaded.services if s.oneshot] == ["migrate", "seed"]
    assert loaded.service("seed").ready is None
    (warning,) = loaded.warnings
    assert "processes.seed.ready_log_line" in warning
    assert "processes.server.depends_on.seed.condition" in warning  # any exit: not corral's
    started = project.run("start", "--json", timeout=45)
    assert started.returncode == 0, started.stdout + started.stderr
    states = {s["name"]: s["state"] for s in json.loads(started.stdout)["services"]}
    assert states["server"] == "ready" and not port_free(api)
    assert (project.root / "migrated.txt").read_text() == "migrated\n"
    assert project.run("stop", timeout=45).returncode == 0
    assert port_free(api)


@pytest.mark.timeout(60)
def test_a_running_supervisor_leaves_the_warning_to_the_client(corral_project) -> None:  # type: ignore[no-untyped-def]
    """The fast start (the supervisor loads the file itself) declines a configuration with
    warnings, so that the client's full path shows them: they are never lost."""
    project = corral_project(
        {"process-compose.yaml": "processes:\n  a:\n    command: sleep 60\n    is_daemon: false\n"}
    )
    first = project.run("start", timeout=45)
    assert first.returncode == 0, first.stderr
    again = project.run("start", timeout=45)  # a supervisor answers now: the fast path first
    assert again.returncode == 0, again.stderr
    assert "corral cannot honour processes.a.is_daemon" in again.stderr
    assert project.run("stop", timeout=45).returncode == 0
