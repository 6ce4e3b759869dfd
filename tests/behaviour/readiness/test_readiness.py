"""Start that tells the truth: probes, port ownership, fail-fast, wait, free, doctor."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from corral.oslayer import project_cgroup
from harness import (
    ProjectDir,
    free_port,
    hostile,
    pid_alive,
    port_free,
    project_id_of,
    read_pids,
    service_toml,
    wait_until,
)

HTTP_SERVER = (
    "import http.server, os, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(int(os.environ.get('CODE', '200'))); self.end_headers()\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
)


def foreign_listener(port: int) -> subprocess.Popen[bytes]:
    """A process corral did not start (no markers, no test token), listening on ``port``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    script = (
        "import socket, sys, time\ns = socket.socket()\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {port})); s.listen(); print('ready', flush=True); time.sleep(120)"
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    child.stdout.close()  # it writes nothing more
    return child


def start_json(project: ProjectDir, *args: str) -> tuple[int, dict]:
    result = project.run("start", "--json", *args, timeout=60)
    return result.returncode, json.loads(result.stdout)


@pytest.mark.timeout(60)
def test_each_probe_kind_passes(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    tcp, http = free_port(), free_port()
    project.write("server.py", HTTP_SERVER)
    project.write(
        "corral.toml",
        service_toml("tcp", hostile("--listen", str(tcp)), port=tcp)
        + service_toml(
            "http",
            f"{sys.executable} server.py",
            port=http,
            ready={"http": f"http://127.0.0.1:{http}/health"},
        )
        + service_toml("log", hostile(), ready={"log": "main: rea+dy"})
        + service_toml("cmd", hostile(), ready={"cmd": f"test -f {project.root}/flag"}),
    )
    project.write("flag", "")
    code, document = start_json(project)
    assert code == 0, document
    assert {s["name"]: s["state"] for s in document["services"]} == dict.fromkeys(
        ["tcp", "http", "log", "cmd"], "ready"
    )
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("ready", "reason"),
    [
        (
            {"log": "never printed", "timeout": "1s"},
            "log line matching 'never printed' not seen yet",
        ),
        ({"cmd": "exit 3", "timeout": "1s"}, "'exit 3' exited with code 3"),
        ({"http": "http://127.0.0.1:{port}/", "timeout": "1s"}, "HTTP 500"),
        ({"tcp": "{port}", "timeout": "1s"}, "nothing listens on port {port} (connection refused)"),
    ],
)
def test_a_failing_probe_fails_start_with_its_reason(corral_project, ready, reason) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port = free_port()
    ready = {
        k: (int(v.format(port=port)) if k == "tcp" else v.format(port=port))
        for k, v in ready.items()
    }
    command = f"{sys.executable} server.py" if "http" in ready else hostile()
    project.write("server.py", HTTP_SERVER)
    project.write(
        "corral.toml",
        service_toml("svc", command, ready=ready, env={"PORT": str(port), "CODE": "500"}),
    )
    code, document = start_json(project)
    assert code == 1
    assert document["diagnosis"]["state"] == "running"
    assert reason.format(port=port) in document["diagnosis"]["note"]
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_listener_of_another_process_does_not_make_a_service_ready(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port = free_port()
    stranger = foreign_listener(port)
    try:
        # the service itself never listens; only the stranger does, on the probed port
        project.write(
            "corral.toml", service_toml("svc", hostile(), ready={"tcp": port, "timeout": "1s"})
        )
        code, document = start_json(project)
        assert code == 1
        assert f"port {port} is held by pid {stranger.pid}" in document["diagnosis"]["note"]
        assert "not by this service" in document["diagnosis"]["note"]
        assert project.run("stop").returncode == 0
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.timeout(60)
def test_a_foreign_port_holder_is_named_never_killed_and_start_exits_1(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port = free_port()
    stranger = foreign_listener(port)
    try:
        project.write("corral.toml", service_toml("web", hostile("--listen", str(port)), port=port))
        result = project.run("start")
        assert result.returncode == 1
        assert f"not started: port {port} is held by pid {stranger.pid}" in result.stdout
        assert "of user" in result.stdout and f"cwd {os.getcwd()}" in result.stdout
        assert stranger.poll() is None
        refused = project.run("free", str(port))
        assert refused.returncode == 1 and "NOT freed" in refused.stdout and stranger.poll() is None
        port_info = json.loads(project.run("port", "--json").stdout)["ports"][0]
        assert (
            port_info["holders"][0]["pid"] == stranger.pid and not port_info["holders"][0]["ours"]
        )
        forced = project.run("free", str(port), "--force")
        assert forced.returncode == 0, forced.stdout
        assert (
            f"killed a process corral did not start (--force): pid {stranger.pid}" in forced.stdout
        )
        stranger.wait(timeout=10)
        assert port_free(port)
    finally:
        stranger.kill()
        stranger.wait()
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_port_held_by_this_projects_orphan_is_cleaned_and_reported(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port, pidfile = free_port(), project.root / "pids"
    project.write(
        "corral.toml",
        service_toml(
            "web",
            hostile("--setsid-child", "--listen", str(port), "--pidfile", str(pidfile)),
            port=port,
        ),
    )
    assert project.run("start").returncode == 0
    wait_until(lambda: not port_free(port), message="the server")
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["guard"]["pid"], signal.SIGKILL)  # both daemons die: the listener is orphaned
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")
    orphan = next(pid for pid, role in read_pids(pidfile).items() if role == "setsid-child")
    assert pid_alive(orphan)
    (project.root / ".corral" / "state.json").unlink()  # no records: only the markers tell
    result = project.run("start")
    assert result.returncode == 0, result.stdout
    assert f"cleaned up: port {port} was held by an orphan of this project" in result.stdout
    assert not pid_alive(orphan)
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_a_crash_while_others_start_fails_start_fast(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "corral.toml",
        service_toml("slow", hostile(), ready={"log": "never", "timeout": "30s"})
        + service_toml("crasher", hostile("--crash", "9")),
    )
    begun = time.monotonic()
    code, document = start_json(project)
    assert code == 1 and document["failed"] == "crasher"
    assert time.monotonic() - begun < 20, "start must not wait for the slow service's timeout"
    assert project.run("stop").returncode == 0


@pytest.mark.timeout(60)
def test_wait_for_readiness_and_for_a_new_log_line(corral_project) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    project.write(
        "echo.py",
        "import time\nwhile True:\n    print(open('msg').read(), flush=True)\n"
        "    time.sleep(0.1)\n",
    )
    project.write("corral.toml", service_toml("svc", f"{sys.executable} echo.py"))
    project.write("msg", "building")
    assert project.run("start", "--no-wait").returncode == 0
    assert project.run("wait", "svc", "--timeout", "20s").returncode == 0
    timed_out = project.run("wait", "svc", "--log", "compiled successfully", "--timeout", "1s")
    assert timed_out.returncode == 1 and "no new line of svc matched" in timed_out.stdout
    waiter = subprocess.Popen(
        [
            *__import__("harness").corral_command(),
            "wait",
            "svc",
            "--log",
            "compiled successfully",
            "--timeout",
            "20s",
            "--json",
        ],
        cwd=project.root,
        stdout=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    time.sleep(0.3)  # let the waiter take its starting offset (any later line counts)
    project.write("msg", "compiled successfully")
    out, _ = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and json.loads(out)["line"] == "compiled successfully"
    assert project.run("stop").returncode == 0
    not_running = project.run("wait", "svc", "--timeout", "1s")
    assert not_running.returncode == 1 and "no supervisor runs" in not_running.stderr


@pytest.mark.timeout(60)
def test_doctor_on_a_healthy_project_a_killed_supervisor_and_a_stale_socket(
    corral_project, runtime_dir
) -> None:  # type: ignore[no-untyped-def]
    project = corral_project()
    port = free_port()
    # The leader dies with the supervisor (its death signal): its setsid child outlives both.
    subject = hostile("--setsid-child", "--listen", str(port))
    project.write("corral.toml", service_toml("web", subject, port=port))
    assert project.run("start").returncode == 0
    healthy = json.loads(project.run("doctor", "--json").stdout)
    assert healthy["problems"] == [] and healthy["supervisor"]["answering"]
    assert healthy["services"][0]["tree"][0]["pid"] == healthy["services"][0]["pid"]
    assert healthy["layers"]["process groups"] is True
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    os.kill(state["guard"]["pid"], signal.SIGKILL)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(state["supervisor"]["pid"]), message="supervisor gone")
    broken = project.run("doctor")
    assert broken.returncode == 0
    assert "web runs without a supervisor (orphaned)" in broken.stdout
    assert "stale socket" in broken.stdout and "fix: corral stop" in broken.stdout
    cgroup = project_cgroup(project_id_of(project.root))
    assert project.run("stop").returncode == 0
    assert not list(runtime_dir.glob("*.sock")), "stop removes the stale socket"
    assert cgroup is None or not cgroup.exists(), "stop removes the project's cgroup too"
    clean = json.loads(project.run("doctor", "--json").stdout)
    assert clean["problems"] == []


HTTPS_SERVER = (
    HTTP_SERVER.replace("http.server.HTTPServer(", "server = http.server.HTTPServer(").replace(
        ".serve_forever()", ""
    )
    + "import ssl\n"
    "context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "context.load_cert_chain('cert.pem', 'key.pem')\n"
    "server.socket = context.wrap_socket(server.socket, server_side=True)\n"
    "server.serve_forever()\n"
)


def self_signed_certificate(directory: os.PathLike[str]) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed here: no certificate for the TLS server")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=127.0.0.1"),
        ],
        cwd=directory,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.timeout(90)
def test_an_https_probe_passes_and_fails_by_status(corral_project) -> None:  # type: ignore[no-untyped-def]
    """The supervisor runs asyncio without OpenSSL; https probes must work all the same."""
    project = corral_project()
    self_signed_certificate(project.root)
    project.write("server.py", HTTPS_SERVER)
    good, bad = free_port(), free_port()
    project.write(
        "corral.toml",
        service_toml(
            "good",
            f"{sys.executable} server.py",
            port=good,
            ready={"http": f"https://127.0.0.1:{good}/"},
        )
        + service_toml(
            "bad",
            f"{sys.executable} server.py",
            port=bad,
            env={"CODE": "503"},
            ready={"http": f"https://127.0.0.1:{bad}/", "timeout": "2s"},
            autostart=False,
        ),
    )
    code, document = start_json(project)
    assert code == 0, document
    code, document = start_json(project, "bad")
    assert code == 1
    assert "HTTP 503" in document["diagnosis"]["note"]
    assert project.run("stop").returncode == 0


def test_the_supervisor_does_not_load_openssl_without_https_probes(corral_project) -> None:  # type: ignore[no-untyped-def]
    """OpenSSL would cost the resident supervisor about 4 MiB for nothing (see
    corral.supervisor.daemon)."""
    project = corral_project()
    port = free_port()
    project.write("server.py", HTTP_SERVER)
    project.write(
        "corral.toml",
        service_toml(
            "web",
            f"{sys.executable} server.py",
            port=port,
            ready={"http": f"http://127.0.0.1:{port}/"},
        ),
    )
    assert project.run("start").returncode == 0
    state = json.loads((project.root / ".corral" / "state.json").read_text())
    with open(f"/proc/{state['supervisor']['pid']}/maps") as maps:
        libraries = {line.split()[-1] for line in maps if ".so" in line}
    assert not [name for name in libraries if "libssl" in name or "_ssl" in name], libraries
    assert project.run("stop").returncode == 0
