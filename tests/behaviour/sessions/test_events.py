"""The event stream: what happened, in order, with a cursor to continue from."""

from __future__ import annotations

import json
import time

import pytest

from harness import hostile, service_toml, wait_until


def events(project, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = project.run("events", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.timeout(60)
def test_lifecycle_events_with_a_growing_cursor(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("web", hostile("--double-fork"))
        + service_toml("flaky", hostile("--crash", "5"), restart="on-failure", restart_limit=2),
    )
    project.run("start")
    wait_until(
        lambda: any(e["kind"] == "crashed" for e in events(project)["events"]),
        timeout=20,
        message="the crash",
    )
    first = events(project)
    kinds = [(e["kind"], e["service"]) for e in first["events"]]
    assert kinds[0] == ("supervisor_started", None)
    for expected in [
        ("starting", "web"),
        ("started", "web"),
        ("ready", "web"),
        ("exited", "flaky"),
        ("restarting", "flaky"),
        ("crashed", "flaky"),
    ]:
        assert expected in kinds, (expected, kinds)
    exited = next(e for e in first["events"] if e["kind"] == "exited")
    assert exited["code"] == 5
    cursors = [e["cursor"] for e in first["events"]]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert first["cursor"] == cursors[-1]
    assert project.run("stop").returncode == 0
    later = events(project, "--since", str(first["cursor"]))
    later_kinds = [e["kind"] for e in later["events"]]
    assert later_kinds[0] == "stop_requested" and "stopped" in later_kinds
    assert "escapee_swept" in later_kinds  # the double-forked daemon of web
    assert later_kinds[-1] == "supervisor_exited"
    assert all(e["cursor"] > first["cursor"] for e in later["events"])
    only_web = events(project, "--service", "web")
    assert {e["service"] for e in only_web["events"]} <= {"web", None}
    human = project.run("events", "--since", str(first["cursor"])).stdout.splitlines()
    assert human[-1].startswith(f"cursor {later['cursor']} (continue with: corral events --since")


@pytest.mark.timeout(60)
def test_following_events_is_bounded_without_a_terminal(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()))
    begun = time.monotonic()
    result = project.run("events", "--for", "1s", timeout=30)
    assert result.returncode == 0 and time.monotonic() - begun < 20
    assert result.stdout.strip() == "cursor 0 (continue with: corral events --since 0)"


@pytest.mark.timeout(60)
def test_events_go_on_in_a_new_file_after_the_old_one_is_removed(corral_project) -> None:  # type: ignore[no-untyped-def]
    """The supervisor keeps the file open between events: one removed meanwhile (by hand, or
    with .corral/) must not swallow the next ones."""
    project = corral_project()
    project.write("corral.toml", service_toml("web", hostile()) + service_toml("api", hostile()))
    assert project.run("start").returncode == 0
    (project.root / ".corral" / "events.jsonl").unlink()
    assert project.run("stop", "web").returncode == 0
    kinds = [(e["kind"], e["service"]) for e in events(project)["events"]]
    assert ("stop_requested", "web") in kinds and ("stopped", "web") in kinds, kinds
    assert project.run("stop").returncode == 0


def test_a_full_event_file_is_rotated_and_the_next_event_starts_anew(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from corral import events as event_stream

    monkeypatch.setattr(event_stream, "MAX_SIZE", 300)
    log = event_stream.EventLog(tmp_path)
    rotated = tmp_path / "events.jsonl.1"
    for _ in range(20):  # a line is some 75 bytes, its time's digits varying
        log.emit("starting", "web")
        if rotated.exists():
            break
    assert rotated.exists() and log.problem is None
    before = rotated.read_text()
    log.emit("ready", "web")
    assert rotated.read_text() == before  # nothing more went into the rotated file
    newest = event_stream.read(tmp_path)[-1]
    assert (newest["kind"], newest["cursor"]) == ("ready", log.cursor)
