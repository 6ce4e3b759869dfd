"""Like a node dev server: it "compiles", then serves from a child process it starts."""

import os
import socket
import subprocess
import sys
import time

port = os.environ["PORT"]
print("frontend: compiling...", flush=True)
time.sleep(0.5)
server = subprocess.Popen(
    [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1", "--directory", "public"]
)
while server.poll() is None:  # like a real dev server: say it is ready once it serves
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", int(port))) == 0:
            break
    time.sleep(0.05)
print(f"frontend: compiled successfully, serving http://127.0.0.1:{port}", flush=True)
sys.exit(server.wait())
