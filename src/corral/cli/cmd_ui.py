"""``corral ui``: the live dashboard (needs the ``ui`` extra and a terminal)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode, UsageError


def run_ui(args: argparse.Namespace, out: Output) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "ui needs a terminal", hint="without one: corral status, corral logs, corral events"
        )
    project = load_project_for(args)
    try:
        from corral import dashboard
    except ImportError:
        raise UsageError("corral ui needs the ui extra", hint="pip install 'corral[ui]'") from None
    config_file = (Path(args.directory) / args.file).resolve() if args.file else None
    dashboard.run(project, config_file)  # says on leaving whether services keep running
    return ExitCode.OK
