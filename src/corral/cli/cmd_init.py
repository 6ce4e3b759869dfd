"""``corral init``: a commented configuration drafted from what the project already has."""

from __future__ import annotations

import argparse
from pathlib import Path

from corral.cli.render import Output
from corral.errors import UsageError, display_path
from corral.onramps.detect import detect
from corral.onramps.toml_text import render
from corral.onramps.write import check_loads, target, write


def run_init(args: argparse.Namespace, out: Output) -> int:
    root = Path(args.directory).resolve()
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory", hint="check the -C argument")
    draft = detect(root)
    if not draft.active:
        raise UsageError(
            f"found nothing to run in {root}: no Procfile, package.json dev or start script, "
            "manage.py or process-compose.yaml",
            hint="write corral.toml by hand (see the README's Configuration section)",
        )
    path = target(root, pyproject=args.pyproject, force=args.force)
    text = render(draft, pyproject=args.pyproject)
    if args.dry_run:
        out.stdout.write(text)
        return 0
    old = write(path, text)
    check_loads(root, path, old)
    names = ", ".join(service.name for service in draft.active)
    verb = "updated" if old is not None else "wrote"
    out.line(f"{verb} {display_path(path)}: {len(draft.active)} services ({names})")
    out.line("check the guesses in it, then: corral config, corral start")
    return 0
