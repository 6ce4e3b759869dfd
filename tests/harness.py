"""The test harness every corral test runs under (loaded as a pytest plugin by conftest.py).

- ``corral_project``: a factory of fresh temporary projects, each with a CLI runner that calls the
  installed ``corral`` with no TTY and no stdin, under a timeout.
- ``leak_guard`` (autouse): after each test, every live process that carries the test's marker
  (``CORRAL_PROJECT_ID`` of a project the test made, or the per-test ``CORRAL_TEST_TOKEN`` that
  every process started from the test inherits) fails the test, and is killed by pid.

This file deliberately uses none of corral's own process code, so a bug there cannot hide a leak.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

TOKEN_VAR = "CORRAL_TEST_TOKEN"
LEAK_GRACE = 1.0  # seconds a process may take to finish exiting after the test ends


def project_id_of(root: Path) -> str:
    """The id corral derives for a project root, computed independently of corral's code."""
    return hashlib.sha256(os.path.realpath(root).encode()).hexdigest()[:16]


def _own_processes() -> Iterator[psutil.Process]:
    uid, me = os.getuid(), os.getpid()
    for process in psutil.process_iter(["uids"]):
        uids = process.info.get("uids")
        if process.pid != me and uids is not None and uids.real == uid:
            yield process


def _is_marked(process: psutil.Process, wanted: set[str], roots: set[str]) -> bool:
    """Whether ``process`` carries one of the ``wanted`` variables, or, when its environment
    cannot be read or is empty (macOS hides the environment of Apple binaries; ``env -i``
    empties it), whether it runs in one of the test's project ``roots``."""
    try:
        environ = process.environ()
    except psutil.AccessDenied:
        environ = {}
    if {f"{key}={value}" for key, value in environ.items()} & wanted:
        return True
    if environ or not roots:
        return False
    try:
        cwd = os.path.realpath(process.cwd())
    except (psutil.AccessDenied, OSError):
        return False
    return any(cwd == root or cwd.startswith(root + os.sep) for root in roots)


def _wanted(project_ids: set[str], token: str | None) -> set[str]:
    wanted = {f"CORRAL_PROJECT_ID={pid}" for pid in project_ids}
    if token:
        wanted.add(f"{TOKEN_VAR}={token}")
    return wanted


def marked_processes(
    project_ids: set[str], token: str | None, roots: set[str] | None = None
) -> dict[int, str]:
    """pid -> command line of every live process of ours carrying one of the markers (psutil:
    no /proc and no pidfd, so that the same check runs on macOS)."""
    wanted, roots = _wanted(project_ids, token), roots or set()
    found: dict[int, str] = {}
    for process in _own_processes():
        try:
            if process.status() == psutil.STATUS_ZOMBIE or not _is_marked(process, wanted, roots):
                continue
            found[process.pid] = " ".join(process.cmdline())
        except psutil.Error:
            continue
    return found


def kill_marked(
    pid: int, project_ids: set[str], token: str | None, roots: set[str] | None = None
) -> None:
    """SIGKILL ``pid`` after re-checking that it still carries a marker. psutil checks the
    process's start time before it signals, so a reused pid is left alone."""
    try:
        process = psutil.Process(pid)
        if not _is_marked(process, _wanted(project_ids, token), roots or set()):
            return  # the pid now names another process: leave it alone
        process.kill()
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        process.wait(2.0)
    except (psutil.Error, psutil.TimeoutExpired):
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class LeakGuard:
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    project_ids: set[str] = field(default_factory=set)
    roots: set[str] = field(default_factory=set)  # the test's project directories, resolved

    def leaked(self) -> dict[int, str]:
        deadline = time.monotonic() + LEAK_GRACE
        while True:
            found = marked_processes(self.project_ids, self.token, self.roots)
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def kill(self, pids: Iterator[int] | list[int]) -> None:
        for pid in pids:
            kill_marked(pid, self.project_ids, self.token, self.roots)


@pytest.fixture(autouse=True)
def leak_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[LeakGuard]:
    guard = LeakGuard()
    monkeypatch.setenv(TOKEN_VAR, guard.token)
    yield guard
    leaked = guard.leaked()
    if leaked:
        guard.kill(list(leaked))
        listing = "; ".join(f"pid {pid}: {cmd[:100]}" for pid, cmd in sorted(leaked.items()))
        pytest.fail(f"test leaked {len(leaked)} process(es), now killed: {listing}", pytrace=False)


def corral_command() -> list[str]:
    """The installed entry point beside this interpreter, as a user would run it."""
    script = Path(sys.executable).parent / "corral"
    if script.exists():
        return [str(script)]
    found = shutil.which("corral")
    return [found] if found else [sys.executable, "-m", "corral"]


@dataclass
class ProjectDir:
    root: Path
    id: str

    def write(self, relative: str, text: str, mode: int | None = None) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if mode is not None:
            path.chmod(mode)
        return path

    def run(
        self,
        *args: str,
        timeout: float = 30,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``corral ARGS`` in the project with no TTY and no stdin, bounded by ``timeout``."""
        return subprocess.run(
            [*corral_command(), *args],
            cwd=cwd or self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private, short runtime directory (socket paths have a length limit) for this test."""
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="corral-test-", dir="/tmp"))
    monkeypatch.setenv("CORRAL_RUNTIME_DIR", str(directory))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def corral_project(tmp_path: Path, leak_guard: LeakGuard, runtime_dir: Path):  # type: ignore[no-untyped-def]
    """Factory: ``corral_project({"Procfile": "web: ..."})`` makes a fresh project. Projects
    still supervised when the test ends are stopped with ``corral stop`` before the leak check."""
    count = 0
    made: list[ProjectDir] = []

    def make(files: dict[str, str] | None = None, name: str | None = None) -> ProjectDir:
        nonlocal count
        count += 1
        root = tmp_path / (name or f"project{count}")
        root.mkdir()
        project = ProjectDir(root, project_id_of(root))
        leak_guard.project_ids.add(project.id)
        leak_guard.roots.add(os.path.realpath(root))
        for relative, text in (files or {}).items():
            project.write(relative, text)
        made.append(project)
        return project

    yield make
    for project in made:
        if (project.root / ".corral" / "supervisor.lock").exists():
            with contextlib.suppress(subprocess.TimeoutExpired):
                project.run("stop", timeout=60)


def wait_until(predicate, timeout: float = 10.0, message: str = "condition", detail=None) -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true; fail with ``message`` after ``timeout`` seconds, and with
    what ``detail()`` returns then (a screen, a log), so a failure in CI can be read."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            seen = f"\n{detail()}" if detail is not None else ""
            pytest.fail(f"timed out after {timeout:g}s waiting for {message}{seen}", pytrace=False)
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def read_pids(path: Path) -> dict[int, str]:
    """pid -> role, as the hostile test subject records them."""
    if not path.exists():
        return {}
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {int(pid): role for pid, role in pairs}


def port_free(port: int) -> bool:
    """Whether we could bind ``port`` on loopback now (SO_REUSEADDR, as a server would)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


REPO = Path(__file__).resolve().parent.parent  # the repository: examples/, docs/, README.md
SUBJECTS = Path(__file__).resolve().parent / "subjects"  # the test subjects
HOSTILE = SUBJECTS / "hostile.py"


def hostile(*flags: str) -> str:
    """The command line of the hostile test subject with ``flags``."""
    return f"{sys.executable} {HOSTILE} " + " ".join(flags)


def toml_value(value: object) -> str:
    """A TOML literal for a test's config value (strings, numbers, booleans, lists, tables)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # numbers, and strings as TOML basic strings


# Options every service_toml table gets unless the test names them: the reliability suite runs
# its containment tests a second time with {"tty": True} (tests/behaviour/reliability/conftest.py).
SUBJECT_OPTIONS: dict[str, object] = {}


def service_toml(name: str, command: str, **options: object) -> str:
    """A ``[services.NAME]`` table for corral.toml."""
    lines = [f"[services.{name}]", f"command = {toml_value(command)}"]
    options = {**SUBJECT_OPTIONS, **options}
    lines += [f"{key} = {toml_value(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    """A TCP port the OS just handed out on loopback (free at the time of the call)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Tests that need a layer only Linux has (cgroup v2, the subreaper, pidfds, /proc scans) say so
# with ``@pytest.mark.linux_only("the layer")``; the portable layer (macOS, or
# CORRAL_OSLAYER=portable on Linux) skips them with that reason.
PORTABLE = not sys.platform.startswith("linux") or os.environ.get("CORRAL_OSLAYER") == "portable"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "linux_only(layer): needs a Linux-only OS layer; skipped by the portable one"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    mark = item.get_closest_marker("linux_only")
    if mark is not None and PORTABLE:
        layer = mark.args[0] if mark.args else "a Linux-only layer"
        pytest.skip(f"needs {layer}, which the portable OS layer does not have")


def check_schema(name: str, document: dict) -> None:  # type: ignore[type-arg]
    """``document`` is valid against docs/schemas/NAME.json (the CLI's published shapes)."""
    import json

    import jsonschema

    schema = json.loads((REPO / "docs" / "schemas" / f"{name}.json").read_text())
    jsonschema.validate(document, schema)
