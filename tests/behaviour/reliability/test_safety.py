"""Strangers survive everything: a foreign port holder and a foreign pid planted in the state."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from harness import free_port, hostile, service_toml


def stranger(port: int | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    body = "import time; time.sleep(300)"
    if port:
        body = (
            f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); "
            "s.listen(); time.sleep(300)"
        )
    return subprocess.Popen([sys.executable, "-c", body], env=env)


@pytest.mark.timeout(120)
def test_strangers_survive_every_command(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port = free_port()
    holder, planted = stranger(port), stranger()
    try:
        project.write(
            "corral.toml",
            service_toml("web", hostile("--listen", str(port)), port=port)
            + service_toml("worker", hostile()),
        )
        import time

        time.sleep(0.3)  # let the holder bind
        project.run("start")  # web cannot start (port held); worker starts
        state_file = project.root / ".corral" / "state.json"
        state = json.loads(state_file.read_text())
        fake = {"pid": planted.pid, "start": 1, "boot_id": state["boot_id"], "inode": None}
        state["services"]["worker"]["run"]["members"].append(fake)
        state_file.write_text(json.dumps(state))
        for args in (
            ["status"],
            ["port"],
            ["free", str(port)],
            ["doctor"],
            ["restart", "worker"],
            ["stop", "worker"],
            ["stop"],
            ["ls"],
            ["nuke", "--yes"],
            ["stop"],
        ):
            project.run(*args, timeout=60)
            assert holder.poll() is None, f"corral {' '.join(args)} killed the port holder"
            assert planted.poll() is None, f"corral {' '.join(args)} killed the planted pid"
    finally:
        for process in (holder, planted):
            process.kill()
            process.wait()


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a process as another user")
def test_free_force_never_kills_another_user_and_never_claims_it(corral_project) -> None:  # type: ignore[no-untyped-def]
    """Issue "trust nothing on disk", item 19: `free --force` printed "killed" when the kill
    had failed; a process of another uid is refused even for root, and said so."""
    project = corral_project()
    port = free_port()
    project.write("corral.toml", service_toml("web", hostile(), port=port))
    body = (
        f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); "
        "s.listen(); time.sleep(300)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable  # nobody can run it
    other = subprocess.Popen(
        [python, "-c", body], env=env, user=65534, group=65534, cwd="/", stderr=subprocess.DEVNULL
    )
    try:
        from corral import oslayer
        from harness import wait_until

        wait_until(lambda: not oslayer.port_is_free(port), message="the stranger listens")
        result = project.run("free", str(port), "--force", timeout=30)
        assert result.returncode == 1, result.stdout + result.stderr
        assert other.poll() is None, "free --force killed another user's process"
        assert "could NOT kill" in result.stdout and "another user" in result.stdout
        assert "STILL HELD" in result.stdout
    finally:
        other.kill()
        other.wait()
