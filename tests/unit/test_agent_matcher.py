"""The guard's word matcher as a table: normalised typed words against a service's."""

from __future__ import annotations

import pytest

from corral.agent.commands import runs_service

SERVICE_ROWS = [
    # (typed, service, runs it?)
    (["<script>", "dev"], ["<script>", "dev"], True),
    (["<script>", "dev", "--port", "3001"], ["<script>", "dev"], True),
    (["<script>", "build"], ["<script>", "dev"], False),
    (["manage.py", "runserver"], ["manage.py", "runserver", "0.0.0.0:$PORT"], True),
    (["manage.py", "runserver", "8001"], ["manage.py", "runserver"], True),
    (["manage.py", "runserver", "0.0.0.0:8001"], ["manage.py", "runserver", "0.0.0.0:$PORT"], True),
    (["manage.py", "migrate"], ["manage.py", "runserver"], False),
    (["manage.py", "runserver", "--help"], ["manage.py", "runserver"], False),
    (["app.py", "migrate"], ["app.py"], False),  # a subcommand is another command
    (["app.py", "--reload"], ["app.py"], True),
    (["uvicorn", "app:api", "--reload"], ["uvicorn", "app:api", "--port", "$PORT"], True),
    (["uvicorn", "other:api"], ["uvicorn", "app:api", "--port", "$PORT"], False),
    (["celery", "-A", "proj", "worker"], ["celery", "-A", "proj", "worker"], True),
    (["celery", "-A", "proj", "inspect"], ["celery", "-A", "proj", "worker"], False),
    (["vite"], ["vite", "--port", "5173"], True),
    (["vite", "build"], ["vite", "--port", "5173"], False),
    ([], ["vite"], False),
    (["python", "-c"], ["app.py"], False),
]


@pytest.mark.parametrize(("typed", "service", "expected"), SERVICE_ROWS)
def test_runs_service(typed: list[str], service: list[str], expected: bool) -> None:
    assert runs_service(typed, service) is expected


def guard(*commands: str) -> list:  # type: ignore[type-arg]
    from pathlib import Path

    from corral.agent.commands import targets_of
    from corral.model import ProjectSpec, ServiceSpec

    services = tuple(
        ServiceSpec(f"s{i}", command, Path("/"), {"PORT": str(5000 + i)})
        for i, command in enumerate(commands)
    )
    return targets_of(ProjectSpec("p", Path("/"), "id", (), services))


@pytest.mark.parametrize(
    ("service", "typed", "denied"),
    [
        # a shell loop in a service: its command is the one inside, never "done"
        ("while true; do node worker.js; done", "for f in *; do echo $f; done", False),
        ("while true; do node worker.js; done", "node worker.js &", True),
        ("cd web && exec npm run dev", "for i in 1; do npm run dev & done", True),
        ("if [ -f x ]; then python app.py; fi", "if true; then ls; fi", False),
        ("sleep infinity", "sleep 5", False),
        ("docker compose up db", "docker compose logs db", False),
    ],
)
def test_shell_syntax_in_services_and_commands(service: str, typed: str, denied: bool) -> None:
    from corral.agent.commands import check

    assert (check(typed, guard(service)) is not None) is denied
