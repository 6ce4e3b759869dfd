"""``corral agent setup|remove|hook``: corral inside a coding agent's lifecycle (see
``corral.agent``)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from corral.cli.render import Output


def run_setup(args: argparse.Namespace, out: Output) -> int:
    return _change(args, out, setup=True)


def run_remove(args: argparse.Namespace, out: Output) -> int:
    return _change(args, out, setup=False)


def _change(args: argparse.Namespace, out: Output, *, setup: bool) -> int:
    from corral.agent import setup as agent_setup
    from corral.cli.render import load_project_for

    project = load_project_for(args)
    if setup:
        changes = agent_setup.plan_setup(project, args.target)
    else:
        changes = agent_setup.plan_remove(project, args.target)
    if not args.dry_run:
        agent_setup.apply(project, changes, setup=setup)
    if out.json:
        files = [{"path": str(c.path), "action": c.action, "diff": c.diff()} for c in changes]
        out.document({"dry_run": args.dry_run, "files": files})
        return 0
    for change in changes:
        if args.dry_run:
            out.stdout.write(change.diff())
        elif change.action != "unchanged":
            out.line(f"{change.action} {change.path}")
    if args.dry_run and all(c.action == "unchanged" for c in changes):
        out.line("nothing to change")
    elif not args.dry_run and all(c.action == "unchanged" for c in changes):
        out.line("already up to date" if setup else "nothing of corral's to remove")
    return 0


def run_hook(args: argparse.Namespace, out: Output) -> int:
    from corral.agent.hooks import run

    return run(args.hook, sys.stdin, sys.stdout, sys.stderr)
