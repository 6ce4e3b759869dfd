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
