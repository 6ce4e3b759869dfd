"""Stopping a run and proving it: signal every member through pidfds, escalate, freeze and sweep
what keeps forking, and verify the run's ports are free. Members are found by ``members``;
what happened is a ``StopReport``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterable
from typing import Any

from corral import markers as marker_names
from corral import oslayer, ports
from corral.model import ProcessIdentity, RunRecord
from corral.reclaim.members import (
    Member,
    Scan,
    find_members,
    process_scan,
    tree_this_turn,
    trusted_cgroup,
    unverified,
)
from corral.reclaim.report import StopOutcome, StopReport

KILL_ROUNDS = 5
FREEZE_ROUNDS = 50  # scans that SIGSTOP what they find, until one finds nothing new
KILL_ROUND_WAIT = 0.5
PORT_RELEASE_WAIT = 1.0
EXIT_POLL = 0.01  # seconds: how often an exit is looked for where the kernel cannot say


async def reclaim(
    trace: RunRecord,
    *,
    group_pinned: bool = False,
    exclude: Iterable[int] = (),
    poll: float = 0.02,
    hurry: asyncio.Event | None = None,
    since: float | None = None,
) -> StopReport:
    """Stop every member of a run; see docs/design.md, "Stop (reclaim) algorithm".

    ``group_pinned`` says the caller holds the group leader as an unreaped child, so the process
    group number cannot belong to anybody else and ``killpg`` is safe. Setting ``hurry`` ends
    the grace period at once (a second Ctrl-C). ``since`` (monotonic, after the run started)
    lets stops begun together share their first scan.
    """
    excluded = set(exclude)
    report = StopReport(trace.service, signal=signal.Signals(trace.stop_signal).name)
    started = time.monotonic()
    seen: dict[int, Member] = {}
    signalled: set[int] = set()
    early = group_pinned and trace.pgid is not None
    if early:  # the group first, found by the cheap layers: it exits while the scan runs
        seen = find_members(trace, excluded, Scan(started, {}, {}, tree_this_turn()))
        signalled = _signal_all(trace, seen, trace.stop_signal, signalled, group=True)
        await asyncio.sleep(0)  # the stops begun with ours signal their groups too
    scan = process_scan(started if since is None else since)
    members = find_members(trace, excluded, scan, _identities(seen))
    seen.update(members)
    if seen:
        report.outcome = StopOutcome.EXITED
    if members:  # a scan begun after the run started that finds nobody proves nobody is left
        signalled = _signal_all(
            trace, members, trace.stop_signal, signalled, group=group_pinned and not early
        )
        deadline = started + trace.stop_timeout
        members, scan = await _wait_gone(
            trace, excluded, seen, members, signalled, scan, deadline, poll, hurry
        )
        if members:
            report.outcome = StopOutcome.KILLED
            members = await _kill_rounds(trace, excluded, seen, group_pinned, scan, members)
    report.elapsed = time.monotonic() - started
    report.members = len(seen)
    report.pids = sorted(seen)
    report.swept = [m.describe() for m in seen.values() if "group" not in m.layers]
    report.survivors = [m.describe() for m in members.values()]
    report.ports_held = await _verify_ports(trace, excluded, seen, scan.taken)
    report.unverified = unverified(trace, {*excluded, *seen}, scan)
    if report.survivors or report.ports_held:
        report.outcome = StopOutcome.FAILED
    elif report.unverified is not None:
        report.outcome = StopOutcome.NOT_VERIFIED
    elif trace.lifeline:
        oslayer.release_lifeline(trace.lifeline)
    return report


def _identities(members: dict[int, Member]) -> list[ProcessIdentity]:
    return [member.identity for member in members.values()]


def _signal_all(
    trace: RunRecord,
    members: dict[int, Member],
    sig: int,
    already: set[int],
    *,
    group: bool = False,
) -> set[int]:
    """Send ``sig`` to the members not yet signalled; returns the pids now signalled. With
    ``group`` (the caller holds the leader unreaped, so the group number is ours) the process
    group gets it first, and its members get no second copy: a second SIGTERM means "now, not
    gracefully" to some servers."""
    if group and trace.pgid:
        for each in (sig, signal.SIGCONT):
            try:
                os.killpg(trace.pgid, each)
            except ProcessLookupError:
                break
    for pid, member in members.items():
        if pid in already or (group and member.pgid == trace.pgid):
            continue
        oslayer.safe_signal(member.identity, sig)
        if sig != signal.SIGKILL:
            oslayer.safe_signal(member.identity, signal.SIGCONT)
    return already | set(members)


async def _wait_gone(
    trace: RunRecord,
    excluded: set[int],
    seen: dict[int, Member],
    members: dict[int, Member],
    signalled: set[int],
    scan: Scan,
    deadline: float,
    poll: float,
    hurry: asyncio.Event | None,
) -> tuple[dict[int, Member], Scan]:
    """Wait until ``deadline`` for every member (not just the leader) to be gone. Their exits
    wake us; a scan begun after the last of them confirms it and finds any process forked
    meanwhile, which gets the stop signal too. ``poll`` bounds each wait, for those forks."""
    while True:
        remaining = max(0.0, deadline - time.monotonic())
        settled = await _until_exited(members.values(), min(poll, remaining), hurry)
        scan = process_scan(max(settled, scan.taken))  # stops settled together share it
        members = find_members(trace, excluded, scan, _identities(seen))
        seen.update(members)
        if not members or time.monotonic() >= deadline or (hurry is not None and hurry.is_set()):
            return members, scan
        fresh = {pid: m for pid, m in members.items() if pid not in signalled}
        if fresh:  # forked during the stop: they get the stop signal too
            signalled = _signal_all(trace, fresh, trace.stop_signal, signalled)
        poll = min(poll * 1.5, 0.1)


async def _until_exited(
    members: Iterable[Member], timeout: float, hurry: asyncio.Event | None = None
) -> float:
    """Wait until each of ``members`` has exited, ``timeout`` passes or ``hurry`` is set; the
    kernel says when (a pidfd turns readable as its process exits; without pidfds, each is
    looked at every ``EXIT_POLL``). Returns when the last exit was seen, or when it gave up."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    handles = {h for m in members if (h := oslayer.open_process(m.identity)) is not None}
    watched = {h for h in handles if h.fileno() >= 0}
    changed = asyncio.Event()
    settled = time.monotonic()

    def exited(handle: Any) -> None:
        nonlocal settled
        loop.remove_reader(handle.fileno())
        handles.discard(handle)
        settled = time.monotonic()
        changed.set()

    for handle in watched:
        loop.add_reader(handle.fileno(), exited, handle)
    try:
        while handles and not (hurry is not None and hurry.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return time.monotonic()
            polled = handles - watched
            wait = min(remaining, EXIT_POLL) if polled else remaining
            changed.clear()
            await _first(changed, hurry, wait)
            for handle in polled:
                if handle.has_exited():
                    handles.discard(handle)
                    settled = time.monotonic()
        return settled if not handles else time.monotonic()
    finally:
        for handle in watched:
            if handle in handles:
                loop.remove_reader(handle.fileno())
            handle.close()
        for handle in handles - watched:
            handle.close()


async def _first(event: asyncio.Event, other: asyncio.Event | None, timeout: float) -> None:
    """Until ``event`` or ``other`` is set, at most ``timeout`` seconds."""
    waits = [asyncio.ensure_future(e.wait()) for e in (event, other) if e is not None]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()


async def _kill_rounds(
    trace: RunRecord,
    excluded: set[int],
    seen: dict[int, Member],
    group_pinned: bool,
    scan: Scan,
    members: dict[int, Member],
) -> dict[int, Member]:
    """SIGKILL everything found, re-discover, repeat until a round finds nothing (bounded).
    The first round kills ``members``, which the caller's scan has just found."""
    if trusted_cgroup(trace) is None:
        members, scan = await _freeze(trace, excluded, seen, scan, members)
    for round_number in range(KILL_ROUNDS):
        cgroup = trusted_cgroup(trace)
        if cgroup is not None:
            oslayer.cgroup_kill(cgroup)
        if round_number > 0:
            scan = process_scan(scan.taken)
            members = find_members(trace, excluded, scan, _identities(seen))
            seen.update(members)
        if not members:
            return {}
        _signal_all(trace, members, signal.SIGKILL, set(), group=group_pinned)
        await _until_exited(members.values(), KILL_ROUND_WAIT)
    return find_members(trace, excluded, process_scan(scan.taken), _identities(seen))


async def _freeze(
    trace: RunRecord,
    excluded: set[int],
    seen: dict[int, Member],
    scan: Scan,
    members: dict[int, Member],
) -> tuple[dict[int, Member], Scan]:
    """Without ``cgroup.kill``, a storm of forks can outrun kill-then-scan rounds: each round's
    SIGKILLs land after the next generation was forked. So first stop everything found
    (SIGSTOP: a stopped process forks nothing), and scan again until a scan finds no process
    that is not stopped yet; then the SIGKILL rounds meet a population that no longer grows."""
    frozen: dict[int, Member] = {}
    for _ in range(FREEZE_ROUNDS):
        fresh = {pid: m for pid, m in members.items() if pid not in frozen}
        if not fresh:
            break
        for member in fresh.values():
            oslayer.safe_signal(member.identity, signal.SIGSTOP)
        frozen.update(fresh)
        await asyncio.sleep(0)  # the socket keeps answering between scans
        scan = process_scan(time.monotonic())
        members = find_members(trace, excluded, scan, _identities(seen))
        seen.update(members)
    return {**frozen, **members}, scan


async def _verify_ports(
    trace: RunRecord, excluded: set[int], seen: dict[int, Member], settled: float
) -> list[dict[str, Any]]:
    """Each declared port must be free; a holder that is one of ours is killed, others reported.
    The first look shares a dump of the listening sockets taken after ``settled``, the start of
    the pass that found no member alive (their sockets were closed by then).

    Only the ports this run's processes could have held are verified: a stop that found none of
    them (a service that never ran here) verifies none, and a port held by a service of another
    corral project (a second checkout's server) is that project's, not a failure of this stop."""
    held: list[dict[str, Any]] = []
    if not seen:
        return held
    for port in trace.ports:
        deadline = time.monotonic() + PORT_RELEASE_WAIT
        listening: list[oslayer.Listener] | None = ports.listeners_since(settled)
        while not oslayer.port_is_free(port, listening):
            listening = None  # from now on, a fresh dump each time
            holders = port_holders(port)
            ours = [h for h in holders if h.get("pid") in seen]
            for holder in ours:
                oslayer.safe_signal(seen[holder["pid"]].identity, signal.SIGKILL)
            if time.monotonic() >= deadline:
                if not _of_another_project(holders, trace.project_id):
                    entry: dict[str, Any] = {"port": port, "holders": holders}
                    if not holders:  # no listener: say what the kernel still holds it for
                        entry["states"] = ports.socket_states(port)
                    held.append(entry)
                break
            await asyncio.sleep(0.02)
    return held


def _of_another_project(holders: list[dict[str, Any]], project_id: str) -> bool:
    """Every holder is a visible process carrying another corral project's marker."""

    def project_of(pid: int | None) -> str | None:
        found = oslayer.read_markers(pid) if pid is not None else None
        return (found or {}).get(marker_names.PROJECT)

    projects = [project_of(holder.get("pid")) for holder in holders]
    return bool(projects) and all(p is not None and p != project_id for p in projects)


def port_holders(port: int) -> list[dict[str, Any]]:
    """Who listens on ``port``: pid and command where the kernel lets us see them, else uid."""
    listeners = oslayer.listeners([port])
    owners = oslayer.socket_holders([item.inode for item in listeners])
    result = []
    for item in listeners:
        pids = sorted(owners.get(item.inode, set()))
        for pid in pids or [None]:
            entry: dict[str, Any] = {"address": item.address, "uid": item.uid, "pid": pid}
            if pid is not None:
                entry["command"] = oslayer.cmdline(pid)
            result.append(entry)
    return result
