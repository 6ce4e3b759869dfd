"""``corral mcp``: the MCP server over stdio (needs the ``mcp`` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path

from corral.cli.render import Output


def run_mcp(args: argparse.Namespace, out: Output) -> int:
    from corral.config import load_project
    from corral.mcp_server import serve

    directory = Path(args.directory).resolve()
    config_file = (directory / args.file).resolve() if args.file else None
    load_project(directory, config_file)  # a bad config fails here, once, with exit code 2
    return serve(directory, config_file)
