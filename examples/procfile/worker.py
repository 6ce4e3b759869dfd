"""A worker that does a little work every second until it is stopped."""

import time

count = 0
while True:
    count += 1
    print(f"worker: job {count} done", flush=True)
    time.sleep(1)
