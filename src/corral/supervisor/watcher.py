"""``python -m corral.supervisor.watcher DIR...``: one JSON line per debounced burst of changes.

Runs as a child of the supervisor, not inside it: watchfiles uses threads, and the supervisor
must stay single-threaded (it spawns services with a preexec function). Dies with its parent.
"""

from __future__ import annotations

import json
import signal
import sys

DEBOUNCE_MS = 400
IGNORED_PARTS = {".git", ".corral", "__pycache__", "node_modules", ".venv"}


def main(directories: list[str]) -> int:
    from watchfiles import watch

    from corral import oslayer

    oslayer.set_parent_death_signal(signal.SIGTERM)
    for changes in watch(*directories, debounce=DEBOUNCE_MS, step=50, raise_interrupt=False):
        paths = sorted({path for _change, path in changes if not _ignored(path)})
        if paths:
            try:
                print(json.dumps(paths), flush=True)
            except BrokenPipeError:
                return 0
    return 0


def _ignored(path: str) -> bool:
    return any(part in IGNORED_PARTS for part in path.split("/"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
