#!/usr/bin/env python3
"""Django's command-line utility, as `django-admin startproject` writes it, with a stand-in for
Django itself so that this example runs anywhere: `runserver [ADDR:]PORT` serves a page."""

import http.server
import os
import sys


def runserver(argv: list[str]) -> None:
    address = argv[0] if argv else "127.0.0.1:8000"
    host, _, port = address.rpartition(":")
    server = http.server.ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    print(f"Starting development server at http://{host or '127.0.0.1'}:{port}/", flush=True)
    server.serve_forever()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"mysite ({os.environ['DJANGO_SETTINGS_MODULE']})\n".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    command, *rest = sys.argv[1:] or ["help"]
    if command != "runserver":
        sys.exit(f"this stand-in for django knows only runserver, not {command!r}")
    runserver(rest)


if __name__ == "__main__":
    main()
