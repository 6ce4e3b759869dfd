"""``corral wait``: bounded waits for readiness, or for a new log line."""

from __future__ import annotations

import argparse

from corral.cli.render import Output, load_project_for
from corral.errors import ExitCode, UsageError, check_services


def run_wait(args: argparse.Namespace, out: Output) -> int:
    from corral.cli.cmd_services import print_diagnosis
    from corral.control import operations as control
    from corral.control.diagnosis import diagnose_failure

    project = load_project_for(args)
    check_services(args.services, project.service_names)
    if args.log is not None:
        return _wait_log(args, out, project)
    result = control.wait(project, args.services, args.timeout)
    failed = result.get("failed")
    if failed is None:
        if out.json:
            out.document({"services": result["services"], "ok": True})
        else:
            out.line(", ".join(s["name"] for s in result["services"]) + ": ready")
        return ExitCode.OK
    diagnosis = diagnose_failure(project.root, result["services"], failed)
    if out.json:
        out.document(
            {
                "services": result["services"],
                "ok": False,
                "diagnosis": diagnosis,
                "error": {
                    "code": "not_ready",
                    "message": diagnosis["summary"],
                    "hint": diagnosis["hint"],
                },
            }
        )
    else:
        print_diagnosis(diagnosis, out, "not ready")
    return ExitCode.FAILED


def _wait_log(args: argparse.Namespace, out: Output, project) -> int:  # type: ignore[no-untyped-def]
    import re

    from corral.control import operations as control

    if len(args.services) != 1:
        raise UsageError("--log needs exactly one SERVICE", hint="corral wait web --log 'compiled'")
    try:
        re.compile(args.log)
    except re.error as exc:
        raise UsageError(f"--log: invalid regular expression {args.log!r}: {exc}") from None
    result = control.wait_for_log(project, args.services[0], args.log, args.timeout)
    if out.json:
        out.document({**result, "ok": result["matched"]})
    elif result["matched"]:
        out.line(f"{result['service']} | {result['line']}")
    else:
        out.line(
            f"no new line of {result['service']} matched {args.log!r} within {args.timeout:g}s"
        )
    return ExitCode.OK if result["matched"] else ExitCode.FAILED
