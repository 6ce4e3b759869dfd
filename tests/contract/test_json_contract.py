"""Every --json document matches its schema in docs/schemas/ (real output, real processes)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from harness import REPO, check_schema, free_port, hostile, service_toml

ROOT = REPO
SCHEMAS = ROOT / "docs" / "schemas"


def run_json(project, *args: str, code: int = 0) -> dict:  # type: ignore[no-untyped-def]
    result = project.run(*args, "--json", timeout=60)
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_every_schema_is_valid_json_schema() -> None:
    names = sorted(path.stem for path in SCHEMAS.glob("*.json"))
    assert names == [
        "agent",
        "config",
        "doctor",
        "error",
        "events",
        "free",
        "logs",
        "ls",
        "nuke",
        "port",
        "restart",
        "start",
        "status",
        "stop",
        "wait",
    ]
    for name in names:
        jsonschema.Draft202012Validator.check_schema(
            json.loads((SCHEMAS / f"{name}.json").read_text())
        )


@pytest.mark.timeout(120)
def test_every_command_output_matches_its_schema(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port = free_port()
    project.write(
        "corral.toml",
        service_toml("web", hostile("--listen", str(port)), port=port)
        + service_toml("worker", hostile(), depends_on=["web"]),
    )
    check_schema("config", run_json(project, "config"))
    check_schema("start", run_json(project, "start"))
    check_schema("status", run_json(project, "status"))
    check_schema("wait", run_json(project, "wait", "--timeout", "10s"))
    check_schema("logs", run_json(project, "logs"))
    check_schema("events", run_json(project, "events"))
    check_schema("port", run_json(project, "port"))
    check_schema("doctor", run_json(project, "doctor"))
    check_schema("ls", run_json(project, "ls"))
    check_schema("restart", run_json(project, "restart", "worker"))
    check_schema("free", run_json(project, "free", str(free_port())))
    check_schema("stop", run_json(project, "stop", "worker"))
    check_schema("nuke", run_json(project, "nuke", "--yes"))
    check_schema("status", run_json(project, "status"))  # from the state file now


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "files", "code"),
    [
        (["status"], {}, "no_project"),
        (["config"], {"corral.toml": "[services.a]\ncomand = 'x'\n"}, "config"),
        (["start", "nope"], {"Procfile": "a: true\n"}, "unknown_service"),
        (["wait"], {"Procfile": "a: true\n"}, "not_running"),
        (["logs", "--since", "yesterday"], {"Procfile": "a: true\n"}, "usage"),
    ],
)
def test_errors_are_one_document_with_a_stable_code(corral_project, args, files, code) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(files)
    result = project.run(*args, "--json")
    document = json.loads(result.stdout)
    check_schema("error", document)
    assert document["error"]["code"] == code and result.returncode in (1, 2)
    assert result.stderr == ""


def test_docs_list_every_error_code_with_its_exit_code() -> None:
    """docs/json.md's table and the error classes (corral.errors, the one place codes are
    defined) agree: every code documented, with its exit code, and no code undocumented."""
    import re

    from corral.errors import all_codes

    table = (ROOT / "docs" / "json.md").read_text()
    documented = {m[1]: int(m[2]) for m in re.finditer(r"^\| `(\w+)` \| (\d) \|", table, re.M)}
    assert documented == all_codes()


@pytest.mark.timeout(60)
def test_argument_errors_are_json_documents_too(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project({"Procfile": "web: sleep 60\n"})
    for args in (["start", "--timeout", "10sec", "--json"], ["--json", "frobnicate"]):
        result = project.run(*args)
        document = json.loads(result.stdout)
        assert result.returncode == 2 and document["ok"] is False, result.stdout
        assert document["error"]["code"] == "usage", document


@pytest.mark.timeout(90)
def test_status_has_one_shape_whichever_side_answers(corral_project) -> None:  # type: ignore[no-untyped-def]
    """The supervisor's status and the state-file fallback's have the same keys, top level and
    per service (they used to differ in 7 of 10), and both match the one schema."""
    import os
    import signal

    schema = json.loads((SCHEMAS / "status.json").read_text())
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    assert project.run("start").returncode == 0
    live = json.loads(project.run("status", "--json").stdout)
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["supervisor"]["pid"], signal.SIGSTOP)
    try:
        offline = json.loads(project.run("status", "--json").stdout)
    finally:
        os.kill(state["supervisor"]["pid"], signal.SIGCONT)
    assert (live["source"], offline["source"]) == ("supervisor", "state file and process scan")
    assert set(live) == set(offline)
    assert set(live["services"][0]) == set(offline["services"][0])
    for document in (live, offline):
        jsonschema.validate(document, schema)
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_an_unknown_service_has_one_code_in_every_command(corral_project) -> None:  # type: ignore[no-untyped-def]
    """`logs nope` said `usage` while `stop nope` said `unknown_service`."""
    project = corral_project({"Procfile": "web: sleep 60\n"})
    for command in (
        ["logs", "nope"],
        ["stop", "nope"],
        ["wait", "nope"],
        ["events", "--service", "nope"],
    ):
        document = json.loads(project.run(*command, "--json").stdout)
        assert document["error"]["code"] == "unknown_service", (command, document)
