"""A worker that says when it waits for jobs, and stops cleanly on SIGINT."""

import os
import time

print(f"worker: waiting for jobs on {os.environ.get('QUEUE', '?')}", flush=True)
try:
    while True:
        time.sleep(1)
except KeyboardInterrupt:
    print("worker: stopped", flush=True)
