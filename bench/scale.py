"""corral's own cost at 10 and 200 services, measured with a service that costs nothing to boot.

    python bench/scale.py [--n 10 200] [--rounds 5] [--idle 10] [--out FILE]

The service is bench/tiny_http.c, built here with the system C compiler (it listens within a
millisecond of its exec); without a compiler, ``python -m http.server`` stands in and the note
says so. Each figure is taken in interleaved rounds (corral, then the baseline, then the peer,
round after round) so that the machine's drift weighs on all alike, and reported as
min / median / max. Baselines: a shell script that starts every server in the background and
polls each port (start), ``kill`` plus port polling (stop), ``python -c pass`` (status).
honcho is measured when bench/.peers has it (``python bench/run.py`` installs it there; this
script installs honcho alone there when it is missing, never into corral's own environment).
Every process started here is stopped by pid, or by a process group this script created.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from run import (  # bench/run.py: the same helpers, ports and corral invocation
    CORRAL,
    PEERS,
    _compile_corral,
    cpu_and_rss,
    free_ports,
    ports_free,
    wait_ports,
)

HERE = Path(__file__).resolve().parent
BUILD = HERE / ".build"
SOURCE = HERE / "tiny_http.c"
Samples = list[float]


def build_server() -> tuple[str, str]:
    """The service's command template (``{port}`` in it) and what it is."""
    binary = BUILD / "tiny_http"
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is not None:
        stale = not binary.exists() or binary.stat().st_mtime < SOURCE.stat().st_mtime
        if stale:
            BUILD.mkdir(exist_ok=True)
            subprocess.run([compiler, "-O2", "-o", str(binary), str(SOURCE)], check=True)
        return f"{binary} {{port}}", "tiny_http (C, listens < 1 ms after exec)"
    return (
        f"{sys.executable} -m http.server {{port}} --bind 127.0.0.1",
        "python -m http.server (no C compiler here: ~260 ms boot hides corral's cost)",
    )


def honcho() -> str | None:
    path = PEERS / "bin" / "honcho"
    if not path.exists():
        if not (PEERS / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run(
            [str(PEERS / "bin" / "pip"), "install", "-q", "honcho"],
            capture_output=True,
            timeout=600,
        )
    return str(path) if path.exists() else None


def run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)


def corral(root: Path, *args: str) -> float:
    begun = time.perf_counter()
    result = run([*CORRAL, "-C", str(root), *args])
    took = time.perf_counter() - begun
    if result.returncode != 0:
        raise RuntimeError(
            f"corral {' '.join(args)}: {result.stdout.decode()}{result.stderr.decode()}"
        )
    return took


@contextlib.contextmanager
def project(server: str, ports: list[int]) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="corral-scale-"))
    lines = []
    for i, port in enumerate(ports):
        lines += [f"[services.s{i}]", f"command = {json.dumps(server.format(port=port))}"]
        lines.append(f"port = {port}")
    (root / "corral.toml").write_text("\n".join(lines) + "\n")
    try:
        yield root
    finally:
        run([*CORRAL, "-C", str(root), "stop"])
        shutil.rmtree(root, ignore_errors=True)


# ---- baselines and peers ------------------------------------------------------------------------

SHELL_START = """
for port in {ports}; do {server} >/dev/null 2>&1 & done
for port in {ports}; do
    until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.002; done
done
echo $(jobs -p)
"""
SHELL_STOP = """
kill {pids}
for port in {ports}; do
    while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.002; done
done
"""


def shell_round(server: str, count: int) -> tuple[float, float]:
    """Start to ready, and stop until the ports are free, as a shell script does them."""
    ports = free_ports(count)
    script = SHELL_START.format(
        ports=" ".join(map(str, ports)), server=server.replace("{port}", "$port")
    )
    begun = time.perf_counter()
    result = run(["bash", "-c", script])
    started = time.perf_counter() - begun
    pids = [int(pid) for pid in result.stdout.split()]  # the script's orphans, ours to end
    stop = SHELL_STOP.format(pids=" ".join(map(str, pids)), ports=" ".join(map(str, ports)))
    begun = time.perf_counter()
    run(["bash", "-c", stop])
    stopped = time.perf_counter() - begun
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    ports_free(ports)
    return started, stopped


def honcho_round(binary: str, server: str, count: int) -> float:
    ports = free_ports(count)
    directory = Path(tempfile.mkdtemp(prefix="honcho-scale-"))
    (directory / "Procfile").write_text(
        "".join(f"s{i}: {server.format(port=p)}\n" for i, p in enumerate(ports))
    )
    begun = time.perf_counter()
    process = subprocess.Popen(
        [binary, "start"],
        cwd=directory,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    family: list[tuple[int, str]] = []
    try:
        wait_ports(ports)
        took = time.perf_counter() - begun
        family = _descendants(process.pid)  # honcho puts each in a session of its own
        return took
    finally:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group this script created
        with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
            process.wait(timeout=10)
        for pid, start in family:  # what honcho left: each by pid, if still the same process
            if _start_time(pid) == start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        ports_free(ports)
        shutil.rmtree(directory, ignore_errors=True)


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every descendant of ``pid`` (Linux /proc)."""
    found: list[tuple[int, str]] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        for task in os.listdir(f"/proc/{parent}/task") if os.path.isdir(f"/proc/{parent}") else []:
            with contextlib.suppress(OSError), open(f"/proc/{parent}/task/{task}/children") as f:
                for child in map(int, f.read().split()):
                    start = _start_time(child)
                    if start is not None:
                        found.append((child, start))
                        stack.append(child)
    return found


def python_pass() -> float:
    begun = time.perf_counter()
    run([sys.executable, "-c", "pass"])
    return time.perf_counter() - begun


# ---- corral -------------------------------------------------------------------------------------


def corral_round(server: str, count: int, statuses: int) -> dict[str, Samples]:
    """One project: cold start, status, stop of every service (the supervisor stays), warm
    start, stop of everything (the supervisor exits), each timed until its goal is met."""
    ports = free_ports(count)
    names = [f"s{i}" for i in range(count)]
    out: dict[str, Samples] = {"cold": [], "warm": [], "status": [], "stop": [], "pass": []}
    with project(server, ports) as root:
        out["cold"].append(corral(root, "start"))
        time.sleep(0.5)  # past the after-start work (member records, port announcements)
        for _ in range(statuses):  # interleaved with its baseline
            out["pass"].append(python_pass())
            out["status"].append(corral(root, "status"))
        corral(root, "stop", *names)
        ports_free(ports)
        out["warm"].append(corral(root, "start"))
        begun = time.perf_counter()
        corral(root, "stop")
        ports_free(ports)
        out["stop"].append(time.perf_counter() - begun)
    return out


def corral_idle(server: str, count: int, window: float) -> tuple[float, float]:
    """CPU seconds of supervisor and guard over ``window`` seconds of nothing to do, and RSS."""
    with project(server, free_ports(count)) as root:
        corral(root, "start")
        state = json.loads((root / ".corral" / "state.json").read_text())
        pids = [state["supervisor"]["pid"], state["guard"]["pid"]]
        time.sleep(
            16
        )  # past the runs' settling time (corral.supervisor.housekeeping.SETTLING), as in daily use
        before, _ = cpu_and_rss(pids)
        time.sleep(window)
        after, rss = cpu_and_rss(pids)
        return after - before, rss


# ---- report -------------------------------------------------------------------------------------


def spread(samples: Samples, scale: float = 1.0, unit: str = "s", digits: int = 3) -> str:
    low, mid, high = (x * scale for x in (min(samples), statistics.median(samples), max(samples)))
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f} {unit}"


def ratio(a: Samples, b: Samples) -> float:
    return statistics.median(a) / statistics.median(b)


def measure(count: int, rounds: int, server: str, peer: str | None, window: float) -> list[str]:
    got: dict[str, Samples] = {}
    for _ in range(rounds):
        shell_start, shell_stop = shell_round(server, count)
        got.setdefault("shell_start", []).append(shell_start)
        got.setdefault("shell_stop", []).append(shell_stop)
        for key, values in corral_round(server, count, 3).items():
            got.setdefault(key, []).extend(values)
        if peer is not None:
            got.setdefault("honcho", []).append(honcho_round(peer, server, count))
        print(f"N={count}: round done", flush=True)
    cpu, rss = corral_idle(server, count, window)
    shell = got["shell_start"]
    rows = [
        f"| N={count} | start to ready, shell script + polling | {spread(shell)} | baseline |",
        f"| N={count} | start to ready, corral cold | {spread(got['cold'])} | "
        f"{ratio(got['cold'], shell):.2f}x shell, "
        f"+{(statistics.median(got['cold']) - statistics.median(got['warm'])) * 1000:.0f} ms over warm |",
        f"| N={count} | start to ready, corral warm | {spread(got['warm'])} | "
        f"{ratio(got['warm'], shell):.2f}x shell, "
        f"{statistics.median(got['warm']) / count * 1000:.2f} ms per service |",
    ]
    if "honcho" in got:
        rows.append(
            f"| N={count} | start to ready, honcho + polling | {spread(got['honcho'])} | "
            f"{ratio(got['honcho'], shell):.2f}x shell |"
        )
    rows += [
        f"| N={count} | python -c pass | {spread(got['pass'], 1000, 'ms', 1)} | baseline |",
        f"| N={count} | corral status | {spread(got['status'], 1000, 'ms', 1)} | "
        f"{ratio(got['status'], got['pass']):.2f}x python |",
        f"| N={count} | stop until ports free, shell kill + polling | "
        f"{spread(got['shell_stop'])} | baseline |",
        f"| N={count} | stop until ports free, corral stop | {spread(got['stop'])} | "
        f"{ratio(got['stop'], got['shell_stop']):.2f}x shell |",
        f"| N={count} | idle {window:g} s, supervisor + guard | {cpu:.3f} cpu-s | "
        f"{cpu / window * 100:.3f}% of a core, RSS {rss / 2**20:.1f} MiB |",
    ]
    return rows


FIXED = """
import time
begun = time.perf_counter()
from corral.cli.fastpath import fast_command
import corral.cli as cli
from corral.cli.parser import build_parser, command_word
from corral.cli.render import Output
words = {words!r}
parser = build_parser(command_word(words))
args = parser.parse_args(words)
Output.for_args(args)
cli._handler(args.handler)
print(time.perf_counter() - begun)
"""


def fixed_costs(rounds: int) -> list[str]:
    """What a full-path command pays before its handler runs (imports, parser, parsing), beyond
    the interpreter's own start-up; and configuration loading at 200 and 400 services."""
    rows = []
    for words in (["logs", "s0", "-n", "5"], ["config"], ["stop", "s0"], ["events"]):
        samples = []
        for _ in range(rounds * 2):
            result = run([sys.executable, "-c", FIXED.format(words=words)])
            if result.returncode != 0:
                break
            samples.append(float(result.stdout.decode().split()[-1]))
        if samples:
            rows.append(
                f"| - | fixed cost of `corral {' '.join(words)}` (imports, parser, handler import) "
                f"| {spread(samples, 1000, 'ms', 1)} | goal <= 25 ms |"
            )
    for count in (200, 400):
        root = Path(tempfile.mkdtemp(prefix="corral-load-"))
        try:
            (root / "corral.toml").write_text(
                "".join(
                    f'[services.s{i}]\ncommand = "sleep 1"\nport = {20000 + i}\n'
                    for i in range(count)
                )
            )
            script = (
                "import time, sys; from pathlib import Path; from corral.config import "
                "load_project; t = time.perf_counter(); load_project(Path(sys.argv[1])); "
                "print(time.perf_counter() - t)"
            )
            samples = [
                float(run([sys.executable, "-c", script, str(root)]).stdout.decode().split()[-1])
                for _ in range(rounds)
            ]
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rows.append(
            f"| N={count} | configuration loading (in-process) | "
            f"{spread(samples, 1000, 'ms', 1)} | {statistics.median(samples) / count * 1e6:.0f} µs "
            "per service |"
        )
    return rows


SPAWN = """
import os, time
try:  # a supervisor's modules, so a supervisor's size (older trees had them at the top level)
    import corral.supervisor.daemon, corral.supervisor.engine
except ImportError:
    import corral.daemon, corral.engine
def median(f):
    samples = []
    for _ in range(41):
        begun = time.perf_counter(); pid = f(); samples.append(time.perf_counter() - begun)
        os.waitpid(pid, 0)
    return sorted(samples)[20]
def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid
rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
print(median(fork), median(lambda: os.posix_spawn("/bin/true", ["true"], {})), rss)
"""


def spawn_costs() -> list[str]:
    """What the fork of a supervisor-sized Python costs its parent, against posix_spawn (vfork:
    no page tables copied), which cannot join a cgroup or set the death signal before exec."""
    fork, spawn, rss = map(float, run([sys.executable, "-c", SPAWN]).stdout.decode().split())
    return [
        f"| - | fork of a supervisor-sized process (RSS {rss / 2**20:.0f} MiB), in the parent "
        f"| {fork * 1000:.2f} ms | posix_spawn {spawn * 1000:.2f} ms |"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle", type=float, default=30.0, help="idle window, seconds")
    parser.add_argument("--out", type=Path, help="also append the table to this file")
    args = parser.parse_args()
    _compile_corral()
    server, what = build_server()
    peer = honcho()
    header = [
        f"- service: {what}; {args.rounds} interleaved rounds; min / median / max",
        f"- honcho: {'bench/.peers' if peer else 'not installed'}",
        "",
        "| N | what | min / median / max | against the baseline |",
        "|---|---|---|---|",
    ]
    table: list[str] = fixed_costs(args.rounds) + spawn_costs()
    for count in args.n:
        table += measure(count, args.rounds, server, peer, args.idle)
    text = "\n".join(header + table) + "\n"
    print(text)
    if args.out is not None:
        with args.out.open("a") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
