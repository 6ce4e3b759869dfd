"""Every --json document matches its schema in docs/schemas/ (real output, real processes)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from harness import free_port, hostile, service_toml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "docs" / "schemas"


def check(name: str, document: dict) -> None:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    jsonschema.validate(document, schema)


def run_json(project, *args: str, code: int = 0) -> dict:  # type: ignore[no-untyped-def]
    result = project.run(*args, "--json", timeout=60)
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_every_schema_is_valid_json_schema() -> None:
    names = sorted(path.stem for path in SCHEMAS.glob("*.json"))
    assert names == [
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
    check("config", run_json(project, "config"))
    check("start", run_json(project, "start"))
    check("status", run_json(project, "status"))
    check("wait", run_json(project, "wait", "--timeout", "10s"))
    check("logs", run_json(project, "logs"))
    check("events", run_json(project, "events"))
    check("port", run_json(project, "port"))
    check("doctor", run_json(project, "doctor"))
    check("ls", run_json(project, "ls"))
    check("restart", run_json(project, "restart", "worker"))
    check("free", run_json(project, "free", str(free_port())))
    check("stop", run_json(project, "stop", "worker"))
    check("nuke", run_json(project, "nuke", "--yes"))
    check("status", run_json(project, "status"))  # from the state file now


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
    check("error", document)
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
