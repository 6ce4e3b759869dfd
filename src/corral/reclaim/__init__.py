"""Stopping a service completely, and proving it: find every member by every layer, signal
them through pidfds, escalate, sweep, and verify the service's ports are free.

Used by the supervisor for every stop, by the guard when the supervisor died, and by clients that
find a project's processes orphaned. It needs nothing but a ``RunRecord``: what the state file
records about a run (called ``trace`` here: what the run left to find it by). ``members`` finds,
``stop`` signals and verifies, ``report`` says what happened; the names below are the package's
interface.
"""

from __future__ import annotations

from corral.reclaim.members import (
    Member,
    Scan,
    descendants,
    find_members,
    holds_run,
    process_scan,
    run_marker,
    same_process,
    session_members,
    tree_this_turn,
    trusted_cgroup,
    unverified,
)
from corral.reclaim.report import StopOutcome, StopReport
from corral.reclaim.stop import port_holders, reclaim

__all__ = [
    "Member",
    "Scan",
    "StopOutcome",
    "StopReport",
    "descendants",
    "find_members",
    "holds_run",
    "port_holders",
    "process_scan",
    "reclaim",
    "run_marker",
    "same_process",
    "session_members",
    "tree_this_turn",
    "trusted_cgroup",
    "unverified",
]
