"""Stopping a service completely, and proving it: find every member by every layer, signal
them through pidfds, escalate, sweep, and verify the service's ports are free.

Used by the supervisor for every stop, by the guard when the supervisor died, and by clients that
find a project's processes orphaned. It needs nothing but a ``RunRecord``: what the state file
records about a run (called ``trace`` here: what the run left to find it by).
"""

from __future__ import annotations

import asyncio
import enum
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corral import markers as marker_names
from corral import oslayer, ports
from corral.model import ProcessIdentity, RunRecord

KILL_ROUNDS = 5
FREEZE_ROUNDS = 50  # scans that SIGSTOP what they find, until one finds nothing new
KILL_ROUND_WAIT = 0.5
PORT_RELEASE_WAIT = 1.0
EXIT_POLL = 0.01  # seconds: how often an exit is looked for where the kernel cannot say


class StopOutcome(enum.StrEnum):
    """How a stop ended (docs/schemas/stop.json lists the same values)."""

    NOT_RUNNING = "not_running"  # nothing of the service was found
    EXITED = "exited"  # everything exited after the stop signal, within the stop timeout
    KILLED = "killed"  # something had to be SIGKILLed
    FAILED = "failed"  # something survived, or a declared port is still held
    # Everything found was stopped, but the OS layer cannot prove nothing escaped, and it saw
    # processes that could be escapees (``StopReport.unverified`` says which and why).
    NOT_VERIFIED = "not_verified"


@dataclass
class Member:
    identity: ProcessIdentity
    pgid: int
    layers: set[str]
    command: str = ""

    def describe(self) -> dict[str, Any]:
        return {"pid": self.identity.pid, "command": self.command, "layers": sorted(self.layers)}


@dataclass
class StopReport:
    service: str
    outcome: StopOutcome = StopOutcome.NOT_RUNNING
    signal: str = "SIGTERM"
    elapsed: float = 0.0
    members: int = 0  # how many processes the stop found
    pids: list[int] = field(default_factory=list)  # all of them
    swept: list[dict[str, Any]] = field(default_factory=list)  # members outside the group
    survivors: list[dict[str, Any]] = field(default_factory=list)
    ports_held: list[dict[str, Any]] = field(default_factory=list)
    exit: dict[str, Any] | None = None  # the leader's exit, when the caller knows it
    unverified: dict[str, Any] | None = None  # see ``unverified``

    @property
    def ok(self) -> bool:
        return not self.survivors and not self.ports_held and self.unverified is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "ok": self.ok,
            "outcome": str(self.outcome),
            "signal": self.signal,
            "elapsed": round(self.elapsed, 3),
            "members": self.members,
            "pids": self.pids,
            "swept": self.swept,
            "survivors": self.survivors,
            "ports_held": self.ports_held,
            "exit": self.exit,
            "unverified": self.unverified,
        }


@dataclass
class Scan:
    """One pass over every process of ours: markers, the pipes each holds, who is whose child.

    Stops that run at the same moment share it. That is sound for any scan begun after the run
    started: a process alive when the scan began and belonging to the run is in it (or in the
    cgroup and records, read fresh), and a process born later descends from one that was.
    So a scan that finds nobody proves nobody is left; one that finds survivors just means
    "look again" with a newer scan.
    """

    taken: float  # time.monotonic() when the pass began
    markers: dict[int, dict[str, str]]
    pipes: dict[str, set[int]]
    tree: oslayer.ProcessTree = field(default_factory=oslayer.ProcessTree)  # built on first use
    _orphans: list[oslayer.Orphan] | None = None

    def orphans(self) -> list[oslayer.Orphan]:
        """Processes of ours that no layer can attribute (see ``unverified``), read once."""
        if self._orphans is None:
            self._orphans = oslayer.unreadable_orphans()
        return self._orphans


_latest_scan: Scan | None = None
_turn_tree: oslayer.ProcessTree | None = None


def process_scan(newer_than: float) -> Scan:
    """The latest scan if it began after ``newer_than``, else a fresh one."""
    global _latest_scan
    if _latest_scan is None or _latest_scan.taken <= newer_than:
        taken = time.monotonic()
        _latest_scan = Scan(taken, oslayer.scan_markers(), oslayer.scan_pipe_holders())
    return _latest_scan


def tree_this_turn() -> oslayer.ProcessTree:
    """One process tree per turn of the running event loop (a fresh one outside a loop): the
    stops, probes and status reads of many services in one turn share it."""
    global _turn_tree
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return oslayer.ProcessTree()
    if _turn_tree is None:
        _turn_tree = oslayer.ProcessTree()
        loop.call_soon(_forget_turn_tree)
    return _turn_tree


def _forget_turn_tree() -> None:
    global _turn_tree
    _turn_tree = None


def find_members(
    trace: RunRecord,
    exclude: Iterable[int] = (),
    scan: Scan | None = None,
    known: Iterable[ProcessIdentity] = (),
) -> dict[int, Member]:
    """Every live process of the run, found by every layer, each verified by identity.
    ``scan`` (see ``Scan``) stands in for the marker and lifeline passes over all processes;
    ``known`` are members found before (a stop's earlier passes), still members while alive."""
    excluded = {os.getpid(), *exclude}
    tree = scan.tree if scan is not None else oslayer.ProcessTree()
    found: dict[int, set[str]] = {}

    def add(pids: Iterable[int], layer: str) -> None:
        for pid in pids:
            if pid not in excluded:
                found.setdefault(pid, set()).add(layer)

    for identity in [trace.leader, *trace.members, *known]:
        if identity is not None and same_process(identity):
            add([identity.pid], "recorded")
    cgroup = trusted_cgroup(trace)
    if cgroup is not None:
        add(oslayer.cgroup_procs(cgroup), "cgroup")
    add(session_members(trace, tree), "session")
    markers = scan.markers if scan is not None else oslayer.scan_markers()
    add(_marker_hits(trace, markers), "marker")
    if trace.lifeline:
        if scan is not None:
            holders = scan.pipes.get(trace.lifeline, set())
        else:
            holders = oslayer.scan_fd_holders({trace.lifeline}).get(trace.lifeline, set())
        add(holders, "lifeline")
    # A supervisor or guard is never a member, nor are its other children: the supervisor
    # holds the read end of every lifeline and is the parent of every leader.
    for pid in [pid for pid in found if _has_role(pid, markers)]:
        del found[pid]
    add(descendants(found, tree), "tree")
    return _verified(found, trace)


def session_members(trace: RunRecord, tree: oslayer.ProcessTree) -> list[int]:
    """The processes in the session the run's leader made: a double fork that left the process
    group but kept the session (no setsid) is still in it. Trusted only while the leader, the
    session's pid, is the same process, checked after the session was read: while it lives no
    other session can have its number."""
    leader = trace.leader
    if leader is None or trace.sid is None or trace.sid != leader.pid:
        return []
    pids = tree.session(trace.sid)
    return pids if pids and same_process(leader) else []


def trusted_cgroup(trace: RunRecord) -> Path | None:
    """The run's recorded cgroup, if it is one corral made for this project (a state file
    could name any directory, and ``cgroup.kill`` kills whatever is inside)."""
    if not trace.cgroup:
        return None
    base = oslayer.project_cgroup(trace.project_id)
    path = _path(os.path.realpath(trace.cgroup))
    if base is None or not path.is_relative_to(os.path.realpath(base)):
        return None
    return path


def holds_run(trace: RunRecord, pid: int) -> bool:
    """Whether ``pid``, found by other means (a port it listens on), is the run's by its
    markers or its lifeline: a listener that daemonized is outside the tree and, without a
    subreaper or cgroup, outside every cheap layer."""
    if pid in _marker_hits(trace, {pid: oslayer.read_markers(pid) or {}}):
        return True
    if not trace.lifeline:
        return False
    return bool(oslayer.scan_fd_holders({trace.lifeline}, [pid]))


def _has_role(pid: int, scanned: dict[int, dict[str, str]]) -> bool:
    markers = scanned.get(pid)
    if markers is None:
        markers = oslayer.read_markers(pid) or {}
    return marker_names.ROLE in markers


def same_process(identity: ProcessIdentity) -> bool:
    """Whether the process recorded as ``identity`` still runs (same pid and start time)."""
    current = oslayer.identify(identity.pid)
    return current is not None and current.start == identity.start


def _path(text: str) -> Path:
    return Path(text)


def run_marker(pid: int | None) -> str | None:
    """The run id a process carries, to find the rest of an orphan's run by its markers."""
    return (oslayer.read_markers(pid) or {}).get(marker_names.RUN) if pid else None


def _marker_hits(trace: RunRecord, scanned: dict[int, dict[str, str]]) -> list[int]:
    return [
        pid
        for pid, markers in scanned.items()
        # All three: a copied project id and service name alone (a forged or inherited
        # environment) must not make a stranger a member of this run. Only when no state
        # says which run it was (damaged or deleted) do project and service have to do.
        if markers.get(marker_names.PROJECT) == trace.project_id
        and markers.get(marker_names.SERVICE) == trace.service
        and (trace.run_id is None or markers.get(marker_names.RUN) == trace.run_id)
        and marker_names.ROLE not in markers
    ]


def descendants(roots: Iterable[int], tree: oslayer.ProcessTree) -> set[int]:
    """Every process below ``roots`` (not the roots themselves) in ``tree``."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        for child in tree.children(stack.pop()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _verified(found: dict[int, set[str]], trace: RunRecord) -> dict[int, Member]:
    members: dict[int, Member] = {}
    for pid, layers in found.items():
        stat = oslayer.read_stat(pid)
        if stat is None or not oslayer.alive(stat):
            continue
        if marker_names.ROLE in (oslayer.read_markers(pid) or {}):
            continue  # a supervisor or guard (it holds the lifeline's read end): never a member
        identity = oslayer.identify(pid)
        if identity is None:
            continue
        if trace.pgid is not None and stat.pgid == trace.pgid:
            layers = {*layers, "group"}
        members[pid] = Member(identity, stat.pgid, layers, oslayer.cmdline(pid))
    return members


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


def unverified(trace: RunRecord, known: Iterable[int], scan: Scan) -> dict[str, Any] | None:
    """Why a stop that left nothing it could find still cannot say nothing is left, or None.

    Where no layer can prove absence (no subreaper, no cgroup: the portable layer), two things
    are evidence that something escaped: the run's lifeline file is still locked although no
    process holding it was found, and processes of ours whose environment cannot be read (macOS
    hides it for Apple binaries; ``env -i`` empties it) that left every tree after the run
    started, in its directory. Those are reported, never signalled: nothing proves they are the
    run's. ``scan`` is the stop's last pass (begun after what it found was gone)."""
    candidates = {orphan.pid for orphan in _suspects(trace, scan.orphans())}
    candidates -= {*known, os.getpid()}
    # One that holds a lifeline belongs to that run (another service's).
    candidates -= {pid for pids in scan.pipes.values() for pid in pids}
    suspects = [{"pid": pid, "command": oslayer.cmdline(pid)} for pid in sorted(candidates)]
    held = bool(trace.lifeline) and oslayer.lifeline_held(trace.lifeline or "")
    if not suspects and not held:
        return None
    return {"could_escape": oslayer.ESCAPES, "lifeline_held": held, "suspects": suspects}


def _suspects(trace: RunRecord, orphans: list[oslayer.Orphan]) -> list[oslayer.Orphan]:
    """The orphans that started with the run or later (a second's slack for clock rounding),
    in its directory or below it."""
    if trace.started_at is None or trace.cwd is None or not orphans:
        return []
    root = os.path.realpath(trace.cwd)
    return [
        orphan
        for orphan in orphans
        if orphan.started >= trace.started_at - 1.0
        and (orphan.cwd == root or orphan.cwd.startswith(root + os.sep))
    ]


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
