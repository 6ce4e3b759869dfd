"""Two checkouts of one project: a port offset runs the second beside the first, a PORT given
through the environment is checked before start, and a stop verifies only the ports its own
processes held (never the other checkout's)."""

from __future__ import annotations

import json

import pytest

from harness import free_port, hostile, port_free, service_toml


def offset_to_free(port: int) -> int:
    for offset in range(1, 200):
        if port + offset <= 65535 and port_free(port + offset):
            return offset
    raise AssertionError("no free port near the first")


@pytest.mark.timeout(90)
def test_a_second_checkout_runs_beside_the_first_with_a_port_offset(corral_project) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    config = service_toml("web", f"{hostile()} --listen $PORT", port=port)
    first = corral_project({"corral.toml": config}, name="checkout1")
    second = corral_project({"corral.toml": config}, name="checkout2")
    assert first.run("start").returncode == 0
    stopped = second.run("stop")  # it never ran web: the other checkout's port is not its own
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "STILL HELD" not in stopped.stdout
    clash = second.run("start")
    assert clash.returncode == 1
    assert f"port {port} is held by" in clash.stdout and "checkout1" in clash.stdout
    offset = offset_to_free(port)
    env = {"CORRAL_PORT_OFFSET": str(offset)}
    shown = json.loads(second.run("config", "--json", env=env).stdout)
    assert shown["project"]["port_offset"] == offset
    assert shown["project"]["port_offset_source"] == "CORRAL_PORT_OFFSET"
    assert shown["services"][0]["ports"] == [port + offset]
    started = second.run("start", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    status = json.loads(second.run("status", "--json", env=env).stdout)
    assert status["services"][0]["listening"] == [port + offset]
    assert second.run("stop", env=env).returncode == 0
    assert port_free(port + offset) and not port_free(port)  # the first still serves
    assert first.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_port_given_through_port_is_checked_before_start(corral_project) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    holder = corral_project(
        {"corral.toml": service_toml("api", f"{hostile()} --listen {port}", port=port)}
    )
    assert holder.run("start").returncode == 0
    project = corral_project({"Procfile": f"web: {hostile()} --listen $PORT\n"})
    started = project.run("start", "-p", str(port))
    assert started.returncode == 1, started.stdout + started.stderr
    assert (
        f"port {port} is held by" in started.stdout
        and "it is this service's PORT" in started.stdout
    )
    assert "Traceback" not in started.stdout  # never got as far as its own bind error
    assert holder.run("stop").returncode == 0
