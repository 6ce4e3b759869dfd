"""The command line: parse, call the engine, render, and map errors to exit codes in one place.

Nothing heavy is imported at module level: ``corral status`` is on agents' hot path.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from corral.cli.parser import build_parser, command_word
    from corral.cli.render import Output
    from corral.errors import CorralError, ExitCode

    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_word(words))  # that command's parser only, when it can
    try:
        args = parser.parse_args(words)
    except CorralError as exc:  # argparse's own errors, as one line (or one JSON document)
        Output.for_words(words).error(exc)
        return exc.exit_code
    out = Output.for_args(args)
    if args.handler is None:
        build_parser().print_help(sys.stderr)  # every command listed, not just the one named
        return ExitCode.USAGE
    try:
        return int(_handler(args.handler)(args, out))
    except CorralError as exc:
        out.error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        if not out.json:
            print("corral: interrupted", file=sys.stderr)
        return 130


def _handler(name: str) -> Callable[..., int]:
    """``"cmd_services:run_start"`` -> the function (imported now: only the one that runs)."""
    import importlib

    module, _, function = name.partition(":")
    handler: Callable[..., int] = getattr(importlib.import_module(f"corral.cli.{module}"), function)
    return handler


def entry_point() -> None:
    from corral.cli.fastpath import fast_command

    try:
        code = fast_command(sys.argv[1:])
        if code is None:
            code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Only stdout's reader going away (`corral logs | head`) is benign. A broken pipe to the
        # supervisor never reaches here: corral.client turns it into supervisor_unavailable.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    _exit_now(code)


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown, which frees every module and object one by
    one: 3-15 ms on every command, and ``corral status`` is on agents' hot path. Nothing is
    lost: the CLI keeps no buffered file open and registers no exit handlers, and the two
    standard streams are flushed here."""
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib is not imported on the fast path
            stream.flush()
        except (OSError, ValueError):  # a reader gone, or a stream closed: nothing to keep
            pass
    os._exit(code)
