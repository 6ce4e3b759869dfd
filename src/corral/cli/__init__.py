"""The command line: parse, call the engine, render, and map errors to exit codes in one place.

Nothing heavy is imported at module level: ``corral status`` is on agents' hot path.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from corral.cli.parser import build_parser
    from corral.cli.render import Output
    from corral.errors import CorralError, ExitCode

    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output.for_args(args)
    if args.handler is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(args.handler(args, out))
    except CorralError as exc:
        out.error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        out.error(CorralError("interrupted"))
        return 130


def entry_point() -> None:
    from corral.fastpath import fast_command

    try:
        code = fast_command(sys.argv[1:])
        if code is None:
            code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `corral logs | head`: the reader left, which is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
