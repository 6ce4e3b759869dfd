"""How long the agent hooks take, beside ``python -c pass``.

    python bench/hooks.py [--runs N]

A temporary project with 10 HTTP servers runs under corral (started as an agent session would,
tethered to this script); each hook gets a golden Claude Code payload on stdin, N times, and
the median wall time is printed. The hooks promise an answer within about a second whatever
happens; this measures the usual case. Everything started here is stopped with ``corral stop``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SCRIPT = Path(sys.executable).parent / "corral"
CORRAL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "corral"]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def timed(argv: list[str], stdin: str, cwd: Path, env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        begun = time.perf_counter()
        subprocess.run(
            argv, input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=30
        )
        samples.append(time.perf_counter() - begun)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="corral-bench-hooks-") as directory:
        root = Path(directory)
        ports = free_ports(10)
        lines = [
            f'[services.s{i}]\ncommand = "{sys.executable} -m http.server {port} --bind 127.0.0.1"\n'
            f"port = {port}\n"
            for i, port in enumerate(ports)
        ]
        (root / "corral.toml").write_text("\n".join(lines))
        env = {**os.environ, "CORRAL_RUNTIME_DIR": tempfile.mkdtemp(prefix="cbh-", dir="/tmp")}
        env_file = root / "session.env"
        session = {**env, "CORRAL_AGENT_SESSION": "bench-session", "CLAUDECODE": "1"}
        subprocess.run(
            [*CORRAL, "start", "--tether", str(os.getpid())],
            cwd=root,
            env=session,
            check=True,
            capture_output=True,
            timeout=120,
        )
        try:
            base = {"session_id": "bench-next", "cwd": str(root), "transcript_path": "t"}
            cases = {
                "session-start (brief of 10)": (
                    "session-start",
                    {**base, "hook_event_name": "SessionStart", "source": "startup"},
                ),
                "pre-tool-use, passes": (
                    "pre-tool-use",
                    {
                        **base,
                        "hook_event_name": "PreToolUse",
                        "tool_name": "Bash",
                        "tool_input": {"command": "git status"},
                    },
                ),
                "pre-tool-use, denies": (
                    "pre-tool-use",
                    {
                        **base,
                        "hook_event_name": "PreToolUse",
                        "tool_name": "Bash",
                        "tool_input": {"command": f"lsof -ti :{ports[3]} | xargs kill -9"},
                    },
                ),
                "session-end, nothing to stop": (
                    "session-end",
                    {**base, "hook_event_name": "SessionEnd", "reason": "other"},
                ),
            }
            hook_env = {**env, "CLAUDE_ENV_FILE": str(env_file)}
            baseline = timed([sys.executable, "-c", "pass"], "", root, env, runs)
            print(f"{'python -c pass':<32} {baseline * 1000:7.1f} ms")
            for label, (name, payload) in cases.items():
                took = timed(
                    [*CORRAL, "agent", "hook", name], json.dumps(payload), root, hook_env, runs
                )
                print(f"{label:<32} {took * 1000:7.1f} ms  ({took / baseline:.1f}x)")
        finally:
            subprocess.run([*CORRAL, "stop"], cwd=root, env=env, capture_output=True, timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
