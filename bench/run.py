"""corral's benchmarks, side by side with its peers, in one run.

    python bench/run.py [--quick]

Installs the peers (honcho, supervisor, circus from PyPI; pm2 from npm when npm exists) into
bench/.peers, measures, prints a table and writes bench/RESULTS.md with date, machine and
versions. Medians over repeated runs; a peer that cannot be installed is reported as such.
Every process started here is stopped by pid (or by the process group this script created).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
_SCRIPT = Path(sys.executable).parent / "corral"  # the console script, as users run it
CORRAL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "corral"]
SERVER = f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1"
rows: list[tuple[str, str, str, str]] = []  # (benchmark, tool, result, note)
QUICK = False


def record(benchmark: str, tool: str, result: str, note: str = "") -> None:
    rows.append((benchmark, tool, result, note))
    print(f"{benchmark:<34} {tool:<26} {result:<16} {note}", flush=True)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_ports(ports: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending:
        pending = [port for port in pending if not listening(port)]
        if time.monotonic() > deadline:
            raise TimeoutError(f"ports never listened: {pending}")
        time.sleep(0.005)


def ports_free(ports: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(listening(port) for port in ports):
        if time.monotonic() > deadline:
            raise TimeoutError("ports stayed held")
        time.sleep(0.005)


def timed(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        begun = time.perf_counter()
        action()
        samples.append(time.perf_counter() - begun)
    return statistics.median(samples)


def run(
    argv: list[str], cwd: Path | None = None, **kw: object
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300, **kw
    )  # type: ignore[call-overload]


# ---- peers ------------------------------------------------------------------------------------


def install_peers() -> dict[str, str | None]:
    """Versions of the installed peers (None: could not be installed)."""
    if not (PEERS / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    for package in ("honcho", "supervisor", "circus"):
        subprocess.run(
            [str(PEERS / "bin" / "pip"), "install", "-q", package], capture_output=True, timeout=600
        )
    versions = {name: _pip_version(name) for name in ("honcho", "supervisor", "circus")}
    versions["pm2"] = _install_pm2()
    return versions


def _pip_version(name: str) -> str | None:
    result = run([str(PEERS / "bin" / "pip"), "show", name])
    for line in result.stdout.decode().splitlines():
        if line.startswith("Version:"):
            return line.split()[1]
    return None


def _install_pm2() -> str | None:
    if shutil.which("npm") is None:
        return None
    prefix = PEERS / "npm"
    if not (prefix / "node_modules" / ".bin" / "pm2").exists():
        run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "pm2"])
    pm2 = prefix / "node_modules" / ".bin" / "pm2"
    if not pm2.exists():
        return None
    # From its package.json: `pm2 --version` starts pm2's daemon, which would outlive the run.
    package = json.loads((prefix / "node_modules" / "pm2" / "package.json").read_text())
    return str(package["version"])


def peer(name: str) -> str:
    return str(PEERS / "bin" / name)


# ---- corral projects ----------------------------------------------------------------------------


@contextlib.contextmanager
def corral_project(services: dict[str, dict[str, object]]) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="corral-bench-"))
    lines = []
    for name, options in services.items():
        lines.append(f"[services.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    (root / "corral.toml").write_text("\n".join(lines) + "\n")
    try:
        yield root
    finally:
        run([*CORRAL, "-C", str(root), "stop"])
        shutil.rmtree(root, ignore_errors=True)


def http_services(ports: list[int]) -> dict[str, dict[str, object]]:
    return {
        f"web{i}": {"command": SERVER.format(port=port), "port": port}
        for i, port in enumerate(ports)
    }


def corral(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    result = run([*CORRAL, "-C", str(root), *args])
    if result.returncode != 0 and args[0] != "status":
        raise RuntimeError(
            f"corral {' '.join(args)} failed: {result.stdout.decode()}{result.stderr.decode()}"
        )
    return result


# ---- 1. status ----------------------------------------------------------------------------------


def bench_status(versions: dict[str, str | None]) -> None:
    ports = free_ports(10)
    with corral_project(http_services(ports)) as root:
        corral(root, "start")
        time.sleep(1.0)  # past the supervisor's after-start work
        pairs = [  # interleaved, so that the machine's drift weighs on both alike
            (
                timed(lambda: run([sys.executable, "-c", "pass"]), 1),
                timed(lambda: corral(root, "status"), 1),
            )
            for _ in range(20)
        ]
        baseline = statistics.median(pair[0] for pair in pairs)
        took = statistics.median(pair[1] for pair in pairs)
        record("status, 10 services", "python -c pass", f"{baseline * 1000:.1f} ms", "baseline")
        record(
            "status, 10 services",
            "corral status",
            f"{took * 1000:.1f} ms",
            f"{took / baseline:.2f}x python",
        )
    if versions.get("supervisor"):
        with supervisord(free_ports(10)) as conf:
            took = timed(lambda: run([peer("supervisorctl"), "-c", str(conf), "status"]), 20)
            record(
                "status, 10 services",
                "supervisorctl status",
                f"{took * 1000:.1f} ms",
                f"{took / baseline:.2f}x python",
            )
    if versions.get("pm2"):
        took = pm2_status(free_ports(10))
        record(
            "status, 10 services",
            "pm2 jlist",
            f"{took * 1000:.1f} ms",
            f"{took / baseline:.2f}x python",
        )


@contextlib.contextmanager
def supervisord(ports: list[int], command: str = SERVER, extra: str = "") -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="supervisord-bench-"))
    conf = directory / "supervisord.conf"
    programs = "".join(
        f"[program:web{i}]\ncommand={command.format(port=port)}\nstdout_logfile={directory}/web{i}.log\n"
        f"redirect_stderr=true\nstopasgroup=true\nkillasgroup=true\n{extra}\n"
        for i, port in enumerate(ports)
    )
    conf.write_text(
        f"[unix_http_server]\nfile={directory}/s.sock\n[supervisord]\nlogfile={directory}/d.log\n"
        f"pidfile={directory}/d.pid\nnodaemon=true\n[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        f"[supervisorctl]\nserverurl=unix://{directory}/s.sock\n{programs}"
    )
    daemon = subprocess.Popen(
        [peer("supervisord"), "-c", str(conf)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if ports and command == SERVER:
            wait_ports(ports)
        yield conf
    finally:
        run([peer("supervisorctl"), "-c", str(conf), "shutdown"])
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(timeout=20)
        _kill_group(daemon)
        shutil.rmtree(directory, ignore_errors=True)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill what is left of a process group this script created (its leader is our child)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
        process.wait(timeout=10)


def pm2_status(ports: list[int]) -> float:
    env = {**os.environ, "PM2_HOME": str(PEERS / "pm2home")}
    pm2 = str(PEERS / "npm" / "node_modules" / ".bin" / "pm2")
    for i, port in enumerate(ports):
        run(
            [
                pm2,
                "start",
                sys.executable,
                "--name",
                f"web{i}",
                "--",
                "-m",
                "http.server",
                str(port),
                "--bind",
                "127.0.0.1",
            ],
            env=env,
        )
    try:
        wait_ports(ports)
        return timed(lambda: run([pm2, "jlist"], env=env), 20)
    finally:
        run([pm2, "delete", "all"], env=env)
        run([pm2, "kill"], env=env)


# ---- 2. start to ready --------------------------------------------------------------------------


def bench_start(versions: dict[str, str | None]) -> None:
    runs = 3 if QUICK else 7
    samples, warm, scripts, in_process = [], [], [], []
    for _ in range(runs):  # interleaved, so that the machine's drift weighs on all alike
        scripts.append(_shell_script_start())
        in_process.append(_hand_script_start())
        ports = free_ports(10)
        with corral_project(http_services(ports)) as root:
            begun = time.perf_counter()
            corral(root, "start")
            samples.append(time.perf_counter() - begun)
            corral(root, "stop", *(f"web{i}" for i in range(10)))  # the supervisor stays
            ports_free(ports)
            begun = time.perf_counter()
            corral(root, "start")
            warm.append(time.perf_counter() - begun)
    corral_time = statistics.median(samples)
    warm_time = statistics.median(warm)
    script_time = statistics.median(scripts)
    record(
        "start to ready, 10 HTTP servers",
        "shell script + port polling",
        f"{script_time:.3f} s",
        "baseline",
    )
    hand_time = statistics.median(in_process)
    record(
        "start to ready, 10 HTTP servers",
        "Popen + polling in-process",
        f"{hand_time:.3f} s",
        f"{hand_time / script_time:.2f}x (no interpreter to start: a lower bound)",
    )
    record(
        "start to ready, 10 HTTP servers",
        "corral start",
        f"{corral_time:.3f} s",
        f"{corral_time / script_time:.2f}x the script (supervisor spawn included)",
    )
    record(
        "start to ready, 10 HTTP servers",
        "corral start, supervisor up",
        f"{warm_time:.3f} s",
        f"{warm_time / script_time:.2f}x the script (services stopped, supervisor kept)",
    )
    if versions.get("supervisor"):
        took = statistics.median([_supervisord_start() for _ in range(runs)])
        record(
            "start to ready, 10 HTTP servers",
            "supervisord + polling",
            f"{took:.3f} s",
            f"{took / script_time:.2f}x",
        )
    if versions.get("honcho"):
        took = statistics.median([_honcho_start() for _ in range(runs)])
        record(
            "start to ready, 10 HTTP servers",
            "honcho + polling",
            f"{took:.3f} s",
            f"{took / script_time:.2f}x",
        )


SHELL_START = """
for port in {ports}; do {server} >/dev/null 2>&1 & done
for port in {ports}; do
    until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.005; done
done
echo $(jobs -p)
"""


def _shell_script_start() -> float:
    """What a person would write: start them in the background, poll each port."""
    ports = free_ports(10)
    script = SHELL_START.format(
        ports=" ".join(map(str, ports)), server=SERVER.replace("{port}", "$port")
    )
    begun = time.perf_counter()
    result = run(["bash", "-c", script])
    took = time.perf_counter() - begun
    pids = [int(pid) for pid in result.stdout.split()]
    for pid in pids:  # the script's own children, now orphans of ours to end
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    ports_free(ports)
    return took


def _spawn_servers(ports: list[int]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            SERVER.format(port=port).split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for port in ports
    ]


def _end(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL and reap servers this script started."""
    for child in children:
        child.kill()
        child.wait()


def _hand_script_start() -> float:
    ports = free_ports(10)
    begun = time.perf_counter()
    children = _spawn_servers(ports)
    wait_ports(ports)
    took = time.perf_counter() - begun
    _end(children)
    return took


def _supervisord_start() -> float:
    ports = free_ports(10)
    begun = time.perf_counter()
    with supervisord(ports):
        return time.perf_counter() - begun


def _honcho_start() -> float:
    ports = free_ports(10)
    directory = Path(tempfile.mkdtemp(prefix="honcho-bench-"))
    (directory / "Procfile").write_text(
        "".join(f"web{i}: {SERVER.format(port=p)}\n" for i, p in enumerate(ports))
    )
    begun = time.perf_counter()
    honcho = subprocess.Popen(
        [peer("honcho"), "start"],
        cwd=directory,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ports(ports)
        return time.perf_counter() - begun
    finally:
        honcho.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            honcho.wait(timeout=10)
        _kill_group(honcho)
        shutil.rmtree(directory, ignore_errors=True)


# ---- 3. stop ------------------------------------------------------------------------------------


def bench_stop() -> None:
    runs = 3 if QUICK else 7
    corral_samples, plain_samples, shell_samples = [], [], []
    for _ in range(runs):  # interleaved
        shell_samples.append(_shell_stop())
        ports = free_ports(10)
        with corral_project(http_services(ports)) as root:
            corral(root, "start")
            begun = time.perf_counter()
            corral(root, "stop")
            corral_samples.append(time.perf_counter() - begun)
        plain_samples.append(_plain_stop())
    plain = statistics.median(plain_samples)
    took = statistics.median(corral_samples)
    shell = statistics.median(shell_samples)
    record("stop 10 servers, ports free", "shell: kill + port polling", f"{shell:.3f} s", "")
    record("stop 10 servers, ports free", "kill + wait + port check", f"{plain:.3f} s", "baseline")
    record(
        "stop 10 servers, ports free",
        "corral stop",
        f"{took:.3f} s",
        f"{took / plain:.2f}x the in-process kill, {took / shell:.2f}x the shell "
        "(sweep and verification included)",
    )
    ignorer = f'{sys.executable} -c "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"'
    samples = []
    for _ in range(runs):
        with corral_project({"stubborn": {"command": ignorer, "stop_timeout": "1s"}}) as root:
            corral(root, "start")
            begun = time.perf_counter()
            corral(root, "stop")
            samples.append(time.perf_counter() - begun)
    took = statistics.median(samples)
    record("stop a SIGTERM-ignorer, timeout 1s", "corral stop", f"{took:.3f} s", "target <= 1.1 s")


SHELL_STOP = """
kill {pids}
for port in {ports}; do
    while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.005; done
done
"""


def _ten_servers() -> tuple[list[int], list[subprocess.Popen[bytes]]]:
    """Ten HTTP servers started by hand, listening: the plain baselines stop these."""
    ports = free_ports(10)
    children = _spawn_servers(ports)
    wait_ports(ports)
    return ports, children


def _shell_stop() -> float:
    ports, children = _ten_servers()
    script = SHELL_STOP.format(
        pids=" ".join(str(c.pid) for c in children), ports=" ".join(map(str, ports))
    )
    begun = time.perf_counter()
    run(["bash", "-c", script])
    took = time.perf_counter() - begun
    _end(children)
    return took


def _plain_stop() -> float:
    ports, children = _ten_servers()
    begun = time.perf_counter()
    for child in children:
        child.terminate()
    for child in children:
        child.wait()
    ports_free(ports)
    return time.perf_counter() - begun


# ---- 4. idle ------------------------------------------------------------------------------------


def cpu_and_rss(pids: list[int]) -> tuple[float, int]:
    """CPU seconds (from each thread's schedstat: nanoseconds, where /proc/PID/stat counts
    10 ms ticks, too coarse for an idle process) and resident bytes."""
    cpu, rss = 0.0, 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                cpu += int(handle.read().split()[0]) / 1e9
    return cpu, rss


def idle(pids: list[int], window: float) -> tuple[float, int]:
    before, _ = cpu_and_rss(pids)
    time.sleep(window)
    after, rss = cpu_and_rss(pids)
    return after - before, rss


def bench_idle(versions: dict[str, str | None]) -> None:
    window = 15.0 if QUICK else 60.0
    with corral_project(http_services(free_ports(10))) as root:
        corral(root, "start")
        state = json.loads((root / ".corral" / "state.json").read_text())
        time.sleep(2)
        cpu, rss = idle([state["supervisor"]["pid"], state["guard"]["pid"]], window)
        record(
            f"idle {window:g}s, 10 services",
            "corral supervisor + guard",
            f"{cpu:.3f} cpu-s",
            f"{cpu / window * 100:.3f}% of a core, RSS {rss / 2**20:.1f} MiB",
        )
    if versions.get("supervisor"):
        with supervisord(free_ports(10)) as conf:
            pid = int((conf.parent / "d.pid").read_text())
            time.sleep(2)
            cpu, rss = idle([pid], window)
            record(
                f"idle {window:g}s, 10 services",
                "supervisord",
                f"{cpu:.3f} cpu-s",
                f"{cpu / window * 100:.3f}% of a core, RSS {rss / 2**20:.1f} MiB",
            )
    if versions.get("circus"):
        _circus_idle(window)


def _circus_idle(window: float) -> None:
    ports = free_ports(10)
    directory = Path(tempfile.mkdtemp(prefix="circus-bench-"))
    watchers = "".join(
        f"[watcher:web{i}]\ncmd={SERVER.format(port=p)}\nnumprocesses=1\n"
        for i, p in enumerate(ports)
    )
    endpoint = f"ipc://{directory}/endpoint"
    (directory / "circus.ini").write_text(
        f"[circus]\nendpoint={endpoint}\npubsub_endpoint=ipc://{directory}/pubsub\n"
        f"statsd=False\n{watchers}"
    )
    daemon = subprocess.Popen(
        [peer("circusd"), str(directory / "circus.ini")],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ports(ports)
        time.sleep(2)
        cpu, rss = idle([daemon.pid], window)
        record(
            f"idle {window:g}s, 10 services",
            "circusd",
            f"{cpu:.3f} cpu-s",
            f"{cpu / window * 100:.3f}% of a core, RSS {rss / 2**20:.1f} MiB",
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(timeout=20)
        _kill_group(daemon)
        shutil.rmtree(directory, ignore_errors=True)


# ---- 5. log throughput --------------------------------------------------------------------------

WRITER = (
    f"{sys.executable} -c \"import sys, time; chunk = (b'x' * 99 + b'\\\\n') * 655; time.sleep(1); t = time.perf_counter(); "
    "[sys.stdout.buffer.write(chunk) for _ in range({n})]; sys.stdout.flush(); "
    "print('ELAPSED', time.perf_counter() - t, file=sys.stderr, flush=True); time.sleep(600)\""
)


def _writer(megabytes: int) -> str:
    return WRITER.replace("{n}", str(megabytes * 2**20 // (100 * 655)))


def _elapsed(text: str) -> float:
    """The writer's own timing, from its ELAPSED line (a manager may prefix the line)."""
    return float(
        next(
            line.split("ELAPSED ", 1)[1].split()[0]
            for line in text.splitlines()
            if "ELAPSED " in line
        )
    )


def bench_logs(versions: dict[str, str | None]) -> None:
    megabytes = 100 if QUICK else 500
    runs = 3 if QUICK else 7  # a write takes a fraction of a second: medians need many
    pairs = [(_direct_write(megabytes), _corral_write(megabytes)) for _ in range(runs)]
    direct = statistics.median(pair[0] for pair in pairs)  # interleaved: same machine state
    record(f"write {megabytes} MB to stdout", "redirect to a file", f"{direct:.3f} s", "baseline")
    took = statistics.median(pair[1] for pair in pairs)
    record(
        f"write {megabytes} MB to stdout",
        "under corral",
        f"{took:.3f} s",
        f"{direct / took:.2f}x the redirect's speed",
    )
    # A tty = true service's output goes through the supervisor (pty master -> log): a copy.
    took = statistics.median(_corral_write(megabytes, tty=True) for _ in range(runs))
    record(
        f"write {megabytes} MB to stdout",
        "under corral, tty = true",
        f"{took:.3f} s",
        f"{direct / took:.2f}x the redirect's speed",
    )
    if versions.get("honcho"):  # one run: it needs about a minute for 500 MB
        took = statistics.median([_honcho_write(megabytes) for _ in range(1)])
        record(
            f"write {megabytes} MB to stdout",
            "under honcho",
            f"{took:.3f} s",
            f"{direct / took:.2f}x",
        )
    if versions.get("supervisor"):
        took = statistics.median([_supervisord_write(megabytes) for _ in range(runs)])
        record(
            f"write {megabytes} MB to stdout",
            "under supervisord",
            f"{took:.3f} s",
            f"{direct / took:.2f}x",
        )


def _direct_write(megabytes: int) -> float:
    directory = Path(tempfile.mkdtemp(prefix="write-bench-"))
    try:
        command = _writer(megabytes).replace("time.sleep(600)", "0")
        with open(directory / "out", "wb") as out:
            result = subprocess.run(
                command, shell=True, stdout=out, stderr=subprocess.PIPE, timeout=300
            )
        return _elapsed(result.stderr.decode())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _corral_write(megabytes: int, tty: bool = False) -> float:
    options: dict[str, object] = {"command": _writer(megabytes), **({"tty": True} if tty else {})}
    with corral_project({"writer": options}) as root:
        config = root / "corral.toml"
        config.write_text(
            "log_max_size = '4GB'\n" + config.read_text()
        )  # measure writes, not rotation
        corral(root, "start", "--no-wait")
        return _wait_elapsed(root / ".corral" / "logs" / "writer.log")


def _wait_elapsed(log: Path, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, StopIteration), open(log, "rb") as handle:
            handle.seek(max(0, log.stat().st_size - 4096))
            return _elapsed(handle.read().decode(errors="replace"))
        time.sleep(0.05)
    raise TimeoutError(f"{log} never reported ELAPSED")


def _honcho_write(megabytes: int) -> float:
    directory = Path(tempfile.mkdtemp(prefix="honcho-write-"))
    (directory / "Procfile").write_text(f"writer: {_writer(megabytes)}\n")
    log = directory / "out.log"
    with open(log, "wb") as out:
        honcho = subprocess.Popen(
            [peer("honcho"), "start"],
            cwd=directory,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        return _wait_elapsed(log)
    finally:
        honcho.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            honcho.wait(timeout=10)
        _kill_group(honcho)
        shutil.rmtree(directory, ignore_errors=True)


def _supervisord_write(megabytes: int) -> float:
    with supervisord([0], command=_writer(megabytes), extra="stdout_logfile_maxbytes=0\n") as conf:
        return _wait_elapsed(conf.parent / "web0.log")


# ---- 6. scale -----------------------------------------------------------------------------------


def bench_scale() -> None:
    ports = free_ports(50)
    with corral_project(http_services(ports)) as root:
        begun = time.perf_counter()
        corral(root, "start")
        record(
            "50 services", "corral start", f"{time.perf_counter() - begun:.3f} s", "until all ready"
        )
        took = timed(lambda: corral(root, "status"), 10)
        record("50 services", "corral status", f"{took * 1000:.1f} ms")
        begun = time.perf_counter()
        corral(root, "stop")
        record(
            "50 services",
            "corral stop",
            f"{time.perf_counter() - begun:.3f} s",
            "ports verified free",
        )
    sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(2000)]
    try:
        from corral import oslayer

        count = len(oslayer.list_pids())
        took = timed(oslayer.scan_markers, 10)
        record(
            f"orphan scan, {count} processes",
            "marker scan",
            f"{took * 1000:.1f} ms",
            "target <= 30 ms",
        )
        from corral.model import RunRecord
        from corral.reclaim import find_members

        trace = RunRecord("0" * 16, "none", lifeline="pipe:[1]")
        took = timed(lambda: find_members(trace), 10)
        record(
            f"orphan scan, {count} processes", "all layers (find_members)", f"{took * 1000:.1f} ms"
        )
    finally:
        for sleeper in sleepers:
            sleeper.kill()
        for sleeper in sleepers:
            sleeper.wait()


# ---- report -------------------------------------------------------------------------------------


def write_results(versions: dict[str, str | None]) -> None:
    import corral

    machine = f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    peers = ", ".join(f"{name} {version or 'not installed'}" for name, version in versions.items())
    lines = [
        "# corral benchmark results",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- machine: {machine}",
        f"- corral {corral.__version__}; peers: {peers}",
        f"- mode: {'quick' if QUICK else 'full'} (python bench/run.py{' --quick' if QUICK else ''})",
        "",
        "| benchmark | tool | result | note |",
        "|---|---|---|---|",
    ]
    lines += [f"| {b} | {t} | {r} | {n} |" for b, t, r, n in rows]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n" + _kept_sections())


def _kept_sections() -> str:
    """The sections other scripts wrote (bench/scale.py's "## ..."): kept, not overwritten."""
    try:
        text = (HERE / "RESULTS.md").read_text()
    except OSError:
        return ""
    start = text.find("\n## ")
    return text[start:] if start >= 0 else ""


def _compile_corral() -> None:
    """Byte-compile corral as a regular install does: an editable install run where bytecode
    is never written (PYTHONDONTWRITEBYTECODE) would otherwise compile every module each run."""
    import compileall

    import corral

    compileall.compile_dir(str(Path(corral.__file__).parent), quiet=1)


def main() -> int:
    global QUICK
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter windows and fewer runs")
    parser.add_argument("--only", nargs="*", help="status start stop idle logs scale")
    args = parser.parse_args()
    QUICK = args.quick
    _compile_corral()
    print("installing peers into bench/.peers ...", flush=True)
    versions = install_peers()
    print(f"peers: {versions}", flush=True)
    benches = {
        "status": lambda: bench_status(versions),
        "start": lambda: bench_start(versions),
        "stop": bench_stop,
        "idle": lambda: bench_idle(versions),
        "logs": lambda: bench_logs(versions),
        "scale": bench_scale,
    }
    for name, bench in benches.items():
        if args.only and name not in args.only:
            continue
        try:
            bench()
        except Exception as exc:  # report, and go on with the other benchmarks
            record(name, "(failed)", "-", repr(exc)[:120])
    write_results(versions)
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
