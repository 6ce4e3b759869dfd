"""``corral export FORMAT [DIR]``: the project's services for another process manager."""

from __future__ import annotations

import argparse
from pathlib import Path

from corral.cli.render import Output, load_project_for
from corral.errors import display_path
from corral.onramps.export import Options, render, write


def run_export(args: argparse.Namespace, out: Output) -> int:
    project = load_project_for(args)
    directory = Path(args.dir) if args.dir else project.root / "corral-export" / args.format
    directory = directory.resolve()
    files = render(args.format, project, Options(directory, args.image))
    for path in write(directory, files):
        out.line(f"wrote {display_path(path)}")
    return 0
