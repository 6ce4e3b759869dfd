"""``corral doctor``: everything needed to understand a broken setup, in one bounded dump that
changes nothing. Every problem found comes with the command that fixes it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from corral import client, oslayer
from corral import markers as marker_names
from corral.errors import CorralError
from corral.locks import supervisor_alive
from corral.model import ProcessIdentity, ProjectSpec
from corral.paths import socket_path, state_dir, supervisor_log_path
from corral.state import read_state, state_path


def diagnose(project: ProjectSpec) -> dict[str, Any]:
    from corral.control import operations as control

    problems: list[dict[str, str]] = []
    supervisor = _supervisor(project, problems)
    status = control.status(project)
    services = [_service(project, item, problems) for item in status["services"]]
    orphans = _orphans(project, services, problems)
    from corral.logs import disk_problem

    full = disk_problem(state_dir(project.root))
    if full:
        _problem(
            problems,
            full,
            f"free space on that file system (see: df -h {state_dir(project.root) / 'logs'})",
        )
    return {
        "project": {
            "name": project.name,
            "root": str(project.root),
            "id": project.project_id,
            "config_files": [str(p) for p in project.config_files],
        },
        "supervisor": supervisor,
        "status_source": status["source"],
        "services": services,
        "orphans": orphans,
        "layers": oslayer.capabilities().layers(),
        "problems": problems,
    }


def _ping(sock: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The supervisor's answer to a ping, or why there was none."""
    try:
        return client.call(sock, {"op": "ping"}, 1.0), None
    except CorralError as exc:
        return None, exc.message


FAILURE_WORDS = ("failed", "refused", "Error", "error")


def last_failure(root: Path, pid: int | None) -> str | None:
    """The last failure supervisor ``pid`` wrote to its log (a supervisor that drops every
    request says why only there), from the log's last 64 KiB."""
    if pid is None:
        return None
    try:
        with open(supervisor_log_path(root), "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    mine = f"supervisor[{pid}] "
    for line in reversed(lines):
        if mine in line and any(word in line for word in FAILURE_WORDS):
            return line.partition(mine)[2][:300]
    return None


def _supervisor(project: ProjectSpec, problems: list[dict[str, str]]) -> dict[str, Any]:
    sock = socket_path(project.project_id)
    alive = supervisor_alive(project.root)
    state = read_state(project.root, oslayer.boot_id(), project.project_id)
    begun = time.monotonic()
    answer, reason = _ping(sock)
    pid = state.supervisor.pid if state and state.supervisor else None
    info: dict[str, Any] = {
        "alive": alive,
        "socket": str(sock),
        "socket_exists": sock.exists(),
        "answering": answer is not None,
        "latency_ms": round((time.monotonic() - begun) * 1000, 1) if answer else None,
        "reason": reason,  # why it did not answer (None when it did)
        "logged": last_failure(project.root, pid) if alive and answer is None else None,
        "pid": pid,
        "started_at": state.started_at if state else None,
        "state_file": str(state_path(project.root)),
        "last_end": state.ended if state else None,
    }
    if alive and answer is None:
        pid = info["pid"]
        stat = oslayer.read_stat(pid) if pid else None
        if stat is not None and stat.state == "T":
            _problem(
                problems, f"the supervisor (pid {pid}) is stopped (SIGSTOP)", f"kill -CONT {pid}"
            )
        else:
            _problem(
                problems,
                f"the supervisor (pid {pid}) holds its lock but does not answer",
                f"kill {pid}  (then: corral stop)",
            )
    if not alive and sock.exists():
        _problem(problems, f"stale socket {sock} (no supervisor)", "corral stop")
    guard = state.guard if state else None
    if alive and guard is not None and not _still_there(guard):
        _problem(
            problems,
            f"the guard (pid {guard.pid}) is gone: if the supervisor dies now, nothing stops "
            "what it started",
            "corral stop, then corral start (a new supervisor brings its own guard)",
        )
    _check_writable(project, problems)
    ended = state.ended if state else None
    if not alive and ended and ended.get("by") == "guard":
        _problem(
            problems,
            f"the last supervisor died: {ended.get('reason')}; its guard stopped what it left",
            "corral start",
        )
    return info


def _still_there(identity: ProcessIdentity) -> bool:
    current = oslayer.identify(identity.pid)
    stat = oslayer.read_stat(identity.pid)
    alive = stat is not None and stat.state not in ("Z", "X")  # a zombie is gone, not reaped
    return alive and current is not None and current.start == identity.start


def _check_writable(project: ProjectSpec, problems: list[dict[str, str]]) -> None:
    """A read-only checkout or state directory: the next start cannot even write its state."""
    import os

    directory = state_dir(project.root)
    target = directory if directory.exists() else project.root
    if not os.access(target, os.W_OK):
        _problem(
            problems,
            f"{target} is not writable: corral cannot keep its state there",
            "make it writable, or run corral from a writable checkout",
        )


def _service(
    project: ProjectSpec, item: dict[str, Any], problems: list[dict[str, str]]
) -> dict[str, Any]:
    from corral import ports as ledger
    from corral.logs import last_lines

    name = item["name"]
    tree = [_process(pid) for pid in item.get("members") or []]
    result = {**item, "tree": [p for p in tree if p is not None], "port_holders": {}}
    spec = project.service(name)
    for port in spec.ports:
        holders = [h.to_dict() for h in ledger.holders(port)]
        result["port_holders"][str(port)] = holders
        foreign = [h for h in holders if h.get("project_id") != project.project_id]
        if foreign:
            fix = foreign[0].get("stop_command") or f"corral free {port} --force"
            _problem(
                problems,
                f"port {port} of {name} is held by pid {foreign[0].get('pid')} "
                f"({(foreign[0].get('command') or '')[:60]}), not by this project",
                fix,
            )
    if item["state"] in ("exited", "crashed", "running", "backoff"):
        result["log_tail"] = last_lines(state_dir(project.root), name, 10)
        _problem(
            problems,
            f"{name} is {item['state']}" + (f": {item['note']}" if item.get("note") else ""),
            f"corral logs {name}; corral restart {name}",
        )
    if item["state"] == "orphaned":
        _problem(problems, f"{name} runs without a supervisor (orphaned)", "corral stop")
    return result


def _process(pid: int) -> dict[str, Any] | None:
    stat = oslayer.read_stat(pid)
    if stat is None:
        return None
    return {
        "pid": pid,
        "ppid": stat.ppid,
        "pgid": stat.pgid,
        "state": stat.state,
        "command": oslayer.cmdline(pid),
    }


def _orphans(
    project: ProjectSpec, services: list[dict[str, Any]], problems: list[dict[str, str]]
) -> list[dict[str, Any]]:
    known = {pid for item in services for pid in item.get("members") or []}
    state = read_state(project.root, oslayer.boot_id(), project.project_id)
    runs = {state.run_id} | {r.run_id for r in state.runs()} if state else set()
    found = []
    for pid, markers in oslayer.scan_markers().items():
        if markers.get(marker_names.PROJECT) != project.project_id or marker_names.ROLE in markers:
            continue
        if pid not in known:
            process = _process(pid)
            if process is not None:
                recorded = markers.get(marker_names.RUN) in runs
                service = markers.get(marker_names.SERVICE)
                found.append({**process, "service": service, "recorded_run": recorded})
    _report_orphans(
        problems,
        [p for p in found if p["recorded_run"]],
        [p for p in found if not p["recorded_run"]],
    )
    return found


def _report_orphans(
    problems: list[dict[str, str]], ours: list[dict[str, Any]], unknown: list[dict[str, Any]]
) -> None:
    if ours:
        pids = ", ".join(str(p["pid"]) for p in ours[:5])
        _problem(
            problems,
            f"{len(ours)} process(es) of this project are in no service's tree ({pids})",
            "corral stop",
        )
    if unknown:
        pids = " ".join(str(p["pid"]) for p in unknown[:5])
        _problem(
            problems,
            f"{len(unknown)} process(es) carry this project's markers but no run corral "
            f"recorded ({pids}): corral did not start them and will not stop them",
            f"if they are yours: kill {pids}",
        )


def _problem(problems: list[dict[str, str]], message: str, fix: str) -> None:
    problems.append({"problem": message, "fix": fix})
