"""The service state machine as data. No I/O: ``decide`` maps (state, event) to the next state and
the actions the engine must carry out, so the whole table can be tested row by row.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from corral.model import RestartPolicy


class State(enum.StrEnum):
    STOPPED = "stopped"  # not running, by request or never started
    STARTING = "starting"  # spawned, not yet ready
    RUNNING = "running"  # alive, but its readiness probe gave up
    READY = "ready"  # alive and ready
    STOPPING = "stopping"  # a stop (reclaim) is in progress
    BACKOFF = "backoff"  # exited; a restart is scheduled
    EXITED = "exited"  # exited by itself; no restart
    CRASHED = "crashed"  # exited too often within the restart window; left down
    COMPLETED = "completed"  # a oneshot service that exited 0: done, which counts as success


ALIVE = frozenset({State.STARTING, State.RUNNING, State.READY})
DOWN = frozenset({State.STOPPED, State.EXITED, State.CRASHED, State.COMPLETED})
SATISFIED = frozenset({State.READY, State.COMPLETED})  # what a start or a dependent waits for


class Event(enum.StrEnum):
    START = "start"
    READY = "ready"
    PROBE_FAILED = "probe_failed"
    EXIT = "exit"
    BACKOFF_ELAPSED = "backoff_elapsed"
    STOP = "stop"
    RECLAIMED = "reclaimed"


class Action(enum.StrEnum):
    SPAWN = "spawn"
    SCHEDULE_RESTART = "schedule_restart"
    CANCEL_RESTART = "cancel_restart"
    RECLAIM = "reclaim"


@dataclass(frozen=True)
class RestartRules:
    policy: RestartPolicy = RestartPolicy.NO
    limit: int = 5  # exits within `window` that make a service crashed
    window: float = 60.0
    first_delay: float = 0.5
    max_delay: float = 30.0
    oneshot: bool = False  # exit 0 completes the service instead of ending it


@dataclass(frozen=True)
class Decision:
    state: State
    actions: tuple[Action, ...] = ()
    delay: float = 0.0  # for SCHEDULE_RESTART


# Edges that do not depend on the exit code or history. EXIT is decided by `_after_exit`.
TRANSITIONS: dict[tuple[State, Event], Decision] = {
    # stopped|exited|crashed|completed -> starting: a start request spawns a new run
    **{(s, Event.START): Decision(State.STARTING, (Action.SPAWN,)) for s in DOWN},
    (State.STARTING, Event.READY): Decision(State.READY),
    (State.RUNNING, Event.READY): Decision(State.READY),  # a late probe success still counts
    (State.STARTING, Event.PROBE_FAILED): Decision(State.RUNNING),
    (State.BACKOFF, Event.BACKOFF_ELAPSED): Decision(State.STARTING, (Action.SPAWN,)),
    (State.BACKOFF, Event.STOP): Decision(State.STOPPED, (Action.CANCEL_RESTART,)),
    (State.BACKOFF, Event.START): Decision(State.STARTING, (Action.CANCEL_RESTART, Action.SPAWN)),
    **{(s, Event.STOP): Decision(State.STOPPING, (Action.RECLAIM,)) for s in ALIVE},
    (State.STOPPING, Event.RECLAIMED): Decision(State.STOPPED),
    # a run that exits while being stopped is the stop succeeding: reclaim reports it
    (State.STOPPING, Event.EXIT): Decision(State.STOPPING),
    # stopping what is already down is a no-op, reported as such by the engine
    **{(s, Event.STOP): Decision(s) for s in DOWN - {State.COMPLETED}},
    # completed --stop--> stopped: forgets the completion, so that the next start runs it again
    (State.COMPLETED, Event.STOP): Decision(State.STOPPED),
}


class InvalidTransition(Exception):
    pass


def decide(
    state: State,
    event: Event,
    rules: RestartRules = RestartRules(),
    *,
    failed: bool = False,
    recent_exits: Sequence[float] = (),
    now: float = 0.0,
) -> Decision:
    """The next state and actions. For EXIT: ``failed`` is a non-zero exit or a signal and
    ``recent_exits`` the times of this service's earlier exits (newest last)."""
    if event is Event.EXIT and state in ALIVE:
        return _after_exit(rules, failed, recent_exits, now)
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"{event} is not valid in state {state}") from None


def _after_exit(
    rules: RestartRules, failed: bool, recent_exits: Sequence[float], now: float
) -> Decision:
    if rules.oneshot and not failed:  # starting|running|ready --exit 0--> completed
        return Decision(State.COMPLETED)
    wants_restart = rules.policy is RestartPolicy.ALWAYS or (
        rules.policy is RestartPolicy.ON_FAILURE and failed
    )
    if not wants_restart:
        return Decision(State.EXITED)
    in_window = [t for t in recent_exits if now - t <= rules.window]
    if len(in_window) + 1 >= rules.limit:
        return Decision(State.CRASHED)
    delay = min(rules.first_delay * 2 ** len(in_window), rules.max_delay)
    return Decision(State.BACKOFF, (Action.SCHEDULE_RESTART,), delay)


# What `_after_exit` decides for a live run, for the diagram (tests/unit/test_lifecycle.py checks
# each against `decide`).
EXIT_OUTCOMES: tuple[tuple[str, Decision], ...] = (
    ("exit 0 of a oneshot", Decision(State.COMPLETED)),
    ("policy says restart", Decision(State.BACKOFF, (Action.SCHEDULE_RESTART,))),
    ("restart limit reached", Decision(State.CRASHED)),
    ("policy says no", Decision(State.EXITED)),
)


def diagram() -> str:
    """The state machine as docs/design.md shows it, generated from the table (a test keeps the
    page equal to it): one line per edge, sources that share it joined by ``|``."""
    order = list(State)
    edges: dict[tuple[Event, Decision], list[State]] = {}
    no_ops: dict[Event, list[State]] = {}
    for (state, event), decision in TRANSITIONS.items():
        if decision.state == state and not decision.actions:
            no_ops.setdefault(event, []).append(state)
            continue
        edges.setdefault((event, decision), []).append(state)
    lines = [
        _edge(sources, str(event), decision, "")
        for (event, decision), sources in sorted(
            edges.items(), key=lambda item: (order.index(min(item[1], key=order.index)), item[0][0])
        )
    ]
    alive = sorted(ALIVE, key=order.index)
    lines += [_edge(alive, "exit", decision, why) for why, decision in EXIT_OUTCOMES]
    for event, states in no_ops.items():
        names = "|".join(str(s) for s in sorted(states, key=order.index))
        lines.append(f"{names} --{event}--> (unchanged)")
    return "\n".join(lines) + "\n"


def _edge(sources: Sequence[State], event: str, decision: Decision, why: str) -> str:
    order = list(State)
    left = "|".join(str(s) for s in sorted(sources, key=order.index))
    text = f"{left} --{event}--> {decision.state}"
    actions = ", ".join(str(a).replace("_", " ") for a in decision.actions)
    if actions:
        text = f"{text:<52} [{actions}]"
    if why:
        text = f"{text:<72} {why}"
    return text.rstrip()
