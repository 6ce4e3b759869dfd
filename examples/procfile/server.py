"""A tiny HTTP server standing in for a web app: python3 server.py --port N."""

import argparse
import http.server

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
port = parser.parse_args().port
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
print(f"web: listening on http://127.0.0.1:{port}", flush=True)
server.serve_forever()
