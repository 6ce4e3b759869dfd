"""The OS layer against the real kernel: identities, pidfd signals, PID reuse, subreaper, scans."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from corral import oslayer
from corral.model import ProcessIdentity
from corral.oslayer import SignalOutcome

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def sleeper():  # type: ignore[no-untyped-def]
    child = subprocess.Popen(SLEEPER)
    yield child
    child.kill()
    child.wait()


def test_identify_reads_start_time_and_pidfs_inode(sleeper) -> None:  # type: ignore[no-untyped-def]
    identity = oslayer.identify(sleeper.pid, with_inode=True)
    assert identity is not None and identity.pid == sleeper.pid
    stat = oslayer.read_stat(sleeper.pid)
    assert stat is not None and stat.start == identity.start and stat.ppid == os.getpid()
    if oslayer.capabilities().pidfs_inode:
        assert identity.inode is not None


def test_a_wrong_start_time_is_refused_and_the_process_survives(sleeper) -> None:  # type: ignore[no-untyped-def]
    real = oslayer.identify(sleeper.pid)
    assert real is not None
    impostor = ProcessIdentity(real.pid, real.start + 1, real.boot_id)
    assert oslayer.open_process(impostor) is None
    assert oslayer.safe_signal(impostor, signal.SIGKILL) is SignalOutcome.REUSED
    assert sleeper.poll() is None


def test_handle_signals_and_sees_the_exit(sleeper) -> None:  # type: ignore[no-untyped-def]
    identity = oslayer.identify(sleeper.pid)
    assert identity is not None
    with oslayer.open_process(identity) as handle:  # type: ignore[union-attr]
        assert not handle.has_exited()
        assert handle.signal(signal.SIGTERM)
        assert handle.wait_exited(10)
    sleeper.wait()
    assert oslayer.safe_signal(identity, signal.SIGTERM) is SignalOutcome.GONE


REUSE_SCRIPT = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    from corral import oslayer
    from corral.oslayer import SignalOutcome
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    old = oslayer.identify(first.pid)
    first.kill(); first.wait()
    time.sleep(0.02)  # a different clock tick for the stranger's start time
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(old.pid - 1))
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stranger.pid == old.pid, (stranger.pid, old.pid)
    outcome = oslayer.safe_signal(old, signal.SIGKILL)
    alive = stranger.poll() is None
    stranger.kill(); stranger.wait()
    print(outcome.name, alive)
""")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root")
def test_pid_reuse_can_never_redirect_a_signal_to_a_stranger() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", REUSE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["REUSED", "True"]


SUBREAPER_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from corral import oslayer
    assert oslayer.set_child_subreaper()
    read, write = os.pipe()
    if os.fork() == 0:
        if os.fork() == 0:
            os.setsid()
            os.write(write, str(os.getpid()).encode())
            time.sleep(30)
            os._exit(0)
        os._exit(0)
    os.wait()
    grandchild = int(os.read(read, 64))
    time.sleep(0.05)
    stat = oslayer.read_stat(grandchild)
    found = grandchild in oslayer.children(os.getpid())
    os.kill(grandchild, 9); os.waitpid(grandchild, 0)
    print(stat.ppid == os.getpid(), found)
""")


@pytest.mark.linux_only("the child subreaper")
def test_a_double_forked_setsid_grandchild_is_reparented_to_the_subreaper() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", SUBREAPER_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_marker_scan_matches_whole_values_only(sleeper) -> None:  # type: ignore[no-untyped-def]
    token = uuid.uuid4().hex
    marked = subprocess.Popen(SLEEPER, env={**os.environ, "CORRAL_PROJECT_ID": token})
    prefix = subprocess.Popen(SLEEPER, env={**os.environ, "CORRAL_PROJECT_ID": token + "x"})
    try:
        hits = {
            pid for pid, m in oslayer.scan_markers().items() if m.get("CORRAL_PROJECT_ID") == token
        }
        assert hits == {marked.pid}
        assert "CORRAL_PROJECT_ID" not in oslayer.scan_markers().get(sleeper.pid, {})
    finally:
        for child in (marked, prefix):
            child.kill()
            child.wait()


@pytest.mark.linux_only("the lifeline pipe and /proc fd scans")
def test_lifeline_fd_finds_a_holder_whose_environment_was_scrubbed() -> None:
    read, write = os.pipe()
    child = subprocess.Popen(SLEEPER, pass_fds=(write,), env={})  # a scrubbed environment
    os.close(write)
    try:
        link = oslayer.pipe_link(read)
        # both ends of a pipe share its inode: we (the reader, like the supervisor) hold it too
        assert oslayer.scan_fd_holders({link}) == {link: {os.getpid(), child.pid}}
        assert oslayer.read_markers(child.pid) == {}
    finally:
        child.kill()
        child.wait()
        os.close(read)


@pytest.mark.skipif(oslayer.cgroup_base() is None, reason="no writable cgroup v2 tree here")
def test_cgroup_kill_ends_a_double_forked_escapee() -> None:
    path = oslayer.cgroup_base() / f"corral-test-{uuid.uuid4().hex[:8]}"  # type: ignore[operator]
    oslayer.cgroup_create(path)
    script = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ntime.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], preexec_fn=lambda: oslayer.cgroup_join(path)
    )
    try:
        import time

        deadline = time.monotonic() + 10
        while len(oslayer.cgroup_procs(path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(oslayer.cgroup_procs(path)) == 2 and oslayer.cgroup_populated(path)
        assert oslayer.cgroup_kill(path)
        child.wait(timeout=10)
        assert oslayer.cgroup_wait_empty(path, 10)
    finally:
        child.kill()
        child.wait()
        oslayer.cgroup_remove(path)
    assert not path.exists()


@pytest.mark.skipif(oslayer.cgroup_base() is None, reason="no writable cgroup v2 tree here")
def test_cgroup_procs_finds_a_process_in_a_cgroup_the_service_made_below_its_own() -> None:
    """A leaf is read without listing it (its link count says it has no child cgroup); a
    service that makes its own cgroups below the one it was given must still be found."""
    path = oslayer.cgroup_base() / f"corral-test-{uuid.uuid4().hex[:8]}"  # type: ignore[operator]
    nested = path / "worker" / "deeper"
    oslayer.cgroup_create(path)
    nested.mkdir(parents=True)
    top = subprocess.Popen(SLEEPER, preexec_fn=lambda: oslayer.cgroup_join(path))
    below = subprocess.Popen(SLEEPER, preexec_fn=lambda: oslayer.cgroup_join(nested))
    try:
        assert sorted(oslayer.cgroup_procs(path)) == sorted([top.pid, below.pid])
        assert oslayer.cgroup_procs(nested) == [below.pid]
        with pytest.raises(OSError):  # what lets a stop trust a normalised path below its base
            os.symlink("/tmp", path / "elsewhere")
    finally:
        for child in (top, below):
            child.kill()
            child.wait()
        nested.rmdir()
        nested.parent.rmdir()
        oslayer.cgroup_remove(path)


THREAD_FORKS = """
import subprocess, sys, threading, time
def fork_and_stay():
    print(subprocess.Popen(["sleep", "60"]).pid, flush=True)
    time.sleep(60)  # a child is listed under the thread that forked it while that thread lives
threading.Thread(target=fork_and_stay, daemon=True).start()
time.sleep(60)
"""


def test_children_are_found_below_every_thread_and_long_proc_files_are_read_whole() -> None:
    """A child forked by a thread is listed under that thread's task, not the process's own: a
    process with several threads has its task list read (the shortcut is for one thread only).
    An environment and a command line past one read's size are read to their ends."""
    parent = subprocess.Popen(
        [sys.executable, "-c", THREAD_FORKS, "x" * 100_000],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PADDING": "p" * 100_000, "CORRAL_TEST_END": "here"},
    )
    child = None
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        stat = oslayer.read_stat(parent.pid)
        assert stat is not None
        if not oslayer.PORTABLE:
            assert stat.threads == 2  # the main thread and the one that forked
        assert child in oslayer.ProcessTree().children(parent.pid, stat.threads)
        assert (oslayer.read_markers(parent.pid) or {}).get("CORRAL_TEST_END") == "here"
        assert oslayer.cmdline(parent.pid).endswith(" " + "x" * 100_000)
    finally:
        if child is not None:  # the parent's unreaped child while the parent lives: no reuse
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()
        parent.stdout.close()  # type: ignore[union-attr]
