"""A background worker that logs a line a second."""

import itertools
import os
import time

interval = float(os.environ.get("WORK_INTERVAL", "1s").rstrip("s") or 1)
for n in itertools.count(1):
    print(f"worker: processed job {n}", flush=True)
    time.sleep(interval)
