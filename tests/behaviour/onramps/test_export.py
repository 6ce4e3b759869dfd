"""``corral export``: each format checked by its own tool where it installs here (systemd-analyze,
supervisord), otherwise parsed back by a standard parser against the format's documented keys;
golden files of the demo project for every format."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from harness import REPO, ProjectDir, free_port, port_free, wait_until

ROOT = REPO
DEMO = ROOT / "examples" / "demo"
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("CORRAL_UPDATE_GOLDEN") == "1"  # rewrite the golden files instead


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """An export directory with a short path (supervisord's socket lives there)."""
    path = Path(tempfile.mkdtemp(prefix="cx-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def demo(corral_project, ports: tuple[int, int] = (8710, 8711)) -> ProjectDir:  # type: ignore[no-untyped-def]
    project = corral_project(name="demo")
    shutil.copytree(DEMO, project.root, dirs_exist_ok=True)
    config = project.root / "corral.toml"
    text = config.read_text().replace("8710", str(ports[0])).replace("8711", str(ports[1]))
    config.write_text(text)
    return project


def export(project: ProjectDir, fmt: str, directory: Path, *extra: str) -> dict[str, str]:
    result = project.run("export", fmt, str(directory), *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name: path.read_text() for path in sorted(directory.iterdir())}


@pytest.mark.parametrize("fmt", ["systemd", "launchd", "supervisord", "procfile", "compose"])
def test_golden_files_of_the_demo(corral_project, short_dir: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    project = demo(corral_project)
    extra = ("--image", "python:3.12-slim") if fmt == "compose" else ()
    files = export(project, fmt, short_dir, *extra)
    golden = GOLDEN / fmt
    normalised = {
        name: text.replace(str(short_dir), "@DIR@").replace(str(project.root), "@ROOT@")
        for name, text in files.items()
    }
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for name, text in normalised.items():
            (golden / name).write_text(text)
    expected = {path.name: path.read_text() for path in sorted(golden.iterdir())}
    assert normalised == expected
    private = {name for name in files if (short_dir / name).stat().st_mode & 0o077 == 0}
    assert private == {n for n in files if n.endswith((".env", ".plist", ".conf"))}


def test_systemd_units_pass_systemd_analyze_verify(corral_project, short_dir: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    files = export(demo(corral_project), "systemd", short_dir)
    units = sorted(name for name in files if name.endswith((".service", ".target")))
    assert units == [
        "demo-api.service",
        "demo-frontend.service",
        "demo-worker.service",
        "demo.target",
    ]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        cwd=short_dir,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    frontend = files["demo-frontend.service"]
    for line in ("KillMode=control-group", "Requires=demo-api.service", "After=demo-api.service"):
        assert line in frontend.splitlines()
    assert f"EnvironmentFile={short_dir}/demo-frontend.env" in frontend
    assert dotenv_values(short_dir / "demo-frontend.env")["API_URL"].startswith("http://")


@pytest.mark.timeout(60)
def test_supervisord_reads_and_runs_the_export(corral_project, short_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from supervisor.options import ServerOptions

    api, frontend = free_port(), free_port()
    export(demo(corral_project, (api, frontend)), "supervisord", short_dir)
    conf = short_dir / "supervisord.conf"
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    (group,) = options.process_group_configs
    assert group.name == "demo"
    programs = {p.name: p for p in group.process_configs}
    assert list(programs) == ["api", "worker", "frontend"]
    assert all(p.stopasgroup and p.killasgroup for p in programs.values())
    assert programs["api"].environment["PORT"] == str(api)
    # And supervisord itself runs it: the api answers, then a shutdown stops everything.
    daemon = Path(sys.executable).parent / "supervisord"
    process = subprocess.Popen([str(daemon), "-n", "-c", str(conf)], stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: not port_free(api), 20, f"the api on port {api} under supervisord")
    finally:
        ctl = Path(sys.executable).parent / "supervisorctl"
        subprocess.run([str(ctl), "-c", str(conf), "shutdown"], capture_output=True, timeout=30)
        process.wait(timeout=30)
    wait_until(lambda: port_free(api) and port_free(frontend), 10, "the ports to be free")


LAUNCHD_KEYS = {  # launchd.plist(5)
    "Label": str,
    "ProgramArguments": list,
    "WorkingDirectory": str,
    "EnvironmentVariables": dict,
    "RunAtLoad": bool,
    "KeepAlive": (bool, dict),
    "ExitTimeOut": int,
    "ProcessType": str,
    "StandardOutPath": str,
    "StandardErrorPath": str,
}


def test_launchd_plists_parse_with_documented_keys(corral_project, short_dir: Path) -> None:  # type: ignore[no-untyped-def]
    files = export(demo(corral_project), "launchd", short_dir)
    assert sorted(files) == [f"dev.corral.demo.{s}.plist" for s in ("api", "frontend", "worker")]
    for name in files:
        job = plistlib.loads((short_dir / name).read_bytes())
        assert set(job) <= set(LAUNCHD_KEYS), set(job) - set(LAUNCHD_KEYS)
        for key, kind in LAUNCHD_KEYS.items():
            assert isinstance(job[key], kind), key
        assert job["Label"] == name.removesuffix(".plist")
        assert job["ProgramArguments"][:2] == ["/bin/sh", "-c"]


COMPOSE_SERVICE_KEYS = {  # the compose specification's service attributes used here
    "image",
    "command",
    "working_dir",
    "volumes",
    "env_file",
    "restart",
    "stop_signal",
    "stop_grace_period",
    "ports",
    "depends_on",
    "profiles",
}


def test_compose_file_parses_with_documented_keys(corral_project, short_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    project = demo(corral_project)
    refused = project.run("export", "compose", str(short_dir))
    assert refused.returncode == 2 and "--image" in refused.stderr
    files = export(project, "compose", short_dir, "--image", "python:3.12-slim")
    document = yaml.safe_load(files["compose.yaml"])
    assert set(document) == {"name", "services"}
    for name, service in document["services"].items():
        assert set(service) <= COMPOSE_SERVICE_KEYS, set(service) - COMPOSE_SERVICE_KEYS
        assert service["restart"] in ("no", "always", "on-failure", "unless-stopped")
        assert (short_dir / service["env_file"][0]).is_file(), name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in document["services"]
            assert condition["condition"] in ("service_started", "service_completed_successfully")
    assert document["services"]["api"]["ports"] == ["127.0.0.1:8710:8710"]
    assert document["services"]["api"]["volumes"] == [f"{project.root}:/app"]


@pytest.mark.timeout(60)
def test_procfile_export_runs_under_corral_again(corral_project, short_dir: Path) -> None:  # type: ignore[no-untyped-def]
    api, frontend = free_port(), free_port()
    files = export(demo(corral_project, (api, frontend)), "procfile", short_dir)
    assert dotenv_values(short_dir / ".env") == {
        "DEMO_GREETING": "hello from the demo",
        "DEMO_API_TOKEN": "not-a-real-token",
    }
    # A plain Procfile project again: the exported files and the demo's code, no corral.toml.
    plain = corral_project(name="plain")
    for item in ("api.py", "worker.py", "frontend"):
        source = DEMO / item
        target = plain.root / item
        shutil.copytree(source, target) if source.is_dir() else shutil.copy(source, target)
    for name, text in files.items():
        plain.write(name, text)
    names = plain.run("config", "--names")
    assert names.stdout.split() == ["api", "worker", "frontend"], names.stderr
    started = plain.run("start", timeout=45)
    assert started.returncode == 0, started.stdout + started.stderr
    # The Procfile has no probes: its services are up once they stayed up; then they listen.
    wait_until(lambda: not port_free(api) and not port_free(frontend), 15, "both ports bound")
    assert plain.run("stop", timeout=45).returncode == 0
    assert port_free(api) and port_free(frontend)


TRICKY = """\
[services.migrate]
command = "echo 'migrated 100%' > done.txt"
oneshot = true

[services.api]
command = ["python3", "-c", "import os; print(os.environ['PORT'], \\"50% $HOME\\")"]
port = 8790
env = { QUOTED = "say \\"hi\\", 100% $NOT_EXPANDED", PLAIN = "it's plain, a, b" }
depends_on = ["migrate"]
restart = "on-failure"
stop_signal = "SIGINT"
"""


def test_quotes_percent_and_dollar_survive_every_format(corral_project, short_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import yaml
    from supervisor.options import ServerOptions

    project = corral_project({"corral.toml": TRICKY}, name="tricky")
    value = 'say "hi", 100% $NOT_EXPANDED'
    argv = ["python3", "-c", "import os; print(os.environ['PORT'], \"50% $HOME\")"]
    # systemd: the units verify, and the oneshot is one.
    units = export(project, "systemd", short_dir / "systemd")
    assert "Type=oneshot" in units["tricky-migrate.service"].splitlines()
    if shutil.which("systemd-analyze"):
        names = [n for n in units if n.endswith((".service", ".target"))]
        verify = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", *names],
            cwd=short_dir / "systemd",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (verify.returncode, verify.stderr) == (0, ""), verify.stderr
    assert dotenv_values(short_dir / "systemd" / "tricky-api.env")["QUOTED"] == value
    # supervisord: its parser gives back the command and the environment exactly.
    export(project, "supervisord", short_dir / "sv")
    options = ServerOptions()
    options.realize(args=["-c", str(short_dir / "sv" / "supervisord.conf")])
    programs = {p.name: p for p in options.process_group_configs[0].process_configs}
    import shlex

    assert shlex.split(programs["api"].command) == argv
    assert programs["api"].environment["QUOTED"] == value
    assert programs["api"].environment["PLAIN"] == "it's plain, a, b"
    assert programs["migrate"].exitcodes == [0] and programs["migrate"].startsecs == 0
    # compose: YAML gives back the argv, the dependency waits for completion.
    files = export(project, "compose", short_dir / "compose", "--image", "python:3.12-slim")
    services = yaml.safe_load(files["compose.yaml"])["services"]
    assert services["api"]["command"] == argv
    assert services["api"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert dotenv_values(short_dir / "compose" / "tricky-api.env")["QUOTED"] == value
    # launchd: plistlib gives back the argv and the environment.
    export(project, "launchd", short_dir / "launchd")
    job = plistlib.loads((short_dir / "launchd" / "dev.corral.tricky.api.plist").read_bytes())
    assert job["ProgramArguments"] == argv and job["EnvironmentVariables"]["QUOTED"] == value


def test_a_value_supervisord_cannot_hold_is_refused(corral_project, short_dir: Path) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {"corral.toml": '[services.a]\ncommand = "sleep 1"\nenv = { X = "it\'s \\"both\\"" }\n'}
    )
    result = project.run("export", "supervisord", str(short_dir))
    assert result.returncode == 2
    assert result.stderr.startswith(
        "corral: error: service 'a': supervisord's environment= cannot hold X's value"
    )
    assert list(short_dir.iterdir()) == []
