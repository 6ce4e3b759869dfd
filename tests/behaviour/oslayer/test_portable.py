"""The portable OS layer (what macOS runs), selected on Linux by ``CORRAL_OSLAYER=portable``,
with what macOS's Python lacks taken away for real: these tests run in both modes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from harness import hostile, read_pids, wait_until

NO_PEERCRED = """\
import socket
if hasattr(socket, "SO_PEERCRED"):
    del socket.SO_PEERCRED  # as on macOS, where Python's socket module never defines it
"""


def test_the_switch_selects_the_portable_layer() -> None:
    code = "import corral.oslayer as o; print(o.NAME, o.capabilities().subreaper)"
    env = {**os.environ, "CORRAL_OSLAYER": "portable"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.stdout.split() == ["portable", "False"], result.stderr


def test_peer_uid_of_a_connected_unix_socket() -> None:
    from corral.oslayer import linux, portable

    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert portable.peer_uid(left) == os.getuid()
        if sys.platform.startswith("linux"):
            assert linux.peer_uid(left) == os.getuid()


def test_start_status_stop_work_without_so_peercred(corral_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue item 1: the supervisor read the peer's uid with socket.SO_PEERCRED, which Python on
    macOS lacks, so every request died inside it and nothing could start."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_PEERCRED)
    env = {
        "CORRAL_OSLAYER": "portable",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    }
    project = corral_project()
    pidfile = project.root / "pids"
    project.write("Procfile", f"web: {hostile('--pidfile', str(pidfile))}\n")
    started = project.run("start", "--json", env=env, timeout=60)
    assert started.returncode == 0, started.stdout + started.stderr
    wait_until(lambda: read_pids(pidfile), message="the service")
    status = json.loads(project.run("status", "--json", env=env).stdout)
    assert status["source"] == "supervisor", status
    assert [s["state"] for s in status["services"]] == ["ready"], status
    stopped = project.run("stop", "--json", env=env, timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    log = (project.root / ".corral" / "supervisor.log").read_text()
    assert "SO_PEERCRED" not in log and "Traceback" not in log, log


def test_the_airplay_receiver_is_named_on_its_ports() -> None:
    """Issue item 7: macOS holds 5000 (the default port_base) and 7000 for AirPlay."""
    from corral.oslayer import darwin

    command = "/System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter"
    assert darwin.system_listener(5000, command) == darwin.AIRPLAY
    assert darwin.system_listener(7000, command) == darwin.AIRPLAY
    assert darwin.system_listener(5001, command) is None
    assert darwin.system_listener(5000, "ruby puma") is None
