"""Finding every member of a run, by every layer (records, process tree and session, cgroup,
markers, the lifeline pipe), each found process verified by identity before anyone signals it;
and the processes no layer can attribute. One process table per loop turn and one marker scan
per stop pass are shared by the stops that run together.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corral import markers as marker_names
from corral import oslayer
from corral.model import ProcessIdentity, RunRecord


@dataclass
class Member:
    identity: ProcessIdentity
    pgid: int
    layers: set[str]
    command: str = ""  # read when found, except for the group's: a report rarely names them

    def describe(self) -> dict[str, Any]:
        if not self.command and same_process(self.identity):
            self.command = oslayer.cmdline(self.identity.pid)
        return {"pid": self.identity.pid, "command": self.command, "layers": sorted(self.layers)}


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

    stats: dict[int, oslayer.ProcStat | None] = {}  # one read of each pid per call
    environs: dict[int, dict[str, str]] = {}  # and of each environment read here
    recorded = dict.fromkeys(i for i in [trace.leader, *trace.members, *known] if i is not None)
    for identity in recorded:
        if _same_start(identity, _stat(identity.pid, stats)):
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
    for pid in [pid for pid in found if _has_role(pid, markers, environs)]:
        del found[pid]
    add(descendants(found, tree, stats), "tree")
    return _verified(found, trace, stats, environs)


def _stat(pid: int, stats: dict[int, oslayer.ProcStat | None]) -> oslayer.ProcStat | None:
    if pid not in stats:
        stats[pid] = oslayer.read_stat(pid)
    return stats[pid]


def _same_start(identity: ProcessIdentity, stat: oslayer.ProcStat | None) -> bool:
    return stat is not None and stat.start == identity.start


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
    """The run's recorded cgroup, if it is one corral made for this project, below the project's
    directory (a state file could name any directory, and ``cgroup.kill`` kills whatever is
    inside)."""
    if not trace.cgroup:
        return None
    base = oslayer.project_cgroup(trace.project_id)
    if base is None:
        return None
    real_base = _realpath(str(base))
    recorded = trace.cgroup
    # cgroupfs has no symlinks, so a normalised absolute path below the real base is real
    # already; anything else (a "..", a symlink elsewhere) is resolved before it is judged.
    if not (os.path.normpath(recorded) == recorded and recorded.startswith(real_base + os.sep)):
        recorded = os.path.realpath(recorded)
    path = _path(recorded)
    # Strictly below: the project's own directory holds every service's cgroup.
    return path if path != _path(real_base) and path.is_relative_to(real_base) else None


@functools.lru_cache(maxsize=16)
def _realpath(base: str) -> str:
    """A project's cgroup directory resolved once: corral made it, below its own cgroup."""
    return os.path.realpath(base)


def holds_run(trace: RunRecord, pid: int) -> bool:
    """Whether ``pid``, found by other means (a port it listens on), is the run's by its
    markers or its lifeline: a listener that daemonized is outside the tree and, without a
    subreaper or cgroup, outside every cheap layer."""
    if pid in _marker_hits(trace, {pid: oslayer.read_markers(pid) or {}}):
        return True
    if not trace.lifeline:
        return False
    return bool(oslayer.scan_fd_holders({trace.lifeline}, [pid]))


def _has_role(
    pid: int, scanned: dict[int, dict[str, str]], environs: dict[int, dict[str, str]]
) -> bool:
    markers = scanned.get(pid)
    if markers is None:
        markers = _markers(pid, environs)
    return marker_names.ROLE in markers


def _markers(pid: int, environs: dict[int, dict[str, str]]) -> dict[str, str]:
    """``pid``'s markers, read once per ``find_members`` call."""
    if pid not in environs:
        environs[pid] = oslayer.read_markers(pid) or {}
    return environs[pid]


def same_process(identity: ProcessIdentity) -> bool:
    """Whether the process recorded as ``identity`` still runs (same pid and start time)."""
    return _same_start(identity, oslayer.read_stat(identity.pid))


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


def descendants(
    roots: Iterable[int],
    tree: oslayer.ProcessTree,
    stats: dict[int, oslayer.ProcStat | None] | None = None,
) -> set[int]:
    """Every process below ``roots`` (not the roots themselves) in ``tree``; ``stats`` read just
    before say which are single-threaded (one task list fewer to read each)."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        stat = stats.get(pid) if stats else None
        for child in tree.children(pid, stat.threads if stat is not None else 0):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _verified(
    found: dict[int, set[str]],
    trace: RunRecord,
    stats: dict[int, oslayer.ProcStat | None],
    environs: dict[int, dict[str, str]],
) -> dict[int, Member]:
    """Each found process, alive, with the identity of the stat read this call (the one stat
    its "recorded" layer was checked against): a signal later checks that identity again."""
    members: dict[int, Member] = {}
    boot = oslayer.boot_id()
    for pid, layers in found.items():
        stat = _stat(pid, stats)
        if stat is None or not oslayer.alive(stat):
            continue
        if marker_names.ROLE in _markers(pid, environs):
            continue  # a supervisor or guard (it holds the lifeline's read end): never a member
        identity = ProcessIdentity(pid, stat.start, boot)
        command = ""
        if trace.pgid is not None and stat.pgid == trace.pgid:
            layers = {*layers, "group"}
        else:
            command = oslayer.cmdline(pid)  # a swept one is named in the report, and soon gone
        members[pid] = Member(identity, stat.pgid, layers, command)
    return members


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
