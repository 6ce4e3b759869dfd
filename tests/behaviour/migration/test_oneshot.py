"""One-shot services (a Procfile's ``release:`` line, ``oneshot = true``): exit 0 is success,
dependents wait for the completion, a non-zero exit is a start failure with its diagnosis."""

from __future__ import annotations

import json
import sys

import pytest

from harness import ProjectDir, hostile, service_toml

RELEASE = (
    f'{sys.executable} -c "import time, pathlib; time.sleep(0.3); '
    "pathlib.Path('migrated').write_text('1'); print('migrations done')\""
)
# web refuses to run before the release step finished: the order is checked by the service
WEB = f"test -f migrated && exec {hostile()}"


def status_of(project: ProjectDir) -> dict:
    result = project.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


@pytest.mark.timeout(60)
def test_a_release_line_completes_and_its_dependents_start_after_it(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project(
        {
            "Procfile": f"release: {RELEASE}\nweb: {WEB}\n",
            "corral.toml": '[services.web]\ndepends_on = ["release"]\n',
        }
    )
    started = project.run("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "completed (exit 0)" in started.stdout
    services = status_of(project)
    assert services["release"]["state"] == "completed"
    assert services["release"]["last_exit"]["code"] == 0
    assert services["web"]["state"] == "ready"
    text = project.run("status").stdout
    assert "completed (exit 0)" in text and " ago" in text
    again = project.run("start")  # a completed oneshot counts as done: nothing runs again
    assert again.returncode == 0, again.stdout + again.stderr
    assert "unchanged" in again.stdout
    log = project.root / ".corral" / "logs" / "release.log"
    assert log.read_text().count("migrations done") == 1
    restarted = project.run("restart", "release")  # runs it again
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert log.read_text().count("migrations done") == 2
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_failed_oneshot_fails_the_start_and_its_dependents_wait(corral_project) -> None:  # type: ignore[no-untyped-def]
    failing = f"{sys.executable} -c \"print('relation users does not exist'); raise SystemExit(3)\""
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("migrate", failing, oneshot=True)
        + service_toml("web", hostile(), depends_on=["migrate"]),
    )
    started = project.run("start", "--json")
    assert started.returncode == 1, started.stdout + started.stderr
    document = json.loads(started.stdout)
    assert document["failed"] == "migrate"
    assert document["diagnosis"]["exit"]["code"] == 3
    assert "relation users does not exist" in "\n".join(document["diagnosis"]["log_tail"])
    services = status_of(project)
    assert services["web"]["state"] == "stopped"
    assert "did not complete" in services["web"]["note"]
    assert project.run("stop").returncode == 0


def test_a_oneshot_takes_no_ready_probe(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("migrate", "true", oneshot=True, ready={"tcp": 5000}))
    result = project.run("check")
    assert result.returncode == 2
    assert "takes no ready probe" in result.stderr and "corral.toml" in result.stderr
