"""How soon ``corral up`` shows what a service writes: from the launch of ``up`` to the first line
shown, and from each write to its display (the service prints its own clock; the reader compares
on arrival), plus how far the timestamp shown is from the write. Run: python bench/up.py [N]."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVICE = (
    "import sys, time\n"
    "for i in range({n}):\n"
    "    now = time.time(); print(f'line {{i}} {{now:.6f}}', flush=True); time.sleep(0.05)\n"
    "time.sleep(60)\n"
)


def corral() -> list[str]:
    script = Path(sys.executable).parent / "corral"
    return [str(script)] if script.exists() else [sys.executable, "-m", "corral"]


def main(count: int = 40) -> None:
    root = Path(tempfile.mkdtemp(prefix="corral-bench-up-"))
    (root / "service.py").write_text(SERVICE.format(n=count))
    (root / "corral.toml").write_text(f'[services.web]\ncommand = "{sys.executable} service.py"\n')
    began = time.time()
    up = subprocess.Popen(
        [*corral(), "up"], cwd=root, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    first, delays, stamp_errors = None, [], []
    try:
        assert up.stdout is not None
        for text in up.stdout:
            arrived = time.time()
            if "web | line" not in text:
                continue
            written = float(text.split()[-1])
            first = first if first is not None else arrived - began
            delays.append(arrived - written)
            clock = text.split()[0]  # HH:MM:SS.mmm, local time
            h, m, s = clock.split(":")
            shown = time.mktime((*time.localtime(written)[:3], 0, 0, 0, 0, 0, -1))
            shown += int(h) * 3600 + int(m) * 60 + float(s)
            stamp_errors.append(shown - written)
            if len(delays) == count:
                break
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=60)
        shutil.rmtree(root, ignore_errors=True)
    ms = [d * 1000 for d in delays]
    print(f"up launch to first line shown: {first:.3f} s")
    print(
        f"write to display over {len(ms)} lines: median {statistics.median(ms):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )
    errors = [e * 1000 for e in stamp_errors]
    print(
        f"timestamp shown minus write time: median {statistics.median(errors):.1f} ms, "
        f"max {max(errors):.1f} ms"
    )


if __name__ == "__main__":
    os.environ.setdefault("CORRAL_RUNTIME_DIR", tempfile.mkdtemp(prefix="cr-", dir="/tmp"))
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
