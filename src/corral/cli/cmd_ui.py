"""``corral ui``: the live dashboard (needs the ``ui`` extra and a terminal)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode, UsageError
from corral.model import ProjectSpec

ALTERNATE_SCREEN = "\x1b[?1049h\x1b[H\x1b[2J"  # the dashboard draws there too, and leaves it


def run_ui(args: argparse.Namespace, out: Output) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "ui needs a terminal", hint="without one: corral status, corral logs, corral events"
        )
    project = load_project_for(args)
    if importlib.util.find_spec("textual") is None:  # found, not imported: that is the slow part
        raise UsageError("corral ui needs the ui extra", hint="pip install 'corral[ui]'")
    first = _paint_status(project, out)
    from corral import dashboard

    config_file = (Path(args.directory) / args.file).resolve() if args.file else None
    dashboard.run(project, config_file, first)  # says on leaving whether services keep running
    return ExitCode.OK


def _paint_status(project: ProjectSpec, out: Output) -> dict[str, Any]:
    """The plain ``corral status`` table, on the screen the dashboard will use, while Textual
    loads (about 0.4 s of import): the services and their states are there at once. The same
    document is the dashboard's first, so nothing is read twice."""
    from corral.cli.cmd_status import print_status
    from corral.control import operations as control

    document = control.status(project)
    out.stdout.write(ALTERNATE_SCREEN)
    # The table even under --json or CORRAL_JSON=1 (an agent's shell): this is a screen.
    print_status(document, Output(False, out.colour, out.tty, out.stdout, out.stderr))
    out.stdout.write("\nloading the dashboard...\n")
    out.stdout.flush()
    return document
